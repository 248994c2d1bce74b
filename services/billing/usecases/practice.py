"""The practice as billing keeps it: the settings copied from identity's events (PRACTICE_FIELDS, see
projections.py) and billing's own profile, the provider a superbill names (PROFILE_FIELDS), read and edited by
staff."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.billing import ledger
from services.billing.usecases.base import Context
from shared.db import unit_of_work

PRACTICE_FIELDS = ("practice_name", "currency", "timezone", "phone", "email", "address", "online_payments_enabled",
                   "billing_documents_enabled", "autopay_enabled")
PROFILE_FIELDS = ("provider_name", "provider_credentials", "npi", "tax_id", "license", "place_of_service")


def practice_view(session: Session) -> dict:
    p = ledger.practice(session)
    return {name: getattr(p, name) for name in PRACTICE_FIELDS + PROFILE_FIELDS}


class Profile:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def get_profile(self) -> dict:
        with unit_of_work(self.ctx.sessions) as session:
            return practice_view(session)

    def update_profile(self, data: dict) -> dict:
        with unit_of_work(self.ctx.sessions) as session:
            p = ledger.practice(session)
            for name, value in data.items():
                setattr(p, name, value)
            session.flush()
            return practice_view(session)
