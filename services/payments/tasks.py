"""Payments' celery tasks: reconciliation of payments whose outcome is unknown (beat, every minute)."""

from __future__ import annotations

from services.payments.config import PaymentsConfig
from services.payments.processor import HttpProcessor
from services.payments.service import PaymentsService
from shared.db import session_factory
from shared.tasks import make_celery

config = PaymentsConfig()
celery = make_celery("payments", config)
celery.conf.beat_schedule = {"reconcile": {"task": "payments.reconcile", "schedule": 60.0}}


def service() -> PaymentsService:
    processor = HttpProcessor(config.processor_url, config.processor_api_key,
                              timeout=(config.processor_connect_timeout, config.processor_read_timeout))
    return PaymentsService(config=config, sessions=session_factory(config.database_url), processor=processor)


@celery.task(name="payments.reconcile")
def reconcile() -> dict:
    return service().reconcile()
