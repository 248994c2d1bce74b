"""Sessions end when the user ends them, at identity's end: every access token names its session (`sid`, the
refresh-token family), and identity lists the sessions revoked lately (logout, password reset, a change of
two-factor, a deactivated staff user, refresh-token reuse) on its internal route, for the gateway and every
service to refuse their access tokens. A revoked session's refresh token is dead too."""

from __future__ import annotations

import jwt
import pyotp
import pytest

from tests.integration.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, STRONG_PASSWORD, assert_problem, login
from tests.support import random_refs

pytestmark = pytest.mark.integration
REVOKED = "/internal/v1/revoked-sessions"
STAFF_PASSWORD = "Session staff passphrase 8!"


def sid(access_token: str) -> str:
    return jwt.decode(access_token, options={"verify_signature": False})["sid"]


@pytest.fixture
def internal(api, identity_app):
    config = identity_app.config["PORTAL"]
    if not config.internal_api_key:  # a run without a key configured: the tests bring their own
        config.internal_api_key = "itest-identity-internal"
    return api.as_(config.internal_api_key)


def revoked(internal) -> dict[str, float]:
    response = internal.get(REVOKED)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["window_seconds"] >= 900 + 60
    return {item["sid"]: item["revoked_at"] for item in body["sessions"]}


def refresh(api, tokens) -> object:
    return api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


@pytest.fixture
def staff_member(api, staff):
    """A staff user of its own, signed in: (email, user id, tokens)."""
    email = random_refs.email("staff")
    created = staff.post("/api/v1/staff/users", json={"email": email, "password": STAFF_PASSWORD,
                                                       "first_name": "Sam", "last_name": "Ng", "role": "staff"})
    assert created.status_code == 201, created.get_json()
    return email, created.get_json()["id"], login(api, email, STAFF_PASSWORD)


def test_every_access_token_names_its_session_and_keeps_it_across_refreshes(api, registered_client):
    _, _, tokens = registered_client()
    first = sid(tokens["access_token"])
    rotated = refresh(api, tokens).get_json()
    assert sid(rotated["access_token"]) == first
    client, _, _ = registered_client()
    other = login(api, client["email"], STRONG_PASSWORD)
    assert sid(other["access_token"]) != first  # another sign-in, another session


def test_logout_lists_its_session_and_no_other(api, internal, registered_client):
    _, _, ended = registered_client()
    _, _, kept = registered_client()
    assert api.post("/api/v1/auth/logout", json={"refresh_token": ended["refresh_token"]}).status_code == 204
    listed = revoked(internal)
    assert sid(ended["access_token"]) in listed and sid(kept["access_token"]) not in listed
    assert isinstance(listed[sid(ended["access_token"])], float)
    assert_problem(refresh(api, ended), 401)
    assert refresh(api, kept).status_code == 200


def test_a_password_reset_lists_every_session_of_the_user(api, internal, registered_client, mailbox):
    client, _, first = registered_client()
    second = login(api, client["email"], STRONG_PASSWORD)
    assert api.post("/api/v1/auth/password-reset", json={"email": client["email"]}).status_code == 202
    token = mailbox.last(client["email"], "password_reset")["reset_url"].split("token=")[1]
    done = api.post("/api/v1/auth/password-reset/confirm", json={"token": token,
                                                                 "password": "a fresh quiet meadow 61"})
    assert done.status_code == 200, done.get_json()
    listed = revoked(internal)
    assert {sid(first["access_token"]), sid(second["access_token"])} <= listed.keys()
    assert_problem(refresh(api, first), 401)
    assert_problem(refresh(api, second), 401)


def test_reuse_of_a_rotated_refresh_token_lists_the_session(api, internal, registered_client):
    _, _, tokens = registered_client()
    assert refresh(api, tokens).status_code == 200
    assert_problem(refresh(api, tokens), 401)  # the reuse
    assert sid(tokens["access_token"]) in revoked(internal)


