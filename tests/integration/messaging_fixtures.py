"""Messaging on the run's real database, on a clock the test sets; the other services' events handed to the real
consumer code, and its mail sent to a real SMTP server on this machine (aiosmtpd, writing .eml files)."""

from __future__ import annotations

import email
import email.policy
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import text

from services.messaging.config import MessagingConfig
from services.messaging.events import SUBSCRIPTIONS
from services.messaging.models import processed_events
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.events import make_event
from shared.smtp_sink import EmlWriter
from tests.integration.conftest import Api
from tests.integration.identity_fake import INTERNAL_KEY
from tests.integration.scheduling_fixtures import DEFAULT_NOW, TestClock
from tests.support.processes import free_port
from tests.support.snapshot import TableSnapshot

MESSAGING_TABLES = ("threads", "messages", "attachments", "attachment_chunks", "notifications", "mails", "outbox",
                    "practice", "cards")
PRACTICE_EMAIL = "frontdesk@harbor.example.test"
SETTINGS = {"practice_name": "Harbor Counseling", "self_scheduling_enabled": True, "online_payments_enabled": True,
            "billing_documents_enabled": True, "autopay_enabled": True, "currency": "USD",
            "timezone": "America/New_York", "phone": "+1 207 555 0100", "email": PRACTICE_EMAIL, "address": {}}


class Mailbox:
    """The .eml files the SMTP server received."""

    def __init__(self, directory: Path):
        self.directory = directory

    def to(self, address: str) -> list[email.message.EmailMessage]:
        found = []
        for path in sorted(self.directory.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                found.append(message)
        return found


@pytest.fixture(scope="session")
def mail_sink(tmp_path_factory):
    directory = tmp_path_factory.mktemp("messaging-mail")
    port = free_port()
    controller = Controller(EmlWriter(directory), hostname="127.0.0.1", port=port)
    controller.start()
    box = Mailbox(directory)
    box.port = port
    yield box
    controller.stop()


@pytest.fixture(scope="session")
def messaging_config(migrated, mail_sink):
    return MessagingConfig(database_url=migrated.database_url("messaging"), amqp_url=migrated.amqp_url,
                           internal_api_key=INTERNAL_KEY, smtp_host="127.0.0.1", smtp_port=mail_sink.port,
                           portal_base_url="https://portal.harbor.example.test")


@pytest.fixture(scope="session")
def mclock():
    return TestClock()


@pytest.fixture(scope="session")
def messaging_app(messaging_config, identity_app, mclock):
    from services.messaging.app import create_app

    app = create_app(messaging_config, verifier=identity_app.extensions["identity"].verifier, clock=mclock)
    app.testing = True
    return app


@pytest.fixture(scope="session")
def messaging_service(messaging_app):
    return messaging_app.extensions["messaging"]


@pytest.fixture(scope="session")
def messaging_engine(messaging_config):
    return get_engine(messaging_config.database_url)


@pytest.fixture(scope="session")
def messaging_consumer(messaging_config):
    return EventConsumer(service="messaging", session_factory=session_factory(messaging_config.database_url),
                         processed=processed_events, subscriptions=SUBSCRIPTIONS,
                         amqp_url=messaging_config.amqp_url, exchange="unused")


@pytest.fixture
def mdeliver(messaging_consumer):
    """Hands an event to messaging's consumer as the broker would; answers the event (its id is the key of the
    notices it makes). `event=` redelivers that same event."""

    def send(event_type: str | None = None, payload: dict | None = None, *, event=None):
        event = event or make_event(event_type, payload, producer="test")
        messaging_consumer.handle(json.dumps(event.to_dict()).encode())
        return event

    return send


@pytest.fixture
def mrelay(messaging_engine, messaging_consumer):
    """What the relay and the broker do for messaging's own outbox: its unpublished events (message.sent) handed to
    its consumer, in order; answers how many."""

    def relay() -> int:
        with messaging_engine.begin() as conn:
            rows = conn.execute(text("SELECT seq, envelope FROM outbox WHERE published_at IS NULL ORDER BY seq "
                                     "FOR UPDATE")).all()
            for row in rows:
                messaging_consumer.handle(json.dumps(row.envelope).encode())
            conn.execute(text("UPDATE outbox SET published_at = now() WHERE seq = ANY(:s)"),
                         {"s": [r.seq for r in rows]})
        return len(rows)

    return relay


@pytest.fixture
def mpractice(mdeliver, mclock, messaging_service):
    """The practice (name, e-mail, its clock), the default e-mail delay, and the clock at DEFAULT_NOW."""
    mdeliver("practice.settings_changed", {"settings": SETTINGS, "changed_fields": []})
    mclock.at(DEFAULT_NOW)
    messaging_service.policy.update({"client_email_delay_minutes": 10})
    yield messaging_service
    messaging_service.policy.update({"client_email_delay_minutes": 10})
    mclock.at(DEFAULT_NOW)


@dataclass
class Person:
    id: str
    email: str
    api: Api
    name: str = ""


@pytest.fixture
def mclient(messaging_app, signer, mdeliver, mpractice):
    """A client known to messaging (client.created); answers a Person with their Api."""

    def make(first_name="Avery", last_name="Stone") -> Person:
        client_id = str(uuid.uuid4())
        address = f"{client_id[:8]}@example.test"
        mdeliver("client.created", {"client_id": client_id, "first_name": first_name, "last_name": last_name,
                                    "email": address, "date_of_birth": "1985-05-05"})
        token = signer.access_token(user_id=str(uuid.uuid4()), role="client", client_id=client_id, ttl=600,
                                    session_id=str(uuid.uuid4()))
        return Person(client_id, address, Api(messaging_app.test_client(), token), f"{first_name} {last_name}")

    return make


@pytest.fixture
def mstaff(messaging_app, signer, mdeliver, mpractice):
    """A staff member known to messaging (staff_user.changed); answers a Person with their Api."""

    def make(first_name="Dana", last_name="Reyes", role="staff") -> Person:
        user_id = str(uuid.uuid4())
        address = f"staff-{user_id[:8]}@harbor.example.test"
        mdeliver("staff_user.changed", {"user_id": user_id, "first_name": first_name, "last_name": last_name,
                                        "email": address, "role": role, "active": True})
        token = signer.access_token(user_id=user_id, role=role, client_id=None, ttl=600,
                                    session_id=str(uuid.uuid4()))
        return Person(user_id, address, Api(messaging_app.test_client(), token), f"{first_name} {last_name}")

    return make


@pytest.fixture
def msnapshot(messaging_engine):
    return lambda: TableSnapshot(messaging_engine, MESSAGING_TABLES)


__all__ = ["DEFAULT_NOW", "Mailbox", "Person", "PRACTICE_EMAIL", "SETTINGS"]
