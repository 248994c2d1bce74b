"""A client's account: its balance and what the portal offers on it, its ledger a page at a time (the history),
and the practice's adjustments (write-offs and discounts), allocated to open invoices under the account lock."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from services.billing import ledger
from services.billing.domain.adjustments import adjusted_invoices, adjustment_description
from services.billing.domain.allocation import allocate
from services.billing.domain.errors import NotTheClientsInvoice, UnknownClient
from services.billing.models import Account, Invoice, LedgerEntry
from services.billing.usecases.base import Context, period
from shared.auth import Principal
from shared.db import unit_of_work
from shared.pagination import paginate


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
                cursor: str | None):
        with unit_of_work(self.ctx.sessions) as session:
            if session.get(Account, client_id) is None:
                raise UnknownClient("No billing account for this client.")
            days = period(session, start, end)
            stmt = select(LedgerEntry).where(LedgerEntry.client_id == client_id,
                                             LedgerEntry.occurred_at >= days.start,
                                             LedgerEntry.occurred_at < days.end)
            if kind:
                stmt = stmt.where(LedgerEntry.kind == kind)
            # (occurred_at, seq): the order of the (client_id, occurred_at, seq) index, which also serves a date range
            rows, next_cursor = paginate(session, stmt, [LedgerEntry.occurred_at, LedgerEntry.seq], [datetime, int],
                                         limit=limit, cursor=cursor, descending=True)
            numbers = dict(session.execute(select(Invoice.id, Invoice.number).where(
                Invoice.id.in_({r.invoice_id for r in rows if r.invoice_id}))).all())
            items = [{"id": r.id, "occurred_at": r.occurred_at, "kind": r.kind, "description": r.description,
                      "amount_cents": r.amount_cents, "currency": r.currency,
                      "balance_after_cents": r.balance_after_cents, "invoice_id": r.invoice_id,
                      "invoice_number": numbers.get(r.invoice_id), "payment_id": r.payment_id,
                      "reason": r.reason} for r in rows]
            return items, next_cursor

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
