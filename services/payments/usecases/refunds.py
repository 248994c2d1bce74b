"""Refunds (staff only): part or all of a payment that went through, once per Idempotency-Key, settled from the
processor's answer or, when that was lost, by reconciliation (asked by our refund id as its reference)."""

from __future__ import annotations

import time as clock
from datetime import timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from services.payments.domain.errors import PaymentNotFound
from services.payments.domain.idempotency import refund_scope, request_hash
from services.payments.domain.refunds import check_refund_amount, check_refundable
from services.payments.models import IdempotencyKey, Payment, Refund
from services.payments.processor import (
    ProcessorError,
    ProcessorRejected,
    ProcessorTimeout,
    ProcessorUnavailable,
    RefundResult,
)
from services.payments.usecases.base import Context, publish
from services.payments.usecases.idempotency import await_key
from shared.db import new_id, unit_of_work, utcnow

# A refund's Idempotency-Key (scope refund:<payment id>) names its refund in response_body.
REFUND_KEY_DONE = text("UPDATE idempotency_keys SET status = 'done', response_status = 201 WHERE scope = :scope"
                       " AND status = 'in_progress' AND response_body ->> 'refund_id' = :refund_id")


class Refunds:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def refund(self, payment_id: str, amount_cents: int, reason: str, staff_id: str,
               key: str | None = None) -> dict:
        """Refund part of a payment. With an Idempotency-Key (scoped to the payment), the key is claimed under the
        payment's lock, in the refund's own transaction: the same key and body answer that one refund (waiting for
        it to settle), the same key with another body is a 409, and a refused refund leaves the key free."""
        scope, digest = refund_scope(payment_id), request_hash({"amount_cents": amount_cents, "reason": reason})
        with unit_of_work(self.ctx.sessions) as session:
            payment = session.get(Payment, payment_id, with_for_update=True)  # refunds of one payment in turn
            if payment is None:
                raise PaymentNotFound("No payment with this id.")
            replay = key is not None and session.get(IdempotencyKey, (scope, key)) is not None
            if not replay:
                refund, charge_id = self._new_refund(session, payment, amount_cents, reason, staff_id, scope, key,
                                                     digest)
        if replay:  # the key's refund (the lock is released first: its request needs it to settle)
            return self._replayed_refund(scope, key, digest)
        try:
            result = self.ctx.processor.refund(charge_id=charge_id, amount_cents=amount_cents, reference=refund.id)
        except (ProcessorTimeout, ProcessorUnavailable):
            result = None  # reconciled later by reference
        except ProcessorRejected as exc:  # refused outright (a key it does not take, say): nothing was refunded
            result = RefundResult(status="failed", refund_id=None, failure_code=exc.code or "processor_rejected")
        return self._settle_refund(refund.id, result)

    def _new_refund(self, session: Session, payment: Payment, amount_cents: int, reason: str, staff_id: str,
                    scope: str, key: str | None, digest: str) -> tuple[Refund, str]:
        """The refund written as pending (and its key claimed), under the payment's lock, after every check."""
        check_refundable(payment.status)
        pending = session.scalar(select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
            Refund.payment_id == payment.id, Refund.status == "pending"))
        check_refund_amount(amount_cents, amount_cents=payment.amount_cents, refunded_cents=payment.refunded_cents,
                            pending_refunds_cents=int(pending))
        refund = Refund(id=new_id(), payment_id=payment.id, client_id=payment.client_id, amount_cents=amount_cents,
                        reason=reason, status="pending", created_by=staff_id)
        session.add(refund)
        if key is not None:
            session.add(IdempotencyKey(scope=scope, key=key, request_hash=digest, status="in_progress",
                                       payment_id=payment.id, response_body={"refund_id": refund.id},
                                       expires_at=utcnow() + timedelta(hours=self.ctx.config.idempotency_ttl_hours)))
        return refund, payment.processor_charge_id

    def _replayed_refund(self, scope: str, key: str, digest: str) -> dict:
        """The refund made under this key, once its request has settled it (or left it to reconciliation)."""
        deadline = clock.monotonic() + self.ctx.config.idempotency_wait_seconds
        answer = await_key(self.ctx, scope, key, digest, deadline,
                           lambda session, row: self._refund_view(
                               session.get(Refund, (row.response_body or {})["refund_id"])),
                           reused="This Idempotency-Key was already used for a different refund.",
                           running="The first refund with this key is still running; try again shortly.")
        if answer is None:  # seen under the payment's lock a moment ago; only its expiry deletes a refund's key
            raise LookupError(f"the refund key {scope} went away while its refund was replayed")
        return answer

    def reconcile_refund(self, refund_id: str) -> None:
        """A pending refund settled from what the processor says of it; one the processor never saw, once no call
        can still be on its way, failed (and its key answers that)."""
        try:
            found = self.ctx.processor.find_refund(refund_id)
        except ProcessorError:
            return
        if found is None:
            with unit_of_work(self.ctx.sessions) as session:
                refund = session.get(Refund, refund_id, with_for_update=True)
                in_flight_until = utcnow() - timedelta(seconds=self.ctx.in_flight_seconds)
                if refund.status == "pending" and refund.created_at <= in_flight_until:
                    refund.status, refund.failure_code = "failed", "processor_unavailable"
                    # its key answers this failed refund now (left in progress, every repeat would wait and be
                    # told "still running" for as long as the key lives, and the key would never expire)
                    session.execute(REFUND_KEY_DONE, {"scope": refund_scope(refund.payment_id),
                                                      "refund_id": refund.id})
            return
        self._settle_refund(refund_id, found)

    def _settle_refund(self, refund_id: str, result) -> dict:
        """Settles a pending refund from the processor's answer (None: unknown, left to reconciliation) and marks
        the Idempotency-Key it was made under (if any) done: a repeat of the request then answers this refund.
        Reconciliation comes here too, so a key left in progress by a crash is completed with its refund."""
        with unit_of_work(self.ctx.sessions) as session:
            refund = session.get(Refund, refund_id, with_for_update=True)
            if refund.status == "pending" and result is not None:
                payment = session.get(Payment, refund.payment_id, with_for_update=True)
                if result.succeeded:
                    refund.status = "succeeded"
                    refund.processor_refund_id = result.refund_id
                    payment.refunded_cents += refund.amount_cents
                    publish(session, "payment.refunded", {
                        "refund_id": refund.id, "payment_id": payment.id, "client_id": payment.client_id,
                        "amount_cents": refund.amount_cents, "currency": payment.currency, "reason": refund.reason})
                else:
                    refund.status = "failed"
                    refund.failure_code = result.failure_code
            session.execute(REFUND_KEY_DONE, {"scope": refund_scope(refund.payment_id), "refund_id": refund.id})
            return self._refund_view(refund)

    @staticmethod
    def _refund_view(refund: Refund) -> dict:
        return {"id": refund.id, "payment_id": refund.payment_id, "amount_cents": refund.amount_cents,
                "status": refund.status, "failure_code": refund.failure_code, "reason": refund.reason,
                "created_at": refund.created_at}
