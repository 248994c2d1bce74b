"""Cards on file: saving one (by processor token, attached to the client's customer at the processor), the
default card, removing one, a new card entered for a payment, the conversion of cards saved before migration
0003 (a reusable token, no payment method at the processor yet), and the notice of a card's coming expiry."""

from __future__ import annotations

import calendar
import logging
from contextlib import contextmanager
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from services.payments.domain.cards import check_not_expired, conversion_refusal
from services.payments.domain.errors import CardAlreadySaved, CardUnreadable, PaymentMethodNotFound, ProcessorDown
from services.payments.models import Payment, PaymentMethod
from services.payments.processor import (
    CardDetails,
    CardTokenInvalid,
    ChargeResult,
    ProcessorError,
    ProcessorTimeout,
    ProcessorUnavailable,
    SavedCard,
    failure_message,
)
from services.payments.usecases.base import Context, publish
from services.payments.usecases.online import OnlinePayments
from shared.db import new_id, unit_of_work, utcnow

log = logging.getLogger(__name__)

# A card saved the old way (a reusable token) and not converted yet.
LEGACY = (PaymentMethod.removed_at.is_(None), PaymentMethod.processor_payment_method_id.is_(None),
          PaymentMethod.processor_token.is_not(None))


def expires_on(exp_month: int, exp_year: int) -> date:
    """A card's last good day: the last day of its expiry month (domain.cards.card_expired's reading)."""
    return date(exp_year, exp_month, calendar.monthrange(exp_year, exp_month)[1])


def expiry_months(today: date, days: int) -> list[tuple[int, int]]:
    """The (year, month) of every expiry whose last good day is from `today` through `days` later: this month's
    (its last day is still to come, or today), and the next one's once its last day is that near."""
    horizon, months = today + timedelta(days=days), []
    year, month = today.year, today.month
    while expires_on(month, year) <= horizon:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class NewCard(NamedTuple):
    """A card entered for this payment: the processor's details of its token, and whether to save it (asked for,
    and not on file already)."""

    details: CardDetails
    save: bool


def default_changed(session: Session, client_id: str) -> None:
    """Billing shows the default card on My Account: tell it whenever the default may have moved."""
    session.flush()
    method_id = session.scalars(select(PaymentMethod.id).where(
        PaymentMethod.client_id == client_id, PaymentMethod.is_default.is_(True),
        PaymentMethod.removed_at.is_(None))).first()
    publish(session, "payment_method.default_changed", {"client_id": client_id, "payment_method_id": method_id})


