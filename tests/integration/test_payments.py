"""Payments on real PostgreSQL against the real sandbox processor: cards on file, Pay Now exactly once,
concurrency, timeouts and reconciliation, refunds, bad input, isolation, and no card data anywhere."""

from __future__ import annotations

import re
import subprocess
import threading
import uuid

import pytest
import requests
from sqlalchemy import text

from tests.integration.conftest import assert_problem
from tests.integration.payments_fixtures import CARDS, pay, payments_outbox, tokenize
from tests.support.processes import eventually

pytestmark = pytest.mark.integration
METHODS = "/api/v1/portal/payment-methods"


# --- cards on file -----------------------------------------------------------------------------

def test_cards_on_file(payer, sandbox, pstaff, payments_engine):
    client_id, me, _ = payer()
    first = me.post(METHODS, json={"processor_token": tokenize(sandbox[0], "visa")})
    assert first.status_code == 201
    card = first.get_json()
    assert card["brand"] == "visa" and card["last4"] == "4242" and card["is_default"] is True
    assert "processor_token" not in card and "fingerprint" not in card
    second = me.post(METHODS, json={"processor_token": tokenize(sandbox[0], "mastercard")}).get_json()
    assert second["is_default"] is False  # only the first card becomes the default by itself
    assert me.post(f"{METHODS}/{second['id']}/default").get_json()["is_default"] is True
    listed = me.get(METHODS).get_json()["items"]
    assert [(c["last4"], c["is_default"]) for c in listed] == [("4444", True), ("4242", False)]
    assert me.call("DELETE", f"{METHODS}/{second['id']}").status_code == 204
    assert [(c["last4"], c["is_default"]) for c in me.get(METHODS).get_json()["items"]] == [("4242", True)]
    defaults = [e["payment_method_id"] for e in payments_outbox(payments_engine, "payment_method.default_changed",
                                                                client_id=client_id)]
    assert defaults == [card["id"], second["id"], card["id"]]  # first card, made default, default removed
    assert_problem(me.post(METHODS, json={"processor_token": tokenize(sandbox[0], "visa")}), 409)  # saved already
    # staff see a client's cards but can never add one
    assert_problem(pstaff.post(f"/api/v1/staff/clients/{uuid.uuid4()}/payment-methods",
                               json={"processor_token": "tok"}), 403)
    assert_problem(pstaff.post(METHODS, json={"processor_token": tokenize(sandbox[0], "visa")}), 403)


def test_bad_cards_write_nothing(payer, sandbox, psnapshot):
    _, me, _ = payer()
    before = psnapshot()
    assert_problem(me.post(METHODS, json={"processor_token": "tok_forged"}), 422, field="processor_token")
    assert_problem(me.post(METHODS, json={"processor_token": tokenize(sandbox[0], "visa"), "make_default": "yes"}),
                   422, field="make_default")
    assert_problem(me.post(METHODS, json={"card_number": CARDS["visa"]}), 422, field="card_number")
    assert_problem(me.post(f"{METHODS}/{uuid.uuid4()}/default"), 404)
    assert_problem(me.call("DELETE", f"{METHODS}/{uuid.uuid4()}"), 404)
    before.assert_unchanged()


def test_another_clients_card_is_not_found(payer, sandbox):
    _, a, _ = payer()
    _, b, _ = payer()
    card = a.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    assert_problem(b.post(f"{METHODS}/{card['id']}/default"), 404)
    assert_problem(b.call("DELETE", f"{METHODS}/{card['id']}"), 404)
    assert_problem(pay(b, {"pay_balance": True, "payment_method_id": card["id"]}), 404)
    assert b.get(METHODS).get_json()["items"] == []


def test_the_token_behind_another_clients_card_is_neither_saved_nor_charged(payer, sandbox, psnapshot):
    _, a, _ = payer()
    _, b, _ = payer()
    token = tokenize(sandbox[0])
    assert a.post(METHODS, json={"processor_token": token}).status_code == 201
    before = psnapshot()
    refused = assert_problem(b.post(METHODS, json={"processor_token": token}), 422, field="processor_token")
    assert "4242" not in refused["detail"]  # nothing of A's card is shown to B
    assert_problem(b.post(METHODS, json={"processor_token": token, "make_default": True}), 422,
                   field="processor_token")
    assert_problem(pay(b, {"amount_cents": 1000, "processor_token": token}), 422, field="processor_token")
    assert_problem(pay(b, {"amount_cents": 1000, "processor_token": token, "save_card": True}), 422,
                   field="processor_token")
    before.assert_unchanged()
    assert b.get(METHODS).get_json()["items"] == []


