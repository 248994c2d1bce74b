"""shared.schemas.Strict, the base of every request schema: NUL and lone surrogates are refused in any field at any
depth, named by the key the client sent, and a date leaves the services room to compute with it."""

from __future__ import annotations

from datetime import date

import pytest
from marshmallow import ValidationError, fields

from shared.schemas import NUL_MESSAGE, SURROGATE_MESSAGE, Strict

BAD = pytest.mark.parametrize("bad, message", [("a\u0000b", NUL_MESSAGE), ("\ud800x", SURROGATE_MESSAGE),
                                               ("x\udfff", SURROGATE_MESSAGE)], ids=["nul", "high", "low"])


class Line(Strict):
    code = fields.String()
    day = fields.Date()


class Toy(Strict):
    name = fields.String()
    from_ = fields.Date(data_key="from", attribute="from")
    tags = fields.List(fields.String())
    days = fields.List(fields.Date())
    line = fields.Nested(Line)
    lines = fields.List(fields.Nested(Line))
    meta = fields.Dict()
    count = fields.Integer()


def messages(data, **kwargs) -> dict:
    with pytest.raises(ValidationError) as caught:
        Toy().load(data, **kwargs)
    return caught.value.messages


@BAD
def test_a_refused_character_is_named_wherever_it_is(bad, message):
    assert messages({"name": bad}) == {"name": [message]}
    assert messages({"tags": ["ok", bad]}) == {"tags": {1: [message]}}
    assert messages({"line": {"code": bad}}) == {"line": {"code": [message]}}
    assert messages({"lines": [{"code": "ok"}, {"code": bad}]}) == {"lines": {1: {"code": [message]}}}
    assert messages({"meta": {"note": bad}}) == {"meta": {"note": [message]}}
    assert messages({"meta": {bad: 1}}) == {"meta": {bad: [message]}}
    assert messages({"from": bad}) == {"from": [message]}  # the key the client sent, not the attribute
    assert messages({"count": bad}) == {"count": [message]}  # a wrong type too: refused before it is parsed


@BAD
def test_partial_loads_refuse_them_too(bad, message):
    assert messages({"line": {"code": bad}}, partial=True) == {"line": {"code": [message]}}


def test_ordinary_unicode_passes():
    text = "Zoë 𝄞 東京 \u202e\ufeff"  # accents, astral, CJK, and controls the database stores as they are
    assert Toy().load({"name": text, "tags": [text], "line": {"code": text}}) == {
        "name": text, "tags": [text], "line": {"code": text}}


@pytest.mark.parametrize("day", ["9999-12-31", "9999-01-01", "0001-01-01", "0001-12-31"])
def test_a_date_at_the_ends_of_pythons_calendar_is_refused(day):
    # A range ending 9999-12-31 has no next midnight to end at: it answered 500 on history and payments lists.
    assert set(messages({"from": day, "days": [day], "line": {"day": day}})) == {"from", "days", "line"}


def test_a_date_inside_it_passes():
    loaded = Toy().load({"from": "0002-01-01", "days": ["9998-12-31"], "line": {"day": "2026-02-28"}})
    assert loaded == {"from": date(2, 1, 1), "days": [date(9998, 12, 31)], "line": {"day": date(2026, 2, 28)}}


def test_the_services_query_schemas_are_strict_and_bounded():
    from services.billing.api.schemas import HistoryQuery, InvoiceQuery
    from services.identity.api.schemas import ClientQuery
    from services.payments.api.schemas import PaymentQuery, StaffPaymentQuery

    for schema in (HistoryQuery, InvoiceQuery, ClientQuery, PaymentQuery, StaffPaymentQuery):
        assert issubclass(schema, Strict)
    with pytest.raises(ValidationError) as caught:
        HistoryQuery().load({"to": "9999-12-31"})
    assert "to" in caught.value.messages
    with pytest.raises(ValidationError) as caught:
        ClientQuery().load({"q": "a\u0000"})
    assert caught.value.messages == {"q": [NUL_MESSAGE]}
