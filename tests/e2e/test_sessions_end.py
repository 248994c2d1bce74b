"""Sessions end when the user ends them: after a logout, a password reset, a two-factor change or a staff
deactivation, the access tokens issued before stop working at the gateway and at every service.

How soon is README's promise (about 2 s: each process polls identity's revoked sessions every
REVOCATION_REFRESH_SECONDS), a figure for `make bench`, not a limit here: these tests wait for the refusal
itself, with a deadline only so that a token that is never refused fails the test instead of hanging it."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.e2e.conftest import bearer
from tests.support import random_refs
from tests.support.processes import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "quiet-harbor-lantern-42"
STAFF_PASSWORD = "Session ending staff passphrase 5!"
REFUSED_GUARD = 30.0  # seconds: a hang guard, far beyond the revocation lag (not what is tested)


def client_checks(stack) -> dict[str, str]:
    """Where a client's token is checked: the gateway, and each service directly (behind the gateway's back)."""
    return {"gateway": f"{stack.api}/portal/me",
            "billing": f"{stack.env['BILLING_URL']}/api/v1/portal/account",
            "payments": f"{stack.env['PAYMENTS_URL']}/api/v1/portal/payment-methods"}


def staff_checks(stack) -> dict[str, str]:
    return {"gateway": f"{stack.api}/staff/me",
            "identity": f"{stack.identity}/api/v1/staff/clients?limit=1",
            "billing": f"{stack.env['BILLING_URL']}/api/v1/staff/service-codes",
            "payments": f"{stack.env['PAYMENTS_URL']}/api/v1/staff/payments?limit=1"}


def answers(http, urls: dict[str, str], token: str) -> dict[str, int]:
    return {name: http.get(url, headers=bearer(token), timeout=5).status_code for name, url in urls.items()}


def refused_everywhere(http, urls: dict[str, str], token: str) -> None:
    """Polls every place until each has answered 401 "the session has ended" for `token` (a place that refused
    once is not asked again: its list only grows). Fails if one never does (REFUSED_GUARD)."""
    refused: set[str] = set()
    last: dict[str, int] = {}

    def every_place_refused() -> bool:
        for name, url in urls.items():
            if name in refused:
                continue
            response = http.get(url, headers=bearer(token), timeout=5)
            last[name] = response.status_code
            if response.status_code == 401:
                assert response.headers["Content-Type"] == "application/problem+json", name
                assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
                assert "session has ended" in response.json()["detail"], (name, response.json())
                refused.add(name)
        return len(refused) == len(urls)

    try:
        eventually(every_place_refused, timeout=REFUSED_GUARD, interval=0.05,
                   message="every place refuses the ended session's token")
    except AssertionError as exc:
        still = {name: status for name, status in last.items() if name not in refused}
        raise AssertionError(f"{exc}; still letting it through: {still}") from None


def sign_in(stack, http, address: str, password: str) -> dict:
    response = http.post(f"{stack.api}/auth/login", json={"email": address, "password": password})
    assert response.status_code == 200, response.text
    return response.json()


def registered_client(stack, http, admin_token) -> str:
    """A client with a portal account whom billing and payments know (from client.created): their address."""
    staff = bearer(admin_token)
    address = random_refs.email("session")
    created = http.post(f"{stack.api}/staff/clients", headers=staff, json={
        "first_name": "Quinn", "last_name": "Arden", "date_of_birth": "1988-04-09", "email": address})
    assert created.status_code == 201, created.text
    url = http.post(f"{stack.api}/staff/clients/{created.json()['id']}/invitation",
                    headers=staff).json()["invitation_url"]
    assert http.post(f"{stack.api}/auth/register", json={
        "token": url.split("token=")[1], "last_name": "Arden", "date_of_birth": "1988-04-09",
        "password": PASSWORD}).status_code == 201
    return address


def staff_user(stack, http, admin_token, prefix: str = "staff") -> tuple[str, str]:
    """A new staff user: (user id, address)."""
    address = random_refs.email(prefix)
    created = http.post(f"{stack.api}/staff/users", headers=bearer(admin_token), json={
        "email": address, "password": STAFF_PASSWORD, "first_name": "Rowan", "last_name": "Hale", "role": "staff"})
    assert created.status_code == 201, created.text
    return created.json()["id"], address


def link_in(message, path: str) -> str:
    match = re.search(rf"{re.escape(path)}\?token=([A-Za-z0-9_\-]+)", message.get_body(("plain",)).get_content())
    assert match, "no link in the mail"
    return match.group(1)


def everywhere_ok(http, urls, token) -> None:
    """Every place takes the token (billing and payments learn a new client from client.created first)."""
    eventually(lambda: set(answers(http, urls, token).values()) == {200}, timeout=20, interval=0.2,
               message=f"every place takes the token (last {answers(http, urls, token)})")


def test_logout_ends_the_session_at_the_gateway_and_at_every_service(stack, http, admin_token):
    address = registered_client(stack, http, admin_token)
    tokens = sign_in(stack, http, address, PASSWORD)
    other = sign_in(stack, http, address, PASSWORD)  # the same user's other session (another device)
    urls = client_checks(stack)
    everywhere_ok(http, urls, tokens["access_token"])

    assert http.post(f"{stack.api}/auth/logout", json={"refresh_token": tokens["refresh_token"]}).status_code == 204
    refused_everywhere(http, urls, tokens["access_token"])
    # the other device's session was not the one ended
    assert set(answers(http, urls, other["access_token"]).values()) == {200}


def test_a_refreshed_token_of_an_ended_session_stops_too(stack, http, admin_token):
    """The session id is the refresh-token family: a token from a refresh belongs to the same session."""
    address = registered_client(stack, http, admin_token)
    first = sign_in(stack, http, address, PASSWORD)
    refreshed = http.post(f"{stack.api}/auth/refresh", json={"refresh_token": first["refresh_token"]}).json()
    urls = client_checks(stack)
    everywhere_ok(http, urls, refreshed["access_token"])
    assert http.post(f"{stack.api}/auth/logout",
                     json={"refresh_token": refreshed["refresh_token"]}).status_code == 204
    refused_everywhere(http, urls, first["access_token"])
    refused_everywhere(http, urls, refreshed["access_token"])


def test_a_password_reset_ends_every_session_of_the_staff_user(stack, http, admin_token):
    """The issue's probe: a staff token created a client 201 after that staff member's password was reset."""
    _, address = staff_user(stack, http, admin_token, "reset")
    token = sign_in(stack, http, address, STAFF_PASSWORD)["access_token"]
    new_client = {"first_name": "Ines", "last_name": "Vale", "date_of_birth": "1990-01-01"}
    assert http.post(f"{stack.api}/staff/clients", headers=bearer(token), json=new_client).status_code == 201
    everywhere_ok(http, staff_checks(stack), token)

    assert http.post(f"{stack.api}/auth/password-reset", json={"email": address}).status_code == 202
    mail = eventually(lambda: stack.mails_to(address), timeout=20, message="reset e-mail")[0]
    confirmed = http.post(f"{stack.api}/auth/password-reset/confirm", json={
        "token": link_in(mail, "/reset-password"), "password": "An entirely new harbour light 9"})
    assert confirmed.status_code in (200, 204), confirmed.text
    refused_everywhere(http, staff_checks(stack), token)
    created = http.post(f"{stack.api}/staff/clients", headers=bearer(token), json=new_client)
    assert created.status_code == 401, created.text


def test_each_change_of_two_factor_ends_every_session_of_the_user(stack, http, admin_token):
    """Setting up, turning on and turning off two-factor each end every session (a stolen token must not outlive
    the change); each answers the acting user a new session."""
    _, address = staff_user(stack, http, admin_token, "twofactor")
    acting = sign_in(stack, http, address, STAFF_PASSWORD)["access_token"]
    elsewhere = sign_in(stack, http, address, STAFF_PASSWORD)["access_token"]
    urls = staff_checks(stack)
    everywhere_ok(http, urls, elsewhere)

    setup = http.post(f"{stack.api}/staff/me/mfa/setup", headers=bearer(acting), json={"password": STAFF_PASSWORD})
    assert setup.status_code == 200, setup.text
    refused_everywhere(http, urls, elsewhere)
    refused_everywhere(http, urls, acting)
    totp = pyotp.TOTP(setup.json()["secret"])
    after_setup = setup.json()["access_token"]
    everywhere_ok(http, urls, after_setup)

    enabled = http.post(f"{stack.api}/staff/me/mfa/enable", headers=bearer(after_setup),
                        json={"code": totp.now(), "password": STAFF_PASSWORD})
    assert enabled.status_code == 200, enabled.text
    refused_everywhere(http, urls, after_setup)

    # signed in again with the second factor; turning it off ends that session too
    challenge = sign_in(stack, http, address, STAFF_PASSWORD)
    assert challenge["mfa_required"] is True
    done = http.post(f"{stack.api}/auth/mfa", json={"mfa_token": challenge["mfa_token"],
                                                    "code": totp.at(time.time() + 30)})
    assert done.status_code == 200, done.text
    with_mfa = done.json()["access_token"]
    everywhere_ok(http, urls, with_mfa)
    disabled = http.post(f"{stack.api}/staff/me/mfa/disable", headers=bearer(with_mfa),
                         json={"password": STAFF_PASSWORD})
    assert disabled.status_code == 200, disabled.text
    refused_everywhere(http, urls, with_mfa)
    everywhere_ok(http, urls, disabled.json()["access_token"])


def test_a_deactivated_staff_user_is_signed_out_everywhere(stack, http, admin_token):
    user_id, address = staff_user(stack, http, admin_token, "leaver")
    token = sign_in(stack, http, address, STAFF_PASSWORD)["access_token"]
    urls = staff_checks(stack)
    everywhere_ok(http, urls, token)
    patched = http.patch(f"{stack.api}/staff/users/{user_id}", headers=bearer(admin_token), json={"active": False})
    assert patched.status_code == 200, patched.text
    refused_everywhere(http, urls, token)
    assert http.post(f"{stack.api}/auth/login", json={"email": address, "password": STAFF_PASSWORD}
                     ).status_code == 401

