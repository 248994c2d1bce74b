"""Payments' celery tasks (beat, every minute): reconciliation of payments whose outcome is unknown, and the
conversion of cards saved before migration 0003 (a reusable token) to payment methods at the processor."""

from __future__ import annotations

from services.payments.config import PaymentsConfig
from services.payments.processor import HttpProcessor
from services.payments.service import PaymentsService
from shared.db import session_factory
from shared.tasks import make_celery

config = PaymentsConfig()
celery = make_celery("payments", config)
celery.conf.beat_schedule = {"reconcile": {"task": "payments.reconcile", "schedule": 60.0},
                             "convert-legacy-cards": {"task": "payments.convert_legacy_cards", "schedule": 60.0}}


def service() -> PaymentsService:
    processor = HttpProcessor(config.processor_url, config.processor_api_key,
                              timeout=(config.processor_connect_timeout, config.processor_read_timeout))
    return PaymentsService(config=config, sessions=session_factory(config.database_url), processor=processor)


@celery.task(name="payments.reconcile")
def reconcile() -> dict:
    return service().reconcile()


@celery.task(name="payments.convert_legacy_cards")
def convert_legacy_cards() -> dict:
    """Nothing to do (every card converted) costs one indexed query a minute."""
    return service().convert_legacy_cards()
