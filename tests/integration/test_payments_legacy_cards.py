"""Cards saved before migration 0003 (a reusable processor token, no payment method): kept, and converted to a
payment method of the client's customer at the processor by the CLI, by the beat's task and before their first
charge; a token the processor refuses removes the card for re-entry, with its event. No token stays in clear."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid

import pytest
import requests
from sqlalchemy import text

from tests.integration.conftest import assert_problem
from tests.integration.identity_fake import INTERNAL_KEY
from tests.integration.payments_fixtures import NEXT_YEAR, SANDBOX_KEY, pay, payments_outbox, tokenize
from tests.support.processes import ROOT

pytestmark = pytest.mark.integration
METHODS = "/api/v1/portal/payment-methods"


def legacy_card(engine, client_id: str, token: str, *, default: bool = True, last4: str = "4242") -> str:
    """A card as the code before 0003 saved it: its token, nothing bound at the processor."""
    card_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO payment_methods (id, client_id, processor_token, brand, last4, exp_month,"
                          " exp_year, is_default) VALUES (:id, :c, :t, 'visa', :l, 12, :y, :d)"),
                     {"id": card_id, "c": client_id, "t": token, "l": last4, "y": NEXT_YEAR, "d": default})
    return card_id


def card_row(engine, card_id: str):
    with engine.connect() as conn:
        return conn.execute(text("SELECT * FROM payment_methods WHERE id = :id"), {"id": card_id}).one()


def spent_token(sandbox_url: str) -> str:
    """A token the processor took already (charged once directly): a second use is refused."""
    token = tokenize(sandbox_url)
    answer = requests.post(f"{sandbox_url}/v1/charges", headers={"Authorization": f"Bearer {SANDBOX_KEY}"}, json={
        "token": token, "amount_cents": 100, "currency": "USD", "reference": uuid.uuid4().hex,
        "description": "spent"}, timeout=5)
    assert answer.status_code == 201, answer.text
    return token


def assert_converted(engine, card_id: str, token: str) -> None:
    row = card_row(engine, card_id)
    assert row.removed_at is None and row.processor_token is None
    assert row.processor_payment_method_id.startswith("pm_") and row.processor_customer_id.startswith("cus_")
    assert_no_token_anywhere(engine, token)


def assert_no_token_anywhere(engine, token: str) -> None:
    """Not in any column of payments' tables that a card or payment touches, events included."""
    with engine.connect() as conn:
        for table in ("payment_methods", "payments", "outbox", "idempotency_keys"):
            rows = conn.execute(text(f"SELECT t::text FROM {table} t")).scalars().all()  # noqa: S608
            assert not [r for r in rows if token in r], table


