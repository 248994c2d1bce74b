"""Every service's copy of identity's client directory (client.created, profile.updated) and of the practice's
settings (practice.settings_changed): one projection, parameterised by the service's own model and the fields it
keeps. Event handlers, run inside the consumer's transaction.

The columns come as declarative mixins: PracticeColumns (the settings every service keeps: billing's and payments'
practice rows), PracticeSettingsColumns and ClientDirectoryColumns (every field, for a new service's own tables).
Billing and payments keep their clients on their account rows, beside columns of their own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, Integer, String, func
from sqlalchemy.orm import Mapped, Session, mapped_column

from shared.contracts.identity import DirectoryPayload, SettingsPayload
from shared.db import Json, UTCDateTime

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


class PracticeColumns:
    """The practice settings every service keeps, as columns of its practice row (a declarative mixin: `class
    Practice(PracticeColumns, Base): __tablename__ = "practice"`, plus the settings and columns of its own)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    practice_name: Mapped[str] = mapped_column(String(200), default="Your Practice")
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    phone: Mapped[str | None] = mapped_column(String(32))
    address: Mapped[dict] = mapped_column(Json, default=dict)
    online_payments_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class PracticeSettingsColumns(PracticeColumns):
    """Every practice setting (SETTINGS_FIELDS), for a new service's practice row."""

    email: Mapped[str | None] = mapped_column(String(254))
    self_scheduling_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    billing_documents_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    autopay_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class ClientDirectoryColumns:
    """Every directory field (DIRECTORY_FIELDS), for a new service's table of clients (a declarative mixin:
    `class Client(ClientDirectoryColumns, Base): __tablename__ = "clients"`)."""

    client_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
