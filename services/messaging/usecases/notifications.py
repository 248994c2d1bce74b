"""The bell: an event in, its notices out (domain/notices.py says which, for whom, in which words), each one row
per event and audience whatever is redelivered, and the mail its table says goes with it; then the lists, the
unread counts and marking read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.messaging.domain import notices as table
from services.messaging.domain.errors import NotificationNotFound
from services.messaging.models import Card, Client, Notification, Practice
from services.messaging.usecases import mails
from services.messaging.usecases.base import Context, in_transaction, person_name
from shared.db import new_id, utcnow
from shared.events import Event
from shared.pagination import paginate

CLIENT, PRACTICE = table.CLIENT, table.PRACTICE


# What a notice names, in two statements read without the ORM's identity map (the consumer's session is new per
# event): the practice's row, and the client's with the card they have as default.
_PRACTICE = select(Practice.practice_name, Practice.timezone, Practice.email).where(Practice.id == 1)
_CLIENT = (select(Client.first_name, Client.preferred_name, Client.last_name, Client.email, Client.autopay_enabled,
                  Client.default_payment_method_id, Card.brand, Card.last4, Card.removed)
           .outerjoin(Card, Card.payment_method_id == Client.default_payment_method_id)
           .where(Client.client_id == bindparam("client_id")))
# Constant statements, values as parameters: compiled once (a statement with .values(...) is keyed by its values).
_NOTICE = (insert(Notification.__table__).on_conflict_do_nothing(index_elements=["source_event_id", "audience"])
           .returning(Notification.__table__.c.id))


def facts_for(session: Session, event_type: str, payload: dict) -> tuple[table.Facts, dict[str, str | None]]:
    """What the event's notices name, read before the event changes messaging's copies (a removed card is still
    the card AutoPay charged), and each side's e-mail address."""
    row = session.execute(_PRACTICE).first()
    practice_name, timezone, practice_email = row if row else ("Your Practice", "America/New_York", None)
    client = session.execute(_CLIENT, {"client_id": payload["client_id"]}).first() \
        if payload.get("client_id") else None
    has_default = client is not None and client.default_payment_method_id and client.brand is not None \
        and not client.removed
    autopay_card = None
    if has_default and (event_type == "invoice.generated" or client.autopay_enabled
                        or (event_type == "autopay.changed" and payload.get("enabled"))):
        autopay_card = table.Card(client.brand, client.last4)
    # payments says whether the removed card was the default (AutoPay's); older events: messaging's own copy
    was_default = payload.get("was_default")
    if was_default is None:
        was_default = client is not None and client.default_payment_method_id == payload.get("payment_method_id")
    removed_autopay_card = (event_type == "payment_method.removed" and client is not None
                            and client.autopay_enabled and bool(was_default))
    name = (person_name(client.first_name, client.preferred_name, client.last_name) if client else "") or "A client"
    facts = table.Facts(practice_name=practice_name, timezone=timezone, client_name=name,
                        autopay_card=autopay_card, autopay_card_removed=removed_autopay_card,
                        autopay_payment_method_id=client.default_payment_method_id if autopay_card else None)
    return facts, {CLIENT: client.email if client else None, PRACTICE: practice_email}


def notify(session: Session, event: Event, *, now: datetime | None = None) -> int:
    """The event's notices and their mails, in the consumer's transaction; answers how many notices were new.
    A notice is dated when its event happened; its mail is due `now` (the consumer's clock)."""
    if event.type not in table.RULES:
        return 0  # an event that feeds messaging's copies only (client.created, ...)
    payload = event.payload
    facts, addresses = facts_for(session, event.type, payload)
    found = table.notices_for(event.type, payload, facts)
    made = 0
    now = now or utcnow()
    happened = datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00"))
    for notice in found:
        inserted = session.execute(_NOTICE, {
            "id": new_id(), "audience": notice.audience, "client_id": payload.get("client_id"), "type": event.type,
            "title": notice.title, "body": notice.body, "link": notice.link, "source_event_id": event.id,
            "created_at": happened}).first()
        if inserted is None:
            continue  # this event's notice is already there: a redelivery changes nothing
        made += 1
        subject = table.email_subject(event.type, notice.audience)
        if subject:
            mails.notice_mail(session, now, event_id=event.id, notice=notice, subject=subject,
                              client_id=payload.get("client_id"), recipient=addresses[notice.audience])
    return made


class Notifications:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def list(self, *, audience: str, client_id: str | None, unread: bool | None = None, limit: int = 50,
             cursor: str | None = None) -> tuple[list[Notification], str | None]:
        with in_transaction(self.ctx) as session:
            stmt = self._mine(select(Notification), audience, client_id)
            if unread is not None:
                stmt = stmt.where(Notification.read_at.is_(None) if unread else Notification.read_at.is_not(None))
            return paginate(session, stmt, [Notification.created_at, Notification.id], [datetime, str], limit=limit,
                            cursor=cursor, descending=True)

    def unread_count(self, *, audience: str, client_id: str | None) -> int:
        with in_transaction(self.ctx) as session:
            stmt = self._mine(select(func.count()).select_from(Notification), audience, client_id)
            return session.scalar(stmt.where(Notification.read_at.is_(None)))

    def mark_read(self, notification_id: str, *, audience: str, client_id: str | None) -> None:
        with in_transaction(self.ctx) as session:
            stmt = self._mine(select(Notification).where(Notification.id == notification_id), audience, client_id)
            row = session.scalars(stmt.with_for_update()).first()
            if row is None:
                raise NotificationNotFound("Notification not found.")
            if row.read_at is None:
                row.read_at = self.ctx.clock()

    def mark_all_read(self, *, audience: str, client_id: str | None) -> int:
        with in_transaction(self.ctx) as session:
            stmt = update(Notification).where(Notification.audience == audience, Notification.read_at.is_(None))
            if audience == CLIENT:
                stmt = stmt.where(Notification.client_id == client_id)
            return session.execute(stmt.values(read_at=self.ctx.clock())).rowcount

    @staticmethod
    def _mine(stmt, audience: str, client_id: str | None):
        stmt = stmt.where(Notification.audience == audience)
        if audience == CLIENT:
            stmt = stmt.where(Notification.client_id == client_id)  # a client's own, never another's
        return stmt
