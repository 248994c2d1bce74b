"""Billing's use cases. Event handlers post inside the consumer's transaction; API calls open their own."""

from __future__ import annotations

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.billing import ledger
from services.billing.domain.adjustments import adjusted_invoices, adjustment_description
from services.billing.domain.allocation import allocate, invoice_balance, invoice_status
from services.billing.domain.errors import (
    AutopayOff,
    BillingDocumentsOff,
    BillingError,
    DocumentNotFound,
    InvoiceClientUnknown,
    InvoiceNotFound,
    NotTheClientsInvoice,
    ServiceCodeTaken,
    SettingsUnknown,
    UnknownClient,
)
from services.billing.domain.invoices import (
    Rate,
    check_lines,
    check_session,
    code_of,
    due_date,
    invoice_total,
    priced_lines,
)
from services.billing.domain.numbers import document_number, document_title
from services.billing.domain.periods import Period, calendar_period
from services.billing.models import (
    Account,
    Allocation,
    BillableSession,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    ServiceCode,
    Statement,
    Superbill,
)
from shared.auth import Principal
from shared.db import new_id, unit_of_work, utcnow
from shared.pagination import paginate
from shared.practice_settings import PracticeSettings, SettingsSource, SettingsUnavailable, confirm

log = logging.getLogger(__name__)

PRACTICE_FIELDS = ("practice_name", "currency", "timezone", "phone", "email", "address", "online_payments_enabled",
                   "billing_documents_enabled", "autopay_enabled")
PROFILE_FIELDS = ("provider_name", "provider_credentials", "npi", "tax_id", "license", "place_of_service")


# --- the API -----------------------------------------------------------------------------------

def document_entry(kind: str, document) -> dict:
    """An invoice, statement or superbill as a line of a billing-documents list."""
    period = None if kind == "invoice" else (document.period_from, document.period_to)
    return {"id": document.id, "kind": kind, "number": document_number(kind, document.number),
            "title": document_title(kind, document.number, period), "date": document.issued_at.date(),
            "total_cents": getattr(document, "total_cents", None), "client_id": document.client_id}


