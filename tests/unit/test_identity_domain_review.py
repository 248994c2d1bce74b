"""My Information's rules: what a client may change, when a change moves the sign-in e-mail, and what a review
accepts and what a revert puts back (a later change stands)."""

from __future__ import annotations

from datetime import date

import pytest

from services.identity.domain.errors import AlreadyReviewed, PracticeOwnedFields
from services.identity.domain.profile import (
    DECISIONS,
    apply_changes,
    ensure_client_may_change,
    ensure_pending,
    jsonable,
    moves_sign_in,
    revert,
)

BEFORE = {"preferred_name": None, "email": "ada@example.com", "phone": "555-0100",
          "address": {"line1": "1 Main St", "city": "Springfield"}, "emergency_contact": {}}


# --- what a client may change ----------------------------------------------------------------------------------
def test_a_client_may_change_their_own_details():
    ensure_client_may_change(["preferred_name", "email", "phone", "address", "emergency_contact", "insurance"])


def test_names_and_date_of_birth_are_the_practices_and_each_is_named():
    with pytest.raises(PracticeOwnedFields) as caught:
        ensure_client_may_change({"phone": "1", "last_name": "X", "date_of_birth": "1990-01-01"})
    assert caught.value.errors == {"date_of_birth": ["Only your practice can change this."],
                                   "last_name": ["Only your practice can change this."]}
    assert str(caught.value) == "Your practice keeps these details; send them a message to change them."


# --- when a new e-mail moves the sign-in ------------------------------------------------------------------------
@pytest.mark.parametrize(("signs_in_with", "new_email", "moves"), [
    ("ada@example.com", "ada@new.example", True),
    ("ada@example.com", "  ADA@example.com ", False),  # the same address, as typed: lowered and trimmed
    ("ada@example.com", None, False),  # removed: refused elsewhere for an account, never a move
    ("ada@example.com", "", False),
    (None, "ada@new.example", False),  # no portal account: nothing signs in with it
])
def test_moves_sign_in(signs_in_with, new_email, moves):
    assert moves_sign_in(signs_in_with, new_email) is moves


# --- what a review accepts -------------------------------------------------------------------------------------
def test_a_pending_change_may_be_reviewed():
    ensure_pending("pending")


@pytest.mark.parametrize("status", ["accepted", "reverted"])
def test_a_change_is_reviewed_once(status):
    with pytest.raises(AlreadyReviewed) as caught:
        ensure_pending(status)
    assert str(caught.value) == f"This change was already {status}."


def test_each_decision_leaves_its_status():
    assert DECISIONS == {"accept": "accepted", "revert": "reverted"}


# --- what a revert puts back -----------------------------------------------------------------------------------
def test_a_revert_puts_back_every_field_still_holding_the_changes_value():
    changes = apply_changes(BEFORE, {"phone": "555-0199", "address": {"city": "Shelbyville"}})
    after = {**BEFORE, "phone": "555-0199", "address": {"line1": "1 Main St", "city": "Shelbyville"}}
    restore, skipped = revert(after, changes)
    assert restore == {"phone": "555-0100", "address": {"line1": "1 Main St", "city": "Springfield"}}
    assert skipped == []


def test_a_field_changed_again_since_is_skipped_and_the_later_value_stands():
    changes = apply_changes(BEFORE, {"phone": "555-0199", "email": "ada@new.example"})
    now = {**BEFORE, "phone": "555-0142", "email": "ada@new.example"}  # the phone changed once more
    restore, skipped = revert(now, changes)
    assert restore == {"email": "ada@example.com"}
    assert skipped == ["phone"]


def test_a_field_changed_back_by_hand_is_skipped_too():
    changes = apply_changes(BEFORE, {"phone": "555-0199"})
    assert revert(BEFORE, changes) == ({}, ["phone"])


def test_a_revert_of_a_first_value_restores_the_empty_one():
    changes = apply_changes(BEFORE, {"preferred_name": "Ada", "emergency_contact": {"name": "Bo"}})
    restore, skipped = revert({**BEFORE, "preferred_name": "Ada", "emergency_contact": {"name": "Bo"}}, changes)
    assert restore == {"preferred_name": None, "emergency_contact": {}} and skipped == []


def test_skipped_fields_keep_the_changes_order():
    changes = {name: {"old": "a", "new": "b"} for name in ("phone", "email", "preferred_name")}
    assert revert({"phone": "c", "email": "c", "preferred_name": "c"}, changes) == ({}, ["phone", "email",
                                                                                        "preferred_name"])


def test_records_compare_as_changes_store_them():
    # A date of birth in the record is a date; in a stored change it is its ISO string.
    assert jsonable({"date_of_birth": date(1988, 2, 29), "phone": "1"}) == {"date_of_birth": "1988-02-29",
                                                                             "phone": "1"}
