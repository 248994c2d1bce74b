"""What a sign-in may do next: after the password, after the two-factor step, and with a refresh token."""

from __future__ import annotations

import hmac
from datetime import datetime

MFA = "mfa"  # the password stands and two-factor is on: a second step, no session yet
SESSION = "session"  # a new session
REFUSED = "refused"


def after_password(*, checked_hash: str, current_hash: str, active: bool, mfa_enabled: bool) -> str:
    """The step after a right password. The account is read again, locked, once the password is checked (argon2
    runs with no row held): a reset or a deactivation that committed meanwhile wins, since the end of every
    session it made cannot cover a session started after it."""
    if current_hash != checked_hash or not active:
        return REFUSED
    return MFA if mfa_enabled else SESSION


def mfa_step_stands(*, active: bool, mfa_enabled: bool, claimed: str, current: str) -> bool:
    """A first step (its token's credentials stamp, `claimed`) stands for the account only while the account is
    active with two-factor on and its password and sign-in e-mail (`current` stamp) are as the first step saw."""
    return active and mfa_enabled and hmac.compare_digest(claimed, current)


def refresh_token_state(*, revoked_at: datetime | None, expires_at: datetime, rotated_at: datetime | None,
                        now: datetime) -> str:
    """"refused" (revoked or expired), "reused" (rotated already: someone holds a stolen copy, and the whole
    session ends) or "current"."""
    if revoked_at is not None or expires_at <= now:
        return REFUSED
    if rotated_at is not None:
        return "reused"
    return "current"


def may_rotate(*, session_ended: bool, user_active: bool) -> bool:
    """A current refresh token rotates unless its session ended (any of its tokens revoked: an end that committed
    while an earlier refresh held its row revoked the rows it saw, not the one that refresh then inserted) or the
    account is gone or deactivated."""
    return not session_ended and user_active
