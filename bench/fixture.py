"""The bench identity database: a fresh one with a bench admin and a registered bench client."""

from __future__ import annotations

import os
from datetime import date
from urllib.parse import parse_qs, urlparse

from bench.common import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CLIENT_EMAIL,
    CLIENT_PASSWORD,
    Workspace,
    bench_db_url,
    log,
    recreate_database,
)

_state: dict = {}


def prepare_identity(workspace: Workspace) -> dict:
    """Drops and migrates portal_bench_identity, creates the bench users through the identity service
    in-process, and answers the client's id and a one-hour access token (signed with the key file the
    servers read too). Done once per run."""
    if _state:
        return _state
    os.environ.update(workspace.env())
    url = bench_db_url("identity")
    log(f"recreating {url.rsplit('/', 1)[-1]}")
    recreate_database("identity", url)

    from services.identity.app import create_app
    from shared.auth import Principal

    app = create_app(mail=lambda *a: None)
    service = app.extensions["identity"]
    admin = service.create_staff_user({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "role": "admin",
                                       "first_name": "Bench", "last_name": "Admin"})
    staff = Principal(user_id=admin.id, role="admin", client_id=None)
    client = service.create_client({
        "first_name": "Casey", "last_name": "Benchmark", "preferred_name": "Case",
        "date_of_birth": date(1990, 4, 12), "email": CLIENT_EMAIL, "phone": "+1 555 0100",
        "address": {"line1": "12 Harbor Road", "city": "Portland", "postal_code": "04101", "country": "US"},
        "emergency_contact": {"name": "Robin Benchmark", "phone": "+1 555 0101"},
        "insurance": {"provider": "Acme Health", "member_id": "AC-123456"},
    }, staff)
    invitation = service.invite(client["id"], staff)
    token = parse_qs(urlparse(invitation["invitation_url"]).query)["token"][0]
    service.register(token, "Benchmark", date(1990, 4, 12), CLIENT_PASSWORD)
    tokens = service.login(CLIENT_EMAIL, CLIENT_PASSWORD, "127.0.0.1")
    _state.update(client_id=client["id"], access_token=tokens.access_token, url=url)
    log("bench admin and registered bench client created")
    return _state
