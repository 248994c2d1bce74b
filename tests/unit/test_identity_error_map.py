"""Identity's domain errors answer through one table (services/identity/api/errors.py): every error is in it, each
answers the status, problem type and title it answered as a subclass of the HTTP problems, and its detail, field
errors, members and headers (WWW-Authenticate, Retry-After) reach the answer as they are."""

from __future__ import annotations

import pytest

from services.identity.api.errors import ERROR_MAP
from services.identity.domain import errors as domain_errors
from services.identity.domain.errors import (
    IdentityError,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    PasswordRequired,
    ResetThrottled,
)
from services.identity.domain.registration import ensure_usable, mismatch
from shared.config import BaseConfig
from shared.web import create_base_app
from tests.support.error_maps import check_error_map, raising

# What each answered before the domain errors stopped subclassing shared.errors (status, slug, title): pinned here,
# so that a change to the table is a change to this list too.
ANSWERS = {
    "InvalidCredentials": (401, "invalid-credentials", "E-mail or password is not right"),
    "InvalidToken": (401, "invalid-token", "This token is not valid"),
    "LoginThrottled": (429, "login-throttled", "Too many failed sign-in attempts"),
    "ResetThrottled": (429, "password-reset-throttled", "Too many password-reset requests"),
    "ResetTokenInvalid": (410, "reset-link-unusable", "This password-reset link can no longer be used"),
    "WeakPassword": (422, "weak-password", "Choose a stronger password"),
    "WrongPassword": (422, "wrong-password", "The password is not right"),
    "PasswordRequired": (422, "validation-error", "Your request has invalid fields"),
    "WrongCode": (422, "validation-error", "Your request has invalid fields"),
    "TwoFactorStateConflict": (409, "conflict", "Conflict"),
    "AccountNotFound": (404, "not-found", "Not found"),
    "OwnAccountDeactivation": (409, "conflict", "Conflict"),
    "EmailTaken": (409, "email-taken", "This e-mail address is already in use"),
    "ClientNotFound": (404, "client-not-found", "Client not found"),
    "EmailRequired": (422, "validation-error", "Your request has invalid fields"),
    "AlreadyRegistered": (409, "already-registered", "This client already has a portal account"),
    "InvitationNotFound": (404, "registration-link-unknown", "This registration link is not valid"),
    "InvitationUnusable": (410, "registration-link-unusable", "This registration link can no longer be used"),
    "IdentityMismatch": (422, "identity-mismatch", "Last name or date of birth do not match our records"),
    "PracticeOwnedFields": (403, "forbidden", "Forbidden"),
    "ProfileChangeNotFound": (404, "not-found", "Not found"),
    "AlreadyReviewed": (409, "conflict", "Conflict"),
}
# The bases: never raised themselves, so never in the table.
BASES = {"IdentityError", "SignInRefused", "Throttled"}


def test_the_table_maps_each_domain_error_to_its_pinned_answer_and_nothing_else():
    check_error_map(domain_errors, IdentityError, ERROR_MAP, ANSWERS, bases=frozenset(BASES))


@pytest.fixture
def client():
    app = create_base_app("unit", BaseConfig(service="unit", database_url="postgresql+psycopg://unused/unit"),
                          error_map=ERROR_MAP)
    raises = {
        "credentials": lambda: InvalidCredentials("E-mail or password is not right."),
        "token": lambda: InvalidToken("Sign in again."),
        "login": lambda: LoginThrottled("Too many failed attempts. Try again in 42 seconds.", retry_after=42),
        "reset": lambda: ResetThrottled("Too many password-reset requests.", retry_after=0.2),
        "mismatch": lambda: mismatch(0),
        "password": lambda: PasswordRequired("Enter your password.", errors={"password": ["Required."]}),
    }
    for name, make in raises.items():
        app.add_url_rule(f"/{name}", name, raising(make))

    @app.get("/unusable")
    def unusable():
        ensure_usable("expired")

    return app.test_client()


def problem(response) -> dict:
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def test_a_refused_sign_in_says_how_to_authenticate(client):
    for path, slug in (("/credentials", "invalid-credentials"), ("/token", "invalid-token")):
        response = client.get(path)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
        assert problem(response)["type"] == f"/problems/{slug}"


def test_a_throttle_says_when_to_try_again_in_the_header_and_the_body(client):
    response = client.get("/login")
    body = problem(response)
    body.pop("request_id")
    assert response.status_code == 429 and response.headers["Retry-After"] == "42"
    assert body == {"type": "/problems/login-throttled", "title": "Too many failed sign-in attempts", "status": 429,
                    "detail": "Too many failed attempts. Try again in 42 seconds.", "retry_after": 42}
    response = client.get("/reset")  # never less than a second
    assert response.headers["Retry-After"] == "1" and problem(response)["retry_after"] == 1


def test_field_errors_and_members_reach_the_answer(client):
    body = problem(client.get("/mismatch"))
    assert body["status"] == 422 and body["type"] == "/problems/identity-mismatch"
    assert body["attempts_remaining"] == 0 and set(body["errors"]) == {"last_name", "date_of_birth"}
    assert "disabled" in body["detail"]
    body = problem(client.get("/unusable"))
    assert body["status"] == 410 and body["reason"] == "expired"
    response = client.get("/password")
    assert response.status_code == 422 and "WWW-Authenticate" not in response.headers
    assert problem(response)["errors"] == {"password": ["Required."]}
