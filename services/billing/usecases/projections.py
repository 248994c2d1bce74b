"""Billing's copies of other services' facts, from their events inside the consumer's transaction: the clients,
the practice's settings, each client's default card, and completed sessions to bill (payments and refunds are
posted in postings.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.billing import ledger
from services.billing.models import Account, BillableSession, Practice
from services.billing.usecases.practice import PRACTICE_FIELDS
from shared.directory import ClientDirectory, PracticeProjection

# The directory on billing's accounts (names and birth date for statements and superbills); a new account starts
# with AutoPay off.
CLIENTS = ClientDirectory(Account, fields=("first_name", "last_name", "preferred_name", "email", "date_of_birth"),
                          new={"autopay_enabled": False, "autopay_failures": 0})
PRACTICE = PracticeProjection(Practice, fields=PRACTICE_FIELDS)


def upsert_client(session: Session, payload: dict) -> None:
    CLIENTS.upsert(session, payload)


def set_default_payment_method(session: Session, payload: dict) -> None:
    account = ledger.lock_account(session, payload["client_id"], from_event=True)
    account.default_payment_method_id = payload.get("payment_method_id")


def apply_settings(session: Session, settings: dict) -> None:
    PRACTICE.apply(session, settings)


def record_completed_session(session: Session, payload: dict) -> None:
    ledger.lock_account(session, payload["client_id"], from_event=True)
    if session.get(BillableSession, payload["appointment_id"]) is None:
        session.add(BillableSession(
            appointment_id=payload["appointment_id"], client_id=payload["client_id"],
            clinician_id=payload.get("clinician_id"), appointment_type=payload.get("type"),
            service_code=payload.get("service_code"), outcome=payload.get("outcome") or "completed",
            fee=bool(payload.get("fee")),
            start=datetime.fromisoformat(payload["start"]),
            end=datetime.fromisoformat(payload["end"]) if payload.get("end") else None))
