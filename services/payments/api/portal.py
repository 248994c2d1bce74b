"""/api/v1/portal (role client): cards on file, Pay Now, payment history and receipts."""

from __future__ import annotations

from flask import Blueprint, Response

from services.payments.api import idempotency_key, payments
from services.payments.api.schemas import (
    PaymentIn,
    PaymentMethodIn,
    PaymentMethodList,
    PaymentMethodOut,
    PaymentOut,
    PaymentPage,
    PaymentQuery,
)
from shared.auth import current_client_id
from shared.web import doc, load, load_query

bp = Blueprint("payments_portal", __name__, url_prefix="/api/v1/portal")


@bp.get("/payment-methods")
@doc(response=PaymentMethodList, summary="My cards on file")
def list_methods():
    return PaymentMethodList().dump({"items": payments().list_methods(current_client_id()), "next_cursor": None})


@bp.post("/payment-methods")
@doc(body=PaymentMethodIn, response=PaymentMethodOut, status=201,
     summary="Save a card by processor token (the first card becomes the default)")
def add_method():
    data = load(PaymentMethodIn())
    return PaymentMethodOut().dump(payments().add_method(current_client_id(), data["processor_token"],
                                                         data["make_default"])), 201


@bp.post("/payment-methods/<method_id>/default")
@doc(response=PaymentMethodOut, summary="Make this card the default")
def set_default(method_id: str):
    return PaymentMethodOut().dump(payments().set_default(current_client_id(), method_id))


@bp.delete("/payment-methods/<method_id>")
@doc(status=204, summary="Remove a card")
def remove_method(method_id: str):
    payments().remove_method(current_client_id(), method_id)
    return "", 204


@bp.post("/payments")
@doc(body=PaymentIn, response=PaymentOut, status=201,
     summary="Pay the balance, an amount or chosen invoices (Idempotency-Key header required)")
def pay():
    key = idempotency_key()
    status, body = payments().pay(current_client_id(), load(PaymentIn()), key)
    return PaymentOut().dump(body), status


@bp.get("/payments")
@doc(query=PaymentQuery, response=PaymentPage, summary="My payment history")
def history():
    q = load_query(PaymentQuery())
    items, next_cursor = payments().list_payments(client_id=current_client_id(), start=q["from"], end=q["to"],
                                                  status=None, limit=q["limit"], cursor=q["cursor"])
    return PaymentPage().dump({"items": items, "next_cursor": next_cursor})


@bp.get("/payments/<payment_id>")
@doc(response=PaymentOut)
def get_payment(payment_id: str):
    return PaymentOut().dump(payments().get_payment(payment_id, client_id=current_client_id()))


@bp.get("/payments/<payment_id>/receipt")
@doc(summary="The receipt as a PDF")
def receipt(payment_id: str):
    name, data = payments().receipt(payment_id, client_id=current_client_id())
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
