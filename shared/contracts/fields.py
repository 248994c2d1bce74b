"""The field types of event payloads: JSON as it travels, checked, never converted.

A handler reads a payload as the producer wrote it (`date.fromisoformat(payload["start"])`, `int(...)`), so a
field here checks the value and loads it unchanged: a date stays its ISO string, an id its string. Messages name
what is wrong, never the value (they end up in a dead-letter header and a log line)."""

from __future__ import annotations

import re
from datetime import date, datetime

from marshmallow import ValidationError, fields, validate

from shared.schemas import StrictBool, StrictInt

__all__ = ["Bool", "Cents", "Currency", "Id", "Int", "IsoDate", "IsoDateTime", "List", "Nested", "Object", "OneOf",
           "Text"]

_CURRENCY = re.compile(r"[A-Z]{3}")


class Id(fields.String):
    """An id: a non-empty string (UUIDs by convention, ARCHITECTURE). Not checked as a UUID: the outbox also
    announces rows written before that convention (payments' migration 0003 tells of cards by their stored id)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.Length(min=1, max=64), **kwargs)


class Currency(fields.String):
    """An ISO 4217 code, three capitals."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _CURRENCY.fullmatch(text):
            raise ValidationError("Not an ISO 4217 currency code (three capitals).")
        return text


class IsoDate(fields.String):
    """A date, `YYYY-MM-DD`, kept as the string."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            date.fromisoformat(text)
        except ValueError:
            raise ValidationError("Not a date (YYYY-MM-DD).") from None
        return text


class IsoDateTime(fields.String):
    """A date-time with its offset (ISO 8601, UTC on the wire), kept as the string."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValidationError("Not an ISO 8601 date-time.") from None
        if moment.tzinfo is None:
            raise ValidationError("A date-time needs its UTC offset.")
        return text


Text = fields.String
Int = StrictInt
Bool = StrictBool
List = fields.List
Nested = fields.Nested
OneOf = validate.OneOf


def Cents(**kwargs) -> StrictInt:  # noqa: N802 (a field type, named as one)
    """Money: integer cents (with a `currency` beside it)."""
    return StrictInt(**kwargs)


class Object(fields.Dict):
    """A JSON object whose members this version does not fix (a producer's own detail)."""
