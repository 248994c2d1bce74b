"""Payments' use cases: saved cards, Pay Now with exactly-once charges, refunds, reconciliation.

A charge goes in three steps, so money moves once whatever happens in between:
1. in one transaction: claim the Idempotency-Key (a row naming the payment about to be written; a
   concurrent duplicate waits on the unique index), then, under the client's account lock, check the
   amount against what is payable and write the payment as `pending` (it now counts against the balance
   for every concurrent request), with payment.attempted. A refusal rolls all of it back, key included;
2. outside any transaction, charge with our payment id as the processor's reference;
3. settle the payment, record its outcome event and mark the key done, in one statement. A timeout
   leaves it `processing` for reconciliation, which asks the processor by reference: never a second
   charge, never a silent loss.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import time as clock
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Boolean, Integer, String, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from services.payments.domain.rules import (
    CardExpired,
    Exposure,
    IdempotencyConflict,
    NothingToPay,
    OnlinePaymentsOff,
    PaymentMethodNotFound,
    PaymentNotFound,
    ProcessorDown,
    RefundTooLarge,
    RequestInProgress,
    SettingsUnknown,
    card_expired,
    invoice_payable,
    refundable,
    requested_amount,
)
from services.payments.models import (
    OPEN_PAYMENT_SQL,
    Account,
    IdempotencyKey,
    InvoiceRef,
    Payment,
    PaymentMethod,
    Practice,
    Refund,
    outbox,
)
from services.payments.processor import (
    CardDetails,
    CardProcessor,
    CardTokenInvalid,
    ChargeResult,
    ProcessorError,
    ProcessorRejected,
    ProcessorTimeout,
    ProcessorUnavailable,
    RefundResult,
    SavedCard,
    failure_message,
)
from services.payments.projections import practice
from shared.db import Json, UTCDateTime, new_id, unit_of_work, utcnow
from shared.errors import Conflict, ProblemError, Unprocessable
from shared.events import announcing, event_if_any, event_params, make_event, outbox_row, record_event
from shared.pagination import paginate
from shared.practice_settings import PracticeSettings, SettingsSource, SettingsUnavailable, confirm

log = logging.getLogger(__name__)
UNSETTLED = ("pending", "processing")

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


# A refund's Idempotency-Key (scope refund:<payment id>) names its refund in response_body.
REFUND_KEY_DONE = text("UPDATE idempotency_keys SET status = 'done', response_status = 201 WHERE scope = :scope"
                       " AND status = 'in_progress' AND response_body ->> 'refund_id' = :refund_id")


class KeyTaken(Exception):
    """Another request holds this Idempotency-Key (committed): its answer is this request's answer."""


class LegacyCard(Exception):
    """The card to charge was saved before migration 0003 and is not converted yet: convert it, then reserve."""

    def __init__(self, card_id: str):
        super().__init__(card_id)
        self.card_id = card_id


# A card saved the old way (a reusable token) and not converted yet.
LEGACY = (PaymentMethod.removed_at.is_(None), PaymentMethod.processor_payment_method_id.is_(None),
          PaymentMethod.processor_token.is_not(None))


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


class NewCard(NamedTuple):
    """A card entered for this payment: the processor's details of its token, and whether to save it (asked for,
    and not on file already)."""

    details: CardDetails
    save: bool


def publish(session: Session, event_type: str, payload: dict, *, along=None) -> None:
    record_event(session, outbox, make_event(event_type, payload, producer="payments"), along=along)


def default_changed(session: Session, client_id: str) -> None:
    """Billing shows the default card on My Account: tell it whenever the default may have moved."""
    session.flush()
    method_id = session.scalars(select(PaymentMethod.id).where(
        PaymentMethod.client_id == client_id, PaymentMethod.is_default.is_(True),
        PaymentMethod.removed_at.is_(None))).first()
    publish(session, "payment_method.default_changed", {"client_id": client_id, "payment_method_id": method_id})


def request_hash(body: dict) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# --- the service --------------------------------------------------------------------------------

