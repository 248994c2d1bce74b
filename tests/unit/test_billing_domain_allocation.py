"""The money rules (services/billing/domain/allocation.py): how a payment or credit is spread over open invoices,
what a refund un-pays, what is left over as credit, and what an invoice still owes."""

from __future__ import annotations

import pytest

from services.billing.domain.allocation import (
    OpenInvoice,
    Paid,
    account_credit,
    after_allocation,
    allocate,
    apply_credit,
    invoice_balance,
    invoice_status,
    net_paid,
    payment_credit,
    refund_reversals,
    unallocate_for_refund,
)

A, B, C = OpenInvoice("a", 10_000), OpenInvoice("b", 5_000), OpenInvoice("c", 2_500)


# --- a payment over open invoices ----------------------------------------------------------------------------

def test_a_payment_pays_the_oldest_due_first_and_the_rest_is_credit():
    assert allocate(12_000, [A, B, C]) == ([("a", 10_000), ("b", 2_000)], 0)
    assert allocate(20_000, [A, B, C]) == ([("a", 10_000), ("b", 5_000), ("c", 2_500)], 2_500)


def test_the_invoices_named_are_paid_first_in_the_order_named():
    assert allocate(8_000, [A, B, C], ["c", "b"]) == ([("c", 2_500), ("b", 5_000), ("a", 500)], 0)


def test_a_named_invoice_that_is_not_open_is_passed_over_and_a_name_twice_counts_once():
    assert allocate(3_000, [A, B], ["gone", "b", "b"]) == ([("b", 3_000)], 0)


def test_nothing_open_leaves_it_all_as_credit_and_nothing_paid_allocates_nothing():
    assert allocate(4_000, []) == ([], 4_000)
    assert allocate(0, [A, B]) == ([], 0)


def test_an_allocation_is_never_of_a_negative_amount():
    with pytest.raises(ValueError):
        allocate(-1, [A])


def test_after_an_allocation_what_stays_open_and_what_was_paid_off_in_the_order_paid():
    allocations, _ = allocate(8_000, [A, B, C], ["c", "b"])
    assert after_allocation([A, B, C], allocations) == ([OpenInvoice("a", 9_500)], ["c", "b"])


# --- a refund ------------------------------------------------------------------------------------------------

def test_a_refund_uses_up_the_payments_credit_first_then_reopens_the_latest_invoice_it_paid():
    paid = [Paid("a", 6_000), Paid("b", 3_000)]
    assert unallocate_for_refund(2_000, 2_000, paid) == []
    assert unallocate_for_refund(5_000, 1_000, paid) == [("b", -3_000), ("a", -1_000)]


def test_a_refund_reverses_no_more_than_the_payment_paid_and_a_negative_credit_counts_as_none():
    assert unallocate_for_refund(20_000, -500, [Paid("a", 6_000)]) == [("a", -6_000)]


def test_a_payments_net_per_invoice_counts_an_earlier_refunds_reversals():
    allocations = [Paid("a", 6_000), Paid("b", 3_000), Paid("c", 1_000), Paid("b", -3_000), Paid("a", -1_000)]
    assert net_paid(allocations) == [Paid("a", 5_000), Paid("c", 1_000)]


def test_a_second_refund_reopens_only_what_the_first_left_paid():
    """The first refund of 4,000 reversed all of b and 1,000 of a; the next reverses what is still paid: c, then a."""
    allocations = [Paid("a", 6_000), Paid("c", 1_000), Paid("b", 3_000), Paid("b", -3_000), Paid("a", -1_000)]
    assert refund_reversals(3_000, 0, allocations) == [("c", -1_000), ("a", -2_000)]
    assert refund_reversals(3_000, 2_500, allocations) == [("c", -500)]


def test_a_refund_of_a_payment_that_paid_no_invoice_reverses_nothing():
    assert refund_reversals(5_000, 5_000, []) == []


# --- credit --------------------------------------------------------------------------------------------------

def test_a_payments_credit_is_what_no_invoice_and_no_refund_took():
    assert payment_credit(10_000, 6_000, 1_000) == 3_000
    assert payment_credit(10_000, 6_000, 5_000) == 0  # never below nothing


def test_the_accounts_credit_is_what_is_open_on_invoices_beyond_the_balance():
    assert account_credit(15_000, 12_000) == 3_000  # 15,000 open, 12,000 owed: 3,000 received on no invoice
    assert account_credit(15_000, 15_000) == 0
    assert account_credit(15_000, 18_000) == 0  # owed more than on invoices (a charge not invoiced): no credit


def test_credit_pays_a_new_invoice_from_the_oldest_payment_first_each_part_from_its_payment():
    assert apply_credit(5_000, [("p1", 2_000), ("p2", 4_000), ("p3", 1_000)]) == [("p1", 2_000), ("p2", 3_000)]


def test_credit_short_of_the_invoice_is_all_used_and_no_credit_pays_nothing():
    assert apply_credit(10_000, [("p1", 2_000), ("p2", 4_000)]) == [("p1", 2_000), ("p2", 4_000)]
    assert apply_credit(10_000, []) == []
    assert apply_credit(0, [("p1", 2_000)]) == []


# --- an invoice's balance and status -------------------------------------------------------------------------

def test_an_invoice_owes_its_total_less_payments_and_adjustments():
    assert invoice_balance(15_000, 5_000, 2_000) == 8_000
    assert invoice_balance(15_000, 15_000, 0) == 0


@pytest.mark.parametrize(("total", "balance", "status"), [
    (15_000, 15_000, "unpaid"), (15_000, 1, "partially_paid"), (15_000, 0, "paid"), (15_000, -100, "paid"),
    (0, 0, "paid"),
])
def test_an_invoices_status_follows_from_what_it_still_owes(total, balance, status):
    assert invoice_status(total, balance) == status
