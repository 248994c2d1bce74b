"""What identity publishes: the client directory, invitations and registrations, profile changes, the practice's
settings."""

# No `from __future__ import annotations`: TypedDict reads NotRequired[...] at class creation (Python 3.11).
from typing import Literal, NotRequired, TypedDict

from marshmallow import Schema

from shared.contracts.catalogue import Consumer, Contract
from shared.contracts.fields import Bool, Currency, Id, IsoDate, IsoDateTime, List, Nested, OneOf, Text

CLIENT_ID = "5f0c2a51-7d0e-4a8e-9a53-2f1f0f3c9b11"


class Directory(Schema):
    """A client's directory entry, as every service keeps it."""

    client_id = Id(required=True)
    first_name = Text(required=True)
    last_name = Text(required=True)
    email = Text(required=True, allow_none=True)  # a client may have no e-mail address on file
    preferred_name = Text(allow_none=True)
    date_of_birth = IsoDate()


class DirectoryPayload(TypedDict):
    client_id: str
    first_name: str
    last_name: str
    email: str | None
    preferred_name: NotRequired[str | None]
    date_of_birth: NotRequired[str]


class ClientCreatedV1(Directory):
    pass


class ClientCreated(DirectoryPayload):
    pass


class ClientInvitedV1(Schema):
    client_id = Id(required=True)
    email = Text(required=True)
    expires_at = IsoDateTime(required=True)


class ClientInvited(TypedDict):
    client_id: str
    email: str
    expires_at: str


class ClientRegisteredV1(Schema):
    client_id = Id(required=True)
    user_id = Id(required=True)


class ClientRegistered(TypedDict):
    client_id: str
    user_id: str


class StaffUserChangedV1(Schema):
    user_id = Id(required=True)
    first_name = Text(required=True, allow_none=True)
    last_name = Text(required=True, allow_none=True)
    email = Text(required=True)
    role = Text(required=True, validate=OneOf(["staff", "admin"]))
    active = Bool(required=True)


class StaffUserChanged(TypedDict):
    user_id: str
    first_name: str | None
    last_name: str | None
    email: str
    role: Literal["staff", "admin"]
    active: bool


class ProfileUpdatedV1(Directory):
    changed_fields = List(Text(), required=True)
    by = Text(validate=OneOf(["client", "staff"]))
    change_id = Id()  # the change staff review (a client's own change)


class ProfileUpdated(DirectoryPayload):
    changed_fields: list[str]
    by: NotRequired[Literal["client", "staff"]]
    change_id: NotRequired[str]


class Address(Schema):
    line1 = Text(allow_none=True)
    line2 = Text(allow_none=True)
    city = Text(allow_none=True)
    state = Text(allow_none=True)
    postal_code = Text(allow_none=True)


class AddressPayload(TypedDict, total=False):
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None


class Settings(Schema):
    """The practice's settings: identity sends the whole object every time; a consumer applies the members
    present (so one is never required)."""

    practice_name = Text()
    self_scheduling_enabled = Bool()
    online_payments_enabled = Bool()
    billing_documents_enabled = Bool()
    autopay_enabled = Bool()
    currency = Currency()
    timezone = Text()
    phone = Text(allow_none=True)
    email = Text(allow_none=True)
    address = Nested(Address)


class SettingsPayload(TypedDict, total=False):
    practice_name: str
    self_scheduling_enabled: bool
    online_payments_enabled: bool
    billing_documents_enabled: bool
    autopay_enabled: bool
    currency: str
    timezone: str
    phone: str | None
    email: str | None
    address: AddressPayload


class PracticeSettingsChangedV1(Schema):
    settings = Nested(Settings, required=True)
    changed_fields = List(Text())  # [] for the first values


class PracticeSettingsChanged(TypedDict):
    settings: SettingsPayload
    changed_fields: NotRequired[list[str]]


DIRECTORY_EXAMPLE = {"client_id": CLIENT_ID, "first_name": "Avery", "last_name": "Stone", "preferred_name": "Ave",
                     "email": "avery.stone@example.test", "date_of_birth": "1985-05-05"}
SETTINGS_EXAMPLE = {"practice_name": "Harbor Counseling", "self_scheduling_enabled": False,
                    "online_payments_enabled": True, "billing_documents_enabled": True, "autopay_enabled": True,
                    "currency": "USD", "timezone": "America/New_York", "phone": "+1 207 555 0100",
                    "email": "frontdesk@harbor.example.test",
                    "address": {"line1": "12 Harbor St", "line2": None, "city": "Portland", "state": "ME",
                                "postal_code": "04101"}}

CONTRACTS = (
    Contract("client.created", 1, "identity", ClientCreatedV1, ClientCreated, DIRECTORY_EXAMPLE,
             "Staff added a client (a chart).",
             (Consumer("billing", "an account with the client's names (lists, PDFs)"),
              Consumer("payments", "an account with the client's names (receipts)"),
              Consumer("scheduling", "the client directory"), Consumer("messaging", "the client directory"),
              Consumer("documents", "the client directory"))),
    Contract("client.invited", 1, "identity", ClientInvitedV1, ClientInvited,
             {"client_id": CLIENT_ID, "email": "avery.stone@example.test", "expires_at": "2026-12-09T14:03:11+00:00"},
             "Staff invited a client to the portal (identity mails the link itself).",
             (Consumer("messaging", "nothing visible"),)),
    Contract("client.registered", 1, "identity", ClientRegisteredV1, ClientRegistered,
             {"client_id": CLIENT_ID, "user_id": "0b7e6c1e-3f1a-4d55-8f0e-6a4c1b2d3e4f"},
             "A client registered for the portal with an invitation.",
             (Consumer("messaging", "staff notification: client registered"),)),
    Contract("profile.updated", 1, "identity", ProfileUpdatedV1, ProfileUpdated,
             {**DIRECTORY_EXAMPLE, "changed_fields": ["email", "preferred_name"], "by": "client",
              "change_id": "3c1d2e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"},
             "A client's My Information changed (by the client, or by staff: an edit or a reverted change): the "
             "directory entry as it now is.",
             (Consumer("billing", "the account's names"), Consumer("payments", "the account's names"),
              Consumer("scheduling", "the client directory"), Consumer("documents", "the client directory"),
              Consumer("messaging", "the client directory; staff notification to review the change"))),
    Contract("practice.settings_changed", 1, "identity", PracticeSettingsChangedV1, PracticeSettingsChanged,
             {"settings": SETTINGS_EXAMPLE, "changed_fields": ["autopay_enabled"]},
             "The practice's settings changed (also sent once with their first values, changed_fields []).",
             (Consumer("billing", "practice name and address (PDFs), currency, online payments, AutoPay, billing "
                                  "documents"),
              Consumer("payments", "online payments, currency, practice name (receipts)"),
              Consumer("scheduling", "self-scheduling"),
              Consumer("messaging", "practice name, e-mail and phone (mails), time zone (times in notices)"))),
    Contract("staff_user.changed", 1, "identity", StaffUserChangedV1, StaffUserChanged,
             {"user_id": "8c7b6a5f-4e3d-4c2b-9a1f-0e9d8c7b6a5f", "first_name": "Dana", "last_name": "Reyes",
              "email": "dana.reyes@harbor.example.test", "role": "staff", "active": True},
             "A staff user was created, deactivated or reactivated: the user as they now are.",
             (Consumer("messaging", "the staff directory: senders' names, assignees and their e-mail"),)),
)
