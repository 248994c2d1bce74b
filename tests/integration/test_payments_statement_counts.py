"""A page of payments costs the same statements whatever its size: staff's list and a client's history read
the page, then every payment's invoice numbers at once (not one query per payment, which grew with the page)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from tests.integration.payments_fixtures import pay, tokenize

pytestmark = pytest.mark.integration
PAYMENTS = 50


@contextmanager
def statements_on(engine):
    """The SQL statements this thread sends to payments' database while the block runs."""
    me, sent = threading.get_ident(), []

    def record(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == me:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.fixture
def history(payer, pstaff, sandbox):
    """A client with 50 payments, each towards an invoice of its own (so each shows an invoice number)."""
    client_id, me, invoices = payer(PAYMENTS * 100, invoices=[100] * PAYMENTS)
    card = me.post("/api/v1/portal/payment-methods", json={"processor_token": tokenize(sandbox[0])}).get_json()
    for invoice_id in invoices:
        answer = pay(me, {"invoice_ids": [invoice_id], "payment_method_id": card["id"]})
        assert answer.status_code == 201 and answer.get_json()["status"] == "succeeded", answer.get_json()
    return client_id, me, pstaff


def test_a_page_of_payments_is_the_same_statements_for_5_as_for_50(history, payments_engine):
    client_id, me, staff = history
    lists = {"staff": lambda size: staff.get(f"/api/v1/staff/payments?client_id={client_id}&limit={size}"),
             "portal": lambda size: me.get(f"/api/v1/portal/payments?limit={size}")}
    counts = {}
    for who, page in lists.items():
        for size in (5, PAYMENTS):
            with statements_on(payments_engine) as sent:
                answer = page(size)
            assert answer.status_code == 200, answer.get_json()
            items = answer.get_json()["items"]
            assert len(items) == size
            assert all(len(item["invoice_numbers"]) == 1 for item in items)  # each payment's number was read
            counts[who, size] = len(sent)
    for who in lists:
        assert counts[who, 5] == counts[who, PAYMENTS], f"statements per page grow with its size: {counts}"
