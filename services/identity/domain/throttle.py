"""Login throttling: failures counted per key in a fixed window; too many lock the key for a while."""

from __future__ import annotations

import ipaddress
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


def account_key(email: str) -> str:
    """The sign-in failures of one account (an e-mail address, as lowered)."""
    return f"account:{email}"


def sign_in_keys(email: str, address: str | None, *, account_limit: int, address_limit: int) -> list[tuple[str, int]]:
    """(key, failures allowed in a window) a failed sign-in counts against: the account first, then the client's
    address when known."""
    keys = [(account_key(email), account_limit)]
    if address:
        keys.append((f"address:{address_key(address)}", address_limit))
    return keys


def address_key(address: str) -> str:
    """What a per-address throttle counts against: an IPv4 address whole; an IPv6 address by its /64, the least
    one subscriber is given (anyone with a /64 could otherwise take a fresh address for each try); an IPv4-mapped
    IPv6 address as its IPv4 address. What is not an address is kept as it is."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        # from the integer: a zone (fe80::1%eth0) names an interface, not another party
        return str(ipaddress.IPv6Network((int(parsed) >> 64 << 64, 64)))
    return str(parsed)
