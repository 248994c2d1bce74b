"""AutoPay: a client's enrolment (Enrolment, from the API) and the nightly run (AutopayRunner, from the beat, the
cli and the staff API).

Enrolment: staff switch a client's AutoPay on or off (on only while the practice's switch, confirmed with identity,
allows it); each change starts a clean count of failed nights, and an enrolment a new AutoPay period (the run
charges balances from invoices issued after it).

The nightly run: charge the default card for the full balance of each enrolled client whose
balance comes from an invoice issued since AutoPay last succeeded for them.

The idempotency key is derived from the run (the practice's calendar date) and the client, so running
the same night again never charges twice; a failed night tells the client when AutoPay tries again (the next
night's run, autopay.charge_failed); three failed nights in a row switch AutoPay off for that client and tell the
practice (autopay.disabled; charge_failed then says no next attempt).

The practice's AutoPay switch is asked of identity before the run and again before each charge: switched off,
the charges not made yet are not made; identity not answering, the run stops unfinished and the beat's next
tick runs the night again (the keys make that safe). Billing's projection of the switch only refuses sooner.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, date, datetime, time, timedelta
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


def run_at(day: date, timezone: str, hour: int, minute: int) -> datetime:
    """The UTC instant the night's run of the practice's calendar day `day` is due: the first moment the practice's
    clock reads hour:minute or later (due_now's test). In the autumn's repeated hour, its first occurrence; in the
    spring's skipped hour, the jump itself (the first instant the clock reads past it)."""
    zone = ZoneInfo(timezone)
    local = datetime.combine(day, time(hour, minute), tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    # A wall time the clocks skip: read with the offset after the jump (fold=1) it is an instant before the
    # jump, with the offset before (fold=0) one after it; transitions are on whole seconds.
    lo, hi = math.floor(local.replace(fold=1).astimezone(UTC).timestamp()), math.floor(instant.timestamp())
    offset_before = datetime.fromtimestamp(lo, UTC).astimezone(zone).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(zone).utcoffset() == offset_before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


def next_run_at(after: datetime, timezone: str, hour: int, minute: int) -> datetime:
    """The first nightly run time (run_at) later than `after`: tonight's if the practice's clock has not reached
    hour:minute yet, else tomorrow's."""
    day = after.astimezone(ZoneInfo(timezone)).date()
    at = run_at(day, timezone, hour, minute)
    return at if at > after else run_at(day + timedelta(days=1), timezone, hour, minute)


class AutopayRunner:
    def __init__(self, *, sessions: sessionmaker[Session], payments: PaymentsClient, max_failures: int = 3,
                 settings: SettingsSource | None = None, hour: int | None = None, minute: int | None = None):
        self.sessions = sessions
        self.payments = payments
        self.max_failures = max_failures
        self.settings = settings or _identity_settings()
        # The nightly run's practice-local time (the beat's AUTOPAY_HOUR:AUTOPAY_MINUTE): a failed night's
        # notice says when the next run tries again. Not given, the environment's (BillingConfig's).
        if hour is None or minute is None:
            hour, minute = _nightly_time()
        self.hour, self.minute = hour, minute

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
            # the next night's run: the practice's next calendar day after this run's, at the nightly time
            next_night = run_at(date.fromisoformat(key) + timedelta(days=1), practice.timezone, self.hour,
                                self.minute)
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
            outcome = self._charge_one(client_id, key, currency, now, next_night)
            summary[outcome] = summary.get(outcome, 0) + 1
        with unit_of_work(self.sessions) as session:
            run = session.get(AutopayRun, run_id)
            run.finished_at = utcnow() if finished else None
            run.summary = summary
            log.info("autopay run finished", extra={"fields": {"run_key": key, **summary}})
            return _view(run)

    def _charge_one(self, client_id: str, key: str, currency: str, now: datetime, next_night: datetime) -> str:
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
            disabled = account.autopay_failures >= self.max_failures
            ledger.publish(session, "autopay.charge_failed", {
                "client_id": client_id, "payment_id": attempt.payment_id, "failures": account.autopay_failures,
                "failure_code": attempt.failure_code,
                "next_attempt_at": None if disabled else next_night.isoformat(), "autopay_enabled": not disabled})
            if disabled:
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


def _nightly_time() -> tuple[int, int]:
    from services.billing.config import BillingConfig

    config = BillingConfig()
    return config.autopay_hour, config.autopay_minute


def _view(run: AutopayRun) -> dict:
    return {"run_key": run.run_key, "trigger": run.trigger, "started_at": run.started_at,
            "finished_at": run.finished_at, "summary": dict(run.summary or {})}


def settle_failed_charge(session: Session, payload: dict, *, max_failures: int = 3) -> None:
    """payment.failed of an AutoPay charge that had answered "processing" (reconciliation found it failed): the
    night counts as failed after all, and the client is told (autopay.charge_failed); no night is run again for
    it (the run counted it paid): AutoPay charges the balance after the next invoice, or the client pays it."""
    if payload.get("source") != "autopay" or not payload.get("payment_id"):
        return
    attempt = session.scalars(select(AutopayAttempt).where(AutopayAttempt.payment_id == payload["payment_id"])
                              .with_for_update()).first()
    if attempt is None or attempt.status != "processing":
        return  # failed at once (the run told the client already), or not ours
    account = ledger.lock_account(session, attempt.client_id)
    attempt.status, attempt.failure_code = "failed", payload.get("failure_code")
    account.autopay_failures += 1
    disabled = account.autopay_failures >= max_failures
    ledger.publish(session, "autopay.charge_failed", {
        "client_id": attempt.client_id, "payment_id": attempt.payment_id, "failures": account.autopay_failures,
        "failure_code": attempt.failure_code, "next_attempt_at": None, "autopay_enabled": not disabled})
    if disabled:
        account.autopay_enabled = False
        ledger.publish(session, "autopay.disabled", {
            "client_id": attempt.client_id, "failures": account.autopay_failures,
            "last_failure_code": attempt.failure_code,
            "reason": f"{account.autopay_failures} failed AutoPay nights in a row"})
