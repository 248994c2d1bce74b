"""The sandbox card processor through Flask's test client, and HttpProcessor's mapping of its answers.

Card rules (Luhn, brands, expiry, CVC), every test card of API.md, one charge and one
refund per reference, refunds capped by the charge, the API key, CORS for browsers, and
no card number or CVC in logs or in what the sandbox keeps. The HttpProcessor tests run
the adapter in process (a requests transport that calls the Flask app) or against canned
transport failures, to pin which failure means "nothing happened" and which "unknown".
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from services.payments.processor import (
    FAILURE_CODES,
    FAILURE_MESSAGES,
    CardTokenInvalid,
    ChargeResult,
    HttpProcessor,
    PaymentMethodNotOwned,
    ProcessorRejected,
    ProcessorTimeout,
    ProcessorUnavailable,
    ReferenceConflict,
    failure_message,
)
from services.payments.sandbox import cards
from services.payments.sandbox.app import ProductionRefused, create_app
from services.payments.sandbox.config import SandboxConfig
from shared.config import ConfigError
from tests.support import random_refs
from tests.support.sandbox import sandbox_app

API_KEY = "sk_test_unit"
SERVER = {"Authorization": f"Bearer {API_KEY}"}
NEXT_YEAR = datetime.now(UTC).year + 1

SUCCESS_CARDS = ["4242424242424242", "5555555555554444"]
TEST_CARDS = {  # number -> (status, failure_code) of a charge, as in API.md
    "4242424242424242": ("succeeded", None),
    "5555555555554444": ("succeeded", None),
    "4000000000000002": ("failed", "card_declined"),
    "4000000000009995": ("failed", "insufficient_funds"),
    "4000000000000069": ("failed", "expired_card"),
    "4000000000000127": ("failed", "incorrect_cvc"),
    "4000000000000119": ("failed", "processing_error"),
    "4000000000003220": ("succeeded", None),  # slow: recorded, answered late
}


def with_check_digit(partial: str) -> str:
    """Append the Luhn check digit: builds valid numbers for any prefix."""
    for digit in "0123456789":
        if cards.luhn_valid(partial + digit):
            return partial + digit
    raise AssertionError("unreachable")


def ref(prefix: str = "pay") -> str:
    return f"{prefix}_{random_refs.suffix()}"


@pytest.fixture(autouse=True)
def _restore_root_logger():
    """create_app installs the JSON handler on the root logger; leave it as we found it."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_ENV", raising=False)

    return lambda **overrides: sandbox_app(tmp_path, API_KEY, **overrides)


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def card_body(number: str = "4242424242424242", **overrides) -> dict:
    digits = "".join(c for c in number if c.isdigit())
    return {"card_number": number, "exp_month": 12, "exp_year": NEXT_YEAR,
            "cvc": "1234" if digits and cards.brand_of(digits) == "amex" else "123",
            "cardholder_name": "Jordan Rivera", "postal_code": "94110", **overrides}


def tokenize(client, number: str = "4242424242424242", **overrides):
    return client.post("/v1/tokens", json=card_body(number, **overrides))


def token_of(client, number: str = "4242424242424242") -> str:
    response = tokenize(client, number)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def charge(client, token: str, *, amount: int = 5000, reference: str | None = None, currency: str = "usd",
           headers=SERVER):
    return client.post("/v1/charges", headers=headers, json={
        "token": token, "amount_cents": amount, "currency": currency, "reference": reference or ref(),
        "description": "Invoice INV-1001"})


def refund(client, charge_id: str, amount: int, reference: str | None = None):
    return client.post("/v1/refunds", headers=SERVER, json={
        "charge_id": charge_id, "amount_cents": amount, "reference": reference or ref("rf")})


def card_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_json())
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["type"].startswith("/problems/") and body["detail"]
    assert body["error"]["code"] == code and body["error"]["message"]
    return body


# --- card rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("number", [*TEST_CARDS, "378282246310005", "6011111111111117", "2223003122003222"])
def test_the_luhn_check_accepts_the_test_cards(number):
    assert cards.luhn_valid(number)


@pytest.mark.parametrize("number", ["4242424242424241", "5555555555554445", "4000000000000001", "1234567812345678"])
def test_the_luhn_check_refuses_a_mistyped_number(number):
    assert not cards.luhn_valid(number)


