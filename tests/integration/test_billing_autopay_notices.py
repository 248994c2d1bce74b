"""What billing tells of AutoPay for the client's notices: a failed night (autopay.charge_failed, with the next
night's run, or none when that failure switched AutoPay off), and an invoice AutoPay is to pay (invoice.generated's
`autopay`: when the next run charges it, and how much)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.billing.usecases.autopay import AutopayRunner, next_run_at, run_at
from shared.db import utcnow
from tests.integration.billing_fixtures import FakePayments, billing_outbox, invoice, paid

pytestmark = pytest.mark.integration

SETTINGS = ("practice_name", "currency", "timezone", "phone", "email", "address", "online_payments_enabled",
            "billing_documents_enabled", "autopay_enabled")
NEW_YORK = ZoneInfo("America/New_York")  # the practice's time zone in these tests (billing's default)


@pytest.fixture
def practice_autopay(deliver, billing_app):
    """Switches the practice's AutoPay in billing's projection (identity's fake says on throughout); off after."""
    profile = billing_app.extensions["billing"].get_profile()
    settings = {k: profile[k] for k in SETTINGS if k in profile}
    assert settings.get("timezone", "America/New_York") == "America/New_York", settings

    def switch(on: bool) -> None:
        deliver("practice.settings_changed", {"settings": {**settings, "autopay_enabled": on}})

    switch(True)
    yield switch
    switch(False)


@pytest.fixture
def enrolled(bstaff, bclient, codes, practice_autopay):
    """A client on AutoPay with one invoice (150.00) issued since."""
    client_id, _ = bclient()
    assert bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True}).status_code == 200
    invoice(bstaff, client_id)
    return client_id


def runner(billing_app, payments) -> AutopayRunner:
    return AutopayRunner(sessions=billing_app.extensions["billing_autopay"].sessions, payments=payments, hour=1,
                         minute=0)


def a_night() -> datetime:
    """Noon UTC of a practice day no other test runs (the run charges every enrolled client of the database)."""
    day = utcnow().date() + timedelta(days=3000 + uuid.uuid4().int % 20000)
    return datetime.combine(day, time(12), UTC)


def local_run(moment: str) -> tuple[date, int, int]:
    """A UTC date-time of the wire as the practice's clock reads it: (day, hour, minute)."""
    at = datetime.fromisoformat(moment)
    assert at.utcoffset() == timedelta(0), moment
    local = at.astimezone(NEW_YORK)
    return local.date(), local.hour, local.minute


# --- the night's run time, on the practice's clock ---------------------------------------------------

def test_the_nightly_run_time_is_the_practices_local_time_in_utc_across_clock_changes():
    zone = "America/New_York"
    assert run_at(date(2026, 12, 2), zone, 1, 0) == datetime(2026, 12, 2, 6, tzinfo=UTC)
    assert run_at(date(2026, 7, 2), zone, 1, 0) == datetime(2026, 7, 2, 5, tzinfo=UTC)
    # the autumn's repeated hour: its first occurrence (the run is due the first time the clock reads it)
    assert run_at(date(2026, 11, 1), zone, 1, 30) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # the spring's skipped hour: the jump (02:00 EST is 03:00 EDT), the first instant the clock is past 02:30
    assert run_at(date(2026, 3, 8), zone, 2, 30) == datetime(2026, 3, 8, 7, tzinfo=UTC)
    assert next_run_at(datetime(2026, 12, 1, 15, tzinfo=UTC), zone, 1, 0) == datetime(2026, 12, 2, 6, tzinfo=UTC)
    assert next_run_at(datetime(2026, 12, 2, 5, 59, tzinfo=UTC), zone, 1, 0) == datetime(2026, 12, 2, 6, tzinfo=UTC)
    assert next_run_at(datetime(2026, 12, 2, 6, tzinfo=UTC), zone, 1, 0) == datetime(2026, 12, 3, 6, tzinfo=UTC)


# --- autopay.charge_failed ---------------------------------------------------------------------------

