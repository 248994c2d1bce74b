"""Login throttling: failures per fixed window, a lockout after too many, and how long it still lasts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity.domain.throttle import ThrottleState, address_key, record_failure, seconds_locked

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
RULES = {"max_failures": 5, "window": 900, "lockout": 600}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def fail(state: ThrottleState | None, seconds: float) -> ThrottleState:
    return record_failure(state, at(seconds), **RULES)


def test_the_first_failure_opens_a_window():
    state = fail(None, 0)
    assert state == ThrottleState(failures=1, window_started_at=T0, locked_until=None)


def test_failures_inside_the_window_add_up_without_locking_before_the_limit():
    state = None
    for second in range(4):
        state = fail(state, second * 60)
    assert state.failures == 4
    assert state.window_started_at == T0
    assert state.locked_until is None
    assert seconds_locked(state, at(181)) == 0


def test_the_window_resets_once_it_has_passed():
    state = None
    for second in range(4):
        state = fail(state, second)
    state = fail(state, 900)  # exactly one window after the first failure: a new window
    assert state.failures == 1
    assert state.window_started_at == at(900)
    assert state.locked_until is None


def test_the_max_failure_locks_for_the_lockout():
    state = None
    for second in range(5):
        state = fail(state, second)
    assert state.failures == 5
    assert state.locked_until == at(4 + 600)
    assert seconds_locked(state, at(4)) == 600
    assert seconds_locked(state, at(4 + 599)) == 1


def test_seconds_locked_is_zero_without_state_or_lock_and_after_the_lock_passes():
    assert seconds_locked(None, T0) == 0
    assert seconds_locked(ThrottleState(2, T0, None), T0) == 0
    locked = ThrottleState(5, T0, at(600))
    assert seconds_locked(locked, at(600)) == 0
    assert seconds_locked(locked, at(601)) == 0


@pytest.mark.parametrize(("remaining", "expected"), [
    (0.2, 1),     # never "try again in 0 seconds" while still locked
    (0.000001, 1),
    (1.0, 1),
    (1.5, 2),     # rounded up: waiting the announced time is always enough
    (599.1, 600),
    (600.0, 600),
])
def test_seconds_locked_rounds_up(remaining, expected):
    state = ThrottleState(5, T0, T0 + timedelta(seconds=remaining))
    assert seconds_locked(state, T0) == expected


def test_seconds_locked_rounds_up_even_a_fraction_of_a_millisecond():
    # Retry-After must be enough: 1.0005 s left is 2 s, else the client retries while still locked.
    state = ThrottleState(5, T0, T0 + timedelta(seconds=1, microseconds=500))
    assert seconds_locked(state, T0) == 2


def test_a_failure_during_the_lockout_never_lifts_it():
    # The fifth failure lands late in the window; a failure recorded by a concurrent request just
    # after the window (its throttle check ran before the lock) must not unlock the account.
    state = None
    for second in (0, 850, 880, 890, 899):
        state = fail(state, second)
    assert state.locked_until == at(899 + 600)
    state = fail(state, 901)
    assert seconds_locked(state, at(901)) > 0
    assert state.locked_until is not None and state.locked_until >= at(899 + 600)


# --- the address a throttle counts against ---------------------------------------------------------------------
@pytest.mark.parametrize("address, key", [
    ("203.0.113.7", "203.0.113.7"),                              # IPv4 stays whole
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),   # IPv6: its /64, what one subscriber gets
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),                       # IPv4-mapped: the IPv4 address
    ("fe80::1%eth0", "fe80::/64"),                                # a zone does not make another key
])
def test_an_address_is_counted_as_what_one_party_holds(address, key):
    assert address_key(address) == key


def test_every_address_of_one_ipv6_64_shares_a_key_and_the_next_64_does_not():
    assert address_key("2001:db8:0:1::1") == address_key("2001:db8:0:1:ffff:ffff:ffff:ffff")
    assert address_key("2001:db8:0:1::1") != address_key("2001:db8:0:2::1")


def test_what_is_not_an_address_is_kept_as_it_is():
    assert address_key("unix-socket") == "unix-socket"
