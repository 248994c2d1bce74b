"""What payments consumes (SUBSCRIPTIONS) and publishes (PUBLISHES); the payloads' contracts are in
shared.contracts (docs/events.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.payments import projections
from shared.contracts.billing import BalanceChanged, InvoiceGenerated, PaymentPosted
from shared.contracts.identity import ClientCreated, PracticeSettingsChanged, ProfileUpdated
from shared.contracts.payments import (
    PaymentAttempted,
    PaymentFailed,
    PaymentMethodAdded,
    PaymentMethodDefaultChanged,
    PaymentMethodExpiring,
    PaymentMethodRemoved,
    PaymentRefunded,
    PaymentSucceeded,
)
from shared.events import Event

# What each published type's payload is (built in paying.py, domain/outcomes.py, cards.py, refunds.py and
# migration 0003).
PUBLISHES = {"payment.attempted": PaymentAttempted, "payment.succeeded": PaymentSucceeded,
             "payment.failed": PaymentFailed, "payment.refunded": PaymentRefunded,
             "payment_method.added": PaymentMethodAdded, "payment_method.removed": PaymentMethodRemoved,
             "payment_method.default_changed": PaymentMethodDefaultChanged,
             "payment_method.expiring": PaymentMethodExpiring}


def on_client(session: Session, event: Event[ClientCreated | ProfileUpdated]) -> None:
    projections.upsert_client(session, event.payload)


def on_settings(session: Session, event: Event[PracticeSettingsChanged]) -> None:
    projections.apply_settings(session, event.payload["settings"])


def on_invoice(session: Session, event: Event[InvoiceGenerated]) -> None:
    projections.remember_invoice(session, event.payload)


def on_balance(session: Session, event: Event[BalanceChanged]) -> None:
    projections.apply_balance(session, event.payload)


def on_posted(session: Session, event: Event[PaymentPosted]) -> None:
    projections.mark_posted(session, event.payload)


SUBSCRIPTIONS = {
    "client.created": on_client,
    "profile.updated": on_client,
    "practice.settings_changed": on_settings,
    "invoice.generated": on_invoice,
    "balance.changed": on_balance,
    "payment.posted": on_posted,
}
