"""The mails messaging sends: one row each (models.Mail), written in the transaction of the event that calls for
it, so a redelivered event finds its mail there and sends nothing more; sent by the beat (tasks.py) once due.

- A notice's mail (the notification table says which): at once, to the client's e-mail or the practice's.
- A new message's mail: it says only that there is a new secure message, with a link to sign in (never the
  subject, body or attachments' names). To the client only if the practice's message is still unread after the
  practice's delay (default 10 minutes); to the practice (the thread's assignee when there is one) at once. While
  one such mail waits, further messages of that client's side add no other (several messages, one e-mail); it is
  sent if any message it covers (from the first on) is still unread.
- A notice's mail says what kind of news it is (its title) and links to it; what the notice says (a time, a
  form's title, a reason staff wrote) stays behind the sign-in."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.messaging.domain.notices import NEW_MESSAGE_SUBJECT, Notice
from services.messaging.models import Client, Mail, Message, StaffMember, Thread
from services.messaging.usecases.base import Context, in_transaction, practice
from shared import mailer
from shared.db import new_id
from shared.events import Event

log = logging.getLogger(__name__)
# One constant statement, the values as parameters (compiled once).
_MAIL = insert(Mail.__table__).on_conflict_do_nothing().returning(Mail.__table__.c.id)
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
MAX_ATTEMPTS = 10  # then `failed`: about 5 hours of tries


def _add(session: Session, now: datetime, **values) -> bool:
    values.setdefault("send_after", now)
    # Any unique key taken (this event's mail, or a pending mail of the same coalesce key): nothing more to add.
    params = {"id": new_id(), "status": "pending", "attempts": 0, "created_at": now, "coalesce_key": None,
              "client_id": None, **values}
    return session.execute(_MAIL, params).first() is not None


def notice_mail(session: Session, now: datetime, *, event_id: str, notice: Notice, subject: str,
                client_id: str | None, recipient: str | None) -> bool:
    if not recipient:
        log.info("notice not mailed: no address", extra={"fields": {"audience": notice.audience}})
        return False
    return _add(session, now, key=f"{event_id}:{notice.audience}", template="notice", recipient=recipient,
                client_id=client_id, context={"subject": subject, "title": notice.title, "link": notice.link,
                                              "audience": notice.audience})


def message_mail(session: Session, now: datetime, event: Event) -> bool:
    """message.sent: the other side's "you have a new message" mail, delayed and coalesced as the module says."""
    payload = event.payload
    client_id = payload["client_id"]
    if payload["sender_role"] == "staff":
        recipient = _recipient(session, "client", client_id)
        delay = timedelta(minutes=practice(session).client_email_delay_minutes)
        side = "client"
    else:
        thread = session.get(Thread, payload["thread_id"])
        member = session.get(StaffMember, thread.assigned_staff_id) if thread and thread.assigned_staff_id else None
        recipient = member.email if member is not None and member.active and member.email else \
            _recipient(session, "practice", client_id)
        delay = timedelta(0)
        side = "practice"
    if not recipient:
        return False
    message = session.get(Message, payload["message_id"])
    sent_at = message.sent_at if message is not None else now
    return _add(session, now, key=f"{event.id}:message", coalesce_key=f"new_message:{side}:{client_id}",
                template="new_message", recipient=recipient, client_id=client_id, send_after=sent_at + delay,
                context={"audience": side, "from_seq": message.seq if message is not None else 0})


def _recipient(session: Session, audience: str, client_id: str | None) -> str | None:
    if audience == "client":
        client = session.get(Client, client_id) if client_id else None
        return client.email if client is not None else None
    return practice(session).email


