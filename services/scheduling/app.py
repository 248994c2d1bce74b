"""Scheduling: sites, clinicians, appointment types, availability, requests and bookings, reminders, calendars."""

from __future__ import annotations

from services.scheduling.api import feeds, portal, staff
from services.scheduling.api.errors import ERROR_MAP
from services.scheduling.config import SchedulingConfig
from services.scheduling.service import SchedulingService
from shared.auth import CLIENT_ROLES, STAFF_ROLES, TokenVerifier
from shared.db import session_factory
from shared.kit import create_service_app
from shared.practice_settings import SettingsSource


def create_app(config: SchedulingConfig | None = None, *, verifier: TokenVerifier | None = None,
               settings: SettingsSource | None = None, clock=None):
    config = config or SchedulingConfig()
    app = create_service_app(__name__, config, error_map=ERROR_MAP, verifier=verifier,
                             blueprints={portal.bp: CLIENT_ROLES, staff.bp: STAFF_ROLES, feeds.bp: None})
    app.config["PORTAL_BASE_URL"] = config.portal_base_url  # the calendar feed's public address
    extra = {"clock": clock} if clock else {}
    app.extensions["scheduling"] = SchedulingService(config=config, sessions=session_factory(config.database_url),
                                                     settings=settings, **extra)
    return app
