"""Password rules (length, guessability, the user's own details) and argon2id hashing."""

from __future__ import annotations

import pytest

from services.identity.domain import passwords

STRONG = "violet-tractor-marmalade-42"
USER_INPUTS = ["ada.rosenkrantz@example.com", "Ada", "Rosenkrantz"]


def test_a_strong_passphrase_is_accepted():
    assert passwords.problems(STRONG, USER_INPUTS) == []


@pytest.mark.parametrize(("password", "message"), [
    ("a1b2c3d4e", "Use at least 10 characters."),  # 9
    ("x" * 129, "Use at most 128 characters."),
    (" " * 12, "A password cannot be only spaces."),
])
def test_length_and_blank_rules(password, message):
    assert passwords.problems(password, []) == [message]


def test_length_bounds_are_inclusive():
    ten = "Zq7!vR2#mK"
    assert len(ten) == passwords.MIN_LENGTH
    assert passwords.problems(ten, []) == []
    longest = ("violet-tractor-marmalade-" * 6)[: passwords.MAX_LENGTH]
    assert len(longest) == 128
    assert "Use at most 128 characters." not in passwords.problems(longest, [])


@pytest.mark.parametrize("password", ["password123", "Password123!", "qwertyuiop", "1234567890"])
def test_common_passwords_are_refused(password):
    found = passwords.problems(password, [])
    assert found and found[0] == "This password is too easy to guess."


def test_a_password_made_of_the_users_email_is_refused():
    # Unguessable for a stranger; refused only because it is this user's e-mail.
    password = "ada.rosenkrantz@example.com1"
    assert passwords.problems(password, []) == []
    assert passwords.problems(password, USER_INPUTS)[0] == "This password is too easy to guess."


def test_a_password_made_of_the_users_name_is_refused():
    password = "Rosenkrantz!88"
    assert passwords.problems(password, []) == []
    assert passwords.problems(password, USER_INPUTS)[0] == "This password is too easy to guess."


def test_empty_user_inputs_are_ignored():
    # None or "" (a client without a preferred name) must not break or weaken the check.
    assert passwords.problems(STRONG, [None, "", "Ada"]) == []
    assert passwords.problems("password123", [None, ""])[0] == "This password is too easy to guess."


@pytest.fixture(scope="module")
def stored_hash() -> str:
    return passwords.hash_password(STRONG)


def test_hash_is_argon2id_and_never_the_password(stored_hash):
    assert stored_hash.startswith("$argon2id$")
    assert STRONG not in stored_hash
    assert not passwords.needs_rehash(stored_hash)


def test_verify_round_trip(stored_hash):
    assert passwords.verify_password(stored_hash, STRONG) is True
    assert passwords.verify_password(stored_hash, STRONG + "x") is False


def test_verify_of_an_unknown_user_is_false():
    assert passwords.verify_password(None, STRONG) is False
    # even the password behind the dummy hash must not let "no account" sign in
    assert passwords.verify_password(None, "not-a-real-password-only-for-timing") is False


def test_verify_of_a_corrupt_hash_is_false():
    assert passwords.verify_password("not-an-argon2-hash", STRONG) is False
