"""Payments: saved cards (processor tokens only), Pay Now with exactly-once charges, refunds, receipts."""

from __future__ import annotations

from services.payments.api import internal, portal, staff
from services.payments.api.errors import ERROR_MAP
from services.payments.config import PaymentsConfig
from services.payments.processor import CardProcessor, HttpProcessor
from services.payments.service import PaymentsService
from shared.auth import CLIENT_ROLES, STAFF_ROLES, TokenVerifier
from shared.db import session_factory
from shared.kit import create_service_app
from shared.practice_settings import SettingsSource


def create_app(config: PaymentsConfig | None = None, *, processor: CardProcessor | None = None,
               verifier: TokenVerifier | None = None, settings: SettingsSource | None = None):
    config = config or PaymentsConfig()
    app = create_service_app(__name__, config,
                             blueprints={portal.bp: CLIENT_ROLES, staff.bp: STAFF_ROLES, internal.bp: None},
                             error_map=ERROR_MAP, verifier=verifier)
    processor = processor or HttpProcessor(config.processor_url, config.processor_api_key,
                                           timeout=(config.processor_connect_timeout, config.processor_read_timeout))
    app.extensions["payments"] = PaymentsService(config=config, sessions=session_factory(config.database_url),
                                                 processor=processor, settings=settings)
    return app
