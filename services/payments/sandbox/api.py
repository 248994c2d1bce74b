"""/v1 of the sandbox processor: for browsers (no key) the hosted card fields and tokenization (CORS); charges and
refunds for servers (key)."""

from __future__ import annotations

import hmac
import logging
import time

from flask import Blueprint, Response, current_app, request, send_from_directory, url_for

from services.payments.sandbox import card_fields, cards
from services.payments.sandbox.errors import InvalidApiKey
from services.payments.sandbox.schemas import (
    AttachIn,
    CardDetailsOut,
    ChargeIn,
    ChargeOut,
    CustomerIn,
    CustomerOut,
    PaymentMethodOut,
    ReferenceQuery,
    RefundIn,
    RefundOut,
    TokenIn,
    TokenOut,
)
from services.payments.sandbox.store import SandboxStore
from shared.web import doc, load, load_query

log = logging.getLogger(__name__)

bp = Blueprint("processor_v1", __name__, url_prefix="/v1")
# Called by browsers: the hosted card fields (page, script, style) and tokenization; every other route is for our
# servers and needs the secret key.
BROWSER_ENDPOINTS = {"processor_v1.tokens", "processor_v1.card_fields", "processor_v1.card_fields_js",
                     "processor_v1.card_fields_css"}
# Of those, what other origins' pages call with fetch: only tokenization (the card fields are framed and loaded, and
# call /v1/tokens from the processor's own origin).
CORS_ENDPOINTS = {"processor_v1.tokens"}


def store() -> SandboxStore:
    return current_app.extensions["sandbox_store"]


def settings():
    return current_app.config["PORTAL"]


@bp.before_request
def _require_api_key():
    if request.endpoint in BROWSER_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(key.strip().encode(), settings().api_key.encode()):
        raise InvalidApiKey()


def _allowed_origin() -> str | None:
    origins = settings().cors_origins
    if "*" in origins:
        return "*"
    origin = request.headers.get("Origin", "").rstrip("/")
    return origin if origin in origins else None


@bp.after_request
def _cors(response: Response) -> Response:
    """The tokenization endpoint answers browsers of the allowed origins, errors included (so they can read 402s)."""
    if request.endpoint not in CORS_ENDPOINTS:
        return response
    allowed = _allowed_origin()
    if allowed:
        response.headers["Access-Control-Allow-Origin"] = allowed
    if allowed != "*":
        response.vary.add("Origin")
    if request.method == "OPTIONS" and allowed:
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


@bp.route("/tokens", methods=["POST", "OPTIONS"], endpoint="tokens", provide_automatic_options=False)
@doc(body=TokenIn, response=TokenOut, status=201, summary="Tokenize a card (browser; no API key)")
def create_token():
    if request.method == "OPTIONS":
        return "", 204
    data = load(TokenIn())
    checked = cards.check_card(card_number=data["card_number"], exp_month=data["exp_month"],
                               exp_year=data["exp_year"], cvc=data["cvc"], fingerprint_key=store().fingerprint_key)
    token = store().create_token(checked, data["cardholder_name"].strip())
    log.info("card tokenized", extra={"fields": {"brand": checked.brand, "last4": checked.last4}})
    return TokenOut().dump(token), 201


@bp.get("/card-fields", endpoint="card_fields")
@doc(summary="The hosted card fields, for an iframe of ?origin=<the portal's origin> (browser; no API key; HTML)")
def card_fields_page():
    origin = card_fields.embedding_origin(request.args.getlist("origin"), settings().cors_origins)
    body = card_fields.render_page(origin=origin, tokens_url=url_for(".tokens"), js_url=url_for(".card_fields_js"),
                                   css_url=url_for(".card_fields_css"))
    return Response(body, mimetype="text/html", headers=card_fields.page_headers(origin))


@bp.get("/card-fields.js", endpoint="card_fields_js")
@doc(summary="The card fields' script (browser)")
def card_fields_script():
    return send_from_directory(card_fields.STATIC, "card-fields.js", mimetype="text/javascript")


