"""The shared engine's pool: a connection idle for a while is pinged before use and replaced if the database
dropped it; one used a moment ago is not pinged (a round trip saved per transaction), so a drop inside that
window fails one use, after which the pool is fresh again.

The idle window is measured on a clock the test moves (tests.support.clock): "a moment ago" and "a while" are
what each test says, whatever the machine's load."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared.db import PING_AFTER_IDLE_SECONDS, get_engine
from tests.support.clock import ManualClock

pytestmark = pytest.mark.integration


@pytest.fixture
def clock(monkeypatch) -> ManualClock:
    clock = ManualClock()
    monkeypatch.setattr("shared.db.time", clock)  # what ping_when_idle's check-in and check-out read
    return clock


@pytest.fixture
def engine(identity_config, clock):
    # a URL of its own, so the test gets its own pool (engines are cached per URL)
    url = identity_config.database_url + ("&" if "?" in identity_config.database_url else "?") + \
        f"application_name=pooltest-{uuid.uuid4().hex[:8]}"
    engine = get_engine(url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def backend_pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar_one()


def kill(identity_engine, pid: int) -> None:
    """Ends the backend and returns once it has exited (PostgreSQL waits, given a timeout: here only a guard
    against a backend that never goes, which fails the test instead of hanging it)."""
    with identity_engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p, 30000)"), {"p": pid}).scalar_one()


def test_an_idle_connection_the_database_dropped_is_replaced_before_use(engine, identity_engine, clock):
    first = backend_pid(engine)
    kill(identity_engine, first)
    clock.advance(PING_AFTER_IDLE_SECONDS)  # idle in the pool for the whole window
    assert backend_pid(engine) != first  # pinged, found dead, replaced: the caller saw nothing


def test_a_connection_used_a_moment_ago_is_not_pinged_and_a_drop_costs_one_use(engine, identity_engine, clock):
    first = backend_pid(engine)
    kill(identity_engine, first)
    clock.advance(PING_AFTER_IDLE_SECONDS / 2)  # back in use within the window
    with pytest.raises(OperationalError):  # unpinged: this use fails
        backend_pid(engine)
    assert backend_pid(engine) != first  # the pool was invalidated: the next use has a fresh connection
