"""A saved card near its expiry: payment_method.expiring once per card (the mark and the event in one
transaction), for a card on file whose last good day is within 30 days; nothing for one further off, already
expired or removed; a second tick tells nobody again, and a card another transaction holds is told later, once."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import text

from services.payments.usecases.cards import expires_on, expiry_months
from tests.integration.payments_fixtures import payments_outbox
from tests.integration.test_payments_legacy_cards import run_payments

pytestmark = pytest.mark.integration


@pytest.fixture
def year():
    """A year of the test's own: the tick tells every card of the database near `today`, and no other test's card
    expires then."""
    return 2100 + uuid.uuid4().int % 7000


@pytest.fixture
def cards(payments_app):
    return payments_app.extensions["payments"].cards


def saved_card(engine, client_id: str, exp_month: int, exp_year: int, *, removed: bool = False) -> str:
    """A card saved the current way (bound to a payment method at the processor), straight into the table."""
    card_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO payment_methods (id, client_id, processor_customer_id, processor_payment_method_id, brand,"
            " last4, exp_month, exp_year, is_default, removed_at) VALUES (:id, :c, :cus, :pm, 'visa', '4242', :m,"
            " :y, false, CASE WHEN :removed THEN now() END)"),
            {"id": card_id, "c": client_id, "cus": f"cus_{card_id[:8]}", "pm": f"pm_{card_id[:12]}", "m": exp_month,
             "y": exp_year, "removed": removed})
    return card_id


def expiring(engine, card_id: str) -> list[dict]:
    return payments_outbox(engine, "payment_method.expiring", payment_method_id=card_id)


def notice_sent_at(engine, card_id: str):
    with engine.connect() as conn:
        return conn.execute(text("SELECT expiry_notice_sent_at FROM payment_methods WHERE id = :id"),
                            {"id": card_id}).scalar_one()


def test_expiry_months_are_those_whose_last_day_is_within_the_days():
    assert expiry_months(date(2026, 11, 15), 30) == [(2026, 11)]  # 31 December is 46 days off
    assert expiry_months(date(2026, 12, 1), 30) == [(2026, 12)]  # 31 December is 30 days off: in
    assert expiry_months(date(2026, 12, 2), 30) == [(2026, 12)]  # 31 January is 60 days off
    assert expiry_months(date(2027, 1, 31), 30) == [(2027, 1), (2027, 2)]  # today, and 28 February
    assert expiry_months(date(2028, 1, 31), 30) == [(2028, 1), (2028, 2)]  # a leap year's 29 February
    assert expires_on(2, 2028) == date(2028, 2, 29) and expires_on(12, 2026) == date(2026, 12, 31)


def test_a_card_near_its_expiry_is_told_once_and_others_never(payer, payments_engine, cards, year):
    client_id, _, _ = payer(5000)
    near = saved_card(payments_engine, client_id, 11, year)
    later = saved_card(payments_engine, client_id, 12, year)  # its last good day 46 days off
    expired = saved_card(payments_engine, client_id, 10, year)
    removed = saved_card(payments_engine, client_id, 11, year, removed=True)
    first = cards.announce_expiring_cards(date(year, 11, 15))
    assert expiring(payments_engine, near) == [{
        "payment_method_id": near, "client_id": client_id, "brand": "visa", "last4": "4242", "exp_month": 11,
        "exp_year": year, "expires_on": f"{year}-11-30"}]
    assert notice_sent_at(payments_engine, near) is not None
    for quiet in (later, expired, removed):
        assert expiring(payments_engine, quiet) == [] and notice_sent_at(payments_engine, quiet) is None
    assert first["told"] >= 1
    # the next tick (the same day, the next): nobody is told again
    assert cards.announce_expiring_cards(date(year, 11, 15)) == {"told": 0}
    assert cards.announce_expiring_cards(date(year, 11, 16)) == {"told": 0}
    assert len(expiring(payments_engine, near)) == 1
    # 1 December: December's card is 30 days from its last good day now, told once; the expired and the removed
    # card still never
    cards.announce_expiring_cards(date(year, 12, 1))
    assert [e["expires_on"] for e in expiring(payments_engine, later)] == [f"{year}-12-31"]
    assert len(expiring(payments_engine, near)) == 1
    assert expiring(payments_engine, expired) == [] and expiring(payments_engine, removed) == []


def test_a_card_another_transaction_holds_is_skipped_and_told_at_the_next_tick(payer, payments_engine, cards,
                                                                                 year):
    """FOR UPDATE SKIP LOCKED: the tick neither waits for the holder nor tells the card behind its back."""
    client_id, _, _ = payer(5000)
    held = saved_card(payments_engine, client_id, 6, year)
    free = saved_card(payments_engine, client_id, 6, year)
    with payments_engine.connect() as holder:
        holder.execute(text("SELECT id FROM payment_methods WHERE id = :id FOR UPDATE"), {"id": held})
        cards.announce_expiring_cards(date(year, 6, 10))
        assert len(expiring(payments_engine, free)) == 1
        assert expiring(payments_engine, held) == [] and notice_sent_at(payments_engine, held) is None
        holder.rollback()
    cards.announce_expiring_cards(date(year, 6, 11))
    assert len(expiring(payments_engine, held)) == 1 and len(expiring(payments_engine, free)) == 1


def test_two_ticks_at_once_tell_each_card_once(payer, payments_engine, cards, year):
    client_id, _, _ = payer(5000)
    ids = [saved_card(payments_engine, client_id, 3, year) for _ in range(40)]
    start, errors = threading.Barrier(2), []

    def tick():
        try:
            start.wait(timeout=10)
            cards.announce_expiring_cards(date(year, 3, 5), batch=7)
        except Exception as exc:  # noqa: BLE001 (reported below, with the test's failure)
            errors.append(exc)

    workers = [threading.Thread(target=tick) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == [] and not any(w.is_alive() for w in workers)
    assert {card_id: len(expiring(payments_engine, card_id)) for card_id in ids} == dict.fromkeys(ids, 1)


def test_the_beats_task_tells_a_card_expiring_this_month(payer, payments_engine, payments_config):
    client_id, _, _ = payer(5000)
    today = datetime.now(UTC).date()
    card_id = saved_card(payments_engine, client_id, today.month, today.year)
    done = run_payments(payments_config, ["-c", (
        "import json; from services.payments.tasks import celery, card_expiry_notices\n"
        "schedule = {e['task']: e['schedule'] for e in celery.conf.beat_schedule.values()}\n"
        "assert schedule.get('payments.card_expiry_notices') == 3600.0, schedule\n"
        "print(json.dumps(card_expiry_notices.apply().get()))")])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["told"] >= 1, done.stdout
    assert [e["expires_on"] for e in expiring(payments_engine, card_id)] == [
        expires_on(today.month, today.year).isoformat()]
