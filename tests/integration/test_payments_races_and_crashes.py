"""Payments under races and crashes: reconciliation during an in-flight charge or refund, keys left in progress,
the same invoice or key twice at once, a lost token look-up, commit answer or database connection."""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest
import requests
from sqlalchemy import text

from services.payments.domain.errors import RequestInProgress
from services.payments.service import PaymentsService
from tests.integration.conftest import Api, assert_problem
from tests.integration.payments_fixtures import SANDBOX_KEY, pay, payments_outbox, tokenize
from tests.support.locks import wait_for_lock_waiters

pytestmark = pytest.mark.integration
METHODS = "/api/v1/portal/payment-methods"


class GatedProcessor:
    """The real processor, but a charge/refund call waits at a gate before it reaches the processor:
    the window in which the request is on the wire and the processor has not recorded anything yet."""

    def __init__(self, inner):
        self.inner = inner
        self.entered = threading.Event()
        self.release = threading.Event()

    def retrieve_token(self, token):
        return self.inner.retrieve_token(token)

    def charge(self, **kwargs):
        self.entered.set()
        assert self.release.wait(30)
        return self.inner.charge(**kwargs)

    def find_charge(self, reference):
        return self.inner.find_charge(reference)

    def refund(self, **kwargs):
        self.entered.set()
        assert self.release.wait(30)
        return self.inner.refund(**kwargs)

    def find_refund(self, reference):
        return self.inner.find_refund(reference)


class DiesAfterCharge(GatedProcessor):
    """The worker dies right after the processor charged, before the payment is settled."""

    def charge(self, **kwargs):
        self.inner.charge(**kwargs)
        raise RuntimeError("worker killed (simulated crash between charge and settle)")


def _service(payments_app, processor, **config_changes) -> PaymentsService:
    real: PaymentsService = payments_app.extensions["payments"]
    config = dataclasses.replace(real.config, **config_changes) if config_changes else real.config
    return PaymentsService(config=config, sessions=real.sessions, processor=processor)


def _admin(payments_app, signer) -> Api:
    return Api(payments_app.test_client(), signer.access_token(user_id=str(uuid.uuid4()), role="admin",
                                                               client_id=None, ttl=600, session_id=str(uuid.uuid4())))


