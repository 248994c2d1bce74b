"""Invoices: one issued (from a completed session or free lines, priced from the service codes, paid at once from
any account credit), each shown with what was paid and adjusted on it, listed a page at a time; and the completed
sessions not invoiced yet."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.billing import ledger
from services.billing.domain.allocation import invoice_balance, invoice_status
from services.billing.domain.errors import InvoiceClientUnknown, InvoiceNotFound
from services.billing.domain.invoices import (
    Rate,
    check_lines,
    check_session,
    code_of,
    due_date,
    invoice_total,
    priced_lines,
)
from services.billing.domain.numbers import document_title
from services.billing.models import (
    Account,
    Allocation,
    BillableSession,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Practice,
    ServiceCode,
)
from services.billing.usecases.autopay import next_run_at
from services.billing.usecases.base import Context
from shared.auth import Principal
from shared.db import new_id, unit_of_work, utcnow
from shared.pagination import paginate


class Invoices:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def create_invoice(self, data: dict, staff: Principal) -> dict:
        with unit_of_work(self.ctx.sessions) as session:
            account = session.get(Account, data["client_id"], with_for_update=True)
            if account is None:
                raise InvoiceClientUnknown("No client with this id.", errors={"client_id": ["Unknown client."]})
            practice = ledger.practice(session)
            date_of_service = data.get("date_of_service")
            appointment_id = data.get("appointment_id")
            if appointment_id:
                billable = session.get(BillableSession, appointment_id, with_for_update=True)
                found = (billable.client_id, billable.invoice_id) if billable else (None, None)
                check_session(account.client_id, *found)
                date_of_service = billable.start.astimezone(ZoneInfo(practice.timezone)).date()
            rates = {c.code: Rate(c.code, c.description, c.rate_cents, c.active) for c in session.scalars(
                select(ServiceCode).where(ServiceCode.code.in_([code_of(line) for line in data["lines"]])))}
            check_lines(data["lines"], rates)
            lines = priced_lines(data["lines"], rates, date_of_service)
            total = invoice_total(lines)
            now = utcnow()
            issued_on = now.astimezone(ZoneInfo(practice.timezone)).date()
            invoice = Invoice(id=new_id(), number=ledger.next_number(session, "invoice"), client_id=account.client_id,
                              appointment_id=appointment_id, date_of_service=date_of_service, issued_at=now,
                              due_date=due_date(issued_on, self.ctx.config.invoice_due_days, data.get("due_date")),
                              currency=practice.currency, total_cents=total, note=data.get("note"),
                              created_by=staff.user_id)
            session.add(invoice)
            for line in lines:
                session.add(InvoiceLine(invoice_id=invoice.id, position=line.position, service_code=line.service_code,
                                        description=line.description, units=line.units, rate_cents=line.rate_cents,
                                        amount_cents=line.amount_cents, date_of_service=line.date_of_service))
            session.flush()
            if appointment_id:
                billable.invoice_id = invoice.id
            posted = ledger.append(session, account.client_id, kind="charge", amount_cents=total,
                                   currency=ledger.practice_currency(session), invoice_id=invoice.id,
                                   description=document_title("invoice", invoice.number), occurred_at=now,
                                   created_by=staff.user_id)
            ledger.apply_credit_to(session, account.client_id, invoice)
            ledger.publish(session, "invoice.generated", {
                "invoice_id": invoice.id, "client_id": account.client_id, "number": invoice.number,
                "total_cents": total, "currency": invoice.currency, "due_date": invoice.due_date.isoformat(),
                "appointment_id": appointment_id, "issued_at": now.isoformat(),
                "autopay": self._autopay_charge(account, practice, now, posted.balance_after_cents)})
            ledger.settle_paid_flags(session, account.client_id, {invoice.id})
            ledger.balance_changed(session, account.client_id)
            session.flush()
            session.expire(invoice, ["lines"])
            return self.invoice_views(session, [invoice])[0]

    def _autopay_charge(self, account: Account, practice: Practice, issued_at: datetime, balance_cents: int
                        ) -> dict | None:
        """invoice.generated's `autopay`: the client on AutoPay (and the practice's AutoPay on, as billing knows it)
        at issue, the next nightly run charges the balance after this invoice (the run charges every enrolled
        client whose balance comes from an invoice issued since their AutoPay period began, as this one is).
        None when not, or when credit left nothing to charge."""
        if not (account.autopay_enabled and practice.autopay_enabled) or balance_cents <= 0:
            return None
        config = self.ctx.config
        charge_at = next_run_at(issued_at, practice.timezone, config.autopay_hour, config.autopay_minute)
        return {"charge_at": charge_at.isoformat(), "amount_cents": balance_cents, "currency": practice.currency}

    def invoice_views(self, session: Session, invoices: list[Invoice]) -> list[dict]:
        """Each invoice as it is shown (the API's answer, a PDF's figures): what payments net of refunds and what
        adjustments allocated to it, its balance and status. Two statements however many invoices."""
        if not invoices:
            return []
        ids = [i.id for i in invoices]
        rows = session.execute(select(Allocation.invoice_id, LedgerEntry.kind, func.sum(Allocation.amount_cents))
                               .outerjoin(LedgerEntry, LedgerEntry.id == Allocation.entry_id)
                               .where(Allocation.invoice_id.in_(ids))
                               .group_by(Allocation.invoice_id, LedgerEntry.kind)).all()
        paid: dict[str, int] = {}
        adjusted: dict[str, int] = {}
        for invoice_id, kind, amount in rows:
            target = adjusted if kind == "adjustment" else paid
            target[invoice_id] = target.get(invoice_id, 0) + int(amount)
        views = []
        for inv in invoices:
            balance = invoice_balance(inv.total_cents, paid.get(inv.id, 0), adjusted.get(inv.id, 0))
            views.append({
                "id": inv.id, "number": inv.number, "client_id": inv.client_id, "appointment_id": inv.appointment_id,
                "date_of_service": inv.date_of_service, "issued_at": inv.issued_at, "due_date": inv.due_date,
                "currency": inv.currency, "total_cents": inv.total_cents, "paid_cents": paid.get(inv.id, 0),
                "adjusted_cents": adjusted.get(inv.id, 0), "balance_due_cents": balance,
                "status": invoice_status(inv.total_cents, balance), "note": inv.note,
                "lines": [{"service_code": ln.service_code, "description": ln.description, "units": ln.units,
                           "rate_cents": ln.rate_cents, "amount_cents": ln.amount_cents,
                           "date_of_service": ln.date_of_service} for ln in inv.lines]})
        return views

    def list_invoices(self, *, client_id: str | None, status: str | None, limit: int, cursor: str | None):
        with unit_of_work(self.ctx.sessions) as session:
            stmt = select(Invoice)
            if client_id:
                stmt = stmt.where(Invoice.client_id == client_id)
            remaining = Invoice.total_cents - ledger.allocated_sum()
            if status == "unpaid":
                # paid_at IS NULL first (ledger.settle_paid_flags keeps it exact): the partial index ix_invoices_open
                # leaves the open few, instead of summing the allocations of every invoice the client ever had
                stmt = stmt.where(Invoice.paid_at.is_(None), remaining > 0)
            elif status == "paid":
                stmt = stmt.where(remaining <= 0)
            rows, next_cursor = paginate(session, stmt, [Invoice.issued_at, Invoice.id], [datetime, str],
                                         limit=limit, cursor=cursor, descending=True)
            return self.invoice_views(session, rows), next_cursor

    def get_invoice(self, invoice_id: str, *, client_id: str | None) -> dict:
        with unit_of_work(self.ctx.sessions) as session:
            invoice = session.get(Invoice, invoice_id)
            if invoice is None or (client_id is not None and invoice.client_id != client_id):
                raise InvoiceNotFound("No invoice with this id.")
            return self.invoice_views(session, [invoice])[0]

    def billable_sessions(self, client_id: str | None) -> list[BillableSession]:
        with unit_of_work(self.ctx.sessions) as session:
            stmt = select(BillableSession).where(BillableSession.invoice_id.is_(None)).order_by(BillableSession.start)
            if client_id:
                stmt = stmt.where(BillableSession.client_id == client_id)
            return list(session.scalars(stmt))
