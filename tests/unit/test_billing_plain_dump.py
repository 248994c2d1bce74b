"""The history page's dumper (plain_dumper, made from EntryOut) answers what EntryOut's marshmallow dump answers, to
the byte of the JSON and the order of its keys, and refuses a schema whose fields it does not know."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from marshmallow import Schema, fields

from services.billing.api.schemas import EntryOut, EntryPage, entry_items, entry_page
from shared.schemas import plain_dumper


def _entry(**changes) -> dict:
    entry = {"id": "5f0c6a52-7d7e-4d8e-9a55-3c1f0f6f1c11", "occurred_at": datetime(2026, 3, 8, 6, 59, 59, tzinfo=UTC),
             "kind": "charge", "description": "Invoice #000042", "amount_cents": 15000, "currency": "USD",
             "balance_after_cents": 15000, "invoice_id": "b2d8d9c6-95a5-4b7e-9a0e-0b6c2ad1f3e2", "invoice_number": 42,
             "payment_id": None, "reason": None}
    entry.update(changes)
    return entry


ENTRIES = [
    _entry(),
    _entry(occurred_at=datetime(2026, 3, 8, 7, 0, 0, 123456, tzinfo=UTC), kind="payment", amount_cents=-15000,
           balance_after_cents=0, invoice_id=None, invoice_number=None, payment_id="p-1",
           description="Payment by Visa ending 4242"),
    _entry(occurred_at=datetime(2026, 11, 1, 12, 0, tzinfo=timezone(timedelta(hours=-4))), kind="adjustment",
           amount_cents=-500, balance_after_cents=-500, reason="Sliding scale: “agreed” at intake ✓",
           description="Discount: Sliding scale"),
    _entry(amount_cents=0, balance_after_cents=-(2**62), invoice_number=0, description=""),
    {k: v for k, v in _entry().items() if k not in ("reason", "payment_id")},  # missing keys are left out
    {**_entry(), "method": {"brand": "visa"}},  # keys the schema does not name are not dumped
]


def test_each_item_is_what_entryout_dumps_in_the_same_key_order():
    expected = EntryOut(many=True).dump(ENTRIES)
    got = entry_items(ENTRIES)
    assert got == expected
    assert [list(item) for item in got] == [list(item) for item in expected]
    assert json.dumps(got) == json.dumps(expected)


def test_a_page_is_what_entrypage_dumps():
    for next_cursor in (None, "WyIyMDI2LTAzLTA4VDA3OjAwOjAwKzAwOjAwIiwgNDJd"):
        expected = EntryPage().dump({"items": ENTRIES, "next_cursor": next_cursor})
        assert json.dumps(entry_page(ENTRIES, next_cursor)) == json.dumps(expected)
    assert entry_page([], None) == EntryPage().dump({"items": [], "next_cursor": None}) == {"items": [],
                                                                                              "next_cursor": None}


def test_it_follows_data_keys_and_attributes_as_marshmallow_does():
    class Renamed(Schema):
        when = fields.DateTime(data_key="at")
        total = fields.Integer(attribute="amount")
        label = fields.String()

    rows = [{"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "amount": 7, "label": None}, {"amount": None}]
    assert [plain_dumper(Renamed())(row) for row in rows] == Renamed(many=True).dump(rows)


@pytest.mark.parametrize("field", [fields.Nested(EntryOut, many=True), fields.Float(), fields.Date(format="%Y"),
                                   fields.DateTime(format="rfc"), fields.Integer(dump_default=0),
                                   fields.Function(lambda obj: 1), fields.Email()])
def test_fields_it_does_not_know_are_refused_when_it_is_made(field):
    schema = Schema.from_dict({"value": field})()
    with pytest.raises(TypeError):
        plain_dumper(schema)


def test_booleans_and_nested_objects_are_what_marshmallow_dumps():
    class Flagged(Schema):
        paid = fields.Boolean()
        entry = fields.Nested(EntryOut, allow_none=True)

    rows = [{"paid": True, "entry": ENTRIES[0]}, {"paid": False, "entry": None}, {"paid": None}]
    dump = plain_dumper(Flagged())
    assert json.dumps([dump(r) for r in rows]) == json.dumps(Flagged(many=True).dump(rows))