def test_a_failed_night_tells_when_autopay_tries_again_and_the_third_that_it_will_not(billing_app, billing_engine,
                                                                                     enrolled):
    client_id = enrolled
    payments = FakePayments(outcome="failed")
    autopay = runner(billing_app, payments)
    night = a_night()
    nights = [night + timedelta(days=n) for n in range(3)]
    for moment in nights:
        assert autopay.run(trigger="test", now=moment)["summary"]["errors"] == 0
    failed = billing_outbox(billing_engine, "autopay.charge_failed", client_id=client_id)
    answers = [payments.by_key[f"autopay:{m.astimezone(NEW_YORK).date().isoformat()}:{client_id}"] for m in nights]
    assert [(e["failures"], e["payment_id"], e["failure_code"]) for e in failed] == [
        (n, answer["id"], "card_declined") for n, answer in enumerate(answers, start=1)]
    # the first two: the next practice day's run, 01:00 on its clock; the third switched AutoPay off
    assert [local_run(e["next_attempt_at"]) for e in failed[:2]] == [
        (m.astimezone(NEW_YORK).date() + timedelta(days=1), 1, 0) for m in nights[:2]]
    assert failed[2]["next_attempt_at"] is None
    assert billing_outbox(billing_engine, "autopay.disabled", client_id=client_id) == [{
        "client_id": client_id, "failures": 3, "last_failure_code": "card_declined",
        "reason": "3 failed AutoPay nights in a row"}]
    # the same night again: its attempt is final, nothing charged or told twice
    autopay.run(trigger="test", now=nights[2])
    assert len(billing_outbox(billing_engine, "autopay.charge_failed", client_id=client_id)) == 3


def test_a_charge_that_answered_processing_and_then_failed_is_a_failed_night_told_to_the_client(
        billing_app, billing_engine, enrolled, deliver):
    client_id = enrolled
    payments = FakePayments(outcome="processing")
    night = a_night()
    assert runner(billing_app, payments).run(trigger="test", now=night)["summary"]["processing"] == 1
    assert billing_outbox(billing_engine, "autopay.charge_failed", client_id=client_id) == []
    answer, = payments.by_key.values()
    failed = {"payment_id": answer["id"], "client_id": client_id, "amount_cents": 15000, "currency": "USD",
              "failure_code": "insufficient_funds", "failure_message": "Insufficient funds.", "source": "autopay"}
    deliver("payment.failed", failed)  # reconciliation found it failed
    deliver("payment.failed", {**failed, "source": "portal"})  # not AutoPay's: nothing
    told, = billing_outbox(billing_engine, "autopay.charge_failed", client_id=client_id)
    assert told == {"client_id": client_id, "payment_id": answer["id"], "failures": 1,
                    "failure_code": "insufficient_funds", "next_attempt_at": None, "autopay_enabled": True}
    deliver("payment.failed", failed)  # redelivered (a new event id): the attempt is failed already
    assert len(billing_outbox(billing_engine, "autopay.charge_failed", client_id=client_id)) == 1


def test_a_charged_night_tells_no_failure(billing_app, billing_engine, enrolled):
    runner(billing_app, FakePayments(outcome="succeeded")).run(trigger="test", now=a_night())
    assert billing_outbox(billing_engine, "autopay.charge_failed", client_id=enrolled) == []


# --- invoice.generated's autopay -----------------------------------------------------------------------

def generated(billing_engine, invoice_id: str) -> dict:
    event, = billing_outbox(billing_engine, "invoice.generated", invoice_id=invoice_id)
    return event


def test_an_invoice_for_a_client_on_autopay_says_when_autopay_charges_it_and_how_much(bstaff, billing_engine,
                                                                                      enrolled):
    second = invoice(bstaff, enrolled, ("90837", 1))  # 200.00, after the enrolment's 150.00
    event = generated(billing_engine, second["id"])
    issued = datetime.fromisoformat(event["issued_at"])
    autopay = event["autopay"]
    assert (autopay["amount_cents"], autopay["currency"]) == (35000, "USD")  # the balance after this invoice
    charge_at = datetime.fromisoformat(autopay["charge_at"])
    day, hour, minute = local_run(autopay["charge_at"])
    assert (hour, minute) == (1, 0) and issued < charge_at <= issued + timedelta(hours=25)
    assert day in (issued.astimezone(NEW_YORK).date(), issued.astimezone(NEW_YORK).date() + timedelta(days=1))


def test_an_invoice_says_no_autopay_when_the_client_or_the_practice_is_not_on_it_or_credit_paid_it(
        bstaff, bclient, codes, deliver, billing_engine, practice_autopay):
    not_enrolled, _ = bclient()
    assert generated(billing_engine, invoice(bstaff, not_enrolled)["id"])["autopay"] is None
    # enrolled, with credit that pays the whole new invoice: nothing left for AutoPay to charge
    in_credit, _ = bclient()
    assert bstaff.put(f"/api/v1/staff/clients/{in_credit}/autopay", json={"enabled": True}).status_code == 200
    first = invoice(bstaff, in_credit)
    paid(deliver, in_credit, 40000, first["id"])  # 150.00 to it, 250.00 credit
    assert generated(billing_engine, invoice(bstaff, in_credit)["id"])["autopay"] is None
    # enrolled, the practice's AutoPay then switched off
    off, _ = bclient()
    assert bstaff.put(f"/api/v1/staff/clients/{off}/autopay", json={"enabled": True}).status_code == 200
    practice_autopay(False)
    assert generated(billing_engine, invoice(bstaff, off)["id"])["autopay"] is None
