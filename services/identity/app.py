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
from shared.auth import CLIENT_ROLES, STAFF_ROLES, JWKSCache, TokenVerifier
from shared.db import read_session_factory, session_factory
from shared.kit import create_service_app
from shared.revocation import revocation_list


def create_app(config: IdentityConfig | None = None, *, mail=None):
    config = config or IdentityConfig()

    def own_verifier(app) -> TokenVerifier:
        # Made once logging is set up (a first run outside production creates the key file, and says so).
        signer = app.extensions["signer"] = Signer.from_pem(
            keys.signing_key_pem(config), issuer=config.jwt_issuer, audience=config.jwt_audience,
            previous_public_pems=keys.previous_public_pems(config))
        # Identity checks its own tokens with its own public keys and its own list of ended sessions (read from
        # its database every 2 s): no HTTP round trip to itself.
        revocations = revocation_list(config, fetch=lambda: app.extensions["identity"].revoked_sessions())
        return TokenVerifier(JWKSCache(config.jwks_url, fetch=lambda: signer.jwks), issuer=config.jwt_issuer,
                             audience=config.jwt_audience, revocations=revocations)

    app = create_service_app(__name__, config, blueprints={auth.bp: None, portal.bp: CLIENT_ROLES,
                                                           staff.bp: STAFF_ROLES, internal.bp: None},
                             error_map=ERROR_MAP, verifier=own_verifier)
    signer = app.extensions["signer"]
    # X-Forwarded-For only from the configured proxies: the throttles key on the address this gives.
    app.wsgi_app = TrustedProxies(app.wsgi_app, parse_networks(config.trusted_proxies))
    # Mail leaves through identity's mail outbox (services/identity/mail_outbox.py); `mail`, when given, is
    # told of each mail after its transaction commits (tests read the links from it).
    app.extensions["identity"] = IdentityService(config=config, sessions=session_factory(config.database_url),
                                                 reads=read_session_factory(config.database_url),
                                                 signer=signer, verifier=app.extensions["verifier"],
                                                 fernet=keys.fernet(config), mail=mail)

    @app.get("/.well-known/jwks.json")
    def jwks():
        response = jsonify(signer.jwks)
        response.headers["Cache-Control"] = "public, max-age=300"
        return response

    return app
