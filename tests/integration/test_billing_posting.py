"""Posting payments and refunds from events on real PostgreSQL: where the money goes, what billing tells
the other services, duplicates, and how many statements one payment costs the consumer."""

from __future__ import annotations

import threading
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event, text

from tests.integration.billing_fixtures import billing_outbox, invoice, paid
from tests.support.locks import wait_for_lock_waiters

pytestmark = pytest.mark.integration

# One card payment on 3 open invoices, 2 of them paid off: lock the account (reading the currency with it),
# insert the entry (with the running balance and the "already posted?" check in it, and the open invoices read
# beside it), insert the allocations (one executemany), mark 2 invoices paid, and 4 outbox rows (2 invoice.paid,
# payment.posted, balance.changed: one executemany).
MAX_PAYMENT_STATEMENTS = 5


def entry(engine, kind: str, **match) -> dict:
    """The one ledger entry of `kind` with these ids."""
    where = " AND ".join(f"{name} = :{name}" for name in match)
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, seq, balance_after_cents FROM ledger_entries WHERE kind = :kind "
                                 f"AND {where}"), {"kind": kind, **match}).mappings().all()
    assert len(rows) == 1, rows
    return dict(rows[0])


def paid_at(engine, *invoice_ids) -> list:
    with engine.connect() as conn:
        at = dict(conn.execute(text("SELECT id, paid_at FROM invoices WHERE id = ANY(:ids)"),
                               {"ids": list(invoice_ids)}).all())
    return [at[i] for i in invoice_ids]


def paid_events(engine, *invoices) -> list[int]:
    return [len(billing_outbox(engine, "invoice.paid", invoice_id=i["id"])) for i in invoices]


