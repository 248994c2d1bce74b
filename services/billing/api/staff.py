"""/api/v1/staff (role staff or admin): service codes, invoices, ledgers, adjustments, documents, AutoPay."""

from __future__ import annotations

from flask import Blueprint, current_app, request

from services.billing.api import billing, pdf_response
from services.billing.api.schemas import (
    AccountOut,
    AdjustmentIn,
    AdjustmentOut,
    AutopayIn,
    AutopayOut,
    AutopayRunOut,
    BillableSessionList,
    BillingProfile,
    BillingProfileOut,
    DocumentList,
    DocumentOut,
    EntryPage,
    HistoryQuery,
    InvoiceIn,
    InvoiceOut,
    InvoicePage,
    PeriodIn,
    ServiceCodeIn,
    ServiceCodeList,
    ServiceCodeOut,
    ServiceCodePatch,
    StaffInvoiceQuery,
    SuperbillIn,
    entry_page,
)
from services.billing.usecases.documents import document_entry
from shared.auth import current_principal, require_roles
from shared.web import doc, load, load_query

bp = Blueprint("billing_staff", __name__, url_prefix="/api/v1/staff")
history_query = HistoryQuery()  # schemas keep no state between loads: one for every request


def _document(kind: str, obj) -> dict:
    return {**document_entry(kind, obj), "pdf_url": f"/api/v1/staff/billing-documents/{obj.id}/pdf"}


@bp.post("/service-codes")
@doc(body=ServiceCodeIn, response=ServiceCodeOut, status=201, summary="Define a service code and its rate")
def create_service_code():
    return ServiceCodeOut().dump(billing().create_service_code(load(ServiceCodeIn()))), 201


@bp.get("/service-codes")
@doc(response=ServiceCodeList, summary="Service codes (active ones; ?all=true for every one)")
def list_service_codes():
    include_all = request.args.get("all") == "true"
    return ServiceCodeList().dump({"items": billing().list_service_codes(include_all), "next_cursor": None})


@bp.patch("/service-codes/<code_id>")
@doc(body=ServiceCodePatch, response=ServiceCodeOut, summary="Change a rate or retire a code")
def patch_service_code(code_id: str):
    return ServiceCodeOut().dump(billing().update_service_code(code_id, load(ServiceCodePatch(), partial=True)))


@bp.post("/invoices")
@doc(body=InvoiceIn, response=InvoiceOut, status=201, summary="Issue an invoice (from a session or free lines)")
def create_invoice():
    return InvoiceOut().dump(billing().create_invoice(load(InvoiceIn()), current_principal())), 201


@bp.get("/invoices")
@doc(query=StaffInvoiceQuery, response=InvoicePage, summary="Invoices, by client and status")
def list_invoices():
    q = load_query(StaffInvoiceQuery())
    items, next_cursor = billing().list_invoices(client_id=q["client_id"], status=q["status"], limit=q["limit"],
                                                 cursor=q["cursor"])
    return InvoicePage().dump({"items": items, "next_cursor": next_cursor})


@bp.get("/invoices/<invoice_id>")
@doc(response=InvoiceOut)
def get_invoice(invoice_id: str):
    return InvoiceOut().dump(billing().get_invoice(invoice_id, client_id=None))


@bp.get("/billable-sessions")
@doc(response=BillableSessionList, summary="Completed sessions not invoiced yet")
def billable_sessions():
    items = billing().billable_sessions(request.args.get("client_id"))
    return BillableSessionList().dump({"items": items, "next_cursor": None})


@bp.post("/superbills")
@doc(body=SuperbillIn, response=DocumentOut, status=201, summary="A superbill for a date range")
def create_superbill():
    return DocumentOut().dump(_document("superbill", billing().create_superbill(load(SuperbillIn()),
                                                                               current_principal()))), 201


@bp.post("/statements")
@doc(body=PeriodIn, response=DocumentOut, status=201, summary="A statement for a date range")
def create_statement():
    data = load(PeriodIn())
    statement = billing().create_statement(data["client_id"], data["from"], data["to"], current_principal())
    return DocumentOut().dump(_document("statement", statement)), 201


@bp.get("/clients/<client_id>/billing-documents")
@doc(response=DocumentList)
def client_documents(client_id: str):
    items = billing().documents(client_id, for_client=False)
    for item in items:
        item["pdf_url"] = f"/api/v1/staff/billing-documents/{item['id']}/pdf"
    return DocumentList().dump({"items": items, "next_cursor": None})


@bp.get("/billing-documents/<document_id>/pdf")
@doc(summary="An invoice, statement or superbill as a PDF")
def document_pdf(document_id: str):
    return pdf_response(*billing().document_pdf(document_id, client_id=None))


@bp.get("/clients/<client_id>/ledger")
@doc(query=HistoryQuery, response=EntryPage, summary="The client's ledger with running balance")
def ledger(client_id: str):
    q = load_query(history_query)
    items, next_cursor = billing().history(client_id, start=q["from"], end=q["to"], kind=q["kind"],
                                           limit=q["limit"], cursor=q["cursor"], oldest_first=q["order"] == "oldest")
    return entry_page(items, next_cursor)


@bp.get("/clients/<client_id>/account")
@doc(response=AccountOut)
def account(client_id: str):
    return AccountOut().dump(billing().account(client_id))


@bp.post("/clients/<client_id>/adjustments")
@doc(body=AdjustmentIn, response=AdjustmentOut, status=201, summary="Write-off or discount, with a reason")
def adjust(client_id: str):
    return AdjustmentOut().dump(billing().adjust(client_id, load(AdjustmentIn()), current_principal())), 201


@bp.put("/clients/<client_id>/autopay")
@doc(body=AutopayIn, response=AutopayOut, summary="Enrol or un-enrol a client in AutoPay")
def autopay(client_id: str):
    return AutopayOut().dump(billing().set_autopay(client_id, load(AutopayIn())["enabled"]))


@bp.get("/billing-profile")
@doc(response=BillingProfileOut, summary="Provider, NPI and tax id printed on superbills")
def get_profile():
    return BillingProfileOut().dump(billing().get_profile())


@bp.put("/billing-profile")
@require_roles("admin")
@doc(body=BillingProfile, response=BillingProfileOut)
def put_profile():
    return BillingProfileOut().dump(billing().update_profile(load(BillingProfile(), partial=True)))


@bp.post("/autopay/runs")
@require_roles("admin")
@doc(response=AutopayRunOut, status=201, summary="Run AutoPay now (operators)")
def run_autopay():
    return AutopayRunOut().dump(current_app.extensions["billing_autopay"].run(trigger="manual")), 201
