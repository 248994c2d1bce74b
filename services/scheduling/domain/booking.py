"""The rules of an appointment's life: when a start may be requested, the status changes and who may make them,
the client's cancellation window, and when its reminders fall due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.scheduling.domain.errors import BadTime, InsideCancellationWindow, StatusChanged, field_error

CANCELLATION_WINDOWS = (0, 24, 48, 72)  # hours; 0: a client may cancel until the start
MODALITIES = ("in_person", "phone", "video")
LONGEST_MINUTES = 480  # an appointment type's longest duration (the API refuses more)


@dataclass(frozen=True)
class Policy:
    """The practice's scheduling policy (its row of settings), as the rules read it."""

    minimum_notice: timedelta = timedelta(hours=24)
    horizon: timedelta = timedelta(days=60)
    max_open_requests: int = 3
    cancellation_window: timedelta = timedelta(hours=24)
    automatic_approval: bool = False
    reminder_leads: tuple[int, ...] = (2880, 1440)  # minutes before the start
    late_cancel_fee: bool = False
    no_show_fee: bool = False
    timezone: str = "America/New_York"  # the practice's: its calendar days, and the clock of a siteless appointment

    def earliest(self, now: datetime) -> datetime:
        return now + self.minimum_notice

    def latest(self, now: datetime) -> datetime:
        return now + self.horizon


def check_requested_start(start: datetime, now: datetime, policy: Policy) -> None:
    """A client's start: in the future, outside the minimum notice, inside the horizon."""
    if start <= now:
        raise field_error(BadTime, "start", "That time has already passed.")
    if start < policy.earliest(now):
        hours = int(policy.minimum_notice.total_seconds() // 3600)
        raise field_error(BadTime, "start", f"Appointments must be requested at least {hours} hours ahead.")
    if start >= policy.latest(now):
        raise field_error(BadTime, "start",
                          f"Appointments can be requested up to {policy.horizon.days} days ahead.")


def check_staff_start(start: datetime, now: datetime) -> None:
    """Staff book any time that is free, outside the client's rules, but not in the past."""
    if start <= now:
        raise field_error(BadTime, "start", "That time has already passed.")


@dataclass(frozen=True)
class Change:
    """A status change: from which statuses it applies, to which status, and the event that announces it."""

    name: str
    from_statuses: frozenset[str]
    to_status: str
    event: str
    after_start: bool = False  # only once the appointment has begun (completed, no-show)


CHANGES = {c.name: c for c in (
    Change("approve", frozenset({"requested"}), "booked", "appointment.approved"),
    Change("deny", frozenset({"requested"}), "denied", "appointment.denied"),
    Change("confirm", frozenset({"booked"}), "confirmed", "appointment.confirmed"),
    Change("cancel", frozenset({"requested", "booked", "confirmed"}), "cancelled", "appointment.cancelled"),
    Change("late_cancel", frozenset({"booked", "confirmed"}), "late_cancelled", "appointment.cancelled"),
    Change("complete", frozenset({"booked", "confirmed"}), "completed", "appointment.completed", after_start=True),
    Change("no_show", frozenset({"booked", "confirmed"}), "no_show", "appointment.completed", after_start=True),
    Change("reschedule", frozenset({"booked", "confirmed"}), "booked", "appointment.booked"),
)}


def check_change(change: Change, status: str, start: datetime, now: datetime) -> None:
    if status not in change.from_statuses:
        raise StatusChanged(f"This appointment is {status.replace('_', ' ')}; it cannot be changed that way now.",
                            extra={"current_status": status})
    if change.after_start and start > now:
        raise StatusChanged("This appointment has not started yet.", extra={"current_status": status})


def check_staff_change(change: Change, status: str, start: datetime, now: datetime, policy: Policy) -> None:
    """A change staff make: from its statuses; a late cancel only inside the cancellation window (or once the
    appointment has begun), since it may charge the client a fee."""
    check_change(change, status, start, now)
    if change.name == "late_cancel" and start - now >= policy.cancellation_window and start > now:
        hours = int(policy.cancellation_window.total_seconds() // 3600)
        raise StatusChanged(f"A late cancel is for an appointment cancelled less than {hours} hours before its "
                            "start; cancel this one instead.", extra={"current_status": status})


def check_client_cancel(status: str, start: datetime, now: datetime, policy: Policy) -> None:
    """A client cancels a request at any time; a booked appointment until the window before its start."""
    check_change(CHANGES["cancel"], status, start, now)
    if status == "requested":
        return
    if start <= now or start - now < policy.cancellation_window:
        hours = int(policy.cancellation_window.total_seconds() // 3600)
        window = f"less than {hours} hours away" if hours else "already under way"
        raise InsideCancellationWindow(
            f"This appointment is {window}, so it can no longer be cancelled online; please contact the practice.")


def charges_fee(change: Change, policy: Policy) -> bool:
    return (change.name == "late_cancel" and policy.late_cancel_fee) or (
        change.name == "no_show" and policy.no_show_fee)


def reminders_due(start: datetime, now: datetime, leads: tuple[int, ...]) -> list[tuple[int, datetime]]:
    """(lead minutes, when due) for each reminder of an appointment starting at `start`, booked or moved `now`.

    A lead whose moment is still ahead falls due then. Of the leads already passed, only the shortest is sent, at
    once: a client booked ten hours ahead gets one reminder now, not a 48-hour and a 24-hour one together."""
    if start <= now:
        return []
    due = [(lead, start - timedelta(minutes=lead)) for lead in sorted(set(leads), reverse=True)]
    ahead = [(lead, at) for lead, at in due if at > now]
    passed = [lead for lead, at in due if at <= now]
    return ahead + ([(min(passed), now)] if passed else [])
