"""What payments publishes: payment attempts and their outcomes, refunds, saved cards."""

# No `from __future__ import annotations`: TypedDict reads NotRequired[...] at class creation (Python 3.11).
from typing import Literal, NotRequired, TypedDict

from marshmallow import Schema

from shared.contracts.catalogue import Consumer, Contract
from shared.contracts.fields import Bool, Cents, Currency, Id, Int, IsoDate, List, Nested, OneOf, Text

CLIENT_ID = "5f0c2a51-7d0e-4a8e-9a53-2f1f0f3c9b11"
PAYMENT_ID = "7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a"
METHOD_ID = "6e5d4c3b-2a1f-4e0d-8c9b-7a6f5e4d3c2b"
SOURCES = ["portal", "autopay"]
# EVENTS.md's failure codes. payment.failed's field is a plain string all the same: the processor adapter maps
# its decline reasons onto these, and a code it does not know is no reason to lose the event.
FAILURE_CODES = ("incorrect_number", "incorrect_cvc", "expired_card", "insufficient_funds", "card_declined",
                 "processing_error", "processor_unavailable")

Source = Literal["portal", "autopay"]


class PaymentAttemptedV1(Schema):
    payment_id = Id(required=True)
    client_id = Id(required=True)
    amount_cents = Cents(required=True)
    currency = Currency(required=True)
    method_last4 = Text(required=True, allow_none=True)
    source = Text(validate=OneOf(SOURCES))


class PaymentAttempted(TypedDict):
    payment_id: str
    client_id: str
    amount_cents: int
    currency: str
    method_last4: str | None
    source: NotRequired[Source]


class Method(Schema):
    brand = Text(required=True, allow_none=True)
    last4 = Text(required=True, allow_none=True)


class MethodPayload(TypedDict):
    brand: str | None
    last4: str | None


class PaymentSucceededV1(Schema):
    payment_id = Id(required=True)
    client_id = Id(required=True)
    amount_cents = Cents(required=True)
    currency = Currency(required=True)
    invoice_ids = List(Id(), required=True)  # the invoices the client chose to pay ([]: oldest due first)
    processor_charge_id = Text(required=True)
    method = Nested(Method, required=True)
    source = Text(validate=OneOf(SOURCES))


class PaymentSucceeded(TypedDict):
    payment_id: str
    client_id: str
    amount_cents: int
    currency: str
    invoice_ids: list[str]
    processor_charge_id: str
    method: MethodPayload
    source: NotRequired[Source]


class PaymentFailedV1(Schema):
    payment_id = Id(required=True)
    client_id = Id(required=True)
    amount_cents = Cents(required=True)
    currency = Currency()
    failure_code = Text(required=True)
    failure_message = Text(required=True, allow_none=True)
    source = Text(validate=OneOf(SOURCES))


class PaymentFailed(TypedDict):
    payment_id: str
    client_id: str
    amount_cents: int
    currency: NotRequired[str]
    failure_code: str
    failure_message: str | None
    source: NotRequired[Source]


class PaymentRefundedV1(Schema):
    refund_id = Id(required=True)
    payment_id = Id(required=True)
    client_id = Id(required=True)
    amount_cents = Cents(required=True)
    currency = Currency()
    reason = Text(allow_none=True)


class PaymentRefunded(TypedDict):
    refund_id: str
    payment_id: str
    client_id: str
    amount_cents: int
    currency: NotRequired[str]
    reason: NotRequired[str | None]


class PaymentMethodAddedV1(Schema):
    payment_method_id = Id(required=True)
    client_id = Id(required=True)
    brand = Text(required=True, allow_none=True)
    last4 = Text(required=True, allow_none=True)
    is_default = Bool(required=True)


class PaymentMethodAdded(TypedDict):
    payment_method_id: str
    client_id: str
    brand: str | None
    last4: str | None
    is_default: bool


class NewDefault(Schema):
    payment_method_id = Id(required=True)
    brand = Text(required=True, allow_none=True)
    last4 = Text(required=True, allow_none=True)


class PaymentMethodRemovedV1(Schema):
    payment_method_id = Id(required=True)
    client_id = Id(required=True)
    brand = Text(required=True, allow_none=True)
    last4 = Text(required=True, allow_none=True)
    reason = Text(validate=OneOf(["reentry_required"]))  # the client must enter the card again
    was_default = Bool()
    new_default = Nested(NewDefault, allow_none=True)  # the card that became the default in its place, if any


class NewDefaultPayload(TypedDict):
    payment_method_id: str
    brand: str | None
    last4: str | None


