"""How a payment settles from the processor's answer, and its event (services/payments/domain/outcomes.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from services.payments.domain.outcomes import outcome_event, settlement
from services.payments.processor import ChargeResult, failure_message

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
PAYMENT = SimpleNamespace(id="p1", client_id="c1", amount_cents=1500, currency="USD", invoice_ids=["i1"],
                          brand="visa", last4="4242", source="portal")


def test_a_lost_answer_leaves_the_payment_processing_and_says_nothing_yet():
    values = settlement("processing", NOW)
    assert values == {"status": "processing"}
    assert outcome_event(PAYMENT, values) is None


def test_a_charge_that_went_through():
    values = settlement(ChargeResult(status="succeeded", charge_id="ch_1"), NOW)
    assert list(values) == ["settled_at", "processor_charge_id", "status"]  # the settle statement's shape
    assert values == {"settled_at": NOW, "processor_charge_id": "ch_1", "status": "succeeded"}
    assert outcome_event(PAYMENT, values) == ("payment.succeeded", {
        "payment_id": "p1", "client_id": "c1", "amount_cents": 1500, "currency": "USD", "invoice_ids": ["i1"],
        "processor_charge_id": "ch_1", "method": {"brand": "visa", "last4": "4242"}, "source": "portal"})


def test_a_decline_keeps_the_processors_words_or_gets_ours():
    declined = settlement(ChargeResult(status="failed", charge_id="ch_2", failure_code="card_declined",
                                       failure_message="Declined by the bank."), NOW)
    assert list(declined) == ["settled_at", "processor_charge_id", "status", "failure_code", "failure_message"]
    assert (declined["failure_code"], declined["failure_message"]) == ("card_declined", "Declined by the bank.")
    bare = settlement(ChargeResult(status="failed", charge_id=None), NOW)
    assert (bare["failure_code"], bare["failure_message"]) == ("processing_error", failure_message("processing_error"))
    assert outcome_event(PAYMENT, bare) == ("payment.failed", {
        "payment_id": "p1", "client_id": "c1", "amount_cents": 1500, "currency": "USD",
        "failure_code": "processing_error", "failure_message": failure_message("processing_error"),
        "source": "portal"})


def test_a_charge_the_processor_never_saw_failed_and_charged_nothing():
    values = settlement(None, NOW)
    assert values == {"settled_at": NOW, "processor_charge_id": None, "status": "failed",
                      "failure_code": "processor_unavailable",
                      "failure_message": failure_message("processor_unavailable")}
