"""Pay Now's hot path stays lean: a saved-card payment is two short transactions around the charge, with a
fixed number of statements whatever the client's history. A change that adds a transaction or a query per
past payment fails here (the figures are in README's benchmark table; this guards their cause, not a time)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.integration.payments_fixtures import pay, tokenize

pytestmark = pytest.mark.integration
METHODS = "/api/v1/portal/payment-methods"
# lock + settings + card + key claim; open payments; payment + payment.attempted; settle + event + key done
MAX_STATEMENTS = 4
MAX_TRANSACTIONS = 2  # reserve; settle (the charge runs between them, outside any)
# The settle is one statement, atomic by itself: sent in autocommit, without BEGIN and COMMIT round trips.
AUTOCOMMIT = [False, False, False, True]


@contextmanager
def counting(engine):
    """Statements and transactions this thread runs on the engine."""
    me = threading.get_ident()
    seen = {"statements": [], "transactions": 0, "autocommit": []}

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == me:
            seen["statements"].append(" ".join(statement.split()[:3]))
            seen["autocommit"].append(conn.connection.driver_connection.autocommit)

    def on_begin(conn):
        if threading.get_ident() == me:
            seen["transactions"] += 1

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "begin", on_begin)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "begin", on_begin)


def test_pay_now_with_a_saved_card_is_two_transactions_and_a_fixed_number_of_statements(payer, sandbox,
                                                                                         payments_engine):
    client_id, me, _ = payer(1_000_000)
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    counts = []
    for _ in range(6):  # the client's history grows: the cost per payment must not
        with counting(payments_engine) as seen:
            answer = pay(me, {"amount_cents": 100, "payment_method_id": card["id"]})
        assert answer.status_code == 201 and answer.get_json()["status"] == "succeeded"
        counts.append((seen["transactions"], len(seen["statements"])))
        assert seen["autocommit"] == AUTOCOMMIT, seen
    assert all(t == MAX_TRANSACTIONS for t, _ in counts), counts
    assert all(n <= MAX_STATEMENTS for _, n in counts), (counts, seen["statements"])
    assert len({n for _, n in counts}) == 1, f"statements per payment vary with history: {counts}"
