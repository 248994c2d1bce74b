"""The issue's flows by real HTTP through the gateway, with events on RabbitMQ and mail through SMTP."""

from __future__ import annotations

import json
import re

import pika
import pyotp
import pytest

from tests.e2e.conftest import bearer
from tests.support import random_refs
from tests.support.processes import eventually, wait_http

pytestmark = pytest.mark.e2e
PASSWORD = "quiet-harbor-lantern-42"


@pytest.fixture
def event_tap(stack):
    """A queue bound to every event on portal.events in this run's vhost."""
    connection = pika.BlockingConnection(pika.URLParameters(stack.env["AMQP_URL"]))
    channel = connection.channel()
    channel.exchange_declare("portal.events", exchange_type="topic", durable=True)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, "portal.events", routing_key="#")
    seen: list[dict] = []

    def events(event_type: str, client_id: str) -> list[dict]:
        while True:
            method, _props, body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            seen.append(json.loads(body))
        return [e for e in seen if e["type"] == event_type and e["payload"].get("client_id") == client_id]

    yield events
    connection.close()


def link_in(message, path: str) -> str:
    match = re.search(rf"{re.escape(path)}\?token=([A-Za-z0-9_\-]+)", message.get_body(("plain",)).get_content())
    assert match, "no link in the mail"
    return match.group(1)


