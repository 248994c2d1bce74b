"""Sign-in, throttling, refresh rotation and reuse, sign-out, password reset, staff two-factor."""

from __future__ import annotations

import time
import uuid

import pyotp
import pytest

from tests.integration.conftest import ADMIN_PASSWORD, STRONG_PASSWORD, Api, assert_problem, login
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
    done = api.post(confirm, json={"token": token, "password": new_password})
    assert done.status_code == 200 and done.get_json()["mfa_enabled"] is False
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
    setup = member.post("/api/v1/staff/me/mfa/setup", json={"password": password}).get_json()
    member = api.as_(setup["access_token"])  # the set-up ended every session and answered a new one
    totp = pyotp.TOTP(setup["secret"])
    assert_problem(member.post("/api/v1/staff/me/mfa/enable", json={"code": "000000" if totp.now() != "000000"
                                                                    else "111111", "password": password}),
                   422, field="code")
    enabled = member.post("/api/v1/staff/me/mfa/enable", json={"code": totp.now(), "password": password})
    assert enabled.status_code == 200
    member = api.as_(enabled.get_json()["access_token"])
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
    assert_problem(staff.post("/api/v1/staff/me/mfa/enable", json={"code": "12", "password": ADMIN_PASSWORD}),
                   422, field="code")
    assert_problem(staff.post("/api/v1/staff/me/mfa/enable", json={"code": "123456"}), 422, field="password")
    assert_problem(staff.post("/api/v1/staff/me/mfa/enable", json={"code": "123456", "password": ADMIN_PASSWORD}),
                   409)  # no set-up started
    assert_problem(staff.post("/api/v1/staff/me/mfa/setup", json={}), 422, field="password")
    assert_problem(staff.post("/api/v1/staff/me/mfa/setup", json={"password": ADMIN_PASSWORD, "x": 1}), 422,
                   field="x")
    assert_problem(staff.post("/api/v1/staff/me/mfa/disable", json={}), 422, field="password")
    assert_problem(staff.post("/api/v1/staff/me/mfa/disable", json={"password": "not the password"}), 422,
                   field="password")
    before.assert_unchanged()


# --- two-factor changes ask for the password again, throttled like sign-in ----------------------------------
def new_staff(api, staff) -> tuple[str, str, Api]:
    email = random_refs.email("mfa")
    password = "Reauthenticating staff phrase 4!"
    assert staff.post("/api/v1/staff/users", json={"email": email, "password": password, "first_name": "Ri",
                                                   "last_name": "Ko", "role": "staff"}).status_code == 201
    return email, password, api.as_(login(api, email, password)["access_token"])


@pytest.mark.parametrize("path", ["/api/v1/staff/me/mfa/setup", "/api/v1/staff/me/mfa/enable",
                                  "/api/v1/staff/me/mfa/disable"])
def test_two_factor_changes_refuse_a_wrong_password_and_count_it(api, staff, identity_app, path):
    """A stolen access token alone must not bind the thief's authenticator (nor remove the owner's)."""
    email, password, member = new_staff(api, staff)
    body = {"password": "not my password at all"} | ({"code": "123456"} if path.endswith("enable") else {})
    limit = identity_app.extensions["identity"].config.account_max_failures
    for _ in range(limit):
        assert_problem(member.post(path, json=body), 422, field="password")
    # counted with the sign-in failures of the account: now locked, even with the right password
    locked = assert_problem(member.post(path, json={**body, "password": password}), 429)
    assert locked["retry_after"] > 0
    assert_problem(api.post(LOGIN, json={"email": email, "password": password}), 429)


def test_two_factor_set_up_with_the_right_password_works(api, staff):
    _, password, member = new_staff(api, staff)
    setup = member.post("/api/v1/staff/me/mfa/setup", json={"password": password})
    assert setup.status_code == 200 and setup.get_json()["otpauth_uri"].startswith("otpauth://totp/")


