"""Scheduling on the run's real database, on a clock the test sets; identity's settings faked, its events handed
to the real consumer code (STYLE: real database, fake other services)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from services.scheduling.config import SchedulingConfig
from services.scheduling.events import SUBSCRIPTIONS
from services.scheduling.models import processed_events
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.events import make_event
from tests.integration.conftest import Api
from tests.integration.identity_fake import INTERNAL_KEY, fake_identity
from tests.support.snapshot import TableSnapshot

SCHEDULING_TABLES = ("sites", "clinicians", "clinician_sites", "appointment_types", "appointment_type_clinicians",
                     "availability_rules", "availability_exceptions", "appointments", "reminders", "calendar_feeds",
                     "practice", "outbox")
# A Monday in winter (no clock change near it) at 12:00 UTC, before every test's own setting.
DEFAULT_NOW = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)


@dataclass
class TestClock:
    now: datetime = DEFAULT_NOW

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment


@pytest.fixture(scope="session")
def scheduling_config(migrated):
    return SchedulingConfig(database_url=migrated.database_url("scheduling"), amqp_url=migrated.amqp_url,
                            internal_api_key=INTERNAL_KEY, identity_url=fake_identity().url, identity_timeout=1.0)


@pytest.fixture(scope="session")
def sclock():
    return TestClock()


@pytest.fixture(scope="session")
def scheduling_app(scheduling_config, identity_app, sclock):
    from services.scheduling.app import create_app

    app = create_app(scheduling_config, verifier=identity_app.extensions["identity"].verifier, clock=sclock)
    app.testing = True
    return app


@pytest.fixture(scope="session")
def scheduling_engine(scheduling_config):
    return get_engine(scheduling_config.database_url)


@pytest.fixture(scope="session")
def scheduling_consumer(scheduling_config):
    return EventConsumer(service="scheduling", session_factory=session_factory(scheduling_config.database_url),
                         processed=processed_events, subscriptions=SUBSCRIPTIONS,
                         amqp_url=scheduling_config.amqp_url, exchange="unused")


@pytest.fixture
def sdeliver(scheduling_consumer):
    def send(event_type: str, payload: dict):
        event = make_event(event_type, payload, producer="test")
        return scheduling_consumer.handle(json.dumps(event.to_dict()).encode())

    return send


@pytest.fixture(scope="session")
def scheduling_service(scheduling_app):
    return scheduling_app.extensions["scheduling"]


@pytest.fixture
def scheduling_practice(sdeliver, sclock, scheduling_service):
    """The practice with self-scheduling on (its projection and the fake identity), the default policy, and the
    clock at DEFAULT_NOW; what a test changes is put back after it."""
    identity = fake_identity()
    identity.reset()
    settings = {"practice_name": "Harbor Counseling", "self_scheduling_enabled": True, "online_payments_enabled": True,
                "billing_documents_enabled": True, "autopay_enabled": False, "currency": "USD",
                "timezone": "America/New_York", "phone": None, "email": None, "address": {}}
    sdeliver("practice.settings_changed", {"settings": settings})
    sclock.at(DEFAULT_NOW)
    scheduling_service.policy.update(DEFAULT_POLICY)
    yield scheduling_service
    scheduling_service.policy.update(DEFAULT_POLICY)
    sclock.at(DEFAULT_NOW)
    identity.reset()


DEFAULT_POLICY = {"minimum_notice_hours": 24, "horizon_days": 60, "max_open_requests": 3,
                  "cancellation_window_hours": 24, "approval": "staff", "reminder_lead_hours": [48, 24],
                  "late_cancel_fee": False, "no_show_fee": False}


@pytest.fixture
def sstaff(scheduling_app, signer):
    return Api(scheduling_app.test_client(), signer.access_token(
        user_id=str(uuid.uuid4()), role="admin", client_id=None, ttl=600, session_id=str(uuid.uuid4())))


@pytest.fixture
def sclient(scheduling_app, signer, sdeliver):
    """A client known to scheduling (through client.created); answers (client_id, Api as that client)."""

    def make(first_name="Avery", last_name="Stone"):
        client_id = str(uuid.uuid4())
        sdeliver("client.created", {"client_id": client_id, "first_name": first_name, "last_name": last_name,
                                    "email": f"{client_id[:8]}@example.test", "date_of_birth": "1985-05-05"})
        token = signer.access_token(user_id=str(uuid.uuid4()), role="client", client_id=client_id, ttl=600,
                                    session_id=str(uuid.uuid4()))
        return client_id, Api(scheduling_app.test_client(), token)

    return make


@dataclass
class Office:
    """One test's own site, clinician, appointment type and weekly hours (nothing shared with other tests)."""

    site: dict
    clinician: dict
    kind: dict


@pytest.fixture
def office(sstaff, scheduling_practice):
    """Make a site (zone), a clinician working there, a type they offer, and weekly rules (default Mon-Fri
    09:00-17:00 site time); answers an Office."""

    def make(*, zone="America/New_York", duration=60, rules=None, bookable=True, modality="in_person",
             buffer_before=0, buffer_after=0, service_code="90834") -> Office:
        tag = uuid.uuid4().hex[:6]
        site = sstaff.post("/api/v1/staff/sites", json={"name": f"Site {tag}", "timezone": zone,
                                                         "address": {"line1": "1 Harbor Way", "city": "Annapolis"}})
        assert site.status_code == 201, site.get_json()
        clinician = sstaff.post("/api/v1/staff/clinicians", json={
            "first_name": "Ana", "last_name": f"Ruiz {tag}", "credentials": "LCSW",
            "site_ids": [site.get_json()["id"]]})
        assert clinician.status_code == 201, clinician.get_json()
        kind = sstaff.post("/api/v1/staff/appointment-types", json={
            "name": f"Individual therapy {tag}", "modality": modality, "duration_minutes": duration,
            "bookable_online": bookable, "clinician_ids": [clinician.get_json()["id"]],
            "service_code": service_code, "buffer_before_minutes": buffer_before,
            "buffer_after_minutes": buffer_after})
        assert kind.status_code == 201, kind.get_json()
        site_id = site.get_json()["id"]
        rules = rules if rules is not None else [
            {"weekday": d, "start": "09:00", "end": "17:00", "site_id": site_id} for d in range(5)]
        rules = [{**r, "site_id": r.get("site_id", site_id)} for r in rules]
        put = sstaff.put(f"/api/v1/staff/clinicians/{clinician.get_json()['id']}/availability",
                         json={"rules": rules})
        assert put.status_code == 200, put.get_json()
        return Office(site.get_json(), clinician.get_json(), kind.get_json())

    return make


@pytest.fixture
def ssnapshot(scheduling_engine):
    return lambda: TableSnapshot(scheduling_engine, SCHEDULING_TABLES)
