"""Field types every service's marshmallow schemas use: strict JSON types, unknown fields refused, and no string
holding a character the database or the UTF-8 encoder refuses."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import available_timezones

from marshmallow import RAISE, Schema, ValidationError, fields, pre_load, validate, validates_schema
from marshmallow.utils import ensure_text_type

# NUL: PostgreSQL's text and jsonb refuse it. A lone surrogate (U+D800-U+DFFF, what the JSON escape "\ud800"
# decodes to): no UTF-8 encoder takes it. Either would fail deep in a transaction as a 500; refused up front as
# the client's error, naming the field.
_REFUSED = re.compile("[\x00\ud800-\udfff]")
NUL_MESSAGE = "Must not contain the NUL character (U+0000)."
SURROGATE_MESSAGE = "Must be valid Unicode text: a lone surrogate (U+D800 to U+DFFF) is not."


def refused_character(text: str) -> str | None:
    """Why `text` is refused, or None when it is fine."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    return NUL_MESSAGE if found.group() == "\x00" else SURROGATE_MESSAGE


def refused_strings(value) -> dict | None:
    """Every refused string in `value` (keys included) as marshmallow shapes errors: {"address": {"line1": [..]},
    "lines": {0: {"service_code": [..]}}}; a refused top-level string is under "_schema". None when all are fine.
    A loop with its own stack, so no depth of input makes it recurse."""
    found: list[tuple[tuple, str]] = []
    stack: list[tuple[object, tuple]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if message := refused_character(item):
                found.append((path, message))
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and (message := refused_character(key)):
                    found.append(((*path, key), message))
                else:
                    stack.append((child, (*path, key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, (*path, index)) for index, child in enumerate(item))
    if not found:
        return None
    errors: dict = {}
    for path, message in found:
        node = errors
        *parents, last = path or ("_schema",)
        for key in parents:
            node = node.setdefault(key, {})
        node.setdefault(last, []).append(message)
    return errors


# The services compute with the dates they are sent: an inclusive end date becomes "before the next midnight" in
# the practice's time zone, then UTC. Python's dates stop at years 1 and 9999 (9999-12-31 has no next midnight: a
# 500 on history lists), so a year of room on either side. Business rules (a birth date after 1900) stay with
# their schemas.
FIRST_DAY, LAST_DAY = date(2, 1, 1), date(9998, 12, 31)
DAY_MESSAGE = f"Must be a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}."


def calendar_day(value: date | datetime) -> None:
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationError(DAY_MESSAGE)


class Strict(Schema):
    """Unknown fields are an error (422), never silently dropped; so is a string holding NUL or a lone surrogate,
    in any field at any depth (nested schemas, lists, dicts), named by the key the client sent; and a date or
    date-time outside FIRST_DAY..LAST_DAY."""

    class Meta:
        unknown = RAISE

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        # Each schema instance binds its own copies of the fields: appending here changes no other schema.
        for field in (field_obj, getattr(field_obj, "inner", None)):
            if isinstance(field, fields.Date | fields.DateTime) and calendar_day not in field.validators:
                field.validators.append(calendar_day)

    @pre_load
    def _refuse_characters(self, data, **kwargs):
        errors = refused_strings(data)
        if errors:
            raise ValidationError(errors)
        return data


class StrictBool(fields.Boolean):
    """JSON true or false only: "yes", 1 or "on" are refused, not guessed (1 == True in Python)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class StrictInt(fields.Integer):
    """JSON integers only: 12.5, "12" and true are refused (money is integer cents)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid", input=value)
        return value


ZONES = frozenset(available_timezones())


class TimeZoneName(fields.String):
    """An IANA time zone name this machine's zoneinfo knows (America/New_York), never an offset or abbreviation."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value not in ZONES:
            raise ValidationError("Not a time zone name (for example America/New_York).")
        return value


class Address(Strict):
    """A postal address as clients and staff type it (every part optional)."""

    line1 = fields.String(validate=validate.Length(max=200), allow_none=True)
    line2 = fields.String(validate=validate.Length(max=200), allow_none=True)
    city = fields.String(validate=validate.Length(max=100), allow_none=True)
    state = fields.String(validate=validate.Length(max=100), allow_none=True)
    postal_code = fields.String(validate=validate.Length(max=20), allow_none=True)


class DateRange(Schema):
    """`from` and `to` (loaded under those attributes), the end not before the start."""

    @validates_schema
    def _ordered(self, data, **kwargs):
        start, end = data.get("from"), data.get("to")
        if start and end and end < start:
            raise ValidationError("The end of the range precedes its start.", "to")


# --- dumping a hot answer without marshmallow's per-value machinery --------------------------------------------

def _text(value):
    return None if value is None else value if type(value) is str else ensure_text_type(value)


def _integer(value):
    return None if value is None else int(value)


def _boolean(value):
    return None if value is None else bool(value)


def _iso(value):
    return None if value is None else value.isoformat()


_PLAIN = {fields.String: _text, fields.Integer: _integer, fields.Boolean: _boolean}
_ISO = (None, "iso", "iso8601")


def plain_dumper(schema: Schema) -> Callable[[dict], dict]:
    """`schema.dump(data)` for a dict, without marshmallow's per-value machinery (a third of what GET /portal/me
    spent outside the database; 0.7 ms of a 50-row history page; half of a month of free times): made from the
    schema's own fields (their order, data keys and attributes; a missing key is left out, as marshmallow does),
    for plain String, Integer, Boolean, ISO Date and ISO DateTime fields and single Nested schemas of them only;
    any other field is refused here, when the dumper is made, rather than dumped differently. Tests hold it to
    schema.dump (tests/unit/test_plain_dump.py). `plain_dumper(s)` of each item is `s.dump(items, many=True)`."""
    plan = []
    for name, field in schema.dump_fields.items():
        if type(field) is fields.Nested and isinstance(field.nested, type | Schema) and not field.many:
            inner = plain_dumper(field.schema)
            convert = lambda value, inner=inner: None if value is None else inner(value)  # noqa: E731
        elif type(field) in (fields.Date, fields.DateTime) and field.format in _ISO:
            convert = _iso
        elif type(field) in _PLAIN:
            convert = _PLAIN[type(field)]
        else:
            raise TypeError(f"plain_dumper: {name} is a {type(field).__name__}")
        if field.dump_default is not fields.missing_:
            raise TypeError(f"plain_dumper: {name} has a dump_default")
        plan.append((field.data_key or name, field.attribute or name, convert))
    missing = object()

    def dump(data: dict) -> dict:
        out = {}
        for key, attribute, convert in plan:
            value = data.get(attribute, missing)
            if value is not missing:
                out[key] = convert(value)
        return out

    return dump
