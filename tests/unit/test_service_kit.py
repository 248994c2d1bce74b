"""The service kit (shared.kit): every service's app comes from one factory, which any process may call as often
as it likes, and which puts each blueprint behind the roles it was given."""

from __future__ import annotations

import pytest
from flask import Blueprint, g

from services.billing.app import create_app as billing_app
from services.identity.app import create_app as identity_app
from services.payments.app import create_app as payments_app
from shared.auth import CLIENT_ROLES, STAFF_ROLES
from shared.config import BaseConfig
from shared.kit import create_service_app


@pytest.fixture
def service_env(monkeypatch, tmp_path):
    """What the three services need to make an app (nothing is connected to at creation)."""
    for name in ("INTERNAL_API_KEY", "PROCESSOR_API_KEY"):
        monkeypatch.setenv(name, "k" * 40)
    monkeypatch.setenv("JWT_PRIVATE_KEY_FILE", str(tmp_path / "jwt.pem"))
    monkeypatch.setenv("IDENTITY_SECRET_KEY_FILE", str(tmp_path / "identity.key"))


@pytest.mark.parametrize("factory", [identity_app, billing_app, payments_app], ids=["identity", "billing", "payments"])
def test_a_services_app_can_be_made_twice_in_one_process(service_env, factory):
    first, second = factory(), factory()
    assert first is not second
    assert sorted(first.blueprints) == sorted(second.blueprints)
    # both work: the second app's routes are there and answer through the shared middleware
    for app in (first, second):
        answer = app.test_client().get("/healthz")
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"


def kit_app(verifier):
    config = BaseConfig(service="unit", database_url="postgresql+psycopg://unused/unit", internal_api_key="k" * 40)
    portal, staff, open_ = (Blueprint(name, __name__, url_prefix=f"/{name}") for name in ("portal", "staff", "open"))
    portal.get("/me")(lambda: {"user": g.principal.user_id})
    staff.get("/me")(lambda: {"user": g.principal.user_id})
    open_.get("/ping")(lambda: {"ok": True})
    return create_service_app("unit", config, verifier=verifier,
                              blueprints={portal: CLIENT_ROLES, staff: STAFF_ROLES, open_: None})


def test_each_blueprint_needs_the_roles_it_was_given_and_none_needs_no_token(signer, verifier):
    client = kit_app(verifier).test_client()
    as_client = {"Authorization": "Bearer " + signer.access_token(
        user_id="u-1", role="client", client_id="c-1", ttl=300, session_id="s-1")}
    as_staff = {"Authorization": "Bearer " + signer.access_token(
        user_id="u-2", role="staff", client_id=None, ttl=300, session_id="s-2")}
    assert client.get("/portal/me", headers=as_client).get_json() == {"user": "u-1"}
    assert client.get("/staff/me", headers=as_staff).get_json() == {"user": "u-2"}
    assert client.get("/portal/me", headers=as_staff).status_code == 403
    assert client.get("/staff/me", headers=as_client).status_code == 403
    assert client.get("/portal/me").status_code == 401
    assert client.get("/staff/me").status_code == 401
    assert client.get("/open/ping").get_json() == {"ok": True}


def test_the_same_blueprints_serve_two_kit_apps(verifier):
    config = BaseConfig(service="unit", database_url="postgresql+psycopg://unused/unit", internal_api_key="k" * 40)
    bp = Blueprint("portal", __name__, url_prefix="/portal")
    bp.get("/me")(lambda: {"ok": True})
    apps = [create_service_app("unit", config, verifier=verifier, blueprints={bp: CLIENT_ROLES}) for _ in range(2)]
    for app in apps:
        assert app.test_client().get("/portal/me").status_code == 401


def test_readiness_waits_for_the_list_of_ended_sessions(signer):
    """Until a process has identity's list of ended sessions, every token check answers 503: it is not ready."""
    from shared.auth import JWKSCache, TokenVerifier
    from shared.revocation import RevocationList

    answers = {"list": None}

    def fetch():
        if answers["list"] is None:
            raise ConnectionError("identity down")
        return answers["list"]

    revocations = RevocationList(fetch, background=False, first_retry_after=0)
    verifier = TokenVerifier(JWKSCache("http://jwks.invalid", fetch=lambda: signer.jwks), issuer=signer.issuer,
                             audience=signer.audience, revocations=revocations)
    client = kit_app(verifier).test_client()
    down = client.get("/readyz")
    assert down.status_code == 503 and "sessions_list" in down.get_json()["failures"]
    answers["list"] = {"sessions": [], "window_seconds": 960}
    assert "sessions_list" not in client.get("/readyz").get_json().get("failures", {})
