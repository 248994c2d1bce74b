"""A /metrics collector that reports the service's unpublished outbox rows at scrape time."""

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

    def collect(self):
        family = GaugeMetricFamily("outbox_backlog", "Outbox rows waiting for the relay", labels=["service"])
        try:
            with self.engine.connect() as conn:
                count = conn.execute(select(func.count()).select_from(self.outbox)
                                     .where(self.outbox.c.published_at.is_(None))).scalar_one()
            family.add_metric([self.service], count)
        except Exception:
            log.warning("cannot count the outbox")
        yield family
