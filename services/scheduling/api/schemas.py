"""Scheduling's request and response schemas (marshmallow); unknown fields are refused."""

from __future__ import annotations

from datetime import date, datetime

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.scheduling.domain.booking import CANCELLATION_WINDOWS, LONGEST_MINUTES, MODALITIES
from services.scheduling.models import STATUSES
from shared.pagination import PageQuery, page_of
from shared.schemas import (
    Address,
    DateRange,
    Strict,
    StrictBool,
    StrictInt,
    TimeZoneName,
    calendar_day,
    plain_dumper,
)

Id = lambda **kw: fields.String(validate=validate.Length(min=1, max=36), **kw)  # noqa: E731
NAME = validate.Length(min=1, max=100)
NOTE_MAX = 1000


# --- set-up ------------------------------------------------------------------------------------------------


class SiteIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    timezone = TimeZoneName(required=True)
    address = fields.Nested(Address, load_default=dict)


class SitePatch(Strict):
    name = fields.String(validate=validate.Length(min=1, max=120))
    timezone = TimeZoneName()
    address = fields.Nested(Address)
    active = StrictBool()


class SiteOut(Schema):
    id = fields.String()
    name = fields.String()
    timezone = fields.String()
    address = fields.Dict()
    active = fields.Boolean()


class PublicSiteOut(Schema):
    id = fields.String()
    name = fields.String()
    timezone = fields.String()
    address = fields.Dict()


class ClinicianIn(Strict):
    first_name = fields.String(required=True, validate=NAME)
    last_name = fields.String(required=True, validate=NAME)
    credentials = fields.String(validate=validate.Length(max=50), allow_none=True)
    staff_user_id = Id(allow_none=True)
    site_ids = fields.List(Id(), required=True, validate=validate.Length(min=1, max=50))


class ClinicianPatch(Strict):
    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    credentials = fields.String(validate=validate.Length(max=50), allow_none=True)
    staff_user_id = Id(allow_none=True)
    site_ids = fields.List(Id(), validate=validate.Length(min=1, max=50))
    active = StrictBool()


class ClinicianOut(Schema):
    id = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    credentials = fields.String(allow_none=True)
    name = fields.String()
    staff_user_id = fields.String(allow_none=True)
    site_ids = fields.List(fields.String())
    active = fields.Boolean()


class PublicClinicianOut(Schema):
    id = fields.String()
    name = fields.String()
    site_ids = fields.List(fields.String())


class TypeFields(Strict):
    name = fields.String(validate=NAME)
    modality = fields.String(validate=validate.OneOf(MODALITIES))
    duration_minutes = StrictInt(validate=validate.Range(min=5, max=LONGEST_MINUTES))
    bookable_online = StrictBool()
    service_code = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9.\-]{1,20}$",
                                                          error="1-20 letters, digits, dots or dashes."),
                                 allow_none=True)
    buffer_before_minutes = StrictInt(validate=validate.Range(min=0, max=240))
    buffer_after_minutes = StrictInt(validate=validate.Range(min=0, max=240))
    clinician_ids = fields.List(Id(), validate=validate.Length(max=200))


class TypeIn(TypeFields):
    name = fields.String(required=True, validate=NAME)
    modality = fields.String(required=True, validate=validate.OneOf(MODALITIES))
    duration_minutes = StrictInt(required=True, validate=validate.Range(min=5, max=LONGEST_MINUTES))
    bookable_online = StrictBool(required=True)


class TypePatch(TypeFields):
    active = StrictBool()


class TypeOut(Schema):
    id = fields.String()
    name = fields.String()
    modality = fields.String()
    duration_minutes = fields.Integer()
    bookable_online = fields.Boolean()
    service_code = fields.String(allow_none=True)
    buffer_before_minutes = fields.Integer()
    buffer_after_minutes = fields.Integer()
    clinician_ids = fields.List(fields.String())
    active = fields.Boolean()


class PublicTypeOut(Schema):
    id = fields.String()
    name = fields.String()
    modality = fields.String()
    duration_minutes = fields.Integer()
    clinician_ids = fields.List(fields.String())


class RuleIn(Strict):
    weekday = StrictInt(required=True, validate=validate.Range(min=0, max=6))
    start = fields.Time(required=True, format="%H:%M")
    end = fields.Time(required=True, format="%H:%M")
    site_id = Id(required=True)


