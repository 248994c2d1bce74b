"""shared.web and shared.errors on a tiny app: problem+json for every error, request ids, JSON bodies."""

from __future__ import annotations

import logging
import re

import pytest
from flask import jsonify, request
from marshmallow import ValidationError

from services.identity.api.errors import ERROR_MAP as IDENTITY_ERRORS
from services.identity.domain.errors import EmailTaken
from services.identity.domain.registration import mismatch
from shared.config import BaseConfig
from shared.errors import Conflict, Mapped, NotFound, TooManyRequests, Unauthorized
from shared.web import create_base_app, json_body

PROBLEM = "application/problem+json"


class PaymentDeclined(Exception):
    """A service's own exception, mapped through error_map rather than subclassing ProblemError."""


class Stale(PaymentDeclined):
    pass


class CardRefused(PaymentDeclined):
    """A domain error with field errors, a header and more members: the map carries them into the answer."""

    def __init__(self):
        super().__init__("The card was refused.")
        self.errors = {"card": ["Refused by the bank."]}
        self.headers = {"Retry-After": "30"}
        self.extra = {"decline_code": "do_not_honor"}


@pytest.fixture
def app():
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    config = BaseConfig(service="unit", database_url="postgresql+psycopg://unused/unit")
    ready = {"fail": False}

    def cache_warm():
        if ready["fail"]:
            raise ConnectionError("cache down")

    app = create_base_app("unit", config, readiness=[cache_warm],
                          error_map={**IDENTITY_ERRORS,
                                     PaymentDeclined: Mapped(402, "payment-declined", "Payment declined")})
    app.config["ready"] = ready

    @app.get("/conflict")
    def conflict():
        raise Conflict("That slot is taken.")

    @app.get("/email-taken")
    def email_taken():
        raise EmailTaken("Use another address.")

    @app.get("/throttled")
    def throttled():
        raise TooManyRequests("Slow down.", retry_after=42)

    @app.get("/private")
    def private():
        raise Unauthorized()

    @app.get("/register")
    def register():
        raise mismatch(0)

    @app.get("/missing")
    def missing():
        raise NotFound("No such invoice.")

    @app.get("/invalid")
    def invalid():
        raise ValidationError({"email": ["Not a valid email address."]})

    @app.get("/invalid-schema")
    def invalid_schema():
        raise ValidationError("Pick a date or a slot, not both.")

    @app.get("/declined")
    def declined():
        raise Stale("Card expired.")

    @app.get("/refused")
    def refused():
        raise CardRefused()

    @app.get("/boom")
    def boom():
        raise RuntimeError("password=hunter2 at db01.internal")

    @app.route("/echo", methods=["POST"])
    def echo():
        return jsonify(json_body())

    @app.get("/items/<item_id>")
    def item(item_id):
        return jsonify(id=item_id, q=request.args.get("q"))

    @app.get("/public")
    def public():
        response = jsonify(keys=[])
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    yield app
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def client(app):
    return app.test_client()


def assert_problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def test_a_problem_error_becomes_its_problem(client):
    body = assert_problem(client.get("/conflict"), 409, "conflict")
    assert body["title"] == "Conflict" and body["detail"] == "That slot is taken."


def test_a_domain_subclass_keeps_its_own_slug_and_title(client):
    body = assert_problem(client.get("/email-taken"), 409, "email-taken")
    assert body["title"] == "This e-mail address is already in use"


def test_extra_fields_and_headers_reach_the_answer(client):
    response = client.get("/throttled")
    body = assert_problem(response, 429, "too-many-requests")
    assert response.headers["Retry-After"] == "42" and body["retry_after"] == 42
    response = client.get("/private")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_zero_attempts_remaining_is_still_in_the_body(client):
    body = assert_problem(client.get("/register"), 422, "identity-mismatch")
    assert body["attempts_remaining"] == 0
    assert "disabled" in body["detail"]
    assert set(body["errors"]) == {"last_name", "date_of_birth"}


def test_a_validation_error_is_422_with_errors(client):
    body = assert_problem(client.get("/invalid"), 422, "validation-error")
    assert body["errors"] == {"email": ["Not a valid email address."]}


def test_a_schema_level_validation_error_is_under_schema(client):
    body = assert_problem(client.get("/invalid-schema"), 422, "validation-error")
    assert body["errors"] == {"_schema": ["Pick a date or a slot, not both."]}