class PaymentMethodRemoved(TypedDict):
    payment_method_id: str
    client_id: str
    brand: str | None
    last4: str | None
    reason: NotRequired[Literal["reentry_required"]]
    was_default: NotRequired[bool]
    new_default: NotRequired[NewDefaultPayload | None]


class PaymentMethodExpiringV1(Schema):
    payment_method_id = Id(required=True)
    client_id = Id(required=True)
    brand = Text(required=True, allow_none=True)
    last4 = Text(required=True, allow_none=True)
    exp_month = Int(required=True)
    exp_year = Int(required=True)
    expires_on = IsoDate(required=True)  # the last day of the expiry month: the card is good through it


class PaymentMethodExpiring(TypedDict):
    payment_method_id: str
    client_id: str
    brand: str | None
    last4: str | None
    exp_month: int
    exp_year: int
    expires_on: str


class PaymentMethodDefaultChangedV1(Schema):
    client_id = Id(required=True)
    payment_method_id = Id(required=True, allow_none=True)  # None: no card on file any more


class PaymentMethodDefaultChanged(TypedDict):
    client_id: str
    payment_method_id: str | None


MONEY = {"payment_id": PAYMENT_ID, "client_id": CLIENT_ID, "amount_cents": 10000, "currency": "USD"}
CARD = {"payment_method_id": METHOD_ID, "client_id": CLIENT_ID, "brand": "visa", "last4": "4242"}
NOTIFY = Consumer("messaging", "notification to the client and the practice")

CONTRACTS = (
    Contract("payment.attempted", 1, "payments", PaymentAttemptedV1, PaymentAttempted,
             {**MONEY, "method_last4": "4242", "source": "portal"},
             "A payment was reserved and is being charged (Pay Now or AutoPay).", (NOTIFY,)),
    Contract("payment.succeeded", 1, "payments", PaymentSucceededV1, PaymentSucceeded,
             {**MONEY, "invoice_ids": ["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"], "processor_charge_id": "ch_3Q1a2b",
              "method": {"brand": "visa", "last4": "4242"}, "source": "portal"},
             "The processor charged the card.",
             (Consumer("billing", "posts the payment to the ledger, allocated to invoices"), NOTIFY)),
    Contract("payment.failed", 1, "payments", PaymentFailedV1, PaymentFailed,
             {**MONEY, "failure_code": "insufficient_funds",
              "failure_message": "Your card has insufficient funds. Please use a different card or contact your "
                                 "bank.", "source": "autopay"},
             f"The charge failed (failure_code one of {', '.join(FAILURE_CODES)}).",
             (Consumer("messaging", "client notification"),
              Consumer("billing", "an AutoPay charge that answered processing and then failed: a failed night"))),
    Contract("payment.refunded", 1, "payments", PaymentRefundedV1, PaymentRefunded,
             {"refund_id": "4d3c2b1a-0f9e-4d8c-8b7a-6f5e4d3c2b1a", **MONEY, "amount_cents": 4000,
              "reason": "Session cancelled"},
             "Staff refunded (part of) a payment and the processor confirmed it.",
             (Consumer("billing", "posts the refund: account credit first, then re-opens invoices"), NOTIFY)),
    Contract("payment_method.added", 1, "payments", PaymentMethodAddedV1, PaymentMethodAdded,
             {**CARD, "is_default": True},
             "A card was saved.", (Consumer("messaging", "security notification to the client"),)),
    Contract("payment_method.removed", 1, "payments", PaymentMethodRemovedV1, PaymentMethodRemoved,
             {**CARD, "reason": "reentry_required", "was_default": True,
              "new_default": {"payment_method_id": "5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", "brand": "mastercard",
                              "last4": "4444"}},
             "A card was removed (by the client, or a legacy card that must be entered again).",
             (Consumer("messaging", "security notification to the client; the practice when AutoPay's card is "
                                    "removed"),)),
    Contract("payment_method.expiring", 1, "payments", PaymentMethodExpiringV1, PaymentMethodExpiring,
             {**CARD, "exp_month": 12, "exp_year": 2026, "expires_on": "2026-12-31"},
             "A saved card's expiry is near: its last good day (expires_on, the end of its expiry month) is within "
             "CARD_EXPIRY_NOTICE_DAYS (30) days. Told once per card on file; never for an expired or removed one.",
             (Consumer("messaging", "client notice with a link to Cards on File"),)),
    Contract("payment_method.default_changed", 1, "payments", PaymentMethodDefaultChangedV1,
             PaymentMethodDefaultChanged, {"client_id": CLIENT_ID, "payment_method_id": METHOD_ID},
             "The client's default card may have moved (None: no card on file).",
             (Consumer("billing", "AutoPay's card, shown on My Account"),
              Consumer("messaging", "which card AutoPay charges (named in the AutoPay notices)"))),
)
