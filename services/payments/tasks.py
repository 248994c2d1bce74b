"""Payments' celery tasks (beat): every minute, reconciliation of payments whose outcome is unknown and the
conversion of cards saved before migration 0003 (a reusable token) to payment methods at the processor; every
CARD_EXPIRY_TICK_SECONDS (an hour), the notice of cards on file near their expiry."""

from __future__ import annotations

from services.payments.config import PaymentsConfig
from services.payments.processor import HttpProcessor
from services.payments.service import PaymentsService
from shared.db import session_factory
from shared.tasks import make_celery

config = PaymentsConfig()
celery = make_celery("payments", config)
celery.conf.beat_schedule = {"reconcile": {"task": "payments.reconcile", "schedule": 60.0},
                             "convert-legacy-cards": {"task": "payments.convert_legacy_cards", "schedule": 60.0},
                             "card-expiry-notices": {"task": "payments.card_expiry_notices",
                                                     "schedule": float(config.card_expiry_tick_seconds)}}


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


@celery.task(name="payments.card_expiry_notices")
def card_expiry_notices() -> dict:
    """Each card is told once (its row marked with the event): an hourly tick costs one indexed query when nobody
    is due, and a tick missed (a worker down) is caught up by the next."""
    return service().cards.announce_expiring_cards()