def test_error_map_maps_a_service_exception_and_its_subclasses(client):
    body = assert_problem(client.get("/declined"), 402, "payment-declined")
    assert body["detail"] == "Card expired."


def test_error_map_carries_a_domain_errors_fields_headers_and_extra_members(client):
    response = client.get("/refused")
    body = assert_problem(response, 402, "payment-declined")
    assert body["detail"] == "The card was refused."
    assert body["errors"] == {"card": ["Refused by the bank."]}
    assert body["decline_code"] == "do_not_honor"
    assert response.headers["Retry-After"] == "30"


def test_an_unknown_route_is_404(client):
    assert_problem(client.get("/nowhere"), 404, "not-found")


def test_a_wrong_method_is_405(client):
    assert_problem(client.delete("/conflict"), 405, "method-not-allowed")


def test_a_405_says_which_methods_are_allowed(client):
    # RFC 9110 15.5.6: a 405 response MUST carry Allow; werkzeug's MethodNotAllowed knows the methods.
    response = client.delete("/conflict")
    assert response.status_code == 405
    allowed = {m.strip() for m in response.headers.get("Allow", "").split(",") if m.strip()}
    assert "GET" in allowed


def test_an_unhandled_exception_is_a_500_problem_that_leaks_nothing(client, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    body = assert_problem(response, 500, "internal-error")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "db01" not in response.get_data(as_text=True)
    assert body["detail"] == "Something went wrong on our side."
    # logged for us, not lost
    assert any(r.exc_info and isinstance(r.exc_info[1], RuntimeError) for r in caplog.records)


# --- request ids ---------------------------------------------------------------------------------

def test_a_safe_request_id_is_echoed_in_header_and_problem(client):
    response = client.get("/missing", headers={"X-Request-ID": "req-42.a:b_c"})
    assert response.headers["X-Request-ID"] == "req-42.a:b_c"
    assert response.get_json(force=True)["request_id"] == "req-42.a:b_c"


@pytest.mark.parametrize("unsafe", ["abc def", "<script>", "a" * 129, "id\u00e9", "x;rm -rf /"])
def test_an_unsafe_request_id_is_replaced(client, unsafe):
    response = client.get("/healthz", headers={"X-Request-ID": unsafe})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] != unsafe
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_a_missing_request_id_is_made_up_and_differs_per_request(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second


def test_error_answers_carry_the_request_id_too(client):
    response = client.get("/nowhere", headers={"X-Request-ID": "trace-1"})
    assert response.headers["X-Request-ID"] == "trace-1"
    assert client.get("/boom", headers={"X-Request-ID": "trace-2"}).headers["X-Request-ID"] == "trace-2"


# --- json_body -------------------------------------------------------------------------------------

def test_json_body_returns_the_object(client):
    response = client.post("/echo", json={"a": 1, "b": [1, 2]})
    assert response.status_code == 200 and response.get_json() == {"a": 1, "b": [1, 2]}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_body_refuses_another_content_type_with_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    assert_problem(client.post("/echo", data='{"a": 1}', headers=headers), 415, "unsupported-media-type")


def test_json_body_accepts_a_charset_parameter(client):
    response = client.post("/echo", data='{"a": 1}',
                           headers={"Content-Type": "application/json; charset=utf-8"})
    assert response.get_json() == {"a": 1}


def test_json_body_refuses_malformed_json_with_400(client):
    body = assert_problem(client.post("/echo", data='{"a": ', content_type="application/json"), 400,
                          "bad-request")
    assert "not valid JSON" in body["detail"]


@pytest.mark.parametrize("payload", ["[1, 2]", '"text"', "3"])
def test_json_body_refuses_anything_but_an_object_with_400(client, payload):
    response = client.post("/echo", data=payload, content_type="application/json")
    body = assert_problem(response, 400, "bad-request")
    assert "JSON object" in body["detail"]


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("payload", ['{"a": ' + deep(1000) + "}", deep(100_000), '{"a": ' + deep(33) + "}"],
                         ids=["1000-deep", "100000-deep", "33-deep"])
def test_json_body_refuses_json_nested_too_deep_with_400(client, payload):
    body = assert_problem(client.post("/echo", data=payload, content_type="application/json"), 400, "bad-request")
    assert "deep" in body["detail"]


def test_json_body_takes_json_as_deep_as_the_limit(client):
    response = client.post("/echo", data='{"a": ' + deep(31) + "}", content_type="application/json")
    assert response.status_code == 200


@pytest.mark.parametrize("payload", ['{"a": NaN}', '{"a": Infinity}', '{"a": -Infinity}', '{"a": 1e400}'])
def test_json_body_refuses_numbers_json_has_not_with_400(client, payload):
    assert_problem(client.post("/echo", data=payload, content_type="application/json"), 400, "bad-request")


def test_json_body_refuses_an_integer_longer_than_python_parses_with_400(client):
    payload = '{"a": ' + "9" * 5000 + "}"
    assert_problem(client.post("/echo", data=payload, content_type="application/json"), 400, "bad-request")


def test_json_body_refuses_a_repeated_key_with_400(client):
    # Two readers may keep different copies (first or last): one body must not mean two things.
    body = assert_problem(client.post("/echo", data='{"amount_cents": 1, "amount_cents": 900}',
                                      content_type="application/json"), 400, "bad-request")
    assert "amount_cents" in body["detail"]
    nested = '{"a": {"b": 1, "b": 2}}'
    assert_problem(client.post("/echo", data=nested, content_type="application/json"), 400, "bad-request")


@pytest.mark.parametrize("payload", [b'{"a": "\xff"}', b'{"a": "\xed\xa0\x80"}', '{"a": 1}'.encode("utf-16"),
                                     b'\xef\xbb\xbf{"a": 1}'],
                         ids=["invalid-byte", "encoded-surrogate", "utf-16", "bom"])
def test_json_body_refuses_a_body_that_is_not_utf8_json_with_400(client, payload):
    assert_problem(client.post("/echo", data=payload, content_type="application/json"), 400, "bad-request")


# --- the request's address --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/items/a\x00b", "/items/\xed\xa0\x80x", "/items/\xff", "/nowhere\x00"])
def test_a_path_with_nul_or_bytes_that_are_not_utf8_is_a_400(client, path):
    # PATH_INFO as a WSGI server (gunicorn) hands it over: the percent-decoded bytes, as latin-1. (Werkzeug's test
    # client would turn %FF into U+FFFD before the app sees it.)
    response = client.get("/items/x", environ_overrides={"PATH_INFO": path})
    assert_problem(response, 400, "bad-request")


@pytest.mark.parametrize("query", ["q=a%00b", "q=%ED%A0%80x", "q=%FF", "q%00=1", "a=1&q=%C3"])
def test_a_query_with_nul_or_bytes_that_are_not_utf8_is_a_400_naming_it(client, query):
    body = assert_problem(client.get(f"/items/1?{query}"), 400, "bad-request")
    assert body["errors"]


def test_a_header_with_a_nul_is_a_400_naming_it(client):
    # gunicorn refuses these itself; werkzeug's server and test client pass them on (Idempotency-Key is stored).
    body = assert_problem(client.get("/items/1", headers={"Idempotency-Key": "a\x00b"}), 400, "bad-request")
    assert "Idempotency-Key" in body["errors"]


def test_an_ordinary_path_and_query_pass(client):
    response = client.get("/items/caf%C3%A9?q=%E2%82%AC+1")
    assert response.get_json() == {"id": "caf\u00e9", "q": "\u20ac 1"}


# --- caching and sniffing --------------------------------------------------------------------------

def test_an_answer_to_a_request_with_a_bearer_token_is_never_stored(client):
    response = client.get("/items/1", headers={"Authorization": "Bearer abc"})
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/items/1", "/missing", "/boom", "/nowhere"])
def test_every_answer_is_no_store_and_nosniff_by_default(client, path):
    response = client.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_route_that_chooses_its_caching_keeps_it(client):
    response = client.get("/public", headers={"Authorization": "Bearer abc"})
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


# --- probes ----------------------------------------------------------------------------------------

def test_healthz_and_readyz(app, client):
    assert client.get("/healthz").get_json() == {"status": "ok", "service": "unit"}
    assert client.get("/readyz").get_json() == {"status": "ready", "service": "unit"}
    app.config["ready"]["fail"] = True
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failures"] == {"cache_warm": "ConnectionError"}
