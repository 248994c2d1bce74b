"""GET /portal/me's dumper (plain_dumper, made from ProfileOut) answers what ProfileOut's marshmallow dump answers, to
the byte of the JSON and the order of its keys (the nested objects' too, and what they leave out), and refuses a
schema whose fields it does not know."""

from __future__ import annotations

import json
from datetime import date

import pytest
from marshmallow import Schema, fields

from services.identity.api.portal import profile_out
from services.identity.api.schemas import Address, ProfileOut
from shared.schemas import plain_dumper

FULL = {"first_name": "Casey", "last_name": "Benchmark", "preferred_name": "Case", "date_of_birth": date(1990, 4, 12),
        "email": "casey@example.test", "phone": "+1 555 0100",
        # stored keys the schema does not name are not shown; the schema's order, not the stored one
        "address": {"postal_code": "04101", "country": "US", "city": "Portland", "line1": "12 Harbor Road"},
        "emergency_contact": {"phone": "+1 555 0101", "name": "Robin Benchmark", "relationship": None},
        "insurance": {"provider": "Acme Health", "member_id": "AC-123456", "group_number": "G-1", "carrier": "Acme"}}
PROFILES = [
    FULL,
    {**FULL, "preferred_name": None, "email": None, "phone": None, "address": {}, "emergency_contact": {},
     "insurance": {}},
    {**FULL, "address": None, "first_name": "Zoë “Z” Ñúñez ✓", "date_of_birth": date(1, 1, 1)},
    {k: v for k, v in FULL.items() if k not in ("phone", "insurance")},  # missing keys are left out
]


@pytest.mark.parametrize("profile", PROFILES)
def test_my_information_is_what_profileout_dumps(profile):
    expected = ProfileOut().dump(profile)
    got = profile_out(profile)
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # the key order of every level too


def test_it_follows_data_keys_and_attributes_as_marshmallow_does():
    class Renamed(Schema):
        born = fields.Date(data_key="date_of_birth")
        home = fields.Nested(Address, attribute="address")
        note = fields.String()

    data = {"born": date(2000, 2, 29), "address": {"city": "Springfield", "state": None}, "note": None}
    assert plain_dumper(Renamed())(data) == Renamed().dump(data)


@pytest.mark.parametrize("field", [fields.Nested(Schema.from_dict({"n": fields.Float()})),
                                   fields.Nested(Address, many=True), fields.List(fields.String()), fields.Float(),
                                   fields.DateTime(format="rfc"), fields.Date(format="%d/%m/%Y"),
                                   fields.String(dump_default="x"), fields.Email(), fields.Function(lambda obj: 1)])
def test_fields_it_does_not_know_are_refused_when_it_is_made(field):
    with pytest.raises(TypeError):
        plain_dumper(Schema.from_dict({"value": field})())
