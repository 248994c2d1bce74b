"""What billing publishes: invoices, what a payment did on the ledger, balances, AutoPay."""

# No `from __future__ import annotations`: TypedDict reads NotRequired[...] at class creation (Python 3.11).
from typing import NotRequired, TypedDict

from marshmallow import Schema

from shared.contracts.catalogue import Consumer, Contract
from shared.contracts.fields import Bool, Cents, Currency, Id, Int, IsoDate, IsoDateTime, List, Nested, Text

CLIENT_ID = "5f0c2a51-7d0e-4a8e-9a53-2f1f0f3c9b11"
INVOICE_ID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
PAYMENT_ID = "7d6c5b4a-3f2e-4d1c-9b0a-8f7e6d5c4b3a"


class InvoiceAutopay(Schema):
    """The AutoPay charge an invoice is to be paid by: when, and the balance it charges."""

    charge_at = IsoDateTime(required=True)
    amount_cents = Cents(required=True)
    currency = Currency(required=True)


class InvoiceAutopayPayload(TypedDict):
    charge_at: str
    amount_cents: int
    currency: str


class InvoiceGeneratedV1(Schema):
    invoice_id = Id(required=True)
    client_id = Id(required=True)
    number = Int(required=True)
    total_cents = Cents(required=True)
    currency = Currency(required=True)
    due_date = IsoDate(required=True)
    appointment_id = Id(allow_none=True)  # the completed session it bills, if any
    issued_at = IsoDateTime()
    # None: the client is not on AutoPay (or the practice's AutoPay is off), or nothing is left to charge
    autopay = Nested(InvoiceAutopay, allow_none=True)


class InvoiceGenerated(TypedDict):
    invoice_id: str
    client_id: str
    number: int
    total_cents: int
    currency: str
    due_date: str
    appointment_id: NotRequired[str | None]
    issued_at: NotRequired[str]
    autopay: NotRequired[InvoiceAutopayPayload | None]


class InvoicePaidV1(Schema):
    invoice_id = Id(required=True)
    client_id = Id(required=True)
    number = Int()
    total_cents = Cents()
    currency = Currency()


class InvoicePaid(TypedDict):
    invoice_id: str
    client_id: str
    number: NotRequired[int]
    total_cents: NotRequired[int]
    currency: NotRequired[str]


class OpenInvoice(Schema):
    invoice_id = Id(required=True)
    balance_cents = Cents(required=True)


class OpenInvoicePayload(TypedDict):
    invoice_id: str
    balance_cents: int


class BalanceChangedV1(Schema):
    """The balance after a ledger entry; ledger_seq orders snapshots (an older one arriving late is ignored)."""

    client_id = Id(required=True)
    balance_cents = Cents(required=True)
    currency = Currency(required=True)
    ledger_seq = Int()
    open_invoices = List(Nested(OpenInvoice))


class BalanceChanged(TypedDict):
    client_id: str
    balance_cents: int
    currency: str
    ledger_seq: NotRequired[int]
    open_invoices: NotRequired[list[OpenInvoicePayload]]


class Allocation(Schema):
    invoice_id = Id(required=True)
    amount_cents = Cents(required=True)


class AllocationPayload(TypedDict):
    invoice_id: str
    amount_cents: int


class PaymentPostedV1(Schema):
    """A payment on the ledger, with the balance snapshot after it (as balance.changed)."""

    payment_id = Id(required=True)
    client_id = Id(required=True)
    amount_cents = Cents(required=True)
    allocations = List(Nested(Allocation), required=True)
    currency = Currency()
    entry_id = Id()
    balance_cents = Cents()
    ledger_seq = Int()
    open_invoices = List(Nested(OpenInvoice))


class PaymentPosted(TypedDict):
    payment_id: str
    client_id: str
    amount_cents: int
    allocations: list[AllocationPayload]
    currency: NotRequired[str]
    entry_id: NotRequired[str]
    balance_cents: NotRequired[int]
    ledger_seq: NotRequired[int]
    open_invoices: NotRequired[list[OpenInvoicePayload]]


class AutopayChangedV1(Schema):
    client_id = Id(required=True)
    enabled = Bool(required=True)


class AutopayChanged(TypedDict):
    client_id: str
    enabled: bool


class AutopayDisabledV1(Schema):
    client_id = Id(required=True)
    failures = Int(required=True)
    last_failure_code = Text(required=True, allow_none=True)
    reason = Text(required=True)


class AutopayDisabled(TypedDict):
    client_id: str
    failures: int
    last_failure_code: str | None
    reason: str


