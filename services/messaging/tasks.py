"""Messaging's celery tasks: the mail beat, which sends the mails that have come due (services/messaging/usecases/
mails.py)."""

from __future__ import annotations

from services.messaging.config import MessagingConfig
from services.messaging.service import MessagingService
from shared.db import session_factory
from shared.tasks import make_celery

config = MessagingConfig()
celery = make_celery("messaging", config)
celery.conf.beat_schedule = {
    "mail-tick": {"task": "messaging.send_due_mails", "schedule": float(config.mail_tick_seconds)},
}
_service: dict = {}


def service() -> MessagingService:
    if not _service:
        _service["it"] = MessagingService(config=config, sessions=session_factory(config.database_url))
    return _service["it"]


@celery.task(name="messaging.send_due_mails")
def send_due_mails() -> dict:
    return service().mails.send_due()