# --- password reset: what the mail and the answer say about two-factor -------------------------------------
def test_a_reset_tells_a_two_factor_user_that_two_factor_stays_on(api, staff, mailbox):
    from services.identity.mail import render

    email, password, member = new_staff(api, staff)
    setup = member.post("/api/v1/staff/me/mfa/setup", json={"password": password}).get_json()
    enabled = api.as_(setup["access_token"]).post("/api/v1/staff/me/mfa/enable", json={
        "code": pyotp.TOTP(setup["secret"]).now(), "password": password})
    assert enabled.status_code == 200
    assert api.post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
    context = mailbox.last(email, "password_reset")
    _, text = render("password_reset", context)
    assert "Two-factor sign-in stays on" in text
    done = api.post("/api/v1/auth/password-reset/confirm", json={"token": context["reset_url"].split("token=")[1],
                                                                 "password": "another calm orchard 83"})
    assert done.status_code == 200
    assert done.get_json()["mfa_enabled"] is True and "two-factor" in done.get_json()["detail"].lower()
    # and it does stay on: the new password leads to the code step
    assert api.post(LOGIN, json={"email": email, "password": "another calm orchard 83"}).get_json()["mfa_required"]


def test_a_reset_mail_without_two_factor_says_nothing_of_it(api, registered_client, mailbox):
    from services.identity.mail import render

    client, _, _ = registered_client()
    assert api.post("/api/v1/auth/password-reset", json={"email": client["email"]}).status_code == 202
    _, text = render("password_reset", mailbox.last(client["email"], "password_reset"))
    assert "two-factor" not in text.lower() and "reset-password?token=" in text


# --- password reset: throttled per account (mails) and per address (429) ------------------------------------
def reset_mails_to(mailbox, email) -> int:
    return sum(1 for to, template, _ in mailbox.sent if to == email and template == "password_reset")


def test_reset_requests_send_at_most_n_mails_per_account(api, identity_app, registered_client, mailbox):
    client, _, _ = registered_client()
    most = getattr(identity_app.extensions["identity"].config, "reset_account_max_mails", 3)
    for _ in range(most + 3):
        # each from another address: the per-address limit is not what stops them
        assert Api(api.client).post("/api/v1/auth/password-reset", json={"email": client["email"]}).status_code == 202
    assert reset_mails_to(mailbox, client["email"]) == most


def test_reset_requests_per_address_are_refused_with_retry_after(api, identity_app):
    most = getattr(identity_app.extensions["identity"].config, "reset_address_max_requests", 10)
    for _ in range(most):
        assert api.post("/api/v1/auth/password-reset", json={"email": random_refs.email()}).status_code == 202
    response = api.post("/api/v1/auth/password-reset", json={"email": random_refs.email()})
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
    # another address is not held back
    assert Api(api.client).post("/api/v1/auth/password-reset",
                                json={"email": random_refs.email()}).status_code == 202


def test_a_reset_runs_the_same_statements_for_known_and_unknown_addresses(api, identity_app, registered_client):
    """No timing tells whether an account exists: both paths send the same SQL (rows differ, work does not)."""
    from sqlalchemy import event

    engine = identity_app.extensions["identity"].sessions.kw["bind"]
    known = registered_client()[0]["email"]
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    def statements(email: str) -> list[str]:
        seen.clear()
        event.listen(engine, "before_cursor_execute", record)
        try:
            assert Api(api.client).post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return list(seen)

    statements(random_refs.email())  # warm: caches and the settings row are there for both
    unknown_path, known_path = statements(random_refs.email()), statements(known)
    assert known_path == unknown_path and known_path


# --- X-Forwarded-For is taken only from the configured proxies ---------------------------------------------
def test_a_direct_caller_cannot_spoof_its_address_to_dodge_the_throttle(api, identity_app):
    caller = {"REMOTE_ADDR": random_refs.address().replace("198.51", "203.0")}  # not a trusted proxy
    limit = identity_app.extensions["identity"].config.address_max_failures
    for _ in range(limit):
        assert_problem(api.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"},
                                headers={"X-Forwarded-For": random_refs.address()}, environ_base=caller), 401)
    assert_problem(api.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"},
                            headers={"X-Forwarded-For": random_refs.address()}, environ_base=caller), 429)


def test_behind_the_gateway_the_client_is_the_address_the_gateway_saw(api, identity_app):
    """The gateway appends its peer to whatever the client sent: the right-most untrusted address counts."""
    client_address = random_refs.address()
    limit = identity_app.extensions["identity"].config.address_max_failures

    def attempt():
        spoofed = f"{random_refs.address()}, {client_address}"
        return api.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"},
                        headers={"X-Forwarded-For": spoofed}, environ_base={"REMOTE_ADDR": "127.0.0.1"})

    for _ in range(limit):
        assert_problem(attempt(), 401)
    assert_problem(attempt(), 429)


