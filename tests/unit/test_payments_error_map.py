"""Payments' domain errors answer through one table (services/payments/api/errors.py): every error is in it, each
answers the status, problem type and title it answered as a subclass of the HTTP problems, its detail, field
errors, members and headers reach the answer as they are (that domain/ imports no shared.errors is
tests/unit/test_domain_purity.py's)."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from services.payments.api.errors import ERROR_MAP
from services.payments.domain import errors as domain_errors
from services.payments.domain.cards import check_not_expired
from services.payments.domain.errors import PaymentsError, ProcessorDown, SettingsUnknown
from shared.config import BaseConfig
from shared.web import create_base_app
from tests.support.error_maps import check_error_map, raising

INVALID = (422, "validation-error", "Your request has invalid fields")
# What each answered before the domain errors stopped subclassing shared.errors (status, slug, title): pinned here,
# so that a change to the table is a change to this list too. The generic ones were raised as shared.errors'
# Unprocessable, Conflict and NotFound.
ANSWERS = {
    "OnlinePaymentsOff": (403, "online-payments-off", "Your practice does not take payments online"),
    "SettingsUnknown": (503, "settings-unavailable", "Your practice's settings cannot be confirmed right now"),
    "NothingToPay": (422, "nothing-to-pay", "There is nothing to pay"),
    "AmountOverBalance": (422, "amount-over-balance", "The amount is more than you owe"),
    "InvoiceNotOpen": (404, "not-found", "Not found"),
    "CustomAmountForSeveralInvoices": INVALID,
    "WrongCurrency": INVALID,
    "PaymentMethodNotFound": (404, "payment-method-not-found", "Card not found"),
    "NoCardOnFile": INVALID,
    "CardUnreadable": INVALID,
    "CardExpired": (422, "expired_card", "This card has expired"),
    "CardAlreadySaved": (409, "conflict", "Conflict"),
    "CardReentryRequired": INVALID,
    "ProcessorDown": (503, "processor-unavailable", "The card processor is not answering"),
    "IdempotencyConflict": (409, "idempotency-key-reused", "This Idempotency-Key was used for a different request"),
    "RequestInProgress": (409, "request-in-progress", "A request with this Idempotency-Key is still being processed"),
    "PaymentNotFound": (404, "payment-not-found", "Payment not found"),
    "NoReceipt": (409, "conflict", "Conflict"),
    "NotRefundable": (409, "conflict", "Conflict"),
    "RefundTooLarge": (422, "refund-too-large", "The refund is more than what is left of the payment"),
}


def test_the_table_maps_each_domain_error_to_its_pinned_answer_and_nothing_else():
    check_error_map(domain_errors, PaymentsError, ERROR_MAP, ANSWERS)


@pytest.fixture
def app():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    app = create_base_app("unit", BaseConfig(service="unit", database_url="postgresql+psycopg://unused/unit"),
                          error_map=ERROR_MAP)
    app.add_url_rule("/expired", "expired",
                     lambda: check_not_expired(1, 2020, date(2026, 12, 2), field="processor_token"))
    app.add_url_rule("/settings", "settings",
                     raising(lambda: SettingsUnknown("Try again in a moment.", headers={"Retry-After": "5"})))
    app.add_url_rule("/processor", "processor", raising(lambda: ProcessorDown("Nothing was charged.")))
    yield app
    root.setLevel(level)
    root.handlers[:] = handlers


def test_a_mapped_error_answers_its_detail_field_errors_and_members(app):
    answer = app.test_client().get("/expired")
    assert answer.status_code == 422
    body = answer.get_json()
    assert {k: body[k] for k in ("type", "title", "status", "detail", "errors", "failure_code")} == {
        "type": "/problems/expired_card", "title": "This card has expired", "status": 422,
        "detail": "This card has expired; use another card.",
        "errors": {"processor_token": ["The card has expired."]}, "failure_code": "expired_card"}


def test_headers_are_the_errors_own_no_more(app):
    """SettingsUnknown sends Retry-After (as ServiceUnavailable did); ProcessorDown, a 503 too, never did."""
    client = app.test_client()
    settings, processor = client.get("/settings"), client.get("/processor")
    assert (settings.status_code, settings.headers.get("Retry-After")) == (503, "5")
    assert (processor.status_code, processor.headers.get("Retry-After")) == (503, None)
    assert processor.get_json()["detail"] == "Nothing was charged."


def test_a_mapped_error_is_an_answer_not_an_error_in_the_log(app, caplog):
    with caplog.at_level(logging.DEBUG):
        assert app.test_client().get("/processor").status_code == 503
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
