"""Payments: saved cards (processor tokens only), Pay Now with exactly-once charges, refunds, receipts."""

from __future__ import annotations

from services.payments.api import internal, portal, staff
from services.payments.api.errors import ERROR_MAP
from services.payments.config import PaymentsConfig
from services.payments.processor import CardProcessor, HttpProcessor
from services.payments.service import PaymentsService
from shared.auth import CLIENT_ROLES, STAFF_ROLES, JWKSCache, TokenVerifier, protect_blueprint
from shared.db import get_engine, session_factory
from shared.practice_settings import SettingsSource
from shared.revocation import revocation_list
from shared.web import broker_check, create_base_app, database_check


def create_app(config: PaymentsConfig | None = None, *, processor: CardProcessor | None = None,
               verifier: TokenVerifier | None = None, settings: SettingsSource | None = None):
    config = config or PaymentsConfig()
    engine = get_engine(config.database_url)
    app = create_base_app(__name__, config, error_map=ERROR_MAP,
                          readiness=[database_check(engine), broker_check(config.amqp_url)])
    verifier = verifier or TokenVerifier(JWKSCache(config.jwks_url), issuer=config.jwt_issuer,
                                         audience=config.jwt_audience, revocations=revocation_list(config))
    processor = processor or HttpProcessor(config.processor_url, config.processor_api_key,
                                           timeout=(config.processor_connect_timeout, config.processor_read_timeout))
    app.extensions["payments"] = PaymentsService(config=config, sessions=session_factory(config.database_url),
                                                 processor=processor, settings=settings)
    protect_blueprint(portal.bp, lambda: verifier, CLIENT_ROLES)
    protect_blueprint(staff.bp, lambda: verifier, STAFF_ROLES)
    app.register_blueprint(portal.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(internal.bp)
    return app
