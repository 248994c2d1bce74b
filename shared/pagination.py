"""Keyset pagination: `limit` and an opaque `cursor`, answering {"items": [...], "next_cursor": ...}."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import Select, tuple_

from shared.schemas import Strict, refused_character

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageQuery(Strict):
    """Query strings are loaded like bodies: unknown parameters and refused characters are 422s."""

    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT))
    cursor = fields.String(load_default=None, validate=validate.Length(max=512))


def page_of(item: type[Schema], name: str) -> type[Schema]:
    """The answer schema of a page of `item`s: {"items": [...], "next_cursor": "..." or null}, named `name` in the
    OpenAPI document (ClientPage, PaymentPage, ...)."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item)), "next_cursor": fields.String(allow_none=True)},
                            name=name)


def encode_cursor(values: list) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BIGINT = range(-(2**63), 2**63)  # a key column's integers: beyond them PostgreSQL answers an error, not no rows


def _no_constant(name: str):
    raise ValueError(name)  # NaN, Infinity: Python's parser takes them, JSON and our cursors have none


def _key_value(value, kind: type):
    """One value of a cursor as the key column's type; ValueError for anything this list never gave out (a cursor
    is the client's to forge: a NUL or a lone surrogate, or an integer past bigint, would fail in the database)."""
    if kind is datetime:
        return datetime.fromisoformat(value)
    if isinstance(value, float):
        raise ValueError("floats are not keys")
    value = kind(value)
    if isinstance(value, str) and refused_character(value):
        raise ValueError("refused character")
    if isinstance(value, int) and value not in BIGINT:
        raise ValueError("out of range")
    return value


def decode_cursor(cursor: str, kinds: list[type]) -> list:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw, parse_constant=_no_constant)
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        return [_key_value(v, kind) for v, kind in zip(values, kinds, strict=True)]
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ValidationError({"cursor": ["Not a cursor this list gave out."]}) from exc


def paginate(session, stmt: Select, order_columns: list, kinds: list[type], *, limit: int, cursor: str | None,
             descending: bool = False) -> tuple[list, str | None]:
    """Rows of `stmt` ordered by `order_columns` (a unique key), after `cursor`."""
    key = tuple_(*order_columns)
    if cursor:
        values = decode_cursor(cursor, kinds)
        stmt = stmt.where(key < tuple_(*values) if descending else key > tuple_(*values))
    order = [c.desc() for c in order_columns] if descending else list(order_columns)
    rows = session.scalars(stmt.order_by(*order).limit(limit + 1)).all()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        next_cursor = encode_cursor([getattr(last, c.key) for c in order_columns])
    return rows, next_cursor
