"""Pay Now and AutoPay's charges, with exactly-once charges.

A charge goes in three steps, so money moves once whatever happens in between:
1. in one transaction: claim the Idempotency-Key (a row naming the payment about to be written; a
   concurrent duplicate waits on the unique index), then, under the client's account lock, check the
   amount against what is payable and write the payment as `pending` (it now counts against the balance
   for every concurrent request), with payment.attempted. A refusal rolls all of it back, key included;
2. outside any transaction, charge with our payment id as the processor's reference;
3. settle the payment, record its outcome event and mark the key done, in one statement. A timeout
   leaves it `processing` for reconciliation (reconciliation.py), which asks the processor by reference:
   never a second charge, never a silent loss.

What is payable, which card is charged and how a payment settles are decided in domain/; this module reads
and writes what those decisions need, with the statements built once beside the step that runs them.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time as clock
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import BigInteger, Boolean, Integer, String, bindparam, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.payments.domain.cards import LegacyCard, card_to_charge
from services.payments.domain.errors import NothingToPay, OnlinePaymentsOff, PaymentsError, ProcessorDown
from services.payments.domain.idempotency import payment_scope, request_hash
from services.payments.domain.outcomes import UNSETTLED, outcome_event, settlement
from services.payments.domain.rules import amount_to_reserve, check_currency
from services.payments.models import OPEN_PAYMENT_SQL, IdempotencyKey, Payment, PaymentMethod, Practice, outbox
from services.payments.processor import (
    ChargeResult,
    ProcessorError,
    ProcessorTimeout,
    ProcessorUnavailable,
    failure_message,
)
from services.payments.projections import practice
from services.payments.usecases.base import Context
from services.payments.usecases.cards import Cards, NewCard
from services.payments.usecases.history import view
from services.payments.usecases.idempotency import PaymentKeys
from services.payments.usecases.online import OnlinePayments
from shared.db import Json, UTCDateTime, new_id, unit_of_work, utcnow
from shared.events import announcing, event_if_any, event_params, make_event, outbox_row

log = logging.getLogger(__name__)

# --- Pay Now's statements, built once: SQLAlchemy then neither builds nor compiles them per payment ---------

# The client's account row locked (one payment decision per client at a time), with the practice's settings;
# and, under that lock, the request's Idempotency-Key claimed, already naming the payment about to be written.
# The claim selects from the locked row, so it runs after the lock is held: every claim of a client's keys is
# made under that client's lock, and a concurrent request with the same key waits on the account row, then finds
# the key taken (or free, if the first request was refused and rolled back). No account: no row, no claim.
# After a wait for the lock, PostgreSQL reads the locked row again, but nothing else in this statement: what
# must be as of after the wait is read by the next statement.
PAYER_SQL = text("""
WITH payer AS (
    SELECT p.currency, p.online_payments_enabled, a.balance_cents, a.open_invoices
    FROM practice p JOIN accounts a ON a.client_id = :client_id
    WHERE p.id = 1
    FOR UPDATE OF a
), claim AS (
    INSERT INTO idempotency_keys (scope, key, request_hash, status, payment_id, expires_at)
    SELECT :scope, :key, :request_hash, 'in_progress', :payment_id, :expires_at FROM payer
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT payer.currency, payer.online_payments_enabled, payer.balance_cents, payer.open_invoices,
       EXISTS (SELECT FROM claim) AS claimed
FROM payer
""").bindparams(bindparam("expires_at", type_=UTCDateTime)).columns(
    currency=String, online_payments_enabled=Boolean, balance_cents=BigInteger, open_invoices=Json, claimed=Boolean)

# Under the lock, in a statement of its own: its snapshot then includes what concurrent requests committed while
# this one waited for the lock (payments for this client, a card removed, another default card), which the
# locking statement's snapshot, taken before the wait, would not. The saved card to charge (by id, or the
# default card for AutoPay; none for a new token) and the client's payments in flight or not yet on billing's
# ledger (the partial index ix_payments_open), as [invoice ids, amount, status]. A legacy card (saved before
# migration 0003: no payment method yet) is read too, and converted before it is charged (LegacyCard).
AFTER_LOCK_SQL = text(f"""
SELECT card.id AS card_id, card.processor_payment_method_id, card.processor_customer_id, card.brand, card.last4,
       card.exp_month, card.exp_year,
       (SELECT coalesce(json_agg(json_build_array(p.invoice_ids, p.amount_cents, p.status)), '[]'::json)
        FROM payments p WHERE p.client_id = :client_id AND ({OPEN_PAYMENT_SQL})) AS open_payments
FROM (SELECT) AS one LEFT JOIN LATERAL (
    SELECT m.id, m.processor_payment_method_id, m.processor_customer_id, m.brand, m.last4, m.exp_month, m.exp_year
    FROM payment_methods m
    WHERE m.client_id = :client_id AND m.removed_at IS NULL
      AND CASE WHEN :default_card THEN m.is_default ELSE m.id = :method_id END
    LIMIT 1
) AS card ON true
""").bindparams(bindparam("default_card", type_=Boolean)).columns(  # noqa: S608 (models' constant, no input)
    card_id=String, processor_payment_method_id=String, processor_customer_id=String, brand=String, last4=String,
    exp_month=Integer, exp_year=Integer,
    open_payments=Json)

_payments = Payment.__table__
# The payment, written as pending, with payment.attempted (parameters: payment_<column>).
# Never a new card's token: it is good until the charge (or the attach) spends it, so it stays in memory only.
WRITTEN_COLUMNS = ("id", "client_id", "amount_cents", "currency", "status", "payment_method_id", "brand", "last4",
                   "invoice_ids", "note", "source", "refunded_cents")
RESERVE = announcing(outbox, insert(_payments).values({name: bindparam(f"payment_{name}")
                                                       for name in WRITTEN_COLUMNS}))


class KeyTaken(Exception):
    """Another request holds this Idempotency-Key (committed): its answer is this request's answer."""


@dataclass(frozen=True)
class Reservation:
    """A pending payment, written and committed, about to be charged (what its events say of it)."""

    id: str
    client_id: str
    # what the processor charges: a new card's single-use token, or a saved card's payment method with the
    # customer it belongs to
    token: str | None
    payment_method: str | None
    customer: str | None
    amount_cents: int
    currency: str
    invoice_ids: list[str]
    brand: str | None
    last4: str | None
    source: str
    # a new card to save: attached to the client's customer at the processor after the reserve, then charged
    # by the payment method it became
    save_card: bool = False
    make_default: bool = False


class Paying:
    def __init__(self, ctx: Context, *, keys: PaymentKeys, online: OnlinePayments, cards: Cards):
        self.ctx = ctx
        self.keys = keys
        self.online = online
        self.cards = cards

    def pay(self, client_id: str, body: dict, key: str, *, source: str = "portal") -> tuple[int, dict]:
        """Pay Now (and AutoPay's charge): claim the key and reserve the payment in one transaction, charge
        outside any, then settle it and complete the key in a second."""
        scope = payment_scope(client_id, source)
        digest = request_hash({**body, "_source": source})
        deadline = clock.monotonic() + self.ctx.config.idempotency_wait_seconds
        if source == "portal":
            stored = self._online_payments_on(scope, key, digest, deadline)
            if stored is not None:
                return stored
        card = None
        if body.get("processor_token"):
            # A repeat of a request that went through answers without asking the processor again.
            stored = self.keys.await_answer(scope, key, digest, deadline)
            if stored is not None:
                return stored
            try:
                card = self.cards.new_card(client_id, body)
            except (PaymentsError, ProcessorError):
                # The same request may be under way right now (its claim not committed yet): its answer,
                # not "nothing was charged", is this one's.
                if self.keys.claimed(client_id, scope, key):
                    stored = self.keys.await_answer(scope, key, digest, deadline)
                    if stored is not None:
                        return stored
                raise
        payment_id = new_id()
        converted = False
        while True:
            try:
                reservation = once_more_on_disconnect(
                    lambda: self._reserve(client_id, body, card, source, scope, key, digest, payment_id))
                break
            except LegacyCard as legacy:
                # Nothing was written (the reserve rolled back, key claim included): convert, then decide again.
                if converted:
                    raise ProcessorDown("The card processor is not answering; nothing was charged. Try again "
                                        "shortly.") from None
                self.cards.convert_before_charge(legacy.card_id, chosen=bool(body.get("payment_method_id")))
                converted = True
            except KeyTaken:
                # This request's own reserve, when it committed but the answer to the COMMIT was lost and it
                # ran once more: the payment is written and not charged yet.
                reservation = self._reserved(payment_id, body)
                if reservation is not None:
                    break
                stored = self.keys.await_answer(scope, key, digest, deadline)
                if stored is not None:
                    return stored
                # the other request was refused and stored nothing: this one decides for itself
        result = None
        if reservation.save_card:
            reservation, result = self._save_new_card(reservation)
        if result is None:
            result = self._charge(reservation)
        return 201, once_more_on_disconnect(lambda: self._finish(reservation, result, (scope, key)))

    def _online_payments_on(self, scope: str, key: str, digest: str, deadline: float) -> tuple[int, dict] | None:
        """Pay Now goes on only if identity says now that online payments are on (online.py). Refused, a repeat
        of a request that went through still gets its answer (answered: not a new decision)."""
        refusal = self.online.refusal_to_pay()
        if refusal is None:
            return None
        stored = self.keys.await_answer(scope, key, digest, deadline)
        if stored is not None:
            return stored
        raise refusal

    # --- 1. the reserve ------------------------------------------------------------------------

    def _reserve(self, client_id: str, body: dict, card: NewCard | None, source: str, scope: str, key: str,
                 digest: str, payment_id: str) -> Reservation:
        """The payment written as `pending` (counting against the balance for every concurrent request) with
        payment.attempted, under the client's lock, after every check; refused: nothing written at all."""
        claim = {"scope": scope, "key": key, "request_hash": digest, "payment_id": payment_id,
                 "expires_at": utcnow() + timedelta(hours=self.ctx.config.idempotency_ttl_hours)}
        with unit_of_work(self.ctx.sessions) as session:
            payer = self._payer(session, client_id, body, source, claim)
            saved, open_payments = self._after_lock(session, client_id, body, card)
            method = card_to_charge(token=body["processor_token"] if card is not None else None,
                                    details=card.details if card is not None else None,
                                    chosen_id=body.get("payment_method_id"), saved=saved, today=utcnow().date())
            amount = amount_to_reserve(body, balance_cents=payer.balance_cents, open_invoices=payer.open_invoices,
                                       open_payments=open_payments)
            reservation = Reservation(
                id=payment_id, client_id=client_id, amount_cents=amount, currency=payer.currency,
                token=method.token, payment_method=method.payment_method, customer=method.customer,
                invoice_ids=list(dict.fromkeys(body.get("invoice_ids") or [])),
                brand=method.brand, last4=method.last4, source=source,
                save_card=card.save if card is not None else False, make_default=bool(body.get("make_default")))
            written = {"id": payment_id, "client_id": client_id, "amount_cents": amount, "currency": payer.currency,
                       "status": "pending", "payment_method_id": method.id,
                       "brand": reservation.brand, "last4": reservation.last4,
                       "invoice_ids": reservation.invoice_ids, "note": body.get("note"), "source": source,
                       "refunded_cents": 0}
            attempted = make_event("payment.attempted", {
                "payment_id": payment_id, "client_id": client_id, "amount_cents": amount, "currency": payer.currency,
                "method_last4": reservation.last4, "source": source}, producer="payments")
            session.execute(RESERVE, {**outbox_row(attempted),
                                      **{f"payment_{name}": value for name, value in written.items()}})
            return reservation

    @staticmethod
    def _payer(session: Session, client_id: str, body: dict, source: str, claim: dict):
        """PAYER_SQL: the account locked, the practice's settings, and the key claimed under the lock. KeyTaken
        when another request holds the key; refuses when online payments are off, the currency is not the
        practice's, or payments knows of no balance for the client."""
        params = {"client_id": client_id, **claim}
        row = session.execute(PAYER_SQL, params).first()
        if row is None and session.get(Practice, 1) is None:
            practice(session)  # a practice that never had settings: its defaults
            row = session.execute(PAYER_SQL, params).first()
        if row is not None and not row.claimed:
            raise KeyTaken(claim["key"])
        settings = row if row is not None else practice(session)  # no account: the refusals in their order
        if source == "portal" and not settings.online_payments_enabled:
            raise OnlinePaymentsOff("Your practice does not take payments online; contact them to pay.")
        check_currency(body.get("currency"), settings.currency)
        if row is None:
            raise NothingToPay("You have no balance to pay.")
        return row

    @staticmethod
    def _after_lock(session: Session, client_id: str, body: dict, card: NewCard | None):
        """AFTER_LOCK_SQL: the saved card to charge (None for a new token or no such card) and the client's
        payments in flight or not yet on billing's ledger, as (invoice ids, amount, status)."""
        row = session.execute(AFTER_LOCK_SQL, {"client_id": client_id, "method_id": body.get("payment_method_id"),
                                               "default_card": card is None and not body.get("payment_method_id")}
                              ).one()
        return row, [(list(ids or []), int(amount), status) for ids, amount, status in row.open_payments]

    def _reserved(self, payment_id: str, body: dict) -> Reservation | None:
        """The reservation of a payment written and not charged yet (still pending), if there is one."""
        methods = PaymentMethod.__table__
        with unit_of_work(self.ctx.statement_sessions) as session:
            row = session.execute(
                select(*_payments.c, methods.c.processor_payment_method_id, methods.c.processor_customer_id)
                .select_from(_payments.outerjoin(methods, methods.c.id == _payments.c.payment_method_id))
                .where(_payments.c.id == payment_id, _payments.c.status == "pending")).first()
        if row is None:
            return None
        token = body.get("processor_token") if row.payment_method_id is None else None  # never written: see RESERVE
        return Reservation(id=row.id, client_id=row.client_id, token=token,
                           payment_method=row.processor_payment_method_id, customer=row.processor_customer_id,
                           save_card=bool(token and body.get("save_card")),
                           make_default=bool(body.get("make_default")),
                           amount_cents=row.amount_cents, currency=row.currency,
                           invoice_ids=list(row.invoice_ids or []), brand=row.brand, last4=row.last4, source=row.source)

    # --- 2. the charge -------------------------------------------------------------------------

    def _save_new_card(self, reservation: Reservation) -> tuple[Reservation, ChargeResult | None]:
        """Pay Now's "save this card" (Cards.save_for_payment): then charged by the payment method it became, or,
        not attached, the payment's failed result."""
        saved = self.cards.save_for_payment(reservation.id, reservation.client_id, reservation.token,
                                            reservation.make_default)
        if isinstance(saved, ChargeResult):
            return reservation, saved
        return dataclasses.replace(reservation, token=None, payment_method=saved.payment_method_id,
                                   customer=saved.customer_id, save_card=False), None

    def _charge(self, reservation: Reservation) -> ChargeResult | str:
        payment_id = reservation.id
        try:
            return self.ctx.processor.charge(token=reservation.token, payment_method=reservation.payment_method,
                                             customer=reservation.customer, amount_cents=reservation.amount_cents,
                                             currency=reservation.currency, reference=payment_id,
                                             description="Client portal payment")
        except ProcessorTimeout:
            log.warning("charge outcome unknown; will reconcile", extra={"fields": {"payment_id": payment_id}})
            return "processing"
        except ProcessorUnavailable:
            return ChargeResult(status="failed", charge_id=None, failure_code="processor_unavailable",
                                failure_message=failure_message("processor_unavailable"))
        except ProcessorError:
            log.exception("processor refused the charge request", extra={"fields": {"payment_id": payment_id}})
            return ChargeResult(status="failed", charge_id=None, failure_code="processing_error",
                                failure_message=failure_message("processing_error"))

    # --- 3. the settle -------------------------------------------------------------------------

    def _finish(self, reservation: Reservation, result, key: tuple[str, str]) -> dict:
        """After the charge. Safe to repeat: a settled payment is left as it is and no event recorded again."""
        with unit_of_work(self.ctx.statement_sessions) as session:
            return view(session, settle(session, reservation, result, key=key))


def settle(session: Session, payment, result: ChargeResult | str | None, *, key: tuple[str, str] | None = None):
    """Settles a pending or processing payment (a Reservation, or its row) from the processor's answer (None:
    the processor never saw this reference, so nothing was charged) and answers the payment's row as it now
    is, in one statement: the update, its event (recorded only if the update happened) and, with `key`
    (scope, key), the request's Idempotency-Key marked done. A payment settled already (reconciliation
    got there first) is left as it is, and no event is recorded again."""
    values = settlement(result, utcnow())
    if getattr(payment, "processor_token", None):
        # Only a payment left pending by the code before migration 0003, which wrote its token: cleared as it
        # settles. (Payments since never write one.)
        values["processor_token"] = None
    outcome = outcome_event(payment, values)
    params = {"settling_id": payment.id, **{f"new_{name}": value for name, value in values.items()}}
    if outcome is not None:
        params.update(event_params(make_event(*outcome, producer="payments")))
    if key is not None:
        params.update(key_scope=key[0], key_key=key[1])
    row = session.execute(_settle_statement(tuple(values), outcome is not None, key is not None), params).first()
    if row is None:
        return session.execute(select(*_payments.c).where(_payments.c.id == payment.id)).one()
    return row


@functools.cache
def _settle_statement(columns: tuple[str, ...], with_event: bool, with_key: bool):
    """The settle as one statement (built once per shape): the payment's UPDATE (only while it is unsettled)
    RETURNING its row, the outcome event INSERTed from that RETURNING (so only if this statement settled it)
    and, with a key, the Idempotency-Key marked done (a data-modifying WITH runs whether or not the payment's
    row still matched). Parameters: settling_id, new_<column>, event_params(), key_scope and key_key: none is
    a column's name, which SQLAlchemy would take as a value for that column in the UPDATEs and the INSERT."""
    settled = (update(_payments).where(_payments.c.id == bindparam("settling_id"), _payments.c.status.in_(UNSETTLED))
               .values({name: bindparam(f"new_{name}") for name in columns}).returning(*_payments.c).cte("settled"))
    stmt = select(settled)
    if with_event:
        stmt = stmt.add_cte(event_if_any(outbox, settled).cte("outcome"))
    if with_key:
        keys = IdempotencyKey.__table__
        stmt = stmt.add_cte(update(keys).where(keys.c.scope == bindparam("key_scope"),
                                               keys.c.key == bindparam("key_key"))
                            .values(status="done", response_status=201).cte("key_done"))
    return stmt


def once_more_on_disconnect(step):
    """Runs a database step again, once, when its connection turned out dead (a restart or failover since it
    was last used: the pool pings only idle connections). Only for steps that are safe to repeat: the
    reserve (rolled back whole) and the settle (a settled payment is left as it is)."""
    try:
        return step()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.warning("database connection lost; trying once more on a fresh one")
        return step()
