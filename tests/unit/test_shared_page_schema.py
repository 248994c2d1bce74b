"""shared.pagination.page_of: one answer schema for every page of a list, named for the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields

from shared.pagination import page_of


class Item(Schema):
    id = fields.String()
    amount_cents = fields.Integer()


def test_a_page_dumps_its_items_with_their_schema_and_the_cursor():
    page = page_of(Item, "ItemPage")
    assert page.__name__ == "ItemPage"
    dumped = page().dump({"items": [{"id": "a", "amount_cents": 5, "secret": "x"}], "next_cursor": None})
    assert dumped == {"items": [{"id": "a", "amount_cents": 5}], "next_cursor": None}
    assert page().dump({"items": [], "next_cursor": "abc"}) == {"items": [], "next_cursor": "abc"}
