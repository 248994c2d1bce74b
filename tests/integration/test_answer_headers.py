"""Answers carrying a person's data or a token are never stored by a cache and never sniffed (issue 9, section 6):
Cache-Control: no-store and X-Content-Type-Options: nosniff on each service, errors included, while a route that
chooses its caching on purpose (identity's JWKS) keeps it."""

from __future__ import annotations

import pytest

from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.integration.payments_fixtures import NEXT_YEAR

pytestmark = pytest.mark.integration


def assert_private(response, status: int = 200):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers.get("Cache-Control") == "no-store", dict(response.headers)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", dict(response.headers)


def test_identity_answers_with_tokens_or_a_record_are_never_stored(api, registered_client):
    login = api.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert_private(login)
    assert "access_token" in login.get_json()
    refreshed = api.post("/api/v1/auth/refresh", json={"refresh_token": login.get_json()["refresh_token"]})
    assert_private(refreshed)
    _, me, _ = registered_client()
    assert_private(me.get("/api/v1/portal/me"))
    assert_private(me.patch("/api/v1/portal/me", json={"preferred_name": "Jo"}))
    assert_private(me.get("/api/v1/staff/clients"), 403)  # an error to a bearer request too
    assert_private(api.post("/api/v1/auth/login", json={"email": ADMIN_EMAIL, "password": "wrong"}), 401)


def test_identity_keeps_the_public_caching_of_its_jwks(api):
    response = api.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_billing_answers_are_never_stored(bclient, bstaff):
    _, me = bclient()
    assert_private(me.get("/api/v1/portal/account"))
    assert_private(me.get("/api/v1/portal/invoices"))
    assert_private(bstaff.get("/api/v1/staff/service-codes"))
    assert_private(me.get("/api/v1/portal/invoices/00000000-0000-0000-0000-000000000000"), 404)


def test_payments_answers_are_never_stored(payer, pstaff):
    _, me, _ = payer()
    assert_private(me.get("/api/v1/portal/payment-methods"))
    assert_private(me.get("/api/v1/portal/payments"))
    assert_private(pstaff.get("/api/v1/staff/payments"))


def test_the_sandbox_token_answer_is_never_stored(sandbox):
    import requests

    response = requests.post(f"{sandbox[0]}/v1/tokens", json={
        "card_number": "4242424242424242", "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123",
        "cardholder_name": "Avery Stone"}, timeout=5)
    assert response.status_code == 201 and response.json()["token"]
    assert response.headers.get("Cache-Control") == "no-store"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
