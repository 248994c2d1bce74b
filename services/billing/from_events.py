"""Billing's copies of other services' facts, from their events inside the consumer's transaction: the clients,
the practice's settings, each client's default card, and completed sessions to bill (payments and refunds are
posted in postings.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from services.billing import ledger
from services.billing.models import Account, BillableSession
from services.billing.service import PRACTICE_FIELDS


def upsert_client(session: Session, payload: dict) -> None:
    account = session.get(Account, payload["client_id"], with_for_update=True)
    if account is None:
        account = Account(client_id=payload["client_id"], autopay_enabled=False, autopay_failures=0)
        session.add(account)
    for name in ("first_name", "last_name", "preferred_name", "email"):
        if name in payload:
            setattr(account, name, payload[name])
    if payload.get("date_of_birth"):
        account.date_of_birth = date.fromisoformat(payload["date_of_birth"])


def set_default_payment_method(session: Session, payload: dict) -> None:
    account = ledger.lock_account(session, payload["client_id"], from_event=True)
    account.default_payment_method_id = payload.get("payment_method_id")


def apply_settings(session: Session, settings: dict) -> None:
    row = ledger.practice(session)
    for name in PRACTICE_FIELDS:
        if name in settings:
            setattr(row, name, dict(settings[name] or {}) if name == "address" else settings[name])


def record_completed_session(session: Session, payload: dict) -> None:
    ledger.lock_account(session, payload["client_id"], from_event=True)
    if session.get(BillableSession, payload["appointment_id"]) is None:
        session.add(BillableSession(
            appointment_id=payload["appointment_id"], client_id=payload["client_id"],
            clinician_id=payload.get("clinician_id"), appointment_type=payload.get("type"),
            start=datetime.fromisoformat(payload["start"]),
            end=datetime.fromisoformat(payload["end"]) if payload.get("end") else None))
