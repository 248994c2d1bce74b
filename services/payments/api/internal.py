"""/internal/v1 (other services only, never routed by the gateway): AutoPay charges for billing."""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, request

from services.payments.api import idempotency_key, payments
from services.payments.api.schemas import AutopayChargeIn, PaymentOut
from shared.errors import Unauthorized
from shared.web import doc, load

bp = Blueprint("payments_internal", __name__, url_prefix="/internal/v1")


@bp.before_request
def _service_key():
    expected = current_app.config["PORTAL"].internal_api_key
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthorized("This endpoint is for the suite's own services.")


@bp.post("/autopay-charges")
@doc(body=AutopayChargeIn, response=PaymentOut, status=201, summary="Charge a client's default card (AutoPay)")
def autopay_charge():
    key = idempotency_key()
    data = load(AutopayChargeIn())
    status, body = payments().pay(data["client_id"], {"amount_cents": data["amount_cents"],
                                                      "currency": data["currency"]}, key, source="autopay")
    return PaymentOut().dump(body), status
