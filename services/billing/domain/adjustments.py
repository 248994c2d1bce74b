"""Write-offs and discounts: never more than is owed, and how they read on the ledger."""

from __future__ import annotations

from services.billing.domain.allocation import OpenInvoice
from services.billing.domain.errors import AdjustmentTooLarge

LABELS = {"write_off": "Write-off", "discount": "Discount"}
DESCRIPTION_LENGTH = 300  # ledger_entries.description


def adjusted_invoices(amount_cents: int, open_invoices: list[OpenInvoice],
                      invoice_id: str | None = None) -> list[OpenInvoice]:
    """The open invoices an adjustment of `amount_cents` is spread over: the one named (it must still owe at
    least that much), else all of them (together they must owe at least that much)."""
    if invoice_id:
        target = [i for i in open_invoices if i.invoice_id == invoice_id]
        if not target or amount_cents > target[0].balance_cents:
            raise AdjustmentTooLarge("The adjustment is larger than the invoice's balance.")
        return target
    if amount_cents > sum(i.balance_cents for i in open_invoices):
        raise AdjustmentTooLarge("The adjustment is larger than what the client owes on invoices.")
    return open_invoices


def adjustment_description(kind: str, reason: str) -> str:
    """The ledger line: "Write-off: <reason>", cut to what the column holds."""
    return f"{LABELS[kind]}: {reason}"[:DESCRIPTION_LENGTH]