def test_each_change_of_two_factor_ends_every_session_and_answers_a_new_one(api, internal, staff_member):
    email, _, tokens = staff_member
    elsewhere = login(api, email, STAFF_PASSWORD)
    member = api.as_(tokens["access_token"])
    setup = member.post("/api/v1/staff/me/mfa/setup", json={"password": STAFF_PASSWORD})
    assert setup.status_code == 200, setup.get_json()
    after_setup = setup.get_json()
    assert after_setup["secret"] and after_setup["access_token"] and after_setup["refresh_token"]
    listed = revoked(internal)
    assert {sid(tokens["access_token"]), sid(elsewhere["access_token"])} <= listed.keys()
    assert sid(after_setup["access_token"]) not in listed
    assert_problem(refresh(api, tokens), 401)
    assert_problem(refresh(api, elsewhere), 401)

    totp = pyotp.TOTP(after_setup["secret"])
    enabled = api.as_(after_setup["access_token"]).post("/api/v1/staff/me/mfa/enable",
                                                         json={"code": totp.now(), "password": STAFF_PASSWORD})
    assert enabled.status_code == 200, enabled.get_json()
    after_enable = enabled.get_json()
    listed = revoked(internal)
    assert sid(after_setup["access_token"]) in listed and sid(after_enable["access_token"]) not in listed
    assert_problem(refresh(api, after_setup), 401)

    disabled = api.as_(after_enable["access_token"]).post("/api/v1/staff/me/mfa/disable",
                                                           json={"password": STAFF_PASSWORD})
    assert disabled.status_code == 200, disabled.get_json()
    after_disable = disabled.get_json()
    listed = revoked(internal)
    assert sid(after_enable["access_token"]) in listed and sid(after_disable["access_token"]) not in listed
    assert refresh(api, after_disable).status_code == 200


def test_a_deactivated_staff_user_loses_every_session(api, staff, internal, staff_member, snapshot):
    email, user_id, tokens = staff_member
    changed = staff.patch(f"/api/v1/staff/users/{user_id}", json={"active": False})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["active"] is False
    assert sid(tokens["access_token"]) in revoked(internal)
    assert_problem(refresh(api, tokens), 401)
    assert_problem(api.post("/api/v1/auth/login", json={"email": email, "password": STAFF_PASSWORD}), 401)
    listed = {u["id"]: u for u in staff.get("/api/v1/staff/users").get_json()["items"]}
    assert listed[user_id]["active"] is False
    # an admin may take them back: they sign in again
    assert staff.patch(f"/api/v1/staff/users/{user_id}", json={"active": True}).get_json()["active"] is True
    assert login(api, email, STAFF_PASSWORD)["user"]["id"] == user_id


@pytest.mark.parametrize("body, field", [
    ({}, "active"),
    ({"active": "no"}, "active"),
    ({"active": 0}, "active"),
    ({"active": None}, "active"),
    ({"active": False, "role": "admin"}, "role"),
])
def test_staff_user_changes_refuse_bad_bodies_and_write_nothing(api, staff, staff_member, snapshot, body, field):
    email, user_id, _ = staff_member
    before = snapshot()
    assert_problem(staff.patch(f"/api/v1/staff/users/{user_id}", json=body), 422, field=field)
    before.assert_unchanged()
    assert login(api, email, STAFF_PASSWORD)["user"]["id"] == user_id  # still active


def test_staff_user_changes_refuse_unknown_users_clients_oneself_and_non_admins(api, staff, staff_member,
                                                                                 registered_client, snapshot):
    _, user_id, tokens = staff_member
    _, client_api, client_tokens = registered_client()
    admin_id = login(api, ADMIN_EMAIL, ADMIN_PASSWORD)["user"]["id"]
    before = snapshot()
    assert_problem(staff.patch("/api/v1/staff/users/no-such-user", json={"active": False}), 404)
    assert_problem(staff.patch(f"/api/v1/staff/users/{client_tokens['user']['id']}", json={"active": False}), 404)
    assert_problem(staff.patch(f"/api/v1/staff/users/{admin_id}", json={"active": False}), 409)
    assert_problem(api.as_(tokens["access_token"]).patch(f"/api/v1/staff/users/{user_id}",
                                                          json={"active": False}), 403)
    assert_problem(client_api.patch(f"/api/v1/staff/users/{user_id}", json={"active": False}), 403)
    before.assert_unchanged()
    users = {u["id"]: u for u in staff.get("/api/v1/staff/users").get_json()["items"]}
    assert users[user_id]["active"] is True and users[admin_id]["active"] is True


