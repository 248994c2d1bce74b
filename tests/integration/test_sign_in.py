"""Sign-in, throttling, refresh rotation and reuse, sign-out, password reset, staff two-factor."""

from __future__ import annotations

import time

import pyotp
import pytest

from tests.integration.conftest import ADMIN_PASSWORD, STRONG_PASSWORD, assert_problem, login
from tests.support import random_refs

pytestmark = pytest.mark.integration
LOGIN = "/api/v1/auth/login"


def test_wrong_password_then_lockout_with_retry_after(api, registered_client):
    client, _, _ = registered_client()
    for _ in range(5):
        assert_problem(api.post(LOGIN, json={"email": client["email"], "password": "wrong password!"}), 401)
    locked = assert_problem(api.post(LOGIN, json={"email": client["email"], "password": STRONG_PASSWORD}), 429)
    assert locked["retry_after"] > 0
    response = api.post(LOGIN, json={"email": client["email"], "password": STRONG_PASSWORD})
    assert int(response.headers["Retry-After"]) > 0


def test_throttle_per_address_covers_many_accounts(api, identity_app):
    limit = identity_app.extensions["identity"].config.address_max_failures
    for _ in range(limit):
        assert_problem(api.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"}), 401)
    assert_problem(api.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"}), 429)


def test_login_bad_bodies(api):
    assert_problem(api.post(LOGIN, json={"email": "nobody"}), 422, field="email")
    assert_problem(api.post(LOGIN, json={"email": "a@b.test", "password": "x", "remember": True}), 422,
                   field="remember")
    assert_problem(api.post(LOGIN, data="{", headers={"Content-Type": "application/json"}), 400)


def test_refresh_rotates_and_reuse_revokes_the_family(api, registered_client):
    _, _, tokens = registered_client()
    first = api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert first.status_code == 200
    rotated = first.get_json()
    assert rotated["refresh_token"] != tokens["refresh_token"] and rotated["access_token"]
    assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    # the reuse ended the family: the newest token is dead too
    assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}), 401)


def test_logout_revokes_the_refresh_token(api, registered_client):
    _, _, tokens = registered_client()
    assert api.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": "forged"}), 401)


def test_password_reset_by_email(api, registered_client, mailbox):
    client, _, tokens = registered_client()
    unknown = random_refs.email()
    sent_before = len(mailbox.sent)
    assert api.post("/api/v1/auth/password-reset", json={"email": unknown}).status_code == 202
    assert len(mailbox.sent) == sent_before  # no mail, same answer: no account discovery
    assert api.post("/api/v1/auth/password-reset", json={"email": client["email"]}).status_code == 202
    token = mailbox.last(client["email"], "password_reset")["reset_url"].split("token=")[1]
    confirm = "/api/v1/auth/password-reset/confirm"
    assert_problem(api.post(confirm, json={"token": token, "password": "password123"}), 422, field="password")
    new_password = "a brand new harbour lamp 7"
    assert api.post(confirm, json={"token": token, "password": new_password}).status_code == 204
    assert_problem(api.post(confirm, json={"token": token, "password": new_password}), 410)
    assert_problem(api.post(LOGIN, json={"email": client["email"], "password": STRONG_PASSWORD}), 401)
    assert login(api, client["email"], new_password)["user"]["client_id"] == client["id"]
    # every earlier session ended with the old password
    assert_problem(api.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)


def test_staff_two_factor_sign_in(api, staff):
    email = random_refs.email("mfa")
    password = "Two factor staff passphrase 5!"
    staff.post("/api/v1/staff/users", json={"email": email, "password": password, "first_name": "Mo",
                                            "last_name": "Tan", "role": "staff"})
    member = api.as_(login(api, email, password)["access_token"])
    secret = member.post("/api/v1/staff/me/mfa/setup").get_json()["secret"]
    totp = pyotp.TOTP(secret)
    assert_problem(member.post("/api/v1/staff/me/mfa/enable", json={"code": "000000" if totp.now() != "000000"
                                                                    else "111111"}), 422, field="code")
    assert member.post("/api/v1/staff/me/mfa/enable", json={"code": totp.now()}).status_code == 204
    assert member.get("/api/v1/staff/me").get_json()["mfa_enabled"] is True

    challenge = api.post(LOGIN, json={"email": email, "password": password}).get_json()
    assert challenge["mfa_required"] is True and "access_token" not in challenge
    assert_problem(api.post("/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": "12345"}), 422,
                   field="code")
    wrong = f"{(int(totp.now()) + 1) % 1_000_000:06d}"
    assert_problem(api.post("/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": wrong}), 401)
    # the code used to enable is spent; the next step's code (within the +-1 step window) is not
    code = totp.at(time.time() + 30)
    done = api.post("/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": code})
    assert done.status_code == 200 and done.get_json()["user"]["role"] == "staff"
    replay = api.post("/api/v1/auth/mfa", json={"mfa_token": challenge["mfa_token"], "code": code})
    assert_problem(replay, 401)
    assert_problem(api.post("/api/v1/auth/mfa", json={"mfa_token": "forged", "code": code}), 401)


def test_admin_password_is_not_accepted_for_another_account(api):
    assert_problem(api.post(LOGIN, json={"email": random_refs.email(), "password": ADMIN_PASSWORD}), 401)


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/auth/refresh", {}, "refresh_token"),
    ("/api/v1/auth/refresh", {"refresh_token": 5}, "refresh_token"),
    ("/api/v1/auth/logout", {}, "refresh_token"),
    ("/api/v1/auth/logout", {"refresh_token": "x", "all": True}, "all"),
    ("/api/v1/auth/mfa", {"mfa_token": "t"}, "code"),
    ("/api/v1/auth/mfa", {"mfa_token": "t", "code": "abcdef"}, "code"),
    ("/api/v1/auth/password-reset", {"email": "not-an-email"}, "email"),
    ("/api/v1/auth/password-reset/confirm", {"token": "t"}, "password"),
    ("/api/v1/auth/password-reset/confirm", {"token": "t" * 600, "password": "x"}, "token"),
])
def test_auth_bad_bodies_answer_422_and_write_nothing(api, snapshot, path, body, field):
    before = snapshot()
    assert_problem(api.post(path, json=body), 422, field=field)
    before.assert_unchanged()


def test_mfa_endpoints_refuse_bad_input(api, staff, snapshot):
    before = snapshot()
    assert_problem(staff.post("/api/v1/staff/me/mfa/enable", json={"code": "12"}), 422, field="code")
    assert_problem(staff.post("/api/v1/staff/me/mfa/enable", json={"code": "123456"}), 409)  # no set-up started
    assert_problem(staff.post("/api/v1/staff/me/mfa/disable", json={}), 422, field="password")
    assert_problem(staff.post("/api/v1/staff/me/mfa/disable", json={"password": "not the password"}), 422,
                   field="password")
    before.assert_unchanged()
