"""The web layer's small rules: where a sign-in may send the browser, amounts typed in dollars, what My Information
sends, money shown from cents, and the API's field errors as the forms name their fields."""

from __future__ import annotations

import json

import pytest
from werkzeug.datastructures import MultiDict

from gateway.web.api import Answer
from gateway.web.console.common import cents as console_cents
from gateway.web.core import local_path
from gateway.web.filters import dollars, money
from gateway.web.portal.information import changes, flat
from gateway.web.portal.pay import _cents


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "javascript:alert(1)", "evil",
                                    "/\\evil.example", "", None, "http:/x"])
def test_after_sign_in_only_a_path_of_this_site(target):
    assert local_path(target, "/dashboard") == "/dashboard"


@pytest.mark.parametrize("target", ["/account", "/account/payments?from=2026-01-01", "/staff/clients/abc"])
def test_a_path_of_this_site_is_kept(target):
    assert local_path(target, "/dashboard") == target


@pytest.mark.parametrize("text,cents", [("25", 2500), ("25.5", 2550), ("25.05", 2505), ("$1,234.56", 123456),
                                        (".5", 50), ("0.01", 1), (" 7.00 ", 700), ("12.", 1200)])
def test_dollars_typed_become_exact_cents(text, cents):
    assert _cents(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "1.234", "1e3", "-5", "1.2.3", "12,34.5x", "nan", "inf", ".", "²",
                                  "1.²", "١٢", " . "])
def test_what_is_not_an_amount_is_none(text):
    assert _cents(text) is None
    assert console_cents(text) is None  # the console's amounts are read the same way


def test_my_information_sends_only_what_changed_and_empties_as_null():
    profile = {"phone": "+1 410 555 0100", "email": "a@example.com", "address": {"city": "Towson", "line1": None},
               "emergency_contact": None, "insurance": {}}
    current = flat(profile)
    form = MultiDict({"phone": "+1 410 555 0100", "email": "", "address.city": "Baltimore",
                      "address.line1": "", "insurance.carrier": "Aetna", "first_name": "Mallory"})
    assert changes(form, current) == {"email": None, "address": {"city": "Baltimore"},
                                      "insurance": {"carrier": "Aetna"}}


def test_money_from_cents():
    assert money(123456, "USD") == "$1,234.56"
    assert money(-1500, "USD") == "-$15.00"
    assert money(5, "EUR") == "€0.05"
    assert money(100, "CHF") == "1.00 CHF"
    assert money(None) == "—"
    assert dollars(1205) == "12.05"


def test_the_apis_field_errors_flatten_to_the_forms_names():
    body = {"status": 422, "errors": {"phone": ["Not a phone number."],
                                      "address": {"postal_code": ["Too long."]},
                                      "lines": {"0": {"units": ["Must be at least 1."]}}}}
    answer = Answer(422, {}, json.dumps(body).encode())
    assert answer.field_errors == {"phone": ["Not a phone number."], "address.postal_code": ["Too long."],
                                   "lines.0.units": ["Must be at least 1."]}
    assert Answer(503, {}, b"not json").field_errors == {} and Answer(503, {}, b"").unavailable
