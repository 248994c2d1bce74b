"""The card-processor contract of the payments service: what we send, what comes back, what can go wrong.

Our services never see a card number or CVC: the browser tokenizes the card at the
processor and hands us the token. Everything here works on tokens, amounts in integer
cents, and *our* references (payment id, refund id), which the processor uses as its
idempotency keys: one reference is never charged (or refunded) twice, a repeat returns
the first result.

A token is single-use: the first attach or charge spends it. A card is saved by attaching
its token to the processor's customer for our client (`create_customer(client id)`, once
per client); what we keep is the payment method the processor answers, which charges
again only when named together with that customer. So a token that reached someone else
is worth nothing once used, and a saved card cannot be charged for another client.

How a caller reads the outcomes of `charge` (and `refund` likewise):

- `ChargeResult(status="succeeded")` / `("failed", failure_code=...)`: final.
- `ProcessorUnavailable`: nothing happened at the processor (no connection, or it
  refused to start the work). Safe to retry, best with the same reference.
- `ProcessorTimeout`: the request was sent and no usable answer came back; the card
  may or may not have been charged. Never charge again under a new reference: keep
  the payment pending and reconcile with `find_charge(reference)` (or repeat the
  charge with the *same* reference, which returns the first result).
- `ProcessorRejected`: the processor refused the request itself (unknown token, bad
  API key, invalid fields); nothing was charged. A programming or configuration
  error more than a client's, except `CardTokenInvalid`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Literal

ChargeStatus = Literal["succeeded", "failed"]
RefundStatus = Literal["succeeded", "failed"]

# EVENTS.md's failure codes, with the words a client reads (payment.failed, API answers).
FAILURE_MESSAGES: dict[str, str] = {
    "incorrect_number": "Your card number is incorrect. Please check it and try again.",
    "incorrect_cvc": "Your card's security code is incorrect. Please check it and try again.",
    "expired_card": "Your card has expired. Please use a different card.",
    "insufficient_funds": "Your card has insufficient funds. Please use a different card or contact your bank.",
    "card_declined": "Your card was declined. Please use a different card or contact your bank.",
    "processing_error": "An error occurred while processing your card. Nothing was charged; please try again "
                        "in a moment.",
    "processor_unavailable": "We could not reach our card processor. Nothing was charged; please try again in "
                             "a few minutes.",
}
FAILURE_CODES = frozenset(FAILURE_MESSAGES)
# Worth trying again with the same card: the issuer did not say no.
RETRYABLE_FAILURE_CODES = frozenset({"processing_error", "processor_unavailable"})

# Why a refund was refused (processor-side, not client-facing card failures).
REFUND_FAILURE_MESSAGES: dict[str, str] = {
    "amount_too_large": "The refund would exceed the amount charged minus what was already refunded.",
    "charge_not_refundable": "Only a successful charge can be refunded.",
}


def failure_message(code: str | None) -> str | None:
    """The client-facing sentence for a failure code; an unknown code reads as a decline."""
    if code is None:
        return None
    return FAILURE_MESSAGES.get(code) or REFUND_FAILURE_MESSAGES.get(code) or FAILURE_MESSAGES["card_declined"]


def normalize_failure_code(code: str | None) -> str | None:
    """A processor-specific decline reason (e.g. `do_not_honor`) becomes one of EVENTS.md's codes."""
    if code is None:
        return None
    return code if code in FAILURE_CODES else "card_declined"


# --- what comes back ---------------------------------------------------------------------------

@dataclass(frozen=True)
class CardDetails:
    """What we may keep of a card: display details and the processor's fingerprint, never the number."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    cardholder_name: str
    # Same card, same fingerprint (across tokens): lets us spot a card saved twice.
    fingerprint: str


@dataclass(frozen=True)
class SavedCard:
    """A card attached to a customer at the processor: the payment method to charge again, and its details."""

    payment_method_id: str
    customer_id: str
    card: CardDetails


@dataclass(frozen=True)
class ChargeResult:
    status: ChargeStatus
    charge_id: str | None
    failure_code: str | None = None
    failure_message: str | None = None
    # What the processor recorded, to check against our payment when reconciling.
    amount_cents: int | None = None
    currency: str | None = None
    reference: str | None = None
    amount_refunded_cents: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def retryable(self) -> bool:
        return self.failure_code in RETRYABLE_FAILURE_CODES


@dataclass(frozen=True)
class RefundResult:
    status: RefundStatus
    refund_id: str | None
    failure_code: str | None = None
    failure_message: str | None = None
    amount_cents: int | None = None
    charge_id: str | None = None
    reference: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


# --- what can go wrong ---------------------------------------------------------------------------

class ProcessorError(Exception):
    """Base of the adapter's exceptions. Messages never carry card data or API keys."""


class ProcessorUnavailable(ProcessorError):
    """Nothing happened at the processor (no connection, rate limited, 503): safe to retry."""

    failure_code = "processor_unavailable"


class ProcessorTimeout(ProcessorError):
    """Sent, but no usable answer: the outcome is unknown. Reconcile with find_charge; never charge blindly."""


class ProcessorRejected(ProcessorError):
    """The processor refused the request itself (4xx other than a card decline); nothing was charged."""

    def __init__(self, message: str, *, status: int, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class CardTokenInvalid(ProcessorRejected):
    """The token cannot be used: unknown to the processor (mistyped, expired, another account's), or used
    already (code `token_already_used`: tokens are single-use)."""


class PaymentMethodNotOwned(ProcessorRejected):
    """The payment method is not the named customer's: nothing was charged."""


class ReferenceConflict(ProcessorRejected):
    """The reference was already used with other parameters (amount, token, charge): never a second charge."""


# --- the contract --------------------------------------------------------------------------------

class CardProcessor(abc.ABC):
    """Tokens in, charges and refunds out. Every call may raise the ProcessorError subclasses above."""

    @abc.abstractmethod
    def retrieve_token(self, token: str) -> CardDetails:
        """The card behind a token, as the processor knows it (to save a card: never trust the browser's copy)."""

    @abc.abstractmethod
    def create_customer(self, reference: str) -> str:
        """The processor's customer id for our client `reference`: created once, the same id on every call."""

    @abc.abstractmethod
    def attach_card(self, *, customer_id: str, token: str) -> SavedCard:
        """Saves the token's card as a payment method of the customer; spends the token."""

    @abc.abstractmethod
    def charge(self, *, token: str | None = None, payment_method: str | None = None, customer: str | None = None,
               amount_cents: int, currency: str, reference: str, description: str) -> ChargeResult:
        """Charge a token (spending it) or a payment method with its customer, once per `reference` (our
        payment id); a repeat answers the first result."""

    @abc.abstractmethod
    def find_charge(self, reference: str) -> ChargeResult | None:
        """The charge made under our reference, or None if the processor never recorded one."""

    @abc.abstractmethod
    def refund(self, *, charge_id: str, amount_cents: int, reference: str) -> RefundResult:
        """Refund part or all of a charge, once per `reference` (our refund id)."""

    @abc.abstractmethod
    def find_refund(self, reference: str) -> RefundResult | None:
        """The refund made under our reference, or None (reconciles a refund that timed out)."""
