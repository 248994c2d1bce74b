"""What billing consumes (SUBSCRIPTIONS) and publishes (PUBLISHES); the payloads' contracts are in
shared.contracts (docs/events.md)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.billing.usecases import autopay, postings, projections
from shared.contracts.billing import (
    AutopayChanged,
    AutopayChargeFailed,
    AutopayDisabled,
    BalanceChanged,
    InvoiceGenerated,
    InvoicePaid,
    PaymentPosted,
)
from shared.contracts.identity import ClientCreated, PracticeSettingsChanged, ProfileUpdated
from shared.contracts.payments import PaymentFailed, PaymentMethodDefaultChanged, PaymentRefunded, PaymentSucceeded
from shared.contracts.scheduling import AppointmentCompleted
from shared.events import Event

# What each published type's payload is (built in ledger.py and usecases/: invoices.py, postings.py, autopay.py).
PUBLISHES = {"invoice.generated": InvoiceGenerated, "invoice.paid": InvoicePaid, "payment.posted": PaymentPosted,
             "balance.changed": BalanceChanged, "autopay.changed": AutopayChanged, "autopay.disabled": AutopayDisabled,
             "autopay.charge_failed": AutopayChargeFailed}


def on_client(session: Session, event: Event[ClientCreated | ProfileUpdated]) -> None:
    projections.upsert_client(session, event.payload)


def on_settings(session: Session, event: Event[PracticeSettingsChanged]) -> None:
    projections.apply_settings(session, event.payload["settings"])


def on_default_card(session: Session, event: Event[PaymentMethodDefaultChanged]) -> None:
    projections.set_default_payment_method(session, event.payload)


def on_appointment_completed(session: Session, event: Event[AppointmentCompleted]) -> None:
    projections.record_completed_session(session, event.payload)


def on_payment_succeeded(session: Session, event: Event[PaymentSucceeded]) -> None:
    postings.post_payment(session, event.payload)


def on_payment_refunded(session: Session, event: Event[PaymentRefunded]) -> None:
    postings.post_refund(session, event.payload)


def on_payment_failed(session: Session, event: Event[PaymentFailed]) -> None:
    autopay.settle_failed_charge(session, event.payload)


SUBSCRIPTIONS = {
    "client.created": on_client,
    "profile.updated": on_client,
    "practice.settings_changed": on_settings,
    "appointment.completed": on_appointment_completed,
    "payment.succeeded": on_payment_succeeded,
    "payment.refunded": on_payment_refunded,
    "payment.failed": on_payment_failed,
    "payment_method.default_changed": on_default_card,
}
