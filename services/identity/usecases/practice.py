"""The practice settings: one row, made (and announced) on the first read, changed by staff, read by the suite."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.identity.models import PracticeSettings
from services.identity.usecases.base import UseCase
from shared.db import unit_of_work

SETTINGS_FIELDS = ("practice_name", "self_scheduling_enabled", "online_payments_enabled",
                   "billing_documents_enabled", "autopay_enabled", "currency", "timezone", "phone", "email",
                   "address")


class Practice(UseCase):
    def settings_row(self, session: Session, *, lock: bool = False) -> PracticeSettings:
        """The settings row in `session`'s transaction; the first read of all makes it."""
        stmt = select(PracticeSettings).where(PracticeSettings.id == 1)
        settings = session.scalars(stmt.with_for_update() if lock else stmt).first()
        if settings is None:
            settings = PracticeSettings(id=1, practice_name=self.config.practice_name, address={},
                                        self_scheduling_enabled=False, online_payments_enabled=False,
                                        billing_documents_enabled=True, autopay_enabled=False, currency="USD",
                                        timezone="America/New_York")
            session.add(settings)
            session.flush()
            # Other services keep a copy: they learn the first values as they learn every change.
            self._publish(session, "practice.settings_changed",
                          {"settings": {n: getattr(settings, n) for n in SETTINGS_FIELDS}, "changed_fields": []})
        return settings

    def name(self, session: Session) -> str:
        return self.settings_row(session).practice_name

    def get_settings(self) -> dict:
        with unit_of_work(self.sessions) as session:
            settings = self.settings_row(session)
            return {name: getattr(settings, name) for name in SETTINGS_FIELDS}

    def current_settings(self) -> dict:
        """The settings at this moment in one autocommit read (no transaction): what payments and billing ask
        before each decision a switch controls, so it runs once per payment."""
        with self.reads() as session:
            settings = session.get(PracticeSettings, 1)
            if settings is not None:
                return {name: getattr(settings, name) for name in SETTINGS_FIELDS}
        return self.get_settings()  # the very first read makes the row

    def update_settings(self, changes: dict) -> dict:
        with unit_of_work(self.sessions) as session:
            settings = self.settings_row(session, lock=True)
            for name, value in changes.items():
                setattr(settings, name, dict(value) if name == "address" else value)
            session.flush()
            result = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
            if changes:
                self._publish(session, "practice.settings_changed",
                              {"settings": result, "changed_fields": sorted(changes)})
            return result