def _processor_charge(sandbox_url: str, reference: str) -> dict:
    response = requests.get(f"{sandbox_url}/v1/charges", params={"reference": reference},
                            headers={"Authorization": f"Bearer {SANDBOX_KEY}"}, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


# --- reconciliation racing a request that is still talking to the processor ------------------------

def test_reconcile_now_during_an_in_flight_charge_does_not_lose_the_charge(payer, sandbox, payments_app, signer,
                                                                           payments_engine):
    """service.py reconcile(): a `pending` payment whose charge call is still on the wire is asked about, the
    processor has no record yet, so it is marked failed ("nothing was charged"); the charge then succeeds and
    _settle() ignores it because the payment is no longer pending. The card is charged, the payment says
    failed, payment.succeeded never goes out, billing never posts it."""
    client_id, me, _ = payer(10000)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    gated = GatedProcessor(payments_app.extensions["payments"].processor)
    service = _service(payments_app, gated)
    answers: list = []
    worker = threading.Thread(target=lambda: answers.append(service.pay(
        client_id, {"amount_cents": 4000, "payment_method_id": card["id"]}, uuid.uuid4().hex)))
    worker.start()
    try:
        assert gated.entered.wait(10)
        # an admin presses "reconcile now" while the client's charge is in flight
        reconciled = _admin(payments_app, signer).post("/api/v1/staff/payments/reconcile")
        assert reconciled.status_code == 200, reconciled.get_data(as_text=True)
    finally:
        gated.release.set()
        worker.join(30)
    status, answer = answers[0]
    assert _processor_charge(sandbox[0], answer["id"])["status"] == "succeeded"  # the card WAS charged
    assert me.get(f"/api/v1/portal/payments/{answer['id']}").get_json()["status"] == "succeeded"
    assert len(payments_outbox(payments_engine, "payment.succeeded", payment_id=answer["id"])) == 1
    assert payments_outbox(payments_engine, "payment.failed", payment_id=answer["id"]) == []


def test_reconcile_now_during_an_in_flight_refund_neither_loses_it_nor_allows_it_twice(payer, sandbox, payments_app,
                                                                                       signer, pstaff):
    """service.py _reconcile_refund(): a pending refund whose call is still on the wire is marked failed when
    the processor has no record yet; the processor then refunds and _settle_refund() ignores the answer. The
    client got the money back, our books (refunded_cents, payment.refunded -> billing) say nothing was
    refunded, and the "failed" refund no longer counts, so staff can refund the same money again."""
    _, me, _ = payer(10000)
    paid = pay(me, {"amount_cents": 8000, "processor_token": tokenize(sandbox[0])}).get_json()
    assert paid["status"] == "succeeded"
    gated = GatedProcessor(payments_app.extensions["payments"].processor)
    service = _service(payments_app, gated)
    answers: list = []
    worker = threading.Thread(target=lambda: answers.append(service.refund(paid["id"], 3000, "Cancelled session",
                                                                           str(uuid.uuid4()))))
    worker.start()
    try:
        assert gated.entered.wait(10)
        assert _admin(payments_app, signer).post("/api/v1/staff/payments/reconcile").status_code == 200
    finally:
        gated.release.set()
        worker.join(30)
    # staff see the refund as failed and refund again
    again = pstaff.post(f"/api/v1/staff/payments/{paid['id']}/refund",
                        json={"amount_cents": 3000, "reason": "Cancelled session"})
    assert again.status_code == 201
    at_processor = _processor_charge(sandbox[0], paid["id"])["amount_refunded_cents"]
    ours = pstaff.get(f"/api/v1/staff/payments/{paid['id']}").get_json()["refunded_cents"]
    assert ours == at_processor, f"processor refunded {at_processor}, our books say {ours}"
    assert answers[0]["status"] == "succeeded"


# --- a crash between reserve and settle -----------------------------------------------------------

def test_a_key_left_in_progress_by_a_crash_is_completed_by_reconciliation(payer, sandbox, payments_app,
                                                                          payments_engine):
    """service.py: the key's payment_id is written only by _store() at the very end, so after a crash between
    charge and settle reconcile()'s "also completes a key left in progress by a crash" loop (it selects keys
    by payment_id) finds nothing; in_progress keys are never purged either. The payment is reconciled, but the
    client's retry with the same Idempotency-Key answers 409 "still running" forever."""
    client_id, me, _ = payer(10000)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    body = {"amount_cents": 2500, "payment_method_id": card["id"]}
    key = f"crash-{uuid.uuid4().hex}"
    real = payments_app.extensions["payments"].processor
    with pytest.raises(RuntimeError):
        _service(payments_app, DiesAfterCharge(real)).pay(client_id, body, key)
    summary = payments_app.extensions["payments"].reconcile(older_than_seconds=0)
    assert summary["succeeded"] >= 1
    with payments_engine.connect() as conn:
        paid_status = conn.execute(text("SELECT status FROM payments WHERE client_id = :c"),
                                   {"c": client_id}).scalar_one()
        key_status = conn.execute(text("SELECT status FROM idempotency_keys WHERE key = :k"), {"k": key}).scalar_one()
    assert paid_status == "succeeded"
    assert key_status == "done", "reconciliation left the crashed request's key in progress"
    try:
        status, answer = _service(payments_app, real, idempotency_wait_seconds=1).pay(client_id, body, key)
    except RequestInProgress:
        pytest.fail("the retry with the same Idempotency-Key is refused as 'still running' after reconciliation")
    assert status == 201 and answer["status"] == "succeeded" and answer["amount_cents"] == 2500


# --- amounts towards chosen invoices ----------------------------------------------------------------

def test_a_custom_amount_towards_an_invoice_cannot_exceed_that_invoices_balance(payer, sandbox, psnapshot):
    """rules.py requested_amount(): with invoice_ids, amount_cents replaces the invoices' sum and is checked
    only against the whole balance. Paying 250.00 "towards invoice #1" that owes 100.00 charges 250.00;
    billing then silently spreads 150.00 over other invoices the client did not choose."""
    _, me, invoices = payer(30000, invoices=[10000, 20000])
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    before = psnapshot()
    response = pay(me, {"invoice_ids": [invoices[0]], "amount_cents": 25000, "payment_method_id": card["id"]})
    assert_problem(response, 422, field="amount_cents")
    before.assert_unchanged()


def test_the_same_invoice_cannot_be_paid_twice_while_the_first_payment_is_unposted(payer, sandbox, payments_engine):
    """rules.py/service.py: an invoice's payable amount is its balance from the last balance.changed; a payment
    that already named it (succeeded but not yet posted, or in flight) is subtracted from the total only. A
    second "pay invoice #1" (another tab, a retry with a fresh key) charges the same invoice again."""
    client_id, me, invoices = payer(30000, invoices=[10000, 20000])
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    first = pay(me, {"invoice_ids": [invoices[0]], "payment_method_id": card["id"]}).get_json()
    assert first["status"] == "succeeded" and first["amount_cents"] == 10000
    second = pay(me, {"invoice_ids": [invoices[0]], "payment_method_id": card["id"]})
    assert second.status_code in (404, 409, 422), second.get_json()
    with payments_engine.connect() as conn:
        charged = conn.execute(text("SELECT count(*) FROM payments WHERE client_id = :c AND status = 'succeeded'"),
                               {"c": client_id}).scalar()
    assert charged == 1


# --- the two-transaction Pay Now: retries, lost answers --------------------------------------------------

class BlippingTokens(GatedProcessor):
    """Token look-ups fail (a processor blip) while `blip` is set; everything else goes through."""

    blip = False

    def retrieve_token(self, token):
        if self.blip:
            from services.payments.processor import ProcessorUnavailable

            raise ProcessorUnavailable("blip")
        return self.inner.retrieve_token(token)

    def charge(self, **kwargs):
        return self.inner.charge(**kwargs)


def test_a_retry_whose_token_look_up_fails_while_the_first_request_is_under_way_gets_its_answer(
        payer, sandbox, payments_app, payments_engine):
    """The first request waits for the client's account lock (its key is claimed under that lock, so not
    yet); the same request again hits a processor blip on the token look-up. It must not answer "nothing was
    charged" (the client would pay again): it waits for the first request and answers what that answered."""
    client_id, me, _ = payer(5000)
    processor = BlippingTokens(payments_app.extensions["payments"].processor)
    service = _service(payments_app, processor)
    body, key = {"processor_token": tokenize(sandbox[0]), "amount_cents": 1500}, f"blip-{uuid.uuid4().hex}"
    blocker = payments_engine.connect()  # something else holds the account row for a moment
    holding = blocker.begin()
    blocker.execute(text("SELECT 1 FROM accounts WHERE client_id = :c FOR UPDATE"), {"c": client_id})
    first: dict = {}
    worker = threading.Thread(target=lambda: first.update(answer=service.pay(client_id, body, key)))
    worker.start()
    try:
        wait_for_lock_waiters(payments_engine, timeout=5, what="first request")  # on the account row
        processor.blip = True
        retry: dict = {}
        second = threading.Thread(target=lambda: retry.update(answer=service.pay(client_id, body, key)))
        second.start()
        # the retry had its blip and now probes the key: that probe queues for the account lock behind the first
        wait_for_lock_waiters(payments_engine, 2, timeout=10, what="requests (the first, then the retry's probe)")
        holding.rollback()  # the first request goes on and charges
        second.join(15)
        worker.join(15)
    finally:
        blocker.close()
    assert first["answer"][0] == 201 and first["answer"][1]["status"] == "succeeded"
    assert retry.get("answer") == first["answer"], retry


def test_the_settle_after_a_charge_survives_a_database_dropping_its_connections(payer, sandbox, payments_app,
                                                                               payments_config):
    """A restart or failover while the charge is out: the settle's pooled connection (used a moment ago, so not
    pinged) is dead. The settle is safe to repeat, so it runs once more on a fresh connection: the client gets
    its answer, not a 500 with the payment left pending until reconciliation."""
    from shared.db import get_engine, session_factory

    client_id, _, _ = payer(5000)
    name = f"settle-{uuid.uuid4().hex[:8]}"
    url = payments_config.database_url + ("&" if "?" in payments_config.database_url else "?") + \
        f"application_name={name}"
    engine = get_engine(url)

    class DropsConnections(GatedProcessor):
        def charge(self, **kwargs):
            with get_engine(payments_config.database_url).connect() as conn:  # the database restarts, for us
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = :n"), {"n": name})
            return self.inner.charge(**kwargs)

    real = payments_app.extensions["payments"]
    service = PaymentsService(config=real.config, sessions=session_factory(url),
                              processor=DropsConnections(real.processor))
    try:
        status, answer = service.pay(client_id, {"processor_token": tokenize(sandbox[0]), "amount_cents": 1500},
                                     uuid.uuid4().hex)
    finally:
        engine.dispose()
    assert status == 201 and answer["status"] == "succeeded"


class LosesTheFirstCommitAnswer:
    """A session factory whose first session commits, then reports the connection lost (the COMMIT's answer
    never arrived): the caller cannot tell whether the transaction committed."""

    def __init__(self, sessions):
        self.sessions, self.lost = sessions, False
        self.kw = sessions.kw

    def __call__(self):
        session = self.sessions()
        if not self.lost:
            self.lost = True
            commit = session.commit

            def commit_then_lose_the_answer():
                commit()
                from sqlalchemy.exc import DBAPIError

                raise DBAPIError("COMMIT", None, ConnectionError("server closed the connection"),
                                 connection_invalidated=True)

            session.commit = commit_then_lose_the_answer
        return session


def test_a_reserve_whose_commit_answer_was_lost_goes_on_with_its_own_payment(payer, sandbox, payments_app,
                                                                            payments_engine):
    """The reserve committed but its connection died before the answer: it runs once more, finds the key taken
    by its own payment, and charges that payment (not a 409 for a payment nobody will ever charge)."""
    client_id, me, _ = payer(5000)
    card = me.post("/api/v1/portal/payment-methods", json={"processor_token": tokenize(sandbox[0])}).get_json()
    real: PaymentsService = payments_app.extensions["payments"]
    service = PaymentsService(config=real.config, sessions=LosesTheFirstCommitAnswer(real.sessions),
                              processor=real.processor)
    status, answer = service.pay(client_id, {"amount_cents": 1500, "payment_method_id": card["id"]},
                                 f"lost-{uuid.uuid4().hex}")
    assert service.sessions.lost
    assert status == 201 and answer["status"] == "succeeded", answer
    with payments_engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status FROM payments WHERE client_id = :c"), {"c": client_id}).all()
    assert [(r.id, r.status) for r in rows] == [(answer["id"], "succeeded")]
    assert real.processor.find_charge(answer["id"]).status == "succeeded"
