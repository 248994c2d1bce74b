"""Reconciliation (celery beat, every minute; `cli reconcile`; staff's POST /payments/reconcile): every payment
and refund whose outcome we do not know, asked of the processor by our reference; and the Idempotency-Keys that
have lived their time."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from services.payments.domain.outcomes import UNSETTLED
from services.payments.models import IdempotencyKey, Payment, Refund
from services.payments.processor import ProcessorError
from services.payments.usecases.base import Context
from services.payments.usecases.paying import settle
from services.payments.usecases.refunds import Refunds
from shared.db import unit_of_work, utcnow

log = logging.getLogger(__name__)


class Reconciliation:
    def __init__(self, ctx: Context, refunds: Refunds):
        self.ctx = ctx
        self.refunds = refunds

    def reconcile(self, *, older_than_seconds: int | None = None) -> dict:
        """Asks the processor about every payment (and refund) whose outcome we do not know."""
        config = self.ctx.config
        threshold = utcnow() - timedelta(seconds=config.reconcile_after_seconds if older_than_seconds is None
                                         else older_than_seconds)
        with unit_of_work(self.ctx.sessions) as session:
            ids = list(session.scalars(select(Payment.id).where(Payment.status.in_(UNSETTLED),
                                                                Payment.created_at <= threshold)))
            refund_ids = list(session.scalars(select(Refund.id).where(Refund.status == "pending",
                                                                      Refund.created_at <= threshold)))
        summary = {"payments": len(ids), "succeeded": 0, "failed": 0, "unknown": 0, "refunds": len(refund_ids)}
        in_flight_until = utcnow() - timedelta(seconds=self.ctx.in_flight_seconds)
        for payment_id in ids:
            try:
                found = self.ctx.processor.find_charge(payment_id)
            except ProcessorError:
                summary["unknown"] += 1
                continue
            with unit_of_work(self.ctx.sessions) as session:
                table = Payment.__table__
                locked = session.execute(select(*table.c).where(table.c.id == payment_id).with_for_update()).one()
                if locked.status not in UNSETTLED:
                    continue
                if found is None and locked.created_at > in_flight_until:
                    # Not at the processor *yet*: the charge call may still be on its way. Only a record
                    # settles a young payment; "nothing was charged" is decided once no call can be in flight.
                    summary["unknown"] += 1
                    continue
                payment = settle(session, locked, found)
                summary[payment.status] = summary.get(payment.status, 0) + 1
                # also completes a key left in progress by a crash mid-request
                session.execute(update(IdempotencyKey).where(IdempotencyKey.payment_id == payment_id).values(
                    status="done", response_status=func.coalesce(IdempotencyKey.response_status, 201)))
        for refund_id in refund_ids:
            self.refunds.reconcile_refund(refund_id)
        with unit_of_work(self.ctx.sessions) as session:  # keys live IDEMPOTENCY_TTL_HOURS (48 h), then go
            summary["expired_keys"] = session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.expires_at < utcnow(), IdempotencyKey.status == "done")).rowcount
            # a request that died before it reserved a payment charged nothing: its key is free again
            # (keys claimed since 0002 name their payment from the start; this clears older ones)
            summary["abandoned_keys"] = session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.status == "in_progress", IdempotencyKey.payment_id.is_(None),
                IdempotencyKey.created_at < in_flight_until)).rowcount
        log.info("reconciliation done", extra={"fields": summary})
        return summary
