"""What messaging consumes (SUBSCRIPTIONS: nearly every event, most of them for the bell) and publishes
(PUBLISHES); the payloads' contracts are in shared.contracts (docs/events.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.messaging.usecases import mails, projections
from services.messaging.usecases.notifications import notify
from shared.contracts.messaging import MessageSent
from shared.db import utcnow
from shared.events import Event

PUBLISHES = {"message.sent": MessageSent}


def on_notice(session: Session, event: Event) -> None:
    """Events that only become notices (and the mails the table names)."""
    notify(session, event)


def on_client(session: Session, event: Event) -> None:
    notify(session, event)  # before the copy changes: profile.updated names the client as staff knew them
    projections.upsert_client(session, event.payload)


def on_settings(session: Session, event: Event) -> None:
    projections.apply_settings(session, event.payload["settings"])


def on_staff_user(session: Session, event: Event) -> None:
    projections.upsert_staff(session, event.payload)


def on_card_added(session: Session, event: Event) -> None:
    projections.card_added(session, event.payload)
    notify(session, event)


def on_card_removed(session: Session, event: Event) -> None:
    notify(session, event)  # first: whether it was AutoPay's card is read from the copy before the removal
    projections.card_removed(session, event.payload)


def on_default_card(session: Session, event: Event) -> None:
    projections.default_changed(session, event.payload)


def on_autopay_changed(session: Session, event: Event) -> None:
    projections.autopay(session, event.payload["client_id"], bool(event.payload["enabled"]))
    notify(session, event)


def on_autopay_disabled(session: Session, event: Event) -> None:
    projections.autopay(session, event.payload["client_id"], False)
    notify(session, event)


def on_message_sent(session: Session, event: Event) -> None:
    mails.message_mail(session, utcnow(), event)


SUBSCRIPTIONS = {
    "client.created": on_client,
    "client.invited": on_notice,  # nothing visible: identity mails the link itself
    "client.registered": on_notice,
    "profile.updated": on_client,
    "practice.settings_changed": on_settings,
    "staff_user.changed": on_staff_user,
    "appointment.requested": on_notice,
    "appointment.approved": on_notice,
    "appointment.denied": on_notice,
    "appointment.booked": on_notice,
    "appointment.confirmed": on_notice,
    "appointment.cancelled": on_notice,
    "appointment.reminder_due": on_notice,
    "message.sent": on_message_sent,
    "document.shared": on_notice,
    "form.assigned": on_notice,
    "form.submitted": on_notice,
    "invoice.generated": on_notice,
    "invoice.paid": on_notice,
    "payment.attempted": on_notice,
    "payment.succeeded": on_notice,
    "payment.failed": on_notice,
    "payment.refunded": on_notice,
    "payment_method.added": on_card_added,
    "payment_method.removed": on_card_removed,
    "payment_method.default_changed": on_default_card,
    "payment_method.expiring": on_notice,
    "autopay.changed": on_autopay_changed,
    "autopay.charge_failed": on_notice,
    "autopay.disabled": on_autopay_disabled,
}
