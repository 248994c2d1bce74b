"""Identity: staff users, client records, invitations and registration, sessions, MFA, settings."""

from __future__ import annotations

from flask import jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from services.identity import keys
from services.identity.api import auth, portal, staff
from services.identity.config import IdentityConfig
from services.identity.domain.tokens import Signer
from services.identity.models import outbox
from services.identity.service import IdentityService
from shared.auth import CLIENT_ROLES, STAFF_ROLES, JWKSCache, TokenVerifier, protect_blueprint
from shared.db import get_engine, read_session_factory, session_factory
from shared.outbox_metrics import OutboxBacklogCollector
from shared.web import broker_check, create_base_app, database_check


def create_app(config: IdentityConfig | None = None, *, mail=None):
    config = config or IdentityConfig()
    engine = get_engine(config.database_url)
    app = create_base_app(__name__, config, readiness=[database_check(engine), broker_check(config.amqp_url)],
                          metrics_collectors=[OutboxBacklogCollector("identity", engine, outbox)])
    if config.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trusted_proxies)

    signer = Signer.from_pem(keys.signing_key_pem(config), issuer=config.jwt_issuer, audience=config.jwt_audience,
                             previous_public_pems=keys.previous_public_pems(config))
    # Identity checks its own tokens with its own public keys: no HTTP round trip to itself.
    verifier = TokenVerifier(JWKSCache(config.jwks_url, fetch=lambda: signer.jwks), issuer=config.jwt_issuer,
                             audience=config.jwt_audience)
    if mail is None:
        from services.identity.tasks import enqueue_email

        mail = enqueue_email
    app.extensions["identity"] = IdentityService(config=config, sessions=session_factory(config.database_url),
                                                 reads=read_session_factory(config.database_url),
                                                 signer=signer, verifier=verifier, fernet=keys.fernet(config),
                                                 mail=mail)

    protect_blueprint(portal.bp, lambda: verifier, CLIENT_ROLES)
    protect_blueprint(staff.bp, lambda: verifier, STAFF_ROLES)
    app.register_blueprint(auth.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(staff.bp)

    @app.get("/.well-known/jwks.json")
    def jwks():
        response = jsonify(signer.jwks)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return app
