"""Password rules and hashing: argon2id at OWASP's minimum cost, length 10-128, no guessable passwords."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from services.identity.domain.errors import WeakPassword

MIN_LENGTH = 10
MAX_LENGTH = 128
MIN_SCORE = 3  # zxcvbn: "safely unguessable: moderate protection from offline slow-hash scenario"

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = hasher.hash("not-a-real-password-only-for-timing")


def problems(password: str, user_inputs: list[str]) -> list[str]:
    """Why a password is refused; empty when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return [f"Use at least {MIN_LENGTH} characters."]
    if len(password) > MAX_LENGTH:
        return [f"Use at most {MAX_LENGTH} characters."]
    if not password.strip():
        return ["A password cannot be only spaces."]
    # zxcvbn knows common and breached passwords, words, names, keyboard walks, dates, repeats
    # and the user's own details; its run time grows with length, so the head is what it judges.
    result = zxcvbn(password[:64], user_inputs=[u for u in user_inputs if u])
    if result["score"] < MIN_SCORE:
        feedback = result.get("feedback") or {}
        messages = [m for m in [feedback.get("warning")] + list(feedback.get("suggestions") or []) if m]
        return ["This password is too easy to guess."] + messages
    return []


def user_inputs(practice_name: str, *people) -> list[str]:
    """What a password must not be built from: the practice's name and, for each person (an account or a client
    record; None is skipped), the e-mail, its local part, and the names."""
    inputs = [practice_name]
    for who in people:
        if who is not None:
            inputs += [who.email or "", (who.email or "").split("@")[0], who.first_name or "", who.last_name or ""]
    return inputs


def ensure_strong(password: str, user_inputs: list[str]) -> None:
    found = problems(password, user_inputs)
    if found:
        raise WeakPassword(found[0], errors={"password": found})


def hash_password(password: str) -> str:
    return hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not the account exists (a dummy hash stands in)."""
    try:
        return hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return hasher.check_needs_rehash(password_hash)
