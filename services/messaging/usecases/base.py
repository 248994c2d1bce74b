"""What every use case of messaging stands on: its connections, the attachment store and the clock (Context), the
practice's row, the outbox, and the names a notice or a message shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.messaging.models import Client, Practice, StaffMember, outbox
from services.messaging.storage import AttachmentStore
from shared.db import unit_of_work, utcnow
from shared.directory import practice_row
from shared.events import make_event, record_event


@dataclass(frozen=True)
class Context:
    config: object  # MessagingConfig
    sessions: sessionmaker[Session]
    store: AttachmentStore
    clock: Callable[[], datetime] = utcnow


def practice(session: Session) -> Practice:
    return practice_row(session, Practice)


def publish(session: Session, event_type: str, payload: dict) -> None:
    record_event(session, outbox, make_event(event_type, payload, producer="messaging"))


def in_transaction(ctx: Context):
    return unit_of_work(ctx.sessions)


def person_name(first: str | None, preferred: str | None, last: str | None) -> str:
    return f"{preferred or first or ''} {last or ''}".strip()


def client_name(client: Client | None) -> str:
    if client is None:
        return "A client"
    return person_name(client.first_name, client.preferred_name, client.last_name) or "A client"


def staff_name(member: StaffMember | None, practice_name: str) -> str:
    if member is None or not (member.first_name or member.last_name):
        return f"{practice_name} staff"
    return f"{member.first_name or ''} {member.last_name or ''}".strip()
