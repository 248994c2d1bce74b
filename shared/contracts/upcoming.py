"""What the next services will publish (ARCHITECTURE, EVENTS.md): messaging, documents. Not published
yet (`published=False`): the contracts their consumers are written against first. Their fields are EVENTS.md's
minimum; a service adds to them as it is built (a new field in the schema first, as any producer)."""

# No `from __future__ import annotations`: TypedDict reads NotRequired[...] at class creation (Python 3.11).
from typing import Literal, TypedDict

from marshmallow import Schema

from shared.contracts.catalogue import Consumer, Contract
from shared.contracts.fields import Bool, Id, IsoDateTime, OneOf, Text

CLIENT_ID = "5f0c2a51-7d0e-4a8e-9a53-2f1f0f3c9b11"
NOTIFY_CLIENT = Consumer("messaging", "client notification and e-mail")


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


CONTRACTS = (
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
