"""The sandbox API's request and response schemas (marshmallow); unknown fields are refused."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.schemas import Strict  # unknown fields, NUL and lone surrogates refused, as in every service

REFERENCE = validate.Regexp(r"^[A-Za-z0-9._:-]{1,128}$", error="1 to 128 letters, digits or . _ : -")
AMOUNT = validate.Range(min=1, max=99_999_999)


def _card_year(year: int) -> None:
    if not (0 <= year <= 99 or 2000 <= year <= 2100):
        raise ValidationError("A two- or four-digit year.")


class WholeNumber(fields.Integer):
    """A JSON integer (true/false and 4.5 refused); the browser endpoint also takes digit strings such as "04"."""

    def __init__(self, *, digit_strings: bool = False, **kwargs):
        super().__init__(strict=True, **kwargs)
        self.digit_strings = digit_strings

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        if self.digit_strings and isinstance(value, str) and value.isdigit() and value.isascii() and len(value) <= 4:
            value = int(value)
        return super()._deserialize(value, attr, data, **kwargs)


class TokenIn(Strict):
    # Deliberately loose: the card rules answer incorrect_number / incorrect_cvc as a processor does.
    card_number = fields.String(required=True, validate=validate.Length(max=40))
    exp_month = WholeNumber(required=True, digit_strings=True, validate=validate.Range(min=1, max=12))
    exp_year = WholeNumber(required=True, digit_strings=True, validate=_card_year)
    cvc = fields.String(required=True, validate=validate.Length(max=8))
    cardholder_name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    postal_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=16))


class TokenOut(Schema):
    token = fields.String()
    brand = fields.String()
    last4 = fields.String()
    exp_month = fields.Integer()
    exp_year = fields.Integer()


class CardDetailsOut(TokenOut):
    cardholder_name = fields.String()
    fingerprint = fields.String()
    created = fields.String()
    used = fields.Boolean(metadata={"description": "Attached or charged once already: it cannot be used again."})


ID = validate.Length(min=1, max=64)


class CustomerIn(Strict):
    reference = fields.String(required=True, validate=REFERENCE)


class CustomerOut(Schema):
    id = fields.String()
    reference = fields.String()
    created = fields.String()


class AttachIn(Strict):
    token = fields.String(required=True, validate=ID)


class PaymentMethodOut(Schema):
    id = fields.String()
    customer = fields.String()
    brand = fields.String()
    last4 = fields.String()
    exp_month = fields.Integer()
    exp_year = fields.Integer()
    cardholder_name = fields.String()
    fingerprint = fields.String()
    created = fields.String()


class ChargeIn(Strict):
    # The card: a token (used up by this charge), or a saved payment method named with its customer.
    token = fields.String(validate=ID)
    payment_method = fields.String(validate=ID)
    customer = fields.String(validate=ID)
    amount_cents = WholeNumber(required=True, validate=AMOUNT)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z]{3}$", error="An ISO 4217 code."))
    reference = fields.String(required=True, validate=REFERENCE)
    description = fields.String(load_default="", validate=validate.Length(max=500))

    @validates_schema
    def _one_card(self, data, **kwargs):
        if "token" in data:
            if "payment_method" in data or "customer" in data:
                raise ValidationError("Charge a token or a payment method, not both.", "token")
        elif "payment_method" not in data or "customer" not in data:
            raise ValidationError("Name a token, or a payment method with its customer.",
                                  "customer" if "payment_method" in data else "token")


class ReferenceQuery(Strict):
    reference = fields.String(required=True, validate=REFERENCE)


class CardOut(Schema):
    brand = fields.String()
    last4 = fields.String()


class ChargeOut(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": ["succeeded", "failed"]})
    amount_cents = fields.Integer()
    currency = fields.String()
    reference = fields.String()
    description = fields.String()
    failure_code = fields.String(allow_none=True)
    failure_message = fields.String(allow_none=True)
    amount_refunded_cents = fields.Integer()
    refunded = fields.Boolean()
    card = fields.Nested(CardOut)
    created = fields.String()


class RefundIn(Strict):
    charge_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    amount_cents = WholeNumber(required=True, validate=AMOUNT)
    reference = fields.String(required=True, validate=REFERENCE)


class RefundOut(Schema):
    id = fields.String()
    status = fields.String()
    charge_id = fields.String()
    amount_cents = fields.Integer()
    currency = fields.String()
    reference = fields.String()
    created = fields.String()
