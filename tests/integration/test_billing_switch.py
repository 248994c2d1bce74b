"""The practice's switches hold in billing the moment identity has them off: AutoPay runs, AutoPay enrolment
and the billing documents clients download ask identity (the switch's owner) at the moment of each decision;
the projection of practice.settings_changed only ever refuses sooner."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from shared.db import utcnow
from tests.integration.billing_fixtures import invoice
from tests.integration.conftest import assert_problem
from tests.integration.identity_fake import fake_identity

pytestmark = pytest.mark.integration
SETTINGS = ("practice_name", "currency", "timezone", "phone", "email", "address", "online_payments_enabled",
            "billing_documents_enabled", "autopay_enabled")


@pytest.fixture
def identity():
    fake = fake_identity()
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def projection_on(deliver, billing_app):
    """billing's projection with every switch on (as the last event said)."""
    practice = billing_app.extensions["billing"].get_profile()
    settings = {k: practice[k] for k in SETTINGS if k in practice}
    deliver("practice.settings_changed", {"settings": {**settings, "autopay_enabled": True,
                                                       "billing_documents_enabled": True}})
    yield billing_app.extensions["billing_autopay"]
    deliver("practice.settings_changed", {"settings": {**settings, "autopay_enabled": False}})


def a_night():
    return utcnow() + timedelta(days=5000 + uuid.uuid4().int % 5000)  # a night no other test runs


def enrolled(bstaff, bclient, codes):
    client_id, me = bclient()
    assert bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True}).status_code == 200
    invoice(bstaff, client_id)
    return client_id, me


def test_an_autopay_run_after_the_switch_went_off_charges_nobody(bstaff, bclient, codes, projection_on, identity,
                                                                 fake_payments):
    client_id, _ = enrolled(bstaff, bclient, codes)
    identity.set(autopay_enabled=False)  # PATCH /staff/settings answered; the event has not arrived
    run = projection_on.run(trigger="test", now=a_night())
    assert fake_payments.charges(client_id) == 0
    assert run["finished_at"] is not None and "off" in run["summary"]["skipped"]


def test_identity_not_answering_skips_the_run_and_a_later_tick_runs_it(bstaff, bclient, codes, projection_on,
                                                                       identity, fake_payments, billing_app):
    client_id, _ = enrolled(bstaff, bclient, codes)
    night = a_night()
    identity.down = True
    run = projection_on.run(trigger="test", now=night)
    assert fake_payments.charges(client_id) == 0 and run["finished_at"] is None
    # the beat's next tick finds the night still due, and once identity answers, charges
    hour, minute = 0, 0
    assert projection_on.due_now(night, hour, minute)
    identity.down = False
    assert projection_on.run(trigger="test", now=night)["finished_at"] is not None
    assert fake_payments.charges(client_id) == 1
    assert not projection_on.due_now(night, hour, minute)


def test_the_switch_turned_off_during_a_run_stops_the_charges_not_yet_made(bstaff, bclient, codes, projection_on,
                                                                           identity, fake_payments, billing_engine):
    first, _ = enrolled(bstaff, bclient, codes)
    second, _ = enrolled(bstaff, bclient, codes)
    charge = fake_payments.autopay_charge

    def charge_then_switch_off(**kwargs):
        answer = charge(**kwargs)
        identity.set(autopay_enabled=False)  # the practice switches AutoPay off while the run goes on
        return answer

    fake_payments.autopay_charge = charge_then_switch_off
    try:
        run = projection_on.run(trigger="test", now=a_night())
    finally:
        del fake_payments.autopay_charge
    charged = fake_payments.charges(first) + fake_payments.charges(second)
    assert charged == 1, run
    assert run["finished_at"] is not None and run["summary"]["skipped"] >= 1


def test_autopay_enrolment_asks_identity(bstaff, bclient, projection_on, identity, bsnapshot):
    client_id, _ = bclient()
    identity.set(autopay_enabled=False)
    before = bsnapshot()
    assert_problem(bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True}), 409)
    identity.reset()
    identity.down = True
    response = bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True})
    assert_problem(response, 503)
    assert int(response.headers["Retry-After"]) > 0
    before.assert_unchanged()
    # switching a client's AutoPay off needs nobody's confirmation
    assert bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": False}).status_code == 200


def test_billing_documents_follow_identitys_switch_at_once(bstaff, bclient, codes, projection_on, identity):
    client_id, me = bclient()
    inv = invoice(bstaff, client_id)
    pdf = f"/api/v1/portal/billing-documents/{inv['id']}/pdf"
    assert me.get("/api/v1/portal/billing-documents").status_code == 200
    identity.set(billing_documents_enabled=False)
    assert_problem(me.get("/api/v1/portal/billing-documents"), 403)
    assert_problem(me.get(pdf), 403)
    assert bstaff.get(f"/api/v1/staff/billing-documents/{inv['id']}/pdf").status_code == 200  # the practice's own
    identity.reset()
    identity.down = True
    for path in ("/api/v1/portal/billing-documents", pdf):
        response = me.get(path)
        assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) > 0
    identity.down = False
    assert me.get(pdf).status_code == 200
