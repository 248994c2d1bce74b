"""Invitation and registration: single use, expiry, five misses kill the link, forged tokens, password rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from services.identity.domain.tokens import token_hash
from shared.db import utcnow
from tests.integration.conftest import STRONG_PASSWORD, assert_problem, login, outbox_events

pytestmark = pytest.mark.integration
REGISTER = "/api/v1/auth/register"


def invite(staff, client) -> str:
    response = staff.post(f"/api/v1/staff/clients/{client['id']}/invitation")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["expires_at"]
    return body["invitation_url"].split("token=")[1]


def attempt(api, client, token, **overrides):
    body = {"token": token, "last_name": client["last_name"], "date_of_birth": client["date_of_birth"],
            "password": STRONG_PASSWORD, **overrides}
    return api.post(REGISTER, json=body)


def test_invitation_mails_the_link_and_records_client_invited(staff, new_client, mailbox, identity_engine):
    client = new_client()
    token = invite(staff, client)
    mail = mailbox.last(client["email"], "invitation")
    assert mail["invitation_url"] == f"http://portal.test/register?token={token}"
    events = outbox_events(identity_engine, "client.invited", client_id=client["id"])
    assert len(events) == 1 and events[0]["payload"]["email"] == client["email"]
    assert token not in str(events[0])  # the link's secret never travels in an event
    assert staff.get(f"/api/v1/staff/clients/{client['id']}").get_json()["portal_status"] == "invited"


def test_full_registration_then_sign_in(api, staff, new_client, identity_engine):
    client = new_client(last_name="O'Brien")
    token = invite(staff, client)
    info = api.get(f"/api/v1/auth/registration/{token}").get_json()
    assert info["valid"] is True and info["practice_name"] and info["expires_at"]
    done = attempt(api, client, token, last_name="  o\u2019brien ")
    assert done.status_code == 201
    assert done.get_json()["client_id"] == client["id"]
    registered = outbox_events(identity_engine, "client.registered", client_id=client["id"])
    assert registered[0]["payload"]["user_id"] == done.get_json()["user_id"]
    tokens = login(api, client["email"], STRONG_PASSWORD)
    assert tokens["user"]["role"] == "client" and tokens["user"]["client_id"] == client["id"]
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] > 0
    # single use
    assert_problem(attempt(api, client, token), 410)
    assert api.get(f"/api/v1/auth/registration/{token}").get_json() == {
        "valid": False, "reason": "used", "practice_name": info["practice_name"], "expires_at": None}
    assert_problem(staff.post(f"/api/v1/staff/clients/{client['id']}/invitation"), 409)


def test_five_misses_kill_the_link(api, staff, new_client, snapshot):
    client = new_client()
    token = invite(staff, client)
    before = snapshot()
    for left in (4, 3, 2, 1, 0):
        body = assert_problem(attempt(api, client, token, last_name="Wrongname"), 422, field="last_name")
        assert body["attempts_remaining"] == left
    before.assert_unchanged()  # no user, no outbox row; only the miss counter moved
    assert_problem(attempt(api, client, token), 410)  # even with the right answers now
    assert api.get(f"/api/v1/auth/registration/{token}").get_json()["reason"] == "locked"


def test_wrong_date_of_birth_counts_as_a_miss(api, staff, new_client):
    client = new_client()
    token = invite(staff, client)
    body = assert_problem(attempt(api, client, token, date_of_birth="1988-03-01"), 422)
    assert body["attempts_remaining"] == 4


def test_expired_link_is_refused(api, staff, new_client, identity_engine, snapshot):
    client = new_client()
    token = invite(staff, client)
    with identity_engine.begin() as conn:
        conn.execute(text("UPDATE invitations SET expires_at = :t WHERE token_hash = :h"),
                     {"t": utcnow() - timedelta(minutes=1), "h": token_hash(token)})
    before = snapshot()
    assert_problem(attempt(api, client, token), 410)
    before.assert_unchanged()
    assert api.get(f"/api/v1/auth/registration/{token}").get_json()["reason"] == "expired"


def test_a_new_invitation_revokes_the_old_link(api, staff, new_client):
    client = new_client()
    old = invite(staff, client)
    new = invite(staff, client)
    assert_problem(attempt(api, client, old), 410)
    assert attempt(api, client, new).status_code == 201


def test_forged_token_and_bad_bodies_write_nothing(api, snapshot):
    before = snapshot()
    assert_problem(api.post(REGISTER, json={"token": "forged", "last_name": "X", "date_of_birth": "1990-01-01",
                                            "password": STRONG_PASSWORD}), 404)
    assert_problem(api.get("/api/v1/auth/registration/forged"), 404)
    assert_problem(api.post(REGISTER, json={"token": "t", "last_name": "X", "date_of_birth": "01/02/1990",
                                            "password": STRONG_PASSWORD}), 422, field="date_of_birth")
    assert_problem(api.post(REGISTER, json={"last_name": "X"}), 422, field="token")
    before.assert_unchanged()


@pytest.mark.parametrize("password", ["short", "password123", "aaaaaaaaaaaa", "x" * 129])
def test_weak_passwords_are_refused_and_the_link_stays_valid(api, staff, new_client, password, snapshot):
    client = new_client()
    token = invite(staff, client)
    before = snapshot()
    assert_problem(attempt(api, client, token, password=password), 422, field="password")
    before.assert_unchanged()
    assert api.get(f"/api/v1/auth/registration/{token}").get_json()["valid"] is True


def test_password_made_of_the_clients_own_details_is_refused(api, staff, new_client):
    client = new_client(first_name="Marguerite", last_name="Okonkwo")
    token = invite(staff, client)
    assert_problem(attempt(api, client, token, password="MargueriteOkonkwo"), 422, field="password")


def test_invitation_needs_an_email_and_a_known_client(staff, new_client, snapshot):
    client = new_client(email=None)
    before = snapshot()
    assert_problem(staff.post(f"/api/v1/staff/clients/{client['id']}/invitation"), 422, field="email")
    assert_problem(staff.post("/api/v1/staff/clients/00000000-0000-0000-0000-000000000000/invitation"), 404)
    before.assert_unchanged()
