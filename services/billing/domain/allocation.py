"""The money rules: how a payment or credit is spread over open invoices, how a refund un-pays them, what is
left over as credit, and what an invoice still owes.

Pure functions over plain values, so every rule is reached by a unit test without a database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpenInvoice:
    invoice_id: str
    balance_cents: int  # what is still due, > 0


@dataclass(frozen=True)
class Paid:
    invoice_id: str
    amount_cents: int  # an allocation this credit made (> 0; a refund's reversal of one < 0)


def allocate(amount_cents: int, open_invoices: list[OpenInvoice], preferred: list[str] = ()) -> tuple[
        list[tuple[str, int]], int]:
    """Spreads `amount_cents` over the invoices named first (in the order named), then the others in the
    order given (the caller passes them oldest due first). Answers the allocations and what is left
    over (an account credit)."""
    if amount_cents < 0:
        raise ValueError("an allocation is of a positive amount")
    by_id = {inv.invoice_id: inv for inv in open_invoices}
    order = [by_id[i] for i in dict.fromkeys(preferred) if i in by_id]
    order += [inv for inv in open_invoices if inv.invoice_id not in set(preferred)]
    left = amount_cents
    allocations = []
    for invoice in order:
        if left == 0:
            break
        take = min(left, invoice.balance_cents)
        if take > 0:
            allocations.append((invoice.invoice_id, take))
            left -= take
    return allocations, left


def after_allocation(open_invoices: list[OpenInvoice], allocations: list[tuple[str, int]]) -> tuple[
        list[OpenInvoice], list[str]]:
    """What `allocations` (made by `allocate` over `open_invoices`) leave open, in the order given, and the
    invoices they paid off, in the order they were paid."""
    taken: dict[str, int] = {}
    for invoice_id, amount in allocations:
        taken[invoice_id] = taken.get(invoice_id, 0) + amount
    still_open = [OpenInvoice(i.invoice_id, i.balance_cents - taken.get(i.invoice_id, 0)) for i in open_invoices
                  if i.balance_cents > taken.get(i.invoice_id, 0)]
    left = {i.invoice_id for i in still_open}
    return still_open, [i for i in taken if i not in left]


def unallocate_for_refund(refund_cents: int, unapplied_credit_cents: int, paid_by_payment: list[Paid]) -> list[
        tuple[str, int]]:
    """A refund first uses up the account credit (money never applied to an invoice); what remains
    re-opens the invoices that payment paid, the most recent first. Answers negative allocations."""
    remaining = max(0, refund_cents - max(0, unapplied_credit_cents))
    reversals = []
    for paid in reversed(paid_by_payment):
        if remaining == 0:
            break
        take = min(remaining, paid.amount_cents)
        if take > 0:
            reversals.append((paid.invoice_id, -take))
            remaining -= take
    return reversals


def net_paid(allocations: list[Paid]) -> list[Paid]:
    """What one payment's allocations (a refund's reversals among them, as negative amounts) still pay on each
    invoice: the invoices it pays something on, in the order it first paid each."""
    net: dict[str, int] = {}
    for paid in allocations:
        net[paid.invoice_id] = net.get(paid.invoice_id, 0) + paid.amount_cents
    return [Paid(invoice_id, amount) for invoice_id, amount in net.items() if amount > 0]


def refund_reversals(refund_cents: int, payment_credit_cents: int, allocations: list[Paid]) -> list[tuple[str, int]]:
    """What a refund of one payment un-pays: `payment_credit_cents` is that payment's own money on no invoice
    (not the whole account's credit), `allocations` all its allocations in the order made."""
    return unallocate_for_refund(refund_cents, payment_credit_cents, net_paid(allocations))


def payment_credit(paid_cents: int, allocated_cents: int, refunded_cents: int) -> int:
    """What of one payment is on no invoice and not refunded (0 at least)."""
    return max(0, paid_cents - allocated_cents - refunded_cents)


def account_credit(open_balances_cents: int, balance_cents: int) -> int:
    """The account's unapplied credit, money received but applied to no invoice: what is open on invoices minus
    what the ledger says is owed (0 at least)."""
    return max(0, open_balances_cents - balance_cents)


def apply_credit(total_cents: int, credits: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """How account credit pays a new invoice of `total_cents`: `credits` are (payment entry id, its money on no
    invoice), oldest first; answers (payment entry id, amount) for each part taken, oldest payment first, so each
    part is recorded against the payment it came from."""
    remaining = total_cents
    taken = []
    for entry_id, left in credits:
        if remaining == 0:
            break
        take = min(left, remaining)
        taken.append((entry_id, take))
        remaining -= take
    return taken


def invoice_balance(total_cents: int, paid_cents: int, adjusted_cents: int) -> int:
    """What an invoice still owes: its total less what payments (net of refunds) and adjustments allocated to it."""
    return total_cents - paid_cents - adjusted_cents


def invoice_status(total_cents: int, balance_cents: int) -> str:
    if balance_cents <= 0:
        return "paid"
    if balance_cents < total_cents:
        return "partially_paid"
    return "unpaid"
