"""Two-factor sign-in (TOTP, RFC 6238): which codes are accepted, and when it may be set up or turned on."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyotp

from services.identity.domain.errors import TwoFactorStateConflict

STEP_SECONDS = 30
DRIFT_STEPS = (0, -1, 1)  # the current time step first, then one either side for a clock a little off


def accepted_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` is right for, or None; a step at or before the last one accepted is refused (a code
    seen once, over a shoulder or in a log, cannot sign in again)."""
    totp = pyotp.TOTP(secret)
    for offset in DRIFT_STEPS:
        moment = now + timedelta(seconds=STEP_SECONDS * offset)
        step = totp.timecode(moment)
        if totp.verify(code, for_time=moment) and (last_step is None or step > last_step):
            return step
    return None


def ensure_may_set_up(*, enabled: bool) -> None:
    if enabled:
        raise TwoFactorStateConflict("Two-factor sign-in is already on; turn it off first to change the device.")


def ensure_may_enable(*, set_up: bool, enabled: bool) -> None:
    if not set_up:
        raise TwoFactorStateConflict("Start the set-up first.")
    if enabled:
        raise TwoFactorStateConflict("Two-factor sign-in is already on.")
