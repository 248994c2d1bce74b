"""Logs never carry secrets: keys that name one are redacted, and secret-looking text is masked."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from shared.logs import JsonFormatter, correlation_id_var, redact, redact_text, request_id_var

JWT = ("eyJhbGciOiJSUzI1NiIsImtpZCI6ImFiYyJ9.eyJzdWIiOiJ1LTEiLCJyb2xlIjoiY2xpZW50In0"
       ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU")


@pytest.mark.parametrize("key", [
    "password", "new_password", "Password", "passwd", "secret", "client_secret", "token", "access_token",
    "refresh_token", "mfa_token", "Authorization", "authorization", "cookie", "card_number", "cardNumber",
    "cvc", "cvv", "pan", "otp", "totp_secret", "code",
])
def test_secret_keys_are_redacted(key):
    assert redact({key: "s3cr3t-value"}) == {key: "[REDACTED]"}


@pytest.mark.parametrize("key", ["email", "user_id", "status", "invoice_code", "path", "amount_cents"])
def test_ordinary_keys_are_kept(key):
    assert redact({key: "visible"}) == {key: "visible"}


def test_redact_walks_nested_dicts_and_lists_without_touching_the_input():
    record = {"user": {"email": "a@example.com", "password": "pw"},
              "cards": [{"card_number": "4111111111111111", "cvc": "123", "brand": "visa"}],
              "count": 3, "ok": True, "nothing": None}
    assert redact(record) == {"user": {"email": "a@example.com", "password": "[REDACTED]"},
                              "cards": [{"card_number": "[REDACTED]", "cvc": "[REDACTED]", "brand": "visa"}],
                              "count": 3, "ok": True, "nothing": None}
    assert record["user"]["password"] == "pw"


def test_redact_masks_secret_looking_strings_under_ordinary_keys():
    assert redact({"note": f"header was Bearer {JWT}"}) == {"note": "header was Bearer [REDACTED]"}
    assert redact(["paid with 4111 1111 1111 1111"]) == ["paid with [REDACTED-NUMBER]"]


@pytest.mark.parametrize(("text", "secret"), [
    ("Authorization: Bearer abc.def-ghi_jkl~123", "abc.def-ghi_jkl~123"),
    ("authorization: bearer abc123", "abc123"),
    (f"token {JWT} refused", JWT),
    (f"jwt={JWT}", JWT.split(".")[1]),
    ("card 4111111111111111 declined", "4111111111111111"),
    ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
    ("card 4111-1111-1111-1111 declined", "4111-1111-1111-1111"),
    ("GET /api/v1/auth/reset?token=Zx81_secret&lang=en", "Zx81_secret"),
    ("GET /cb?code=998877&state=x", "998877"),
    ("POST body password=hunter2", "hunter2"),
])
def test_redact_text_masks_secrets(text, secret):
    masked = redact_text(text)
    assert secret not in masked
    assert masked != text


def test_redact_text_keeps_the_rest_of_a_query_string():
    assert redact_text("/reset?token=abc123&lang=en") == "/reset?token=[REDACTED]&lang=en"


@pytest.mark.parametrize("text", ["invoice INV-2025-0042 paid", "order 12345 shipped", "took 123 ms"])
def test_redact_text_leaves_ordinary_text_alone(text):
    assert redact_text(text) == text


@pytest.fixture
def ids():
    request_token, correlation_token = request_id_var.set("req-7"), correlation_id_var.set("corr-9")
    yield
    request_id_var.reset(request_token)
    correlation_id_var.reset(correlation_token)


def make_record(message: str, *args, fields: dict | None = None, exc_info=None) -> logging.LogRecord:
    record = logging.LogRecord("portal.test", logging.WARNING, __file__, 1, message, args, exc_info)
    if fields is not None:
        record.fields = fields
    return record


def test_json_formatter_writes_one_json_line_with_the_request_id(ids):
    line = JsonFormatter("billing").format(
        make_record("charged %s\nfor invoice", "client 7",
                    fields={"invoice_id": "i-1", "card_number": "4242"}))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["request_id"] == "req-7" and entry["correlation_id"] == "corr-9"
    assert entry["service"] == "billing" and entry["level"] == "warning" and entry["logger"] == "portal.test"
    assert entry["message"] == "charged client 7\nfor invoice"
    assert entry["invoice_id"] == "i-1" and entry["card_number"] == "[REDACTED]"
    assert entry["ts"].endswith("+00:00")


def test_json_formatter_redacts_message_and_exception_text(ids):
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        exc_info = sys.exc_info()
    line = JsonFormatter("identity").format(make_record("login with Bearer %s", "abc.def", exc_info=exc_info))
    assert "\n" not in line
    entry = json.loads(line)
    assert "abc.def" not in entry["message"]
    assert "ValueError" in entry["exception"] and JWT not in entry["exception"]


def test_json_formatter_without_a_request_has_null_ids():
    # Other tests (the proxy, Flask requests) set the context variables in this thread: clear them.
    request_token, correlation_token = request_id_var.set(None), correlation_id_var.set(None)
    try:
        entry = json.loads(JsonFormatter("relay").format(make_record("tick")))
    finally:
        request_id_var.reset(request_token)
        correlation_id_var.reset(correlation_token)
    assert entry["request_id"] is None and entry["correlation_id"] is None



# --- database errors ---------------------------------------------------------------------------------

def _raised(make):
    try:
        make()
    except BaseException:
        return sys.exc_info()
    raise AssertionError("did not raise")


def _database_error():
    import psycopg
    from sqlalchemy.exc import IntegrityError

    original = psycopg.errors.UniqueViolation(
        'duplicate key value violates unique constraint "uq_clients_email"\n'
        "DETAIL:  Key (email)=(juniper.hollow@example.test) already exists.")
    try:
        raise original
    except psycopg.Error as exc:
        raise IntegrityError("INSERT INTO clients (email, insurance) VALUES (%(email)s, %(insurance)s)",
                             {"email": "juniper.hollow@example.test", "insurance": "Aetna W98765432"}, exc) from exc


def test_a_database_error_is_logged_with_its_statement_but_none_of_its_values(ids):
    line = JsonFormatter("identity").format(make_record("unhandled error", exc_info=_raised(_database_error)))
    entry = json.loads(line)
    for value in ("juniper.hollow", "Aetna", "W98765432"):
        assert value not in line
    assert "INSERT INTO clients (email, insurance) VALUES (%(email)s, %(insurance)s)" in entry["exception"]
    assert "IntegrityError" in entry["exception"] and "UniqueViolation" in entry["exception"]
    assert "The above exception was the direct cause" in entry["exception"]


def test_any_other_exception_is_logged_as_python_formats_it(ids):
    import traceback

    def chained():
        try:
            raise KeyError("inner")
        except KeyError as exc:
            raise RuntimeError("outer") from exc

    exc_info = _raised(chained)
    entry = json.loads(JsonFormatter("identity").format(make_record("boom", exc_info=exc_info)))
    assert entry["exception"] == "".join(traceback.format_exception(*exc_info)).rstrip("\n")