def test_a_token_used_for_one_payment_cannot_pay_again(payer, sandbox):
    _, me, _ = payer()
    token = tokenize(sandbox[0])
    assert pay(me, {"amount_cents": 1000, "processor_token": token}).get_json()["status"] == "succeeded"
    assert_problem(pay(me, {"amount_cents": 1000, "processor_token": token}), 422, field="processor_token")
    assert_problem(me.post(METHODS, json={"processor_token": token}), 422, field="processor_token")


def test_a_saved_card_keeps_the_processors_payment_method_never_the_token(payer, sandbox, payments_engine):
    client_id, me, _ = payer()
    token = tokenize(sandbox[0])
    card = me.post(METHODS, json={"processor_token": token}).get_json()
    paid = pay(me, {"amount_cents": 700, "processor_token": tokenize(sandbox[0], "mastercard"), "save_card": True})
    assert paid.get_json()["status"] == "succeeded"
    with payments_engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text("SELECT * FROM payment_methods WHERE client_id = :c"),
                                              {"c": client_id}).mappings()]
        payments = [dict(r) for r in conn.execute(text("SELECT * FROM payments WHERE client_id = :c"),
                                                  {"c": client_id}).mappings()]
    assert len(rows) == 2 and {r["id"] for r in rows} >= {card["id"]}
    for row in rows:
        assert row["processor_payment_method_id"].startswith("pm_") and row["processor_customer_id"].startswith("cus_")
        assert not any(str(v).startswith("tok_") for v in row.values()), row
    assert len({r["processor_customer_id"] for r in rows}) == 1  # the client is one customer at the processor
    assert not any(str(v).startswith("tok_") for p in payments for v in p.values()), payments
    # the saved card charges by payment method, with its customer
    again = pay(me, {"amount_cents": 300, "payment_method_id": card["id"]}).get_json()
    assert again["status"] == "succeeded" and again["method"]["last4"] == "4242"


def test_a_refused_payment_spends_no_token(payer, sandbox, psnapshot):
    _, me, _ = payer(5000)
    token = tokenize(sandbox[0])
    before = psnapshot()
    body = {"amount_cents": 5001, "processor_token": token, "save_card": True}
    assert_problem(pay(me, body, key="too-much"), 422, field="amount_cents")
    before.assert_unchanged()
    # the same card, the same key, once the amount is right: saved and charged
    paid = pay(me, {**body, "amount_cents": 5000}, key="too-much").get_json()
    assert paid["status"] == "succeeded" and paid["payment_method_id"]
    assert [c["id"] for c in me.get(METHODS).get_json()["items"]] == [paid["payment_method_id"]]


@pytest.mark.parametrize("token", ["../../v1/charges", "tok_x/../../charges", "..", "tok x", "tok_\u00e9",
                                   "tok?reference=1", "%2e%2e"])
def test_a_processor_token_must_look_like_one(payer, psnapshot, token):
    _, me, _ = payer()
    before = psnapshot()
    assert_problem(me.post(METHODS, json={"processor_token": token}), 422, field="processor_token")
    assert_problem(pay(me, {"amount_cents": 100, "processor_token": token}), 422, field="processor_token")
    before.assert_unchanged()


# --- paying ------------------------------------------------------------------------------------

