"""A client's account: its balance and what the portal offers on it, its ledger a page at a time (the history),
and the practice's adjustments (write-offs and discounts), allocated to open invoices under the account lock."""

from __future__ import annotations

import functools
from datetime import date, datetime

from sqlalchemy import BigInteger, bindparam, select, tuple_
from sqlalchemy.sql import Select

from services.billing import ledger
from services.billing.domain.adjustments import adjusted_invoices, adjustment_description
from services.billing.domain.allocation import allocate
from services.billing.domain.errors import NotTheClientsInvoice, UnknownClient
from services.billing.domain.periods import calendar_period
from services.billing.models import Account, Invoice
from services.billing.usecases.base import Context, period
from shared.auth import Principal
from shared.db import get_read_engine, unit_of_work
from shared.pagination import decode_cursor, encode_cursor

account_table, practice_table, entry_table, invoice_table = (
    ledger.account_table, ledger.practice_table, ledger.entry_table, ledger.invoice_table)

# The history page is two statements on an autocommit connection (no BEGIN, no COMMIT, no ORM objects): the account
# with the practice's time zone, then the page's entries with their invoice numbers. Both are built once (values go
# in as parameters), so a request does not build them or generate their cache keys either.
ACCOUNT_TIMEZONE = (select(account_table.c.client_id,
                           select(practice_table.c.timezone).where(practice_table.c.id == 1).scalar_subquery())
                    .where(account_table.c.client_id == bindparam("client_id")))
HISTORY_FIELDS = ("id", "occurred_at", "kind", "description", "amount_cents", "currency", "balance_after_cents",
                  "invoice_id", "invoice_number", "payment_id", "reason")  # an item's keys, in EntryOut's order


@functools.cache
def history_statement(kind: bool, after_cursor: bool, oldest_first: bool = False) -> Select:
    """The page: the client's entries in a period (of one kind), newest first (or oldest first), after a cursor's
    (occurred_at, seq), `limit` of them; the invoice number by an outer join (an entry's invoice, whoever's, as the
    lookup by id was)."""
    e = entry_table
    columns = [invoice_table.c.number if name == "invoice_number" else e.c[name] for name in HISTORY_FIELDS]
    stmt = (select(*columns, e.c.seq)
            .select_from(e.outerjoin(invoice_table, invoice_table.c.id == e.c.invoice_id))
            .where(e.c.client_id == bindparam("client_id"), e.c.occurred_at >= bindparam("start"),
                   e.c.occurred_at < bindparam("end")))
    if kind:
        stmt = stmt.where(e.c.kind == bindparam("kind"))
    if after_cursor:
        position = tuple_(e.c.occurred_at, e.c.seq)
        cursor = tuple_(bindparam("after_at", type_=e.c.occurred_at.type), bindparam("after_seq", type_=e.c.seq.type))
        stmt = stmt.where(position > cursor if oldest_first else position < cursor)
    order = (e.c.occurred_at.asc(), e.c.seq.asc()) if oldest_first else (e.c.occurred_at.desc(), e.c.seq.desc())
    return stmt.order_by(*order).limit(bindparam("limit", type_=BigInteger))


class Accounts:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def account(self, client_id: str) -> dict:
        with unit_of_work(self.ctx.sessions) as session:
            account = session.get(Account, client_id)
            if account is None:
                raise UnknownClient("No billing account for this client.")
            practice = ledger.practice(session)
            balance = ledger.balance(session, client_id)
            return {"client_id": client_id, "balance_cents": balance, "currency": practice.currency,
                    "credit_cents": ledger.unapplied_credit(session, client_id),
                    "autopay_enabled": account.autopay_enabled and practice.autopay_enabled,
                    "autopay_enrolled": account.autopay_enabled,
                    "default_payment_method_id": account.default_payment_method_id,
                    "pay_now": practice.online_payments_enabled and balance > 0,
                    "online_payments_enabled": practice.online_payments_enabled,
                    "billing_documents_enabled": practice.billing_documents_enabled}

    def history(self, client_id: str, *, start: date | None, end: date | None, kind: str | None, limit: int,
                cursor: str | None, oldest_first: bool = False):
        """A page of the client's ledger, newest first (or oldest first): (items with HISTORY_FIELDS, the next page's
        cursor or None). A cursor walks the order it was made in."""
        with get_read_engine(self.ctx.config.database_url).connect() as conn:
            account = conn.execute(ACCOUNT_TIMEZONE, {"client_id": client_id}).first()
            if account is None:
                raise UnknownClient("No billing account for this client.")
            after = decode_cursor(cursor, [datetime, int]) if cursor else None  # a bad one: 422
            if account[1] is None:  # no practice row yet: period() makes it, with its defaults
                with unit_of_work(self.ctx.sessions) as session:
                    days = period(session, start, end)
            else:
                days = calendar_period(start, end, account[1])
            params = {"client_id": client_id, "start": days.start, "end": days.end, "limit": limit + 1}
            if kind:
                params["kind"] = kind
            if after is not None:
                params["after_at"], params["after_seq"] = after
            rows = conn.execute(history_statement(bool(kind), after is not None, oldest_first), params).all()
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor([rows[-1].occurred_at, rows[-1].seq])
        return [dict(zip(HISTORY_FIELDS, row[:-1], strict=True)) for row in rows], next_cursor

    def adjust(self, client_id: str, data: dict, staff: Principal) -> dict:
        with unit_of_work(self.ctx.sessions) as session:
            ledger.lock_account(session, client_id)  # one posting at a time per client
            open_invoices = ledger.open_invoices(session, client_id)
            amount = data["amount_cents"]
            if data.get("invoice_id"):
                invoice = session.get(Invoice, data["invoice_id"])
                if invoice is None or invoice.client_id != client_id:
                    raise NotTheClientsInvoice("Not an invoice of this client.",
                                               errors={"invoice_id": ["Unknown invoice."]})
            targets = adjusted_invoices(amount, open_invoices, data.get("invoice_id"))
            entry = ledger.append(session, client_id, kind="adjustment", amount_cents=-amount,
                                  currency=ledger.practice_currency(session), adjustment_kind=data["kind"],
                                  reason=data["reason"], created_by=staff.user_id, invoice_id=data.get("invoice_id"),
                                  description=adjustment_description(data["kind"], data["reason"]))
            allocations, _ = allocate(amount, targets)
            ledger.add_allocations(session, allocations, entry.id)
            ledger.settle_paid_flags(session, client_id, {i for i, _ in allocations})
            ledger.balance_changed(session, client_id)
            return {"id": entry.id, "kind": "adjustment", "adjustment_kind": data["kind"], "amount_cents": amount,
                    "reason": data["reason"], "balance_after_cents": entry.balance_after_cents,
                    "allocations": [{"invoice_id": i, "amount_cents": a} for i, a in allocations]}
