"""Reminders: planned when an appointment comes to hold time (booked, approved, moved), forgotten when it is
cancelled, moved or over, and published as appointment.reminder_due by the beat once each falls due, exactly once
per appointment, lead time and start (the row's key)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.scheduling.domain.booking import Policy, reminders_due
from services.scheduling.models import Appointment, Reminder
from services.scheduling.usecases.base import Context, in_transaction, iso, publish

REMINDED = ("booked", "confirmed")


def plan(session: Session, appointment: Appointment, now: datetime, policy: Policy) -> None:
    for lead, due_at in reminders_due(appointment.start_at, now, policy.reminder_leads):
        session.merge(Reminder(appointment_id=appointment.id, lead_minutes=lead, start_at=appointment.start_at,
                               due_at=due_at))


def forget(session: Session, appointment_id: str) -> None:
    """The reminders not sent yet: moot once the appointment is cancelled, moved or over."""
    session.execute(delete(Reminder).where(Reminder.appointment_id == appointment_id,
                                           Reminder.published_at.is_(None)))


class Reminders:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def publish_due(self, *, batch: int = 500) -> int:
        """Publishes the reminders due by now (several beats at once each take their own rows: SKIP LOCKED); one
        whose appointment no longer holds that time is dropped. Answers how many were published."""
        now = self.ctx.clock()
        published = 0
        while True:
            with in_transaction(self.ctx) as session:
                rows = session.execute(
                    select(Reminder, Appointment).join(Appointment, Appointment.id == Reminder.appointment_id)
                    .where(Reminder.published_at.is_(None), Reminder.due_at <= now)
                    .order_by(Reminder.due_at).limit(batch).with_for_update(of=Reminder, skip_locked=True)).all()
                for reminder, appointment in rows:
                    if appointment.status not in REMINDED or appointment.start_at != reminder.start_at \
                            or appointment.start_at <= now:
                        session.delete(reminder)
                        continue
                    reminder.published_at = now
                    publish(session, "appointment.reminder_due", {
                        "appointment_id": appointment.id, "client_id": appointment.client_id,
                        "start": iso(appointment.start_at), "lead_minutes": reminder.lead_minutes})
                    published += 1
            if len(rows) < batch:
                return published
