"""Pay Now through the gateway, with real processes: the money moves once and lands on billing's ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.conftest import bearer
from tests.support import random_refs
from tests.support.processes import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "quiet-harbor-lantern-42"


def registered_client(stack, http, staff) -> tuple[str, dict]:
    address = random_refs.email("payer")
    client_id = http.post(f"{stack.api}/staff/clients", headers=staff, json={
        "first_name": "Morgan", "last_name": "Lee", "date_of_birth": "1980-03-03", "email": address}).json()["id"]
    url = http.post(f"{stack.api}/staff/clients/{client_id}/invitation", headers=staff).json()["invitation_url"]
    assert http.post(f"{stack.api}/auth/register", json={
        "token": url.split("token=")[1], "last_name": "Lee", "date_of_birth": "1980-03-03",
        "password": PASSWORD}).status_code == 201
    token = http.post(f"{stack.api}/auth/login", json={"email": address, "password": PASSWORD}).json()["access_token"]
    return client_id, bearer(token)


def test_pay_now_lands_on_the_ledger(stack, http, admin_token):
    staff = bearer(admin_token)
    assert http.patch(f"{stack.api}/staff/settings", headers=staff,
                      json={"online_payments_enabled": True}).status_code == 200
    code = f"E{uuid.uuid4().hex[:5]}".upper()
    assert http.post(f"{stack.api}/staff/service-codes", headers=staff,
                     json={"code": code, "description": "Psychotherapy, 53 minutes", "rate_cents": 17500}
                     ).status_code == 201
    client_id, me = registered_client(stack, http, staff)

    # billing learns of the client from client.created
    def invoiced():
        r = http.post(f"{stack.api}/staff/invoices", headers=staff,
                      json={"client_id": client_id, "date_of_service": "2026-11-20",
                            "lines": [{"service_code": code, "units": 1}]})
        return r.json() if r.status_code == 201 else None

    invoice = eventually(invoiced, timeout=15, interval=0.3, message="billing knows the client")
    account = eventually(lambda: (a := http.get(f"{stack.api}/portal/account", headers=me).json())
                         and a["pay_now"] and a, timeout=15, message="Pay Now offered")
    assert account["balance_cents"] == 17500

    # the browser tokenizes the card at the processor; our API only sees the token
    token = requests.post(f"{stack.processor}/v1/tokens", json={
        "card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": datetime.now(UTC).year + 2,
        "cvc": "123", "cardholder_name": "Morgan Lee", "postal_code": "21204"},
        headers={"Origin": stack.gateway}, timeout=5).json()["token"]

    def paid():
        r = http.post(f"{stack.api}/portal/payments", headers={**me, "Idempotency-Key": "e2e-pay-1"},
                      json={"invoice_ids": [invoice["id"]], "processor_token": token, "save_card": True})
        return r if r.status_code == 201 else None

    # payments learns the balance from balance.changed: poll until it has
    response = eventually(paid, timeout=15, interval=0.3, message="payment accepted")
    payment = response.json()
    assert payment["status"] == "succeeded" and payment["amount_cents"] == 17500
    history_url = f"{stack.api}/portal/account/history"
    ledger = eventually(lambda: [e for e in http.get(history_url, headers=me).json()["items"]
                                 if e["kind"] == "payment"], timeout=10, interval=0.1, message="payment on the ledger")
    assert ledger[0]["amount_cents"] == -17500 and ledger[0]["balance_after_cents"] == 0
    assert http.get(f"{stack.api}/portal/invoices/{invoice['id']}", headers=me).json()["status"] == "paid"
    # how soon it lands is a figure of make bench (bench.payments_part: ledger lag), not a limit here

    # the same key again: the same payment, no second charge
    again = http.post(f"{stack.api}/portal/payments", headers={**me, "Idempotency-Key": "e2e-pay-1"},
                      json={"invoice_ids": [invoice["id"]], "processor_token": token, "save_card": True})
    assert again.status_code == 201 and again.json()["id"] == payment["id"]
    assert len(http.get(f"{stack.api}/portal/payments", headers=me).json()["items"]) == 1
    cards = http.get(f"{stack.api}/portal/payment-methods", headers=me).json()["items"]
    assert [(c["last4"], c["is_default"]) for c in cards] == [("4242", True)]
    eventually(lambda: http.get(f"{stack.api}/portal/account", headers=me).json()["default_payment_method_id"]
               == cards[0]["id"], timeout=10, message="My Account shows the default card")
    receipt = http.get(f"{stack.api}/portal/payments/{payment['id']}/receipt", headers=me)
    assert receipt.status_code == 200 and receipt.headers["Content-Type"] == "application/pdf"
    docs = http.get(f"{stack.api}/portal/billing-documents", headers=me).json()["items"]
    pdf = http.get(f"{stack.gateway}{docs[0]['pdf_url']}", headers=me)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # a partial refund by staff re-opens part of the invoice on the ledger
    refund_url, key = f"{stack.api}/staff/payments/{payment['id']}/refunds", {"Idempotency-Key": "e2e-refund-1"}
    refund = http.post(refund_url, headers={**staff, **key},
                       json={"amount_cents": 5000, "reason": "Late cancellation waived"})
    assert refund.status_code == 201 and refund.json()["status"] == "succeeded"
    again = http.post(refund_url, headers={**staff, **key},
                      json={"amount_cents": 5000, "reason": "Late cancellation waived"})
    assert again.status_code == 201 and again.json()["id"] == refund.json()["id"]  # one key, one refund
    eventually(lambda: http.get(f"{stack.api}/portal/account", headers=me).json()["balance_cents"] == 5000,
               timeout=10, message="refund on the ledger")
    assert http.get(f"{stack.api}/portal/invoices/{invoice['id']}", headers=me).json()["balance_due_cents"] == 5000
    # the staff ledger shows the same, with running balance
    ledger_url = f"{stack.api}/staff/clients/{client_id}/ledger"
    kinds = [e["kind"] for e in http.get(ledger_url, headers=staff).json()["items"]]
    assert kinds == ["refund", "payment", "charge"]

    # the practice switches online payments off: the very next Pay Now is refused, though the
    # practice.settings_changed event may not have reached payments yet (payments asks identity)
    assert http.patch(f"{stack.api}/staff/settings", headers=staff,
                      json={"online_payments_enabled": False}).status_code == 200
    try:
        for attempt in range(5):
            refused = http.post(f"{stack.api}/portal/payments", headers={**me, "Idempotency-Key": f"e2e-off-{attempt}"},
                                json={"amount_cents": 100, "payment_method_id": cards[0]["id"]})
            assert refused.status_code == 403, refused.text
            assert refused.json()["type"] == "/problems/online-payments-off"
    finally:
        assert http.patch(f"{stack.api}/staff/settings", headers=staff,
                          json={"online_payments_enabled": True}).status_code == 200
