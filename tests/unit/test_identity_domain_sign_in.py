"""What a sign-in may do next: after the password, at the two-factor step, with a refresh token; which codes
two-factor accepts; what a failure counts against."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from services.identity.domain import sign_in, two_factor
from services.identity.domain.errors import TwoFactorStateConflict
from services.identity.domain.throttle import account_key, address_key, sign_in_keys

NOW = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC)  # 10 s into a 30 s time step


# --- after the password ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("current_hash", "active", "mfa", "step"), [
    ("h1", True, False, sign_in.SESSION),
    ("h1", True, True, sign_in.MFA),
    ("h2", True, False, sign_in.REFUSED),  # a reset landed while the password was being checked
    ("h2", True, True, sign_in.REFUSED),
    ("h1", False, False, sign_in.REFUSED),  # a deactivation landed meanwhile
    ("h1", False, True, sign_in.REFUSED),
])
def test_after_a_right_password(current_hash, active, mfa, step):
    assert sign_in.after_password(checked_hash="h1", current_hash=current_hash, active=active,
                                  mfa_enabled=mfa) == step


# --- the two-factor step ---------------------------------------------------------------------------------------
def test_a_first_step_stands_while_nothing_it_checked_changed():
    assert sign_in.mfa_step_stands(active=True, mfa_enabled=True, claimed="stamp", current="stamp")


@pytest.mark.parametrize("changed", [{"active": False}, {"mfa_enabled": False}, {"current": "another stamp"},
                                     {"claimed": ""}])
def test_a_first_step_no_longer_stands(changed):
    values = {"active": True, "mfa_enabled": True, "claimed": "stamp", "current": "stamp", **changed}
    assert not sign_in.mfa_step_stands(**values)


# --- refresh tokens --------------------------------------------------------------------------------------------
def state(**overrides) -> str:
    values = {"revoked_at": None, "expires_at": NOW + timedelta(days=1), "rotated_at": None, "now": NOW}
    return sign_in.refresh_token_state(**{**values, **overrides})


def test_a_live_token_is_current():
    assert state() == "current"


@pytest.mark.parametrize("overrides", [{"revoked_at": NOW}, {"expires_at": NOW}, {"expires_at": NOW - timedelta(1)},
                                       {"revoked_at": NOW, "rotated_at": NOW}])
def test_a_revoked_or_expired_token_is_refused_even_if_rotated(overrides):
    assert state(**overrides) == sign_in.REFUSED


def test_a_rotated_token_that_comes_back_is_reused():
    assert state(rotated_at=NOW - timedelta(minutes=1)) == "reused"


@pytest.mark.parametrize(("ended", "active", "rotates"), [(False, True, True), (True, True, False),
                                                          (False, False, False), (True, False, False)])
def test_a_current_token_rotates_only_in_a_live_session_of_an_active_account(ended, active, rotates):
    assert sign_in.may_rotate(session_ended=ended, user_active=active) is rotates


# --- two-factor codes ------------------------------------------------------------------------------------------
SECRET = pyotp.random_base32()
TOTP = pyotp.TOTP(SECRET)


def code_at(moment: datetime) -> str:
    return TOTP.at(moment)


def test_the_current_code_is_accepted_as_its_step():
    assert two_factor.accepted_step(SECRET, code_at(NOW), now=NOW, last_step=None) == TOTP.timecode(NOW)


@pytest.mark.parametrize("offset", [-30, 30])
def test_a_code_one_step_either_side_is_accepted(offset):
    moment = NOW + timedelta(seconds=offset)
    assert two_factor.accepted_step(SECRET, code_at(moment), now=NOW, last_step=None) == TOTP.timecode(moment)


@pytest.mark.parametrize("offset", [-90, 90])
def test_a_code_further_off_is_refused(offset):
    assert two_factor.accepted_step(SECRET, code_at(NOW + timedelta(seconds=offset)), now=NOW, last_step=None) is None


def test_a_step_already_used_is_refused_and_a_later_one_accepted():
    step = TOTP.timecode(NOW)
    assert two_factor.accepted_step(SECRET, code_at(NOW), now=NOW, last_step=step) is None
    assert two_factor.accepted_step(SECRET, code_at(NOW - timedelta(seconds=30)), now=NOW, last_step=step) is None
    later = NOW + timedelta(seconds=30)
    assert two_factor.accepted_step(SECRET, code_at(later), now=NOW, last_step=step) == step + 1


def test_a_wrong_code_is_refused():
    right = code_at(NOW)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert two_factor.accepted_step(SECRET, wrong, now=NOW, last_step=None) is None


def test_set_up_is_refused_while_two_factor_is_on():
    two_factor.ensure_may_set_up(enabled=False)
    with pytest.raises(TwoFactorStateConflict, match="already on; turn it off first"):
        two_factor.ensure_may_set_up(enabled=True)


@pytest.mark.parametrize(("set_up", "enabled", "refusal"), [(False, False, "Start the set-up first."),
                                                            (False, True, "Start the set-up first."),
                                                            (True, True, "Two-factor sign-in is already on.")])
def test_turning_on_needs_a_set_up_and_two_factor_off(set_up, enabled, refusal):
    with pytest.raises(TwoFactorStateConflict) as caught:
        two_factor.ensure_may_enable(set_up=set_up, enabled=enabled)
    assert str(caught.value) == refusal
    two_factor.ensure_may_enable(set_up=True, enabled=False)


# --- what a failure counts against -----------------------------------------------------------------------------
def test_a_failure_counts_against_the_account_first_then_the_address():
    assert sign_in_keys("ada@example.com", "2001:db8::1", account_limit=5, address_limit=20) == [
        (account_key("ada@example.com"), 5), (f"address:{address_key('2001:db8::1')}", 20)]
    assert account_key("ada@example.com") == "account:ada@example.com"


def test_without_an_address_only_the_account_counts():
    assert sign_in_keys("ada@example.com", None, account_limit=5, address_limit=20) == [
        ("account:ada@example.com", 5)]
