"""The bench identity database: a fresh one with a bench admin and a registered bench client."""

from __future__ import annotations

import os
import uuid
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
_service: dict = {}  # the in-process identity service of prepare_identity


def prepare_identity(workspace: Workspace) -> dict:
    """Drops and migrates portal_bench_identity, creates the bench users through the identity service
    in-process, and answers the client's id and a one-hour access token (signed with the key file the
    servers read too), and the bench admin's id and access token. Done once per run."""
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
    admin_tokens = service.login(ADMIN_EMAIL, ADMIN_PASSWORD, "127.0.0.1")
    _state.update(client_id=client["id"], access_token=tokens.access_token, url=url, admin_id=admin.id,
                  admin_token=admin_tokens.access_token)
    _service["identity"] = service
    log("bench admin and registered bench client created")
    return _state


def registered_clients(workspace: Workspace, n: int, tag: str) -> list[dict]:
    """`n` more clients, each registered (a client user with an argon2 password, as after the invitation
    e-mail), created through identity in-process like the bench client: client.created waits in identity's
    outbox for its relay. Answers [{client_id, user_id, access_token}]; the one-hour access tokens are
    signed by identity's own signer (what a sign-in would answer), so no argon2 verify is spent on them. Each also
    carries its `email`, to sign in with CLIENT_PASSWORD."""
    prepare_identity(workspace)
    service = _service["identity"]
    from shared.auth import Principal

    staff = Principal(user_id=_state["admin_id"], role="admin", client_id=None)
    birth = date(1985, 6, 1)
    out = []
    for i in range(n):
        client = service.create_client({
            "first_name": f"Payer{i:03d}", "last_name": "Benchmark", "date_of_birth": birth,
            "email": f"payer{i:03d}.{tag}@bench.local"}, staff)
        invitation = service.invite(client["id"], staff)
        token = parse_qs(urlparse(invitation["invitation_url"]).query)["token"][0]
        user = service.register(token, "Benchmark", birth, CLIENT_PASSWORD)
        access = service.signer.access_token(user_id=user["user_id"], role="client", client_id=client["id"],
                                             ttl=service.config.access_token_ttl, session_id=uuid.uuid4().hex)
        out.append({"client_id": client["id"], "user_id": user["user_id"], "access_token": access,
                    "email": client["email"]})
    return out
