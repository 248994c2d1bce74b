"""Accounts and registration: who may deactivate whom, what a password must not be built from, how many tries a
registration link has left, and the portal status staff see."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.identity.domain import passwords
from services.identity.domain.accounts import STAFF_ROLES, ensure_may_set_active
from services.identity.domain.errors import OwnAccountDeactivation, WeakPassword
from services.identity.domain.registration import attempts_left, portal_status


def test_an_admin_may_deactivate_another_and_reactivate_anyone():
    ensure_may_set_active(admin_id="a", user_id="b", active=False)
    ensure_may_set_active(admin_id="a", user_id="a", active=True)


def test_an_admin_cannot_deactivate_their_own_account():
    with pytest.raises(OwnAccountDeactivation, match="another administrator can"):
        ensure_may_set_active(admin_id="a", user_id="a", active=False)


def test_staff_are_staff_and_admins_not_clients():
    assert set(STAFF_ROLES) == {"staff", "admin"}


# --- passwords -------------------------------------------------------------------------------------------------
def test_a_password_must_not_be_built_from_the_practice_or_the_people():
    user = SimpleNamespace(email="jordan.rivera@example.com", first_name="Jordan", last_name="Rivera")
    client = SimpleNamespace(email=None, first_name="Jo", last_name=None)
    assert passwords.user_inputs("Harbor Therapy", user, None, client) == [
        "Harbor Therapy", "jordan.rivera@example.com", "jordan.rivera", "Jordan", "Rivera", "", "", "Jo", ""]


def test_a_password_of_the_persons_own_names_is_refused_with_every_reason():
    person = SimpleNamespace(email="zq@example.com", first_name="Zephyr", last_name="Quokka")
    passwords.ensure_strong("zephyrquokka", passwords.user_inputs("Practice"))  # strong enough for a stranger
    with pytest.raises(WeakPassword) as caught:
        passwords.ensure_strong("zephyrquokka", passwords.user_inputs("Practice", person))
    found = caught.value.errors["password"]
    assert str(caught.value) == found[0] == "This password is too easy to guess." and len(found) > 1


def test_a_strong_password_passes():
    passwords.ensure_strong("quiet-harbor-lantern-42", passwords.user_inputs("Practice"))


# --- registration ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("failed", "left"), [(0, 5), (4, 1), (5, 0), (7, 0)])
def test_attempts_left_never_go_below_zero(failed, left):
    assert attempts_left(failed_attempts=failed, max_misses=5) == left


@pytest.mark.parametrize(("registered", "latest", "status"), [
    (True, None, "registered"),
    (True, "expired", "registered"),  # registered wins whatever became of the link
    (False, "valid", "invited"),
    (False, "expired", "not_invited"),
    (False, "revoked", "not_invited"),
    (False, "locked", "not_invited"),
    (False, "used", "not_invited"),
    (False, None, "not_invited"),
])
def test_portal_status(registered, latest, status):
    assert portal_status(registered=registered, latest_invitation=latest) == status