def test_the_internal_routes_need_the_internal_key(api, internal, staff):
    for path in (REVOKED, "/internal/v1/settings"):
        assert_problem(api.get(path), 401)
        assert_problem(api.as_("not-the-key").get(path), 401)
        assert_problem(staff.get(path), 401)  # a user's access token is not the services' key


def test_internal_settings_answer_what_the_staff_route_answers_now(staff, internal):
    staff.patch("/api/v1/staff/settings", json={"online_payments_enabled": True})
    assert internal.get("/internal/v1/settings").get_json()["online_payments_enabled"] is True
    changed = staff.patch("/api/v1/staff/settings", json={"online_payments_enabled": False})
    assert changed.status_code == 200
    answer = internal.get("/internal/v1/settings")
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert answer.get_json() == staff.get("/api/v1/staff/settings").get_json()
    assert answer.get_json()["online_payments_enabled"] is False


@pytest.fixture
def mid_sign_in(monkeypatch):
    """Runs `change` while a sign-in is checking `password` (argon2, ~30 ms, no database connection held): the
    moment a concurrent reset or deactivation lands in, made deterministic."""
    from services.identity.usecases import sign_in as identity_service

    def arrange(password: str, change):
        original = identity_service.passwords.verify_password
        pending = [change]

        def verify(stored, given):
            ok = original(stored, given)
            if given == password and pending:
                pending.pop()()
            return ok

        monkeypatch.setattr(identity_service.passwords, "verify_password", verify)
    return arrange


def test_a_sign_in_with_the_old_password_that_a_reset_overtook_starts_no_session(api, identity_app, internal,
                                                                                   registered_client, mailbox,
                                                                                   mid_sign_in):
    client, _, _ = registered_client()
    assert api.post("/api/v1/auth/password-reset", json={"email": client["email"]}).status_code == 202
    token = mailbox.last(client["email"], "password_reset")["reset_url"].split("token=")[1]
    service = identity_app.extensions["identity"]
    mid_sign_in(STRONG_PASSWORD, lambda: service.confirm_password_reset(token, "a fresh quiet meadow 61"))
    answer = api.post("/api/v1/auth/login", json={"email": client["email"], "password": STRONG_PASSWORD})
    # the password it showed was no longer the password when the session would have started
    assert_problem(answer, 401)
    assert login(api, client["email"], "a fresh quiet meadow 61")["access_token"]


def test_a_sign_in_that_a_deactivation_overtook_starts_no_session(api, identity_app, staff_member, mid_sign_in):
    from shared.auth import Principal

    email, user_id, _ = staff_member
    service = identity_app.extensions["identity"]
    admin = service.list_staff_users()
    admin_id = next(u.id for u in admin if u.role == "admin" and u.id != user_id)
    mid_sign_in(STAFF_PASSWORD, lambda: service.set_staff_active(user_id, False, Principal(admin_id, "admin", None)))
    assert_problem(api.post("/api/v1/auth/login", json={"email": email, "password": STAFF_PASSWORD}), 401)


def test_a_refresh_that_a_reset_overtook_leaves_no_live_token(api, identity_app, identity_engine, internal,
                                                               registered_client, mailbox, monkeypatch):
    """A refresh holds its token's row while it writes the next one; a reset committing meanwhile ends the rows
    its statement saw, not the one the refresh inserted. The session must stay ended all the same."""
    import threading

    from tests.support.locks import wait_for_lock_waiters

    client, _, tokens = registered_client()
    assert api.post("/api/v1/auth/password-reset", json={"email": client["email"]}).status_code == 202
    token = mailbox.last(client["email"], "password_reset")["reset_url"].split("token=")[1]
    service = identity_app.extensions["identity"]
    issue, reset = service.sign_in.issue, threading.Thread(
        target=service.confirm_password_reset, args=(token, "a fresh quiet meadow 61"))

    def issue_while_a_reset_waits(session, user, family_id=None):
        issued = issue(session, user, family_id)
        reset.start()
        wait_for_lock_waiters(identity_engine, what="reset ending the sessions")  # on the refresh's row lock
        return issued

    monkeypatch.setattr(service.sign_in, "issue", issue_while_a_reset_waits)
    rotated = refresh(api, tokens)
    monkeypatch.undo()
    reset.join(10)
    assert rotated.status_code == 200 and not reset.is_alive()
    assert sid(rotated.get_json()["access_token"]) in revoked(internal)
    assert_problem(refresh(api, rotated.get_json()), 401)
