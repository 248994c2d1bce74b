"""Billing: service codes, invoices, superbills, statements, the account ledger, balances and AutoPay."""

from __future__ import annotations

from services.billing.api import portal, staff
from services.billing.api.errors import ERROR_MAP
from services.billing.config import BillingConfig
from services.billing.payments_client import PaymentsClient
from services.billing.service import BillingService
from services.billing.usecases.autopay import AutopayRunner
from shared.auth import CLIENT_ROLES, STAFF_ROLES, TokenVerifier
from shared.db import session_factory
from shared.kit import create_service_app
from shared.practice_settings import PracticeSettings, SettingsSource


def create_app(config: BillingConfig | None = None, *, payments: PaymentsClient | None = None,
               verifier: TokenVerifier | None = None, settings: SettingsSource | None = None):
    config = config or BillingConfig()
    app = create_service_app(__name__, config, blueprints={portal.bp: CLIENT_ROLES, staff.bp: STAFF_ROLES},
                             error_map=ERROR_MAP, verifier=verifier)
    sessions = session_factory(config.database_url)
    settings = settings or PracticeSettings(config.identity_url, config.internal_api_key,
                                            timeout=config.identity_timeout)
    app.extensions["billing"] = BillingService(config=config, sessions=sessions, settings=settings)
    app.extensions["billing_autopay"] = AutopayRunner(
        sessions=sessions, max_failures=config.autopay_max_failures, settings=settings,
        hour=config.autopay_hour, minute=config.autopay_minute,
        payments=payments or PaymentsClient(config.payments_url, config.internal_api_key, config.payments_timeout))
    return app
