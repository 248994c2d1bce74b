"""Identity's celery tasks: sending the mails of its mail outbox (services/identity/mail_outbox.py)."""

from __future__ import annotations

import logging

from services.identity import keys
from services.identity.config import IdentityConfig
from services.identity.mail import render
from services.identity.mail_outbox import deliver
from shared import mailer
from shared.db import session_factory
from shared.tasks import make_celery

log = logging.getLogger(__name__)
config = IdentityConfig()
celery = make_celery("identity", config)
# Every publish waits for the broker's confirm: a mail the relay marks queued is in the broker's hands.
celery.conf.broker_transport_options = {"confirm_publish": True}
_worker: dict = {}


def _outbox() -> dict:
    if not _worker:
        _worker.update(sessions=session_factory(config.database_url), fernet=keys.fernet(config))
    return _worker


@celery.task(name="identity.send_mail", autoretry_for=(OSError,), retry_backoff=5, retry_backoff_max=300,
             max_retries=8)
def send_mail(mail_id: str) -> None:
    """The message holds the mail's id only: the worker reads, decrypts and renders the mail from the row."""
    outcome = deliver(mail_id, sender=config.mail_from, smtp_host=config.smtp_host, smtp_port=config.smtp_port,
                      **_outbox())
    log.info("mail %s", outcome, extra={"fields": {"mail_id": mail_id}})


def publish_mails(mail_ids: list[str]) -> None:
    """The mail relay's hand-over: one connection per batch (a fresh one after an outage), each publish confirmed."""
    with celery.connection_for_write() as connection:
        for mail_id in mail_ids:
            send_mail.apply_async((mail_id,), connection=connection, retry=False)


@celery.task(name="identity.send_email", autoretry_for=(OSError,), retry_backoff=5, retry_backoff_max=300,
             max_retries=8)
def send_email(to: str, template: str, context: dict) -> None:
    """Only for messages queued by a version before the mail outbox; nothing enqueues it any more."""
    subject, text = render(template, context)
    mailer.send(mailer.build_message(sender=config.mail_from, to=to, subject=subject, text=text),
                host=config.smtp_host, port=config.smtp_port)
