"""/api/v1/staff (role staff or admin): payments, refunds, reconciliation; never a client's card."""

from __future__ import annotations

from flask import Blueprint

from services.payments.api import idempotency_key, payments
from services.payments.api.schemas import (
    PaymentMethodList,
    PaymentOut,
    PaymentPage,
    RefundIn,
    RefundOut,
    StaffPaymentQuery,
)
from shared.auth import current_principal, require_roles
from shared.errors import Forbidden
from shared.web import doc, load, load_query

bp = Blueprint("payments_staff", __name__, url_prefix="/api/v1/staff")


@bp.get("/payments")
@doc(query=StaffPaymentQuery, response=PaymentPage, summary="Payments, by client and status")
def list_payments():
    q = load_query(StaffPaymentQuery())
    items, next_cursor = payments().list_payments(client_id=q["client_id"], start=q["from"], end=q["to"],
                                                  status=q["status"], limit=q["limit"], cursor=q["cursor"])
    return PaymentPage().dump({"items": items, "next_cursor": next_cursor})


@bp.get("/payments/<payment_id>")
@doc(response=PaymentOut)
def get_payment(payment_id: str):
    return PaymentOut().dump(payments().get_payment(payment_id, client_id=None))


@bp.post("/payments/<payment_id>/refunds")
@doc(body=RefundIn, response=RefundOut, status=201,
     summary="Refund all or part of a payment (Idempotency-Key header required: one key, one refund)")
def create_refund(payment_id: str):
    return _refund(payment_id, idempotency_key())


@bp.post("/payments/<payment_id>/refund")
@doc(body=RefundIn, response=RefundOut, status=201,
     summary="Refund all or part of a payment (v1 route: an Idempotency-Key is honoured when sent)")
def refund(payment_id: str):
    # The API.md v1 contract took no key, so none is required here; /refunds requires one.
    return _refund(payment_id, idempotency_key(required=False))


def _refund(payment_id: str, key: str | None):
    data = load(RefundIn())
    return RefundOut().dump(payments().refund(payment_id, data["amount_cents"], data["reason"],
                                              current_principal().user_id, key)), 201


@bp.post("/payments/reconcile")
@require_roles("admin")
@doc(summary="Ask the processor now about every payment whose outcome is unknown")
def reconcile():
    return payments().reconcile(older_than_seconds=0)


@bp.get("/clients/<client_id>/payment-methods")
@doc(response=PaymentMethodList, summary="A client's cards on file (display details only)")
def client_methods(client_id: str):
    return PaymentMethodList().dump({"items": payments().list_methods(client_id), "next_cursor": None})


@bp.post("/clients/<client_id>/payment-methods")
@doc(status=403, summary="Refused: only the client saves a card, in the portal")
def add_client_method(client_id: str):
    raise Forbidden("Only the client can save a card, from the portal; staff cannot add one for them.")
