"""My Account: the balance, account history (date range, kind, order, pages), unpaid and paid invoices with
their details, billing documents as PDFs, Payment History with receipts, and Credit/Debit Cards on File."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, abort, redirect, request, url_for

from gateway.web import core
from gateway.web.portal import bp

KINDS = [("", "All entries"), ("charge", "Charges"), ("payment", "Payments"), ("refund", "Refunds"),
         ("adjustment", "Adjustments")]
ORDERS = [("newest", "Newest first"), ("oldest", "Oldest first")]
HISTORY_PAGE = 25


def _query(*names: str) -> dict[str, str]:
    return {name: request.args.get(name, "") for name in names if request.args.get(name)}


@bp.get("/account")
@core.signed_in("client")
def my_account():
    answers = core.gather(
        account=("GET", "/api/v1/portal/account"),
        unpaid=("GET", "/api/v1/portal/invoices", {"query": {"status": "unpaid", "limit": 50}}),
        history=("GET", "/api/v1/portal/account/history", {"query": {"limit": 10}}),
        cards=("GET", "/api/v1/portal/payment-methods"),
    )
    return core.page("portal/account.html", **{name: (a.json() if a.ok else None) for name, a in answers.items()})


@bp.get("/account/history")
@core.signed_in("client")
def account_history():
    query = _query("from", "to", "kind", "order", "cursor")
    answer = core.api("GET", "/api/v1/portal/account/history", query={**query, "limit": HISTORY_PAGE})
    errors = answer.field_errors if answer.status == 422 else {}
    history = answer.json() if answer.ok else None
    template = "portal/_history_rows.html" if core.is_htmx() else "portal/history.html"
    return core.page(template, 422 if errors else 200, history=history, history_down=answer.unavailable,
                     query=query, kinds=KINDS, orders=ORDERS, errors=errors)


@bp.get("/account/invoices")
@core.signed_in("client")
def invoices():
    status = request.args.get("status", "unpaid")
    if status not in ("unpaid", "paid"):
        status = "unpaid"
    answers = core.gather(list=("GET", "/api/v1/portal/invoices",
                                {"query": {"status": status, "limit": 50, "cursor": request.args.get("cursor")}}),
                          account=("GET", "/api/v1/portal/account"))
    listing = answers["list"]
    return core.page("portal/invoices.html", tab=status, invoices=listing.json() if listing.ok else None,
                     account=answers["account"].json() if answers["account"].ok else None)


@bp.get("/account/invoices/<invoice_id>")
@core.signed_in("client")
def invoice(invoice_id: str):
    answers = core.gather(invoice=("GET", f"/api/v1/portal/invoices/{core.quote_path(invoice_id)}"),
                          account=("GET", "/api/v1/portal/account"))
    found = core.must(answers["invoice"])
    return core.page("portal/invoice.html", invoice=found,
                     account=answers["account"].json() if answers["account"].ok else None)


@bp.get("/account/documents")
@core.signed_in("client")
def billing_documents():
    answers = core.gather(documents=("GET", "/api/v1/portal/billing-documents"),
                          account=("GET", "/api/v1/portal/account"))
    documents, account = answers["documents"], answers["account"]
    return core.page("portal/documents.html", documents=documents.json() if documents.ok else None,
                     refused=documents.detail if documents.status == 403 else None,
                     account=account.json() if account.ok else None)


def _pdf(path: str, filename: str) -> Response:
    answer = core.api("GET", path, headers={**core.forwarded_headers(), "Accept": "application/pdf"})
    if not answer.ok or not answer.headers.get("content-type", "").startswith("application/pdf"):
        core.must(answer)
        abort(404)
    disposition = "inline" if request.args.get("view") == "1" else "attachment"
    return Response(answer.body, mimetype="application/pdf", headers={
        "Content-Disposition": f'{disposition}; filename="{filename}"'})


@bp.get("/account/documents/<document_id>.pdf")
@core.signed_in("client")
def billing_document_pdf(document_id: str):
    return _pdf(f"/api/v1/portal/billing-documents/{core.quote_path(document_id)}/pdf", f"{document_id}.pdf")


@bp.get("/account/payments")
@core.signed_in("client")
def payment_history():
    query = _query("from", "to", "cursor")
    answer = core.api("GET", "/api/v1/portal/payments", query={**query, "limit": 25})
    errors = answer.field_errors if answer.status == 422 else {}
    return core.page("portal/payments.html", 422 if errors else 200, payments=answer.json() if answer.ok else None,
                     payments_down=answer.unavailable, query=query, errors=errors)


@bp.get("/account/payments/<payment_id>")
@core.signed_in("client")
def payment(payment_id: str):
    found = core.must(core.api("GET", f"/api/v1/portal/payments/{core.quote_path(payment_id)}"))
    return core.page("portal/payment.html", payment=found, just_paid=request.args.get("done") == "1")


@bp.get("/account/payments/<payment_id>/receipt.pdf")
@core.signed_in("client")
def receipt_pdf(payment_id: str):
    return _pdf(f"/api/v1/portal/payments/{core.quote_path(payment_id)}/receipt", f"receipt-{payment_id}.pdf")


# --- Credit/Debit Cards on File ----------------------------------------------------------------------
@bp.get("/account/cards")
@core.signed_in("client")
def cards():
    return _cards_page()


def _cards_page(status: int = 200, error: str | None = None):
    answer = core.api("GET", "/api/v1/portal/payment-methods")
    return core.page("portal/cards.html", status, cards=answer.json() if answer.ok else None,
                     cards_down=answer.unavailable, processor_frame=processor_frame(), error=error)


def processor_frame() -> str:
    settings = core.web().settings
    origin = f"{request.scheme}://{request.host}"
    return f"{settings.processor_origin}/v1/card-fields?origin={quote(origin, safe='')}"


@bp.post("/account/cards")
@core.signed_in("client")
def add_card():
    token = request.form.get("processor_token", "")
    if not token:
        return _cards_page(422, "Enter the card's details in the card fields, then select Save.")
    saved = core.api("POST", "/api/v1/portal/payment-methods",
                     json_body={"processor_token": token, "make_default": request.form.get("make_default") == "on"})
    if saved.ok:
        card = saved.json()
        core.flash(f"{card.get('brand', 'Card').title()} ending {card.get('last4', '')} saved.")
        return redirect(url_for("portal.cards"))
    return _cards_page(saved.status, saved.detail or "The card was not saved.")


@bp.post("/account/cards/<method_id>/default")
@core.signed_in("client")
def default_card(method_id: str):
    core.must(core.api("POST", f"/api/v1/portal/payment-methods/{core.quote_path(method_id)}/default"))
    core.flash("Default payment method changed.")
    return redirect(url_for("portal.cards"))


@bp.post("/account/cards/<method_id>/remove")
@core.signed_in("client")
def remove_card(method_id: str):
    answer = core.api("DELETE", f"/api/v1/portal/payment-methods/{core.quote_path(method_id)}")
    if answer.status == 409:
        core.flash(answer.detail or "This card cannot be removed now.", "error")
    else:
        core.must(answer)
        core.flash("Card removed.")
    return redirect(url_for("portal.cards"))