class Cards:
    def __init__(self, ctx: Context, online: OnlinePayments):
        self.ctx = ctx
        self.online = online

    # --- the client's cards --------------------------------------------------------------------

    def list_methods(self, client_id: str) -> list[PaymentMethod]:
        with unit_of_work(self.ctx.sessions) as session:
            return list(session.scalars(select(PaymentMethod).where(
                PaymentMethod.client_id == client_id, PaymentMethod.removed_at.is_(None))
                .order_by(PaymentMethod.is_default.desc(), PaymentMethod.created_at)))

    def add_method(self, client_id: str, token: str, make_default: bool) -> PaymentMethod:
        self.online.require_for_cards()
        card = self.card_details(token)
        check_not_expired(card.exp_month, card.exp_year, utcnow().date(), field="processor_token")
        if self.on_file(client_id, card.fingerprint):
            raise CardAlreadySaved("This card is already saved.")  # before the attach, which would spend the token
        with self._processor_refusals():
            saved = self._attach(client_id, token)
        with unit_of_work(self.ctx.sessions) as session:
            session.execute(select(PaymentMethod.id).where(PaymentMethod.client_id == client_id)
                            .with_for_update())  # one change of a client's cards at a time
            return self._save(session, client_id, saved, make_default)

    def set_default(self, client_id: str, method_id: str) -> PaymentMethod:
        with unit_of_work(self.ctx.sessions) as session:
            method = self._own_method(session, client_id, method_id)
            session.execute(update(PaymentMethod).where(PaymentMethod.client_id == client_id)
                            .values(is_default=False))
            method.is_default = True
            default_changed(session, client_id)
            return method

    def remove_method(self, client_id: str, method_id: str) -> None:
        with unit_of_work(self.ctx.sessions) as session:
            self._remove(session, self._own_method(session, client_id, method_id))

    def _own_method(self, session: Session, client_id: str, method_id: str) -> PaymentMethod:
        method = session.get(PaymentMethod, method_id)
        if method is None or method.client_id != client_id or method.removed_at is not None:
            raise PaymentMethodNotFound("No saved card with this id.")
        return method

    def _save(self, session: Session, client_id: str, saved: SavedCard, make_default: bool) -> PaymentMethod:
        """The attached card saved (under the lock of the client's cards), with payment_method.added."""
        method = self._new_method(session, client_id, saved, make_default)
        session.add(method)
        session.flush()
        publish(session, "payment_method.added", {"payment_method_id": method.id, "client_id": client_id,
                                                  "brand": method.brand, "last4": method.last4,
                                                  "is_default": method.is_default})
        if method.is_default:
            default_changed(session, client_id)
        return method

    def _new_method(self, session: Session, client_id: str, saved: SavedCard, make_default: bool) -> PaymentMethod:
        card = saved.card
        if card.fingerprint and session.scalars(select(PaymentMethod.id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.fingerprint == card.fingerprint,
                PaymentMethod.removed_at.is_(None))).first():
            raise CardAlreadySaved("This card is already saved.")
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

    def _remove(self, session: Session, method: PaymentMethod, *, reason: str | None = None) -> None:
        """The card removed (a legacy card's token with it), the newest other card the default if it was, and
        payment_method.removed (with `reason` reentry_required when the client must enter it again)."""
        client_id = method.client_id
        method.removed_at = utcnow()
        method.processor_token = None
        was_default, method.is_default = method.is_default, False
        session.flush()
        successor = None
        if was_default:
            successor = session.scalars(select(PaymentMethod).where(
                PaymentMethod.client_id == client_id, PaymentMethod.removed_at.is_(None))
                .order_by(PaymentMethod.created_at.desc())).first()
            if successor is not None:
                successor.is_default = True
        # was_default and the card that took its place: whoever charges the default (AutoPay) can say what now
        payload = {"payment_method_id": method.id, "client_id": client_id, "brand": method.brand,
                   "last4": method.last4, "was_default": was_default,
                   "new_default": ({"payment_method_id": successor.id, "brand": successor.brand,
                                    "last4": successor.last4} if successor is not None else None)}
        if reason is not None:
            payload["reason"] = reason
        publish(session, "payment_method.removed", payload)
        if was_default:
            default_changed(session, client_id)

    # --- a card entered for a payment ----------------------------------------------------------

    def new_card(self, client_id: str, body: dict) -> NewCard:
        """A new card's details from the processor (a look-up: the token is not spent), and whether to save it."""
        details = self.card_details(body["processor_token"])
        return NewCard(details, bool(body.get("save_card")) and not self.on_file(client_id, details.fingerprint))

    def card_details(self, token: str) -> CardDetails:
        """A new card's details. A legacy card's token is still good at the processor until its conversion spends
        it: presented as a new card (by anyone: it may be another client's), it is refused like a spent one."""
        with unit_of_work(self.ctx.statement_sessions) as session:
            on_file = session.scalar(select(PaymentMethod.id).where(PaymentMethod.processor_token == token).limit(1))
        if on_file is not None:
            raise CardUnreadable("This card could not be read; enter it again.",
                                 errors={"processor_token": ["Unknown or used card token."]})
        with self._processor_refusals():
            return self.ctx.processor.retrieve_token(token)

    @contextmanager
    def _processor_refusals(self):
        """A processor call before any payment is written: what the client is told when it fails."""
        try:
            yield
        except CardTokenInvalid as exc:
            # Unknown, or spent (tokens are single-use): the client enters the card again. Nothing of the card
            # behind it is said: it may be another client's.
            raise CardUnreadable("This card could not be read; enter it again.",
                                 errors={"processor_token": ["Unknown or used card token."]}) from exc
        except (ProcessorUnavailable, ProcessorTimeout) as exc:
            raise ProcessorDown("The card processor is not answering; nothing was charged. Try again shortly.") \
                from exc
        except ProcessorError as exc:
            log.error("the card processor refused a request", extra={"fields": {"error": str(exc)}})
            raise ProcessorDown("The card processor did not take the card; nothing was charged. Try again "
                                "shortly.") from exc

    def on_file(self, client_id: str, fingerprint: str | None) -> bool:
        if not fingerprint:
            return False
        with unit_of_work(self.ctx.statement_sessions) as session:
            return session.scalars(select(PaymentMethod.id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.fingerprint == fingerprint,
                PaymentMethod.removed_at.is_(None))).first() is not None

    def _attach(self, client_id: str, token: str) -> SavedCard:
        """The token's card as a payment method of the client's customer at the processor (created once, with
        our client id as its reference); spends the token. Raises the processor's errors."""
        with unit_of_work(self.ctx.statement_sessions) as session:
            customer = session.scalars(select(PaymentMethod.processor_customer_id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.processor_customer_id.is_not(None))).first()
        processor = self.ctx.processor
        return processor.attach_card(customer_id=customer or processor.create_customer(client_id), token=token)

    def save_for_payment(self, payment_id: str, client_id: str, token: str,
                         make_default: bool) -> SavedCard | ChargeResult:
        """Pay Now's "save this card", after the reserve and before the charge (so a refused request spends no
        token): the card attached at the processor, saved here bound to the client, and the payment bound to it,
        to be charged by that payment method. An attach that fails charged nothing: the payment's failed result
        is answered instead."""
        try:
            saved = self._attach(client_id, token)
        except ProcessorError as exc:
            log.warning("card not attached; nothing charged", extra={"fields": {
                "payment_id": payment_id, "error": type(exc).__name__}})
            code = "processor_unavailable" if isinstance(exc, ProcessorUnavailable | ProcessorTimeout) \
                else "processing_error"
            return ChargeResult(status="failed", charge_id=None, failure_code=code,
                                failure_message=failure_message(code))
        with unit_of_work(self.ctx.sessions) as session:
            session.execute(select(PaymentMethod.id).where(PaymentMethod.client_id == client_id)
                            .with_for_update())  # one change of a client's cards at a time
            method_id = session.scalars(select(PaymentMethod.id).where(
                PaymentMethod.client_id == client_id, PaymentMethod.fingerprint == saved.card.fingerprint,
                PaymentMethod.removed_at.is_(None))).first() if saved.card.fingerprint else None
            if method_id is None:  # not saved meanwhile by another request
                method_id = self._save(session, client_id, saved, make_default).id
            session.execute(update(Payment).where(Payment.id == payment_id).values(payment_method_id=method_id))
        return saved

    # --- a card's coming expiry ---------------------------------------------------------------

    def announce_expiring_cards(self, today: date | None = None, *, batch: int = 500) -> dict:
        """payment_method.expiring for each card on file whose last good day is within the configured days from
        `today` (UTC, as the charge's check_not_expired reads it), once per card ever: the mark and the event are
        one transaction. The rows are claimed FOR UPDATE SKIP LOCKED, so two ticks at once (two beats, a slow
        tick overlapping the next) never tell one card twice; a card skipped because another transaction holds
        it (a removal, a conversion) is looked at again at the next tick. An expired card (its month is over) or
        a removed one is told nothing. The beat's payments.card_expiry_notices runs it."""
        today = today or utcnow().date()
        months = expiry_months(today, self.ctx.config.card_expiry_notice_days)
        told = 0
        while months:
            with unit_of_work(self.ctx.sessions) as session:
                cards = list(session.scalars(select(PaymentMethod).where(
                    PaymentMethod.removed_at.is_(None), PaymentMethod.expiry_notice_sent_at.is_(None),
                    tuple_(PaymentMethod.exp_year, PaymentMethod.exp_month).in_(months))
                    .order_by(PaymentMethod.id).limit(batch).with_for_update(skip_locked=True)))
                now = utcnow()
                for card in cards:
                    card.expiry_notice_sent_at = now
                    publish(session, "payment_method.expiring", {
                        "payment_method_id": card.id, "client_id": card.client_id, "brand": card.brand,
                        "last4": card.last4, "exp_month": card.exp_month, "exp_year": card.exp_year,
                        "expires_on": expires_on(card.exp_month, card.exp_year).isoformat()})
            told += len(cards)
            if len(cards) < batch:
                break
        if told:
            log.info("cards near their expiry told", extra={"fields": {"cards": told}})
        return {"told": told}

    # --- cards saved before migration 0003 -----------------------------------------------------

    def convert_legacy_cards(self) -> dict:
        """Converts every legacy card (convert_card); the reconciliation beat and `cli convert-cards` run it.
        A card another conversion holds right now is skipped (that one finishes it)."""
        with unit_of_work(self.ctx.statement_sessions) as session:
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
        with unit_of_work(self.ctx.sessions) as session:
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

    def convert_before_charge(self, card_id: str, *, chosen: bool) -> None:
        """A legacy card about to be charged (Pay Now by id, AutoPay's default) converted first, so nothing waits
        for the beat; refused, see conversion_refusal."""
        refusal = conversion_refusal(self.convert_card(card_id), chosen=chosen)
        if refusal is not None:
            raise refusal