class AutopayChargeFailedV1(Schema):
    client_id = Id(required=True)
    payment_id = Id(required=True, allow_none=True)  # None: payments answered without one
    failures = Int(required=True)  # failed nights in a row, this one included
    failure_code = Text(required=True, allow_none=True)
    next_attempt_at = IsoDateTime(required=True, allow_none=True)  # None: AutoPay does not try this night again
    # AutoPay still on after this failure (false: it switched AutoPay off, autopay.disabled follows). A charge that
    # failed only after answering "processing" has no next night: AutoPay charges again after the next invoice.
    autopay_enabled = Bool()


class AutopayChargeFailed(TypedDict):
    client_id: str
    payment_id: str | None
    failures: int
    failure_code: str | None
    next_attempt_at: str | None
    autopay_enabled: NotRequired[bool]


SNAPSHOT = {"client_id": CLIENT_ID, "balance_cents": 5000, "currency": "USD", "ledger_seq": 42,
            "open_invoices": [{"invoice_id": INVOICE_ID, "balance_cents": 5000}]}

CONTRACTS = (
    Contract("invoice.generated", 1, "billing", InvoiceGeneratedV1, InvoiceGenerated,
             {"invoice_id": INVOICE_ID, "client_id": CLIENT_ID, "number": 1042, "total_cents": 15000,
              "currency": "USD", "due_date": "2026-12-31", "appointment_id": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
              "issued_at": "2026-12-01T15:00:00+00:00",
              "autopay": {"charge_at": "2026-12-02T06:00:00+00:00", "amount_cents": 15000, "currency": "USD"}},
             "Staff issued an invoice (for a completed session, or not). `autopay`: the client is on AutoPay (and "
             "the practice's AutoPay is on) at issue: the next nightly run's time (UTC) and the balance it is to "
             "charge, the balance after this invoice; null otherwise, or when account credit left nothing to "
             "charge.",
             (Consumer("payments", "the invoice's number for receipts and answers"),
              Consumer("messaging", "client notification; with `autopay`, when AutoPay will charge it and how "
                                    "much"))),
    Contract("invoice.paid", 1, "billing", InvoicePaidV1, InvoicePaid,
             {"invoice_id": INVOICE_ID, "client_id": CLIENT_ID, "number": 1042, "total_cents": 15000,
              "currency": "USD"},
             "An invoice's balance reached zero (again, after a refund re-opened it).",
             (Consumer("messaging", "client notification"),)),
    Contract("balance.changed", 1, "billing", BalanceChangedV1, BalanceChanged, SNAPSHOT,
             "A client's balance and open invoices after a ledger entry.",
             (Consumer("payments", "balance projection: what Pay Now offers and allows"),)),
    Contract("payment.posted", 1, "billing", PaymentPostedV1, PaymentPosted,
             {**SNAPSHOT, "payment_id": PAYMENT_ID, "amount_cents": 10000,
              "entry_id": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f",
              "allocations": [{"invoice_id": "8b7c6d5e-4f3a-4b2c-9d1e-0f9a8b7c6d5e", "amount_cents": 10000}]},
             "A payment is on the ledger, allocated to invoices; the balance after it.",
             (Consumer("payments", "the payment stops counting as open; the new balance"),)),
    Contract("autopay.changed", 1, "billing", AutopayChangedV1, AutopayChanged,
             {"client_id": CLIENT_ID, "enabled": True},
             "A client's AutoPay was turned on or off (by the client or staff).",
             (Consumer("messaging", "notification to the client"),)),
    Contract("autopay.disabled", 1, "billing", AutopayDisabledV1, AutopayDisabled,
             {"client_id": CLIENT_ID, "failures": 3, "last_failure_code": "insufficient_funds",
              "reason": "3 failed AutoPay nights in a row"},
             "AutoPay turned itself off for a client after failed nights in a row.",
             (Consumer("messaging", "practice and client notification"),)),
    Contract("autopay.charge_failed", 1, "billing", AutopayChargeFailedV1, AutopayChargeFailed,
             {"client_id": CLIENT_ID, "payment_id": PAYMENT_ID, "failures": 1, "failure_code": "card_declined",
              "next_attempt_at": "2026-12-03T06:00:00+00:00", "autopay_enabled": True},
             "A night's AutoPay charge failed (at once, or later when a charge that answered processing failed). "
             "next_attempt_at: the next night's run (UTC), which tries again; null when this failure switched "
             "AutoPay off (autopay_enabled false, autopay.disabled follows) or came after the night's run.",
             (Consumer("messaging", "client notice: when AutoPay tries again, or that it will not"),)),
)