def run_payments(payments_config, code: list[str]) -> subprocess.CompletedProcess:
    """A payments process of its own, configured from the environment as the operator's would be."""
    env = {"PAYMENTS_DATABASE_URL": payments_config.database_url, "PROCESSOR_URL": payments_config.processor_url,
           "PROCESSOR_API_KEY": payments_config.processor_api_key, "INTERNAL_API_KEY": INTERNAL_KEY * 3,
           "AMQP_URL": payments_config.amqp_url, "PORTAL_ENV": "test", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, *code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode in (0, 1), done.stderr
    return done


def test_the_cli_converts_a_legacy_card_and_keeps_no_token(payer, sandbox, payments_engine, payments_config):
    client_id, me, _ = payer(5000)
    token = tokenize(sandbox[0])
    card_id = legacy_card(payments_engine, client_id, token)
    done = run_payments(payments_config, ["-m", "services.payments.cli", "convert-cards"])
    summary = json.loads(done.stdout)
    assert summary["converted"] >= 1 and summary["unknown"] == 0, summary
    assert_converted(payments_engine, card_id, token)
    # still the client's card, the default, and charged by its payment method now
    assert [m["id"] for m in me.get(METHODS).get_json()["items"]] == [card_id]
    paid = pay(me, {"amount_cents": 700, "payment_method_id": card_id})
    assert paid.status_code == 201 and paid.get_json()["status"] == "succeeded", paid.get_json()


def test_the_beats_task_converts_a_legacy_card(payer, sandbox, payments_engine, payments_config):
    client_id, _, _ = payer(5000)
    token = tokenize(sandbox[0])
    card_id = legacy_card(payments_engine, client_id, token)
    done = run_payments(payments_config, ["-c", (
        "import json; from services.payments.tasks import celery, convert_legacy_cards\n"
        "tasks = {entry['task'] for entry in celery.conf.beat_schedule.values()}\n"
        "assert 'payments.convert_legacy_cards' in tasks, tasks\n"
        "print(json.dumps(convert_legacy_cards.apply().get()))")])
    assert json.loads(done.stdout)["converted"] >= 1, done.stdout
    assert_converted(payments_engine, card_id, token)


def test_pay_now_converts_a_legacy_card_before_its_first_charge(payer, sandbox, payments_engine):
    client_id, me, _ = payer(5000)
    token = tokenize(sandbox[0])
    card_id = legacy_card(payments_engine, client_id, token)
    paid = pay(me, {"amount_cents": 1200, "payment_method_id": card_id})
    assert paid.status_code == 201, paid.get_json()
    assert paid.get_json()["status"] == "succeeded" and paid.get_json()["payment_method_id"] == card_id
    assert_converted(payments_engine, card_id, token)
    again = pay(me, {"amount_cents": 300, "payment_method_id": card_id})  # the payment method charges again
    assert again.status_code == 201 and again.get_json()["status"] == "succeeded"


def test_autopay_converts_a_legacy_default_card_before_charging_it(payer, sandbox, payments_engine, payments_app):
    client_id, _, _ = payer(5000)
    token = tokenize(sandbox[0])
    card_id = legacy_card(payments_engine, client_id, token)
    answer = payments_app.test_client().post(
        "/internal/v1/autopay-charges", json={"client_id": client_id, "amount_cents": 900, "currency": "USD"},
        headers={"Idempotency-Key": f"autopay:legacy:{client_id}", "Authorization": f"Bearer {INTERNAL_KEY}"})
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "succeeded" and answer.get_json()["payment_method_id"] == card_id
    assert_converted(payments_engine, card_id, token)


@pytest.mark.parametrize("refused", ["spent", "unknown"])
def test_a_token_the_processor_refuses_removes_the_card_for_reentry_with_its_events(
        payer, sandbox, payments_engine, payments_app, refused):
    client_id, me, _ = payer(5000)
    token = spent_token(sandbox[0]) if refused == "spent" else f"tok_{uuid.uuid4().hex[:24]}"
    card_id = legacy_card(payments_engine, client_id, token)
    summary = payments_app.extensions["payments"].convert_legacy_cards()
    assert summary["reentry_required"] >= 1, summary
    row = card_row(payments_engine, card_id)
    assert row.removed_at is not None and not row.is_default and row.processor_token is None
    removed = payments_outbox(payments_engine, "payment_method.removed", payment_method_id=card_id)
    assert removed == [{"payment_method_id": card_id, "client_id": client_id, "brand": "visa", "last4": "4242",
                        "reason": "reentry_required", "was_default": True, "new_default": None}]
    assert payments_outbox(payments_engine, "payment_method.default_changed", client_id=client_id)[-1] == {
        "client_id": client_id, "payment_method_id": None}
    assert me.get(METHODS).get_json()["items"] == []
    assert_no_token_anywhere(payments_engine, token)


def test_pay_now_with_a_legacy_card_the_processor_refuses_asks_to_enter_it_again(payer, sandbox, payments_engine,
                                                                                  psnapshot):
    client_id, me, _ = payer(5000)
    card_id = legacy_card(payments_engine, client_id, spent_token(sandbox[0]))
    answer = pay(me, {"amount_cents": 500, "payment_method_id": card_id})
    body = assert_problem(answer, 422, field="payment_method_id")
    assert body["failure_code"] == "reentry_required"
    assert card_row(payments_engine, card_id).removed_at is not None
    assert payments_outbox(payments_engine, "payment_method.removed", payment_method_id=card_id)[0]["reason"] == \
        "reentry_required"
    with payments_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM payments WHERE client_id = :c"), {"c": client_id}).scalar() == 0


def test_two_conversions_of_one_card_at_once_convert_it_and_never_remove_it(payer, sandbox, payments_engine,
                                                                           payments_app):
    """The beat and a Pay Now at once: the token is spent by the first attach, and the second must not take the
    refusal for a dead card."""
    service = payments_app.extensions["payments"]
    for _ in range(3):
        client_id, _, _ = payer(5000)
        token = tokenize(sandbox[0])
        card_id = legacy_card(payments_engine, client_id, token)
        start, outcomes = threading.Barrier(2), []

        def convert():
            start.wait(timeout=10)
            outcomes.append(service.convert_card(card_id))

        threads = [threading.Thread(target=convert) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["converted", "skipped"], outcomes
        assert_converted(payments_engine, card_id, token)


def test_a_legacy_cards_token_is_no_one_elses_card_before_its_conversion(payer, sandbox, payments_engine, psnapshot):
    """Until the conversion spends it, a legacy token is still good at the processor: client B presenting client A's
    (saved, or paid with as a new card) must get nothing of A's card."""
    a_id, a, _ = payer(5000)
    token = tokenize(sandbox[0])
    card_id = legacy_card(payments_engine, a_id, token)
    _, b, _ = payer(5000)
    before = psnapshot()
    assert_problem(b.post(METHODS, json={"processor_token": token}), 422, field="processor_token")
    assert_problem(pay(b, {"amount_cents": 500, "processor_token": token}), 422, field="processor_token")
    assert_problem(pay(b, {"amount_cents": 500, "processor_token": token, "save_card": True}), 422,
                   field="processor_token")
    before.assert_unchanged()
    assert b.get(METHODS).get_json()["items"] == []
    paid = pay(a, {"amount_cents": 500, "payment_method_id": card_id})  # still A's, and converted on first use
    assert paid.status_code == 201 and paid.get_json()["status"] == "succeeded"
    assert_converted(payments_engine, card_id, token)


def test_a_token_on_file_for_two_clients_goes_to_the_one_who_saved_it_first(payer, sandbox, payments_engine):
    """The code before 0003 let client B save client A's token as B's own card. B's card charged first must not
    take A's card to B's customer: the token is A's (saved first), B's card is removed for re-entry."""
    a_id, a, _ = payer(5000)
    b_id, b, _ = payer(5000)
    token = tokenize(sandbox[0])
    a_card = legacy_card(payments_engine, a_id, token)
    b_card = legacy_card(payments_engine, b_id, token)
    with payments_engine.begin() as conn:
        conn.execute(text("UPDATE payment_methods SET created_at = created_at + interval '1 minute' WHERE id = :b"),
                     {"b": b_card})
    body = assert_problem(pay(b, {"amount_cents": 500, "payment_method_id": b_card}), 422, field="payment_method_id")
    assert body["failure_code"] == "reentry_required"
    assert payments_outbox(payments_engine, "payment_method.removed", payment_method_id=b_card)[0]["reason"] == \
        "reentry_required"
    paid = pay(a, {"amount_cents": 500, "payment_method_id": a_card})
    assert paid.status_code == 201 and paid.get_json()["status"] == "succeeded", paid.get_json()
    assert_converted(payments_engine, a_card, token)
