"""Payments' projection of billing: balances in ledger order (a late, older snapshot changes nothing),
payment.posted marks the payment posted and brings the posting's balance, and an event for a client payments
has not heard of yet fails (so the consumer retries it) rather than being dropped."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.integration.payments_fixtures import pay, tokenize

pytestmark = pytest.mark.integration


def account(engine, client_id: str):
    with engine.connect() as conn:
        return conn.execute(text("SELECT balance_cents, ledger_seq, open_invoices FROM accounts "
                                 "WHERE client_id = :c"), {"c": client_id}).one()


def test_balances_apply_in_ledger_order(payer, pdeliver, payments_engine):
    client_id, _, (invoice_id,) = payer(5000)  # announced at ledger_seq 10
    newer = [{"invoice_id": invoice_id, "balance_cents": 3000}]
    assert pdeliver("balance.changed", {"client_id": client_id, "balance_cents": 3000, "currency": "USD",
                                        "ledger_seq": 12, "open_invoices": newer}) == "handled"
    assert tuple(account(payments_engine, client_id)) == (3000, 12, newer)
    # a snapshot from before (seq 11) arriving late is ignored
    pdeliver("balance.changed", {"client_id": client_id, "balance_cents": 4000, "currency": "USD",
                                 "ledger_seq": 11, "open_invoices": []})
    assert tuple(account(payments_engine, client_id)) == (3000, 12, newer)


def test_payment_posted_marks_the_payment_and_brings_its_balance(payer, sandbox, pdeliver, payments_engine):
    client_id, me, (invoice_id,) = payer(5000)
    paid = pay(me, {"amount_cents": 2000, "processor_token": tokenize(sandbox[0])}).get_json()
    assert paid["status"] == "succeeded" and paid["posted"] is False
    # until billing posts it, the payment still counts: 3000 is all that can be paid
    over = pay(me, {"amount_cents": 3001, "processor_token": tokenize(sandbox[0])})
    assert over.status_code == 422
    pdeliver("payment.posted", {"payment_id": paid["id"], "client_id": client_id, "balance_cents": 3000,
                                "currency": "USD", "ledger_seq": 11, "amount_cents": 2000, "allocations": [],
                                "open_invoices": [{"invoice_id": invoice_id, "balance_cents": 3000}]})
    assert me.get(f"/api/v1/portal/payments/{paid['id']}").get_json()["posted"] is True
    assert account(payments_engine, client_id)[:2] == (3000, 11)
    assert pay(me, {"amount_cents": 3000, "processor_token": tokenize(sandbox[0])}).status_code == 201


def test_a_balance_for_a_client_not_known_yet_fails_so_it_is_retried(pdeliver, payments_engine):
    stranger = str(uuid.uuid4())
    with pytest.raises(LookupError):
        pdeliver("balance.changed", {"client_id": stranger, "balance_cents": 100, "currency": "USD",
                                     "ledger_seq": 1, "open_invoices": []})
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM accounts WHERE client_id = :c"), {"c": stranger}).scalar() == 0
