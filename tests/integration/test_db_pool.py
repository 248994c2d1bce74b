"""The shared engine's pool: a connection idle for a while is pinged before use and replaced if the database
dropped it; one used a moment ago is not pinged (a round trip saved per transaction), so a drop inside that
window fails one use, after which the pool is fresh again."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared.db import PING_AFTER_IDLE_SECONDS, get_engine

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(identity_config):
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
    with identity_engine.connect() as conn:
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
    time.sleep(0.1)


def test_an_idle_connection_the_database_dropped_is_replaced_before_use(engine, identity_engine):
    first = backend_pid(engine)
    kill(identity_engine, first)
    time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
    assert backend_pid(engine) != first  # pinged, found dead, replaced: the caller saw nothing


def test_a_connection_used_a_moment_ago_is_not_pinged_and_a_drop_costs_one_use(engine, identity_engine):
    first = backend_pid(engine)
    kill(identity_engine, first)
    with pytest.raises(OperationalError):  # used straight away, unpinged: this use fails
        backend_pid(engine)
    assert backend_pid(engine) != first  # the pool was invalidated: the next use has a fresh connection