# --- a pending two-factor step is bound to the credentials it was issued for ---------------------------------
@pytest.fixture
def two_factor_member(api, staff):
    """A staff user with two-factor on: (email, password, user id, TOTP)."""
    email = random_refs.email("mfa")
    password = "Pending step staff phrase 3!"
    created = staff.post("/api/v1/staff/users", json={"email": email, "password": password, "first_name": "Lu",
                                                       "last_name": "Vo", "role": "staff"})
    assert created.status_code == 201
    member = api.as_(login(api, email, password)["access_token"])
    setup = member.post("/api/v1/staff/me/mfa/setup", json={"password": password}).get_json()
    totp = pyotp.TOTP(setup["secret"])
    enabled = api.as_(setup["access_token"]).post("/api/v1/staff/me/mfa/enable",
                                                   json={"code": totp.now(), "password": password})
    assert enabled.status_code == 200, enabled.get_json()
    return email, password, created.get_json()["id"], totp


def mfa_step(api, email, password) -> str:
    challenge = api.post(LOGIN, json={"email": email, "password": password}).get_json()
    assert challenge["mfa_required"] is True
    return challenge["mfa_token"]


def test_a_password_reset_ends_a_pending_two_factor_step(api, two_factor_member, mailbox):
    """The step was earned with the old password: whoever held it (it was the password a reset takes away) must
    not finish the sign-in once the password has changed."""
    email, password, _, totp = two_factor_member
    pending = mfa_step(api, email, password)
    assert api.post("/api/v1/auth/password-reset", json={"email": email}).status_code == 202
    token = mailbox.last(email, "password_reset")["reset_url"].split("token=")[1]
    new_password = "a quiet new lighthouse 58"
    assert api.post("/api/v1/auth/password-reset/confirm",
                    json={"token": token, "password": new_password}).status_code == 200
    code = totp.at(time.time() + 30)
    refused = assert_problem(api.post("/api/v1/auth/mfa", json={"mfa_token": pending, "code": code}), 401)
    assert "sign in again" in refused["detail"]
    # a step earned with the new password works, with that very code (the refusal spent nothing)
    fresh = mfa_step(api, email, new_password)
    assert api.post("/api/v1/auth/mfa", json={"mfa_token": fresh, "code": code}).status_code == 200


def test_a_deactivation_ends_a_pending_two_factor_step(api, staff, two_factor_member):
    email, password, user_id, totp = two_factor_member
    pending = mfa_step(api, email, password)
    assert staff.patch(f"/api/v1/staff/users/{user_id}", json={"active": False}).status_code == 200
    assert_problem(api.post("/api/v1/auth/mfa", json={"mfa_token": pending, "code": totp.at(time.time() + 30)}),
                   401)


# --- an IPv6 client is counted by its /64: one subscriber holds all of it ---------------------------------------
def a_64() -> str:
    n = uuid.uuid4().int
    return f"2001:db8:{(n >> 16) % 65536:x}:{n % 65536:x}"


def test_sign_in_failures_from_one_ipv6_64_are_counted_together(api, identity_app):
    prefix = a_64()
    limit = identity_app.extensions["identity"].config.address_max_failures
    for host in range(1, limit + 1):
        rotating = api.as_(None)
        rotating.address = f"{prefix}::{host:x}"
        assert_problem(rotating.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"}), 401)
    last = api.as_(None)
    last.address = f"{prefix}:ffff:ffff:ffff:ffff"
    assert_problem(last.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"}), 429)
    neighbour = api.as_(None)
    neighbour.address = f"{a_64()}::1"
    assert_problem(neighbour.post(LOGIN, json={"email": random_refs.email(), "password": "guess guess"}), 401)


def test_reset_requests_from_one_ipv6_64_are_counted_together(api, identity_app):
    prefix = a_64()
    limit = identity_app.extensions["identity"].config.reset_address_max_requests
    for host in range(1, limit + 1):
        rotating = api.as_(None)
        rotating.address = f"{prefix}::{host:x}"
        assert rotating.post("/api/v1/auth/password-reset", json={"email": random_refs.email()}).status_code == 202
    last = api.as_(None)
    last.address = f"{prefix}::abcd"
    assert_problem(last.post("/api/v1/auth/password-reset", json={"email": random_refs.email()}), 429)
