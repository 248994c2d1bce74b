"""Identity's mail outbox: a broker outage delays a mail, never loses it, and the link never rides the bus.

- The use case writes the mail as a `mail_outbox` row in its own transaction (`mail_row`): no mail for a change
  that rolled back, and no change whose mail is lost because the broker was down at that moment. The row's
  context (the registration or reset link among it) is encrypted with identity's Fernet key: the database holds
  the token's hash only, and the row must not undo that.
- The mail relay (`MailRelay`, a thread of `python -m services.identity.worker relay`) hands each pending row's
  id to the mail worker's celery task, with publisher confirms, and marks it queued only once the broker has
  confirmed it. While the broker is away the rows wait; the relay retries with back-off.
- The mail worker (`deliver`, run by the celery task) locks the row (waiting for the relay's commit if need be),
  decrypts, renders, sends, marks it sent and forgets the context: a second copy of the task (a republished id)
  finds it sent and sends nothing.

Why an id and not the encrypted link on the bus: the message then holds nothing at all (not even ciphertext
that a leaked key would open), the worker renders from the current row (an expired link is not mailed), and
the one copy of the mail is the row in identity's database.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.identity.mail import render
from services.identity.models import MailOutbox
from shared import mailer
from shared.db import new_id, unit_of_work, utcnow

log = logging.getLogger(__name__)
NOTIFY_CHANNEL = "mail_outbox"  # the migration's trigger notifies it at each commit that inserted mail rows
mails = MailOutbox.__table__


def mail_row(fernet: Fernet, *, to: str, template: str, context: dict, expires_at: datetime) -> dict:
    """The values of a mail_outbox row (insert them in the use case's transaction)."""
    return {"id": new_id(), "template": template, "recipient": to, "status": "pending", "attempts": 0,
            "context_encrypted": fernet.encrypt(json.dumps(context, default=str).encode()).decode(),
            "expires_at": expires_at}


class MailRelay:
    """Pending mails to the mail worker: woken by the commit's NOTIFY, with a slow poll as a safety net."""

    def __init__(self, *, engine: Engine, publish_batch: Callable[[list[str]], None], batch_size: int = 100,
                 requeue_after: float = 1800.0, poll_interval: float = 5.0):
        self.engine = engine
        self.publish_batch = publish_batch  # returns once the broker confirmed every id, or raises
        self.batch_size = batch_size
        self.requeue_after = requeue_after
        self.poll_interval = poll_interval

    def drain_once(self) -> int:
        """Hands one batch over; answers how many mails it handed to the worker."""
        now = utcnow()
        c = mails.c
        # Pending and never handed over, or handed over so long ago that the task must have been lost or has
        # spent its retries (the worker sends a mail once, whatever copies of its id arrive).
        due = or_(c.queued_at.is_(None), c.queued_at < now - timedelta(seconds=self.requeue_after))
        with self.engine.begin() as conn:
            rows = conn.execute(select(c.id, c.expires_at).where(c.status == "pending", due).order_by(c.created_at)
                                .limit(self.batch_size).with_for_update(skip_locked=True)).all()
            live = [r.id for r in rows if r.expires_at > now]
            expired = [r.id for r in rows if r.expires_at <= now]
            if live:
                # Confirmed by the broker or an exception: then the transaction rolls back, the rows stay as
                # they were, and the next try hands them over again.
                self.publish_batch(live)
                conn.execute(update(mails).where(c.id.in_(live)).values(queued_at=now, attempts=c.attempts + 1))
            if expired:  # the link in it no longer works: nothing to send
                conn.execute(update(mails).where(c.id.in_(expired)).values(status="expired", context_encrypted=None))
        return len(live)

    def run_forever(self, stop: threading.Event) -> None:
        backoff = 1.0
        listen: psycopg.Connection | None = None
        while not stop.is_set():
            try:
                if listen is None:
                    listen = self._listen()
                while self.drain_once() >= self.batch_size and not stop.is_set():
                    pass
                backoff = 1.0
                for _ in listen.notifies(timeout=self.poll_interval, stop_after=1):
                    pass
            except Exception as exc:  # the broker or the database is away: the mails wait in their rows
                log.warning("cannot hand mails to the mail worker; retrying",
                            extra={"fields": {"error": type(exc).__name__, "in_seconds": backoff}})
                if listen is not None:
                    try:
                        listen.close()
                    except Exception:
                        log.debug("listen connection already closed")
                    listen = None
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        if listen is not None:
            listen.close()

    def _listen(self) -> psycopg.Connection:
        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return connection


def deliver(mail_id: str, *, sessions: sessionmaker[Session], fernet: Fernet, sender: str, smtp_host: str,
            smtp_port: int) -> str:
    """Sends one mail of the outbox: "sent", "expired", or "gone" (sent already).

    The row lock is waited for, never skipped: the relay holds it until its transaction commits, which may be
    after the broker confirmed (and the worker received) the id. The row stays locked while the SMTP server
    answers, so a second copy of the task waits, then finds the mail sent; should the commit after a send fail,
    the mail goes again later (at least once, never lost)."""
    with unit_of_work(sessions) as session:
        mail = session.scalars(select(MailOutbox).where(MailOutbox.id == mail_id, MailOutbox.status == "pending")
                               .with_for_update()).first()
        if mail is None:
            return "gone"
        if mail.expires_at <= utcnow():
            mail.status, mail.context_encrypted = "expired", None
            return "expired"
        context = json.loads(fernet.decrypt(mail.context_encrypted.encode()))
        subject, text = render(mail.template, context)
        mailer.send(mailer.build_message(sender=sender, to=mail.recipient, subject=subject, text=text),
                    host=smtp_host, port=smtp_port)
        mail.status, mail.sent_at, mail.context_encrypted = "sent", utcnow(), None
        return "sent"
