"""The API gateway: /api/v1/* to the owning service after a token check; probes and metrics of its own."""

from __future__ import annotations

from pathlib import Path

from flask import jsonify, send_from_directory

from gateway.config import GatewayConfig
from gateway.proxy import Proxy
from gateway.routes import ROUTES
from shared.auth import JWKSCache, TokenVerifier
from shared.errors import NotFound
from shared.revocation import revocation_list
from shared.web import build_openapi, create_base_app


def create_app(config: GatewayConfig | None = None):
    config = config or GatewayConfig()
    keys = JWKSCache(config.jwks_url)
    revocations = revocation_list(config)  # identity's ended sessions, polled every 2 s
    verifier = TokenVerifier(keys, issuer=config.jwt_issuer, audience=config.jwt_audience, revocations=revocations)

    def signing_keys():
        keys.ensure_loaded()
        revocations.ensure_loaded()

    app = create_base_app(__name__, config, readiness=[signing_keys])

    pages = Path(__file__).parent / "pages"

    # The pages the e-mails link to; they call the public API like any other client.
    @app.get("/register")
    def register_page():
        return _page(send_from_directory(pages, "register.html"))

    @app.get("/reset-password")
    def reset_password_page():
        return _page(send_from_directory(pages, "reset-password.html"))

    @app.get("/pages/<path:name>")
    def page_asset(name: str):
        return _page(send_from_directory(pages, name))

    # Documentation, kept public: which public prefix each service answers (the same table is in the open
    # repository, and every guarded path answers 401 without a token anyway); no address, port or secret.
    @app.get("/api-routes")
    def api_routes():
        return {"routes": [{"path": path, "service": service} for path, service in ROUTES]}

    # Not on the public port: the gateway's metrics (every route's traffic, errors and latency) are served by
    # gunicorn's master on METRICS_PORT (deploy/gunicorn.conf.py), which only Prometheus reaches.
    def metrics_elsewhere():
        raise NotFound("No such path.")

    app.view_functions["metrics_endpoint"] = metrics_elsewhere

    def openapi():
        spec = build_openapi(app, title="gateway")
        spec["paths"].pop("/metrics", None)
        return jsonify(spec)

    app.view_functions["openapi"] = openapi

    app.wsgi_app = Proxy(upstreams=config.upstreams, verifier=verifier, fallback=app.wsgi_app,
                         connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
                         pool_size=config.pool_size, max_body=config.max_body_bytes,
                         hsts_max_age=config.hsts_max_age)
    return app


def _page(response):
    # Tokens live in the page's URL: never leak them to other sites, and run only our own scripts.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
