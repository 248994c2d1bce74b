"""What every use case of scheduling stands on: its connections, identity's settings and the clock (Context); the
practice's row and policy; the outbox; and the clinician lock that puts one clinician's bookings in a line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.scheduling.domain.booking import Policy
from services.scheduling.domain.errors import SelfSchedulingOff, SettingsUnknown, SlotTaken
from services.scheduling.models import Clinician, Practice, outbox
from shared.db import unit_of_work, utcnow
from shared.directory import practice_row
from shared.events import make_event, record_event
from shared.practice_settings import SettingsSource, SettingsUnavailable, confirm

EXCLUSION_VIOLATION = "23P01"
SLOT_TAKEN = "That time is no longer free; please choose another."


@dataclass(frozen=True)
class Context:
    config: object  # SchedulingConfig
    sessions: sessionmaker[Session]
    settings: SettingsSource  # identity's current settings: self-scheduling is confirmed there at a request
    clock: Callable[[], datetime] = utcnow


def practice(session: Session) -> Practice:
    return practice_row(session, Practice)


def policy_of(row: Practice) -> Policy:
    return Policy(minimum_notice=timedelta(minutes=row.minimum_notice_minutes),
                  horizon=timedelta(days=row.horizon_days),
                  max_open_requests=row.max_open_requests,
                  cancellation_window=timedelta(hours=row.cancellation_window_hours),
                  automatic_approval=row.approval == "automatic",
                  reminder_leads=tuple(int(m) for m in row.reminder_lead_minutes or ()),
                  late_cancel_fee=row.late_cancel_fee, no_show_fee=row.no_show_fee, timezone=row.timezone)


def require_self_scheduling(ctx: Context, session: Session) -> None:
    """The projection says off -> refused without asking; on -> identity confirms (off there: refused; no answer:
    503, try again). Identity owns the switch; the projection lags."""
    on = practice(session).self_scheduling_enabled
    try:
        if on and confirm(ctx.settings, "self_scheduling_enabled"):
            return
    except SettingsUnavailable:
        raise SettingsUnknown("The practice's settings cannot be confirmed right now; try again in a moment.",
                              headers={"Retry-After": "5"}) from None
    raise self_scheduling_off()


def self_scheduling_off() -> SelfSchedulingOff:
    return SelfSchedulingOff("Your practice does not take appointment requests online; please contact the practice.")


def publish(session: Session, event_type: str, payload: dict) -> None:
    record_event(session, outbox, make_event(event_type, payload, producer="scheduling"))


def lock_clinician(session: Session, clinician_id: str) -> Clinician | None:
    """The clinician's row, locked: bookings, approvals and moves of one clinician's time wait for each other here,
    so the buffers between appointments hold too (the exclusion constraint alone guards only the overlap)."""
    return session.scalars(select(Clinician).where(Clinician.id == clinician_id).with_for_update()).first()


def flush_holding(session: Session) -> None:
    """Flush a write that makes an appointment hold time: the exclusion constraint refusing it is a taken slot."""
    try:
        session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise SlotTaken(SLOT_TAKEN) from None
        raise


def iso(at: datetime) -> str:
    return at.isoformat()


def in_transaction(ctx: Context):
    return unit_of_work(ctx.sessions)
