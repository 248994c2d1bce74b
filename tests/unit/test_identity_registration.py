"""Invitation rules: single use, revocable, locked after misses, expiring; matching by name and DOB."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.identity.api.errors import ERROR_MAP
from services.identity.domain.errors import IdentityMismatch, InvitationUnusable
from services.identity.domain.registration import (
    ensure_usable,
    identity_matches,
    invitation_state,
    mismatch,
    normalise_name,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=7)


def state(**overrides) -> str:
    values = {"expires_at": LATER, "used_at": None, "revoked_at": None, "failed_attempts": 0, "max_misses": 5,
              "now": NOW}
    values.update(overrides)
    return invitation_state(**values)


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, "valid"),
    ({"failed_attempts": 4}, "valid"),
    ({"used_at": NOW - timedelta(hours=1)}, "used"),
    ({"revoked_at": NOW - timedelta(hours=1)}, "revoked"),
    ({"failed_attempts": 5}, "locked"),
    ({"failed_attempts": 9}, "locked"),
    ({"expires_at": NOW - timedelta(seconds=1)}, "expired"),
    ({"expires_at": NOW}, "expired"),  # expiry is exclusive: at expires_at it is already over
])
def test_invitation_state(overrides, expected):
    assert state(**overrides) == expected


def test_used_wins_over_every_other_reason():
    # A used link says "sign in" even if it has expired or was revoked since.
    assert state(used_at=NOW, revoked_at=NOW, failed_attempts=5, expires_at=NOW - timedelta(days=1)) == "used"
    assert state(revoked_at=NOW, failed_attempts=5, expires_at=NOW - timedelta(days=1)) == "revoked"
    assert state(failed_attempts=5, expires_at=NOW - timedelta(days=1)) == "locked"


def test_ensure_usable_passes_a_valid_link():
    ensure_usable("valid")


@pytest.mark.parametrize("reason", ["used", "revoked", "locked", "expired"])
def test_ensure_usable_refuses_with_410_and_the_reason(reason):
    with pytest.raises(InvitationUnusable) as caught:
        ensure_usable(reason)
    assert ERROR_MAP[InvitationUnusable].status == 410
    assert caught.value.extra == {"reason": reason}
    assert caught.value.detail  # a sentence for the person holding the link


@pytest.mark.parametrize(("record", "typed"), [
    ("O'Brien", "o'brien"),
    ("O'Brien", "O\u2019Brien"),  # curly apostrophe from a phone keyboard
    ("O\u2019Brien", "O'Brien"),
    ("van der Berg", "  Van   der  BERG "),
    ("Müller", "MÜLLER"),
    ("Straße", "STRASSE"),  # casefold, not lower
])
def test_names_match_after_normalisation(record, typed):
    assert normalise_name(record) == normalise_name(typed)


@pytest.mark.parametrize(("record", "typed"), [
    ("Smith", "Smyth"), ("Anne-Marie", "Anne Marie"), ("Li", "Lee"),
])
def test_different_names_do_not_match(record, typed):
    assert normalise_name(record) != normalise_name(typed)


def test_identity_matches_needs_both_name_and_date_of_birth():
    dob = date(1988, 4, 12)
    assert identity_matches(record_last_name="O'Brien", record_dob=dob, last_name=" o\u2019brien ",
                            date_of_birth=dob)
    assert not identity_matches(record_last_name="O'Brien", record_dob=dob, last_name="O'Brien",
                                date_of_birth=date(1988, 12, 4))
    assert not identity_matches(record_last_name="O'Brien", record_dob=dob, last_name="Brien",
                                date_of_birth=dob)


def test_mismatch_with_attempts_left_says_how_many():
    error = mismatch(2)
    assert isinstance(error, IdentityMismatch) and ERROR_MAP[IdentityMismatch].status == 422
    assert "2 attempt(s) left." in error.detail
    assert "disabled" not in error.detail
    assert error.extra == {"attempts_remaining": 2}
    assert set(error.errors) == {"last_name", "date_of_birth"}


def test_mismatch_with_no_attempt_left_says_the_link_is_disabled():
    error = mismatch(0)
    assert "The link is now disabled" in error.detail
    assert "attempt(s) left" not in error.detail
    assert error.extra == {"attempts_remaining": 0}
