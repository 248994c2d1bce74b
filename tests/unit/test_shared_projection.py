"""shared.directory: the client directory and practice settings every service keeps, on a fake session."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest

from shared.directory import (
    ClientDirectory,
    ClientDirectoryColumns,
    PracticeProjection,
    PracticeSettingsColumns,
)


@dataclass
class Row:
    client_id: str | None = None
    id: int | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    preferred_name: str | None = None
    date_of_birth: date | None = None
    autopay_enabled: bool | None = None
    address: dict = field(default_factory=dict)
    currency: str = "USD"
    phone: str | None = None


class FakeSession:
    def __init__(self):
        self.rows: dict = {}
        self.locks: list = []
        self.flushed = 0

    def get(self, model, key, with_for_update=False):
        if with_for_update:
            self.locks.append(key)
        return self.rows.get(key)

    def add(self, row):
        self.rows[row.client_id if row.client_id is not None else row.id] = row

    def flush(self):
        self.flushed += 1


def test_a_new_client_gets_the_services_defaults_and_only_the_fields_it_keeps():
    session = FakeSession()
    clients = ClientDirectory(Row, fields=("first_name", "last_name", "email"), new={"autopay_enabled": False})
    clients.upsert(session, {"client_id": "c1", "first_name": "Avery", "last_name": "Stone", "email": None,
                             "preferred_name": "Ave", "date_of_birth": "1985-05-05"})
    row = session.rows["c1"]
    assert (row.first_name, row.last_name, row.email, row.autopay_enabled) == ("Avery", "Stone", None, False)
    assert row.preferred_name is None and row.date_of_birth is None  # not kept by this service
    assert session.locks == ["c1"]  # read FOR UPDATE, as every write to the row


def test_an_update_changes_what_it_carries_and_a_missing_birth_date_keeps_the_one_known():
    session = FakeSession()
    clients = ClientDirectory(Row, fields=("first_name", "last_name", "preferred_name", "email", "date_of_birth"))
    clients.upsert(session, {"client_id": "c1", "first_name": "Avery", "last_name": "Stone", "email": "a@x.test",
                             "date_of_birth": "1985-05-05"})
    clients.upsert(session, {"client_id": "c1", "first_name": "Ave", "last_name": "Stone", "email": "b@x.test",
                             "date_of_birth": ""})
    row = session.rows["c1"]
    assert (row.first_name, row.email, row.date_of_birth) == ("Ave", "b@x.test", date(1985, 5, 5))


def test_practice_settings_apply_the_members_present_with_the_address_copied():
    session = FakeSession()
    practice = PracticeProjection(Row, fields=("currency", "phone", "address"))
    address = {"city": "Portland"}
    practice.apply(session, {"currency": "CAD", "address": address, "autopay_enabled": True})
    row = session.rows[1]
    assert (row.currency, row.phone, row.address) == ("CAD", None, {"city": "Portland"})
    assert row.address is not address and row.autopay_enabled is None  # a copy; a field not kept is not set
    practice.apply(session, {"address": None})
    assert row.address == {} and session.flushed == 1  # the row made once


def test_unknown_fields_are_refused_when_the_projection_is_made():
    with pytest.raises(ValueError):
        ClientDirectory(Row, fields=("first_name", "balance_cents"))
    with pytest.raises(ValueError):
        PracticeProjection(Row, fields=("npi",))


def test_the_ready_columns_hold_every_field_the_projections_can_keep():
    from sqlalchemy.orm import DeclarativeBase

    from shared.directory import DIRECTORY_FIELDS, SETTINGS_FIELDS

    class Base(DeclarativeBase):
        pass

    class Client(ClientDirectoryColumns, Base):
        __tablename__ = "clients"

    class Practice(PracticeSettingsColumns, Base):
        __tablename__ = "practice"

    assert set(DIRECTORY_FIELDS) | {"client_id"} <= set(Client.__table__.c.keys())
    assert set(SETTINGS_FIELDS) | {"id"} <= set(Practice.__table__.c.keys())
    ClientDirectory(Client, fields=DIRECTORY_FIELDS)  # a new service keeps every field
    PracticeProjection(Practice, fields=SETTINGS_FIELDS)
