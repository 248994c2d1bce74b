"""GET /api/v1/portal/dashboard: composed by the gateway from identity's, scheduling's, billing's and messaging's
answers; a service that is down leaves its part null and named, never a 500."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import bearer
from tests.e2e.test_pay_now import registered_client
from tests.support.processes import eventually, wait_http

pytestmark = pytest.mark.e2e


def test_the_dashboard_composes_the_clients_name_balance_and_switches(stack, http, admin_token):
    staff = bearer(admin_token)
    client_id, me = registered_client(stack, http, staff)
    answer = eventually(lambda: (r := http.get(f"{stack.api}/portal/dashboard", headers=me)).json().get(
        "balance_cents") is not None and r, timeout=15, message="billing knows the client")
    body = answer.json()
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    assert body["client"]["first_name"] == "Morgan" and body["balance_cents"] == 0 and body["currency"] == "USD"
    assert body["features"]["pay_now"] is False  # nothing owed
    # messaging's part: nothing from the practice yet (the red badge and the bell's count)
    assert body["unread_messages"] == 0 and body["unread_notifications"] == 0 and "messaging" not in body["unavailable"]
    assert body["pending_documents"] is None and "documents" in body["unavailable"]
    assert "identity" not in body["unavailable"] and "billing" not in body["unavailable"]
    # scheduling's part: nothing booked yet, and whether the practice takes requests online as identity has it
    assert body["upcoming_appointments"] == [] and "scheduling" not in body["unavailable"]
    switch = http.get(f"{stack.api}/staff/settings", headers=staff).json()["self_scheduling_enabled"]
    assert body["features"]["self_scheduling"] is switch


def test_the_dashboard_needs_a_client_token(stack, http, admin_token):
    assert http.get(f"{stack.api}/portal/dashboard").status_code == 401
    refused = http.get(f"{stack.api}/portal/dashboard", headers=bearer(admin_token))
    assert refused.status_code == 403 and refused.headers["Content-Type"] == "application/problem+json"
    assert http.get(f"{stack.api}/portal/dashboard", headers=bearer("not-a-token")).status_code == 401


def test_billing_down_leaves_the_balance_null_and_the_rest(stack, http, admin_token):
    _, me = registered_client(stack, http, bearer(admin_token))
    billing = stack.processes["billing"]
    billing.stop()
    try:
        answer = http.get(f"{stack.api}/portal/dashboard", headers=me)
        assert answer.status_code == 200
        body = answer.json()
        assert body["balance_cents"] is None and "billing" in body["unavailable"]
        assert body["client"]["last_name"] == "Lee"
    finally:
        billing.start()
        wait_http(stack.env["BILLING_URL"] + "/readyz", billing)


def test_scheduling_down_leaves_the_appointments_null_and_the_rest(stack, http, admin_token):
    _, me = registered_client(stack, http, bearer(admin_token))
    scheduling = stack.processes["scheduling"]
    scheduling.stop()
    try:
        answer = http.get(f"{stack.api}/portal/dashboard", headers=me)
        assert answer.status_code == 200
        body = answer.json()
        assert body["upcoming_appointments"] is None and body["features"]["self_scheduling"] is None
        assert "scheduling" in body["unavailable"] and body["client"]["last_name"] == "Lee"
    finally:
        scheduling.start()
        wait_http(stack.env["SCHEDULING_URL"] + "/readyz", scheduling)


def test_messaging_down_leaves_the_unread_counts_null_and_the_rest(stack, http, admin_token):
    _, me = registered_client(stack, http, bearer(admin_token))
    messaging = stack.processes["messaging"]
    messaging.stop()
    try:
        answer = http.get(f"{stack.api}/portal/dashboard", headers=me)
        assert answer.status_code == 200
        body = answer.json()
        assert body["unread_messages"] is None and body["unread_notifications"] is None
        assert "messaging" in body["unavailable"] and body["client"]["last_name"] == "Lee"
    finally:
        messaging.start()
        wait_http(stack.env["MESSAGING_URL"] + "/readyz", messaging)