@contextmanager
def statements_on(engine):
    """The SQL statements billing's own code sends while the block runs (not the consumer's processed-event row)."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "processed_events" not in statement:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_payment_goes_to_named_invoices_then_oldest_and_tells_the_new_balance(bstaff, bclient, codes, deliver,
                                                                                billing_engine):
    client_id, me = bclient()
    a = invoice(bstaff, client_id)  # 150.00, the oldest
    b = invoice(bstaff, client_id, ("90837", 1))  # 200.00
    c = invoice(bstaff, client_id)  # 150.00, the newest
    first = paid(deliver, client_id, 35000, c["id"])  # c in full, then the oldest: a in full, b in part
    posted = billing_outbox(billing_engine, "payment.posted", payment_id=first)
    assert len(posted) == 1
    assert posted[0]["allocations"] == [{"invoice_id": c["id"], "amount_cents": 15000},
                                        {"invoice_id": a["id"], "amount_cents": 15000},
                                        {"invoice_id": b["id"], "amount_cents": 5000}]
    assert paid_events(billing_engine, a, b, c) == [1, 0, 1]
    paid_event = billing_outbox(billing_engine, "invoice.paid", invoice_id=c["id"])[0]
    assert paid_event == {"invoice_id": c["id"], "client_id": client_id, "number": c["number"],
                          "total_cents": 15000, "currency": "USD"}
    a_paid_at, b_paid_at, c_paid_at = paid_at(billing_engine, a["id"], b["id"], c["id"])
    assert a_paid_at is not None and c_paid_at is not None and b_paid_at is None
    posting = entry(billing_engine, "payment", payment_id=first)
    snapshot = {"client_id": client_id, "balance_cents": 15000, "currency": "USD", "ledger_seq": posting["seq"],
                "open_invoices": [{"invoice_id": b["id"], "balance_cents": 15000}]}
    assert posting["balance_after_cents"] == 15000
    assert posted[0] == {**snapshot, "payment_id": first, "amount_cents": 35000, "entry_id": posting["id"],
                         "allocations": posted[0]["allocations"]}
    assert billing_outbox(billing_engine, "balance.changed", client_id=client_id)[-1] == snapshot

    # nothing named: the one left open, and what is more is a credit
    second = paid(deliver, client_id, 20000)
    posted = billing_outbox(billing_engine, "payment.posted", payment_id=second)[0]
    assert posted["allocations"] == [{"invoice_id": b["id"], "amount_cents": 15000}]
    posting = entry(billing_engine, "payment", payment_id=second)
    snapshot = {"client_id": client_id, "balance_cents": -5000, "currency": "USD", "ledger_seq": posting["seq"],
                "open_invoices": []}
    assert {k: posted[k] for k in snapshot} == snapshot and posted["entry_id"] == posting["id"]
    assert billing_outbox(billing_engine, "balance.changed", client_id=client_id)[-1] == snapshot
    assert paid_events(billing_engine, a, b, c) == [1, 1, 1]  # once each, never again for a and c
    assert None not in paid_at(billing_engine, a["id"], b["id"], c["id"])
    account = me.get("/api/v1/portal/account").get_json()
    assert account["balance_cents"] == -5000 and account["credit_cents"] == 5000
    assert {i["status"] for i in me.get("/api/v1/portal/invoices").get_json()["items"]} == {"paid"}


def test_a_payment_posted_again_writes_nothing_and_its_refund_still_works(bstaff, bclient, codes, deliver,
                                                                          billing_engine, bsnapshot):
    client_id, me = bclient()
    a = invoice(bstaff, client_id)  # 150.00
    payment = paid(deliver, client_id, 20000, a["id"])  # a in full, 50.00 credit
    before = bsnapshot()
    # the same payment under another event id (a producer retry)
    paid(deliver, client_id, 20000, a["id"], payment_id=payment)
    before.assert_unchanged()
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == -5000

    refund = {"refund_id": str(uuid.uuid4()), "payment_id": payment, "client_id": client_id, "amount_cents": 10000,
              "reason": "Asked"}
    assert deliver("payment.refunded", refund) == "handled"  # the 50.00 credit first, then 50.00 of a
    refunded = entry(billing_engine, "refund", refund_id=refund["refund_id"])
    assert refunded["balance_after_cents"] == 5000
    assert billing_outbox(billing_engine, "balance.changed", client_id=client_id)[-1] == {
        "client_id": client_id, "balance_cents": 5000, "currency": "USD", "ledger_seq": refunded["seq"],
        "open_invoices": [{"invoice_id": a["id"], "balance_cents": 5000}]}
    assert paid_at(billing_engine, a["id"]) == [None]
    assert me.get(f"/api/v1/portal/invoices/{a['id']}").get_json()["status"] == "partially_paid"
    before = bsnapshot()
    assert deliver("payment.refunded", refund) == "handled"  # the same refund again, under another event id
    before.assert_unchanged()

    paid(deliver, client_id, 5000)
    assert paid_events(billing_engine, a) == [2]  # paid again after the refund re-opened it
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == 0


def test_a_payment_costs_a_fixed_handful_of_statements(bstaff, bclient, codes, deliver, billing_engine):
    """Guards the hot path of billing's consumer: no query per invoice, nothing read twice."""
    client_id, _ = bclient()
    a, b, c = (invoice(bstaff, client_id) for _ in range(3))
    with statements_on(billing_engine) as sent:
        paid(deliver, client_id, 35000, c["id"])  # c and a in full, b in part
    assert paid_events(billing_engine, a, b, c) == [1, 0, 1]
    assert len(sent) <= MAX_PAYMENT_STATEMENTS, "\n\n".join(sent)
    # kind compared to a bind parameter keeps a prepared statement's generic plan off the partial unique index
    assert not [s for s in sent if "kind = %(" in s]


def test_a_payment_that_waited_for_the_account_lock_sees_what_was_posted_meanwhile(bstaff, bclient, codes, deliver,
                                                                                     billing_config, billing_engine):
    """READ COMMITTED: the running balance and the open invoices are read in statements after the account lock's,
    so a payment that had to wait for the lock allocates only what the posting it waited for left open."""
    from services.billing.ledger import lock_for_posting
    from services.billing.usecases import postings
    from shared.db import session_factory

    client_id, _ = bclient()
    a = invoice(bstaff, client_id)  # 150.00
    holder = session_factory(billing_config.database_url)()
    try:
        lock_for_posting(holder, client_id)
        waiting = threading.Thread(target=paid, args=(deliver, client_id, 15000))
        waiting.start()
        wait_for_lock_waiters(billing_engine, what="payment(s) posting")
        first = str(uuid.uuid4())  # posted while the other waits: 100.00 of a
        postings.post_payment(holder, {"payment_id": first, "client_id": client_id, "amount_cents": 10000,
                                      "invoice_ids": [a["id"]], "method": {}})
        holder.commit()
    finally:
        holder.close()
    waiting.join(30)
    assert not waiting.is_alive()
    later = billing_outbox(billing_engine, "payment.posted", client_id=client_id)[-1]
    assert later["payment_id"] != first
    assert later["allocations"] == [{"invoice_id": a["id"], "amount_cents": 5000}]  # what was left, the rest credit
    assert later["balance_cents"] == -10000 and later["open_invoices"] == []
    assert entry(billing_engine, "payment", payment_id=later["payment_id"])["balance_after_cents"] == -10000
    assert paid_events(billing_engine, a) == [1]
