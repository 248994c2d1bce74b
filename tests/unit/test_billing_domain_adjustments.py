"""Write-offs and discounts (services/billing/domain/adjustments.py): never more than is owed, and their ledger line."""

from __future__ import annotations

import pytest

from services.billing.domain.adjustments import adjusted_invoices, adjustment_description
from services.billing.domain.allocation import OpenInvoice
from services.billing.domain.errors import AdjustmentTooLarge

OPEN = [OpenInvoice("a", 10_000), OpenInvoice("b", 5_000)]


def test_an_adjustment_of_one_invoice_up_to_its_balance_is_spread_over_it_alone():
    assert adjusted_invoices(5_000, OPEN, "b") == [OpenInvoice("b", 5_000)]


@pytest.mark.parametrize("invoice_id", ["b", "paid-already"])
def test_an_adjustment_of_one_invoice_beyond_its_balance_or_of_one_not_open_is_refused(invoice_id):
    with pytest.raises(AdjustmentTooLarge) as refused:
        adjusted_invoices(5_001 if invoice_id == "b" else 1, OPEN, invoice_id)
    assert str(refused.value) == "The adjustment is larger than the invoice's balance."


def test_an_adjustment_of_the_account_up_to_what_is_open_is_spread_over_every_open_invoice():
    assert adjusted_invoices(15_000, OPEN) == OPEN


def test_an_adjustment_of_the_account_beyond_what_is_open_is_refused():
    with pytest.raises(AdjustmentTooLarge) as refused:
        adjusted_invoices(15_001, OPEN)
    assert str(refused.value) == "The adjustment is larger than what the client owes on invoices."
    with pytest.raises(AdjustmentTooLarge):
        adjusted_invoices(1, [])


def test_the_ledger_line_names_the_kind_and_the_reason_cut_to_the_column():
    assert adjustment_description("write_off", "Hardship") == "Write-off: Hardship"
    assert adjustment_description("discount", "Sliding scale") == "Discount: Sliding scale"
    long = adjustment_description("discount", "x" * 400)
    assert len(long) == 300 and long.startswith("Discount: xxx")
