"""Identity's celery tasks: sending its e-mails."""

from __future__ import annotations

import logging

from services.identity.config import IdentityConfig
from services.identity.mail import render
from shared import mailer
from shared.tasks import make_celery

log = logging.getLogger(__name__)
config = IdentityConfig()
celery = make_celery("identity", config)


@celery.task(name="identity.send_email", autoretry_for=(OSError,), retry_backoff=5, retry_backoff_max=300,
             max_retries=8)
def send_email(to: str, template: str, context: dict) -> None:
    subject, text = render(template, context)
    message = mailer.build_message(sender=config.mail_from, to=to, subject=subject, text=text)
    mailer.send(message, host=config.smtp_host, port=config.smtp_port)
    log.info("mail sent", extra={"fields": {"template": template}})


def enqueue_email(to: str, template: str, context: dict) -> None:
    """Called after the commit. A broker outage must not fail the request: the link is in the answer too."""
    try:
        send_email.apply_async((to, template, context), retry=True,
                               retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.3})
    except Exception:
        log.exception("could not queue an e-mail", extra={"fields": {"template": template}})
