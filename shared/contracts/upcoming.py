"""What the next services will publish (ARCHITECTURE, EVENTS.md): scheduling, messaging, documents. Not published
yet (`published=False`): the contracts their consumers are written against first. Their fields are EVENTS.md's
minimum; a service adds to them as it is built (a new field in the schema first, as any producer)."""

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


class AppointmentV1(Schema):
    """appointment.requested and appointment.completed: the whole appointment."""

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


class AppointmentChanged(TypedDict):
    appointment_id: str
    client_id: str
    start: str
    by: Literal["client", "staff"]


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


class MessageSentV1(Schema):
    message_id = Id(required=True)
    thread_id = Id(required=True)
    client_id = Id(required=True)
    sender_role = Text(required=True, validate=OneOf(["client", "staff"]))
    has_attachments = Bool(required=True)


class MessageSent(TypedDict):
    message_id: str
    thread_id: str
    client_id: str
    sender_role: Literal["client", "staff"]
    has_attachments: bool


class DocumentSharedV1(Schema):
    document_id = Id(required=True)
    client_id = Id(required=True)
    title = Text(required=True)
    kind = Text(required=True)


class DocumentShared(TypedDict):
    document_id: str
    client_id: str
    title: str
    kind: str


class FormAssignedV1(Schema):
    form_id = Id(required=True)
    client_id = Id(required=True)
    title = Text(required=True)


class FormAssigned(TypedDict):
    form_id: str
    client_id: str
    title: str


class FormSubmittedV1(FormAssignedV1):
    signed_at = IsoDateTime(required=True, allow_none=True)  # None: a form without a signature


class FormSubmitted(FormAssigned):
    signed_at: str | None


APPOINTMENT = {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "clinician_id": CLINICIAN_ID,
               "start": START, "end": END, "type": "Individual therapy"}
NOTIFY_CLIENT = Consumer("messaging", "client notification and e-mail")
NOTIFY_OTHER = Consumer("messaging", "notification to the other side")


def _scheduling(event_type: str, schema, payload, example, description, consumers) -> Contract:
    return Contract(event_type, 1, "scheduling", schema, payload, example, description, consumers, published=False)


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
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "by": "staff"},
                "An appointment was booked.", (NOTIFY_OTHER,)),
    _scheduling("appointment.confirmed", AppointmentChangedV1, AppointmentChanged,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "by": "client"},
                "An appointment was confirmed.", (NOTIFY_OTHER,)),
    _scheduling("appointment.cancelled", AppointmentChangedV1, AppointmentChanged,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "by": "client"},
                "An appointment was cancelled.", (NOTIFY_OTHER,)),
    _scheduling("appointment.completed", AppointmentV1, Appointment, APPOINTMENT,
                "A session took place: it becomes billable.",
                (Consumer("billing", "a billable session, ready to invoice"),)),
    _scheduling("appointment.reminder_due", AppointmentReminderDueV1, AppointmentReminderDue,
                {"appointment_id": APPOINTMENT_ID, "client_id": CLIENT_ID, "start": START, "lead_minutes": 1440},
                "An appointment's reminder is due.", (Consumer("messaging", "reminder e-mail and notification"),)),
    Contract("message.sent", 1, "messaging", MessageSentV1, MessageSent,
             {"message_id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", "thread_id": "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
              "client_id": CLIENT_ID, "sender_role": "staff", "has_attachments": False},
             "A message was sent in a thread.",
             (Consumer("messaging", "e-mail 'you have a new message' to the recipient side"),), published=False),
    Contract("document.shared", 1, "documents", DocumentSharedV1, DocumentShared,
             {"document_id": "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a", "client_id": CLIENT_ID,
              "title": "Welcome packet", "kind": "pdf"},
             "Staff shared a document with a client.", (NOTIFY_CLIENT,), published=False),
    Contract("form.assigned", 1, "documents", FormAssignedV1, FormAssigned,
             {"form_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "client_id": CLIENT_ID, "title": "Intake form"},
             "Staff assigned a form to a client.", (NOTIFY_CLIENT,), published=False),
    Contract("form.submitted", 1, "documents", FormSubmittedV1, FormSubmitted,
             {"form_id": "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b", "client_id": CLIENT_ID, "title": "Intake form",
              "signed_at": "2026-12-02T10:15:00+00:00"},
             "A client submitted (and maybe signed) a form.", (Consumer("messaging", "staff notification"),),
             published=False),
)
