"""The gateway app's own paths on the public port: no metrics, documentation without addresses, HSTS over HTTPS."""

from __future__ import annotations

import json

import pytest

from gateway.app import create_app
from gateway.config import GatewayConfig
from shared.services import BY_NAME


@pytest.fixture
def make_client(monkeypatch):
    monkeypatch.setenv("INTERNAL_API_KEY", "gateway-app-test-key")

    def make(**env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config = GatewayConfig(jwks_url="http://jwks.invalid/.well-known/jwks.json",
                               upstreams={"identity": "http://127.0.0.1:9", "billing": "http://127.0.0.1:9",
                                          "payments": "http://127.0.0.1:9"})
        return create_app(config).test_client()

    return make


def test_metrics_are_not_served_on_the_public_port(make_client):
    response = make_client().get("/metrics")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert b"http_requests_total" not in response.get_data()


def test_openapi_and_api_routes_stay_as_documentation_without_addresses(make_client):
    client = make_client()
    spec = client.get("/openapi.json").get_json()
    assert "/metrics" not in spec["paths"] and "/healthz" in spec["paths"]
    routes = client.get("/api-routes")
    text = routes.get_data(as_text=True)
    assert routes.status_code == 200
    listed = json.loads(text)["routes"]
    assert all(r["path"].startswith("/api/v1/") and r["service"] in BY_NAME for r in listed)
    assert {r["service"] for r in listed} == set(BY_NAME)  # every service's routes, the gateway's own too
    assert "127.0.0.1" not in text and "http" not in text  # where the services live stays inside
    assert all("internal" not in r["path"] for r in json.loads(text)["routes"])


@pytest.mark.parametrize("path", ["/healthz", "/register", "/api/v1/staff/clients", "/api/v1/nowhere"])
def test_strict_transport_security_on_every_answer_served_over_https(make_client, path):
    client = make_client()
    over_https = client.get(path, environ_overrides={"wsgi.url_scheme": "https"})
    assert over_https.headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = client.get(path)
    assert "Strict-Transport-Security" not in plain.headers


def test_the_hsts_max_age_is_a_setting(make_client):
    client = make_client(HSTS_MAX_AGE="600")
    response = client.get("/healthz", environ_overrides={"wsgi.url_scheme": "https"})
    assert response.headers.getlist("Strict-Transport-Security") == ["max-age=600"]


def test_a_proxy_header_alone_is_not_https(make_client):
    """X-Forwarded-Proto counts only once gunicorn trusted it (FORWARDED_ALLOW_IPS) and set wsgi.url_scheme."""
    response = make_client().get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in response.headers