@pytest.mark.parametrize(("number", "brand"), [
    ("4242424242424242", "visa"),
    (with_check_digit("422222222222"), "visa"),  # 13 digits
    ("5555555555554444", "mastercard"),
    (with_check_digit("510510510510510"), "mastercard"),
    ("2223003122003222", "mastercard"),
    (with_check_digit("272099999999999"), "mastercard"),
    ("378282246310005", "amex"),
    (with_check_digit("34000000000000"), "amex"),
    ("6011111111111117", "discover"),
    (with_check_digit("650000000000000"), "discover"),
    (with_check_digit("644000000000000"), "discover"),
    (with_check_digit("649000000000000"), "discover"),
    (with_check_digit("360000000000000"), "unknown"),
])
def test_tokenization_detects_the_brand(client, number, brand):
    response = tokenize(client, number)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["brand"] == brand
    assert body["last4"] == number[-4:]
    assert body["token"].startswith("tok_")
    assert set(body) == {"token", "brand", "last4", "exp_month", "exp_year"}


@pytest.mark.parametrize("prefix", ["2220", "2721", "56", "50", "643", "6010"])
def test_prefixes_just_outside_a_brand_range_are_not_that_brand(prefix):
    assert cards.brand_of(with_check_digit(prefix.ljust(15, "0"))) in {"unknown"}


@pytest.mark.parametrize("typed", ["4242 4242 4242 4242", "4242-4242-4242-4242", " 4242 4242-4242 4242 "])
def test_spaces_and_dashes_in_the_number_are_accepted(client, typed):
    response = tokenize(client, typed)
    assert response.status_code == 201
    assert response.get_json()["last4"] == "4242"


@pytest.mark.parametrize("number", [
    "4242424242424241",  # Luhn
    "4242 4242 4242 424X",  # not digits
    "4242.4242.4242.4242",
    "",
    with_check_digit("42424242424242"),  # a Luhn-valid visa of 15 digits
    with_check_digit("378282246310000"),  # a Luhn-valid amex of 16 digits
    with_check_digit("55555555555544"),  # a Luhn-valid mastercard of 15 digits
])
def test_a_wrong_number_is_refused_as_incorrect_number(client, number):
    card_error(tokenize(client, number), 402, "incorrect_number")


def test_a_past_expiry_is_refused_as_expired_card(client):
    card_error(tokenize(client, exp_year=2020, exp_month=1), 402, "expired_card")
    last_month = datetime.now(UTC).replace(day=1)
    year, month = (last_month.year - 1, 12) if last_month.month == 1 else (last_month.year, last_month.month - 1)
    card_error(tokenize(client, exp_year=year, exp_month=month), 402, "expired_card")


def test_a_card_is_good_through_its_expiry_month(client):
    now = datetime.now(UTC)
    response = tokenize(client, exp_year=now.year, exp_month=now.month)
    assert response.status_code == 201
    assert cards.is_expired(3, 2026, now=datetime(2026, 4, 1, tzinfo=UTC))
    assert not cards.is_expired(3, 2026, now=datetime(2026, 3, 31, 23, 59, tzinfo=UTC))


def test_a_two_digit_year_and_string_month_as_browsers_send_them_are_understood(client):
    response = tokenize(client, exp_year=str(NEXT_YEAR % 100), exp_month="04")
    assert response.status_code == 201, response.get_json()
    assert (response.get_json()["exp_month"], response.get_json()["exp_year"]) == (4, NEXT_YEAR)


@pytest.mark.parametrize(("number", "cvc"), [
    ("4242424242424242", "12"),
    ("4242424242424242", "1234"),
    ("4242424242424242", "12a"),
    ("4242424242424242", ""),
    ("378282246310005", "123"),  # amex wants four digits
    ("378282246310005", "12345"),
])
def test_a_cvc_of_the_wrong_length_is_refused_as_incorrect_cvc(client, number, cvc):
    card_error(tokenize(client, number, cvc=cvc), 402, "incorrect_cvc")


def test_an_amex_takes_a_four_digit_cvc(client):
    assert tokenize(client, "378282246310005", cvc="1234").status_code == 201


@pytest.mark.parametrize("change", [
    {"exp_month": 13}, {"exp_month": 0}, {"exp_month": True}, {"exp_month": 4.5}, {"exp_year": 1999},
    {"card_number": 4242424242424242}, {"cardholder_name": ""}, {"surprise": "field"},
])
def test_malformed_fields_are_a_422_problem(client, change):
    response = client.post("/v1/tokens", json={**card_body(), **change})
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"]


@pytest.mark.parametrize("missing", ["card_number", "exp_month", "exp_year", "cvc", "cardholder_name"])
def test_required_card_fields(client, missing):
    body = card_body()
    del body[missing]
    response = client.post("/v1/tokens", json=body)
    assert response.status_code == 422
    assert missing in response.get_json()["errors"]


