"""Posting to the ledger inside a caller's transaction: the one place that writes money.

Every function here takes the caller's session (an API unit of work or an event handler's), locks the
client's account row first, so concurrent postings to one client are serialized and each entry's
running balance is right.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import BigInteger, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.billing.domain.errors import EventForUnknownClient, UnknownClient
from services.billing.domain.ledger import OpenInvoice
from services.billing.models import Account, Allocation, Counter, Invoice, LedgerEntry, Practice, outbox
from shared.db import utcnow
from shared.events import make_event, record_event


def publish(session: Session, event_type: str, payload: dict) -> None:
    record_event(session, outbox, make_event(event_type, payload, producer="billing"))


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
    row = session.get(Practice, 1)
    if row is None:
        row = Practice(id=1, address={})
        session.add(row)
        session.flush()
    return row


def practice_currency(session: Session) -> str:
    """The practice's currency: one column, not the whole settings row."""
    return session.scalar(select(Practice.currency).where(Practice.id == 1)) or practice(session).currency


def lock_account(session: Session, client_id: str, *, from_event: bool = False) -> Account:
    account = session.get(Account, client_id, with_for_update=True)
    if account is None:
        if from_event:
            raise EventForUnknownClient(f"client {client_id} is not in billing's directory yet")
        raise UnknownClient("No billing account for this client.")
    return account


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


def open_invoices(session: Session, client_id: str) -> list[OpenInvoice]:
    """Invoices with something still due, oldest due first."""
    due = (Invoice.total_cents - allocated_sum()).label("due")
    # paid_at IS NULL first: settle_paid_flags keeps it exact, and a partial index keeps the open few
    # apart from years of paid invoices, so the sums below run over a handful of rows
    rows = session.execute(select(Invoice.id, due).where(Invoice.client_id == client_id, Invoice.paid_at.is_(None))
                           .where(Invoice.total_cents - allocated_sum() > 0)
                           .order_by(Invoice.due_date, Invoice.number)).all()
    return [OpenInvoice(r.id, r.due) for r in rows]


def unapplied_credit(session: Session, client_id: str) -> int:
    """Money received but applied to no invoice: what is open on invoices minus what the ledger says is owed."""
    return max(0, sum(i.balance_cents for i in open_invoices(session, client_id)) - balance(session, client_id))


# A payment or a refund is on the ledger at most once: the partial unique indexes uq_ledger_payment and
# uq_ledger_refund (models.LedgerEntry) on these columns.
ONCE_PER = {"payment": "payment_id", "refund": "refund_id"}


def append(session: Session, client_id: str, *, kind: str, amount_cents: int, currency: str, description: str,
           occurred_at: datetime | None = None, once: bool = False, **fields) -> Posted | None:
    """An entry on the ledger (every charge, payment, refund and adjustment goes through here), in one INSERT:
    the running balance is computed from the previous entry in the statement (under the caller's account
    lock). With `once`, a payment or refund already on the ledger is not inserted again, and the answer is
    None."""
    stmt = pg_insert(LedgerEntry).values(
        client_id=client_id, kind=kind, amount_cents=amount_cents, currency=currency,
        balance_after_cents=func.coalesce(last_balance(client_id), 0) + amount_cents, description=description,
        occurred_at=occurred_at or utcnow(), **fields)
    if once:
        stmt = stmt.on_conflict_do_nothing(index_elements=[ONCE_PER[kind]], index_where=kind_is(kind))
    row = session.execute(stmt.returning(LedgerEntry.id, LedgerEntry.seq, LedgerEntry.balance_after_cents)).first()
    return Posted(*row) if row else None


def add_allocations(session: Session, allocations: list[tuple[str, int]], entry_id: str | None) -> None:
    if allocations:
        session.execute(insert(Allocation), [{"invoice_id": i, "entry_id": entry_id, "amount_cents": a}
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
    if not invoice_ids:
        return
    paid = {r.id: r for r in session.execute(
        update(Invoice).where(Invoice.id.in_(invoice_ids), Invoice.paid_at.is_(None)).values(paid_at=utcnow())
        .returning(Invoice.id, Invoice.number, Invoice.total_cents, Invoice.currency))}
    for invoice_id in invoice_ids:
        if invoice := paid.get(invoice_id):
            publish(session, "invoice.paid", {"invoice_id": invoice.id, "client_id": client_id,
                                              "number": invoice.number, "total_cents": invoice.total_cents,
                                              "currency": invoice.currency})


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
    return max(0, -entry.amount_cents - allocated - refunded)


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
        left = -amount - allocated.get(entry_id, 0) - refunded.get(payment_id, 0)
        if left > 0:
            credits.append((entry_id, left))
    return credits


def apply_credit_to(session: Session, client_id: str, invoice: Invoice) -> int:
    """Credit pays a new invoice, each part recorded against the payment it came from."""
    remaining = invoice.total_cents
    for entry_id, left in unallocated_payments(session, client_id):
        if remaining == 0:
            break
        take = min(left, remaining)
        add_allocations(session, [(invoice.id, take)], entry_id=entry_id)
        remaining -= take
    return invoice.total_cents - remaining


def next_number(session: Session, name: str) -> int:
    """Gap-free: the counter row stays locked until the issuing transaction ends."""
    return session.execute(pg_insert(Counter).values(name=name, value=1)
                           .on_conflict_do_update(index_elements=["name"], set_={"value": Counter.value + 1})
                           .returning(Counter.value)).scalar_one()
