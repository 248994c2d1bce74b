"""The money rules: how a credit is spread over open invoices, and how a refund un-pays them.

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
    amount_cents: int  # the allocation this credit made (> 0)


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


def invoice_status(total_cents: int, balance_cents: int) -> str:
    if balance_cents <= 0:
        return "paid"
    if balance_cents < total_cents:
        return "partially_paid"
    return "unpaid"