@bp.get("/card-fields.css", endpoint="card_fields_css")
@doc(summary="The card fields' style sheet (browser)")
def card_fields_style():
    return send_from_directory(card_fields.STATIC, "card-fields.css", mimetype="text/css")


@bp.get("/tokens/<token>")
@doc(response=CardDetailsOut, summary="The card behind a token")
def get_token(token: str):
    return CardDetailsOut().dump(store().token(token))


@bp.post("/customers")
@doc(body=CustomerIn, response=CustomerOut, status=201,
     summary="A customer, once per reference (201 new, 200 the same customer again)")
def create_customer():
    return _answer(*_recorded(store().create_customer(load(CustomerIn())["reference"])))


@bp.post("/customers/<customer_id>/payment_methods")
@doc(body=AttachIn, response=PaymentMethodOut, status=201,
     summary="Save a token's card as the customer's payment method (uses the token up)")
def attach_payment_method(customer_id: str):
    method = store().attach(customer_id, load(AttachIn())["token"])
    log.info("payment method attached", extra={"fields": {"payment_method": method["id"],
                                                          "customer": method["customer"]}})
    return PaymentMethodOut().dump(method), 201


@bp.post("/charges")
@doc(body=ChargeIn, response=ChargeOut, status=201,
     summary="Charge a token, or a customer's payment method, once per reference (201 new, 200 the first "
             "result again)")
def create_charge():
    data = load(ChargeIn())
    recorded = store().create_charge(token=data.get("token"), payment_method=data.get("payment_method"),
                                     customer=data.get("customer"), amount_cents=data["amount_cents"],
                                     currency=data["currency"].upper(), reference=data["reference"],
                                     description=data["description"])
    charge = recorded.body
    if recorded.created:
        log.info("charge recorded", extra={"fields": {
            "charge_id": charge["id"], "reference": charge["reference"], "amount_cents": charge["amount_cents"],
            "currency": charge["currency"], "status": charge["status"], "failure_code": charge["failure_code"]}})
    if recorded.slow:
        # Recorded first, answered late: the caller times out while the charge exists (a real unknown outcome).
        time.sleep(settings().slow_seconds)
    return _answer(ChargeOut().dump(charge), recorded.created)


@bp.get("/charges")
@doc(query=ReferenceQuery, response=ChargeOut, summary="The charge made under a reference (404 if none)")
def find_charge():
    return ChargeOut().dump(store().charge_by_reference(load_query(ReferenceQuery())["reference"]))


@bp.get("/charges/<charge_id>")
@doc(response=ChargeOut, summary="A charge, with what was refunded")
def get_charge(charge_id: str):
    return ChargeOut().dump(store().charge(charge_id))


@bp.post("/refunds")
@doc(body=RefundIn, response=RefundOut, status=201,
     summary="Refund once per reference; refunds never exceed the charge (409 amount_too_large)")
def create_refund():
    data = load(RefundIn())
    recorded = store().create_refund(charge_id=data["charge_id"], amount_cents=data["amount_cents"],
                                     reference=data["reference"])
    if recorded.created:
        log.info("refund recorded", extra={"fields": {
            "refund_id": recorded.body["id"], "charge_id": recorded.body["charge_id"],
            "reference": recorded.body["reference"], "amount_cents": recorded.body["amount_cents"]}})
    return _answer(RefundOut().dump(recorded.body), recorded.created)


@bp.get("/refunds")
@doc(query=ReferenceQuery, response=RefundOut, summary="The refund made under a reference (404 if none)")
def find_refund():
    return RefundOut().dump(store().refund_by_reference(load_query(ReferenceQuery())["reference"]))


def _recorded(recorded) -> tuple[dict, bool]:
    return CustomerOut().dump(recorded.body), recorded.created


def _answer(body: dict, created: bool):
    # A repeat is the first answer again, marked as such (as Stripe's Idempotent-Replayed).
    if created:
        return body, 201
    return body, 200, {"Idempotent-Replayed": "true"}
