"""What every use case of payments stands on: its connections (Context) and its outbox (publish)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from services.payments.models import outbox
from services.payments.processor import CardProcessor
from shared.events import make_event, record_event
from shared.practice_settings import SettingsSource


@dataclass(frozen=True)
class Context:
    config: object  # PaymentsConfig
    sessions: sessionmaker[Session]
    # For a step that is one statement, atomic by itself (the settle): no BEGIN and COMMIT round trips.
    statement_sessions: sessionmaker[Session]
    processor: CardProcessor
    # identity's current settings: whether online payments are on, asked at the moment of each decision
    settings: SettingsSource
    # The longest a charge or refund call can be on its way: until then "not at the processor" proves nothing.
    in_flight_seconds: float


def publish(session: Session, event_type: str, payload: dict) -> None:
    record_event(session, outbox, make_event(event_type, payload, producer="payments"))
