"""Billing's money paths at their edges: a full refund un-pays what the payment's credit paid on a later
invoice, and AutoPay records no failed night while payments says the charge is still running."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from services.billing.payments_client import PaymentsClient
from services.billing.usecases.autopay import AutopayRunner
from shared.db import utcnow
from tests.integration.billing_fixtures import invoice, paid

pytestmark = pytest.mark.integration

SETTINGS = ("practice_name", "currency", "timezone", "phone", "email", "address", "online_payments_enabled",
            "billing_documents_enabled", "autopay_enabled")


# --- refunds of a payment whose surplus became credit on a later invoice ----------------------------

def test_full_refund_also_unpays_what_the_payments_credit_paid_on_a_later_invoice(bstaff, bclient, codes, deliver):
    """service.py post_refund(): it reverses only allocations whose entry is the payment; the payment's surplus
    that create_invoice() later applied to a new invoice (ledger.apply_credit_to, allocation entry_id NULL) is
    never reversed. After a full refund invoice B still shows 50.00 paid by money the client got back, and
    the invoices no longer add up to the balance (25 000 open vs 30 000 owed)."""
    client_id, me = bclient()
    a = invoice(bstaff, client_id)  # 150.00
    payment = paid(deliver, client_id, 20000, a["id"])  # 150.00 to A, 50.00 credit
    b = invoice(bstaff, client_id)  # 150.00, 50.00 of it covered by that credit
    assert b["balance_due_cents"] == 10000
    deliver("payment.refunded", {"refund_id": str(uuid.uuid4()), "payment_id": payment, "client_id": client_id,
                                 "amount_cents": 20000})  # the whole payment goes back to the client
    balance = me.get("/api/v1/portal/account").get_json()["balance_cents"]
    assert balance == 30000  # both invoices, nothing paid
    unpaid = me.get("/api/v1/portal/invoices?status=unpaid").get_json()["items"]
    open_total = sum(i["balance_due_cents"] for i in unpaid)
    assert me.get(f"/api/v1/portal/invoices/{b['id']}").get_json()["balance_due_cents"] == 15000
    assert open_total == balance


# --- AutoPay: an answer that means "still running" is not a failed night ----------------------------

class _StubHttp:
    """Stands in for requests.Session inside PaymentsClient: answers queued per client, else succeeded."""

    def __init__(self):
        self.queued: dict[str, list[tuple[int, dict]]] = {}
        self.calls: list[dict] = []

    def post(self, url, timeout=None, headers=None, json=None):  # noqa: A002 (requests' own keyword)
        self.calls.append({"client_id": json["client_id"], "key": headers["Idempotency-Key"],
                           "amount_cents": json["amount_cents"]})
        queue = self.queued.get(json["client_id"]) or []
        status, body = queue.pop(0) if queue else (201, {"id": str(uuid.uuid4()), "status": "succeeded"})
        return _response(status, body)


def _response(status: int, body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/problem+json" if status >= 400 else "application/json"
    return response


@pytest.fixture
def autopay_on(deliver, billing_app):
    profile = billing_app.extensions["billing"].get_profile()
    settings = {k: profile[k] for k in SETTINGS if k in profile}
    deliver("practice.settings_changed", {"settings": {**settings, "autopay_enabled": True}})
    yield
    deliver("practice.settings_changed", {"settings": {**settings, "autopay_enabled": False}})


def test_autopay_does_not_record_a_failed_night_when_payments_says_the_charge_is_still_running(
        bstaff, bclient, codes, autopay_on, billing_app, billing_engine):
    """payments_client.py: every 4xx becomes status "failed", including payments' 409 request-in-progress
    (the first request under this key is still charging, e.g. after a billing-side timeout or a crashed
    worker). autopay.py then stores the attempt as failed (FINAL), counts a failed night towards switching
    AutoPay off, and the same night's rerun skips the client, though the charge may well have succeeded."""
    client_id, _ = bclient()
    assert bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True}).status_code == 200
    invoice(bstaff, client_id)  # 150.00
    http = _StubHttp()
    http.queued[client_id] = [(409, {"type": "/problems/request-in-progress", "status": 409,
                                     "title": "A request with this Idempotency-Key is still being processed",
                                     "detail": "The first request with this key is still running; try again."})]
    client = PaymentsClient("http://payments.invalid", "itest-internal", 5)
    client.http = http
    runner = AutopayRunner(sessions=billing_app.extensions["billing_autopay"].sessions, payments=client)
    night = utcnow() + timedelta(days=3000 + uuid.uuid4().int % 1000)  # a night no other test runs
    runner.run(trigger="test", now=night)
    with billing_engine.connect() as conn:
        status, = conn.execute(text("SELECT status FROM autopay_attempts WHERE client_id = :c"),
                               {"c": client_id}).one()
        failures = conn.execute(text("SELECT autopay_failures FROM accounts WHERE client_id = :c"),
                                {"c": client_id}).scalar_one()
    assert status != "failed" and failures == 0, (status, failures)
    # the operator reruns the night: the same key now answers the (succeeded) charge
    runner.run(trigger="test", now=night)
    mine = [c for c in http.calls if c["client_id"] == client_id]
    assert len(mine) == 2 and mine[0]["key"] == mine[1]["key"] and mine[1]["amount_cents"] == 15000
