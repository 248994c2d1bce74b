"""Payments on the run's real database against the real sandbox processor (gunicorn, real HTTP)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
import requests

from services.payments.config import PaymentsConfig
from services.payments.events import SUBSCRIPTIONS
from services.payments.models import processed_events
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.events import make_event
from tests.integration.conftest import Api
from tests.integration.identity_fake import INTERNAL_KEY, fake_identity
from tests.support.processes import Process, free_port, gunicorn, wait_http
from tests.support.snapshot import TableSnapshot, outbox_payloads

SANDBOX_KEY = "sk_test_itest"
NEXT_YEAR = datetime.now(UTC).year + 1
CARDS = {"visa": "4242424242424242", "mastercard": "5555555555554444", "declined": "4000000000000002",
         "insufficient": "4000000000009995", "expired": "4000000000000069", "cvc": "4000000000000127",
         "error": "4000000000000119", "slow": "4000000000003220"}


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    base = tmp_path_factory.mktemp("sandbox")
    port = free_port()
    process = Process("sandbox", gunicorn("services.payments.sandbox.app:create_app()", port), {
        "SANDBOX_API_KEY": SANDBOX_KEY, "SANDBOX_SLOW_SECONDS": "2", "PORTAL_ENV": "test",
        "SANDBOX_DATABASE_PATH": str(base / "sandbox.sqlite3"), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "16"},
        base).start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", process)
        yield url, process
    finally:
        process.stop()


def tokenize(sandbox_url: str, card: str = "visa", *, exp_year: int = NEXT_YEAR, cvc: str = "123") -> str:
    """What the browser does: the card goes to the processor, our API only ever sees the token."""
    response = requests.post(f"{sandbox_url}/v1/tokens", json={
        "card_number": CARDS.get(card, card), "exp_month": 12, "exp_year": exp_year, "cvc": cvc,
        "cardholder_name": "Avery Stone", "postal_code": "21204"}, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()["token"]


@pytest.fixture(scope="session")
def payments_config(migrated, sandbox):
    return PaymentsConfig(database_url=migrated.database_url("payments"), amqp_url=migrated.amqp_url,
                          processor_url=sandbox[0], processor_api_key=SANDBOX_KEY, processor_read_timeout=1.0,
                          reconcile_after_seconds=0, idempotency_wait_seconds=15, internal_api_key=INTERNAL_KEY,
                          identity_url=fake_identity().url, identity_timeout=1.0)


@pytest.fixture(scope="session")
def payments_app(payments_config, identity_app):
    from services.payments.app import create_app

    app = create_app(payments_config, verifier=identity_app.extensions["identity"].verifier)
    app.testing = True
    return app


@pytest.fixture(scope="session")
def payments_engine(payments_config):
    return get_engine(payments_config.database_url)


@pytest.fixture(scope="session")
def payments_consumer(payments_config):
    return EventConsumer(service="payments", session_factory=session_factory(payments_config.database_url),
                         processed=processed_events, subscriptions=SUBSCRIPTIONS,
                         amqp_url=payments_config.amqp_url, exchange="unused")


@pytest.fixture
def pdeliver(payments_consumer):
    def send(event_type: str, payload: dict):
        event = make_event(event_type, payload, producer="test")
        return payments_consumer.handle(json.dumps(event.to_dict()).encode())

    return send


@pytest.fixture(scope="session", autouse=False)
def online_payments(payments_consumer):
    event = make_event("practice.settings_changed", {"settings": {
        "practice_name": "Harbor Counseling", "currency": "USD", "timezone": "America/New_York",
        "online_payments_enabled": True}}, producer="test")
    payments_consumer.handle(json.dumps(event.to_dict()).encode())


@pytest.fixture
def payer(payments_app, signer, pdeliver, online_payments):
    """A client known to payments with a balance (and open invoices) as billing would announce them."""

    def make(balance_cents: int = 10000, invoices: list[int] | None = None):
        client_id = str(uuid.uuid4())
        pdeliver("client.created", {"client_id": client_id, "first_name": "Avery", "last_name": "Stone",
                                    "email": f"{client_id[:8]}@example.test"})
        open_invoices = [{"invoice_id": str(uuid.uuid4()), "balance_cents": b} for b in (invoices or [balance_cents])]
        for number, inv in enumerate(open_invoices, start=1):
            pdeliver("invoice.generated", {"invoice_id": inv["invoice_id"], "client_id": client_id,
                                           "number": 900000 + number, "total_cents": inv["balance_cents"],
                                           "currency": "USD", "due_date": "2026-12-01"})
        pdeliver("balance.changed", {"client_id": client_id, "balance_cents": balance_cents, "currency": "USD",
                                     "ledger_seq": 10, "open_invoices": open_invoices})
        token = signer.access_token(user_id=str(uuid.uuid4()), role="client", client_id=client_id, ttl=600,
                                    session_id=str(uuid.uuid4()))
        return client_id, Api(payments_app.test_client(), token), [i["invoice_id"] for i in open_invoices]

    return make


@pytest.fixture
def pstaff(payments_app, signer):
    return Api(payments_app.test_client(), signer.access_token(user_id=str(uuid.uuid4()), role="staff",
                                                               client_id=None, ttl=600, session_id=str(uuid.uuid4())))


def pay(api: Api, body: dict, key: str | None = None):
    return api.post("/api/v1/portal/payments", json=body, headers={"Idempotency-Key": key or uuid.uuid4().hex})




@pytest.fixture
def psnapshot(payments_engine):
    return lambda: TableSnapshot(payments_engine, ("payments", "payment_methods", "refunds", "idempotency_keys",
                                                   "outbox"))


payments_outbox = outbox_payloads
