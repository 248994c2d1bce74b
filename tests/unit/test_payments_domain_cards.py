"""Which card a payment charges, and when a card may not be used (services/payments/domain/cards.py)."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from services.payments.domain.cards import (
    ChargeMethod,
    LegacyCard,
    card_expired,
    card_to_charge,
    check_not_expired,
    conversion_refusal,
)
from services.payments.domain.errors import (
    CardExpired,
    CardReentryRequired,
    NoCardOnFile,
    PaymentMethodNotFound,
    ProcessorDown,
)
from services.payments.processor import CardDetails

TODAY = date(2026, 12, 2)
NEW = CardDetails(brand="visa", last4="4242", exp_month=12, exp_year=2026, cardholder_name="Avery Stone",
                  fingerprint="fp")


def saved(**overrides):
    row = {"card_id": "m1", "processor_payment_method_id": "pm_1", "processor_customer_id": "cus_1", "brand": "visa",
           "last4": "1111", "exp_month": 1, "exp_year": 2027}
    return SimpleNamespace(**{**row, **overrides})


NO_CARD = saved(card_id=None, processor_payment_method_id=None, processor_customer_id=None, brand=None, last4=None,
                exp_month=None, exp_year=None)


@pytest.mark.parametrize(("month", "year", "expired"), [(12, 2026, False), (11, 2026, True), (1, 2027, False),
                                                        (12, 2025, True)])
def test_a_card_is_good_through_its_expiry_month(month, year, expired):
    assert card_expired(month, year, TODAY) is expired


def test_an_expired_card_is_refused_on_the_field_that_chose_it():
    with pytest.raises(CardExpired) as refused:
        check_not_expired(11, 2026, TODAY, field="payment_method_id")
    assert str(refused.value) == "This card has expired; use another card."
    assert refused.value.errors == {"payment_method_id": ["The card has expired."]}
    assert refused.value.extra == {"failure_code": "expired_card"}


def test_a_new_card_is_charged_by_its_token():
    method = card_to_charge(token="tok_1", details=NEW, chosen_id=None, saved=NO_CARD, today=TODAY)
    assert method == ChargeMethod(id=None, token="tok_1", payment_method=None, customer=None, brand="visa",
                                  last4="4242")


def test_a_new_expired_card_is_refused_on_processor_token():
    with pytest.raises(CardExpired) as refused:
        card_to_charge(token="tok_1", details=CardDetails(**{**NEW.__dict__, "exp_month": 11}), chosen_id=None,
                       saved=NO_CARD, today=TODAY)
    assert refused.value.errors == {"processor_token": ["The card has expired."]}


def test_a_saved_card_is_charged_by_its_payment_method_with_its_customer():
    method = card_to_charge(token=None, details=None, chosen_id="m1", saved=saved(), today=TODAY)
    assert method == ChargeMethod(id="m1", token=None, payment_method="pm_1", customer="cus_1", brand="visa",
                                  last4="1111")


def test_a_chosen_card_not_found_is_a_404_and_no_default_card_a_422():
    with pytest.raises(PaymentMethodNotFound):
        card_to_charge(token=None, details=None, chosen_id="m9", saved=NO_CARD, today=TODAY)
    with pytest.raises(NoCardOnFile) as none:
        card_to_charge(token=None, details=None, chosen_id=None, saved=NO_CARD, today=TODAY)
    assert none.value.extra == {"failure_code": "no_payment_method"}


def test_a_legacy_card_is_converted_before_anything_else_is_decided():
    with pytest.raises(LegacyCard) as legacy:  # expired too: decided once it is converted
        card_to_charge(token=None, details=None, chosen_id="m1",
                       saved=saved(processor_payment_method_id=None, exp_year=2020), today=TODAY)
    assert legacy.value.card_id == "m1"


def test_an_expired_saved_card_is_refused_on_payment_method_id():
    with pytest.raises(CardExpired) as refused:
        card_to_charge(token=None, details=None, chosen_id="m1", saved=saved(exp_year=2026, exp_month=11),
                       today=TODAY)
    assert refused.value.errors == {"payment_method_id": ["The card has expired."]}


def test_what_a_conversion_just_before_the_charge_means():
    assert conversion_refusal("converted", chosen=True) is None
    assert conversion_refusal("skipped", chosen=True) is None
    assert isinstance(conversion_refusal("unknown", chosen=False), ProcessorDown)
    reentry = conversion_refusal("reentry_required", chosen=True)
    assert isinstance(reentry, CardReentryRequired) and reentry.extra == {"failure_code": "reentry_required"}
    # AutoPay's default was refused: the reserve decides again (another default, or none)
    assert conversion_refusal("reentry_required", chosen=False) is None
