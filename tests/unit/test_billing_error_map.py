"""Billing's domain errors answer through one table (services/billing/api/errors.py): every error is in it, each
answers the status, problem type and title it answered as a subclass of the HTTP problems, and as each use case
raises it, its answer is byte for byte the one that subclass gave (status, headers, body). That domain/ imports no
shared.errors is tests/unit/test_domain_purity.py's."""

from __future__ import annotations

import json
import logging

import pytest

from services.billing.api.errors import ERROR_MAP
from services.billing.domain import errors as domain_errors
from services.billing.domain.errors import BillingError, EventForUnknownClient
from shared import errors as http
from shared.config import BaseConfig
from shared.web import create_base_app
from tests.support.error_maps import check_error_map

INVALID = (422, "validation-error", "Your request has invalid fields")
# What each answered before the domain errors stopped subclassing shared.errors (status, slug, title): pinned here,
# so that a change to the table is a change to this list too. The INVALID ones were raised as shared.errors'
# Unprocessable from service.py.
ANSWERS = {
    "UnknownClient": (404, "unknown-client", "No billing account for this client"),
    "InvoiceNotFound": (404, "invoice-not-found", "Invoice not found"),
    "DocumentNotFound": (404, "document-not-found", "Billing document not found"),
    "ServiceCodeTaken": (409, "service-code-taken", "This service code already exists"),
    "InvoiceClientUnknown": INVALID,
    "NotACompletedSession": INVALID,
    "AlreadyInvoiced": (409, "already-invoiced", "This session already has an invoice"),
    "UnknownServiceCodes": INVALID,
    "NotTheClientsInvoice": INVALID,
    "AdjustmentTooLarge": (422, "adjustment-too-large", "The adjustment is larger than what is owed"),
    "BillingDocumentsOff": (403, "billing-documents-off", "Your practice does not share billing documents online"),
    "AutopayOff": (409, "autopay-off", "AutoPay is switched off for the practice"),
    "SettingsUnknown": (503, "settings-unavailable", "The practice's settings cannot be confirmed right now"),
}
# Each raise of a domain error in services/billing (its detail, errors and headers as raised there).
RAISED = [
    ("UnknownClient", "No billing account for this client.", {}),
    ("InvoiceNotFound", "No invoice with this id.", {}),
    ("DocumentNotFound", "No service code with this id.", {}),
    ("DocumentNotFound", "No billing document with this id.", {}),
    ("ServiceCodeTaken", "Service code 90837 already exists.", {}),
    ("InvoiceClientUnknown", "No client with this id.", {"errors": {"client_id": ["Unknown client."]}}),
    ("NotACompletedSession", "No completed session with this id for this client.",
     {"errors": {"appointment_id": ["Not a completed session of this client."]}}),
    ("AlreadyInvoiced", "This session already has an invoice.", {}),
    ("UnknownServiceCodes", "Some lines name unknown service codes.",
     {"errors": {"lines": {"1": {"service_code": ["Unknown service code nope."]}}}}),
    ("NotTheClientsInvoice", "Not an invoice of this client.", {"errors": {"invoice_id": ["Unknown invoice."]}}),
    ("AdjustmentTooLarge", "The adjustment is larger than the invoice's balance.", {}),
    ("AdjustmentTooLarge", "The adjustment is larger than what the client owes on invoices.", {}),
    ("BillingDocumentsOff", "Ask your practice for copies of your billing documents.", {}),
    ("AutopayOff", "Turn AutoPay on in the practice settings first.", {}),
    ("SettingsUnknown", "The practice's settings cannot be confirmed right now; try again in a moment.",
     {"headers": {"Retry-After": "5"}}),
]
GENERIC = {403: http.Forbidden, 404: http.NotFound, 409: http.Conflict, 422: http.Unprocessable,
           503: http.ServiceUnavailable}


def test_the_table_maps_each_domain_error_to_its_pinned_answer_and_nothing_else():
    check_error_map(domain_errors, BillingError, ERROR_MAP, ANSWERS)


def test_an_event_for_an_unknown_client_is_no_answer_of_the_api():
    """Raised by event handlers for the consumer to retry and then dead-letter: in no table, not a BillingError."""
    assert not issubclass(EventForUnknownClient, BillingError)
    assert not any(issubclass(EventForUnknownClient, cls) for cls in ERROR_MAP)


def old_error(name: str) -> type[http.ProblemError]:
    """The HTTP problem subclass the error was before: the generic one of its status, with its slug and title."""
    status, slug, title = ANSWERS[name]
    return type(name, (GENERIC[status],), {"slug": slug, "title": title})


@pytest.fixture
def app():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    app = create_base_app("unit", BaseConfig(service="unit", database_url="postgresql+psycopg://unused/unit"),
                          error_map=ERROR_MAP)

    def view(index: int, old: int):
        name, detail, kwargs = RAISED[index]
        raise (old_error(name) if old else getattr(domain_errors, name))(detail, **kwargs)

    app.add_url_rule("/raise/<int:index>/<int:old>", "raise", view)
    yield app
    root.setLevel(level)
    root.handlers[:] = handlers


def answer(client, index: int, old: int) -> tuple[int, list, bytes]:
    response = client.get(f"/raise/{index}/{old}", headers={"X-Request-ID": "req-1"})
    return response.status_code, sorted(response.headers.items()), response.get_data()


@pytest.mark.parametrize("index", range(len(RAISED)), ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(RAISED)])
def test_each_raise_answers_byte_for_byte_what_the_http_subclass_answered(app, index):
    client = app.test_client()
    new = answer(client, index, 0)
    assert new == answer(client, index, 1)
    name, detail, kwargs = RAISED[index]
    status, slug, title = ANSWERS[name]
    body = json.loads(new[2])
    assert (new[0], body.pop("type"), body.pop("title"), body.pop("status")) == (status, f"/problems/{slug}", title,
                                                                                 status)
    field_errors = {"errors": kwargs["errors"]} if "errors" in kwargs else {}
    assert body == {"detail": detail, "request_id": "req-1", **field_errors}
    assert set(kwargs.get("headers", {}).items()) <= set(new[1])


def test_every_raise_site_is_pinned():
    """RAISED names every domain error at least once, so a new one cannot go without its byte-for-byte check."""
    assert {name for name, _, _ in RAISED} == set(ANSWERS)


def test_a_mapped_error_is_an_answer_not_an_error_in_the_log(app, caplog):
    with caplog.at_level(logging.DEBUG):
        assert app.test_client().get("/raise/0/0").status_code == 404
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
