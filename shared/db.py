"""Engines and sessions: one engine per service database, a unit of work per request or message."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event, types
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.orm import Session, sessionmaker

_engines: dict[str, Engine] = {}


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(types.TypeDecorator):
    """timestamptz that always comes back timezone-aware in UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value, dialect):
        return value.astimezone(UTC) if value is not None else None


# JSONB on PostgreSQL (what every service runs on), plain JSON elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s", "fk": "fk_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata() -> MetaData:
    """A service's own metadata (its own database), with names Alembic can diff and drop."""
    return MetaData(naming_convention=NAMING_CONVENTION)


# A pooled connection used this recently is taken to be alive without a ping (HikariCP's "alive bypass
# window" is 500 ms): a database that went away within it fails one request, and the pool is invalidated.
PING_AFTER_IDLE_SECONDS = 1.0


# A failing statement's error (and its traceback in the log) would carry its bound values: a client's address,
# insurance, notes. SQLAlchemy then writes "[SQL parameters hidden due to hide_parameters=True]" instead; what
# PostgreSQL itself echoes (DETAIL, CONTEXT) is left out of log lines by shared.logs.
HIDE_PARAMETERS = True


def get_engine(url: str, **kwargs) -> Engine:
    engine = _engines.get(url)
    if engine is None:
        # JIT off: our queries are short OLTP statements, where planning JIT code costs more than it saves
        # (seen: 18 ms of JIT on a 57 ms query).
        # LIFO: the connection used last is handed out first, so a busy service keeps reusing warm connections
        # (no ping) and the others go idle; ping_when_idle() then checks only those.
        options = {"pool_size": 10, "max_overflow": 10, "pool_recycle": 1800, "pool_use_lifo": True,
                   "connect_args": {"options": "-c jit=off"}, "hide_parameters": HIDE_PARAMETERS}
        ping_idle = "pool_pre_ping" not in kwargs  # the caller chose: SQLAlchemy's ping per checkout, or none
        options.update(kwargs)
        engine = create_engine(url, **options)
        if ping_idle:
            ping_when_idle(engine)
        _engines[url] = engine
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """pool_pre_ping, but only for a connection that has been idle in the pool for `idle_seconds`: a ping per
    checkout costs a round trip on every transaction of a busy service. A dead one invalidates the pool and
    is replaced by a fresh connection (SQLAlchemy's custom pessimistic ping: a DisconnectionError at checkout)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_connection, record) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, proxy) -> None:
        since = record.info.pop("checked_in_at", None)
        if since is None or time.monotonic() - since < idle_seconds:
            return  # new, or used a moment ago
        try:
            dbapi_connection.execute("SELECT 1")
            dbapi_connection.rollback()  # the ping opened a transaction (psycopg is not in autocommit)
        except Exception as exc:
            # The database went away: every connection pooled before now is suspect, not just this one.
            raise InvalidatePoolError("pooled connection is gone") from exc


def get_read_engine(url: str) -> Engine:
    """For hot single-statement reads: autocommit, no ping, no reset on return, so a read is one round
    trip instead of four (ping, BEGIN, SELECT, ROLLBACK). A connection the database dropped fails one
    request, and SQLAlchemy then invalidates the pool; writes keep the pinging engine."""
    key = url + "#read"
    engine = _engines.get(key)
    if engine is None:
        engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_reset_on_return=None, pool_size=10,
                               max_overflow=10, pool_recycle=1800, connect_args={"options": "-c jit=off"},
                               hide_parameters=HIDE_PARAMETERS)
        _engines[key] = engine
    return engine


def read_session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_read_engine(url), expire_on_commit=False)


def dispose_engines_after_fork() -> None:
    """gunicorn post_fork: the child must not reuse the parent's sockets."""
    for engine in _engines.values():
        engine.dispose(close=False)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