class BillingService:
    def __init__(self, *, config, sessions: sessionmaker[Session], settings: SettingsSource | None = None):
        self.config = config
        self.sessions = sessions
        # identity's current settings: the switches a decision must find on at that moment
        self.settings = settings or PracticeSettings(config.identity_url, config.internal_api_key,
                                                     timeout=config.identity_timeout)

    def require_switch(self, switch: str, refusal: BillingError) -> None:
        """A decision the practice's switch must allow now: the projection says off -> refused without asking;
        on -> identity confirms (off there: refused; no answer: 503, try again). The projection lags (and for
        as long as the broker is down); identity owns the switch."""
        with unit_of_work(self.sessions) as session:
            on = bool(getattr(ledger.practice(session), switch))
        try:
            if on and confirm(self.settings, switch):
                return
        except SettingsUnavailable:
            raise SettingsUnknown("The practice's settings cannot be confirmed right now; try again in a moment.",
                                  headers={"Retry-After": "5"}) from None
        raise refusal

    # practice and profile
    def practice_view(self, session: Session) -> dict:
        p = ledger.practice(session)
        return {name: getattr(p, name) for name in PRACTICE_FIELDS + PROFILE_FIELDS}

    def get_profile(self) -> dict:
        with unit_of_work(self.sessions) as session:
            return self.practice_view(session)

    def update_profile(self, data: dict) -> dict:
        with unit_of_work(self.sessions) as session:
            p = ledger.practice(session)
            for name, value in data.items():
                setattr(p, name, value)
            session.flush()
            return self.practice_view(session)

    def period(self, session: Session, start: date | None, end: date | None) -> Period:
        """Dates are the practice's calendar days."""
        return calendar_period(start, end, ledger.practice(session).timezone)

    # service codes
    def create_service_code(self, data: dict) -> ServiceCode:
        with unit_of_work(self.sessions) as session:
            code = ServiceCode(code=data["code"].strip().upper(), description=data["description"],
                               rate_cents=data["rate_cents"], active=True)
            session.add(code)
            try:
                session.flush()
            except IntegrityError as exc:
                raise ServiceCodeTaken(f"Service code {code.code} already exists.") from exc
            return code

    def list_service_codes(self, include_inactive: bool) -> list[ServiceCode]:
        with unit_of_work(self.sessions) as session:
            stmt = select(ServiceCode).order_by(ServiceCode.code)
            if not include_inactive:
                stmt = stmt.where(ServiceCode.active.is_(True))
            return list(session.scalars(stmt))

    def update_service_code(self, code_id: str, data: dict) -> ServiceCode:
        with unit_of_work(self.sessions) as session:
            code = session.get(ServiceCode, code_id)
            if code is None:
                raise DocumentNotFound("No service code with this id.")
            for name, value in data.items():
                setattr(code, name, value)
            return code

    # invoices
    def create_invoice(self, data: dict, staff: Principal) -> dict:
        with unit_of_work(self.sessions) as session:
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
                              due_date=due_date(issued_on, self.config.invoice_due_days, data.get("due_date")),
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
            ledger.append(session, account.client_id, kind="charge", amount_cents=total,
                          currency=ledger.practice_currency(session), invoice_id=invoice.id,
                          description=document_title("invoice", invoice.number), occurred_at=now,
                          created_by=staff.user_id)
            ledger.apply_credit_to(session, account.client_id, invoice)
            ledger.publish(session, "invoice.generated", {
                "invoice_id": invoice.id, "client_id": account.client_id, "number": invoice.number,
                "total_cents": total, "currency": invoice.currency, "due_date": invoice.due_date.isoformat(),
                "appointment_id": appointment_id, "issued_at": now.isoformat()})
            ledger.settle_paid_flags(session, account.client_id, {invoice.id})
            ledger.balance_changed(session, account.client_id)
            session.flush()
            session.expire(invoice, ["lines"])
            return self.invoice_views(session, [invoice])[0]

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
        with unit_of_work(self.sessions) as session:
            stmt = select(Invoice)
            if client_id:
                stmt = stmt.where(Invoice.client_id == client_id)
            remaining = Invoice.total_cents - ledger.allocated_sum()
            if status == "unpaid":
                stmt = stmt.where(remaining > 0)
            elif status == "paid":
                stmt = stmt.where(remaining <= 0)
            rows, next_cursor = paginate(session, stmt, [Invoice.issued_at, Invoice.id], [datetime, str],
                                         limit=limit, cursor=cursor, descending=True)
            return self.invoice_views(session, rows), next_cursor

    def get_invoice(self, invoice_id: str, *, client_id: str | None) -> dict:
        with unit_of_work(self.sessions) as session:
            invoice = session.get(Invoice, invoice_id)
            if invoice is None or (client_id is not None and invoice.client_id != client_id):
                raise InvoiceNotFound("No invoice with this id.")
            return self.invoice_views(session, [invoice])[0]

    def billable_sessions(self, client_id: str | None) -> list[BillableSession]:
        with unit_of_work(self.sessions) as session:
            stmt = select(BillableSession).where(BillableSession.invoice_id.is_(None)).order_by(BillableSession.start)
            if client_id:
                stmt = stmt.where(BillableSession.client_id == client_id)
            return list(session.scalars(stmt))

    # the account
    def account(self, client_id: str) -> dict:
        with unit_of_work(self.sessions) as session:
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
        with unit_of_work(self.sessions) as session:
            if session.get(Account, client_id) is None:
                raise UnknownClient("No billing account for this client.")
            period = self.period(session, start, end)
            stmt = select(LedgerEntry).where(LedgerEntry.client_id == client_id,
                                             LedgerEntry.occurred_at >= period.start,
                                             LedgerEntry.occurred_at < period.end)
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
        with unit_of_work(self.sessions) as session:
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

    def set_autopay(self, client_id: str, enabled: bool) -> dict:
        if enabled:  # asked before the account lock: a call to identity is never made holding one
            self.require_switch("autopay_enabled", AutopayOff("Turn AutoPay on in the practice settings first."))
        with unit_of_work(self.sessions) as session:
            account = ledger.lock_account(session, client_id)
            if enabled and not account.autopay_enabled:
                account.autopay_since = utcnow()
            account.autopay_enabled = enabled
            account.autopay_failures = 0
            ledger.publish(session, "autopay.changed", {"client_id": client_id, "enabled": enabled})
            return {"client_id": client_id, "autopay_enabled": enabled}

    # statements and superbills
    def create_statement(self, client_id: str, start: date, end: date, staff: Principal) -> Statement:
        with unit_of_work(self.sessions) as session:
            ledger.lock_account(session, client_id)
            statement = Statement(number=ledger.next_number(session, "statement"), client_id=client_id,
                                  period_from=start, period_to=end, issued_at=utcnow(), created_by=staff.user_id)
            session.add(statement)
            session.flush()
            return statement

    def create_superbill(self, data: dict, staff: Principal) -> Superbill:
        with unit_of_work(self.sessions) as session:
            ledger.lock_account(session, data["client_id"])
            practice = ledger.practice(session)
            provider = {"name": practice.provider_name or practice.practice_name, "npi": practice.npi,
                        "credentials": practice.provider_credentials, "tax_id": practice.tax_id,
                        "license": practice.license}
            provider.update({k: v for k, v in (data.get("provider") or {}).items() if v})
            superbill = Superbill(number=ledger.next_number(session, "superbill"), client_id=data["client_id"],
                                  period_from=data["from"], period_to=data["to"],
                                  diagnosis_codes=list(data.get("diagnosis_codes") or []), provider=provider,
                                  place_of_service=data.get("place_of_service") or practice.place_of_service,
                                  issued_at=utcnow(), created_by=staff.user_id)
            session.add(superbill)
            session.flush()
            return superbill

    def documents(self, client_id: str, *, for_client: bool) -> list[dict]:
        if for_client:
            self.require_switch("billing_documents_enabled",
                                BillingDocumentsOff("Ask your practice for copies of your billing documents."))
        with unit_of_work(self.sessions) as session:
            if session.get(Account, client_id) is None:
                raise UnknownClient("No billing account for this client.")
            docs = [document_entry("invoice", i) for i in session.scalars(
                select(Invoice).where(Invoice.client_id == client_id))]
            docs += [document_entry("statement", s) for s in session.scalars(
                select(Statement).where(Statement.client_id == client_id))]
            docs += [document_entry("superbill", s) for s in session.scalars(
                select(Superbill).where(Superbill.client_id == client_id))]
            return sorted(docs, key=lambda d: (d["date"], d["number"]), reverse=True)

    def document_pdf(self, document_id: str, *, client_id: str | None) -> tuple[str, bytes]:
        """(file name, PDF) of an invoice, statement or superbill; another client's answers 404."""
        from services.billing import documents

        if client_id is not None:
            self.require_switch("billing_documents_enabled",
                                BillingDocumentsOff("Ask your practice for copies of your billing documents."))
        with unit_of_work(self.sessions) as session:
            for model in (Invoice, Statement, Superbill):
                found = session.get(model, document_id)
                if found is not None and (client_id is None or found.client_id == client_id):
                    return documents.render(self, session, found)
            raise DocumentNotFound("No billing document with this id.")
