"""Messaging: secure message threads with attachments, the notification centre (the bell), and the e-mails the
practice sends about events."""

from __future__ import annotations

from services.messaging.api import portal, staff
from services.messaging.api.errors import ERROR_MAP
from services.messaging.config import MessagingConfig
from services.messaging.service import MessagingService
from shared.auth import CLIENT_ROLES, STAFF_ROLES, TokenVerifier
from shared.db import session_factory
from shared.kit import create_service_app


def create_app(config: MessagingConfig | None = None, *, verifier: TokenVerifier | None = None, clock=None,
               store=None):
    config = config or MessagingConfig()
    app = create_service_app(__name__, config, error_map=ERROR_MAP, verifier=verifier,
                             blueprints={portal.bp: CLIENT_ROLES, staff.bp: STAFF_ROLES})
    extra = {"clock": clock} if clock else {}
    app.extensions["messaging"] = MessagingService(config=config, sessions=session_factory(config.database_url),
                                                   store=store, **extra)
    return app
