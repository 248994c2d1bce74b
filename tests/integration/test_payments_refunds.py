"""Refunds with an Idempotency-Key, like payments: one key is one refund, whatever arrives twice or at once."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from tests.integration.conftest import assert_problem
from tests.integration.payments_fixtures import SANDBOX_KEY, pay, payments_outbox, tokenize

pytestmark = pytest.mark.integration


def paid_payment(payer, sandbox, amount=8000):
    _, me, _ = payer(10000)
    paid = pay(me, {"amount_cents": amount, "processor_token": tokenize(sandbox[0])}).get_json()
    assert paid["status"] == "succeeded"
    return paid


def refunded_at_processor(sandbox, payment_id: str) -> int:
    import requests

    return requests.get(f"{sandbox[0]}/v1/charges", params={"reference": payment_id}, timeout=5,
                        headers={"Authorization": f"Bearer {SANDBOX_KEY}"}).json()["amount_refunded_cents"]


def concurrently(pstaff, url: str, body: dict, key: str, n: int = 2) -> list:
    answers, barrier = [], threading.Barrier(n)

    def refund():
        barrier.wait()
        answers.append(pstaff.client.post(url, json=body, headers=pstaff.headers({"Idempotency-Key": key})))

    threads = [threading.Thread(target=refund) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return answers


@pytest.mark.parametrize("route", ["refund", "refunds"])
def test_two_refunds_at_once_with_one_key_refund_once(payer, sandbox, pstaff, payments_engine, route):
    paid = paid_payment(payer, sandbox)
    url = f"/api/v1/staff/payments/{paid['id']}/{route}"
    answers = concurrently(pstaff, url, {"amount_cents": 500, "reason": "Late cancellation waived"},
                           key=f"refund-{uuid.uuid4()}")
    assert [a.status_code for a in answers] == [201, 201], [a.get_json() for a in answers]
    assert len({a.get_json()["id"] for a in answers}) == 1
    assert {a.get_json()["status"] for a in answers} == {"succeeded"}
    assert pstaff.get(f"/api/v1/staff/payments/{paid['id']}").get_json()["refunded_cents"] == 500
    assert refunded_at_processor(sandbox, paid["id"]) == 500
    assert len(payments_outbox(payments_engine, "payment.refunded", payment_id=paid["id"])) == 1
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM refunds WHERE payment_id = :p"), {"p": paid["id"]}).scalar() == 1


def test_a_key_replays_its_refund_and_refuses_another_body(payer, sandbox, pstaff, psnapshot):
    paid = paid_payment(payer, sandbox)
    url = f"/api/v1/staff/payments/{paid['id']}/refunds"
    body, key = {"amount_cents": 1200, "reason": "Overcharged"}, f"refund-{uuid.uuid4()}"
    first = pstaff.post(url, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201 and first.get_json()["status"] == "succeeded"
    before = psnapshot()
    again = pstaff.post(url, json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.get_json() == first.get_json()
    for other in ({**body, "amount_cents": 1201}, {**body, "reason": "Something else"}):
        conflict = assert_problem(pstaff.post(url, json=other, headers={"Idempotency-Key": key}), 409)
        assert conflict["type"] == "/problems/idempotency-key-reused"
    before.assert_unchanged()
    # the key belongs to this payment's refunds: another payment's refund under it is its own
    other = paid_payment(payer, sandbox)
    elsewhere = pstaff.post(f"/api/v1/staff/payments/{other['id']}/refunds", json=body,
                            headers={"Idempotency-Key": key})
    assert elsewhere.status_code == 201 and elsewhere.get_json()["id"] != first.get_json()["id"]


def test_a_refused_refund_leaves_its_key_free_and_a_missing_key_is_a_400(payer, sandbox, pstaff, psnapshot):
    paid = paid_payment(payer, sandbox)
    url = f"/api/v1/staff/payments/{paid['id']}/refunds"
    before = psnapshot()
    assert_problem(pstaff.post(url, json={"amount_cents": 100, "reason": "No key"}), 400, field="Idempotency-Key")
    assert_problem(pstaff.post(url, json={"amount_cents": 100, "reason": "Long key"},
                               headers={"Idempotency-Key": "k" * 256}), 400, field="Idempotency-Key")
    assert_problem(pstaff.post(url, json={"amount_cents": 8001, "reason": "Too much"},
                               headers={"Idempotency-Key": "fix-me"}), 422, field="amount_cents")
    before.assert_unchanged()
    fixed = pstaff.post(url, json={"amount_cents": 8000, "reason": "Too much"}, headers={"Idempotency-Key": "fix-me"})
    assert fixed.status_code == 201 and fixed.get_json()["amount_cents"] == 8000


def test_the_v1_refund_route_still_takes_a_refund_without_a_key(payer, sandbox, pstaff):
    paid = paid_payment(payer, sandbox)
    answer = pstaff.post(f"/api/v1/staff/payments/{paid['id']}/refund",
                         json={"amount_cents": 100, "reason": "The v1 route"})
    assert answer.status_code == 201 and answer.get_json()["status"] == "succeeded"


class Crash(BaseException):
    """The process dying mid-request (not an Exception: nothing in the request catches it)."""


def refund_then_crash(pstaff, payments_app, monkeypatch, paid: dict, key: str, *, processor_first: bool) -> None:
    """A refund by key whose process dies after the claim committed: after the processor refunded
    (processor_first) or before the call went out."""
    processor = payments_app.extensions["payments"].processor
    real = processor.refund

    def dying(**kwargs):
        if processor_first:
            real(**kwargs)
        raise Crash

    monkeypatch.setattr(processor, "refund", dying)
    with pytest.raises(Crash):
        pstaff.post(f"/api/v1/staff/payments/{paid['id']}/refunds", json={"amount_cents": 500, "reason": "Crash"},
                    headers={"Idempotency-Key": key})
    monkeypatch.undo()


@pytest.mark.parametrize("processor_first", [True, False], ids=["refunded-at-processor", "never-sent"])
def test_reconciliation_completes_a_refund_key_a_crash_left_in_progress(payer, sandbox, pstaff, payments_app,
                                                                        payments_engine, monkeypatch,
                                                                        processor_first):
    paid = paid_payment(payer, sandbox)
    key = f"refund-{uuid.uuid4()}"
    refund_then_crash(pstaff, payments_app, monkeypatch, paid, key, processor_first=processor_first)
    with payments_engine.begin() as conn:  # old enough that no call can still be on its way
        conn.execute(text("UPDATE refunds SET created_at = now() - interval '1 hour' WHERE payment_id = :p"),
                     {"p": paid["id"]})
    payments_app.extensions["payments"].reconcile(older_than_seconds=0)
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM idempotency_keys WHERE scope = :s AND key = :k"),
                            {"s": f"refund:{paid['id']}", "k": key}).scalar() == "done"
    again = pstaff.post(f"/api/v1/staff/payments/{paid['id']}/refunds", json={"amount_cents": 500, "reason": "Crash"},
                        headers={"Idempotency-Key": key})
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["status"] == ("succeeded" if processor_first else "failed")
    assert refunded_at_processor(sandbox, paid["id"]) == (500 if processor_first else 0)


def test_a_refund_the_processor_refuses_outright_fails_with_its_reason_not_a_500(payer, sandbox, pstaff,
                                                                                   payments_app, monkeypatch):
    """The processor refused the refund request itself (a 4xx other than a decline: a key it does not take, say):
    nothing was refunded, so the refund is settled failed with the processor's code and the key is done; before,
    the exception left the request as a 500 with the refund pending."""
    from services.payments.processor.base import ProcessorRejected

    paid = paid_payment(payer, sandbox)

    def refuses(**_kwargs):
        raise ProcessorRejected("the processor refused the request", status=401, code="invalid_api_key")

    monkeypatch.setattr(payments_app.extensions["payments"].processor, "refund", refuses)
    key = f"refund-{uuid.uuid4()}"
    body = {"amount_cents": 500, "reason": "Late cancellation waived"}
    url = f"/api/v1/staff/payments/{paid['id']}/refunds"
    answer = pstaff.client.post(url, json=body, headers=pstaff.headers({"Idempotency-Key": key}))
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "failed" and answer.get_json()["failure_code"] == "invalid_api_key"
    assert pstaff.get(f"/api/v1/staff/payments/{paid['id']}").get_json()["refunded_cents"] == 0
    assert refunded_at_processor(sandbox, paid["id"]) == 0
    again = pstaff.client.post(url, json=body, headers=pstaff.headers({"Idempotency-Key": key}))
    assert again.get_json()["id"] == answer.get_json()["id"]  # the key answers that refund, at once
