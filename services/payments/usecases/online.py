"""Whether the practice takes payments online, at the moment of each decision it controls: Pay Now and saving
a card. Identity is asked (shared.practice_settings): the switch turned off holds for the next request already,
whatever payments' projection (which lags by the relay, and for as long as the broker is down) still says."""

from __future__ import annotations

from sqlalchemy import select

from services.payments.domain.errors import OnlinePaymentsOff, PaymentsError, SettingsUnknown
from services.payments.models import Practice
from services.payments.usecases.base import Context
from shared.db import unit_of_work
from shared.practice_settings import SettingsUnavailable, confirm


class OnlinePayments:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def refusal_to_pay(self) -> PaymentsError | None:
        """None when identity says now that online payments are on; otherwise Pay Now's refusal. (The reserve
        checks the projection too, under the account lock.)"""
        try:
            if confirm(self.ctx.settings, "online_payments_enabled"):
                return None
            return OnlinePaymentsOff("Your practice does not take payments online; contact them to pay.")
        except SettingsUnavailable:
            return self._unknown()

    def require_for_cards(self) -> None:
        """Saving a card is part of online payments (seeds: "available for practices enrolled in online
        payment processing"): the projection says off -> refused without asking; on -> identity confirms."""
        if self._projection_on():
            try:
                if confirm(self.ctx.settings, "online_payments_enabled"):
                    return
            except SettingsUnavailable:
                raise self._unknown() from None
        raise OnlinePaymentsOff("Your practice does not take payments online, so cards cannot be saved.")

    def _unknown(self) -> PaymentsError:
        """Identity cannot say: the projection may still refuse for sure (off); otherwise "try again"."""
        if not self._projection_on():
            return OnlinePaymentsOff("Your practice does not take payments online; contact them to pay.")
        return SettingsUnknown("We could not confirm that your practice takes payments online right now; nothing "
                               "was charged. Try again in a moment.", headers={"Retry-After": "5"})

    def _projection_on(self) -> bool:
        with unit_of_work(self.ctx.statement_sessions) as session:
            return bool(session.scalar(select(Practice.online_payments_enabled).where(Practice.id == 1)))
