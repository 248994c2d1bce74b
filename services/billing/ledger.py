"""Posting to the ledger inside a caller's transaction: the one place that writes money.

Every function here takes the caller's session (an API unit of work or an event handler's), locks the
client's account row first, so concurrent postings to one client are serialized and each entry's
running balance is right.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import BigInteger, bindparam, func, insert, literal, literal_column, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql import Insert, Select

from services.billing.domain.allocation import OpenInvoice, account_credit, apply_credit, payment_credit
from services.billing.domain.errors import EventForUnknownClient, UnknownClient
from services.billing.models import Account, Allocation, Counter, Invoice, LedgerEntry, Practice, outbox
from shared.db import new_id, utcnow
from shared.directory import practice_row
from shared.events import make_event, outbox_row, record_event

# The hot path (a payment from the consumer, several a second) runs statements built once, here, on the tables
# rather than the mapped classes: each execution skips building the statement, generating its cache key and the
# ORM's bulk-persistence and result machinery. Values go in as execution parameters.
account_table, practice_table, entry_table, invoice_table, allocation_table = (
    model.__table__ for model in (Account, Practice, LedgerEntry, Invoice, Allocation))
OUTBOX_INSERT = insert(outbox)


def core(session: Session) -> Connection:
    """The session's connection, to run those statements on, after the flush the ORM would do before its own
    (autoflush): what the caller added through the session is in the database first."""
    session.flush()
    return session.connection()


def publish(session: Session, event_type: str, payload: dict) -> None:
    record_event(session, outbox, make_event(event_type, payload, producer="billing"))


def publish_all(session: Session, messages: list[tuple[str, dict]]) -> None:
    """publish() for several events in one statement; they enter the outbox (and leave it) in the order given."""
    if messages:
        core(session).execute(OUTBOX_INSERT, [outbox_row(make_event(event_type, payload, producer="billing"))
                                              for event_type, payload in messages])


class Posted(NamedTuple):
    """A ledger entry just inserted: balance_after_cents is the new balance, seq the new ledger position."""

    id: str
    seq: int
    balance_after_cents: int


def kind_is(kind: str):
    """`kind = 'payment'` with the kind inlined, not a bind parameter: psycopg prepares repeated statements, and
    PostgreSQL's generic plan for them cannot use a partial index (uq_ledger_payment ...) on a parameter."""
    return LedgerEntry.kind == literal(kind, literal_execute=True)


def practice(session: Session) -> Practice:
    return practice_row(session, Practice)


def practice_currency(session: Session) -> str:
    """The practice's currency: one column, not the whole settings row."""
    return session.scalar(select(Practice.currency).where(Practice.id == 1)) or practice(session).currency


def lock_account(session: Session, client_id: str, *, from_event: bool = False) -> Account:
    account = session.get(Account, client_id, with_for_update=True)
    if account is None:
        raise unknown_client(client_id, from_event)
    return account


def unknown_client(client_id: str, from_event: bool) -> Exception:
    if from_event:
        return EventForUnknownClient(f"client {client_id} is not in billing's directory yet")
    return UnknownClient("No billing account for this client.")


# The account row locked as lock_account does (FOR UPDATE; OF accounts, as the practice row is only read), and
# the practice's currency in the same statement. The account lock does not guard the practice row, so reading
# it as of this statement's start (before any wait for the lock) is no staler than a statement of its own.
LOCK_FOR_POSTING = (select(account_table.c.client_id,
                           select(practice_table.c.currency).where(practice_table.c.id == 1).scalar_subquery())
                    .where(account_table.c.client_id == bindparam("client_id")).with_for_update(of=account_table))


def lock_for_posting(session: Session, client_id: str, *, from_event: bool = False) -> tuple[str, str]:
    """lock_account without loading the account, and practice_currency: (client id, currency), in one round trip."""
    row = core(session).execute(LOCK_FOR_POSTING, {"client_id": client_id}).first()
    if row is None:
        raise unknown_client(client_id, from_event)
    return row[0], row[1] or practice(session).currency


def last_balance(client_id: str):
    """The balance after the client's latest entry, as a scalar subquery."""
    return (select(LedgerEntry.balance_after_cents).where(LedgerEntry.client_id == client_id)
            .order_by(LedgerEntry.seq.desc()).limit(1).scalar_subquery())