class ExceptionIn(Strict):
    date = fields.Date(required=True)
    available = StrictBool(required=True)
    start = fields.Time(format="%H:%M", load_default=None, allow_none=True)
    end = fields.Time(format="%H:%M", load_default=None, allow_none=True)
    site_id = Id(load_default=None, allow_none=True)
    reason = fields.String(validate=validate.Length(max=200), load_default=None, allow_none=True)


class AvailabilityIn(Strict):
    rules = fields.List(fields.Nested(RuleIn), required=True, validate=validate.Length(max=100))
    exceptions = fields.List(fields.Nested(ExceptionIn), load_default=list, validate=validate.Length(max=500))


class RuleOut(Schema):
    weekday = fields.Integer()
    start = fields.Time(format="%H:%M")
    end = fields.Time(format="%H:%M")
    site_id = fields.String()


class ExceptionOut(Schema):
    date = fields.Date()
    available = fields.Boolean()
    start = fields.Time(format="%H:%M", allow_none=True)
    end = fields.Time(format="%H:%M", allow_none=True)
    site_id = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class AvailabilityOut(Schema):
    clinician_id = fields.String()
    rules = fields.List(fields.Nested(RuleOut))
    exceptions = fields.List(fields.Nested(ExceptionOut))


class ListQuery(Strict):
    include_inactive = fields.Boolean(load_default=False)

# --- settings ----------------------------------------------------------------------------------------------


class PolicyPatch(Strict):
    minimum_notice_hours = StrictInt(validate=validate.Range(min=0, max=24 * 30))
    horizon_days = StrictInt(validate=validate.Range(min=1, max=730))
    max_open_requests = StrictInt(validate=validate.Range(min=1, max=50))
    cancellation_window_hours = StrictInt(validate=validate.OneOf(CANCELLATION_WINDOWS))
    approval = fields.String(validate=validate.OneOf(["staff", "automatic"]))
    reminder_lead_hours = fields.List(StrictInt(validate=validate.Range(min=1, max=24 * 14)),
                                      validate=validate.Length(max=5))
    late_cancel_fee = StrictBool()
    no_show_fee = StrictBool()


class PolicyOut(Schema):
    self_scheduling_enabled = fields.Boolean()
    practice_name = fields.String()
    timezone = fields.String()
    minimum_notice_hours = fields.Integer()
    horizon_days = fields.Integer()
    max_open_requests = fields.Integer()
    cancellation_window_hours = fields.Integer()
    approval = fields.String()
    reminder_lead_hours = fields.List(fields.Integer())
    late_cancel_fee = fields.Boolean()
    no_show_fee = fields.Boolean()

# --- times and appointments --------------------------------------------------------------------------------