class PaymentsService:
    def __init__(self, *, config, sessions: sessionmaker[Session], processor: CardProcessor,
                 settings: SettingsSource | None = None):
        self.config = config
        self.sessions = sessions
        # identity's current settings: whether online payments are on, asked at the moment of each decision
        self.settings = settings or PracticeSettings(config.identity_url, config.internal_api_key,
                                                     timeout=config.identity_timeout)
        # For a step that is one statement, atomic by itself (the settle): no BEGIN and COMMIT round trips.
        self.statement_sessions = sessionmaker(bind=sessions.kw["bind"].execution_options(isolation_level="AUTOCOMMIT"),
                                               expire_on_commit=False)
        self.processor = processor
        # The longest a charge or refund call can be on its way: until then "not at the processor" proves
        # nothing. Connect + read timeouts and a margin for the processor's own retries.
        self.in_flight_seconds = config.processor_connect_timeout + config.processor_read_timeout + 30

    # idempotency keys
    def _await_answer(self, scope: str, key: str, digest: str, deadline: float) -> tuple[int, dict] | None:
        """The answer stored under a key another request holds (waiting while that request runs); None when
        the key is free again (that request was refused and stored nothing)."""
        while True:
            with unit_of_work(self.sessions) as session:
                row = session.get(IdempotencyKey, (scope, key))
                if row is None:
                    return None
                if row.request_hash != digest:
                    raise IdempotencyConflict("This Idempotency-Key was already used with a different request.")
                if row.status == "done":
                    return row.response_status, self._replay(session, row)
            if clock.monotonic() > deadline:
                raise RequestInProgress("The first request with this key is still running; try again shortly.")
            clock.sleep(0.05)

    def _replay(self, session: Session, row: IdempotencyKey) -> dict:
        """The same payment again; its status may have moved on (processing -> succeeded) since."""
        if row.payment_id:
            payment = session.get(Payment, row.payment_id)
            if payment is not None:
                return self.view(session, payment)
        return dict(row.response_body or {})

    # views
    def view(self, session: Session, payment) -> dict:
        """A payment (a mapped Payment or a row of the payments table) as the API shows it."""
        numbers = dict(session.execute(select(InvoiceRef.invoice_id, InvoiceRef.number).where(
            InvoiceRef.invoice_id.in_(payment.invoice_ids or []))).all()) if payment.invoice_ids else {}
        return {"id": payment.id, "client_id": payment.client_id, "status": payment.status,
                "amount_cents": payment.amount_cents, "currency": payment.currency,
                "failure_code": payment.failure_code, "failure_message": payment.failure_message,
                "method": {"brand": payment.brand, "last4": payment.last4}, "payment_method_id":
                payment.payment_method_id, "invoice_ids": list(payment.invoice_ids or []),
                "invoice_numbers": [numbers[i] for i in payment.invoice_ids or [] if i in numbers],
                "note": payment.note, "source": payment.source, "refunded_cents": payment.refunded_cents,
                "created_at": payment.created_at, "settled_at": payment.settled_at,
                "posted": payment.posted_at is not None,
                "receipt_url": f"/api/v1/portal/payments/{payment.id}/receipt"}

    # what is owed
    @staticmethod
    def _after_lock(session: Session, client_id: str, body: dict, card):
        """AFTER_LOCK_SQL: the saved card to charge (None for a new token or no such card) and the client's
        payments in flight or not yet on billing's ledger, as (invoice ids, amount, status)."""
        row = session.execute(AFTER_LOCK_SQL, {"client_id": client_id, "method_id": body.get("payment_method_id"),
                                               "default_card": card is None and not body.get("payment_method_id")}
                              ).one()
        return row, [(list(ids or []), int(amount), status) for ids, amount, status in row.open_payments]

    @staticmethod
    def exposure(balance_cents: int, open_payments: list[tuple[list[str], int, str]]) -> Exposure:
        return Exposure(balance_cents=balance_cents,
                        unposted_cents=sum(a for _, a, status in open_payments if status == "succeeded"),
                        in_flight_cents=sum(a for _, a, status in open_payments if status in UNSETTLED))

    # paying
    def pay(self, client_id: str, body: dict, key: str, *, source: str = "portal") -> tuple[int, dict]:
        """Pay Now (and AutoPay's charge): claim the key and reserve the payment in one transaction, charge
        outside any, then settle it and complete the key in a second."""
        scope = f"client:{client_id}" if source == "portal" else f"{source}:{client_id}"
        digest = request_hash({**body, "_source": source})
        deadline = clock.monotonic() + self.config.idempotency_wait_seconds
        if source == "portal":
            stored = self._online_payments_on(scope, key, digest, deadline)
            if stored is not None:
                return stored
        card = None
        if body.get("processor_token"):
            # A repeat of a request that went through answers without asking the processor again.
            stored = self._await_answer(scope, key, digest, deadline)
            if stored is not None:
                return stored
            try:
                card = self._new_card(client_id, body)
            except (ProblemError, ProcessorError):
                # The same request may be under way right now (its claim not committed yet): its answer,
                # not "nothing was charged", is this one's.
                if self._key_claimed(client_id, scope, key):
                    stored = self._await_answer(scope, key, digest, deadline)
                    if stored is not None:
                        return stored
                raise
        payment_id = new_id()
        converted = False
        while True:
            try:
                reservation = _once_more_on_disconnect(
                    lambda: self._reserve(client_id, body, card, source, scope, key, digest, payment_id))
                break
            except LegacyCard as legacy:
                # Nothing was written (the reserve rolled back, key claim included): convert, then decide again.
                if converted:
                    raise ProcessorDown("The card processor is not answering; nothing was charged. Try again "
                                        "shortly.") from None
                self._convert_before_charge(legacy.card_id, chosen=bool(body.get("payment_method_id")))
                converted = True
            except KeyTaken:
                # This request's own reserve, when it committed but the answer to the COMMIT was lost and it
                # ran once more: the payment is written and not charged yet.
                reservation = self._reserved(payment_id, body)
                if reservation is not None:
                    break
                stored = self._await_answer(scope, key, digest, deadline)
                if stored is not None:
                    return stored
                # the other request was refused and stored nothing: this one decides for itself
        result = None
        if reservation.save_card:
            reservation, result = self._save_new_card(reservation)
        if result is None:
            result = self._charge(reservation)
        return 201, _once_more_on_disconnect(lambda: self._finish(reservation, result, (scope, key)))

    def _online_payments_on(self, scope: str, key: str, digest: str, deadline: float) -> tuple[int, dict] | None:
        """Pay Now goes on only if identity says now that online payments are on: the switch turned off holds
        for the next request already, whatever the projection (which lags by the relay, and for as long as the
        broker is down) still says; the reserve checks the projection too, under the account lock. Refused,
        a repeat of a request that went through still gets its answer (answered: not a new decision)."""
        try:
            if confirm(self.settings, "online_payments_enabled"):
                return None
            refusal: ProblemError = OnlinePaymentsOff(
                "Your practice does not take payments online; contact them to pay.")
        except SettingsUnavailable:
            refusal = self._settings_unknown()
        stored = self._await_answer(scope, key, digest, deadline)
        if stored is not None:
            return stored
        raise refusal

    def _require_online_payments(self) -> None:
        """Saving a card is part of online payments (seeds: "available for practices enrolled in online
        payment processing"): the projection says off -> refused without asking; on -> identity confirms."""
        with unit_of_work(self.statement_sessions) as session:
            on = session.scalar(select(Practice.online_payments_enabled).where(Practice.id == 1))
        try:
            if on and confirm(self.settings, "online_payments_enabled"):
                return
        except SettingsUnavailable:
            raise self._settings_unknown() from None
        raise OnlinePaymentsOff("Your practice does not take payments online, so cards cannot be saved.")

    def _settings_unknown(self) -> ProblemError:
        """Identity cannot say: the projection may still refuse for sure (off); otherwise "try again"."""
        with unit_of_work(self.statement_sessions) as session:
            on = session.scalar(select(Practice.online_payments_enabled).where(Practice.id == 1))
        if not on:
            return OnlinePaymentsOff("Your practice does not take payments online; contact them to pay.")
        return SettingsUnknown("We could not confirm that your practice takes payments online right now; nothing "
                               "was charged. Try again in a moment.", headers={"Retry-After": "5"})

    def _reserved(self, payment_id: str, body: dict) -> Reservation | None:
        """The reservation of a payment written and not charged yet (still pending), if there is one."""
        methods = PaymentMethod.__table__
        with unit_of_work(self.statement_sessions) as session:
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

    def _finish(self, reservation: Reservation, result, key: tuple[str, str]) -> dict:
        """After the charge. Safe to repeat: a settled payment is left as it is and no event recorded again."""
        with unit_of_work(self.statement_sessions) as session:
            return self.view(session, self._settle(session, reservation, result, key=key))

    def _key_claimed(self, client_id: str, scope: str, key: str) -> bool:
        """Whether a request holds this key, committed or not. Keys are claimed under the client's account lock,
        so the probe first takes that lock: it waits for a request that holds it or is queued for it (PostgreSQL
        grants a row lock to its waiters in turn), which has then claimed the key or been refused. The probe
        insert also waits on an uncommitted claim (the unique index); all of it is rolled back."""
        keys = IdempotencyKey.__table__
        with self.sessions() as session:
            try:
                session.execute(select(Account.client_id).where(Account.client_id == client_id).with_for_update())
                return session.execute(
                    pg_insert(keys).values(scope=scope, key=key, request_hash="", status="in_progress",
                                           expires_at=utcnow()).on_conflict_do_nothing().returning(keys.c.key)
                ).first() is None
            finally:
                session.rollback()

    def _card_details(self, token: str):
        """A new card's details. A legacy card's token is still good at the processor until its conversion spends
        it: presented as a new card (by anyone: it may be another client's), it is refused like a spent one."""
        with unit_of_work(self.statement_sessions) as session:
            on_file = session.scalar(select(PaymentMethod.id).where(PaymentMethod.processor_token == token).limit(1))
        if on_file is not None:
            raise Unprocessable("This card could not be read; enter it again.",
                                errors={"processor_token": ["Unknown or used card token."]})
        with self._processor_refusals():
            return self.processor.retrieve_token(token)

    @contextmanager
    def _processor_refusals(self):
        """A processor call before any payment is written: what the client is told when it fails."""
        try:
            yield
        except CardTokenInvalid as exc:
            # Unknown, or spent (tokens are single-use): the client enters the card again. Nothing of the card
            # behind it is said: it may be another client's.
            raise Unprocessable("This card could not be read; enter it again.",
                                errors={"processor_token": ["Unknown or used card token."]}) from exc
        except (ProcessorUnavailable, ProcessorTimeout) as exc:
            raise ProcessorDown("The card processor is not answering; nothing was charged. Try again shortly.") \
                from exc
        except ProcessorError as exc:
            log.error("the card processor refused a request", extra={"fields": {"error": str(exc)}})
            raise ProcessorDown("The card processor did not take the card; nothing was charged. Try again "
                                "shortly.") from exc

    def _new_card(self, client_id: str, body: dict) -> NewCard:
        """A new card's details from the processor (a look-up: the token is not spent), and whether to save it."""
        details = self._card_details(body["processor_token"])
        return NewCard(details, bool(body.get("save_card")) and not self._on_file(client_id, details.fingerprint))

    def _on_file(self, client_id: str, fingerprint: str | None) -> bool:
        if not fingerprint:
            return False
        with unit_of_work(self.statement_sessions) as session:
            return session.scalars(select(PaymentMethod.id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.fingerprint == fingerprint,
                PaymentMethod.removed_at.is_(None))).first() is not None

    def _attach(self, client_id: str, token: str) -> SavedCard:
        """The token's card as a payment method of the client's customer at the processor (created once, with
        our client id as its reference); spends the token. Raises the processor's errors."""
        with unit_of_work(self.statement_sessions) as session:
            customer = session.scalars(select(PaymentMethod.processor_customer_id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.processor_customer_id.is_not(None))).first()
        return self.processor.attach_card(customer_id=customer or self.processor.create_customer(client_id),
                                          token=token)

    def _save_new_card(self, reservation: Reservation) -> tuple[Reservation, ChargeResult | None]:
        """Pay Now's "save this card", after the reserve and before the charge (so a refused request spends no
        token): the card attached at the processor, saved here bound to the client, and the payment then charged
        by that payment method. An attach that fails charged nothing: the payment fails (the result answered)."""
        try:
            saved = self._attach(reservation.client_id, reservation.token)
        except ProcessorError as exc:
            log.warning("card not attached; nothing charged", extra={"fields": {
                "payment_id": reservation.id, "error": type(exc).__name__}})
            code = "processor_unavailable" if isinstance(exc, ProcessorUnavailable | ProcessorTimeout) \
                else "processing_error"
            return reservation, ChargeResult(status="failed", charge_id=None, failure_code=code,
                                             failure_message=failure_message(code))
        client_id = reservation.client_id
        with unit_of_work(self.sessions) as session:
            session.execute(select(PaymentMethod.id).where(PaymentMethod.client_id == client_id)
                            .with_for_update())  # one change of a client's cards at a time
            method_id = session.scalars(select(PaymentMethod.id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.fingerprint == saved.card.fingerprint,
                PaymentMethod.removed_at.is_(None))).first() if saved.card.fingerprint else None
            if method_id is None:  # not saved meanwhile by another request
                method = self._new_method(session, client_id, saved, reservation.make_default)
                session.add(method)
                session.flush()
                method_id = method.id
                publish(session, "payment_method.added", {"payment_method_id": method.id, "client_id": client_id,
                                                          "brand": method.brand, "last4": method.last4,
                                                          "is_default": method.is_default})
                if method.is_default:
                    default_changed(session, client_id)
            session.execute(update(Payment).where(Payment.id == reservation.id).values(payment_method_id=method_id))
        return dataclasses.replace(reservation, token=None, payment_method=saved.payment_method_id,
                                   customer=saved.customer_id, save_card=False), None

    def _payer(self, session: Session, client_id: str, body: dict, card, source: str, claim: dict):
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
        currency = body.get("currency")
        if currency and currency != settings.currency:
            raise Unprocessable(f"Payments are in {settings.currency}.",
                                errors={"currency": [f"Must be {settings.currency}."]})
        if row is None:
            raise NothingToPay("You have no balance to pay.")
        return row

    def _reserve(self, client_id: str, body: dict, card, source: str, scope: str, key: str,
                 digest: str, payment_id: str) -> Reservation:
        """The payment written as `pending` (counting against the balance for every concurrent request) with
        payment.attempted, under the client's lock, after every check; refused: nothing written at all."""
        claim = {"scope": scope, "key": key, "request_hash": digest, "payment_id": payment_id,
                 "expires_at": utcnow() + timedelta(hours=self.config.idempotency_ttl_hours)}
        with unit_of_work(self.sessions) as session:
            payer = self._payer(session, client_id, body, card, source, claim)
            saved, open_payments = self._after_lock(session, client_id, body, card)
            method, save_card = self._method(session, client_id, body, card, saved, utcnow().date())
            amount = requested_amount(
                exposure=self.exposure(payer.balance_cents, open_payments),
                amount_cents=body.get("amount_cents"), pay_balance=bool(body.get("pay_balance")),
                invoice_ids=list(body.get("invoice_ids") or []),
                open_invoices=invoice_payable({i["invoice_id"]: int(i["balance_cents"])
                                               for i in payer.open_invoices or []},
                                              [(ids, a) for ids, a, _ in open_payments if ids]))
            reservation = Reservation(
                id=payment_id, client_id=client_id, amount_cents=amount, currency=payer.currency,
                token=method["token"], payment_method=method["payment_method"], customer=method["customer"],
                invoice_ids=list(dict.fromkeys(body.get("invoice_ids") or [])),
                brand=method["brand"], last4=method["last4"], source=source, save_card=save_card,
                make_default=bool(body.get("make_default")))
            written = {"id": payment_id, "client_id": client_id, "amount_cents": amount, "currency": payer.currency,
                       "status": "pending", "payment_method_id": method.get("id"),
                       "brand": reservation.brand, "last4": reservation.last4,
                       "invoice_ids": reservation.invoice_ids, "note": body.get("note"), "source": source,
                       "refunded_cents": 0}
            attempted = make_event("payment.attempted", {
                "payment_id": payment_id, "client_id": client_id, "amount_cents": amount, "currency": payer.currency,
                "method_last4": reservation.last4, "source": source}, producer="payments")
            session.execute(RESERVE, {**outbox_row(attempted),
                                      **{f"payment_{name}": value for name, value in written.items()}})
            return reservation

    def _method(self, session: Session, client_id: str, body: dict, card: NewCard | None, saved, today: date):
        """The card to charge, as {id, token, payment_method, customer, brand, last4}, and whether to save it
        first: a new card (its token), or the saved card AFTER_LOCK_SQL read (by id, or the default for AutoPay:
        its payment method, with the customer it belongs to)."""
        if card is not None:
            details = card.details
            if card_expired(details.exp_month, details.exp_year, today):
                raise CardExpired("This card has expired; use another card.",
                                  errors={"processor_token": ["The card has expired."]},
                                  extra={"failure_code": "expired_card"})
            return {"id": None, "token": body["processor_token"], "payment_method": None, "customer": None,
                    "brand": details.brand, "last4": details.last4}, card.save
        if saved.card_id is None:
            if body.get("payment_method_id"):  # unknown, another client's, or removed
                raise PaymentMethodNotFound("No saved card with this id.")
            raise Unprocessable("There is no card on file to charge.",
                                errors={"payment_method_id": ["Choose a card or enter a new one."]},
                                extra={"failure_code": "no_payment_method"})
        if saved.processor_payment_method_id is None:
            raise LegacyCard(saved.card_id)
        if card_expired(saved.exp_month, saved.exp_year, today):
            raise CardExpired("This card has expired; use another card.",
                              errors={"payment_method_id": ["The card has expired."]},
                              extra={"failure_code": "expired_card"})
        return {"id": saved.card_id, "token": None, "payment_method": saved.processor_payment_method_id,
                "customer": saved.processor_customer_id, "brand": saved.brand, "last4": saved.last4}, False

    def _own_method(self, session: Session, client_id: str, method_id: str) -> PaymentMethod:
        method = session.get(PaymentMethod, method_id)
        if method is None or method.client_id != client_id or method.removed_at is not None:
            raise PaymentMethodNotFound("No saved card with this id.")
        return method

    def _new_method(self, session: Session, client_id: str, saved: SavedCard, make_default: bool) -> PaymentMethod:
        card = saved.card
        if card.fingerprint and session.scalars(select(PaymentMethod.id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.fingerprint == card.fingerprint,
                PaymentMethod.removed_at.is_(None))).first():
            raise Conflict("This card is already saved.")
        has_default = session.scalars(select(PaymentMethod.id).where(
            PaymentMethod.client_id == client_id, PaymentMethod.is_default.is_(True),
            PaymentMethod.removed_at.is_(None))).first()
        if make_default and has_default:
            session.execute(update(PaymentMethod).where(PaymentMethod.client_id == client_id)
                            .values(is_default=False))
        return PaymentMethod(id=new_id(), client_id=client_id, processor_customer_id=saved.customer_id,
                             processor_payment_method_id=saved.payment_method_id, brand=card.brand,
                             last4=card.last4, exp_month=card.exp_month, exp_year=card.exp_year,
                             cardholder_name=card.cardholder_name, fingerprint=card.fingerprint,
                             is_default=make_default or not has_default)

    def _charge(self, reservation: Reservation) -> ChargeResult | str:
        payment_id = reservation.id
        try:
            return self.processor.charge(token=reservation.token, payment_method=reservation.payment_method,
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

    def _settle(self, session: Session, payment, result: ChargeResult | str | None, *,
                key: tuple[str, str] | None = None):
        """Settles a pending or processing payment (a Reservation, or its row) from the processor's answer (None:
        the processor never saw this reference, so nothing was charged) and answers the payment's row as it now
        is, in one statement: the update, its event (recorded only if the update happened) and, with `key`
        (scope, key), the request's Idempotency-Key marked done. A payment settled already (reconciliation
        got there first) is left as it is, and no event is recorded again."""
        if result == "processing":
            values: dict = {"status": "processing"}
        else:
            if result is None:
                result = ChargeResult(status="failed", charge_id=None, failure_code="processor_unavailable",
                                      failure_message=failure_message("processor_unavailable"))
            values = {"settled_at": utcnow(), "processor_charge_id": result.charge_id,
                      "status": "succeeded" if result.succeeded else "failed"}
            if not result.succeeded:
                code = result.failure_code or "processing_error"
                values.update(failure_code=code, failure_message=result.failure_message or failure_message(code))
        if getattr(payment, "processor_token", None):
            # Only a payment left pending by the code before migration 0003, which wrote its token: cleared as it
            # settles. (Payments since never write one.)
            values["processor_token"] = None
        outcome = _outcome_event(payment, values)
        params = {"settling_id": payment.id, **{f"new_{name}": value for name, value in values.items()}}
        if outcome is not None:
            params.update(event_params(make_event(*outcome, producer="payments")))
        if key is not None:
            params.update(key_scope=key[0], key_key=key[1])
        row = session.execute(_settle_statement(tuple(values), outcome is not None, key is not None), params).first()
        if row is None:
            return session.execute(select(*_payments.c).where(_payments.c.id == payment.id)).one()
        return row

    # reconciliation
    def reconcile(self, *, older_than_seconds: int | None = None) -> dict:
        """Asks the processor about every payment (and refund) whose outcome we do not know."""
        threshold = utcnow() - timedelta(seconds=self.config.reconcile_after_seconds if older_than_seconds is None
                                         else older_than_seconds)
        with unit_of_work(self.sessions) as session:
            ids = list(session.scalars(select(Payment.id).where(Payment.status.in_(UNSETTLED),
                                                                Payment.created_at <= threshold)))
            refund_ids = list(session.scalars(select(Refund.id).where(Refund.status == "pending",
                                                                      Refund.created_at <= threshold)))
        summary = {"payments": len(ids), "succeeded": 0, "failed": 0, "unknown": 0, "refunds": len(refund_ids)}
        in_flight_until = utcnow() - timedelta(seconds=self.in_flight_seconds)
        for payment_id in ids:
            try:
                found = self.processor.find_charge(payment_id)
            except ProcessorError:
                summary["unknown"] += 1
                continue
            with unit_of_work(self.sessions) as session:
                table = Payment.__table__
                locked = session.execute(select(*table.c).where(table.c.id == payment_id).with_for_update()).one()
                if locked.status not in UNSETTLED:
                    continue
                if found is None and locked.created_at > in_flight_until:
                    # Not at the processor *yet*: the charge call may still be on its way. Only a record
                    # settles a young payment; "nothing was charged" is decided once no call can be in flight.
                    summary["unknown"] += 1
                    continue
                payment = self._settle(session, locked, found)
                summary[payment.status] = summary.get(payment.status, 0) + 1
                # also completes a key left in progress by a crash mid-request
                session.execute(update(IdempotencyKey).where(IdempotencyKey.payment_id == payment_id).values(
                    status="done", response_status=func.coalesce(IdempotencyKey.response_status, 201)))
        for refund_id in refund_ids:
            self._reconcile_refund(refund_id)
        with unit_of_work(self.sessions) as session:  # keys live IDEMPOTENCY_TTL_HOURS (48 h), then go
            summary["expired_keys"] = session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.expires_at < utcnow(), IdempotencyKey.status == "done")).rowcount
            # a request that died before it reserved a payment charged nothing: its key is free again
            # (keys claimed since 0002 name their payment from the start; this clears older ones)
            summary["abandoned_keys"] = session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.status == "in_progress", IdempotencyKey.payment_id.is_(None),
                IdempotencyKey.created_at < in_flight_until)).rowcount
        log.info("reconciliation done", extra={"fields": summary})
        return summary

    # saved cards
    def list_methods(self, client_id: str) -> list[PaymentMethod]:
        with unit_of_work(self.sessions) as session:
            return list(session.scalars(select(PaymentMethod).where(
                PaymentMethod.client_id == client_id, PaymentMethod.removed_at.is_(None))
                .order_by(PaymentMethod.is_default.desc(), PaymentMethod.created_at)))

    def add_method(self, client_id: str, token: str, make_default: bool) -> PaymentMethod:
        self._require_online_payments()
        card = self._card_details(token)
        if card_expired(card.exp_month, card.exp_year, utcnow().date()):
            raise CardExpired("This card has expired; use another card.",
                              errors={"processor_token": ["The card has expired."]}, extra={"failure_code":
                                                                                            "expired_card"})
        if self._on_file(client_id, card.fingerprint):
            raise Conflict("This card is already saved.")  # before the attach, which would spend the token
        with self._processor_refusals():
            saved = self._attach(client_id, token)
        with unit_of_work(self.sessions) as session:
            session.execute(select(PaymentMethod.id).where(PaymentMethod.client_id == client_id)
                            .with_for_update())  # one change of a client's cards at a time
            method = self._new_method(session, client_id, saved, make_default)
            session.add(method)
            session.flush()
            publish(session, "payment_method.added", {"payment_method_id": method.id, "client_id": client_id,
                                                      "brand": method.brand, "last4": method.last4,
                                                      "is_default": method.is_default})
            if method.is_default:
                default_changed(session, client_id)
            return method

    def set_default(self, client_id: str, method_id: str) -> PaymentMethod:
        with unit_of_work(self.sessions) as session:
            method = self._own_method(session, client_id, method_id)
            session.execute(update(PaymentMethod).where(PaymentMethod.client_id == client_id)
                            .values(is_default=False))
            method.is_default = True
            default_changed(session, client_id)
            return method

    def remove_method(self, client_id: str, method_id: str) -> None:
        with unit_of_work(self.sessions) as session:
            self._remove(session, self._own_method(session, client_id, method_id))

    def _remove(self, session: Session, method: PaymentMethod, *, reason: str | None = None) -> None:
        """The card removed (a legacy card's token with it), the newest other card the default if it was, and
        payment_method.removed (with `reason` reentry_required when the client must enter it again)."""
        client_id = method.client_id
        method.removed_at = utcnow()
        method.processor_token = None
        was_default, method.is_default = method.is_default, False
        session.flush()
        if was_default:
            successor = session.scalars(select(PaymentMethod).where(
                PaymentMethod.client_id == client_id, PaymentMethod.removed_at.is_(None))
                .order_by(PaymentMethod.created_at.desc())).first()
            if successor is not None:
                successor.is_default = True
        payload = {"payment_method_id": method.id, "client_id": client_id, "brand": method.brand,
                   "last4": method.last4}
        if reason is not None:
            payload["reason"] = reason
        publish(session, "payment_method.removed", payload)
        if was_default:
            default_changed(session, client_id)

    # cards saved before migration 0003 (a reusable token, no payment method at the processor yet)
    def convert_legacy_cards(self) -> dict:
        """Converts every legacy card (convert_card); the reconciliation beat and `cli convert-cards` run it.
        A card another conversion holds right now is skipped (that one finishes it)."""
        with unit_of_work(self.statement_sessions) as session:
            ids = list(session.scalars(select(PaymentMethod.id).where(*LEGACY).order_by(PaymentMethod.created_at)))
        summary = {"cards": len(ids), "converted": 0, "reentry_required": 0, "unknown": 0, "skipped": 0}
        for method_id in ids:
            summary[self.convert_card(method_id, wait=False)] += 1
        if ids:
            log.info("legacy cards converted", extra={"fields": summary})
        return summary

    def convert_card(self, method_id: str, *, wait: bool = True) -> str:
        """A legacy card's token attached to the client's customer at the processor: the payment method kept, the
        token cleared. A token the processor refuses (spent, unknown) removes the card for re-entry. Answers
        converted | reentry_required | unknown (the processor did not answer: the card stays as it was, for the
        next try) | skipped (not legacy any more, or, without `wait`, being converted by another caller).

        The card's row stays locked across the attach: a second conversion of the same card (the beat and a
        Pay Now at once) waits and then finds it converted, instead of having the spent token refused and
        removing a card the first one just saved. One processor call, once per card, ever."""
        with unit_of_work(self.sessions) as session:
            method = session.scalars(select(PaymentMethod).where(PaymentMethod.id == method_id, *LEGACY)
                                     .with_for_update(skip_locked=not wait)).first()
            if method is None:
                return "skipped"
            # The code before let a client save another client's token as their own card: a token on file for
            # two clients is the one's who saved it first (the other could only have seen it after); any other
            # card holding it is removed for re-entry, never attached to that client's customer.
            first = session.scalar(select(PaymentMethod.client_id).where(
                PaymentMethod.processor_token == method.processor_token, PaymentMethod.removed_at.is_(None))
                .order_by(PaymentMethod.created_at, PaymentMethod.id).limit(1))
            if first != method.client_id:
                log.warning("legacy card's token saved first by another client; removed for re-entry",
                            extra={"fields": {"payment_method_id": method.id}})
                self._remove(session, method, reason="reentry_required")
                return "reentry_required"
            try:
                saved = self._attach(method.client_id, method.processor_token)
            except CardTokenInvalid:
                log.warning("legacy card refused by the processor; removed for re-entry",
                            extra={"fields": {"payment_method_id": method.id}})
                self._remove(session, method, reason="reentry_required")
                return "reentry_required"
            except ProcessorError as exc:
                # A timeout may have spent the token: the next try is then refused, and the client asked to
                # enter the card again. Nothing better is possible without a reference on the attach.
                log.warning("legacy card not converted; tried again later", extra={"fields": {
                    "payment_method_id": method.id, "error": type(exc).__name__}})
                return "unknown"
            method.processor_customer_id = saved.customer_id
            method.processor_payment_method_id = saved.payment_method_id
            method.fingerprint = method.fingerprint or saved.card.fingerprint
            method.processor_token = None
            return "converted"

    def _convert_before_charge(self, card_id: str, *, chosen: bool) -> None:
        """A legacy card about to be charged (Pay Now by id, AutoPay's default) converted first, so nothing waits
        for the beat. Refused by the processor: a card the client chose is theirs to enter again (422); AutoPay's
        default has moved on (another card, or none) and the reserve decides again."""
        outcome = self.convert_card(card_id)
        if outcome == "unknown":
            raise ProcessorDown("The card processor is not answering; nothing was charged. Try again shortly.")
        if outcome == "reentry_required" and chosen:
            raise Unprocessable("This saved card must be entered again; nothing was charged.",
                                errors={"payment_method_id": ["Enter this card again."]},
                                extra={"failure_code": "reentry_required"})

    # history
    def list_payments(self, *, client_id: str | None, start: date | None, end: date | None, status: str | None,
                      limit: int, cursor: str | None):
        with unit_of_work(self.sessions) as session:
            stmt = select(Payment)
            if client_id:
                stmt = stmt.where(Payment.client_id == client_id)
            tz = ZoneInfo(practice(session).timezone)  # dates are the practice's calendar days
            if start:
                stmt = stmt.where(Payment.created_at >= datetime.combine(start, time.min, tz))
            if end:
                stmt = stmt.where(Payment.created_at < datetime.combine(end + timedelta(days=1), time.min, tz))
            if status:
                stmt = stmt.where(Payment.status == status)
            rows, next_cursor = paginate(session, stmt, [Payment.created_at, Payment.id], [datetime, str],
                                         limit=limit, cursor=cursor, descending=True)
            return [self.view(session, p) for p in rows], next_cursor

    def get_payment(self, payment_id: str, *, client_id: str | None) -> dict:
        with unit_of_work(self.sessions) as session:
            payment = session.get(Payment, payment_id)
            if payment is None or (client_id is not None and payment.client_id != client_id):
                raise PaymentNotFound("No payment with this id.")
            return self.view(session, payment)

    def receipt(self, payment_id: str, *, client_id: str | None) -> tuple[str, bytes]:
        from services.payments.receipt import render_receipt

        with unit_of_work(self.sessions) as session:
            payment = session.get(Payment, payment_id)
            if payment is None or (client_id is not None and payment.client_id != client_id):
                raise PaymentNotFound("No payment with this id.")
            if payment.status != "succeeded":
                raise Conflict("A receipt exists only for a payment that went through.")
            account = session.get(Account, payment.client_id)
            return f"receipt-{payment.id[:8]}.pdf", render_receipt(practice(session), account,
                                                                   self.view(session, payment))

    # refunds
    def refund(self, payment_id: str, amount_cents: int, reason: str, staff_id: str,
               key: str | None = None) -> dict:
        """Refund part of a payment. With an Idempotency-Key (scoped to the payment), the key is claimed under the
        payment's lock, in the refund's own transaction: the same key and body answer that one refund (waiting for
        it to settle), the same key with another body is a 409, and a refused refund leaves the key free."""
        scope, digest = f"refund:{payment_id}", request_hash({"amount_cents": amount_cents, "reason": reason})
        with unit_of_work(self.sessions) as session:
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
            result = self.processor.refund(charge_id=charge_id, amount_cents=amount_cents, reference=refund.id)
        except (ProcessorTimeout, ProcessorUnavailable):
            result = None  # reconciled later by reference
        except ProcessorRejected as exc:  # refused outright (a key it does not take, say): nothing was refunded
            result = RefundResult(status="failed", refund_id=None, failure_code=exc.code or "processor_rejected")
        return self._settle_refund(refund.id, result)

    def _new_refund(self, session: Session, payment: Payment, amount_cents: int, reason: str, staff_id: str,
                    scope: str, key: str | None, digest: str) -> tuple[Refund, str]:
        """The refund written as pending (and its key claimed), under the payment's lock, after every check."""
        if payment.status != "succeeded":
            raise Conflict("Only a payment that went through can be refunded.")
        pending = session.scalar(select(func.coalesce(func.sum(Refund.amount_cents), 0)).where(
            Refund.payment_id == payment.id, Refund.status == "pending"))
        left = refundable(payment.amount_cents, payment.refunded_cents, int(pending))
        if amount_cents > left:
            raise RefundTooLarge(f"At most {left} cents can still be refunded.",
                                 errors={"amount_cents": [f"At most {left}."]}, extra={"refundable_cents": left})
        refund = Refund(id=new_id(), payment_id=payment.id, client_id=payment.client_id, amount_cents=amount_cents,
                        reason=reason, status="pending", created_by=staff_id)
        session.add(refund)
        if key is not None:
            session.add(IdempotencyKey(scope=scope, key=key, request_hash=digest, status="in_progress",
                                       payment_id=payment.id, response_body={"refund_id": refund.id},
                                       expires_at=utcnow() + timedelta(hours=self.config.idempotency_ttl_hours)))
        return refund, payment.processor_charge_id

    def _replayed_refund(self, scope: str, key: str, digest: str) -> dict:
        """The refund made under this key, once its request has settled it (or left it to reconciliation)."""
        deadline = clock.monotonic() + self.config.idempotency_wait_seconds
        while True:
            with unit_of_work(self.sessions) as session:
                row = session.get(IdempotencyKey, (scope, key))
                if row.request_hash != digest:
                    raise IdempotencyConflict("This Idempotency-Key was already used for a different refund.")
                if row.status == "done":
                    return self._refund_view(session.get(Refund, (row.response_body or {})["refund_id"]))
            if clock.monotonic() > deadline:
                raise RequestInProgress("The first refund with this key is still running; try again shortly.")
            clock.sleep(0.05)

    def _reconcile_refund(self, refund_id: str) -> None:
        try:
            found = self.processor.find_refund(refund_id)
        except ProcessorError:
            return
        if found is None:
            with unit_of_work(self.sessions) as session:
                refund = session.get(Refund, refund_id, with_for_update=True)
                in_flight_until = utcnow() - timedelta(seconds=self.in_flight_seconds)
                if refund.status == "pending" and refund.created_at <= in_flight_until:
                    refund.status, refund.failure_code = "failed", "processor_unavailable"
                    # its key answers this failed refund now (left in progress, every repeat would wait and be
                    # told "still running" for as long as the key lives, and the key would never expire)
                    session.execute(REFUND_KEY_DONE, {"scope": f"refund:{refund.payment_id}", "refund_id": refund.id})
            return
        self._settle_refund(refund_id, found)

    def _settle_refund(self, refund_id: str, result) -> dict:
        """Settles a pending refund from the processor's answer (None: unknown, left to reconciliation) and marks
        the Idempotency-Key it was made under (if any) done: a repeat of the request then answers this refund.
        Reconciliation comes here too, so a key left in progress by a crash is completed with its refund."""
        with unit_of_work(self.sessions) as session:
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
            session.execute(REFUND_KEY_DONE, {"scope": f"refund:{refund.payment_id}", "refund_id": refund.id})
            return self._refund_view(refund)

    @staticmethod
    def _refund_view(refund: Refund) -> dict:
        return {"id": refund.id, "payment_id": refund.payment_id, "amount_cents": refund.amount_cents,
                "status": refund.status, "failure_code": refund.failure_code, "reason": refund.reason,
                "created_at": refund.created_at}


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


def _once_more_on_disconnect(step):
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


def _outcome_event(payment, values: dict) -> tuple[str, dict] | None:
    """payment.succeeded or payment.failed for a payment (a Reservation or its row) settling with `values`."""
    common = {"payment_id": payment.id, "client_id": payment.client_id, "amount_cents": payment.amount_cents,
              "currency": payment.currency}
    if values["status"] == "succeeded":
        return "payment.succeeded", {**common, "invoice_ids": list(payment.invoice_ids or []),
                                     "processor_charge_id": values["processor_charge_id"],
                                     "method": {"brand": payment.brand, "last4": payment.last4},
                                     "source": payment.source}
    if values["status"] == "failed":
        return "payment.failed", {**common, "failure_code": values["failure_code"],
                                  "failure_message": values["failure_message"], "source": payment.source}
    return None

