"""The service kit: one factory that makes any service's Flask app from its config and blueprints.

What every service's app has comes from here, so a new service's app.py only names its blueprints (with the
roles each needs), its error map and its own objects: request ids, JSON logs, metrics, problem answers and the
bad-input checks (shared.web.create_base_app), readiness on its database and the broker, and token checks
against identity's keys and list of ended sessions. It holds no state between calls: a test (or a process)
may make as many apps as it likes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flask import Blueprint, Flask

from shared.auth import JWKSCache, TokenVerifier, protect_blueprints
from shared.db import get_engine
from shared.errors import Mapped
from shared.revocation import revocation_list
from shared.web import broker_check, create_base_app, database_check

VerifierFactory = Callable[[Flask], TokenVerifier]


def default_verifier(config) -> TokenVerifier:
    """Tokens checked against identity's public keys (JWKS_URL) and its list of ended sessions."""
    return TokenVerifier(JWKSCache(config.jwks_url), issuer=config.jwt_issuer, audience=config.jwt_audience,
                         revocations=revocation_list(config))


def create_service_app(import_name: str, config, *, blueprints: Mapping[Blueprint, frozenset[str] | None],
                       error_map: Mapping[type[Exception], Mapped] | None = None,
                       verifier: TokenVerifier | VerifierFactory | None = None) -> Flask:
    """A service's app. `blueprints`: each with the roles a token needs for its routes, or None for routes that
    check their caller themselves (the /internal routes' key, sign-in). `verifier`: a TokenVerifier, a function
    of the new app that makes one (identity, which checks tokens with its own keys), or None for identity's
    keys fetched over HTTP. The verifier is app.extensions["verifier"]."""
    engine = get_engine(config.database_url)

    def sessions_list():
        # Ready means a signed-in request can be checked: until this process has identity's list of ended
        # sessions, every token check answers 503 (as the gateway's readiness says too).
        revocations = app.extensions["verifier"].revocations
        if revocations is not None:
            revocations.ensure_loaded()

    app = create_base_app(import_name, config, error_map=dict(error_map or {}),
                          readiness=[database_check(engine), broker_check(config.amqp_url), sessions_list])
    if verifier is None:
        verifier = default_verifier(config)
    elif not isinstance(verifier, TokenVerifier):
        verifier = verifier(app)
    app.extensions["verifier"] = verifier
    protect_blueprints(app, lambda: app.extensions["verifier"],
                       {bp.name: roles for bp, roles in blueprints.items() if roles is not None})
    for bp in blueprints:
        app.register_blueprint(bp)
    return app
