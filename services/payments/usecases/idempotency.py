"""Idempotency-Keys held by another request: waiting for that request's answer, and telling whether one holds
the key at all. Claiming a key is part of the use case that runs under it (paying.PAYER_SQL, the refund's
transaction); completing it, part of the settle."""

from __future__ import annotations

import time as clock
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.payments.domain.errors import IdempotencyConflict, RequestInProgress
from services.payments.models import Account, IdempotencyKey, Payment
from services.payments.usecases.base import Context
from services.payments.usecases.history import view
from shared.db import unit_of_work, utcnow


def await_key(ctx: Context, scope: str, key: str, digest: str, deadline: float,
              answer: Callable[[Session, IdempotencyKey], object], *, reused: str, running: str):
    """`answer` of the key once the request holding it is done (waiting while that request runs); None when the
    key is free (that request was refused and stored nothing). `reused` and `running` are what the caller is told
    when the key was used for another request, or its request is still running at `deadline`."""
    while True:
        with unit_of_work(ctx.sessions) as session:
            row = session.get(IdempotencyKey, (scope, key))
            if row is None:
                return None
            if row.request_hash != digest:
                raise IdempotencyConflict(reused)
            if row.status == "done":
                return answer(session, row)
        if clock.monotonic() > deadline:
            raise RequestInProgress(running)
        clock.sleep(0.05)


class PaymentKeys:
    """The keys of Pay Now and AutoPay's charges (scope client:<id> or autopay:<id>)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def await_answer(self, scope: str, key: str, digest: str, deadline: float) -> tuple[int, dict] | None:
        """The answer stored under a key another request holds (waiting while that request runs); None when
        the key is free again (that request was refused and stored nothing)."""
        return await_key(self.ctx, scope, key, digest, deadline,
                         lambda session, row: (row.response_status, self._replay(session, row)),
                         reused="This Idempotency-Key was already used with a different request.",
                         running="The first request with this key is still running; try again shortly.")

    @staticmethod
    def _replay(session: Session, row: IdempotencyKey) -> dict:
        """The same payment again; its status may have moved on (processing -> succeeded) since."""
        if row.payment_id:
            payment = session.get(Payment, row.payment_id)
            if payment is not None:
                return view(session, payment)
        return dict(row.response_body or {})

    def claimed(self, client_id: str, scope: str, key: str) -> bool:
        """Whether a request holds this key, committed or not. Keys are claimed under the client's account lock,
        so the probe first takes that lock: it waits for a request that holds it or is queued for it (PostgreSQL
        grants a row lock to its waiters in turn), which has then claimed the key or been refused. The probe
        insert also waits on an uncommitted claim (the unique index); all of it is rolled back."""
        keys = IdempotencyKey.__table__
        with self.ctx.sessions() as session:
            try:
                session.execute(select(Account.client_id).where(Account.client_id == client_id).with_for_update())
                return session.execute(
                    pg_insert(keys).values(scope=scope, key=key, request_hash="", status="in_progress",
                                           expires_at=utcnow()).on_conflict_do_nothing().returning(keys.c.key)
                ).first() is None
            finally:
                session.rollback()
