"""My Information: a change lists only fields whose value really changes; nested fields merge."""

from __future__ import annotations

from services.identity.domain.profile import CLIENT_EDITABLE, NESTED, PRACTICE_OWNED, apply_changes

CURRENT = {
    "first_name": "Ada",
    "last_name": "Rosenkrantz",
    "preferred_name": None,
    "email": "ada@example.com",
    "phone": "555-0100",
    "address": {"line1": "1 Main St", "line2": None, "city": "Springfield", "state": "IL",
                "postal_code": "62701"},
    "emergency_contact": None,
    "insurance": {"carrier": "Acme", "member_id": "M-1", "group_number": "G-9"},
}


def test_a_scalar_change_has_old_and_new():
    assert apply_changes(CURRENT, {"phone": "555-0199"}) == {"phone": {"old": "555-0100", "new": "555-0199"}}


def test_a_nested_update_merges_into_the_current_value():
    changes = apply_changes(CURRENT, {"address": {"city": "Shelbyville"}})
    assert changes == {"address": {
        "old": CURRENT["address"],
        "new": {**CURRENT["address"], "city": "Shelbyville"},  # line1, state... are kept
    }}


def test_a_nested_update_of_an_empty_value_starts_from_nothing():
    changes = apply_changes(CURRENT, {"emergency_contact": {"name": "Bo", "phone": "555-0111"}})
    assert changes == {"emergency_contact": {"old": {}, "new": {"name": "Bo", "phone": "555-0111"}}}


def test_unchanged_values_produce_no_change():
    update = {
        "phone": "555-0100",
        "preferred_name": None,
        "address": {"city": "Springfield"},
        "insurance": dict(CURRENT["insurance"]),
        "emergency_contact": {},
    }
    assert apply_changes(CURRENT, update) == {}


def test_only_the_changed_fields_are_listed():
    update = {"phone": "555-0100", "email": "ada@new.example", "address": {"state": "IL"}}
    changes = apply_changes(CURRENT, update)
    assert list(changes) == ["email"]


def test_apply_changes_does_not_mutate_the_current_record():
    current = {"address": {"city": "Springfield"}}
    apply_changes(current, {"address": {"city": "Shelbyville"}})
    assert current == {"address": {"city": "Springfield"}}


def test_practice_owned_fields_are_not_client_editable():
    assert not set(PRACTICE_OWNED) & set(CLIENT_EDITABLE)
    assert set(NESTED) <= set(CLIENT_EDITABLE)
