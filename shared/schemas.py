"""Field types every service's marshmallow schemas use: strict JSON types, unknown fields refused."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields


class Strict(Schema):
    """Unknown fields are an error (422), never silently dropped."""

    class Meta:
        unknown = RAISE


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
