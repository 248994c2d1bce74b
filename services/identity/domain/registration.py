"""The rules of a portal invitation: single use, expires, and dies after too many identity misses."""

from __future__ import annotations

import unicodedata
from datetime import date, datetime

from services.identity.domain.errors import IdentityMismatch, InvitationUnusable


def invitation_state(*, expires_at: datetime, used_at: datetime | None, revoked_at: datetime | None,
                     failed_attempts: int, max_misses: int, now: datetime) -> str:
    if used_at is not None:
        return "used"
    if revoked_at is not None:
        return "revoked"
    if failed_attempts >= max_misses:
        return "locked"
    if now >= expires_at:
        return "expired"
    return "valid"


def attempts_left(*, failed_attempts: int, max_misses: int) -> int:
    return max(0, max_misses - failed_attempts)


def portal_status(*, registered: bool, latest_invitation: str | None) -> str:
    """What staff see of a client's portal access: registered, invited (the latest link is still usable), or not
    invited (never, or the latest link is used, revoked, locked or expired). `latest_invitation`: that link's
    invitation_state, None if there is none."""
    if registered:
        return "registered"
    return "invited" if latest_invitation == "valid" else "not_invited"


_REASONS = {
    "used": "This link has already been used. Sign in with your e-mail and password.",
    "revoked": "A newer link was sent. Use the latest e-mail from your practice.",
    "locked": "Too many attempts. Ask your practice to send a new registration link.",
    "expired": "This link has expired. Ask your practice to send a new one.",
}


def ensure_usable(state: str) -> None:
    if state != "valid":
        raise InvitationUnusable(_REASONS[state], extra={"reason": state})


def normalise_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(text.replace("\u2019", "'").split())


def identity_matches(*, record_last_name: str, record_dob: date, last_name: str, date_of_birth: date) -> bool:
    return normalise_name(record_last_name) == normalise_name(last_name) and record_dob == date_of_birth


def mismatch(attempts_left: int) -> IdentityMismatch:
    detail = ("Last name or date of birth do not match our records. "
              + (f"{attempts_left} attempt(s) left." if attempts_left else
                 "The link is now disabled; ask your practice for a new one."))
    return IdentityMismatch(detail, errors={"last_name": ["Does not match."],
                                            "date_of_birth": ["Does not match."]},
                            extra={"attempts_remaining": attempts_left})
