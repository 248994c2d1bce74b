"""/api/v1/portal (role client): My Account — balance, history, invoices, billing documents."""

from __future__ import annotations

from flask import Blueprint

from services.billing.api import billing, pdf_response
from services.billing.api.schemas import (
    AccountOut,
    DocumentList,
    EntryPage,
    HistoryQuery,
    InvoiceOut,
    InvoicePage,
    InvoiceQuery,
    entry_page,
)
from shared.auth import current_client_id
from shared.web import doc, load_query

bp = Blueprint("billing_portal", __name__, url_prefix="/api/v1/portal")
history_query = HistoryQuery()  # schemas keep no state between loads: one for every request


@bp.get("/account")
@doc(response=AccountOut, summary="Balance, AutoPay and whether Pay Now applies")
def account():
    return AccountOut().dump(billing().account(current_client_id()))


@bp.get("/account/history")
@doc(query=HistoryQuery, response=EntryPage, summary="Every charge, payment, refund and adjustment, newest first")
def history():
    q = load_query(history_query)
    items, next_cursor = billing().history(current_client_id(), start=q["from"], end=q["to"], kind=q["kind"],
                                           limit=q["limit"], cursor=q["cursor"], oldest_first=q["order"] == "oldest")
    return entry_page(items, next_cursor)


@bp.get("/invoices")
@doc(query=InvoiceQuery, response=InvoicePage, summary="My invoices with lines and balance due")
def invoices():
    q = load_query(InvoiceQuery())
    items, next_cursor = billing().list_invoices(client_id=current_client_id(), status=q["status"], limit=q["limit"],
                                                 cursor=q["cursor"])
    return InvoicePage().dump({"items": items, "next_cursor": next_cursor})


@bp.get("/invoices/<invoice_id>")
@doc(response=InvoiceOut, summary="One of my invoices")
def invoice(invoice_id: str):
    return InvoiceOut().dump(billing().get_invoice(invoice_id, client_id=current_client_id()))


@bp.get("/billing-documents")
@doc(response=DocumentList, summary="Invoices, statements and superbills to download")
def documents():
    items = billing().documents(current_client_id(), for_client=True)
    for item in items:
        item["pdf_url"] = f"/api/v1/portal/billing-documents/{item['id']}/pdf"
    return DocumentList().dump({"items": items, "next_cursor": None})


@bp.get("/billing-documents/<document_id>/pdf")
@doc(summary="The document as a PDF")
def document_pdf(document_id: str):
    return pdf_response(*billing().document_pdf(document_id, client_id=current_client_id()))