def balance(session: Session, client_id: str) -> int:
    return session.scalar(select(last_balance(client_id))) or 0


def allocated_sum():
    # SUM(bigint) is numeric in PostgreSQL: cast back, money stays integer cents.
    return (select(func.coalesce(func.sum(Allocation.amount_cents), 0).cast(BigInteger))
            .where(Allocation.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery())


def invoice_due():
    """What an invoice (of `invoices`, the table) still owes, as a correlated expression: allocated_sum() on tables."""
    allocated = (select(func.coalesce(func.sum(allocation_table.c.amount_cents), 0).cast(BigInteger))
                 .where(allocation_table.c.invoice_id == invoice_table.c.id).correlate(invoice_table).scalar_subquery())
    return invoice_table.c.total_cents - allocated


# paid_at IS NULL first: settle_paid_flags keeps it exact, and a partial index keeps the open few apart from
# years of paid invoices, so the sums run over a handful of rows
OPEN_INVOICES = (select(invoice_table.c.id, invoice_due().label("due"))
                 .where(invoice_table.c.client_id == bindparam("client_id"), invoice_table.c.paid_at.is_(None))
                 .where(invoice_due() > 0)
                 .order_by(invoice_table.c.due_date, invoice_table.c.number))


def open_invoices(session: Session, client_id: str) -> list[OpenInvoice]:
    """Invoices with something still due, oldest due first."""
    return [OpenInvoice(*row) for row in core(session).execute(OPEN_INVOICES, {"client_id": client_id})]


def unapplied_credit(session: Session, client_id: str) -> int:
    """Money received but applied to no invoice (domain.allocation.account_credit)."""
    return account_credit(sum(i.balance_cents for i in open_invoices(session, client_id)), balance(session, client_id))


# A payment or a refund is on the ledger at most once: the partial unique indexes uq_ledger_payment and
# uq_ledger_refund (models.LedgerEntry) on these columns.
ONCE_PER = {"payment": "payment_id", "refund": "refund_id"}


@functools.cache
def append_statement(once_kind: str | None, fields: frozenset[str]) -> Insert:
    """append()'s INSERT, built once per kind of call: the running balance from the client's latest entry, and with
    a kind of ONCE_PER nothing when that payment or refund is already there. entry_params() are its parameters."""
    latest = (select(entry_table.c.balance_after_cents).where(entry_table.c.client_id == bindparam("entry_client_id"))
              .order_by(entry_table.c.seq.desc()).limit(1).scalar_subquery())
    columns = ("id", "client_id", "kind", "amount_cents", "currency", "description", "occurred_at", *sorted(fields))
    values = {name: bindparam(f"entry_{name}", type_=entry_table.c[name].type) for name in columns}
    stmt = pg_insert(entry_table).values(
        {**values, "balance_after_cents": func.coalesce(latest, 0) + values["amount_cents"]})
    if once_kind is not None:
        # the kind inlined, as kind_is() does: the partial unique index is inferred from this predicate
        stmt = stmt.on_conflict_do_nothing(index_elements=[ONCE_PER[once_kind]],
                                           index_where=entry_table.c.kind == literal_column(f"'{once_kind}'"))
    return stmt.returning(entry_table.c.id, entry_table.c.seq, entry_table.c.balance_after_cents)


def entry_params(client_id: str, kind: str, amount_cents: int, currency: str, description: str,
                 occurred_at: datetime | None, fields: dict) -> dict:
    return {f"entry_{name}": value for name, value in (
        ("id", new_id()), ("client_id", client_id), ("kind", kind), ("amount_cents", amount_cents),
        ("currency", currency), ("description", description), ("occurred_at", occurred_at or utcnow()),
        *fields.items())}


def append(session: Session, client_id: str, *, kind: str, amount_cents: int, currency: str, description: str,
           occurred_at: datetime | None = None, once: bool = False, **fields) -> Posted | None:
    """An entry on the ledger (every charge, payment, refund and adjustment goes through here), in one INSERT:
    the running balance is computed from the previous entry in the statement (under the caller's account
    lock). With `once`, a payment or refund already on the ledger is not inserted again, and the answer is
    None."""
    stmt = append_statement(kind if once else None, frozenset(fields))
    row = core(session).execute(stmt, entry_params(client_id, kind, amount_cents, currency, description, occurred_at,
                                                   fields)).first()
    return Posted(*row) if row else None


@functools.cache
def append_reading_open_statement(once_kind: str, fields: frozenset[str]) -> Select:
    """append()'s INSERT (with `once`) as a CTE, and beside the new entry the client's open invoices, as
    open_invoices() reads them, oldest due first: no row at all when the entry was already there."""
    posted = append_statement(once_kind, fields).cte("posted")
    due = (OPEN_INVOICES.order_by(None).add_columns(invoice_table.c.due_date, invoice_table.c.number)
           .subquery("open_invoices"))
    return (select(posted.c.id, posted.c.seq, posted.c.balance_after_cents, due.c.id.label("invoice_id"), due.c.due)
            .select_from(posted.outerjoin(due, true())).order_by(due.c.due_date, due.c.number))


def append_reading_open_invoices(session: Session, client_id: str, *, kind: str, amount_cents: int, currency: str,
                                 description: str, occurred_at: datetime | None = None,
                                 **fields) -> tuple[Posted, list[OpenInvoice]] | None:
    """append(..., once=True), then open_invoices(), in one round trip: None when the entry was already there.
    The invoices are read in the INSERT's statement, which (like a read of their own) comes after the account
    lock's, so it sees what was allocated while the lock was waited for; and the INSERT touches no invoice or
    allocation."""
    stmt = append_reading_open_statement(kind, frozenset(fields))
    rows = core(session).execute(stmt, {"client_id": client_id, **entry_params(
        client_id, kind, amount_cents, currency, description, occurred_at, fields)}).all()
    if not rows:
        return None
    return Posted(*rows[0][:3]), [OpenInvoice(row.invoice_id, row.due) for row in rows if row.invoice_id is not None]


ALLOCATIONS_INSERT = insert(allocation_table)


def add_allocations(session: Session, allocations: list[tuple[str, int]], entry_id: str | None) -> None:
    if allocations:
        core(session).execute(ALLOCATIONS_INSERT, [{"invoice_id": i, "entry_id": entry_id, "amount_cents": a}
                                                   for i, a in allocations])


def settle_paid_flags(session: Session, client_id: str, invoice_ids: set[str]) -> None:
    """invoice.paid once when an invoice's balance reaches zero; a refund that re-opens it clears the mark."""
    if not invoice_ids:
        return
    due = (Invoice.total_cents - allocated_sum()).label("due")
    rows = session.execute(select(Invoice.id, Invoice.paid_at, due).where(Invoice.id.in_(invoice_ids))).all()
    mark_paid(session, client_id, [r.id for r in rows if r.due <= 0 and r.paid_at is None])
    reopened = [r.id for r in rows if r.due > 0 and r.paid_at is not None]
    if reopened:
        session.execute(update(Invoice).where(Invoice.id.in_(reopened)).values(paid_at=None))


def mark_paid(session: Session, client_id: str, invoice_ids: list[str]) -> None:
    """Invoices whose balance just reached zero: paid_at set and invoice.paid sent, once each, in the order given."""
    publish_all(session, set_paid(session, client_id, invoice_ids))


SET_PAID = (update(invoice_table)
            .where(invoice_table.c.id.in_(bindparam("ids", expanding=True)), invoice_table.c.paid_at.is_(None))
            .values(paid_at=bindparam("paid_at"))
            .returning(invoice_table.c.id, invoice_table.c.number, invoice_table.c.total_cents,
                       invoice_table.c.currency))


def set_paid(session: Session, client_id: str, invoice_ids: list[str]) -> list[tuple[str, dict]]:
    """mark_paid without the sending: answers the invoice.paid events (type, payload) to publish, in the order given."""
    if not invoice_ids:
        return []
    paid = {r.id: r for r in core(session).execute(SET_PAID, {"ids": invoice_ids, "paid_at": utcnow()})}
    return [("invoice.paid", {"invoice_id": invoice.id, "client_id": client_id, "number": invoice.number,
                              "total_cents": invoice.total_cents, "currency": invoice.currency})
            for invoice_id in invoice_ids if (invoice := paid.get(invoice_id))]


def balance_snapshot(session: Session, client_id: str) -> dict:
    """The balance, the open invoices and the ledger position: a projection (payments) learns what each
    invoice still owes after adjustments and refunds too, and ignores an older snapshot arriving late."""
    last_seq = session.scalars(select(LedgerEntry.seq).where(LedgerEntry.client_id == client_id)
                               .order_by(LedgerEntry.seq.desc()).limit(1)).first() or 0
    return snapshot(client_id, balance_cents=balance(session, client_id), currency=practice_currency(session),
                    ledger_seq=last_seq, open_invoices=open_invoices(session, client_id))


def snapshot(client_id: str, *, balance_cents: int, currency: str, ledger_seq: int,
             open_invoices: list[OpenInvoice]) -> dict:
    """balance_snapshot from values the caller already has (after posting: the new entry's balance and seq)."""
    return {"client_id": client_id, "balance_cents": balance_cents, "currency": currency, "ledger_seq": ledger_seq,
            "open_invoices": [{"invoice_id": i.invoice_id, "balance_cents": i.balance_cents} for i in open_invoices]}


def balance_changed(session: Session, client_id: str, snapshot: dict | None = None) -> None:
    publish(session, "balance.changed", snapshot or balance_snapshot(session, client_id))


def payment_unallocated(session: Session, entry: LedgerEntry) -> int:
    """What of one payment is on no invoice and not refunded."""
    allocated = session.scalar(select(func.coalesce(func.sum(Allocation.amount_cents), 0).cast(BigInteger))
                               .where(Allocation.entry_id == entry.id))
    refunded = session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0).cast(BigInteger))
                              .where(LedgerEntry.kind == "refund", LedgerEntry.payment_id == entry.payment_id))
    return payment_credit(-entry.amount_cents, allocated, refunded)


