"""Every service's copy of identity's client directory (client.created, profile.updated) and of the practice's
settings (practice.settings_changed): one projection, parameterised by the service's own model and the fields it
keeps. Event handlers, run inside the consumer's transaction.

A service that keeps nothing else on these rows puts the ready tables in its own metadata
(`define_directory_tables`) and maps them; billing and payments keep their copies on rows of their own (billing's
and payments' accounts, their practice rows), named by their models."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from shared.contracts.identity import DirectoryPayload, SettingsPayload

DIRECTORY_FIELDS = ("first_name", "last_name", "preferred_name", "email", "date_of_birth")
SETTINGS_FIELDS = ("practice_name", "self_scheduling_enabled", "online_payments_enabled", "billing_documents_enabled",
                   "autopay_enabled", "currency", "timezone", "phone", "email", "address")
# Members kept as a JSON object: the row holds its own copy, not the event's.
_OBJECTS = frozenset({"address"})
# Members read from their ISO text; an empty or missing one leaves the row's value as it is.
_DATES: dict[str, Callable[[str], Any]] = {"date_of_birth": date.fromisoformat}


class ClientDirectory:
    """A service's client directory: one row per client, keyed by `client_id`, in `model` (a mapped class).

    `fields`: the directory fields the service keeps (a subset of DIRECTORY_FIELDS); `new`: the values a row the
    projection creates starts with besides its key (the service's own columns' defaults)."""

    def __init__(self, model: type, *, fields: tuple[str, ...], new: Mapping[str, Any] | None = None):
        unknown = set(fields) - set(DIRECTORY_FIELDS)
        if unknown:
            raise ValueError(f"not directory fields: {sorted(unknown)}")
        self.model = model
        self.fields = tuple(f for f in fields if f not in _DATES)
        self.dates = tuple(f for f in fields if f in _DATES)
        self.new = dict(new or {})

    def upsert(self, session: Session, payload: DirectoryPayload) -> Any:
        """client.created, profile.updated: the client's row, locked (FOR UPDATE, as each of the service's writes
        to it), created if new, with the fields the event carries."""
        row = session.get(self.model, payload["client_id"], with_for_update=True)
        if row is None:
            row = self.model(client_id=payload["client_id"], **self.new)
            session.add(row)
        for name in self.fields:
            if name in payload:
                setattr(row, name, payload[name])
        for name in self.dates:
            if payload.get(name):
                setattr(row, name, _DATES[name](payload[name]))
        return row


def practice_row(session: Session, model: type) -> Any:
    """The practice's settings row (id 1) of `model`, created with the model's defaults before the first settings
    arrive: a service reads its defaults then (currency, time zone, every switch as the model says)."""
    row = session.get(model, 1)
    if row is None:
        row = model(id=1, address={})
        session.add(row)
        session.flush()
    return row


class PracticeProjection:
    """A service's copy of the practice's settings: the single row (id 1) of `model`, with the `fields` it keeps
    (a subset of SETTINGS_FIELDS)."""

    def __init__(self, model: type, *, fields: tuple[str, ...]):
        unknown = set(fields) - set(SETTINGS_FIELDS)
        if unknown:
            raise ValueError(f"not practice settings: {sorted(unknown)}")
        self.model = model
        self.fields = tuple(fields)

    def row(self, session: Session) -> Any:
        return practice_row(session, self.model)

    def apply(self, session: Session, settings: SettingsPayload) -> Any:
        """practice.settings_changed: the members the event carries (identity sends them all)."""
        row = self.row(session)
        for name in self.fields:
            if name in settings:
                value = settings[name]  # type: ignore[literal-required]
                setattr(row, name, dict(value or {}) if name in _OBJECTS else value)
        return row


def define_directory_tables(metadata: MetaData, *, clients_name: str = "clients",
                            practice_name: str = "practice") -> tuple[Table, Table]:
    """The client directory and the practice settings tables, every field, in a service's own metadata (its
    migration creates them); map them to classes for ClientDirectory and PracticeProjection:
    `class Client(Base): __table__ = clients`."""
    clients = Table(
        clients_name, metadata,
        Column("client_id", String(36), primary_key=True),
        Column("first_name", String(100), nullable=False),
        Column("last_name", String(100), nullable=False),
        Column("preferred_name", String(100)),
        Column("email", String(254)),
        Column("date_of_birth", Date),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    practice = Table(
        practice_name, metadata,
        Column("id", Integer, primary_key=True, default=1),
        Column("practice_name", String(200), nullable=False, default="Your Practice"),
        Column("self_scheduling_enabled", Boolean, nullable=False, default=False),
        Column("online_payments_enabled", Boolean, nullable=False, default=False),
        Column("billing_documents_enabled", Boolean, nullable=False, default=True),
        Column("autopay_enabled", Boolean, nullable=False, default=False),
        Column("currency", String(3), nullable=False, default="USD"),
        Column("timezone", String(64), nullable=False, default="America/New_York"),
        Column("phone", String(32)),
        Column("email", String(254)),
        Column("address", JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")),
    )
    return clients, practice
