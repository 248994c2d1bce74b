"""Payments' projections of other services' events: the client accounts (identity's clients, billing's balances
and invoices) and the practice's settings. Event handlers, run inside the consumer's transaction."""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session

from services.payments.models import Account, InvoiceRef, Payment, Practice
from shared.db import utcnow
from shared.directory import ClientDirectory, PracticeProjection

_payments = Payment.__table__
# The directory on payments' accounts (names for receipts); a new account has no balance until billing's first.
CLIENTS = ClientDirectory(Account, fields=("first_name", "last_name", "email"),
                          new={"balance_cents": 0, "ledger_seq": 0, "open_invoices": []})
PRACTICE = PracticeProjection(Practice, fields=("practice_name", "currency", "timezone", "online_payments_enabled",
                                                "phone", "address"))


def practice(session: Session) -> Practice:
    return PRACTICE.row(session)


def upsert_client(session: Session, payload: dict) -> None:
    CLIENTS.upsert(session, payload)


def apply_settings(session: Session, settings: dict) -> None:
    PRACTICE.apply(session, settings)


def _account_for_event(session: Session, client_id: str) -> Account:
    account = session.get(Account, client_id, with_for_update=True)
    if account is None:
        raise LookupError(f"client {client_id} not known to payments yet")  # retried, then dead-lettered
    return account


def apply_balance(session: Session, payload: dict) -> None:
    """Billing's balance and open invoices, unless an older snapshot arrives late (one UPDATE, which locks
    the account row like a Pay Now decision does)."""
    seq = int(payload.get("ledger_seq") or 0)
    params = {"target_client": payload["client_id"], "new_balance_cents": int(payload["balance_cents"]),
              "new_ledger_seq": seq}
    if "open_invoices" in payload:
        params["new_open_invoices"] = list(payload["open_invoices"])
    applied = session.execute(_balance_statement("new_open_invoices" in params, bool(seq)), params).first()
    if applied is None:
        _account_for_event(session, payload["client_id"])  # unknown client: retried, then dead-lettered


@functools.cache
def _balance_statement(with_invoices: bool, ordered: bool):
    """apply_balance's UPDATE, built once per shape (Core DML: no ORM bookkeeping on a consumer's hot path).
    Parameter names are no column's: SQLAlchemy would take those as more values to set."""
    accounts = Account.__table__
    names = ("balance_cents", "ledger_seq", "open_invoices") if with_invoices else ("balance_cents", "ledger_seq")
    stmt = update(accounts).where(accounts.c.client_id == bindparam("target_client"))
    if ordered:
        stmt = stmt.where(accounts.c.ledger_seq <= bindparam("new_ledger_seq"))
    return stmt.values({name: bindparam(f"new_{name}") for name in names}).returning(accounts.c.client_id)


def remember_invoice(session: Session, payload: dict) -> None:
    if session.get(InvoiceRef, payload["invoice_id"]) is None:
        session.add(InvoiceRef(invoice_id=payload["invoice_id"], client_id=payload["client_id"],
                               number=int(payload["number"]), total_cents=int(payload["total_cents"])))


def mark_posted(session: Session, payload: dict) -> None:
    session.execute(_MARK_POSTED, {"posted_payment": payload["payment_id"], "now": utcnow()})
    if "balance_cents" in payload:  # the posting's own balance: no window where the payment counts twice
        apply_balance(session, payload)


_MARK_POSTED = update(_payments).where(_payments.c.id == bindparam("posted_payment"),
                                      _payments.c.posted_at.is_(None)).values(posted_at=bindparam("now"))


