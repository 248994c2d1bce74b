"""The account history a page at a time: walked with its cursors, at any page size, the pages add up to the client's
ledger newest first (ties on occurred_at in ledger order), each entry with its running balance as posted and its
invoice's number, whether the client or the practice asks; and a page costs two statements on an autocommit
connection, however long the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, text

from shared.db import get_read_engine
from tests.integration.billing_fixtures import invoice, paid
from tests.integration.conftest import assert_problem

pytestmark = pytest.mark.integration
HISTORY = "/api/v1/portal/account/history"
FIELDS = ("id", "occurred_at", "kind", "description", "amount_cents", "currency", "balance_after_cents",
          "invoice_id", "invoice_number", "payment_id", "reason")
TIE = datetime(2020, 5, 10, 12, 0, tzinfo=UTC)  # on 10 May wherever the practice is (UTC-12 to UTC+14)


def _adjustment(conn, client_id: str, at: datetime, balance: int, invoice_id: str | None, reason: str) -> None:
    conn.execute(text(
        "INSERT INTO ledger_entries (id, client_id, kind, amount_cents, currency, balance_after_cents, description, "
        "invoice_id, adjustment_kind, reason, occurred_at) VALUES (:id, :c, 'adjustment', -100, 'USD', :b, :d, :i, "
        "'discount', :r, :at)"), {"id": str(uuid.uuid4()), "c": client_id, "b": balance, "d": f"Discount: {reason}",
                                  "i": invoice_id, "r": reason, "at": at})


@pytest.fixture
def ledger_client(bstaff, bclient, codes, deliver, billing_engine):
    """A client whose ledger has charges (invoice numbers), a payment, and adjustments: five posted at one same
    moment (one of an invoice that billing does not have), two a microsecond apart, one ten days later."""
    client_id, me = bclient()
    first = invoice(bstaff, client_id)
    invoice(bstaff, client_id, ("90837", 1))
    paid(deliver, client_id, 5000)
    with billing_engine.begin() as conn:
        for k, invoice_id in enumerate([first["id"], None, str(uuid.uuid4()), first["id"], None]):
            _adjustment(conn, client_id, TIE, -100 * k, invoice_id, f"Tie {k}")
        _adjustment(conn, client_id, TIE + timedelta(microseconds=1), -900, None, "Just after")
        _adjustment(conn, client_id, TIE - timedelta(microseconds=1), -1000, None, "Just before")
        _adjustment(conn, client_id, TIE + timedelta(days=10), -1100, None, "Ten days on")
    return client_id, me


def ledger(billing_engine, client_id: str, where: str = "", **params) -> list[dict]:
    """The client's entries as the history shows them, read here on their own: newest first, ties in ledger order."""
    with billing_engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT e.id, e.occurred_at, e.kind, e.description, e.amount_cents, e.currency, e.balance_after_cents, "
            "e.invoice_id, i.number, e.payment_id, e.reason FROM ledger_entries e "
            f"LEFT JOIN invoices i ON i.id = e.invoice_id WHERE e.client_id = :c {where} "
            "ORDER BY e.occurred_at DESC, e.seq DESC"), {"c": client_id, **params}).all()
    return [dict(zip(FIELDS, (*row[:1], row[1].astimezone(UTC).isoformat(), *row[2:]), strict=True)) for row in rows]


