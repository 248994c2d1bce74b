"""What may be paid: the amount a request means, and the ceiling no payment may pass."""

from __future__ import annotations

from dataclasses import dataclass

from services.payments.domain.errors import (
    AmountOverBalance,
    CustomAmountForSeveralInvoices,
    InvoiceNotOpen,
    NothingToPay,
    WrongCurrency,
)
from services.payments.domain.outcomes import UNSETTLED

# A payment in flight or not yet on billing's ledger, as the reserve reads it: (invoice ids, amount, status).
OpenPayment = tuple[list[str], int, str]


@dataclass(frozen=True)
class Exposure:
    """What is owed, as far as payments can tell: billing's balance minus money already on its way."""

    balance_cents: int  # billing's ledger balance (latest balance.changed)
    unposted_cents: int  # succeeded here, not yet on billing's ledger (payment.posted not seen)
    in_flight_cents: int  # pending or processing: may still succeed

    @property
    def payable_cents(self) -> int:
        return max(0, self.balance_cents - self.unposted_cents - self.in_flight_cents)


def exposure(balance_cents: int, open_payments: list[OpenPayment]) -> Exposure:
    return Exposure(balance_cents=balance_cents,
                    unposted_cents=sum(a for _, a, status in open_payments if status == "succeeded"),
                    in_flight_cents=sum(a for _, a, status in open_payments if status in UNSETTLED))


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


def amount_to_reserve(body: dict, *, balance_cents: int, open_invoices: list[dict] | None,
                      open_payments: list[OpenPayment]) -> int:
    """The amount of a Pay Now request (or AutoPay's), from what the reserve read under the client's lock:
    billing's balance and open invoices (as balance.changed said them), and the client's payments in flight or
    not on billing's ledger yet."""
    return requested_amount(
        exposure=exposure(balance_cents, open_payments),
        amount_cents=body.get("amount_cents"), pay_balance=bool(body.get("pay_balance")),
        invoice_ids=list(body.get("invoice_ids") or []),
        open_invoices=invoice_payable({i["invoice_id"]: int(i["balance_cents"]) for i in open_invoices or []},
                                      [(ids, a) for ids, a, _ in open_payments if ids]))


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
            raise InvoiceNotOpen("One of these invoices is not yours or is already paid.",
                                 errors={"invoice_ids": [f"Not an open invoice: {i}" for i in missing]})
        owed = sum(open_invoices[i] for i in chosen)
        amount = owed
        if amount_cents is not None:
            if len(chosen) > 1:
                raise CustomAmountForSeveralInvoices(
                    "A custom amount goes towards one invoice; pay several invoices in full.",
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


def check_currency(requested: str | None, practice_currency: str) -> None:
    """Payments are in the practice's currency; a request may name it, and nothing else."""
    if requested and requested != practice_currency:
        raise WrongCurrency(f"Payments are in {practice_currency}.",
                            errors={"currency": [f"Must be {practice_currency}."]})


def money(cents: int) -> str:
    """12345 -> "123.45" without floats."""
    units, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{units:,}.{rest:02d}"