def test_invite_register_sign_in_and_edit_my_information(stack, http, admin_token, event_tap):
    staff = bearer(admin_token)
    address = random_refs.email()
    created = http.post(f"{stack.api}/staff/clients", headers=staff, json={
        "first_name": "Riley", "last_name": "Nguyen", "date_of_birth": "1992-07-15", "email": address,
        "phone": "555-0142"})
    assert created.status_code == 201, created.text
    client_id = created.json()["id"]
    assert created.headers["X-Request-ID"]

    invitation = http.post(f"{stack.api}/staff/clients/{client_id}/invitation", headers=staff)
    assert invitation.status_code == 201 and invitation.json()["expires_at"]
    mail = eventually(lambda: stack.mails_to(address), timeout=20, message="invitation e-mail in the mail dir")[0]
    assert "portal invitation" in mail["Subject"]
    token = link_in(mail, "/register")
    assert invitation.json()["invitation_url"].endswith(token)

    info = http.get(f"{stack.api}/auth/registration/{token}").json()
    assert info["valid"] is True
    miss = http.post(f"{stack.api}/auth/register", json={"token": token, "last_name": "Smith",
                                                         "date_of_birth": "1992-07-15", "password": PASSWORD})
    assert miss.status_code == 422 and miss.headers["Content-Type"] == "application/problem+json"
    assert miss.json()["attempts_remaining"] == 4
    done = http.post(f"{stack.api}/auth/register", json={"token": token, "last_name": "nguyen",
                                                         "date_of_birth": "1992-07-15", "password": PASSWORD})
    assert done.status_code == 201, done.text

    tokens = http.post(f"{stack.api}/auth/login", json={"email": address, "password": PASSWORD}).json()
    me = bearer(tokens["access_token"])
    assert http.get(f"{stack.api}/portal/me", headers=me).json()["first_name"] == "Riley"
    patched = http.patch(f"{stack.api}/portal/me", headers=me, json={"phone": "555-0199",
                                                                     "emergency_contact": {"name": "Sam Nguyen",
                                                                                           "relationship": "Sibling"}})
    assert patched.status_code == 200 and patched.json()["phone"] == "555-0199"
    assert http.get(f"{stack.api}/staff/clients", headers=me).status_code == 403

    changes = http.get(f"{stack.api}/staff/profile-changes?status=pending&limit=200", headers=staff).json()
    assert any(c["client_id"] == client_id and "phone" in c["changes"] for c in changes["items"])

    for event_type in ("client.created", "client.invited", "client.registered", "profile.updated"):
        got = eventually(lambda t=event_type: event_tap(t, client_id), timeout=15, message=f"{event_type} on the bus")
        assert len(got) == 1, event_type

    # A new sign-in e-mail asks for the password, ends the sessions (the old token is refused at the gateway),
    # answers a new session, and the old address is told by mail.
    moved = "moved." + address
    assert http.patch(f"{stack.api}/portal/me", headers=me, json={"email": moved}).status_code == 422
    changed = http.patch(f"{stack.api}/portal/me", headers=me, json={"email": moved, "password": PASSWORD})
    assert changed.status_code == 200, changed.text
    assert changed.json()["email"] == moved
    tokens = changed.json()["session"]
    notice = eventually(lambda: [m for m in stack.mails_to(address) if "sign in with was changed" in m["Subject"]],
                        timeout=20, message="notice to the old address")
    assert "from your portal account" in notice[0].get_body(("plain",)).get_content()
    eventually(lambda: http.get(f"{stack.api}/portal/me", headers=me).status_code == 401, timeout=10,
               message="the token of the ended session refused at the gateway")
    me = bearer(tokens["access_token"])
    assert http.get(f"{stack.api}/portal/me", headers=me).json()["email"] == moved
    assert http.post(f"{stack.api}/auth/login", json={"email": address, "password": PASSWORD}).status_code == 401

    refreshed = http.post(f"{stack.api}/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 200
    assert http.post(f"{stack.api}/auth/logout", json={"refresh_token": refreshed.json()["refresh_token"]}) \
        .status_code == 204
    assert http.post(f"{stack.api}/auth/refresh", json={"refresh_token": refreshed.json()["refresh_token"]}) \
        .status_code == 401


def test_password_reset_by_mail(stack, http, admin_token):
    staff = bearer(admin_token)
    address = random_refs.email("reset")
    password = "Reset me staff passphrase 11!"
    assert http.post(f"{stack.api}/staff/users", headers=staff, json={
        "email": address, "password": password, "first_name": "Kim", "last_name": "Ode", "role": "staff"}
    ).status_code == 201
    assert http.post(f"{stack.api}/auth/password-reset", json={"email": address}).status_code == 202
    mail = eventually(lambda: stack.mails_to(address), timeout=20, message="reset e-mail")[0]
    token = link_in(mail, "/reset-password")
    new_password = "A completely fresh lighthouse 8"
    confirmed = http.post(f"{stack.api}/auth/password-reset/confirm", json={"token": token, "password": new_password})
    assert confirmed.status_code == 200 and confirmed.json()["mfa_enabled"] is False
    assert http.post(f"{stack.api}/auth/login", json={"email": address, "password": password}).status_code == 401
    assert http.post(f"{stack.api}/auth/login", json={"email": address, "password": new_password}).status_code == 200


def test_staff_two_factor_through_the_gateway(stack, http, admin_token):
    address = random_refs.email("mfa")
    password = "Second factor passphrase 12!"
    http.post(f"{stack.api}/staff/users", headers=bearer(admin_token), json={
        "email": address, "password": password, "first_name": "Ada", "last_name": "Q", "role": "staff"})
    token = http.post(f"{stack.api}/auth/login", json={"email": address, "password": password}).json()["access_token"]
    # Two-factor changes ask for the password again, end every earlier session and answer a new one.
    assert http.post(f"{stack.api}/staff/me/mfa/setup", headers=bearer(token), json={}).status_code == 422
    setup = http.post(f"{stack.api}/staff/me/mfa/setup", headers=bearer(token), json={"password": password}).json()
    totp = pyotp.TOTP(setup["secret"])
    enabled = http.post(f"{stack.api}/staff/me/mfa/enable", headers=bearer(setup["access_token"]),
                        json={"code": totp.now(), "password": password})
    assert enabled.status_code == 200 and enabled.json()["access_token"]
    challenge = http.post(f"{stack.api}/auth/login", json={"email": address, "password": password}).json()
    assert challenge["mfa_required"] is True
    import time

    done = http.post(f"{stack.api}/auth/mfa", json={"mfa_token": challenge["mfa_token"],
                                                    "code": totp.at(time.time() + 30)})
    assert done.status_code == 200 and done.json()["user"]["role"] == "staff"


def test_gateway_checks_tokens_and_answers_problems(stack, http, admin_token):
    no_token = http.get(f"{stack.api}/staff/clients")
    assert no_token.status_code == 401 and no_token.headers["Content-Type"] == "application/problem+json"
    forged = http.get(f"{stack.api}/staff/clients", headers=bearer(admin_token[:-4] + "AAAA"))
    assert forged.status_code == 401
    unknown = http.get(f"{stack.api}/staff/no-such-thing", headers=bearer(admin_token))
    assert unknown.status_code == 404 and unknown.json()["status"] == 404
    assert http.get(f"{stack.api}/elsewhere").status_code == 404
    echoed = http.get(f"{stack.api}/staff/settings", headers={**bearer(admin_token), "X-Request-ID": "trace-123"})
    assert echoed.status_code == 200 and echoed.headers["X-Request-ID"] == "trace-123"
    for base in (stack.gateway, stack.identity):
        assert http.get(f"{base}/healthz").status_code == 200
        assert http.get(f"{base}/openapi.json").json()["openapi"].startswith("3.")
    assert "http_requests_total" in http.get(f"{stack.identity}/metrics").text
    # The gateway's port is public: its metrics are on METRICS_PORT (tests/integration/test_gateway_conformance.py).
    assert http.get(f"{stack.gateway}/metrics").status_code == 404
    spec = http.get(f"{stack.identity}/openapi.json").json()
    assert "/api/v1/auth/login" in spec["paths"] and "requestBody" in spec["paths"]["/api/v1/auth/login"]["post"]


def test_logs_carry_request_ids_and_no_secrets(stack, http, admin_token):
    http.post(f"{stack.api}/auth/login", json={"email": "nobody@example.test", "password": "SecretPass-XYZ-123"},
              headers={"X-Request-ID": "log-check-1"})
    logs = "".join(p.log_path.read_text(errors="replace") for p in stack.processes.values())
    assert "SecretPass-XYZ-123" not in logs
    assert admin_token not in logs
    lines = [json.loads(line) for line in stack.processes["identity"].log_path.read_text().splitlines()
             if line.startswith("{")]
    assert all({"service", "request_id", "correlation_id"} <= set(line) for line in lines)


def test_stopped_identity_gives_503_and_the_gateway_stays_up(stack, http, admin_token):
    """Last in this module: stops identity, checks the gateway's answers, and starts it again."""
    identity = stack.processes["identity"]
    identity.stop()
    try:
        down = http.post(f"{stack.api}/auth/login", json={"email": "a@b.test", "password": "whatever-pass"})
        assert down.status_code in (502, 503) and down.headers["Content-Type"] == "application/problem+json"
        assert down.json()["status"] == down.status_code
        staff_down = http.get(f"{stack.api}/staff/clients", headers=bearer(admin_token))
        assert staff_down.status_code in (502, 503)
        assert http.get(f"{stack.gateway}/healthz").status_code == 200
    finally:
        identity.start()
        wait_http(f"{stack.identity}/readyz", identity)
    # Back: once every process has fetched identity's list of ended sessions again (each polls it every 2 s; a
    # new identity worker loads its own on its first request), a signed-in request goes through again. The 30 s
    # only keeps a broken build from hanging; later tests in this session need the whole stack back too.
    eventually(lambda: http.get(f"{stack.api}/staff/clients", headers=bearer(admin_token)).status_code == 200,
               timeout=30, interval=0.2, message="signed-in requests served again after identity restarted")


def test_the_pages_the_mails_link_to(stack, http):
    """Register and Reset password are pages of the portal (server-rendered, no script needed), under its CSP."""
    for path in ("/register?token=abc", "/reset-password?token=abc"):
        page = http.get(stack.gateway + path)
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    unknown = http.get(stack.gateway + "/register?token=abc")  # no such invitation: identity's 404, as a page
    assert unknown.status_code == 404 and "This link can no longer be used" in unknown.text
    assert 'name="password"' in http.get(stack.gateway + "/reset-password?token=abc").text
    assert http.get(f"{stack.gateway}/static/../app.py").status_code == 404
