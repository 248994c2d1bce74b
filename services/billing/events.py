"""What billing consumes (SUBSCRIPTIONS) and publishes.

Publishes: invoice.generated, invoice.paid, payment.posted, balance.changed, autopay.changed, autopay.disabled.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.billing import from_events, postings
from shared.events import Event


def on_client(session: Session, event: Event) -> None:
    from_events.upsert_client(session, event.payload)


def on_settings(session: Session, event: Event) -> None:
    from_events.apply_settings(session, event.payload["settings"])


def on_default_card(session: Session, event: Event) -> None:
    from_events.set_default_payment_method(session, event.payload)


def on_appointment_completed(session: Session, event: Event) -> None:
    from_events.record_completed_session(session, event.payload)


def on_payment_succeeded(session: Session, event: Event) -> None:
    postings.post_payment(session, event.payload)


def on_payment_refunded(session: Session, event: Event) -> None:
    postings.post_refund(session, event.payload)


SUBSCRIPTIONS = {
    "client.created": on_client,
    "profile.updated": on_client,
    "practice.settings_changed": on_settings,
    "appointment.completed": on_appointment_completed,
    "payment.succeeded": on_payment_succeeded,
    "payment.refunded": on_payment_refunded,
    "payment_method.default_changed": on_default_card,
}
