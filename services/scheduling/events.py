"""What scheduling consumes (SUBSCRIPTIONS) and publishes (PUBLISHES); the payloads' contracts are in
shared.contracts.scheduling (docs/events.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.scheduling.usecases import projections
from shared.contracts.identity import ClientCreated, PracticeSettingsChanged, ProfileUpdated
from shared.contracts.scheduling import (
    Appointment,
    AppointmentChanged,
    AppointmentCompleted,
    AppointmentDecided,
    AppointmentReminderDue,
)
from shared.events import Event

# What each published type's payload is (built in usecases/appointments.py and usecases/reminders.py).
PUBLISHES = {"appointment.requested": Appointment, "appointment.approved": AppointmentDecided,
             "appointment.denied": AppointmentDecided, "appointment.booked": AppointmentChanged,
             "appointment.confirmed": AppointmentChanged, "appointment.cancelled": AppointmentChanged,
             "appointment.completed": AppointmentCompleted, "appointment.reminder_due": AppointmentReminderDue}


def on_client(session: Session, event: Event[ClientCreated | ProfileUpdated]) -> None:
    projections.upsert_client(session, event.payload)


def on_settings(session: Session, event: Event[PracticeSettingsChanged]) -> None:
    projections.apply_settings(session, event.payload["settings"])


SUBSCRIPTIONS = {
    "client.created": on_client,
    "profile.updated": on_client,
    "practice.settings_changed": on_settings,
}
