"""The API gateway: /api/v1/* to the owning service after a token check; probes and metrics of its own."""

from __future__ import annotations

from pathlib import Path

from flask import send_from_directory

from gateway.config import GatewayConfig
from gateway.proxy import Proxy
from gateway.routes import ROUTES
from shared.auth import JWKSCache, TokenVerifier
from shared.web import create_base_app


def create_app(config: GatewayConfig | None = None):
    config = config or GatewayConfig()
    keys = JWKSCache(config.jwks_url)
    verifier = TokenVerifier(keys, issuer=config.jwt_issuer, audience=config.jwt_audience)

    def signing_keys():
        keys.ensure_loaded()

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

    @app.get("/api-routes")
    def api_routes():
        return {"routes": [{"path": path, "service": service} for path, service in ROUTES]}

    app.wsgi_app = Proxy(upstreams=config.upstreams, verifier=verifier, fallback=app.wsgi_app,
                         connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
                         pool_size=config.pool_size, max_body=config.max_body_bytes)
    return app


def _page(response):
    # Tokens live in the page's URL: never leak them to other sites, and run only our own scripts.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = "default-src 'self'; frame-ancestors 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response