def test_the_server_reads_the_card_behind_a_token_with_a_stable_fingerprint(client):
    first, second = token_of(client), token_of(client, "4242 4242 4242 4242")
    other = token_of(client, "5555555555554444")
    details = client.get(f"/v1/tokens/{first}", headers=SERVER).get_json()
    assert details == {"token": first, "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": NEXT_YEAR,
                       "cardholder_name": "Jordan Rivera", "fingerprint": details["fingerprint"],
                       "created": details["created"], "used": False}
    again = client.get(f"/v1/tokens/{second}", headers=SERVER).get_json()
    assert again["fingerprint"] == details["fingerprint"]
    assert client.get(f"/v1/tokens/{other}", headers=SERVER).get_json()["fingerprint"] != details["fingerprint"]
    card_error(client.get("/v1/tokens/tok_nope", headers=SERVER), 404, "resource_missing")


# --- charges --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("number", "expected"), TEST_CARDS.items())
def test_every_test_card_charges_as_api_md_says(client, number, expected):
    reference = ref()
    response = charge(client, token_of(client, number), amount=12345, reference=reference)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["status"], body["failure_code"]) == expected
    assert body["id"].startswith("ch_")
    assert (body["amount_cents"], body["currency"], body["reference"]) == (12345, "USD", reference)
    assert body["card"] == {"brand": cards.brand_of(number), "last4": number[-4:]}
    assert bool(body["failure_message"]) == (expected[0] == "failed")
    found = client.get("/v1/charges", query_string={"reference": reference}, headers=SERVER)
    assert found.status_code == 200 and found.get_json()["id"] == body["id"]


class HeldAnswer:
    """Stands in for the `time` module of the sandbox's API: the slow card's late answer (its time.sleep) waits
    here until the test lets it go, and says how long it was asked to wait. The delay itself is what a slow
    processor does; what the tests check is when it happens (after the charge is recorded) and for whom."""

    def __init__(self):
        self.asked: list[float] = []
        self.holding = threading.Event()
        self.released = threading.Event()

    def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.holding.set()
        assert self.released.wait(30), "the test never let the answer go"  # a guard against a hang, not a limit

    def __getattr__(self, name: str):
        return getattr(time, name)


def test_the_slow_card_records_the_charge_before_answering_late(make_app, monkeypatch):
    held = HeldAnswer()
    monkeypatch.setattr("services.payments.sandbox.api.time", held)
    client = make_app(slow_seconds=7).test_client()
    token, reference = token_of(client, "4000000000003220"), ref()
    answered = {}
    caller = threading.Thread(target=lambda: answered.update(response=charge(client, token, reference=reference)))
    caller.start()
    try:
        assert held.holding.wait(30), "the slow card was answered without its delay"
        # While its answer is held back, the charge is there for a look-up: recorded first, answered late.
        found = client.get("/v1/charges", query_string={"reference": reference}, headers=SERVER)
        assert found.status_code == 200 and found.get_json()["status"] == "succeeded"
        assert "response" not in answered
        assert held.asked == [7]  # SANDBOX_SLOW_SECONDS
    finally:
        held.released.set()
        caller.join(30)
    assert answered["response"].status_code == 201
    assert answered["response"].get_json()["id"] == found.get_json()["id"]
    # A repeat with the same reference is the first result, at once: it is not held.
    again = charge(client, token, reference=reference)
    assert again.status_code == 200 and again.get_json()["id"] == found.get_json()["id"]
    assert held.asked == [7]


def test_the_slow_delay_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SANDBOX_SLOW_SECONDS", "2")
    assert SandboxConfig().slow_seconds == 2
    monkeypatch.delenv("SANDBOX_SLOW_SECONDS")
    assert SandboxConfig().slow_seconds == 30


def test_one_reference_is_charged_once_and_a_repeat_answers_the_first_result(app, client):
    token, reference = token_of(client), ref()
    first = charge(client, token, reference=reference)
    second = charge(client, token, reference=reference)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.get_json() == first.get_json()
    rows = [line for line in app.extensions["sandbox_store"].dump() if line.startswith('INSERT INTO "charges"')]
    assert len(rows) == 1


def test_a_declined_charge_is_also_final_for_its_reference(client):
    token, reference = token_of(client, "4000000000000002"), ref()
    first = charge(client, token, reference=reference).get_json()
    again = charge(client, token, reference=reference).get_json()
    assert again["id"] == first["id"] and again["failure_code"] == "card_declined"


@pytest.mark.parametrize("change", [{"amount": 5001}, {"currency": "eur"}, {"token": "other"}])
def test_the_same_reference_with_other_parameters_is_a_409(client, change):
    token, reference = token_of(client), ref()
    first = charge(client, token, reference=reference).get_json()
    if change.get("token") == "other":
        change = {"token": token_of(client, "5555555555554444")}
    args = {"token": token, "amount": 5000, "currency": "usd", **change}
    response = charge(client, args.pop("token"), reference=reference, **args)
    card_error(response, 409, "idempotency_conflict")
    found = client.get("/v1/charges", query_string={"reference": reference}, headers=SERVER).get_json()
    assert found["id"] == first["id"] and found["amount_cents"] == 5000


