"""Billing documents: statements and superbills issued (numbered without gaps, under the account lock), a client's
documents as one list, and each as a PDF (the practice's own at any time; a client's only while the practice's
switch, confirmed with identity, shares them).

A PDF is assembled here from the ledger into the plain data services/billing/pdf.py renders. `figures` gives the
document what the API answers: an invoice's figures (invoice_views) and a statement's period (period). It is the
Documents use case itself, or BillingService (bench assembles a statement through the facade), so that a PDF
shows what the API answers."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.billing import ledger
from services.billing.domain.errors import BillingDocumentsOff, DocumentNotFound, UnknownClient
from services.billing.domain.numbers import document_file_name, document_number, document_title
from services.billing.domain.periods import Period
from services.billing.models import Account, Allocation, Invoice, LedgerEntry, Statement, Superbill
from services.billing.usecases.base import Context, require_switch
from services.billing.usecases.base import period as practice_period
from services.billing.usecases.invoices import Invoices
from shared.auth import Principal
from shared.db import unit_of_work, utcnow


class Figures(Protocol):
    """What a document shows as the API does: the Documents use case, or BillingService."""

    def invoice_views(self, session: Session, invoices: list[Invoice]) -> list[dict]: ...

    def period(self, session: Session, start: date | None, end: date | None) -> Period: ...


def document_entry(kind: str, document) -> dict:
    """An invoice, statement or superbill as a line of a billing-documents list."""
    period = None if kind == "invoice" else (document.period_from, document.period_to)
    return {"id": document.id, "kind": kind, "number": document_number(kind, document.number),
            "title": document_title(kind, document.number, period), "date": document.issued_at.date(),
            "total_cents": getattr(document, "total_cents", None), "client_id": document.client_id}


class Documents:
    def __init__(self, ctx: Context, invoices: Invoices):
        self.ctx = ctx
        self.invoices = invoices

    def create_statement(self, client_id: str, start: date, end: date, staff: Principal) -> Statement:
        with unit_of_work(self.ctx.sessions) as session:
            ledger.lock_account(session, client_id)
            statement = Statement(number=ledger.next_number(session, "statement"), client_id=client_id,
                                  period_from=start, period_to=end, issued_at=utcnow(), created_by=staff.user_id)
            session.add(statement)
            session.flush()
            return statement

    def create_superbill(self, data: dict, staff: Principal) -> Superbill:
        with unit_of_work(self.ctx.sessions) as session:
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
            require_switch(self.ctx, "billing_documents_enabled",
                           BillingDocumentsOff("Ask your practice for copies of your billing documents."))
        with unit_of_work(self.ctx.sessions) as session:
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
        if client_id is not None:
            require_switch(self.ctx, "billing_documents_enabled",
                           BillingDocumentsOff("Ask your practice for copies of your billing documents."))
        with unit_of_work(self.ctx.sessions) as session:
            for model in (Invoice, Statement, Superbill):
                found = session.get(model, document_id)
                if found is not None and (client_id is None or found.client_id == client_id):
                    return render(self, session, found)
            raise DocumentNotFound("No billing document with this id.")

    # Figures: what the API answers, which a document shows
    def invoice_views(self, session: Session, invoices: list[Invoice]) -> list[dict]:
        return self.invoices.invoice_views(session, invoices)

    def period(self, session: Session, start: date | None, end: date | None) -> Period:
        return practice_period(session, start, end)


# --- a document's data, for the PDF renderer ---------------------------------------------------------

def _practice(session: Session) -> dict:
    p = ledger.practice(session)
    return {"name": p.practice_name, "address": dict(p.address or {}), "phone": p.phone, "email": p.email,
            "currency": p.currency}


def _client(session: Session, client_id: str) -> dict:
    a = session.get(Account, client_id)
    return {"first_name": a.first_name, "last_name": a.last_name, "preferred_name": a.preferred_name,
            "date_of_birth": a.date_of_birth, "email": a.email, "address": None}


def render(figures: Figures, session: Session, document) -> tuple[str, bytes]:
    # fpdf2 (with Pillow and fontTools, about 20 MiB) loads with the first PDF asked, not with every billing app
    from services.billing import pdf

    if isinstance(document, Invoice):
        return document_file_name("invoice", document.number), pdf.render_invoice(
            invoice_doc(figures, session, document))
    if isinstance(document, Statement):
        return document_file_name("statement", document.number), pdf.render_statement(
            statement_doc(figures, session, document))
    return document_file_name("superbill", document.number), pdf.render_superbill(
        superbill_doc(figures, session, document))


def invoice_doc(figures: Figures, session: Session, invoice: Invoice) -> dict:
    view = figures.invoice_views(session, [invoice])[0]
    payments = session.execute(
        select(LedgerEntry.occurred_at, LedgerEntry.description, Allocation.amount_cents)
        .join(Allocation, Allocation.entry_id == LedgerEntry.id)
        .where(Allocation.invoice_id == invoice.id).order_by(LedgerEntry.seq)).all()
    return {"practice": _practice(session), "client": _client(session, invoice.client_id), "number": invoice.number,
            "issued_at": invoice.issued_at, "due_date": invoice.due_date, "date_of_service": invoice.date_of_service,
            "status": view["status"], "lines": view["lines"], "total_cents": invoice.total_cents,
            "paid_cents": view["paid_cents"], "adjusted_cents": view["adjusted_cents"],
            "balance_due_cents": view["balance_due_cents"], "currency": invoice.currency,
            "payments": [{"date": at.date(), "description": text, "amount_cents": amount}
                         for at, text, amount in payments]}


def statement_doc(figures: Figures, session: Session, statement: Statement) -> dict:
    period = figures.period(session, statement.period_from, statement.period_to)
    opening = session.scalars(select(LedgerEntry.balance_after_cents)
                              .where(LedgerEntry.client_id == statement.client_id,
                                     LedgerEntry.occurred_at < period.start)
                              .order_by(LedgerEntry.seq.desc()).limit(1)).first() or 0
    entries = session.execute(select(LedgerEntry.occurred_at, LedgerEntry.kind, LedgerEntry.description,
                                     LedgerEntry.amount_cents, LedgerEntry.balance_after_cents)
                              .where(LedgerEntry.client_id == statement.client_id,
                                     LedgerEntry.occurred_at >= period.start, LedgerEntry.occurred_at < period.end)
                              .order_by(LedgerEntry.seq)).all()
    totals = {"charge": 0, "payment": 0, "adjustment": 0, "refund": 0}
    for e in entries:
        totals[e.kind] += e.amount_cents
    return {"practice": _practice(session), "client": _client(session, statement.client_id),
            "number": document_number("statement", statement.number), "issued_at": statement.issued_at,
            "period_from": statement.period_from, "period_to": statement.period_to,
            "opening_balance_cents": opening, "closing_balance_cents": entries[-1].balance_after_cents if entries
            else opening, "currency": ledger.practice(session).currency,
            "entries": [{"date": e.occurred_at.date(), "kind": e.kind, "description": e.description,
                         "amount_cents": e.amount_cents, "balance_after_cents": e.balance_after_cents}
                        for e in entries],
            "total_charges_cents": totals["charge"], "total_payments_cents": -totals["payment"],
            "total_adjustments_cents": -totals["adjustment"], "total_refunds_cents": totals["refund"]}


def superbill_doc(figures: Figures, session: Session, superbill: Superbill) -> dict:
    invoices = list(session.scalars(select(Invoice).where(Invoice.client_id == superbill.client_id)
                                    .order_by(Invoice.number)))
    views = {v["id"]: v for v in figures.invoice_views(session, invoices)}
    letters = "ABCDEFGHIJKL"
    pointers = ",".join(letters[i] for i in range(min(len(superbill.diagnosis_codes), 4))) or ""
    services = []
    for invoice in invoices:
        paid_left = views[invoice.id]["paid_cents"]
        for line in invoice.lines:
            when = line.date_of_service or invoice.date_of_service or invoice.issued_at.date()
            if not superbill.period_from <= when <= superbill.period_to:
                continue
            paid = min(paid_left, line.amount_cents)  # payments cover an invoice's lines in order
            paid_left -= paid
            services.append({"date_of_service": when, "service_code": line.service_code,
                             "description": line.description, "units": line.units,
                             "diagnosis_pointers": pointers, "amount_cents": line.amount_cents, "paid_cents": paid})
    return {"practice": _practice(session), "client": _client(session, superbill.client_id),
            "number": document_number("superbill", superbill.number), "issued_at": superbill.issued_at,
            "period_from": superbill.period_from, "period_to": superbill.period_to,
            "provider": dict(superbill.provider or {}), "place_of_service": superbill.place_of_service,
            "diagnosis_codes": list(superbill.diagnosis_codes or []), "services": services,
            "total_charged_cents": sum(s["amount_cents"] for s in services),
            "total_paid_cents": sum(s["paid_cents"] for s in services), "currency": ledger.practice(session).currency}
