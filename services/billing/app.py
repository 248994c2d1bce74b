"""Billing: service codes, invoices, superbills, statements, the account ledger, balances and AutoPay."""

from __future__ import annotations

from services.billing.api import portal, staff
from services.billing.api.errors import ERROR_MAP
from services.billing.autopay import AutopayRunner
from services.billing.config import BillingConfig
from services.billing.payments_client import PaymentsClient
from services.billing.service import BillingService
from shared.auth import CLIENT_ROLES, STAFF_ROLES, JWKSCache, TokenVerifier, protect_blueprint
from shared.db import get_engine, session_factory
from shared.practice_settings import PracticeSettings, SettingsSource
from shared.revocation import revocation_list
from shared.web import broker_check, create_base_app, database_check


def create_app(config: BillingConfig | None = None, *, payments: PaymentsClient | None = None,
               verifier: TokenVerifier | None = None, settings: SettingsSource | None = None):
    config = config or BillingConfig()
    engine = get_engine(config.database_url)
    app = create_base_app(__name__, config, error_map=ERROR_MAP,
                          readiness=[database_check(engine), broker_check(config.amqp_url)])
    verifier = verifier or TokenVerifier(JWKSCache(config.jwks_url), issuer=config.jwt_issuer,
                                         audience=config.jwt_audience, revocations=revocation_list(config))
    sessions = session_factory(config.database_url)
    settings = settings or PracticeSettings(config.identity_url, config.internal_api_key,
                                            timeout=config.identity_timeout)
    app.extensions["billing"] = BillingService(config=config, sessions=sessions, settings=settings)
    app.extensions["billing_autopay"] = AutopayRunner(
        sessions=sessions, max_failures=config.autopay_max_failures, settings=settings,
        payments=payments or PaymentsClient(config.payments_url, config.internal_api_key, config.payments_timeout))
    protect_blueprint(portal.bp, lambda: verifier, CLIENT_ROLES)
    protect_blueprint(staff.bp, lambda: verifier, STAFF_ROLES)
    app.register_blueprint(portal.bp)
    app.register_blueprint(staff.bp)
    return app