def test_pay_the_balance_with_a_saved_card(payer, sandbox, payments_engine):
    client_id, me, invoices = payer(12500)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    response = pay(me, {"pay_balance": True, "payment_method_id": card["id"], "note": "November sessions"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "succeeded" and body["amount_cents"] == 12500 and body["failure_code"] is None
    assert body["receipt_url"].endswith(f"/payments/{body['id']}/receipt")
    succeeded = payments_outbox(payments_engine, "payment.succeeded", payment_id=body["id"])
    assert succeeded == [{"payment_id": body["id"], "client_id": client_id, "amount_cents": 12500, "currency": "USD",
                          "invoice_ids": [], "processor_charge_id": succeeded[0]["processor_charge_id"],
                          "method": {"brand": "visa", "last4": "4242"}, "source": "portal"}]
    assert succeeded[0]["processor_charge_id"].startswith("ch_")  # the sandbox's charge id
    assert payments_outbox(payments_engine, "payment.attempted", payment_id=body["id"])[0]["method_last4"] == "4242"
    receipt = me.get(body["receipt_url"].replace("/api/v1/portal", "/api/v1/portal"))
    assert receipt.status_code == 200 and receipt.data.startswith(b"%PDF")
    history = me.get("/api/v1/portal/payments").get_json()["items"]
    assert [p["id"] for p in history] == [body["id"]]
    # the balance is spoken for until billing posts it: nothing more to pay
    assert_problem(pay(me, {"pay_balance": True, "payment_method_id": card["id"]}), 422)


def test_pay_chosen_invoices_with_a_new_card_saved_as_default(payer, sandbox):
    _, me, invoices = payer(30000, invoices=[10000, 20000])
    response = pay(me, {"invoice_ids": [invoices[1]], "processor_token": tokenize(sandbox[0], "mastercard"),
                        "save_card": True, "make_default": True})
    body = response.get_json()
    assert body["status"] == "succeeded" and body["amount_cents"] == 20000 and body["invoice_ids"] == [invoices[1]]
    assert body["invoice_numbers"] == [900002]
    cards = me.get(METHODS).get_json()["items"]
    assert [(c["last4"], c["is_default"]) for c in cards] == [("4444", True)]
    partial = pay(me, {"amount_cents": 2500, "payment_method_id": cards[0]["id"]}).get_json()
    assert partial["status"] == "succeeded" and partial["amount_cents"] == 2500


@pytest.mark.parametrize("card, code", [("declined", "card_declined"), ("insufficient", "insufficient_funds"),
                                        ("cvc", "incorrect_cvc"), ("error", "processing_error"),
                                        ("expired", "expired_card")])
def test_failed_charges_say_why_and_post_nothing(payer, sandbox, payments_engine, card, code):
    _, me, _ = payer()
    body = pay(me, {"amount_cents": 5000, "processor_token": tokenize(sandbox[0], card)}).get_json()
    assert body["status"] == "failed" and body["failure_code"] == code
    assert len(body["failure_message"]) > 20  # a sentence a person understands, not a code
    assert payments_outbox(payments_engine, "payment.failed", payment_id=body["id"])[0]["failure_code"] == code
    assert payments_outbox(payments_engine, "payment.succeeded", payment_id=body["id"]) == []
    # a failed payment holds nothing back: the whole balance is payable again
    again = pay(me, {"pay_balance": True, "processor_token": tokenize(sandbox[0], "visa")}).get_json()
    assert again["status"] == "succeeded" and again["amount_cents"] == 10000


def test_a_saved_card_that_has_expired_is_refused_before_any_charge(payer, sandbox, psnapshot, payments_engine):
    _, me, _ = payer()
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    with payments_engine.begin() as conn:  # time passes: the card on file expires
        conn.execute(text("UPDATE payment_methods SET exp_year = 2020 WHERE id = :id"), {"id": card["id"]})
    before = psnapshot()
    refused = assert_problem(pay(me, {"amount_cents": 1000, "payment_method_id": card["id"]}), 422)
    assert refused["failure_code"] == "expired_card"
    before.assert_unchanged()


# --- exactly once ------------------------------------------------------------------------------

def test_same_key_same_body_returns_the_first_answer_and_charges_once(payer, sandbox, payments_engine):
    client_id, me, _ = payer()
    token = tokenize(sandbox[0])
    body = {"amount_cents": 4000, "processor_token": token}
    first = pay(me, body, key="key-1")
    second = pay(me, body, key="key-1")
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert_problem(pay(me, {**body, "amount_cents": 4001}, key="key-1"), 409)
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments WHERE client_id = :c"), {"c": client_id}).scalar() == 1
    charge = requests.get(f"{sandbox[0]}/v1/charges", params={"reference": first.get_json()["id"]},
                          headers={"Authorization": "Bearer sk_test_itest"}, timeout=5)
    assert charge.status_code == 200 and charge.json()["amount_cents"] == 4000


def test_same_key_at_the_same_moment_charges_once(payer, sandbox, payments_engine, payments_app, signer):
    client_id, me, _ = payer()
    token = tokenize(sandbox[0])
    answers, barrier = [], threading.Barrier(4)

    def attempt():
        client = payments_app.test_client()
        barrier.wait()
        answers.append(client.post("/api/v1/portal/payments", json={"amount_cents": 3000, "processor_token": token},
                                   headers={"Idempotency-Key": "same-moment", "Authorization": f"Bearer {me.token}"}))

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {a.status_code for a in answers} == {201}
    assert len({a.get_json()["id"] for a in answers}) == 1
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments WHERE client_id = :c"), {"c": client_id}).scalar() == 1


def test_concurrent_different_payments_never_exceed_the_balance(payer, sandbox, payments_app, payments_engine):
    client_id, me, _ = payer(10000)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    answers, barrier = [], threading.Barrier(6)

    def attempt():
        client = payments_app.test_client()
        barrier.wait()
        answers.append(client.post("/api/v1/portal/payments",
                                   json={"amount_cents": 3000, "payment_method_id": card["id"]},
                                   headers={"Idempotency-Key": uuid.uuid4().hex,
                                            "Authorization": f"Bearer {me.token}"}))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    ok = [a for a in answers if a.status_code == 201]
    assert len(ok) == 3 and all(a.get_json()["status"] == "succeeded" for a in ok)
    assert sorted(a.status_code for a in answers) == [201, 201, 201, 422, 422, 422]
    with payments_engine.connect() as conn:
        total = conn.execute(text("SELECT coalesce(sum(amount_cents), 0) FROM payments WHERE client_id = :c "
                                  "AND status = 'succeeded'"), {"c": client_id}).scalar()
    assert total == 9000


def test_timeout_leaves_processing_and_reconciliation_settles_it_once(payer, sandbox, payments_app, payments_engine):
    client_id, me, _ = payer()
    body = {"amount_cents": 6000, "processor_token": tokenize(sandbox[0], "slow")}
    answer = pay(me, body, key="slow-1").get_json()
    assert answer["status"] == "processing"
    assert payments_outbox(payments_engine, "payment.succeeded", payment_id=answer["id"]) == []
    # while processing, the amount is held: only the rest can be paid
    assert_problem(pay(me, {"amount_cents": 4001, "processor_token": tokenize(sandbox[0])}), 422)
    # the sandbox recorded the charge before its slow answer: reconciliation finds it (asked until it does)
    eventually(lambda: payments_app.extensions["payments"].reconcile(older_than_seconds=0)["succeeded"] >= 1,
               timeout=10, message="reconciliation never found the slow charge")
    assert me.get(f"/api/v1/portal/payments/{answer['id']}").get_json()["status"] == "succeeded"
    assert len(payments_outbox(payments_engine, "payment.succeeded", payment_id=answer["id"])) == 1
    payments_app.extensions["payments"].reconcile(older_than_seconds=0)  # again: nothing twice
    assert len(payments_outbox(payments_engine, "payment.succeeded", payment_id=answer["id"])) == 1
    assert pay(me, body, key="slow-1").get_json()["status"] == "succeeded"  # the same payment, settled


# --- bad input ---------------------------------------------------------------------------------

def test_bad_payments_charge_nothing_and_write_nothing(payer, sandbox, psnapshot, pdeliver):
    client_id, me, invoices = payer(10000)
    _, other, other_invoices = payer()
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    removed = me.post(METHODS, json={"processor_token": tokenize(sandbox[0], "mastercard")}).get_json()
    me.call("DELETE", f"{METHODS}/{removed['id']}")
    saved = {"payment_method_id": card["id"]}
    before = psnapshot()
    assert_problem(me.post("/api/v1/portal/payments", json={"amount_cents": 100, **saved}), 400)  # no key
    for body, status, field in [
        ({"amount_cents": 0, **saved}, 422, "amount_cents"),
        ({"amount_cents": -500, **saved}, 422, "amount_cents"),
        ({"amount_cents": 12.5, **saved}, 422, "amount_cents"),
        ({"amount_cents": "100", **saved}, 422, "amount_cents"),
        ({"amount_cents": 10001, **saved}, 422, "amount_cents"),
        ({"amount_cents": 100, "currency": "EUR", **saved}, 422, "currency"),
        ({"amount_cents": 100}, 422, "payment_method_id"),
        ({"amount_cents": 100, "card_number": CARDS["visa"], **saved}, 422, "card_number"),
        ({"amount_cents": 100, "payment_method_id": removed["id"]}, 404, None),
        ({"amount_cents": 100, "payment_method_id": str(uuid.uuid4())}, 404, None),
        ({"invoice_ids": [other_invoices[0]], **saved}, 404, "invoice_ids"),
        ({"pay_balance": True, "amount_cents": 5, **saved}, 422, "pay_balance"),
        ({**saved}, 422, "amount_cents"),
    ]:
        assert_problem(pay(me, body), status, field=field)
    before.assert_unchanged()
    # a key refused before any charge can be used again once the request is right
    assert_problem(pay(me, {"amount_cents": 10001, **saved}, key="fix-me"), 422)
    assert pay(me, {"amount_cents": 100, **saved}, key="fix-me").status_code == 201


def test_online_payments_off_is_403(payer, sandbox, pdeliver, psnapshot):
    _, me, _ = payer()
    pdeliver("practice.settings_changed", {"settings": {"online_payments_enabled": False}})
    try:
        before = psnapshot()
        assert_problem(pay(me, {"amount_cents": 100, "processor_token": tokenize(sandbox[0])}), 403)
        before.assert_unchanged()
    finally:
        pdeliver("practice.settings_changed", {"settings": {"online_payments_enabled": True}})


def test_one_client_cannot_see_another_clients_payments(payer, sandbox):
    _, a, _ = payer()
    _, b, _ = payer()
    paid = pay(a, {"amount_cents": 1000, "processor_token": tokenize(sandbox[0])}).get_json()
    assert_problem(b.get(f"/api/v1/portal/payments/{paid['id']}"), 404)
    assert_problem(b.get(f"/api/v1/portal/payments/{paid['id']}/receipt"), 404)
    assert b.get("/api/v1/portal/payments").get_json()["items"] == []


# --- refunds -----------------------------------------------------------------------------------

def test_refunds_partial_and_never_more_than_paid(payer, sandbox, pstaff, payments_engine, psnapshot):
    client_id, me, _ = payer(10000)
    paid = pay(me, {"amount_cents": 8000, "processor_token": tokenize(sandbox[0])}).get_json()
    url = f"/api/v1/staff/payments/{paid['id']}/refund"
    first = pstaff.post(url, json={"amount_cents": 3000, "reason": "Cancelled session"})
    assert first.status_code == 201 and first.get_json()["status"] == "succeeded"
    refunded = payments_outbox(payments_engine, "payment.refunded", payment_id=paid["id"])
    assert refunded[0]["amount_cents"] == 3000 and refunded[0]["client_id"] == client_id
    before = psnapshot()
    assert_problem(pstaff.post(url, json={"amount_cents": 5001, "reason": "Too much"}), 422, field="amount_cents")
    assert_problem(pstaff.post(url, json={"amount_cents": 100}), 422, field="reason")
    assert_problem(pstaff.post(f"/api/v1/staff/payments/{uuid.uuid4()}/refund",
                               json={"amount_cents": 100, "reason": "Nope"}), 404)
    assert_problem(me.post(url, json={"amount_cents": 100, "reason": "Me"}), 403)
    before.assert_unchanged()

    answers, barrier = [], threading.Barrier(4)

    def refund():
        barrier.wait()
        answers.append(pstaff.client.post(url, json={"amount_cents": 2000, "reason": "Concurrent"},
                                          headers=pstaff.headers()))

    threads = [threading.Thread(target=refund) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(a.status_code for a in answers) == [201, 201, 422, 422]
    assert pstaff.get(f"/api/v1/staff/payments/{paid['id']}").get_json()["refunded_cents"] == 7000


# --- AutoPay endpoint --------------------------------------------------------------------------

def test_internal_autopay_charge_uses_the_default_card_once(payer, sandbox, payments_app):
    client_id, me, _ = payer(7000)
    me.post(METHODS, json={"processor_token": tokenize(sandbox[0])})
    client = payments_app.test_client()
    url = "/internal/v1/autopay-charges"
    body = {"client_id": client_id, "amount_cents": 7000, "currency": "USD"}
    assert_problem(client.post(url, json=body, headers={"Idempotency-Key": "n1"}), 401)
    assert_problem(client.post(url, json=body, headers={"Idempotency-Key": "n1", "Authorization": "Bearer wrong"}), 401)
    headers = {"Idempotency-Key": f"autopay:2026-11-23:{client_id}", "Authorization": "Bearer itest-internal"}
    first = client.post(url, json=body, headers=headers)
    again = client.post(url, json=body, headers=headers)
    assert first.status_code == 201 and first.get_json()["status"] == "succeeded"
    assert first.get_json()["source"] == "autopay" and again.get_json()["id"] == first.get_json()["id"]
    no_card_id, _, _ = payer()
    refused = client.post(url, json={**body, "client_id": no_card_id}, headers={**headers, "Idempotency-Key": "x"})
    assert_problem(refused, 422)
    assert refused.get_json()["failure_code"] == "no_payment_method"


# --- no card data anywhere ---------------------------------------------------------------------

def test_no_card_number_or_cvc_in_databases_or_logs(payer, sandbox, migrated, caplog):
    _, me, _ = payer(50000)
    for card in ("visa", "mastercard", "declined", "insufficient"):
        pay(me, {"amount_cents": 1000, "processor_token": tokenize(sandbox[0], card, cvc="987"), "save_card": True})
    for service in ("payments", "billing", "identity"):
        dump = subprocess.run(["pg_dump", "--data-only", migrated.database_url(service).replace(
            "postgresql+psycopg", "postgresql")], capture_output=True, text=True, timeout=120)
        assert dump.returncode == 0, dump.stderr
        for secret in CARDS.values():
            assert secret not in dump.stdout, f"a card number in the {service} database"
        # no column or JSON key named cvc (the failure code incorrect_cvc is fine)
        assert not re.search(r"(?<![_a-z])cvc(?![_a-z])", dump.stdout.lower()), f"a CVC in the {service} database"
    logs = caplog.text + sandbox[1].log_path.read_text(errors="replace")
    for secret in CARDS.values():
        assert secret not in logs


def test_staff_payment_lists_refuse_bad_queries(pstaff):
    assert_problem(pstaff.get("/api/v1/staff/payments?status=lost"), 422, field="status")
    assert_problem(pstaff.get("/api/v1/staff/payments?from=2026-05-02&to=2026-05-01"), 422, field="to")
    assert_problem(pstaff.get("/api/v1/staff/payments?limit=1000"), 422, field="limit")
    assert_problem(pstaff.get(f"/api/v1/staff/payments/{uuid.uuid4()}"), 404)


def test_reconciliation_purges_expired_idempotency_keys_only(payer, sandbox, payments_app, payments_engine):
    _, me, _ = payer()
    pay(me, {"amount_cents": 100, "processor_token": tokenize(sandbox[0])}, key="old-key")
    pay(me, {"amount_cents": 100, "processor_token": tokenize(sandbox[0])}, key="fresh-key")
    with payments_engine.begin() as conn:
        conn.execute(text("UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE key = 'old-key'"))
    summary = payments_app.extensions["payments"].reconcile(older_than_seconds=0)
    assert summary["expired_keys"] >= 1
    with payments_engine.connect() as conn:
        keys = set(conn.execute(text("SELECT key FROM idempotency_keys WHERE key IN ('old-key', 'fresh-key')"))
                   .scalars())
    assert keys == {"fresh-key"}


@pytest.mark.parametrize("save_card", [False, True])
def test_a_new_cards_token_is_never_written_to_the_database_not_even_while_it_is_charged(
        payer, sandbox, payments_app, payments_engine, monkeypatch, save_card):
    """A token is good until the processor spends it: a row holding it while the charge (or the attach) is under
    way, or after a crash right there, would be a usable card token in clear."""
    _, me, _ = payer(5000)
    token = tokenize(sandbox[0])
    processor = payments_app.extensions["payments"].processor
    seen = []

    def watching(real):
        def call(**kwargs):
            with payments_engine.connect() as conn:
                seen.append(conn.execute(text("SELECT count(*) FROM payments WHERE processor_token = :t"),
                                         {"t": token}).scalar())
            return real(**kwargs)
        return call

    monkeypatch.setattr(processor, "charge", watching(processor.charge))
    monkeypatch.setattr(processor, "attach_card", watching(processor.attach_card))
    paid = pay(me, {"amount_cents": 500, "processor_token": token, "save_card": save_card})
    assert paid.status_code == 201 and paid.get_json()["status"] == "succeeded", paid.get_json()
    assert seen and set(seen) == {0}, seen
