"""What payments consumes (SUBSCRIPTIONS) and publishes.

Publishes: payment.attempted, payment.succeeded, payment.failed, payment.refunded, payment_method.added,
payment_method.removed (payloads in projections.py).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.payments import projections
from shared.events import Event


def on_client(session: Session, event: Event) -> None:
    projections.upsert_client(session, event.payload)


def on_settings(session: Session, event: Event) -> None:
    projections.apply_settings(session, event.payload["settings"])


def on_invoice(session: Session, event: Event) -> None:
    projections.remember_invoice(session, event.payload)


def on_balance(session: Session, event: Event) -> None:
    projections.apply_balance(session, event.payload)


def on_posted(session: Session, event: Event) -> None:
    projections.mark_posted(session, event.payload)


SUBSCRIPTIONS = {
    "client.created": on_client,
    "profile.updated": on_client,
    "practice.settings_changed": on_settings,
    "invoice.generated": on_invoice,
    "balance.changed": on_balance,
    "payment.posted": on_posted,
}
