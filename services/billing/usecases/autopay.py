"""AutoPay: a client's enrolment (Enrolment, from the API) and the nightly run (AutopayRunner, from the beat, the
cli and the staff API).

Enrolment: staff switch a client's AutoPay on or off (on only while the practice's switch, confirmed with identity,
allows it); each change starts a clean count of failed nights, and an enrolment a new AutoPay period (the run
charges balances from invoices issued after it).

The nightly run: charge the default card for the full balance of each enrolled client whose
balance comes from an invoice issued since AutoPay last succeeded for them.

The idempotency key is derived from the run (the practice's calendar date) and the client, so running
the same night again never charges twice; three failed nights in a row switch AutoPay off for that
client and tell the practice (autopay.disabled).

The practice's AutoPay switch is asked of identity before the run and again before each charge: switched off,
the charges not made yet are not made; identity not answering, the run stops unfinished and the beat's next
tick runs the night again (the keys make that safe). Billing's projection of the switch only refuses sooner.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from services.billing import ledger
from services.billing.domain.errors import AutopayOff
from services.billing.models import Account, AutopayAttempt, AutopayRun, Invoice
from services.billing.payments_client import PaymentsClient, PaymentsUnavailable
from services.billing.usecases.base import Context, require_switch
from shared.db import unit_of_work, utcnow
from shared.practice_settings import PracticeSettings, SettingsSource, SettingsUnavailable, confirm

log = logging.getLogger(__name__)
FINAL = {"succeeded", "failed", "processing"}


class Enrolment:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def set_autopay(self, client_id: str, enabled: bool) -> dict:
        if enabled:  # asked before the account lock: a call to identity is never made holding one
            require_switch(self.ctx, "autopay_enabled", AutopayOff("Turn AutoPay on in the practice settings first."))
        with unit_of_work(self.ctx.sessions) as session:
            account = ledger.lock_account(session, client_id)
            if enabled and not account.autopay_enabled:
                account.autopay_since = utcnow()
            account.autopay_enabled = enabled
            account.autopay_failures = 0
            ledger.publish(session, "autopay.changed", {"client_id": client_id, "enabled": enabled})
            return {"client_id": client_id, "autopay_enabled": enabled}


class AutopayRunner:
    def __init__(self, *, sessions: sessionmaker[Session], payments: PaymentsClient, max_failures: int = 3,
                 settings: SettingsSource | None = None):
        self.sessions = sessions
        self.payments = payments
        self.max_failures = max_failures
        self.settings = settings or _identity_settings()

    def _autopay_on(self) -> bool | None:
        """Identity's answer now (None: it cannot say, so nothing is charged)."""
        try:
            return confirm(self.settings, "autopay_enabled")
        except SettingsUnavailable:
            return None

    def run_key(self, session: Session, now: datetime) -> str:
        return now.astimezone(ZoneInfo(ledger.practice(session).timezone)).date().isoformat()

    def due_now(self, now: datetime, hour: int, minute: int) -> bool:
        """The beat ticks often; a run is due once the practice's local time has reached hour:minute."""
        with unit_of_work(self.sessions) as session:
            local = now.astimezone(ZoneInfo(ledger.practice(session).timezone))
            key = local.date().isoformat()
            done = session.scalars(select(AutopayRun.id).where(AutopayRun.run_key == key,
                                                               AutopayRun.finished_at.is_not(None))).first()
            return done is None and (local.hour, local.minute) >= (hour, minute)

    def run(self, *, trigger: str, now: datetime | None = None) -> dict:
        now = now or utcnow()
        with unit_of_work(self.sessions) as session:
            practice = ledger.practice(session)
            key = self.run_key(session, now)
            run = AutopayRun(run_key=key, trigger=trigger, started_at=now, summary={})
            session.add(run)
            session.flush()
            run_id = run.id
            if not practice.autopay_enabled:
                run.finished_at = utcnow()
                run.summary = {"skipped": "AutoPay is off for the practice"}
                return _view(run)
            currency = practice.currency
            newer_invoice = exists().where(Invoice.client_id == Account.client_id,
                                           Invoice.issued_at > Account.autopay_since)
            candidates = list(session.scalars(select(Account.client_id).where(Account.autopay_enabled.is_(True),
                                                                              newer_invoice)))
        on = self._autopay_on()
        if not on:
            with unit_of_work(self.sessions) as session:
                run = session.get(AutopayRun, run_id)
                if on is None:  # left unfinished: the night is still due at the next tick
                    run.summary = {"skipped": "the practice's AutoPay setting could not be confirmed; the next "
                                              "tick tries again", "candidates": len(candidates)}
                else:
                    run.finished_at = utcnow()
                    run.summary = {"skipped": "AutoPay is off for the practice"}
                log.warning("autopay run skipped", extra={"fields": {"run_key": key, **run.summary}})
                return _view(run)
        summary = {"candidates": len(candidates), "charged": 0, "failed": 0, "processing": 0, "skipped": 0,
                   "errors": 0, "disabled": 0}
        finished = True
        for index, client_id in enumerate(candidates):
            if index and not (on := self._autopay_on()):  # asked again before each charge after the first
                left = len(candidates) - index
                if on is None:
                    finished, summary["unconfirmed"] = False, left
                else:
                    summary["skipped"] += left
                break
            outcome = self._charge_one(client_id, key, currency, now)
            summary[outcome] = summary.get(outcome, 0) + 1
        with unit_of_work(self.sessions) as session:
            run = session.get(AutopayRun, run_id)
            run.finished_at = utcnow() if finished else None
            run.summary = summary
            log.info("autopay run finished", extra={"fields": {"run_key": key, **summary}})
            return _view(run)

    def _charge_one(self, client_id: str, key: str, currency: str, now: datetime) -> str:
        idempotency_key = f"autopay:{key}:{client_id}"
        with unit_of_work(self.sessions) as session:
            account = ledger.lock_account(session, client_id)
            attempt = session.scalars(select(AutopayAttempt).where(AutopayAttempt.idempotency_key ==
                                                                   idempotency_key)).first()
            if attempt is not None and attempt.status in FINAL:
                return "skipped"  # this night already charged (or failed) this client: never twice
            amount = ledger.balance(session, client_id)
            if amount <= 0 or not account.autopay_enabled:
                return "skipped"
            if attempt is None:
                attempt = AutopayAttempt(idempotency_key=idempotency_key, run_key=key, client_id=client_id,
                                         amount_cents=amount, status="started")
                session.add(attempt)
            amount = attempt.amount_cents  # a retried call repeats the first amount: same key, same request
        try:
            answer = self.payments.autopay_charge(client_id=client_id, amount_cents=amount, currency=currency,
                                                  idempotency_key=idempotency_key)
        except PaymentsUnavailable as exc:
            with unit_of_work(self.sessions) as session:
                attempt = session.scalars(select(AutopayAttempt).where(
                    AutopayAttempt.idempotency_key == idempotency_key)).one()
                attempt.status = "error"
                attempt.failure_code = str(exc)[:50]
            log.warning("autopay: payments unavailable", extra={"fields": {"client_id": client_id}})
            return "errors"
        status = answer.get("status")
        with unit_of_work(self.sessions) as session:
            account = ledger.lock_account(session, client_id)
            attempt = session.scalars(select(AutopayAttempt).where(
                AutopayAttempt.idempotency_key == idempotency_key)).one()
            attempt.status = status if status in FINAL else "failed"
            attempt.payment_id = answer.get("id")
            attempt.failure_code = answer.get("failure_code")
            if attempt.status in ("succeeded", "processing"):
                account.autopay_failures = 0
                account.autopay_since = now
                return "charged" if attempt.status == "succeeded" else "processing"
            account.autopay_failures += 1
            if account.autopay_failures >= self.max_failures:
                account.autopay_enabled = False
                ledger.publish(session, "autopay.disabled", {
                    "client_id": client_id, "failures": account.autopay_failures,
                    "last_failure_code": attempt.failure_code,
                    "reason": f"{account.autopay_failures} failed AutoPay nights in a row"})
                return "disabled"
            return "failed"


def _identity_settings() -> PracticeSettings:
    from services.billing.config import BillingConfig

    config = BillingConfig()
    return PracticeSettings(config.identity_url, config.internal_api_key, timeout=config.identity_timeout)


def _view(run: AutopayRun) -> dict:
    return {"run_key": run.run_key, "trigger": run.trigger, "started_at": run.started_at,
            "finished_at": run.finished_at, "summary": dict(run.summary or {})}
