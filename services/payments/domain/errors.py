"""Payments' domain errors: plain exceptions that know nothing of HTTP.

Each carries the sentence a person reads (its message) and, when it has them, `errors` (field -> messages),
`headers` and `extra` (more members of the answer, like `failure_code`). api/errors.py maps each class to its
status, slug and title (ERROR_MAP), and shared.errors carries these attributes into the problem answer."""

from __future__ import annotations

from shared.domain import DomainError


class PaymentsError(DomainError):
    """A refusal of one of payments' use cases."""


# --- the practice's switch ---------------------------------------------------------------------

class OnlinePaymentsOff(PaymentsError):
    """The practice does not take payments online (Pay Now, saving a card)."""


class SettingsUnknown(PaymentsError):
    """Identity could not confirm that online payments are on: nothing is charged on a guess."""


# --- what is payable ---------------------------------------------------------------------------

class NothingToPay(PaymentsError):
    """No balance, or an amount of zero."""


class AmountOverBalance(PaymentsError):
    """More than is payable now, or more than the chosen invoice still owes."""


class InvoiceNotOpen(PaymentsError):
    """A chosen invoice is another client's, unknown, or paid already."""


class CustomAmountForSeveralInvoices(PaymentsError):
    """A custom amount goes towards one invoice only."""


class WrongCurrency(PaymentsError):
    """The request's currency is not the practice's."""


# --- cards -------------------------------------------------------------------------------------

class PaymentMethodNotFound(PaymentsError):
    """No saved card with this id for this client (unknown, another client's, or removed)."""


class NoCardOnFile(PaymentsError):
    """AutoPay's charge with no default card to charge."""


class CardUnreadable(PaymentsError):
    """The processor does not know the token, or it is spent (or it is a legacy card's, on file already)."""


class CardExpired(PaymentsError):
    """The card's expiry month is over."""


class CardAlreadySaved(PaymentsError):
    """The client has this card (by the processor's fingerprint) on file already."""


class CardReentryRequired(PaymentsError):
    """A legacy card the processor refused to convert: the client enters it again."""


class ProcessorDown(PaymentsError):
    """The card processor did not answer (or refused the request itself): nothing was charged."""


# --- idempotency keys --------------------------------------------------------------------------

class IdempotencyConflict(PaymentsError):
    """The key was used with a different request."""


class RequestInProgress(PaymentsError):
    """The first request with this key is still running."""


# --- payments and refunds ----------------------------------------------------------------------

class PaymentNotFound(PaymentsError):
    """No payment with this id (for this client)."""


class NoReceipt(PaymentsError):
    """A receipt exists only for a payment that went through."""


class NotRefundable(PaymentsError):
    """Only a payment that went through can be refunded."""


class RefundTooLarge(PaymentsError):
    """More than what is left of the payment (refunded and pending refunds counted)."""
