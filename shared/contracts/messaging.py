"""What messaging publishes: a message sent in a thread (the other side's "you have a new message" e-mail)."""

# No `from __future__ import annotations`: TypedDict reads NotRequired[...] at class creation (Python 3.11).
from typing import Literal, TypedDict

from marshmallow import Schema

from shared.contracts.catalogue import Consumer, Contract
from shared.contracts.fields import Bool, Id, OneOf, Text

CLIENT_ID = "5f0c2a51-7d0e-4a8e-9a53-2f1f0f3c9b11"


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


CONTRACTS = (
    Contract("message.sent", 1, "messaging", MessageSentV1, MessageSent,
             {"message_id": "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", "thread_id": "3c4d5e6f-7a8b-4c9d-8e1f-2a3b4c5d6e7f",
              "client_id": CLIENT_ID, "sender_role": "staff", "has_attachments": False},
             "A message was sent in a thread (never its subject, body or file names).",
             (Consumer("messaging", "e-mail 'you have a new message' to the recipient side, delayed for a client "
                                    "and sent only if still unread"),)),
)
