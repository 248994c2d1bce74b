"""The API gateway: /api/v1/* to the owning service after a token check; probes and metrics of its own."""

from __future__ import annotations

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

    @app.get("/api-routes")
    def api_routes():
        return {"routes": [{"path": path, "service": service} for path, service in ROUTES]}

    app.wsgi_app = Proxy(upstreams=config.upstreams, verifier=verifier, fallback=app.wsgi_app,
                         connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
                         pool_size=config.pool_size, max_body=config.max_body)
    return app