class Moment(fields.Field):
    """A date (the practice's calendar day) or a date-time with its offset; a date-time without one is refused,
    and so is one outside shared.schemas' calendar (FIRST_DAY..LAST_DAY), as every date field."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("Give a date (2026-12-10) or a UTC time (2026-12-10T15:00:00Z).")
        try:
            if len(value) == 10:
                moment = fields.Date()._deserialize(value, attr, data, **kwargs)
            else:
                moment = fields.AwareDateTime()._deserialize(value, attr, data, **kwargs)
        except ValidationError:
            raise ValidationError("Give a date (2026-12-10) or a time with its offset (2026-12-10T15:00:00Z).") \
                from None
        calendar_day(moment)
        return moment


def _day(moment: date | datetime) -> date:
    return moment.date() if isinstance(moment, datetime) else moment


class AvailabilityQuery(Strict):
    appointment_type_id = Id(required=True)
    clinician_id = Id(load_default=None)
    from_ = Moment(data_key="from", attribute="from", load_default=None)
    to = Moment(load_default=None)

    @validates_schema
    def _ordered(self, data, **kwargs):
        start, end = data.get("from"), data.get("to")
        if start is None or end is None:
            return
        both_instants = isinstance(start, datetime) and isinstance(end, datetime)
        if (end <= start) if both_instants else (_day(end) < _day(start)):
            raise ValidationError("The end of the range precedes its start.", "to")


class StartFields(Strict):
    start = fields.AwareDateTime(load_default=None,
                                 error_messages={"invalid_awareness": "Give the time with its offset (…Z for UTC), "
                                                                      "or use start_local with the site's wall clock."})
    start_local = fields.NaiveDateTime(load_default=None)

    @validates_schema
    def _one_start(self, data, **kwargs):
        if (data.get("start") is None) == (data.get("start_local") is None):
            raise ValidationError("Give either start (a UTC time) or start_local (the site's wall clock).", "start")


class RequestIn(StartFields):
    appointment_type_id = Id(required=True)
    clinician_id = Id(required=True)
    site_id = Id(load_default=None)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=NOTE_MAX))


class BookingIn(RequestIn):
    client_id = Id(required=True)


class RescheduleIn(StartFields):
    site_id = Id(load_default=None)


class ReasonIn(Strict):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class DenyIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class Ref(Schema):
    id = fields.String()
    name = fields.String()


class TypeRef(Ref):
    modality = fields.String()
    duration_minutes = fields.Integer()


class SiteRef(Ref):
    timezone = fields.String()
    address = fields.Dict()


class ClientRef(Schema):
    id = fields.String()
    first_name = fields.String()
    last_name = fields.String()
    preferred_name = fields.String(allow_none=True)


class AppointmentOut(Schema):
    id = fields.String()
    status = fields.String()
    start = fields.DateTime()
    end = fields.DateTime()
    booked_by = fields.String()
    appointment_type = fields.Nested(TypeRef)
    clinician = fields.Nested(Ref)
    site = fields.Nested(SiteRef, allow_none=True)
    timezone = fields.String()  # the site's, or the practice's without a site: the clock to show its times on
    note = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    can_confirm = fields.Boolean()
    can_cancel = fields.Boolean()
    cancel_by = fields.DateTime(allow_none=True)
    sequence = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class StaffAppointmentOut(AppointmentOut):
    client = fields.Nested(ClientRef)
    fee = fields.Boolean()

AppointmentList = page_of(AppointmentOut, "AppointmentList")
StaffAppointmentList = page_of(StaffAppointmentOut, "StaffAppointmentList")


class SlotOut(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    clinician_id = fields.String()
    site_id = fields.String()
    site_name = fields.String(allow_none=True)
    timezone = fields.String(allow_none=True)

SlotList = page_of(SlotOut, "SlotList")
_slot = plain_dumper(SlotOut())


def slot_page(items: list[dict]) -> dict:
    """SlotList().dump({"items": items, "next_cursor": None}), without marshmallow's per-value cost (a month of
    free times is hundreds of rows)."""
    return {"items": [_slot(item) for item in items], "next_cursor": None}


class UpcomingQuery(Strict):
    scope = fields.String(load_default="upcoming", validate=validate.OneOf(["upcoming"]))


class Filters(DateRange):
    from_ = fields.Date(data_key="from", attribute="from", load_default=None)
    to = fields.Date(load_default=None)
    site_id = Id(load_default=None)
    clinician_id = Id(load_default=None)
    appointment_type_id = Id(load_default=None)


class HistoryQuery(PageQuery, Filters):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))


class Statuses(fields.String):
    """Statuses as a query string gives them: `status=booked,confirmed`."""

    def _deserialize(self, value, attr, data, **kwargs):
        names = [n.strip() for n in super()._deserialize(value, attr, data, **kwargs).split(",") if n.strip()]
        unknown = [n for n in names if n not in STATUSES]
        if unknown or not names:
            raise ValidationError(f"Statuses are {', '.join(STATUSES)}, separated by commas.")
        return names


class CalendarQuery(Strict, Filters):
    client_id = Id(load_default=None)
    status = Statuses(load_default=None, validate=validate.Length(max=200))

    @validates_schema
    def _bounded(self, data, **kwargs):
        if not (data.get("from") and data.get("to")):
            raise ValidationError("Give from and to (a day or a week of the calendar).", "from")
        if (data["to"] - data["from"]).days > 62:
            raise ValidationError("At most 62 days at once.", "to")


class RequestsQuery(Strict):
    status = fields.String(load_default="pending", validate=validate.OneOf(["pending", "denied", "all"]))


class FeedOut(Schema):
    active = fields.Boolean()
    created_at = fields.DateTime(allow_none=True)
    url = fields.String()
    webcal_url = fields.String()
