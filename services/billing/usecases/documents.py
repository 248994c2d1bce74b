"""Assembles an invoice, statement or superbill from the ledger into the plain data the PDF renderer takes.

`service` is the BillingService the document is asked of: an invoice's figures are its invoice_views() and a
statement's period its period(), so that a PDF shows what the API answers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.billing import ledger, pdf
from services.billing.domain.numbers import document_file_name, document_number
from services.billing.models import Account, Allocation, Invoice, LedgerEntry, Statement, Superbill


def _practice(session: Session) -> dict:
    p = ledger.practice(session)
    return {"name": p.practice_name, "address": dict(p.address or {}), "phone": p.phone, "email": p.email,
            "currency": p.currency}


def _client(session: Session, client_id: str) -> dict:
    a = session.get(Account, client_id)
    return {"first_name": a.first_name, "last_name": a.last_name, "preferred_name": a.preferred_name,
            "date_of_birth": a.date_of_birth, "email": a.email, "address": None}


def render(service, session: Session, document) -> tuple[str, bytes]:
    if isinstance(document, Invoice):
        return document_file_name("invoice", document.number), pdf.render_invoice(
            invoice_doc(service, session, document))
    if isinstance(document, Statement):
        return document_file_name("statement", document.number), pdf.render_statement(
            statement_doc(service, session, document))
    return document_file_name("superbill", document.number), pdf.render_superbill(
        superbill_doc(service, session, document))


def invoice_doc(service, session: Session, invoice: Invoice) -> dict:
    view = service.invoice_views(session, [invoice])[0]
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


def statement_doc(service, session: Session, statement: Statement) -> dict:
    period = service.period(session, statement.period_from, statement.period_to)
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


def superbill_doc(service, session: Session, superbill: Superbill) -> dict:
    invoices = list(session.scalars(select(Invoice).where(Invoice.client_id == superbill.client_id)
                                    .order_by(Invoice.number)))
    views = {v["id"]: v for v in service.invoice_views(session, invoices)}
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