def test_concurrent_charges_under_one_reference_make_one_charge(app, client):
    token, reference = token_of(client), ref()
    answers = []

    def call():
        answers.append(charge(app.test_client(), token, reference=reference))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201]
    assert len({r.get_json()["id"] for r in answers}) == 1


def test_an_unknown_token_is_a_404_and_records_nothing(client):
    reference = ref()
    card_error(charge(client, "tok_unknown", reference=reference), 404, "resource_missing")
    card_error(client.get("/v1/charges", query_string={"reference": reference}, headers=SERVER), 404,
               "resource_missing")


@pytest.mark.parametrize("change", [{"amount_cents": 0}, {"amount_cents": 10.5}, {"amount_cents": "100"},
                                    {"amount_cents": True}, {"currency": "dollars"}, {"reference": "bad ref"}])
def test_malformed_charges_are_a_422(client, change):
    body = {"token": token_of(client), "amount_cents": 100, "currency": "usd", "reference": ref(), **change}
    assert client.post("/v1/charges", json=body, headers=SERVER).status_code == 422


def test_a_charge_look_up_needs_a_reference(client):
    assert client.get("/v1/charges", headers=SERVER).status_code == 422


# --- refunds --------------------------------------------------------------------------------------

def test_refunds_never_exceed_the_charge_and_the_charge_shows_what_was_refunded(client):
    charged = charge(client, token_of(client), amount=10000).get_json()
    first = refund(client, charged["id"], 3000)
    assert first.status_code == 201
    assert first.get_json()["status"] == "succeeded" and first.get_json()["id"].startswith("re_")
    assert refund(client, charged["id"], 6000).status_code == 201
    body = card_error(refund(client, charged["id"], 1001), 409, "amount_too_large")
    assert "1000" in body["detail"]
    shown = client.get(f"/v1/charges/{charged['id']}", headers=SERVER).get_json()
    assert shown["amount_refunded_cents"] == 9000 and shown["refunded"] is False
    assert refund(client, charged["id"], 1000).status_code == 201
    shown = client.get(f"/v1/charges/{charged['id']}", headers=SERVER).get_json()
    assert shown["amount_refunded_cents"] == 10000 and shown["refunded"] is True
    card_error(refund(client, charged["id"], 1), 409, "amount_too_large")


def test_a_refund_reference_is_refunded_once(client):
    charged = charge(client, token_of(client), amount=10000).get_json()
    reference = ref("rf")
    first = refund(client, charged["id"], 4000, reference)
    second = refund(client, charged["id"], 4000, reference)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["id"] == first.get_json()["id"]
    assert client.get(f"/v1/charges/{charged['id']}", headers=SERVER).get_json()["amount_refunded_cents"] == 4000
    card_error(refund(client, charged["id"], 5000, reference), 409, "idempotency_conflict")
    found = client.get("/v1/refunds", query_string={"reference": reference}, headers=SERVER)
    assert found.get_json()["id"] == first.get_json()["id"]
    card_error(client.get("/v1/refunds", query_string={"reference": ref("rf")}, headers=SERVER), 404,
               "resource_missing")


def test_a_failed_charge_cannot_be_refunded_and_an_unknown_one_is_a_404(client):
    declined = charge(client, token_of(client, "4000000000000002")).get_json()
    card_error(refund(client, declined["id"], 100), 409, "charge_not_refundable")
    card_error(refund(client, "ch_unknown", 100), 404, "resource_missing")


# --- API key, CORS, probes, production --------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer sk_test_wrong"}, {"Authorization": API_KEY},
                                     {"Authorization": f"Basic {API_KEY}"}])
@pytest.mark.parametrize(("method", "path"), [("GET", "/v1/tokens/tok_x"), ("POST", "/v1/charges"),
                                              ("GET", "/v1/charges?reference=x"), ("GET", "/v1/charges/ch_x"),
                                              ("POST", "/v1/refunds"), ("GET", "/v1/refunds?reference=x")])
def test_server_endpoints_need_the_secret_key(client, headers, method, path):
    response = client.open(path, method=method, headers=headers, json={})
    card_error(response, 401, "invalid_api_key")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_the_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("SANDBOX_API_KEY", "sk_test_env")
    assert SandboxConfig().api_key == "sk_test_env"
    monkeypatch.delenv("SANDBOX_API_KEY")
    # No default key (issue 9: sk_test_sandbox was one anyone knew): missing, the sandbox does not start.
    with pytest.raises(ConfigError, match="SANDBOX_API_KEY"):
        SandboxConfig()


def test_tokenization_needs_no_key(client):
    assert tokenize(client).status_code == 201