def walk(api, path: str, limit: int) -> list[dict]:
    items, cursor, pages = [], None, 0
    while True:
        separator = "&" if "?" in path else "?"
        response = api.get(f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert list(body) == ["items", "next_cursor"]
        assert all(list(item) == list(FIELDS) for item in body["items"])
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items
        assert pages < 100, "the cursors go round"


def test_the_pages_add_up_to_the_ledger_at_every_page_size(ledger_client, billing_engine, bstaff):
    client_id, me = ledger_client
    expected = ledger(billing_engine, client_id)
    assert len(expected) == 11 and len({e["occurred_at"] for e in expected}) == 7  # five share one moment
    assert {e["invoice_number"] for e in expected if e["kind"] == "charge"} != {None}
    assert [e["invoice_number"] is None for e in expected if e["reason"] and e["reason"].startswith("Tie")] == [
        True, False, True, True, False]  # newest first: Tie 4 (none), Tie 3 (the invoice's), Tie 2 (unknown one) ...
    for limit in (1, 2, 3, 5, 11, 50):
        assert walk(me, HISTORY, limit) == expected, limit
    assert walk(bstaff, f"/api/v1/staff/clients/{client_id}/ledger", 4) == expected


def test_a_kind_and_a_range_page_the_same_way(ledger_client, billing_engine):
    client_id, me = ledger_client
    adjustments = ledger(billing_engine, client_id, "AND e.kind = 'adjustment'")
    assert len(adjustments) == 8
    for limit in (1, 3, 50):
        assert walk(me, f"{HISTORY}?kind=adjustment", limit) == adjustments
    in_range = ledger(billing_engine, client_id, "AND e.occurred_at BETWEEN :a AND :b",
                      a=TIE - timedelta(hours=1), b=TIE + timedelta(hours=1))
    assert len(in_range) == 7
    for limit in (2, 50):
        assert walk(me, f"{HISTORY}?from=2020-05-09&to=2020-05-11", limit) == in_range
    assert walk(me, f"{HISTORY}?from=2020-05-09&to=2020-05-11&kind=charge", 5) == []


def test_oldest_first_pages_walk_the_same_ledger_the_other_way(ledger_client, billing_engine, bstaff):
    client_id, me = ledger_client
    expected = list(reversed(ledger(billing_engine, client_id)))  # oldest first, ties in ledger order
    for limit in (1, 3, 11, 50):
        assert walk(me, f"{HISTORY}?order=oldest", limit) == expected, limit
    assert walk(bstaff, f"/api/v1/staff/clients/{client_id}/ledger?order=oldest", 4) == expected
    adjustments = list(reversed(ledger(billing_engine, client_id, "AND e.kind = 'adjustment'")))
    assert walk(me, f"{HISTORY}?order=oldest&kind=adjustment&from=2020-01-01", 3) == adjustments
    assert_problem(me.get(f"{HISTORY}?order=sideways"), 422, field="order")


def test_a_page_is_two_statements_on_an_autocommit_connection(ledger_client, billing_config, billing_engine):
    client_id, me = ledger_client
    assert me.get(f"{HISTORY}?limit=2").status_code == 200  # warm: the token check, the practice row
    cursor = me.get(f"{HISTORY}?limit=2").get_json()["next_cursor"]
    reads, writes = [], []

    def recorder(seen):
        return lambda conn, cursor, statement, parameters, context, executemany: seen.append(statement)

    read_engine = get_read_engine(billing_config.database_url)
    listeners = [(read_engine, recorder(reads)), (billing_engine, recorder(writes))]
    for engine, listener in listeners:
        event.listen(engine, "before_cursor_execute", listener)
    try:
        for path in (f"{HISTORY}?limit=2", f"{HISTORY}?limit=2&cursor={cursor}",
                     f"{HISTORY}?limit=50&kind=payment&from=2020-01-01&to=2030-01-01",
                     f"{HISTORY}?limit=2&order=oldest&cursor={cursor}"):
            reads.clear()
            assert me.get(path).status_code == 200
            assert len(reads) == 2, reads
    finally:
        for engine, listener in listeners:
            event.remove(engine, "before_cursor_execute", listener)
    assert writes == []


def test_bad_cursors_and_unknown_clients_answer_clearly(ledger_client, bstaff):
    _, me = ledger_client
    not_a_time, one_value = "WyJub3QgYSB0aW1lIiwgMV0", "WyIyMDIwLTA1LTEwVDEyOjAwOjAwKzAwOjAwIl0"  # base64 JSON lists
    for cursor in (not_a_time, one_value):
        assert_problem(me.get(f"{HISTORY}?cursor={cursor}"), 422, field="cursor")
    assert_problem(bstaff.get(f"/api/v1/staff/clients/{uuid.uuid4()}/ledger"), 404)
