"""Integration fixtures: identity's Flask app on the run's real database, e-mail captured in a list."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pika
import pytest
from sqlalchemy import text

from services.identity.config import IdentityConfig
from services.identity.domain.tokens import token_hash  # noqa: F401 (re-exported for tests)
from shared.db import get_engine
from tests.support import random_refs
from tests.support.snapshot import TableSnapshot

pytestmark = pytest.mark.integration

ADMIN_EMAIL = "admin@itest.example"
ADMIN_PASSWORD = "Integration admin passphrase 9!"
STRONG_PASSWORD = "quiet-harbor-lantern-42"


@dataclass
class Mailbox:
    sent: list[tuple[str, str, dict]] = field(default_factory=list)

    def __call__(self, to, template, context):
        self.sent.append((to, template, context))

    def last(self, to: str, template: str) -> dict:
        for rcpt, name, context in reversed(self.sent):
            if rcpt == to and name == template:
                return context
        raise AssertionError(f"no {template} mail to {to}")


@pytest.fixture(scope="session")
def identity_config(migrated, tmp_path_factory):
    keys = tmp_path_factory.mktemp("keys")
    return IdentityConfig(database_url=migrated.database_url("identity"), amqp_url=migrated.amqp_url,
                          private_key_file=str(keys / "jwt.pem"), secret_key_file=str(keys / "secret.key"),
                          address_max_failures=20, portal_base_url="http://portal.test")


@pytest.fixture(scope="session")
def mailbox():
    return Mailbox()


@pytest.fixture(scope="session")
def identity_app(identity_config, mailbox):
    from services.identity.app import create_app

    app = create_app(identity_config, mail=mailbox)
    app.testing = True
    app.extensions["identity"].ensure_admin(ADMIN_EMAIL, ADMIN_PASSWORD)
    return app


@pytest.fixture(scope="session")
def identity_engine(identity_config):
    return get_engine(identity_config.database_url)


class Api:
    """Test client calls with the JSON, headers and a random client address already set."""

    def __init__(self, client, token: str | None = None, address: str | None = None):
        self.client = client
        self.token = token
        self.address = address or random_refs.address()

    def headers(self, extra=None):
        headers = {"X-Forwarded-For": self.address}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    def call(self, method, path, json=None, headers=None, **kwargs):
        return self.client.open(path, method=method, json=json, headers=self.headers(headers), **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.call("POST", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self.call("PATCH", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self.call("PUT", path, json=json, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    def as_(self, token):
        return Api(self.client, token, self.address)


@pytest.fixture
def api(identity_app):
    return Api(identity_app.test_client())


def login(api: Api, email: str, password: str) -> dict:
    response = api.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def staff(api):
    return api.as_(login(api, ADMIN_EMAIL, ADMIN_PASSWORD)["access_token"])


@pytest.fixture
def new_client(staff):
    """A fresh client record: answers its JSON."""

    def make(**overrides):
        body = {"first_name": "Jordan", "last_name": "Rivera", "date_of_birth": "1988-02-29",
                "email": random_refs.email(), "phone": "555-0100", **overrides}
        response = staff.post("/api/v1/staff/clients", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def registered_client(api, staff, new_client, mailbox):
    """A client who completed registration; answers (client json, Api signed in as that client)."""

    def make(**overrides):
        client = new_client(**overrides)
        invite = staff.post(f"/api/v1/staff/clients/{client['id']}/invitation")
        assert invite.status_code == 201
        token = invite.get_json()["invitation_url"].split("token=")[1]
        done = api.post("/api/v1/auth/register", json={"token": token, "last_name": client["last_name"],
                                                        "date_of_birth": client["date_of_birth"],
                                                        "password": STRONG_PASSWORD})
        assert done.status_code == 201, done.get_json()
        tokens = login(api, client["email"], STRONG_PASSWORD)
        return client, api.as_(tokens["access_token"]), tokens

    return make




@pytest.fixture
def snapshot(identity_engine):
    # Every row compared, not only counted (a refused change of the sign-in e-mail must not move users.email in
    # place), but the invitations': a refused registration counts its miss there on purpose.
    tables = ("clients", "users", "invitations", "refresh_tokens", "password_resets", "profile_changes", "outbox",
              "mail_outbox")
    return lambda: TableSnapshot(identity_engine, tables, contents=tuple(t for t in tables if t != "invitations"))


def outbox_events(engine, event_type: str, **payload_match) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT envelope FROM outbox WHERE event_type = :t ORDER BY seq"),
                            {"t": event_type}).scalars().all()
    return [r for r in rows if all(r["payload"].get(k) == v for k, v in payload_match.items())]


def assert_problem(response, status: int, *, field: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("/problems/")
    if field:
        assert field in body.get("errors", {}), body
    return body


@pytest.fixture
def exchange():
    """A topic exchange of the test's own: its events reach only the test's queues."""
    return f"test.events.{uuid.uuid4().hex[:8]}"


@pytest.fixture
def broker(migrated):
    """A channel on the run's vhost."""
    connection = pika.BlockingConnection(pika.URLParameters(migrated.amqp_url))
    yield connection.channel()
    connection.close()


from tests.integration.billing_fixtures import (  # noqa: E402,F401 (fixtures for the billing tests)
    bclient,
    billing_app,
    billing_config,
    billing_consumer,
    billing_engine,
    bsnapshot,
    bstaff,
    codes,
    deliver,
    fake_payments,
    signer,
)
from tests.integration.messaging_fixtures import (  # noqa: E402,F401 (fixtures for the messaging tests)
    mail_sink,
    mclient,
    mclock,
    mdeliver,
    messaging_app,
    messaging_config,
    messaging_consumer,
    messaging_engine,
    messaging_service,
    mpractice,
    mrelay,
    msnapshot,
    mstaff,
)
from tests.integration.payments_fixtures import (  # noqa: E402,F401 (fixtures for the payments tests)
    online_payments,
    payer,
    payments_app,
    payments_config,
    payments_consumer,
    payments_engine,
    pdeliver,
    psnapshot,
    pstaff,
    sandbox,
)
from tests.integration.scheduling_fixtures import (  # noqa: E402,F401 (fixtures for the scheduling tests)
    office,
    scheduling_app,
    scheduling_config,
    scheduling_consumer,
    scheduling_engine,
    scheduling_practice,
    scheduling_service,
    sclient,
    sclock,
    sdeliver,
    ssnapshot,
    sstaff,
)