def test_the_cors_preflight_lets_any_browser_tokenize_by_default(client):
    response = client.open("/v1/tokens", method="OPTIONS", headers={
        "Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "content-type" in response.headers["Access-Control-Allow-Headers"].lower()
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    made = tokenize(client)
    assert made.headers["Access-Control-Allow-Origin"] == "*"
    # A refused card must be readable by the page too.
    assert tokenize(client, "4242424242424241").headers["Access-Control-Allow-Origin"] == "*"


def test_cors_answers_only_configured_origins(make_app):
    client = make_app(cors_origins=("https://portal.example",)).test_client()
    allowed = client.open("/v1/tokens", method="OPTIONS", headers={
        "Origin": "https://portal.example", "Access-Control-Request-Method": "POST"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://portal.example"
    assert "Origin" in allowed.headers["Vary"]
    other = client.open("/v1/tokens", method="OPTIONS", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Methods" not in other.headers


def test_cors_origins_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SANDBOX_CORS_ORIGINS", "http://127.0.0.1:8000, https://portal.example/")
    assert SandboxConfig().cors_origins == ("http://127.0.0.1:8000", "https://portal.example")


def test_server_endpoints_are_not_offered_to_browsers(client):
    token = token_of(client)
    response = client.get(f"/v1/tokens/{token}", headers={**SERVER, "Origin": "http://127.0.0.1:8000"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_probes_metrics_and_openapi(client):
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "sandbox-processor"}
    assert client.get("/readyz").get_json()["status"] == "ready"
    assert client.get("/metrics").status_code == 200
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"/v1/tokens", "/v1/tokens/{token}", "/v1/charges", "/v1/charges/{charge_id}", "/v1/refunds"} <= set(paths)


def test_the_sandbox_refuses_to_start_in_production(make_app, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    with pytest.raises(ProductionRefused):
        create_app(SandboxConfig(database_path="unused.sqlite3"))
    with pytest.raises(ProductionRefused):
        make_app(environment="Production")


def test_state_survives_a_restart(make_app):
    client = make_app().test_client()
    token = token_of(client)
    reference = ref()
    charge(client, token, reference=reference)
    restarted = make_app().test_client()
    assert restarted.get(f"/v1/tokens/{token}", headers=SERVER).status_code == 200
    assert charge(restarted, token, reference=reference).status_code == 200


# --- no card data anywhere ------------------------------------------------------------------------

def test_no_card_number_or_cvc_in_logs_or_state(make_app, tmp_path, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    app = make_app()
    client = app.test_client()
    secrets = []  # (spaced number as typed, digits, cvc)
    for index, number in enumerate([*TEST_CARDS, "378282246310005", "6011111111111117"]):
        spaced = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
        cvc = "8642" if cards.brand_of(number) == "amex" else f"{97 + index}1"[-3:]
        secrets.append((spaced, number, cvc))
        response = tokenize(client, spaced, cvc=cvc)
        assert response.status_code == 201
        charge(client, response.get_json()["token"])
    # Refused cards pass through the same code: a Luhn failure, an expired card, a wrong CVC.
    refused = [("4242424242424241", {}), ("4000000000000002", {"exp_year": 2019}),
               ("5555555555554444", {"cvc": "73"})]
    for number, change in refused:
        assert tokenize(client, number, **change).status_code == 402
        secrets.append((number, number, change.get("cvc", "123")))

    written = capsys.readouterr()
    records = "\n".join(f"{r.getMessage()} {r.args!r} {getattr(r, 'fields', '')!r}" for r in caplog.records)
    logs = "\n".join([caplog.text, records, written.out, written.err])
    assert "card tokenized" in logs  # the logs were really captured
    database = Path(app.config["PORTAL"].database_path)
    kept = "\n".join(app.extensions["sandbox_store"].dump())
    raw = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert "INSERT INTO \"tokens\"" in kept and "4242" in kept  # last4 is kept, so the dump is real
    for spaced, digits, cvc in secrets:
        for text in (logs, kept):
            assert digits not in text and spaced not in text
            assert f"'{cvc}'" not in text and f'"{cvc}"' not in text
        assert digits.encode() not in raw and spaced.encode() not in raw
    columns = "\n".join(line for line in app.extensions["sandbox_store"].dump() if line.startswith("CREATE TABLE"))
    assert "number" not in columns and "cvc" not in columns


# --- HttpProcessor against the sandbox, in process ---------------------------------------------------

class FlaskTransport(BaseAdapter):
    """A requests transport that hands each request to a Flask app's test client."""

    def __init__(self, app):
        super().__init__()
        self.client = app.test_client()
        self.calls = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = requests.utils.urlparse(request.url)
        self.calls.append((request.method, url.path))
        answer = self.client.open(url.path, method=request.method, query_string=url.query,
                                  headers=dict(request.headers), data=request.body)
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = requests.structures.CaseInsensitiveDict(answer.headers)
        response.raw = io.BytesIO(answer.get_data())
        response._content = answer.get_data()
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


@pytest.fixture
def processor(app):
    adapter = HttpProcessor("http://sandbox.test", API_KEY, timeout=(1, 2))
    adapter.session.mount("http://sandbox.test", FlaskTransport(app))
    return adapter


def test_the_adapter_reads_the_card_behind_a_token(client, processor):
    details = processor.retrieve_token(token_of(client, "5555 5555 5555 4444"))
    assert (details.brand, details.last4, details.exp_month, details.exp_year) == ("mastercard", "4444", 12, NEXT_YEAR)
    assert details.cardholder_name == "Jordan Rivera" and len(details.fingerprint) >= 16
    with pytest.raises(CardTokenInvalid):
        processor.retrieve_token("tok_unknown")


def test_the_adapter_charges_and_finds_by_reference(client, processor):
    token, reference = token_of(client), ref()
    assert processor.find_charge(reference) is None
    result = processor.charge(token=token, amount_cents=2500, currency="USD", reference=reference,
                              description="Invoice INV-7")
    assert result.succeeded and result.charge_id.startswith("ch_") and result.failure_code is None
    assert (result.amount_cents, result.currency, result.reference) == (2500, "USD", reference)
    assert processor.find_charge(reference) == result
    assert processor.charge(token=token, amount_cents=2500, currency="USD", reference=reference,
                            description="again") == result
    with pytest.raises(ReferenceConflict):
        processor.charge(token=token, amount_cents=2600, currency="USD", reference=reference, description="")


@pytest.mark.parametrize(("number", "code"), [(n, c) for n, (_, c) in TEST_CARDS.items() if c])
def test_the_adapter_gives_our_own_words_for_each_decline(client, processor, number, code):
    result = processor.charge(token=token_of(client, number), amount_cents=100, currency="USD", reference=ref(),
                              description="")
    assert result.status == "failed" and result.failure_code == code
    assert result.failure_message == FAILURE_MESSAGES[code]
    assert result.retryable == (code == "processing_error")


def test_the_adapter_refunds_within_the_charge(client, processor):
    charged = processor.charge(token=token_of(client), amount_cents=1000, currency="USD", reference=ref(),
                               description="")
    reference = ref("rf")
    first = processor.refund(charge_id=charged.charge_id, amount_cents=600, reference=reference)
    assert first.succeeded and first.refund_id.startswith("re_")
    assert processor.refund(charge_id=charged.charge_id, amount_cents=600, reference=reference) == first
    assert processor.find_refund(reference) == first
    assert processor.find_refund(ref("rf")) is None
    over = processor.refund(charge_id=charged.charge_id, amount_cents=401, reference=ref("rf"))
    assert (over.status, over.failure_code, over.refund_id) == ("failed", "amount_too_large", None)
    assert processor.find_charge(charged.reference).amount_refunded_cents == 600


def test_the_adapter_sends_the_key_and_a_wrong_key_is_rejected(app, client):
    wrong = HttpProcessor("http://sandbox.test", "sk_test_wrong")
    wrong.session.mount("http://sandbox.test", FlaskTransport(app))
    with pytest.raises(ProcessorRejected) as caught:
        wrong.find_charge("pay_x")
    assert caught.value.status == 401 and caught.value.code == "invalid_api_key"
    assert "sk_test_wrong" not in str(caught.value)


# --- HttpProcessor: what each failure means ------------------------------------------------------------

class CannedTransport(BaseAdapter):
    """Answers every request with one status and body, or raises one exception."""

    def __init__(self, status: int = 200, body=None, raises: Exception | None = None):
        super().__init__()
        self.status, self.body, self.raises = status, body, raises
        self.calls = 0

    def send(self, request, **kwargs):
        self.calls += 1
        if self.raises is not None:
            raise self.raises
        response = requests.Response()
        response.status_code = self.status
        response._content = self.body if isinstance(self.body, bytes) else json.dumps(self.body).encode()
        response.request = request
        response.url = request.url
        return response

    def close(self):
        pass


def canned(**kwargs) -> tuple[HttpProcessor, CannedTransport]:
    transport = CannedTransport(**kwargs)
    adapter = HttpProcessor("http://processor.test", API_KEY)
    adapter.session.mount("http://processor.test", transport)
    return adapter, transport


def do_charge(adapter: HttpProcessor):
    return adapter.charge(token="tok_x", amount_cents=100, currency="USD", reference="pay_1", description="")


REFUSED = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
DROPPED = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))


@pytest.mark.parametrize(("failure", "on_post", "on_get"), [
    (requests.exceptions.ConnectTimeout("connect timed out"), ProcessorUnavailable, ProcessorUnavailable),
    (requests.exceptions.ConnectionError(MaxRetryError(None, "/", REFUSED)),
     ProcessorUnavailable, ProcessorUnavailable),
    (requests.exceptions.ReadTimeout("read timed out"), ProcessorTimeout, ProcessorUnavailable),
    (requests.exceptions.ConnectionError(DROPPED), ProcessorTimeout, ProcessorUnavailable),
    (requests.exceptions.ChunkedEncodingError("cut short"), ProcessorTimeout, ProcessorUnavailable),
])
def test_transport_failures_say_whether_anything_may_have_happened(failure, on_post, on_get):
    adapter, _ = canned(raises=failure)
    with pytest.raises(on_post):
        do_charge(adapter)
    with pytest.raises(on_post):
        adapter.refund(charge_id="ch_1", amount_cents=1, reference="rf_1")
    with pytest.raises(on_get):
        adapter.find_charge("pay_1")
    with pytest.raises(on_get):
        adapter.retrieve_token("tok_x")


@pytest.mark.parametrize(("status", "on_post", "on_get"), [
    (500, ProcessorTimeout, ProcessorUnavailable),
    (502, ProcessorTimeout, ProcessorUnavailable),
    (504, ProcessorTimeout, ProcessorUnavailable),
    (503, ProcessorUnavailable, ProcessorUnavailable),
    (429, ProcessorUnavailable, ProcessorUnavailable),
    (400, ProcessorRejected, ProcessorRejected),
    (401, ProcessorRejected, ProcessorRejected),
])
def test_error_statuses_say_whether_anything_may_have_happened(status, on_post, on_get):
    adapter, _ = canned(status=status, body={"error": {"code": "x", "message": "nope"}})
    with pytest.raises(on_post):
        do_charge(adapter)
    with pytest.raises(on_get):
        adapter.find_charge("pay_1")


def test_an_unreadable_success_leaves_a_charge_unknown():
    adapter, _ = canned(status=201, body=b"<html>ok</html>")
    with pytest.raises(ProcessorTimeout):
        do_charge(adapter)
    adapter, _ = canned(status=200, body={"id": "ch_1", "status": "pending"})
    with pytest.raises(ProcessorTimeout):
        do_charge(adapter)


def test_a_decline_answered_as_a_402_is_a_failed_charge_with_one_of_our_codes():
    adapter, _ = canned(status=402, body={"error": {"code": "do_not_honor", "message": "Declined", "charge": "ch_9"}})
    result = do_charge(adapter)
    assert result == ChargeResult(status="failed", charge_id="ch_9", failure_code="card_declined",
                                  failure_message=FAILURE_MESSAGES["card_declined"], amount_cents=100,
                                  currency="USD", reference="pay_1")


def test_an_unknown_failure_code_reads_as_a_decline():
    adapter, _ = canned(status=201, body={"id": "ch_1", "status": "failed", "failure_code": "stolen_card"})
    assert do_charge(adapter).failure_code == "card_declined"


def test_the_retry_policy_never_repeats_a_sent_post():
    adapter = HttpProcessor("http://processor.test", API_KEY)
    retry = adapter.session.get_adapter("http://processor.test/v1/charges").max_retries
    assert retry.allowed_methods == frozenset({"GET"})
    assert retry.connect >= 1  # a connection never made is retried, whatever the method
    assert not retry.is_retry("POST", 503) and retry.is_retry("GET", 503)
    assert adapter.session.headers["Authorization"] == f"Bearer {API_KEY}"


def test_every_failure_code_of_events_md_has_words_a_client_understands():
    assert FAILURE_CODES == {"incorrect_number", "incorrect_cvc", "expired_card", "insufficient_funds",
                             "card_declined", "processing_error", "processor_unavailable"}
    for code in FAILURE_CODES:
        message = failure_message(code)
        assert message.endswith(".") and len(message) > 20 and "_" not in message
    assert failure_message("card_declined") == ("Your card was declined. Please use a different card or contact "
                                                "your bank.")
    assert failure_message("something_new") == FAILURE_MESSAGES["card_declined"]
    assert failure_message(None) is None
    assert ProcessorUnavailable.failure_code == "processor_unavailable"


# --- single-use tokens, customers and their payment methods ------------------------------------------

def customer(client, reference: str | None = None) -> str:
    response = client.post("/v1/customers", headers=SERVER, json={"reference": reference or ref("client")})
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()["id"]


def attach(client, customer_id: str, token: str):
    return client.post(f"/v1/customers/{customer_id}/payment_methods", headers=SERVER, json={"token": token})


def charge_method(client, method_id: str, customer_id: str, *, amount: int = 5000, reference: str | None = None):
    return client.post("/v1/charges", headers=SERVER, json={
        "payment_method": method_id, "customer": customer_id, "amount_cents": amount, "currency": "usd",
        "reference": reference or ref(), "description": "Invoice INV-1001"})


def test_a_customer_is_created_once_per_reference(client):
    reference = ref("client")
    first = client.post("/v1/customers", headers=SERVER, json={"reference": reference})
    again = client.post("/v1/customers", headers=SERVER, json={"reference": reference})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["id"] == again.get_json()["id"] and first.get_json()["id"].startswith("cus_")
    assert customer(client) != first.get_json()["id"]


def test_a_token_attached_to_a_customer_is_used_up(client):
    token, owner, other = token_of(client), customer(client), customer(client)
    attached = attach(client, owner, token)
    assert attached.status_code == 201, attached.get_json()
    method = attached.get_json()
    assert method["id"].startswith("pm_") and method["customer"] == owner
    assert (method["brand"], method["last4"], method["exp_month"]) == ("visa", "4242", 12)
    assert client.get(f"/v1/tokens/{token}", headers=SERVER).get_json()["used"] is True
    # a second use of the token, by anyone, is refused: attach or charge
    card_error(attach(client, other, token), 400, "token_already_used")
    card_error(attach(client, owner, token), 400, "token_already_used")
    card_error(charge(client, token), 400, "token_already_used")


def test_a_token_charged_once_is_used_up_but_its_reference_still_answers_the_first_charge(client):
    token, reference = token_of(client), ref()
    first = charge(client, token, reference=reference)
    assert first.status_code == 201
    card_error(charge(client, token), 400, "token_already_used")
    card_error(attach(client, customer(client), token), 400, "token_already_used")
    again = charge(client, token, reference=reference)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]


def test_a_payment_method_charges_again_for_its_customer_only(client):
    owner, other = customer(client), customer(client)
    method = attach(client, owner, token_of(client)).get_json()["id"]
    first, second = charge_method(client, method, owner), charge_method(client, method, owner)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.get_json()["status"] == "succeeded" and first.get_json()["id"] != second.get_json()["id"]
    reference = ref()
    card_error(charge_method(client, method, other, reference=reference), 400, "payment_method_customer_mismatch")
    card_error(client.get("/v1/charges", query_string={"reference": reference}, headers=SERVER), 404,
               "resource_missing")
    card_error(charge_method(client, "pm_unknown", owner), 404, "resource_missing")
    card_error(attach(client, "cus_unknown", token_of(client)), 404, "resource_missing")


def test_a_charge_names_one_source_a_token_or_a_payment_method_with_its_customer(client):
    owner = customer(client)
    method = attach(client, owner, token_of(client)).get_json()["id"]
    base = {"amount_cents": 100, "currency": "usd", "description": ""}
    for body in ({"token": token_of(client), "payment_method": method, "customer": owner},
                 {"payment_method": method}, {"customer": owner}, {}):
        response = client.post("/v1/charges", headers=SERVER, json={**base, **body, "reference": ref()})
        assert response.status_code == 422, (body, response.get_json())


def test_the_adapter_binds_a_card_to_a_customer_and_charges_it_by_payment_method(client, processor):
    owner = processor.create_customer("client-" + random_refs.suffix())
    saved = processor.attach_card(customer_id=owner, token=token_of(client, "5555 5555 5555 4444"))
    assert saved.customer_id == owner and saved.payment_method_id.startswith("pm_")
    assert (saved.card.brand, saved.card.last4) == ("mastercard", "4444")
    result = processor.charge(payment_method=saved.payment_method_id, customer=owner, amount_cents=700,
                              currency="USD", reference=ref(), description="")
    assert result.succeeded
    with pytest.raises(CardTokenInvalid) as used:
        processor.retrieve_token(_used_token(client, processor))
    assert used.value.code == "token_already_used"
    with pytest.raises(PaymentMethodNotOwned):
        processor.charge(payment_method=saved.payment_method_id, customer=processor.create_customer(ref("c")),
                         amount_cents=700, currency="USD", reference=ref(), description="")


def _used_token(client, processor) -> str:
    token = token_of(client)
    processor.attach_card(customer_id=processor.create_customer(ref("c")), token=token)
    return token


def test_the_adapter_quotes_every_path_segment(app, client):
    transport = FlaskTransport(app)
    adapter = HttpProcessor("http://sandbox.test", API_KEY, timeout=(1, 2))
    adapter.session.mount("http://sandbox.test", transport)
    with pytest.raises(CardTokenInvalid):
        adapter.retrieve_token("../../v1/charges")
    for dots in ("..", "."):
        with pytest.raises(CardTokenInvalid):
            adapter.retrieve_token(dots)
    with pytest.raises(CardTokenInvalid):
        adapter.attach_card(customer_id="../../v1/charges", token=token_of(client))
    assert all(path.startswith(("/v1/tokens/", "/v1/customers/")) for _, path in transport.calls), transport.calls
    assert ("GET", "/v1/tokens/..%2F..%2Fv1%2Fcharges") in transport.calls