def unallocated_payments(session: Session, client_id: str) -> list[tuple[str, int]]:
    """(payment entry id, money of it on no invoice and not refunded), oldest first: the account credit,
    payment by payment, so a refund knows what its own payment paid. Most accounts have no credit: then
    nothing is scanned (the credit is derived cheaply from the open invoices and the balance)."""
    if unapplied_credit(session, client_id) <= 0:
        return []
    allocated = dict(session.execute(
        select(Allocation.entry_id, func.sum(Allocation.amount_cents).cast(BigInteger))
        .join(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
        .where(LedgerEntry.client_id == client_id, LedgerEntry.kind == "payment")
        .group_by(Allocation.entry_id)).all())
    refunded = dict(session.execute(
        select(LedgerEntry.payment_id, func.sum(LedgerEntry.amount_cents).cast(BigInteger))
        .where(LedgerEntry.client_id == client_id, LedgerEntry.kind == "refund")
        .group_by(LedgerEntry.payment_id)).all())
    credits = []
    for entry_id, amount, payment_id in session.execute(
            select(LedgerEntry.id, LedgerEntry.amount_cents, LedgerEntry.payment_id)
            .where(LedgerEntry.client_id == client_id, LedgerEntry.kind == "payment").order_by(LedgerEntry.seq)):
        left = payment_credit(-amount, allocated.get(entry_id, 0), refunded.get(payment_id, 0))
        if left > 0:
            credits.append((entry_id, left))
    return credits


def apply_credit_to(session: Session, client_id: str, invoice: Invoice) -> int:
    """Credit pays a new invoice (domain.allocation.apply_credit), each part recorded against the payment it came
    from. Answers how much of the invoice credit paid."""
    taken = apply_credit(invoice.total_cents, unallocated_payments(session, client_id))
    for entry_id, take in taken:
        add_allocations(session, [(invoice.id, take)], entry_id=entry_id)
    return sum(take for _, take in taken)


def next_number(session: Session, name: str) -> int:
    """Gap-free: the counter row stays locked until the issuing transaction ends."""
    return session.execute(pg_insert(Counter).values(name=name, value=1)
                           .on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + 1})
                           .returning(Counter.value)).scalar_one()
