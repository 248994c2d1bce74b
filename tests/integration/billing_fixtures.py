"""Billing on the run's real database; events handed to the real consumer code; payments faked (STYLE: real
database, fake other services)."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field

import pytest

from services.billing.config import BillingConfig
from services.billing.events import SUBSCRIPTIONS
from services.billing.models import processed_events
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.events import make_event
from tests.integration.conftest import Api
from tests.integration.identity_fake import INTERNAL_KEY, fake_identity
from tests.support.snapshot import TableSnapshot, outbox_payloads

# A runner or service built in this process without settings of its own asks the fake identity too.
os.environ.setdefault("IDENTITY_URL", fake_identity().url)

BILLING_TABLES = ("invoices", "invoice_lines", "ledger_entries", "allocations", "statements", "superbills",
                  "service_codes", "outbox", "autopay_attempts")


@dataclass
class FakePayments:
    """Answers like payments' internal AutoPay endpoint: one charge per idempotency key."""

    outcome: str = "succeeded"
    calls: list[dict] = field(default_factory=list)
    by_key: dict[str, dict] = field(default_factory=dict)

    def autopay_charge(self, *, client_id, amount_cents, currency, idempotency_key):
        self.calls.append({"client_id": client_id, "amount_cents": amount_cents, "key": idempotency_key})
        if idempotency_key not in self.by_key:
            answer = {"id": str(uuid.uuid4()), "status": self.outcome}
            if self.outcome == "failed":
                answer.update(failure_code="card_declined", failure_message="Your card was declined.")
            self.by_key[idempotency_key] = answer
        return self.by_key[idempotency_key]

    def charges(self, client_id: str) -> int:
        return len({c["key"] for c in self.calls if c["client_id"] == client_id})


@pytest.fixture(scope="session")
def billing_config(migrated):
    return BillingConfig(database_url=migrated.database_url("billing"), amqp_url=migrated.amqp_url,
                         internal_api_key=INTERNAL_KEY, identity_url=fake_identity().url, identity_timeout=1.0)


@pytest.fixture(scope="session")
def fake_payments():
    return FakePayments()


@pytest.fixture(scope="session")
def billing_app(billing_config, identity_app, fake_payments):
    from services.billing.app import create_app

    app = create_app(billing_config, payments=fake_payments,
                     verifier=identity_app.extensions["identity"].verifier)
    app.testing = True
    return app


@pytest.fixture(scope="session")
def billing_engine(billing_config):
    return get_engine(billing_config.database_url)


@pytest.fixture(scope="session")
def billing_consumer(billing_config):
    return EventConsumer(service="billing", session_factory=session_factory(billing_config.database_url),
                         processed=processed_events, subscriptions=SUBSCRIPTIONS, amqp_url=billing_config.amqp_url,
                         exchange="unused")


@pytest.fixture
def deliver(billing_consumer):
    """Hands an event to billing's consumer code (the transport is tested in test_events.py)."""

    def send(event_type: str, payload: dict, event=None):
        event = event or make_event(event_type, payload, producer="test")
        return billing_consumer.handle(json.dumps(event.to_dict()).encode())

    return send


@pytest.fixture
def signer(identity_app):
    return identity_app.extensions["identity"].signer


@pytest.fixture
def bstaff(billing_app, signer):
    return Api(billing_app.test_client(), signer.access_token(user_id=str(uuid.uuid4()), role="admin",
                                                              client_id=None, ttl=600, session_id=str(uuid.uuid4())))


@pytest.fixture
def bclient(billing_app, signer, deliver):
    """A client known to billing (through client.created); answers (client_id, Api as that client)."""

    def make(first_name="Avery", last_name="Stone"):
        client_id = str(uuid.uuid4())
        deliver("client.created", {"client_id": client_id, "first_name": first_name, "last_name": last_name,
                                   "email": f"{client_id[:8]}@example.test", "date_of_birth": "1985-05-05"})
        token = signer.access_token(user_id=str(uuid.uuid4()), role="client", client_id=client_id, ttl=600,
                                    session_id=str(uuid.uuid4()))
        return client_id, Api(billing_app.test_client(), token)

    return make


@pytest.fixture(scope="session")
def codes(billing_app):
    """Service codes every billing test can bill with."""
    from services.billing.service import BillingService

    service: BillingService = billing_app.extensions["billing"]
    existing = {c.code for c in service.list_service_codes(True)}
    for code, description, rate in (("90834", "Psychotherapy, 45 minutes", 15000),
                                    ("90837", "Psychotherapy, 60 minutes", 20000),
                                    ("90791", "Psychiatric diagnostic evaluation", 25000)):
        if code not in existing:
            service.create_service_code({"code": code, "description": description, "rate_cents": rate})
    return {"90834": 15000, "90837": 20000, "90791": 25000}


def invoice(bstaff, client_id, *lines, **extra) -> dict:
    body = {"client_id": client_id, "date_of_service": "2026-11-02",
            "lines": [{"service_code": c, "units": u} for c, u in (lines or (("90834", 1),))], **extra}
    response = bstaff.post("/api/v1/staff/invoices", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def paid(deliver, client_id, amount, *invoice_ids, payment_id=None):
    payment_id = payment_id or str(uuid.uuid4())
    deliver("payment.succeeded", {"payment_id": payment_id, "client_id": client_id, "amount_cents": amount,
                                  "currency": "USD", "invoice_ids": list(invoice_ids),
                                  "processor_charge_id": "ch_test", "method": {"brand": "visa", "last4": "4242"}})
    return payment_id




@pytest.fixture
def bsnapshot(billing_engine):
    return lambda: TableSnapshot(billing_engine, BILLING_TABLES)


billing_outbox = outbox_payloads
