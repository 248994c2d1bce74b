"""The API gateway: /api/v1/* to the owning service after a token check; probes and metrics of its own."""

from __future__ import annotations

import redis
from flask import jsonify

from gateway.composed import install as install_composed
from gateway.config import GatewayConfig
from gateway.proxy import Proxy
from gateway.routes import ROUTES
from gateway.web import install as install_web
from gateway.web.api import Api
from gateway.web.core import WebSettings
from gateway.web.session import SessionStore
from shared.auth import JWKSCache, TokenVerifier
from shared.errors import NotFound
from shared.revocation import revocation_list
from shared.services import SERVICES
from shared.web import build_openapi, create_base_app


def create_app(config: GatewayConfig | None = None):
    config = config or GatewayConfig()
    keys = JWKSCache(config.jwks_url)
    revocations = revocation_list(config)  # identity's ended sessions, polled every 2 s
    verifier = TokenVerifier(keys, issuer=config.jwt_issuer, audience=config.jwt_audience, revocations=revocations)

    sessions = redis.Redis.from_url(config.web_redis_url, socket_timeout=2, socket_connect_timeout=2,
                                    health_check_interval=30)

    def signing_keys():
        keys.ensure_loaded()
        revocations.ensure_loaded()

    def browser_sessions():
        sessions.ping()

    app = create_base_app(__name__, config, readiness=[signing_keys, browser_sessions])
    proxy = Proxy(upstreams=config.upstreams, verifier=verifier, fallback=app.wsgi_app,
                  connect_timeout=config.connect_timeout, read_timeout=config.read_timeout,
                  pool_size=config.pool_size, max_body=config.max_body_bytes, hsts_max_age=config.hsts_max_age,
                  body_limits={s.name: s.max_body_bytes for s in SERVICES if s.max_body_bytes})
    # The web: the portal at /, the console at /staff; its pages call the API through the proxy's own pools.
    web_api = Api(proxy.pools, proxy.routes)
    install_composed(app, web_api)
    install_web(app, api=web_api,
                store=SessionStore(sessions, prefix=config.web_session_prefix, idle_seconds=config.web_idle_seconds),
                settings=WebSettings(secret=config.web_secret.encode(), processor_origin=config.processor_public_url,
                                     idle_seconds=config.web_idle_seconds))

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
        # the web's pages are for browsers, not part of the API
        spec["paths"] = {path: item for path, item in spec["paths"].items()
                         if path.startswith(("/api", "/healthz", "/readyz", "/openapi.json"))}
        return jsonify(spec)

    app.view_functions["openapi"] = openapi

    app.wsgi_app = proxy
    return app

