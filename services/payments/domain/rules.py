"""What may be paid: the amount a request means, and the ceiling no payment (or refund) may pass."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.errors import Conflict, Forbidden, NotFound, ProblemError, ServiceUnavailable, Unprocessable


class OnlinePaymentsOff(Forbidden):
    slug, title = "online-payments-off", "Your practice does not take payments online"


class SettingsUnknown(ServiceUnavailable):
    """Identity could not confirm that online payments are on: nothing is charged on a guess."""

    slug, title = "settings-unavailable", "Your practice's settings cannot be confirmed right now"


class AmountOverBalance(Unprocessable):
    slug, title = "amount-over-balance", "The amount is more than you owe"


class NothingToPay(Unprocessable):
    slug, title = "nothing-to-pay", "There is nothing to pay"


class PaymentMethodNotFound(NotFound):
    slug, title = "payment-method-not-found", "Card not found"


class PaymentNotFound(NotFound):
    slug, title = "payment-not-found", "Payment not found"


class RefundTooLarge(Unprocessable):
    slug, title = "refund-too-large", "The refund is more than what is left of the payment"


class IdempotencyConflict(Conflict):
    slug, title = "idempotency-key-reused", "This Idempotency-Key was used for a different request"


class RequestInProgress(Conflict):
    slug, title = "request-in-progress", "A request with this Idempotency-Key is still being processed"


class ProcessorDown(ProblemError):
    status, slug, title = 503, "processor-unavailable", "The card processor is not answering"


class CardExpired(Unprocessable):
    slug, title = "expired_card", "This card has expired"


@dataclass(frozen=True)
class Exposure:
    """What is owed, as far as payments can tell: billing's balance minus money already on its way."""

    balance_cents: int  # billing's ledger balance (latest balance.changed)
    unposted_cents: int  # succeeded here, not yet on billing's ledger (payment.posted not seen)
    in_flight_cents: int  # pending or processing: may still succeed

    @property
    def payable_cents(self) -> int:
        return max(0, self.balance_cents - self.unposted_cents - self.in_flight_cents)


def invoice_payable(open_invoices: dict[str, int], holds: list[tuple[list[str], int]]) -> dict[str, int]:
    """What each open invoice can still take: its balance (as billing last said) minus the payments that
    named it and are not on billing's ledger yet (in flight, or succeeded but unposted), spread over their
    invoices in order as billing will allocate them."""
    left = dict(open_invoices)
    for invoice_ids, amount in holds:
        for invoice_id in dict.fromkeys(invoice_ids):
            if amount <= 0:
                break
            take = min(amount, left.get(invoice_id, 0))
            if take > 0:
                left[invoice_id] -= take
                amount -= take
    return {i: b for i, b in left.items() if b > 0}


def requested_amount(*, exposure: Exposure, amount_cents: int | None, pay_balance: bool, invoice_ids: list[str],
                     open_invoices: dict[str, int]) -> int:
    """The amount a Pay Now request means: the whole balance, chosen invoices (what they still owe), or a
    custom amount (alone, or towards one invoice) — never more than is payable."""
    payable = exposure.payable_cents
    if pay_balance:
        amount = payable
    elif invoice_ids:
        chosen = list(dict.fromkeys(invoice_ids))
        missing = [i for i in chosen if i not in open_invoices]
        if missing:
            raise NotFound("One of these invoices is not yours or is already paid.",
                           errors={"invoice_ids": [f"Not an open invoice: {i}" for i in missing]})
        owed = sum(open_invoices[i] for i in chosen)
        amount = owed
        if amount_cents is not None:
            if len(chosen) > 1:
                raise Unprocessable("A custom amount goes towards one invoice; pay several invoices in full.",
                                    errors={"amount_cents": ["Only with a single invoice."]})
            if amount_cents > owed:
                raise AmountOverBalance(f"This invoice needs at most {money(owed)}.",
                                        errors={"amount_cents": [f"At most {owed} (what the invoice owes)."]},
                                        extra={"payable_cents": owed})
            amount = amount_cents
    else:
        amount = amount_cents or 0
    if amount <= 0 or payable <= 0:
        raise NothingToPay("You have no balance to pay." if payable <= 0 else "Enter an amount above zero.")
    if amount > payable:
        raise AmountOverBalance(
            f"You can pay at most {money(payable)} now.",
            errors={"amount_cents": [f"At most {payable} (your outstanding balance)."]},
            extra={"payable_cents": payable})
    return amount


def money(cents: int) -> str:
    """12345 -> "123.45" without floats."""
    units, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{units:,}.{rest:02d}"


def card_expired(exp_month: int, exp_year: int, today: date) -> bool:
    return (exp_year, exp_month) < (today.year, today.month)


def refundable(amount_cents: int, refunded_cents: int, pending_refunds_cents: int) -> int:
    return max(0, amount_cents - refunded_cents - pending_refunds_cents)
