"""Online payments switched off hold at once: payments asks identity (the owner of the switch) at the moment of
each decision, and never charges on a guess when identity cannot say."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from services.payments.domain.errors import OnlinePaymentsOff
from services.payments.service import PaymentsService
from shared.practice_settings import PracticeSettings
from tests.integration.conftest import assert_problem
from tests.integration.identity_fake import fake_identity
from tests.integration.payments_fixtures import pay, tokenize

pytestmark = pytest.mark.integration
METHODS = "/api/v1/portal/payment-methods"


@pytest.fixture
def identity():
    fake = fake_identity()
    fake.reset()
    yield fake
    fake.reset()


def test_pay_now_right_after_the_switch_went_off_is_refused_though_no_event_came(payer, sandbox, identity,
                                                                                   psnapshot):
    _, me, _ = payer()
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    identity.set(online_payments_enabled=False)  # PATCH /staff/settings answered; the event has not arrived
    before = psnapshot()
    for body in ({"amount_cents": 100, "payment_method_id": card["id"]},
                 {"amount_cents": 100, "processor_token": tokenize(sandbox[0], "mastercard")},
                 {"amount_cents": 100, "processor_token": tokenize(sandbox[0], "mastercard"), "save_card": True}):
        for _ in range(5):
            refused = assert_problem(pay(me, body), 403)
            assert refused["type"] == "/problems/online-payments-off"
    assert_problem(me.post(METHODS, json={"processor_token": tokenize(sandbox[0], "mastercard")}), 403)
    before.assert_unchanged()
    identity.set(online_payments_enabled=True)
    assert pay(me, {"amount_cents": 100, "payment_method_id": card["id"]}).get_json()["status"] == "succeeded"


@pytest.mark.parametrize("failure", ["down", "hang"])
def test_identity_not_answering_refuses_safely_with_retry_after(payer, sandbox, identity, psnapshot, failure):
    _, me, _ = payer()
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    if failure == "down":
        identity.down = True
    else:
        identity.hang_seconds = 3  # past payments' wait for identity
    before = psnapshot()
    response = pay(me, {"amount_cents": 100, "payment_method_id": card["id"]})
    body = assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0 and "nothing was charged" in body["detail"].lower()
    before.assert_unchanged()


def test_a_repeat_of_a_payment_that_went_through_answers_it_even_once_the_switch_is_off(payer, sandbox, identity):
    _, me, _ = payer()
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    first = pay(me, {"amount_cents": 100, "payment_method_id": card["id"]}, key="before-the-switch")
    identity.set(online_payments_enabled=False)
    again = pay(me, {"amount_cents": 100, "payment_method_id": card["id"]}, key="before-the-switch")
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]


def test_the_projection_saying_off_refuses_without_asking_identity(payer, sandbox, identity, pdeliver):
    _, me, _ = payer()
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    pdeliver("practice.settings_changed", {"settings": {"online_payments_enabled": False}})
    try:
        identity.down = True  # and identity down: still the projection's clear 403, not a 503
        assert_problem(pay(me, {"amount_cents": 100, "payment_method_id": card["id"]}), 403)
    finally:
        pdeliver("practice.settings_changed", {"settings": {"online_payments_enabled": True}})


def test_autopay_charges_do_not_depend_on_the_online_payments_switch(payer, sandbox, identity, payments_app):
    client_id, me, _ = payer(700)
    me.post(METHODS, json={"processor_token": tokenize(sandbox[0])})
    identity.down = True  # billing confirms AutoPay with identity; payments' internal route asks nothing
    answer = payments_app.test_client().post(
        "/internal/v1/autopay-charges", json={"client_id": client_id, "amount_cents": 700, "currency": "USD"},
        headers={"Idempotency-Key": f"autopay:x:{client_id}", "Authorization": "Bearer itest-internal"})
    assert answer.status_code == 201 and answer.get_json()["status"] == "succeeded"


# --- against identity itself ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def identity_server(identity_app):
    """Identity's real app on a free port, so payments' client crosses real HTTP to its /internal/v1/settings."""
    server = make_server("127.0.0.1", 0, identity_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="identity-itest", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def test_the_very_next_pay_now_after_patch_settings_answered_200_is_refused(payer, sandbox, staff, identity_server,
                                                                             identity_config, payments_app, psnapshot):
    real: PaymentsService = payments_app.extensions["payments"]
    service = PaymentsService(config=real.config, sessions=real.sessions, processor=real.processor,
                              settings=PracticeSettings(identity_server, identity_config.internal_api_key))
    client_id, me, _ = payer()
    card = me.post(METHODS, json={"processor_token": tokenize(sandbox[0])}).get_json()
    was = staff.get("/api/v1/staff/settings").get_json()["online_payments_enabled"]
    try:
        assert staff.patch("/api/v1/staff/settings", json={"online_payments_enabled": True}).status_code == 200
        status, paid = service.pay(client_id, {"amount_cents": 100, "payment_method_id": card["id"]}, "real-1")
        assert status == 201 and paid["status"] == "succeeded"
        assert staff.patch("/api/v1/staff/settings", json={"online_payments_enabled": False}).status_code == 200
        before = psnapshot()
        for attempt in range(5):  # payments' projection still says on: no event was delivered
            with pytest.raises(OnlinePaymentsOff):
                service.pay(client_id, {"amount_cents": 100, "payment_method_id": card["id"]}, f"real-off-{attempt}")
        before.assert_unchanged()
    finally:
        staff.patch("/api/v1/staff/settings", json={"online_payments_enabled": was})
