"""What scheduling publishes: the life of an appointment, from a client's request to the session held, and its
reminders. Messaging turns them into notifications (when it is built); billing bills a completed session."""

# No `from __future__ import annotations`: TypedDict reads NotRequired[...] at class creation (Python 3.11).
from typing import Literal, NotRequired, TypedDict

from marshmallow import Schema

from shared.contracts.catalogue import Consumer, Contract
from shared.contracts.fields import Bool, Id, Int, IsoDateTime, OneOf, Text

CLIENT_ID = "5f0c2a51-7d0e-4a8e-9a53-2f1f0f3c9b11"
APPOINTMENT_ID = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
CLINICIAN_ID = "0e1d2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b"
START, END = "2026-12-08T15:00:00+00:00", "2026-12-08T15:45:00+00:00"
BY = ["client", "staff"]
OUTCOMES = ["completed", "no_show", "late_cancelled"]


class AppointmentV1(Schema):
    """appointment.requested: the whole appointment."""

    appointment_id = Id(required=True)
    client_id = Id(required=True)
    clinician_id = Id(required=True)
    start = IsoDateTime(required=True)
    end = IsoDateTime(required=True)
    type = Text(required=True)  # the appointment type's name


class Appointment(TypedDict):
    appointment_id: str
    client_id: str
    clinician_id: str
    start: str
    end: str
    type: str


class AppointmentCompletedV1(AppointmentV1):
    """appointment.completed: a session held (billable), or a late cancel or no-show the practice charges for
    (`fee` true, `outcome` says which)."""

    service_code = Text(allow_none=True)  # the appointment type's code at billing, if staff gave it one
    outcome = Text(validate=OneOf(OUTCOMES))
    fee = Bool()


class AppointmentCompleted(Appointment):
    service_code: NotRequired[str | None]
    outcome: NotRequired[Literal["completed", "no_show", "late_cancelled"]]
    fee: NotRequired[bool]


class AppointmentDecidedV1(Schema):
    """appointment.approved and appointment.denied: staff's answer to a request."""

    appointment_id = Id(required=True)
    client_id = Id(required=True)
    start = IsoDateTime(required=True)
    reason = Text(allow_none=True)


class AppointmentDecided(TypedDict):
    appointment_id: str
    client_id: str
    start: str
    reason: NotRequired[str | None]


class AppointmentChangedV1(Schema):
    """appointment.booked, .confirmed, .cancelled: by one side, told to the other."""

    appointment_id = Id(required=True)
    client_id = Id(required=True)
    start = IsoDateTime(required=True)
    by = Text(required=True, validate=OneOf(BY))
    previous_start = IsoDateTime(allow_none=True)  # appointment.booked of a reschedule: the time it was
    reason = Text(allow_none=True)  # appointment.cancelled: staff's reason, if given


class AppointmentChanged(TypedDict):
    appointment_id: str
    client_id: str
    start: str
    by: Literal["client", "staff"]
    previous_start: NotRequired[str | None]
    reason: NotRequired[str | None]


class AppointmentReminderDueV1(Schema):
    appointment_id = Id(required=True)
    client_id = Id(required=True)
    start = IsoDateTime(required=True)
    lead_minutes = Int(required=True)


class AppointmentReminderDue(TypedDict):
    appointment_id: str
    client_id: str
    start: str
    lead_minutes: int


APPOINTMENT = {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "clinician_id": CLINICIAN_ID,
               "start": START, "end": END, "type": "Individual therapy"}
NOTIFY_CLIENT = Consumer("messaging", "client notification and e-mail")
NOTIFY_OTHER = Consumer("messaging", "notification to the other side")


def _scheduling(event_type: str, schema, payload, example, description, consumers) -> Contract:
    return Contract(event_type, 1, "scheduling", schema, payload, example, description, consumers)


CONTRACTS = (
    _scheduling("appointment.requested", AppointmentV1, Appointment, APPOINTMENT,
                "A client asked for an appointment (self-scheduling).",
                (Consumer("messaging", "staff notification"),)),
    _scheduling("appointment.approved", AppointmentDecidedV1, AppointmentDecided,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "reason": None},
                "Staff approved a requested appointment.", (NOTIFY_CLIENT,)),
    _scheduling("appointment.denied", AppointmentDecidedV1, AppointmentDecided,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START,
                 "reason": "The clinician is away that week."},
                "Staff denied a requested appointment.", (NOTIFY_CLIENT,)),
    _scheduling("appointment.booked", AppointmentChangedV1, AppointmentChanged,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "by": "staff",
                 "previous_start": None},
                "An appointment was booked (by staff, or at once on a client's request when the practice approves "
                "automatically), or moved to a new time (previous_start).", (NOTIFY_OTHER,)),
    _scheduling("appointment.confirmed", AppointmentChangedV1, AppointmentChanged,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "by": "client"},
                "An appointment was confirmed.", (NOTIFY_OTHER,)),
    _scheduling("appointment.cancelled", AppointmentChangedV1, AppointmentChanged,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "by": "client",
                 "reason": None},
                "An appointment (or a request) was cancelled, late-cancelled included.", (NOTIFY_OTHER,)),
    _scheduling("appointment.completed", AppointmentCompletedV1, AppointmentCompleted,
                {**APPOINTMENT, "service_code": "90834", "outcome": "completed", "fee": False},
                "A session took place: it becomes billable. Also a late cancel or no-show the practice charges "
                "for (fee true).", (Consumer("billing", "a billable session, ready to invoice"),)),
    _scheduling("appointment.reminder_due", AppointmentReminderDueV1, AppointmentReminderDue,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "lead_minutes": 1440},
                "An appointment's reminder is due.", (Consumer("messaging", "reminder e-mail and notification"),)),
)
