"""Waiting until a transaction under test queues for a row lock another connection holds."""

from __future__ import annotations

from sqlalchemy import text

from tests.support.processes import eventually


def lock_waiters(engine) -> int:
    """Sessions of the engine's database waiting for a lock."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND datname = current_database()")).scalar()


def wait_for_lock_waiters(engine, n: int = 1, *, timeout: float = 10, what: str = "request(s)") -> None:
    eventually(lambda: lock_waiters(engine) >= n, timeout=timeout, interval=0.02,
               message=f"{n} {what} waiting for a lock")
