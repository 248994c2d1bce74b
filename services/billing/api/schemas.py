"""Billing's request and response schemas (marshmallow); unknown fields are refused."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.pagination import PageQuery, page_of
from shared.schemas import DateRange, Strict, StrictBool, StrictInt, plain_dumper

MAX_CENTS = 10_000_000_00  # ten million in the currency: a typo guard, not a business limit


class ServiceCodeIn(Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9.\-]{1,20}$",
                                                                 error="1-20 letters, digits, dots or dashes."))
    description = fields.String(required=True, validate=validate.Length(min=1, max=200))
    rate_cents = StrictInt(required=True, validate=validate.Range(min=1, max=MAX_CENTS))


class ServiceCodePatch(Strict):
    description = fields.String(validate=validate.Length(min=1, max=200))
    rate_cents = StrictInt(validate=validate.Range(min=1, max=MAX_CENTS))
    active = StrictBool()


class ServiceCodeOut(Schema):
    id = fields.String()
    code = fields.String()
    description = fields.String()
    rate_cents = fields.Integer()
    active = fields.Boolean()


ServiceCodeList = page_of(ServiceCodeOut, "ServiceCodeList")


class InvoiceLineIn(Strict):
    service_code = fields.String(required=True, validate=validate.Length(min=1, max=20))
    units = StrictInt(required=True, validate=validate.Range(min=1, max=1000))
    description = fields.String(validate=validate.Length(min=1, max=200))
    date_of_service = fields.Date()


class InvoiceIn(Strict):
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    appointment_id = fields.String(validate=validate.Length(min=1, max=36), allow_none=True)
    date_of_service = fields.Date(allow_none=True)
    due_date = fields.Date()
    note = fields.String(validate=validate.Length(max=500), allow_none=True)
    lines = fields.List(fields.Nested(InvoiceLineIn), required=True, validate=validate.Length(min=1, max=50))


class InvoiceLineOut(Schema):
    service_code = fields.String()
    description = fields.String()
    units = fields.Integer()
    rate_cents = fields.Integer()
    amount_cents = fields.Integer()
    date_of_service = fields.Date(allow_none=True)


class InvoiceOut(Schema):
    id = fields.String()
    number = fields.Integer()
    client_id = fields.String()
    appointment_id = fields.String(allow_none=True)
    date_of_service = fields.Date(allow_none=True)
    issued_at = fields.DateTime()
    due_date = fields.Date()
    currency = fields.String()
    total_cents = fields.Integer()
    paid_cents = fields.Integer()
    adjusted_cents = fields.Integer()
    balance_due_cents = fields.Integer()
    status = fields.String()
    note = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(InvoiceLineOut))
    pdf_url = fields.Method("_pdf_url")

    def _pdf_url(self, obj):
        return f"/api/v1/portal/billing-documents/{obj['id']}/pdf"


InvoicePage = page_of(InvoiceOut, "InvoicePage")


class InvoiceQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(["unpaid", "paid"]))


class StaffInvoiceQuery(InvoiceQuery):
    client_id = fields.String(load_default=None, validate=validate.Length(max=36))


class AccountOut(Schema):
    client_id = fields.String()
    balance_cents = fields.Integer()
    currency = fields.String()
    credit_cents = fields.Integer()
    autopay_enabled = fields.Boolean()
    autopay_enrolled = fields.Boolean()
    default_payment_method_id = fields.String(allow_none=True)
    pay_now = fields.Boolean()
    online_payments_enabled = fields.Boolean()
    billing_documents_enabled = fields.Boolean()


class HistoryQuery(PageQuery, DateRange):
    from_ = fields.Date(data_key="from", attribute="from", load_default=None)
    to = fields.Date(load_default=None)
    kind = fields.String(load_default=None, validate=validate.OneOf(["charge", "payment", "refund", "adjustment"]))
    # newest first unless asked; a cursor walks the order it was made in
    order = fields.String(load_default="newest", validate=validate.OneOf(["newest", "oldest"]))


class EntryOut(Schema):
    id = fields.String()
    occurred_at = fields.DateTime()
    kind = fields.String()
    description = fields.String()
    amount_cents = fields.Integer()
    currency = fields.String()
    balance_after_cents = fields.Integer()
    invoice_id = fields.String(allow_none=True)
    invoice_number = fields.Integer(allow_none=True)
    payment_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


EntryPage = page_of(EntryOut, "EntryPage")


_entry = plain_dumper(EntryOut())


def entry_items(items) -> list[dict]:
    """EntryOut(many=True).dump(items), through shared.schemas.plain_dumper."""
    return [_entry(item) for item in items]


def entry_page(items: list[dict], next_cursor: str | None) -> dict:
    """EntryPage().dump({"items": items, "next_cursor": next_cursor}), through entry_items."""
    return {"items": entry_items(items), "next_cursor": next_cursor}


class AdjustmentIn(Strict):
    amount_cents = StrictInt(required=True, validate=validate.Range(min=1, max=MAX_CENTS))
    kind = fields.String(required=True, validate=validate.OneOf(["write_off", "discount"]))
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))
    invoice_id = fields.String(validate=validate.Length(min=1, max=36))


class AdjustmentOut(Schema):
    id = fields.String()
    kind = fields.String()
    adjustment_kind = fields.String()
    amount_cents = fields.Integer()
    reason = fields.String()
    balance_after_cents = fields.Integer()
    allocations = fields.List(fields.Dict())


class AutopayIn(Strict):
    enabled = StrictBool(required=True)


class AutopayOut(Schema):
    client_id = fields.String()
    autopay_enabled = fields.Boolean()


class PeriodIn(Strict, DateRange):
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=36))
    from_ = fields.Date(data_key="from", attribute="from", required=True)
    to = fields.Date(required=True)


class DiagnosisIn(Strict):
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$",
                                                                 error="An ICD-10 code such as F41.1."))
    description = fields.String(validate=validate.Length(max=200), load_default="")


class ProviderIn(Strict):
    name = fields.String(validate=validate.Length(max=200))
    npi = fields.String(validate=validate.Regexp(r"^\d{10}$", error="Ten digits."))
    credentials = fields.String(validate=validate.Length(max=100))
    tax_id = fields.String(validate=validate.Length(max=20))
    license = fields.String(validate=validate.Length(max=50))


class SuperbillIn(PeriodIn):
    diagnosis_codes = fields.List(fields.Nested(DiagnosisIn), validate=validate.Length(max=12), load_default=list)
    provider = fields.Nested(ProviderIn, load_default=None)
    place_of_service = fields.String(validate=validate.Length(max=100))


class DocumentOut(Schema):
    id = fields.String()
    kind = fields.String()
    number = fields.String()
    title = fields.String()
    date = fields.Date()
    total_cents = fields.Integer(allow_none=True)
    client_id = fields.String()
    pdf_url = fields.String()


DocumentList = page_of(DocumentOut, "DocumentList")


class BillingProfile(Strict):
    provider_name = fields.String(validate=validate.Length(max=200), allow_none=True)
    provider_credentials = fields.String(validate=validate.Length(max=100), allow_none=True)
    npi = fields.String(validate=validate.Regexp(r"^\d{10}$", error="Ten digits."), allow_none=True)
    tax_id = fields.String(validate=validate.Length(max=20), allow_none=True)
    license = fields.String(validate=validate.Length(max=50), allow_none=True)
    place_of_service = fields.String(validate=validate.Length(max=100), allow_none=True)


class BillingProfileOut(BillingProfile):
    practice_name = fields.String()
    currency = fields.String()
    timezone = fields.String()
    online_payments_enabled = fields.Boolean()
    billing_documents_enabled = fields.Boolean()
    autopay_enabled = fields.Boolean()


class BillableSessionOut(Schema):
    appointment_id = fields.String()
    client_id = fields.String()
    clinician_id = fields.String(allow_none=True)
    appointment_type = fields.String(allow_none=True)
    service_code = fields.String(allow_none=True)  # the appointment type's code at scheduling, to bill it by
    outcome = fields.String()  # completed, or a charged no_show / late_cancelled
    fee = fields.Boolean()  # a late-cancel or no-show fee, not a session held
    start = fields.DateTime()
    end = fields.DateTime(allow_none=True)


BillableSessionList = page_of(BillableSessionOut, "BillableSessionList")


class AutopayRunOut(Schema):
    run_key = fields.String()
    trigger = fields.String()
    started_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    summary = fields.Dict()
