"""Scheduling's use cases (usecases/, one module each) behind one object, SchedulingService
(app.extensions["scheduling"]; the routes, the beat, bench): `setup` (sites, clinicians, types, availability),
`appointments` (what is offered, requests, bookings and every status change, the lists), `calendar` (the private
feed), `policy` (scheduling's settings), `reminders` (the beat's). The rules are in domain/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.scheduling.usecases.appointments import Appointments
from services.scheduling.usecases.base import Context
from services.scheduling.usecases.calendar import Calendar
from services.scheduling.usecases.practice import Policy
from services.scheduling.usecases.reminders import Reminders
from services.scheduling.usecases.setup import Setup
from shared.db import utcnow
from shared.practice_settings import PracticeSettings, SettingsSource


class SchedulingService:
    def __init__(self, *, config, sessions: sessionmaker[Session], settings: SettingsSource | None = None,
                 clock: Callable[[], datetime] = utcnow):
        settings = settings or PracticeSettings(config.identity_url, config.internal_api_key,
                                                timeout=config.identity_timeout)
        self.ctx = Context(config=config, sessions=sessions, settings=settings, clock=clock)
        self.setup = Setup(self.ctx)
        self.appointments = Appointments(self.ctx)
        self.calendar = Calendar(self.ctx)
        self.policy = Policy(self.ctx)
        self.reminders = Reminders(self.ctx)
