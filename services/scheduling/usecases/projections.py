"""Scheduling's copies of identity's facts, from its events inside the consumer's transaction: the clients (names
for staff's calendar) and the practice's settings (self-scheduling, time zone, name)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.scheduling.models import Client, Practice
from shared.directory import DIRECTORY_FIELDS, SETTINGS_FIELDS, ClientDirectory, PracticeProjection

CLIENTS = ClientDirectory(Client, fields=DIRECTORY_FIELDS)
PRACTICE = PracticeProjection(Practice, fields=SETTINGS_FIELDS)


def upsert_client(session: Session, payload: dict) -> None:
    CLIENTS.upsert(session, payload)


def apply_settings(session: Session, settings: dict) -> None:
    PRACTICE.apply(session, settings)