class Mails:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def send_due(self, *, limit: int = 100) -> dict:
        """Sends the mails whose time came, one transaction each (the row stays locked while the SMTP server
        answers, so a second sender skips it); answers the counts."""
        counts = {"sent": 0, "skipped": 0, "failed": 0}
        for _ in range(limit):
            outcome = self._send_one()
            if outcome is None:
                break
            counts[outcome] += 1
        return counts

    def _send_one(self) -> str | None:
        config = self.ctx.config
        with in_transaction(self.ctx) as session:
            now = self.ctx.clock()
            mail = session.scalars(select(Mail).where(Mail.status == "pending", Mail.send_after <= now)
                                   .order_by(Mail.send_after).limit(1).with_for_update(skip_locked=True)).first()
            if mail is None:
                return None
            if mail.template == "new_message" and not self._still_unread(session, mail):
                mail.status, mail.outcome, mail.context = "skipped", "read before the delay ended", {}
                return "skipped"
            row = practice(session)
            subject, text = render(mail.template, mail.context, practice_name=row.practice_name,
                                   practice_phone=row.phone, base_url=config.portal_base_url)
            _, address = parseaddr(config.mail_from)
            try:
                message = mailer.build_message(sender=_sender(address, row.practice_name), to=mail.recipient,
                                               subject=subject, text=text)
                # the same id on a second copy (a crash between the send and the commit): readers can tell
                del message["Message-ID"]
                message["Message-ID"] = f"<{mail.id}@{(address or 'portal.local').rpartition('@')[2]}>"
                mailer.send(message, host=config.smtp_host, port=config.smtp_port)
            except Exception as exc:  # the server, or a mail that cannot be built: this one waits, the rest go
                mail.attempts += 1
                wait = min(RETRY_BASE_SECONDS * 2 ** (mail.attempts - 1), RETRY_MAX_SECONDS)
                mail.outcome = f"{type(exc).__name__}; next try in {wait} s"[:200]
                if mail.attempts >= MAX_ATTEMPTS:
                    mail.status, mail.outcome = "failed", f"{type(exc).__name__} after {mail.attempts} tries"
                mail.send_after = now + timedelta(seconds=wait)
                log.warning("mail not sent", extra={"fields": {"mail_id": mail.id, "error": type(exc).__name__,
                                                               "attempts": mail.attempts, "status": mail.status}})
                return "failed"
            mail.status, mail.sent_at, mail.outcome, mail.context = "sent", self.ctx.clock(), None, {}
            return "sent"

    @staticmethod
    def _still_unread(session: Session, mail: Mail) -> bool:
        """Whether a message this mail covers (the first one it was made for, and those after it) is unread."""
        writer = "staff" if mail.context.get("audience") == "client" else "client"
        return bool(session.scalar(select(func.count()).select_from(Message).where(
            Message.client_id == mail.client_id, Message.sender_role == writer, Message.read_at.is_(None),
            Message.seq >= int(mail.context.get("from_seq") or 0))))


def one_line(text_: str) -> str:
    """A header's text: a practice name with a line break must not break the mail (or add a header)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text_).split())


def _sender(address: str, practice_name: str) -> str:
    """The practice's name as the sender's, at the suite's own address."""
    return formataddr((one_line(practice_name), address or "no-reply@portal.local"))


def render(template: str, context: dict, *, practice_name: str, practice_phone: str | None,
           base_url: str) -> tuple[str, str]:
    """(subject, text). The subject names the practice and the kind of news only."""
    base = base_url.rstrip("/")
    practice_name = one_line(practice_name)
    staff = context.get("audience") == "practice"
    sign_in = f"{base}/staff/signin" if staff else f"{base}/signin"
    if template == "new_message":
        subject = f"{practice_name}: {NEW_MESSAGE_SUBJECT}"
        who = "A client sent the practice" if staff else f"{practice_name} sent you"
        where = "the staff console" if staff else "your client portal"
        text = (f"{who} a new secure message.\n\n"
                f"For your privacy it is not in this e-mail. Sign in to {where} to read it:\n{sign_in}\n")
    else:
        subject = f"{practice_name}: {context['subject']}"
        link = f"{base}{context['link']}" if context.get("link") else sign_in
        where = "the staff console" if staff else "your client portal"
        # The title only (the kind of news): a time, a form's title or a reason staff wrote stay behind the sign-in.
        text = (f"{context['title']}\n\nThere is a new notice for you in {where}. For your privacy the details are "
                f"not in this e-mail. Sign in to see it:\n{link}\n")
    phone = f" ({practice_phone})" if practice_phone else ""
    footer = (f"\n--\n{practice_name}{phone}\nThis e-mail was sent by {practice_name}'s client portal. Please do not "
              "reply to it: sign in to send a secure message.\n")
    return subject, text + footer
