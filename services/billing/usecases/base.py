"""What every use case of billing stands on: its connections and identity's settings (Context), the practice's
switches confirmed at the moment of a decision (require_switch), and the practice's calendar days (period).
The writes that move money, and the outbox, are services/billing/ledger.py's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from services.billing import ledger
from services.billing.domain.errors import BillingError, SettingsUnknown
from services.billing.domain.periods import Period, calendar_period
from shared.db import unit_of_work
from shared.practice_settings import SettingsSource, SettingsUnavailable, confirm


@dataclass(frozen=True)
class Context:
    config: object  # BillingConfig
    sessions: sessionmaker[Session]
    # identity's current settings: the switches a decision must find on at that moment
    settings: SettingsSource


def require_switch(ctx: Context, switch: str, refusal: BillingError) -> None:
    """A decision the practice's switch must allow now: the projection says off -> refused without asking;
    on -> identity confirms (off there: refused; no answer: 503, try again). The projection lags (and for
    as long as the broker is down); identity owns the switch."""
    with unit_of_work(ctx.sessions) as session:
        on = bool(getattr(ledger.practice(session), switch))
    try:
        if on and confirm(ctx.settings, switch):
            return
    except SettingsUnavailable:
        raise SettingsUnknown("The practice's settings cannot be confirmed right now; try again in a moment.",
                              headers={"Retry-After": "5"}) from None
    raise refusal


def period(session: Session, start: date | None, end: date | None) -> Period:
    """Dates are the practice's calendar days."""
    return calendar_period(start, end, ledger.practice(session).timezone)
