"""Bad input is a 4xx problem, never a 500, and writes nothing: NUL characters, lone surrogates and JSON nested
too deep, on the routes an attacker tried (issue 9, section 5), against each service on real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.conftest import assert_problem

pytestmark = pytest.mark.integration

NUL = "a\u0000b"
SURROGATE = "\ud800x"
BAD_STRINGS = pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def raw_json(api, method, path, text, **headers):
    """A body as raw text: json= would refuse a lone surrogate before it left the test."""
    return api.call(method, path, data=text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text,
                    headers={"Content-Type": "application/json", **headers})


@BAD_STRINGS
def test_a_bad_string_in_my_information_is_a_422_naming_the_field(registered_client, snapshot, bad):
    _, me, _ = registered_client()
    before = snapshot()
    body = assert_problem(me.patch("/api/v1/portal/me", json={"address": {"line1": bad}}), 422, field="address")
    assert "line1" in body["errors"]["address"]
    assert_problem(me.patch("/api/v1/portal/me", json={"preferred_name": bad}), 422, field="preferred_name")
    before.assert_unchanged()


@BAD_STRINGS
def test_a_bad_string_in_a_new_client_is_a_422_naming_the_field(staff, snapshot, bad):
    before = snapshot()
    body = {"first_name": bad, "last_name": "Rivera", "date_of_birth": "1988-02-29"}
    assert_problem(staff.post("/api/v1/staff/clients", json=body), 422, field="first_name")
    body = {"first_name": "Jo", "last_name": "Rivera", "date_of_birth": "1988-02-29",
            "insurance": {"member_id": bad}}
    assert_problem(staff.post("/api/v1/staff/clients", json=body), 422, field="insurance")
    before.assert_unchanged()


@BAD_STRINGS
def test_a_bad_string_in_a_search_or_a_path_is_a_4xx(staff, bclient, bad):
    quoted = "%00" if bad == NUL else "%ED%A0%80x"  # a lone surrogate as it would travel: invalid UTF-8
    response = staff.get(f"/api/v1/staff/clients?q={quoted}")
    assert_problem(response, 400)
    _, client = bclient()
    assert client.get(f"/api/v1/portal/invoices/{quoted}").status_code in (400, 404)


@BAD_STRINGS
def test_a_bad_string_in_an_invoice_is_a_422(bstaff, bclient, codes, bsnapshot, bad):
    client_id, _ = bclient()
    before = bsnapshot()
    body = {"client_id": client_id, "note": bad, "lines": [{"service_code": "90834", "units": 1}]}
    assert_problem(bstaff.post("/api/v1/staff/invoices", json=body), 422, field="note")
    body = {"client_id": bad, "lines": [{"service_code": "90834", "units": 1}]}
    assert_problem(bstaff.post("/api/v1/staff/invoices", json=body), 422, field="client_id")
    body = {"client_id": client_id, "lines": [{"service_code": bad, "units": 1}]}
    assert_problem(bstaff.post("/api/v1/staff/invoices", json=body), 422, field="lines")
    before.assert_unchanged()


@BAD_STRINGS
def test_a_bad_payment_method_id_is_a_422(payer, psnapshot, bad):
    _, me, _ = payer()
    before = psnapshot()
    response = me.post("/api/v1/portal/payments", json={"pay_balance": True, "payment_method_id": bad},
                       headers={"Idempotency-Key": uuid.uuid4().hex})
    assert_problem(response, 422, field="payment_method_id")
    before.assert_unchanged()


def test_a_lone_surrogate_sent_as_a_json_escape_is_a_422(staff, snapshot):
    before = snapshot()
    text = '{"first_name": "\\ud800x", "last_name": "Rivera", "date_of_birth": "1988-02-29"}'
    assert_problem(raw_json(staff, "POST", "/api/v1/staff/clients", text), 422, field="first_name")
    before.assert_unchanged()


def test_json_nested_too_deep_is_a_400(api, payer, snapshot, psnapshot):
    before, pbefore = snapshot(), psnapshot()
    assert_problem(raw_json(api, "POST", "/api/v1/auth/password-reset", '{"email": ' + deep(1000) + "}"), 400)
    _, me = payer()[:2]
    assert_problem(raw_json(me, "POST", "/api/v1/portal/payments", '{"note": ' + deep(1000) + "}",
                            **{"Idempotency-Key": uuid.uuid4().hex}), 400)
    assert_problem(raw_json(me, "POST", "/api/v1/portal/payments", deep(100_000),
                            **{"Idempotency-Key": uuid.uuid4().hex}), 400)
    before.assert_unchanged()
    pbefore.assert_unchanged()


def test_the_sandbox_refuses_bad_strings_and_deep_json(tmp_path):
    from flask.testing import FlaskClient

    from services.payments.sandbox.app import create_app
    from services.payments.sandbox.config import SandboxConfig

    app = create_app(SandboxConfig(api_key="sk_test_bad_input", database_path=str(tmp_path / "s.sqlite3"),
                                   environment="test", testing=True))
    client: FlaskClient = app.test_client()
    card = {"card_number": "4242424242424242", "exp_month": 12, "exp_year": 2099, "cvc": "123",
            "cardholder_name": "Avery Stone"}
    for bad in (NUL, SURROGATE):
        response = client.post("/v1/tokens", json={**card, "cardholder_name": bad})
        assert_problem(response, 422, field="cardholder_name")
    response = client.post("/v1/tokens", data='{"cvc": ' + deep(1000) + "}", content_type="application/json")
    assert_problem(response, 400)


def test_a_date_without_a_next_day_or_a_forged_cursor_is_a_422(bclient, payer):
    import base64

    _, me = bclient()
    assert_problem(me.get("/api/v1/portal/account/history?to=9999-12-31"), 422, field="to")
    _, payer_api, _ = payer()
    assert_problem(payer_api.get("/api/v1/portal/payments?from=0001-01-01&to=9999-12-31"), 422, field="to")
    for forged in (b'["2026-01-01T00:00:00+00:00", 100000000000000000000000000000]',
                   b'["2026-01-01T00:00:00+00:00", Infinity]'):
        cursor = base64.urlsafe_b64encode(forged).decode()
        assert_problem(me.get("/api/v1/portal/account/history", query_string={"cursor": cursor}), 422, field="cursor")
    cursor = base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00", "a\\u0000"]').decode()
    assert_problem(me.get("/api/v1/portal/invoices", query_string={"cursor": cursor}), 422, field="cursor")


@pytest.mark.parametrize("raw", ["%00", "a%00b", "%FF", "%ED%A0%80x", "%C3"])
def test_a_bad_path_through_a_real_server_is_a_400(sandbox, raw):
    """What gunicorn hands over (werkzeug's test client would turn %FF into U+FFFD first)."""
    import requests

    for url in (f"{sandbox[0]}/v1/charges/{raw}", f"{sandbox[0]}/v1/charges?reference={raw}"):
        response = requests.get(url, headers={"Authorization": "Bearer sk_test_itest"}, timeout=5)
        assert response.status_code == 400, (url, response.status_code, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"
