"""Billing on real PostgreSQL: service codes, invoices, the ledger, payments and refunds from events,
adjustments, documents, isolation between clients, concurrency and AutoPay."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from services.billing.domain.errors import EventForUnknownClient
from shared.db import utcnow
from tests.integration.billing_fixtures import billing_outbox, invoice, paid
from tests.integration.conftest import assert_problem

pytestmark = pytest.mark.integration


# --- service codes -----------------------------------------------------------------------------

def test_service_codes_and_their_bad_input(bstaff, bsnapshot):
    code = f"T{uuid.uuid4().hex[:6]}".upper()
    created = bstaff.post("/api/v1/staff/service-codes", json={"code": code, "description": "Test", "rate_cents": 1234})
    assert created.status_code == 201 and created.get_json()["rate_cents"] == 1234
    assert code in [c["code"] for c in bstaff.get("/api/v1/staff/service-codes").get_json()["items"]]
    before = bsnapshot()
    assert_problem(bstaff.post("/api/v1/staff/service-codes", json={"code": code, "description": "Again",
                                                                     "rate_cents": 1}), 409)
    for body, field in [({"code": "X1", "description": "d", "rate_cents": 0}, "rate_cents"),
                        ({"code": "X1", "description": "d", "rate_cents": -5}, "rate_cents"),
                        ({"code": "X1", "description": "d", "rate_cents": 12.5}, "rate_cents"),
                        ({"code": "X1", "description": "d", "rate_cents": "100"}, "rate_cents"),
                        ({"code": "X 1", "description": "d", "rate_cents": 100}, "code"),
                        ({"code": "X1", "rate_cents": 100}, "description")]:
        assert_problem(bstaff.post("/api/v1/staff/service-codes", json=body), 422, field=field)
    before.assert_unchanged()


# --- invoices ----------------------------------------------------------------------------------

def test_invoice_from_free_lines(bstaff, bclient, codes, billing_engine):
    client_id, me = bclient()
    first = invoice(bstaff, client_id, ("90834", 1), ("90791", 2))
    assert first["total_cents"] == 15000 + 2 * 25000 and first["balance_due_cents"] == first["total_cents"]
    assert [ln["amount_cents"] for ln in first["lines"]] == [15000, 50000] and first["status"] == "unpaid"
    second = invoice(bstaff, client_id)
    assert second["number"] == first["number"] + 1  # sequential, never reused
    generated = billing_outbox(billing_engine, "invoice.generated", client_id=client_id)
    assert [g["number"] for g in generated] == [first["number"], second["number"]]
    assert generated[0]["total_cents"] == 65000 and generated[0]["currency"] == "USD" and generated[0]["due_date"]
    assert billing_outbox(billing_engine, "balance.changed", client_id=client_id)[-1]["balance_cents"] == 80000
    mine = me.get("/api/v1/portal/invoices?status=unpaid").get_json()["items"]
    assert {i["id"] for i in mine} == {first["id"], second["id"]}
    assert me.get(f"/api/v1/portal/invoices/{first['id']}").get_json()["lines"][1]["units"] == 2
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == 80000


def test_bad_invoices_answer_clearly_and_write_nothing(bstaff, bclient, codes, bsnapshot):
    client_id, _ = bclient()
    before = bsnapshot()
    cases = [
        ({"client_id": client_id, "lines": [{"service_code": "NOPE", "units": 1}]}, 422, "lines"),
        ({"client_id": client_id, "lines": [{"service_code": "90834", "units": 0}]}, 422, "lines"),
        ({"client_id": client_id, "lines": [{"service_code": "90834", "units": -2}]}, 422, "lines"),
        ({"client_id": client_id, "lines": [{"service_code": "90834", "units": 1.5}]}, 422, "lines"),
        ({"client_id": client_id, "lines": []}, 422, "lines"),
        ({"client_id": str(uuid.uuid4()), "lines": [{"service_code": "90834", "units": 1}]}, 422, "client_id"),
        ({"client_id": client_id, "lines": [{"service_code": "90834", "units": 1}], "total": 5}, 422, "total"),
        ({"client_id": client_id, "appointment_id": str(uuid.uuid4()),
          "lines": [{"service_code": "90834", "units": 1}]}, 422, "appointment_id"),
    ]
    for body, status, field in cases:
        assert_problem(bstaff.post("/api/v1/staff/invoices", json=body), status, field=field)
    assert_problem(bstaff.post("/api/v1/staff/invoices", data="{", headers={"Content-Type": "application/json"}), 400)
    before.assert_unchanged()


def test_invoice_for_a_completed_session(bstaff, bclient, codes, deliver):
    client_id, _ = bclient()
    other_id, _ = bclient()
    appointment = str(uuid.uuid4())
    deliver("appointment.completed", {"appointment_id": appointment, "client_id": client_id,
                                      "clinician_id": str(uuid.uuid4()), "start": "2026-11-03T15:00:00+00:00",
                                      "end": "2026-11-03T15:45:00+00:00", "type": "Individual therapy"})
    listed = bstaff.get(f"/api/v1/staff/billable-sessions?client_id={client_id}").get_json()["items"]
    assert [s["appointment_id"] for s in listed] == [appointment]
    assert_problem(bstaff.post("/api/v1/staff/invoices", json={
        "client_id": other_id, "appointment_id": appointment, "lines": [{"service_code": "90834", "units": 1}]}),
        422, field="appointment_id")
    made = invoice(bstaff, client_id, appointment_id=appointment, date_of_service=None)
    assert made["appointment_id"] == appointment and made["date_of_service"] == "2026-11-03"
    assert bstaff.get(f"/api/v1/staff/billable-sessions?client_id={client_id}").get_json()["items"] == []
    assert_problem(bstaff.post("/api/v1/staff/invoices", json={
        "client_id": client_id, "appointment_id": appointment, "lines": [{"service_code": "90834", "units": 1}]}), 409)



def test_a_charged_no_show_is_billable_with_its_fee_flag_and_service_code(bstaff, bclient, deliver):
    client_id, _ = bclient()
    held, missed = str(uuid.uuid4()), str(uuid.uuid4())
    base = {"client_id": client_id, "clinician_id": str(uuid.uuid4()), "end": "2026-11-03T15:45:00+00:00",
            "type": "Individual therapy"}
    deliver("appointment.completed", {**base, "appointment_id": held, "start": "2026-11-03T15:00:00+00:00",
                                      "service_code": "90834", "outcome": "completed", "fee": False})
    deliver("appointment.completed", {**base, "appointment_id": missed, "start": "2026-11-04T15:00:00+00:00",
                                      "service_code": None, "outcome": "no_show", "fee": True})
    listed = bstaff.get(f"/api/v1/staff/billable-sessions?client_id={client_id}").get_json()["items"]
    assert [(s["appointment_id"], s["service_code"], s["outcome"], s["fee"]) for s in listed] == [
        (held, "90834", "completed", False), (missed, None, "no_show", True)]

# --- payments and refunds from events ------------------------------------------------------------

def test_payment_is_allocated_named_invoices_first_then_oldest(bstaff, bclient, codes, deliver, billing_engine):
    client_id, me = bclient()
    a = invoice(bstaff, client_id)  # 150.00
    b = invoice(bstaff, client_id, ("90837", 1))  # 200.00
    payment = paid(deliver, client_id, 25000, b["id"])
    assert me.get(f"/api/v1/portal/invoices/{b['id']}").get_json()["balance_due_cents"] == 0
    assert me.get(f"/api/v1/portal/invoices/{a['id']}").get_json()["balance_due_cents"] == 10000
    posted = billing_outbox(billing_engine, "payment.posted", payment_id=payment)
    assert posted[0]["allocations"] == [{"invoice_id": b["id"], "amount_cents": 20000},
                                        {"invoice_id": a["id"], "amount_cents": 5000}]
    assert billing_outbox(billing_engine, "invoice.paid", invoice_id=b["id"])
    assert not billing_outbox(billing_engine, "invoice.paid", invoice_id=a["id"])
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == 10000
    assert {i["id"] for i in me.get("/api/v1/portal/invoices?status=paid").get_json()["items"]} == {b["id"]}


def test_redelivered_or_duplicated_payment_posts_once(bstaff, bclient, codes, deliver, billing_engine):
    from shared.events import make_event

    client_id, me = bclient()
    invoice(bstaff, client_id)
    event = make_event("payment.succeeded", {"payment_id": str(uuid.uuid4()), "client_id": client_id,
                                             "amount_cents": 5000, "currency": "USD", "invoice_ids": [],
                                             "processor_charge_id": "ch",
                                             "method": {"brand": "visa", "last4": "4242"}}, producer="payments")
    assert deliver(None, None, event=event) == "handled"
    assert deliver(None, None, event=event) == "duplicate"
    # the same payment under a new event id (a producer retry) is still posted once
    assert deliver("payment.succeeded", event.payload) == "handled"
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == 10000
    payments = me.get("/api/v1/portal/account/history?kind=payment").get_json()["items"]
    assert len(payments) == 1


def test_overpayment_is_kept_as_credit_and_used_by_the_next_invoice(bstaff, bclient, codes, deliver):
    client_id, me = bclient()
    first = invoice(bstaff, client_id)  # 150.00
    paid(deliver, client_id, 20000)
    account = me.get("/api/v1/portal/account").get_json()
    assert account["balance_cents"] == -5000 and account["credit_cents"] == 5000 and account["pay_now"] is False
    assert me.get(f"/api/v1/portal/invoices/{first['id']}").get_json()["status"] == "paid"
    nxt = invoice(bstaff, client_id)  # 150.00, 50.00 of it already covered
    assert nxt["balance_due_cents"] == 10000 and nxt["paid_cents"] == 5000
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == 10000


def test_refund_reopens_what_it_unpays(bstaff, bclient, codes, deliver, billing_engine):
    client_id, me = bclient()
    a = invoice(bstaff, client_id)
    payment = paid(deliver, client_id, 15000, a["id"])
    assert me.get(f"/api/v1/portal/invoices/{a['id']}").get_json()["status"] == "paid"
    refund_id = str(uuid.uuid4())
    deliver("payment.refunded", {"refund_id": refund_id, "payment_id": payment, "client_id": client_id,
                                 "amount_cents": 4000})
    reopened = me.get(f"/api/v1/portal/invoices/{a['id']}").get_json()
    assert reopened["balance_due_cents"] == 4000 and reopened["status"] == "partially_paid"
    deliver("payment.refunded", {"refund_id": refund_id, "payment_id": payment, "client_id": client_id,
                                 "amount_cents": 4000})  # same refund again: nothing
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == 4000
    history = me.get("/api/v1/portal/account/history").get_json()["items"]
    assert [e["kind"] for e in history] == ["refund", "payment", "charge"]
    assert [e["balance_after_cents"] for e in history] == [4000, 0, 15000]
    # paid again later: invoice.paid is sent a second time for the re-opened invoice
    paid(deliver, client_id, 4000, a["id"])
    assert len(billing_outbox(billing_engine, "invoice.paid", invoice_id=a["id"])) == 2


def test_my_account_shows_the_default_card_payments_announced(bclient, deliver):
    client_id, me = bclient()
    assert me.get("/api/v1/portal/account").get_json()["default_payment_method_id"] is None
    card = str(uuid.uuid4())
    deliver("payment_method.default_changed", {"client_id": client_id, "payment_method_id": card})
    assert me.get("/api/v1/portal/account").get_json()["default_payment_method_id"] == card
    deliver("payment_method.default_changed", {"client_id": client_id, "payment_method_id": None})
    assert me.get("/api/v1/portal/account").get_json()["default_payment_method_id"] is None


def test_events_for_an_unknown_client_are_retried_not_dropped(deliver):
    with pytest.raises(EventForUnknownClient):
        deliver("payment.succeeded", {"payment_id": str(uuid.uuid4()), "client_id": str(uuid.uuid4()),
                                      "amount_cents": 100, "currency": "USD", "invoice_ids": [],
                                      "processor_charge_id": "ch", "method": {"brand": "visa", "last4": "4242"}})


# --- adjustments, history ----------------------------------------------------------------------

def test_adjustments_need_a_reason_and_cannot_exceed_what_is_owed(bstaff, bclient, codes, bsnapshot):
    client_id, me = bclient()
    a = invoice(bstaff, client_id)
    url = f"/api/v1/staff/clients/{client_id}/adjustments"
    before = bsnapshot()
    assert_problem(bstaff.post(url, json={"amount_cents": 1000, "kind": "write_off"}), 422, field="reason")
    assert_problem(bstaff.post(url, json={"amount_cents": 0, "kind": "write_off", "reason": "x" * 5}), 422,
                   field="amount_cents")
    assert_problem(bstaff.post(url, json={"amount_cents": 1000, "kind": "gift", "reason": "Hardship"}), 422,
                   field="kind")
    assert_problem(bstaff.post(url, json={"amount_cents": 15001, "kind": "write_off", "reason": "Hardship"}), 422)
    assert_problem(bstaff.post(f"/api/v1/staff/clients/{uuid.uuid4()}/adjustments",
                               json={"amount_cents": 100, "kind": "discount", "reason": "Loyalty"}), 404)
    before.assert_unchanged()
    made = bstaff.post(url, json={"amount_cents": 5000, "kind": "discount", "reason": "Sliding scale",
                                  "invoice_id": a["id"]})
    assert made.status_code == 201 and made.get_json()["balance_after_cents"] == 10000
    view = me.get(f"/api/v1/portal/invoices/{a['id']}").get_json()
    assert view["adjusted_cents"] == 5000 and view["balance_due_cents"] == 10000
    entry = me.get("/api/v1/portal/account/history?kind=adjustment").get_json()["items"][0]
    assert entry["reason"] == "Sliding scale" and entry["amount_cents"] == -5000


def test_history_filters_pages_and_checks_its_range(bstaff, bclient, codes, deliver):
    client_id, me = bclient()
    for _ in range(3):
        invoice(bstaff, client_id)
    paid(deliver, client_id, 1000)
    page1 = me.get("/api/v1/portal/account/history?limit=2").get_json()
    page2 = me.get(f"/api/v1/portal/account/history?limit=2&cursor={page1['next_cursor']}").get_json()
    entries = page1["items"] + page2["items"]
    assert [e["kind"] for e in entries] == ["payment", "charge", "charge", "charge"] and page2["next_cursor"] is None
    assert [e["balance_after_cents"] for e in entries] == [44000, 45000, 30000, 15000]
    today = utcnow().date()
    assert len(me.get(f"/api/v1/portal/account/history?from={today - timedelta(days=2)}&to={today + timedelta(days=1)}"
                      ).get_json()["items"]) == 4
    assert me.get(f"/api/v1/portal/account/history?to={today - timedelta(days=3)}").get_json()["items"] == []
    assert_problem(me.get("/api/v1/portal/account/history?from=2026-11-10&to=2026-11-01"), 422, field="to")
    assert_problem(me.get("/api/v1/portal/account/history?from=yesterday"), 422, field="from")
    assert_problem(me.get("/api/v1/portal/account/history?kind=gift"), 422, field="kind")
    staff_view = bstaff.get(f"/api/v1/staff/clients/{client_id}/ledger?kind=charge").get_json()["items"]
    assert len(staff_view) == 3


# --- isolation ---------------------------------------------------------------------------------

def test_one_client_cannot_reach_another_clients_billing(bstaff, bclient, codes):
    a_id, a = bclient()
    b_id, b = bclient()
    inv = invoice(bstaff, a_id)
    statement = bstaff.post("/api/v1/staff/statements", json={"client_id": a_id, "from": "2026-01-01",
                                                              "to": "2026-12-31"}).get_json()
    assert_problem(b.get(f"/api/v1/portal/invoices/{inv['id']}"), 404)
    assert_problem(b.get(f"/api/v1/portal/billing-documents/{inv['id']}/pdf"), 404)
    assert_problem(b.get(f"/api/v1/portal/billing-documents/{statement['id']}/pdf"), 404)
    assert b.get("/api/v1/portal/invoices").get_json()["items"] == []
    assert b.get("/api/v1/portal/account/history").get_json()["items"] == []
    assert b.get("/api/v1/portal/billing-documents").get_json()["items"] == []
    assert_problem(b.get(f"/api/v1/staff/clients/{a_id}/ledger"), 403)
    assert a.get(f"/api/v1/portal/invoices/{inv['id']}").status_code == 200


# --- documents ---------------------------------------------------------------------------------

def test_billing_documents_as_pdf(bstaff, bclient, codes, deliver):
    client_id, me = bclient()
    inv = invoice(bstaff, client_id, ("90837", 1))
    paid(deliver, client_id, 5000, inv["id"])
    today = utcnow().date()
    superbill = bstaff.post("/api/v1/staff/superbills", json={
        "client_id": client_id, "from": str(today - timedelta(days=400)), "to": str(today + timedelta(days=1)),
        "diagnosis_codes": [{"code": "F41.1", "description": "Generalized anxiety disorder"}]})
    assert superbill.status_code == 201, superbill.get_json()
    statement = bstaff.post("/api/v1/staff/statements", json={"client_id": client_id, "from": str(today),
                                                              "to": str(today)})
    assert statement.status_code == 201
    docs = me.get("/api/v1/portal/billing-documents").get_json()["items"]
    assert sorted(d["kind"] for d in docs) == ["invoice", "statement", "superbill"]
    for d in docs:
        response = me.get(d["pdf_url"])
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF") and "attachment" in response.headers["Content-Disposition"]
    assert_problem(bstaff.post("/api/v1/staff/statements", json={"client_id": client_id, "from": "2026-05-01",
                                                                 "to": "2026-04-01"}), 422, field="to")
    assert_problem(bstaff.post("/api/v1/staff/superbills", json={
        "client_id": client_id, "from": "2026-01-01", "to": "2026-02-01", "diagnosis_codes": [{"code": "anxiety"}]}),
        422, field="diagnosis_codes")


def test_billing_documents_follow_the_practice_setting(bstaff, bclient, codes, deliver, billing_app):
    client_id, me = bclient()
    inv = invoice(bstaff, client_id)
    practice = billing_app.extensions["billing"].get_profile()
    try:
        deliver("practice.settings_changed", {"settings": {**_settings(practice), "billing_documents_enabled": False}})
        assert_problem(me.get("/api/v1/portal/billing-documents"), 403)
        assert_problem(me.get(f"/api/v1/portal/billing-documents/{inv['id']}/pdf"), 403)
        assert me.get("/api/v1/portal/invoices").status_code == 200  # invoices stay visible
    finally:
        deliver("practice.settings_changed", {"settings": {**_settings(practice), "billing_documents_enabled": True}})


def _settings(profile: dict) -> dict:
    keys = ("practice_name", "currency", "timezone", "phone", "email", "address", "online_payments_enabled",
            "billing_documents_enabled", "autopay_enabled")
    return {k: profile[k] for k in keys if k in profile}


# --- concurrency -------------------------------------------------------------------------------

def test_concurrent_postings_keep_the_running_balance_right(bstaff, bclient, codes, deliver, billing_engine):
    client_id, me = bclient()
    for _ in range(5):
        invoice(bstaff, client_id)  # 5 x 150.00
    errors = []

    def pay():
        try:
            for _ in range(5):
                paid(deliver, client_id, 700)
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert me.get("/api/v1/portal/account").get_json()["balance_cents"] == 75000 - 40 * 700
    with billing_engine.connect() as conn:
        rows = conn.execute(text("SELECT amount_cents, balance_after_cents FROM ledger_entries WHERE client_id = :c "
                                 "ORDER BY seq"), {"c": client_id}).all()
    running = 0
    for amount, after in rows:
        running += amount
        assert after == running
    with billing_engine.connect() as conn:
        over = conn.execute(text("SELECT i.id FROM invoices i JOIN allocations a ON a.invoice_id = i.id "
                                 "WHERE i.client_id = :c GROUP BY i.id HAVING SUM(a.amount_cents) > i.total_cents"),
                            {"c": client_id}).all()
    assert over == []


# --- AutoPay -----------------------------------------------------------------------------------

@pytest.fixture
def autopay_practice(deliver, billing_app):
    practice = billing_app.extensions["billing"].get_profile()
    deliver("practice.settings_changed", {"settings": {**_settings(practice), "autopay_enabled": True}})
    yield billing_app.extensions["billing_autopay"]
    deliver("practice.settings_changed", {"settings": {**_settings(practice), "autopay_enabled": False}})


def test_autopay_charges_once_per_night_and_only_new_balances(bstaff, bclient, codes, autopay_practice,
                                                              fake_payments):
    client_id, me = bclient()
    idle_id, _ = bclient()
    assert bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True}).status_code == 200
    assert bstaff.put(f"/api/v1/staff/clients/{idle_id}/autopay", json={"enabled": True}).status_code == 200
    invoice(bstaff, client_id)
    fake_payments.outcome = "succeeded"
    night = utcnow() + timedelta(minutes=1)
    autopay_practice.run(trigger="test", now=night)
    autopay_practice.run(trigger="test", now=night)  # a rerun of the same night
    assert fake_payments.charges(client_id) == 1
    assert [c["amount_cents"] for c in fake_payments.calls if c["client_id"] == client_id] == [15000]
    assert fake_payments.charges(idle_id) == 0  # no invoice since enrolment: nothing to charge
    # the next night: no new invoice since the success, nothing to charge
    autopay_practice.run(trigger="test", now=night + timedelta(days=1))
    assert fake_payments.charges(client_id) == 1
    assert me.get("/api/v1/portal/account").get_json()["autopay_enabled"] is True


def test_three_failed_nights_switch_autopay_off(bstaff, bclient, codes, autopay_practice, fake_payments,
                                                billing_engine):
    client_id, me = bclient()
    bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True})
    invoice(bstaff, client_id)
    fake_payments.outcome = "failed"
    try:
        start = utcnow() + timedelta(minutes=1)
        for night in range(3):
            autopay_practice.run(trigger="test", now=start + timedelta(days=night))
    finally:
        fake_payments.outcome = "succeeded"
    assert fake_payments.charges(client_id) == 3
    assert me.get("/api/v1/portal/account").get_json()["autopay_enrolled"] is False
    disabled = billing_outbox(billing_engine, "autopay.disabled", client_id=client_id)
    assert len(disabled) == 1 and disabled[0]["last_failure_code"] == "card_declined"


def test_autopay_enrolment_needs_the_practice_setting_and_bad_input_writes_nothing(bstaff, bclient, bsnapshot):
    client_id, _ = bclient()
    before = bsnapshot()
    assert_problem(bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": True}), 409)
    assert_problem(bstaff.put(f"/api/v1/staff/clients/{client_id}/autopay", json={"enabled": "yes"}), 422,
                   field="enabled")
    assert_problem(bstaff.put(f"/api/v1/staff/clients/{uuid.uuid4()}/autopay", json={"enabled": False}), 404)
    before.assert_unchanged()


def test_service_code_changes_and_billing_profile_refuse_bad_input(bstaff, bsnapshot, signer, billing_app):
    from tests.integration.conftest import Api

    code = bstaff.post("/api/v1/staff/service-codes", json={"code": f"P{uuid.uuid4().hex[:6]}".upper(),
                                                            "description": "Patch me", "rate_cents": 100}).get_json()
    before = bsnapshot()
    url = f"/api/v1/staff/service-codes/{code['id']}"
    assert_problem(bstaff.patch(url, json={"rate_cents": 0}), 422, field="rate_cents")
    assert_problem(bstaff.patch(url, json={"active": "no"}), 422, field="active")
    assert_problem(bstaff.patch(url, json={"code": "NEW"}), 422, field="code")
    assert_problem(bstaff.patch(f"/api/v1/staff/service-codes/{uuid.uuid4()}", json={"rate_cents": 5}), 404)
    assert_problem(bstaff.put("/api/v1/staff/billing-profile", json={"npi": "12345"}), 422, field="npi")
    assert_problem(bstaff.put("/api/v1/staff/billing-profile", json={"owner": "me"}), 422, field="owner")
    staff_only = Api(billing_app.test_client(), signer.access_token(user_id=str(uuid.uuid4()), role="staff",
                                                                    client_id=None, ttl=600,
                                                                    session_id=str(uuid.uuid4())))
    assert_problem(staff_only.put("/api/v1/staff/billing-profile", json={"npi": "1234567893"}), 403)
    before.assert_unchanged()
    assert bstaff.patch(url, json={"rate_cents": 150}).get_json()["rate_cents"] == 150
    profile = bstaff.put("/api/v1/staff/billing-profile", json={"npi": "1234567893", "provider_name": "Dr. Reyes"})
    assert profile.status_code == 200 and profile.get_json()["npi"] == "1234567893"


def test_staff_billing_documents_of_an_unknown_client_are_not_found(bstaff, bclient, codes):
    assert_problem(bstaff.get(f"/api/v1/staff/clients/{uuid.uuid4()}/billing-documents"), 404)
    client_id, _ = bclient()
    made = invoice(bstaff, client_id)
    docs = bstaff.get(f"/api/v1/staff/clients/{client_id}/billing-documents").get_json()["items"]
    assert [(d["kind"], d["number"], d["client_id"]) for d in docs] == [("invoice", f"{made['number']:06d}", client_id)]
    assert docs[0]["pdf_url"] == f"/api/v1/staff/billing-documents/{made['id']}/pdf"
