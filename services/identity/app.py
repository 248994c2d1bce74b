"""Identity: staff users, client records, invitations and registration, sessions, MFA, settings."""

from __future__ import annotations

from flask import jsonify

from services.identity import keys
from services.identity.api import auth, internal, portal, staff
from services.identity.api.errors import ERROR_MAP
from services.identity.config import IdentityConfig
from services.identity.domain.tokens import Signer
from services.identity.forwarded import TrustedProxies, parse_networks
from services.identity.service import IdentityService
from shared.auth import CLIENT_ROLES, STAFF_ROLES, JWKSCache, TokenVerifier, protect_blueprint
from shared.db import get_engine, read_session_factory, session_factory
from shared.revocation import revocation_list
from shared.web import broker_check, create_base_app, database_check


def create_app(config: IdentityConfig | None = None, *, mail=None):
    config = config or IdentityConfig()
    engine = get_engine(config.database_url)
    app = create_base_app(__name__, config, error_map=ERROR_MAP,
                          readiness=[database_check(engine), broker_check(config.amqp_url)])
    # X-Forwarded-For only from the configured proxies: the throttles key on the address this gives.
    app.wsgi_app = TrustedProxies(app.wsgi_app, parse_networks(config.trusted_proxies))

    signer = Signer.from_pem(keys.signing_key_pem(config), issuer=config.jwt_issuer, audience=config.jwt_audience,
                             previous_public_pems=keys.previous_public_pems(config))
    # Identity checks its own tokens with its own public keys and its own list of ended sessions (read from its
    # database every 2 s): no HTTP round trip to itself.
    revocations = revocation_list(config, fetch=lambda: app.extensions["identity"].revoked_sessions())
    verifier = TokenVerifier(JWKSCache(config.jwks_url, fetch=lambda: signer.jwks), issuer=config.jwt_issuer,
                             audience=config.jwt_audience, revocations=revocations)
    # Mail leaves through identity's mail outbox (services/identity/mail_outbox.py); `mail`, when given, is
    # told of each mail after its transaction commits (tests read the links from it).
    app.extensions["identity"] = IdentityService(config=config, sessions=session_factory(config.database_url),
                                                 reads=read_session_factory(config.database_url),
                                                 signer=signer, verifier=verifier, fernet=keys.fernet(config),
                                                 mail=mail)

    protect_blueprint(portal.bp, lambda: verifier, CLIENT_ROLES)
    protect_blueprint(staff.bp, lambda: verifier, STAFF_ROLES)
    app.register_blueprint(auth.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(internal.bp)

    @app.get("/.well-known/jwks.json")
    def jwks():
        response = jsonify(signer.jwks)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return app
