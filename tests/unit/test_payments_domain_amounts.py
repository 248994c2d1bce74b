"""What a Pay Now request may charge (services/payments/domain/rules.py): the whole balance, chosen invoices, or a
custom amount, never more than is payable once the money already on its way is counted."""

from __future__ import annotations

import pytest

from services.payments.domain.errors import (
    AmountOverBalance,
    CustomAmountForSeveralInvoices,
    InvoiceNotOpen,
    NothingToPay,
    WrongCurrency,
)
from services.payments.domain.rules import (
    Exposure,
    amount_to_reserve,
    check_currency,
    exposure,
    invoice_payable,
    money,
    requested_amount,
)


def test_exposure_counts_unposted_and_in_flight_payments_and_ignores_failed_ones():
    seen = exposure(10_000, [([], 1_000, "succeeded"), (["i1"], 500, "pending"), ([], 250, "processing"),
                             ([], 4_000, "failed")])
    assert seen == Exposure(balance_cents=10_000, unposted_cents=1_000, in_flight_cents=750)
    assert seen.payable_cents == 8_250


def test_nothing_is_payable_below_zero():
    assert Exposure(balance_cents=100, unposted_cents=300, in_flight_cents=0).payable_cents == 0


def test_a_payment_on_its_way_holds_its_invoices_in_order_as_billing_will_allocate_it():
    open_invoices = {"a": 1_000, "b": 2_000, "c": 500}
    # 1,500 towards a then b: a is covered, b has 1,500 left; c, not named, keeps all of it
    assert invoice_payable(open_invoices, [(["a", "b"], 1_500)]) == {"b": 1_500, "c": 500}
    # an invoice named twice is held once; a hold larger than the invoices named leaves them at nothing
    assert invoice_payable(open_invoices, [(["c", "c"], 900)]) == {"a": 1_000, "b": 2_000}


def amount(payable: int = 10_000, **request):
    request.setdefault("amount_cents", None)
    request.setdefault("pay_balance", False)
    request.setdefault("invoice_ids", [])
    request.setdefault("open_invoices", {"a": 3_000, "b": 2_000})
    return requested_amount(exposure=Exposure(balance_cents=payable, unposted_cents=0, in_flight_cents=0),
                            **request)


def test_pay_balance_pays_what_is_payable():
    assert amount(7_000, pay_balance=True) == 7_000


def test_chosen_invoices_pay_what_they_still_owe():
    assert amount(invoice_ids=["a", "b", "a"]) == 5_000


def test_a_custom_amount_goes_towards_one_invoice_and_at_most_what_it_owes():
    assert amount(invoice_ids=["a"], amount_cents=1_200) == 1_200
    with pytest.raises(AmountOverBalance) as over:
        amount(invoice_ids=["a"], amount_cents=3_001)
    assert (str(over.value), over.value.extra) == ("This invoice needs at most 30.00.", {"payable_cents": 3_000})
    assert over.value.errors == {"amount_cents": ["At most 3000 (what the invoice owes)."]}
    with pytest.raises(CustomAmountForSeveralInvoices) as several:
        amount(invoice_ids=["a", "b"], amount_cents=100)
    assert several.value.errors == {"amount_cents": ["Only with a single invoice."]}


def test_an_invoice_that_is_not_open_is_named_in_the_refusal():
    with pytest.raises(InvoiceNotOpen) as missing:
        amount(invoice_ids=["a", "zzz"])
    assert missing.value.errors == {"invoice_ids": ["Not an open invoice: zzz"]}


def test_never_more_than_is_payable():
    assert amount(5_000, amount_cents=5_000) == 5_000
    with pytest.raises(AmountOverBalance) as over:
        amount(5_000, amount_cents=5_001)
    assert (str(over.value), over.value.extra) == ("You can pay at most 50.00 now.", {"payable_cents": 5_000})


def test_nothing_to_pay_says_why():
    with pytest.raises(NothingToPay, match="You have no balance to pay."):
        amount(0, pay_balance=True)
    with pytest.raises(NothingToPay, match="Enter an amount above zero."):
        amount(5_000, amount_cents=0)


def test_amount_to_reserve_reads_billings_invoices_and_the_payments_on_their_way():
    open_payments = [(["a"], 2_500, "pending"), ([], 1_000, "succeeded")]
    invoices = [{"invoice_id": "a", "balance_cents": "3000"}, {"invoice_id": "b", "balance_cents": 2_000}]
    # invoice a has 500 left once the pending payment towards it is counted
    assert amount_to_reserve({"invoice_ids": ["a"]}, balance_cents=5_000, open_invoices=invoices,
                             open_payments=open_payments) == 500
    # payable: 5,000 - 2,500 in flight - 1,000 unposted
    assert amount_to_reserve({"pay_balance": True}, balance_cents=5_000, open_invoices=None,
                             open_payments=open_payments) == 1_500


def test_payments_are_in_the_practices_currency():
    check_currency(None, "USD")
    check_currency("USD", "USD")
    with pytest.raises(WrongCurrency) as wrong:
        check_currency("EUR", "USD")
    assert (str(wrong.value), wrong.value.errors) == ("Payments are in USD.", {"currency": ["Must be USD."]})


@pytest.mark.parametrize(("cents", "text"), [(0, "0.00"), (5, "0.05"), (12345, "123.45"), (123456789, "1,234,567.89"),
                                             (-150, "-1.50")])
def test_money_without_floats(cents, text):
    assert money(cents) == text
