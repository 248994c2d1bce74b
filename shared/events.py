"""The event envelope, the outbox and processed-event tables every service has, and writing to the outbox.

Every event enters the outbox through outbox_row(), which checks it against the catalogue (shared.contracts): an
unknown type or version, another service's event, or a payload its schema refuses raises EventContractError in
the producer's transaction, which then rolls back: a contract bug fails where it is made, not in a consumer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

from shared.contracts import CATALOGUE
from shared.db import new_id
from shared.logs import correlation_id_var, request_id_var

NOTIFY_CHANNEL = "outbox"

P = TypeVar("P")  # the payload's TypedDict (shared.contracts), dict[str, Any] where none is named


@dataclass(frozen=True)
class Event(Generic[P]):
    """The envelope. A handler names its payload's type: `event: Event[PaymentSucceeded]`."""

    id: str
    type: str
    version: int
    occurred_at: str
    producer: str
    correlation_id: str | None
    payload: P = field(default_factory=dict)  # type: ignore[assignment]

    @classmethod
    def from_json(cls, body: bytes | str) -> Event:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("an event is a JSON object")
        missing = {"id", "type", "version", "occurred_at", "producer", "payload"} - data.keys()
        if missing:
            raise ValueError(f"event misses {sorted(missing)}")
        return cls(id=str(data["id"]), type=str(data["type"]), version=int(data["version"]),
                   occurred_at=str(data["occurred_at"]), producer=str(data["producer"]),
                   correlation_id=data.get("correlation_id"), payload=dict(data["payload"]))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "version": self.version, "occurred_at": self.occurred_at,
                "producer": self.producer, "correlation_id": self.correlation_id, "payload": self.payload}


def make_event(event_type: str, payload: dict[str, Any], *, producer: str, version: int = 1,
               correlation_id: str | None = None) -> Event:
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return Event(id=new_id(), type=event_type, version=version, occurred_at=now, producer=producer,
                 correlation_id=correlation_id or correlation_id_var.get() or request_id_var.get(),
                 payload=payload)


def define_event_tables(metadata: MetaData, *, outbox_name: str = "outbox",
                        processed_name: str = "processed_events") -> tuple[Table, Table]:
    """The outbox and the processed-event table, in the service's own metadata (other names: a test's own
    tables beside a service's)."""
    outbox = Table(
        outbox_name, metadata,
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("id", String(36), nullable=False, unique=True),
        Column("event_type", String(100), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("headers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Index(f"ix_{outbox_name}_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
    )
    processed = Table(
        processed_name, metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(100), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return outbox, processed


def outbox_row(event: Event) -> dict[str, Any]:
    """The event's outbox row, once the catalogue allows it (EventContractError otherwise)."""
    CATALOGUE.check_outgoing(event.type, event.version, event.producer, event.payload)
    headers = {"request_id": request_id_var.get(), "correlation_id": event.correlation_id}
    return {"id": event.id, "event_type": event.type, "envelope": event.to_dict(),
            "headers": {k: v for k, v in headers.items() if v}}


def record_event(session: Session, outbox: Table, event: Event, *, along: Executable | None = None) -> Event:
    """Adds the event to the caller's transaction: it is published only if that transaction commits.

    `along`: the INSERT, UPDATE or DELETE the event announces, sent in the same statement (a data-modifying
    WITH), so the change and its event cost one round trip. On a hot path, build that statement once with
    `announcing()` instead."""
    stmt = insert(outbox)
    if along is not None:
        stmt = stmt.add_cte(along.cte("announced"))
    # Parameters, not .values(): one cached statement, not a new one built and compiled per event.
    session.execute(stmt, outbox_row(event))
    return event


def announcing(outbox: Table, change: Executable) -> Insert:
    """An event's INSERT with the change it announces (an INSERT, UPDATE or DELETE written with bindparams whose
    names are not outbox columns), as one statement to build once, at import: SQLAlchemy then neither builds
    nor compiles it per event. Execute it with `{**outbox_row(event), **the change's parameters}`."""
    return insert(outbox).add_cte(change.cte("announced"))


def event_if_any(outbox: Table, rows) -> Insert:
    """An INSERT of an event if `rows` (a CTE of a data-modifying statement's RETURNING) has a row: the event
    is recorded only if the change it announces happened, in the statement that makes the change. Built
    once; the event comes as parameters: `event_params(event)`."""
    columns = ("id", "event_type", "envelope", "headers")
    return insert(outbox).from_select(
        list(columns), select(*(bindparam(f"event_{name}", type_=outbox.c[name].type) for name in columns))
        .select_from(rows).limit(1))


def event_params(event: Event) -> dict[str, Any]:
    """The parameters of an `event_if_any()` statement for this event."""
    return {f"event_{name}": value for name, value in outbox_row(event).items()}


# DDL for migrations: the trigger wakes the relay at commit, so events leave without polling delay.
NOTIFY_TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""
DROP_NOTIFY_TRIGGER_SQL = "DROP TRIGGER IF EXISTS outbox_notify ON outbox; DROP FUNCTION IF EXISTS outbox_notify();"
