"""The outbox backlog gauge (outbox_backlog{service}): the service's unpublished outbox rows, counted at scrape time.

Served by the service's relay (shared/worker.py), the process that owns the outbox: the web processes' metrics come
from gunicorn's master (deploy/gunicorn.conf.py), which has no app and no database to count with.
"""

from __future__ import annotations

import logging

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Table, func, select

log = logging.getLogger(__name__)


class OutboxBacklogCollector:
    def __init__(self, service: str, engine, outbox: Table):
        self.service = service
        self.engine = engine
        self.outbox = outbox

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("outbox_backlog", "Outbox rows waiting for the relay", labels=["service"])

    def describe(self):
        """What registering asks for (the name, no sample): no query before the first scrape."""
        yield self._family()

    def collect(self):
        family = self._family()
        try:
            with self.engine.connect() as conn:
                count = conn.execute(select(func.count()).select_from(self.outbox)
                                     .where(self.outbox.c.published_at.is_(None))).scalar_one()
            family.add_metric([self.service], count)
        except Exception:
            # No sample rather than a wrong one: Prometheus sees the gauge missing for this scrape.
            log.warning("cannot count the outbox")
        yield family
