"""Login throttling: failures counted per key in a fixed window; too many lock the key for a while."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class ThrottleState:
    failures: int
    window_started_at: datetime
    locked_until: datetime | None


def seconds_locked(state: ThrottleState | None, now: datetime) -> int:
    if state is None or state.locked_until is None or state.locked_until <= now:
        return 0
    return max(1, math.ceil((state.locked_until - now).total_seconds()))


def record_failure(state: ThrottleState | None, now: datetime, *, max_failures: int, window: int,
                   lockout: int) -> ThrottleState:
    locked = state is not None and state.locked_until is not None and state.locked_until > now
    if state is None or (not locked and now - state.window_started_at >= timedelta(seconds=window)):
        state = ThrottleState(failures=0, window_started_at=now, locked_until=None)
    state.failures += 1
    if state.failures >= max_failures:
        state.locked_until = now + timedelta(seconds=lockout)
    return state
