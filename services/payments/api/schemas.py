"""Payments' request and response schemas (marshmallow); unknown fields are refused."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.pagination import PageQuery, page_of
from shared.schemas import Strict, StrictBool, StrictInt

MAX_CENTS = 10_000_000_00


# A processor's token is an opaque id of letters, digits, _ and - (tok_…): anything else is not one, and must
# never reach the processor's URL paths.
TOKEN = validate.Regexp(r"^[A-Za-z0-9_-]{1,200}\Z", error="Not a card token (letters, digits, _ and -).")
ID = validate.Length(min=1, max=36)


class PaymentIn(Strict):
    amount_cents = StrictInt(validate=validate.Range(min=1, max=MAX_CENTS))
    currency = fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="An ISO currency code like USD."))
    pay_balance = StrictBool()
    invoice_ids = fields.List(fields.String(validate=ID), validate=validate.Length(min=1, max=50))
    payment_method_id = fields.String(validate=ID)
    processor_token = fields.String(validate=TOKEN)
    save_card = StrictBool()
    make_default = StrictBool()
    note = fields.String(validate=validate.Length(max=500))

    @validates_schema
    def _one_way(self, data, **kwargs):
        if sum(1 for k in ("amount_cents", "pay_balance", "invoice_ids") if data.get(k)) == 0:
            raise ValidationError("Say what to pay: amount_cents, pay_balance or invoice_ids.", "amount_cents")
        if data.get("pay_balance") and (data.get("amount_cents") or data.get("invoice_ids")):
            raise ValidationError("pay_balance pays everything; do not send an amount or invoices with it.",
                                  "pay_balance")
        if bool(data.get("payment_method_id")) == bool(data.get("processor_token")):
            raise ValidationError("Send either a saved card (payment_method_id) or a new card (processor_token).",
                                  "payment_method_id")
        if (data.get("save_card") or data.get("make_default")) and not data.get("processor_token"):
            raise ValidationError("Only a new card can be saved.", "save_card")
        if data.get("make_default") and not data.get("save_card"):
            raise ValidationError("Save the card to make it the default.", "make_default")


class AutopayChargeIn(Strict):
    client_id = fields.String(required=True, validate=ID)
    amount_cents = StrictInt(required=True, validate=validate.Range(min=1, max=MAX_CENTS))
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))


class MethodOut(Schema):
    brand = fields.String()
    last4 = fields.String()


class PaymentOut(Schema):
    id = fields.String()
    client_id = fields.String()
    status = fields.String()
    amount_cents = fields.Integer()
    currency = fields.String()
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    method = fields.Nested(MethodOut)
    payment_method_id = fields.String(allow_none=True)
    invoice_ids = fields.List(fields.String())
    invoice_numbers = fields.List(fields.Integer())
    note = fields.String(allow_none=True)
    source = fields.String()
    refunded_cents = fields.Integer()
    created_at = fields.DateTime()
    settled_at = fields.DateTime(allow_none=True)
    posted = fields.Boolean()
    receipt_url = fields.String()


PaymentPage = page_of(PaymentOut, "PaymentPage")


class PaymentQuery(PageQuery):
    from_ = fields.Date(data_key="from", attribute="from", load_default=None)
    to = fields.Date(load_default=None)

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("from") and data.get("to") and data["to"] < data["from"]:
            raise ValidationError("The end of the range precedes its start.", "to")


class StaffPaymentQuery(PaymentQuery):
    client_id = fields.String(load_default=None, validate=ID)
    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "processing", "succeeded",
                                                                       "failed"]))


class PaymentMethodIn(Strict):
    processor_token = fields.String(required=True, validate=TOKEN)
    make_default = StrictBool(load_default=False)


class PaymentMethodOut(Schema):
    id = fields.String()
    brand = fields.String()
    last4 = fields.String()
    exp_month = fields.Integer()
    exp_year = fields.Integer()
    cardholder_name = fields.String(allow_none=True)
    is_default = fields.Boolean()
    created_at = fields.DateTime()


PaymentMethodList = page_of(PaymentMethodOut, "PaymentMethodList")


class RefundIn(Strict):
    amount_cents = StrictInt(required=True, validate=validate.Range(min=1, max=MAX_CENTS))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


class RefundOut(Schema):
    id = fields.String()
    payment_id = fields.String()
    amount_cents = fields.Integer()
    status = fields.String()
    failure_code = fields.String(allow_none=True)
    reason = fields.String()
    created_at = fields.DateTime()
