"""What the next service will publish (ARCHITECTURE, EVENTS.md): documents. Not published
yet (`published=False`): the contracts their consumers are written against first. Their fields are EVENTS.md's
minimum; a service adds to them as it is built (a new field in the schema first, as any producer)."""

# No `from __future__ import annotations`: TypedDict reads NotRequired[...] at class creation (Python 3.11).
from typing import TypedDict

from marshmallow import Schema

from shared.contracts.catalogue import Consumer, Contract
from shared.contracts.fields import Id, IsoDateTime, Text

CLIENT_ID = "5f0c2a51-7d0e-4a8e-9a53-2f1f0f3c9b11"
NOTIFY_CLIENT = Consumer("messaging", "client notification and e-mail")


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
