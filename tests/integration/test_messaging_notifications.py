"""Every event messaging consumes, through its real consumer: the right notices for the right side (the bell), the
mails the table names (sent once, with no card or health detail in the subject), redelivery changing nothing, and
the notices peers do not give: AutoPay's card and amount before it charges, a card about to expire, a failed
AutoPay night saying when it tries again, the practice told when AutoPay's card is removed."""

from __future__ import annotations

import copy
import uuid

import pytest

from services.messaging.domain.notices import EMAIL_SUBJECTS
from shared.contracts import CATALOGUE
from tests.integration.messaging_fixtures import PRACTICE_EMAIL

pytestmark = pytest.mark.integration

# The side(s) each event's example tells; events not here tell nobody (they feed messaging's copies).
AUDIENCES = {
    "client.registered": {"practice"},
    "profile.updated": {"practice"},
    "appointment.requested": {"practice"},
    "appointment.approved": {"client"},
    "appointment.denied": {"client"},
    "appointment.booked": {"client"},  # by staff
    "appointment.confirmed": {"practice"},  # by the client
    "appointment.cancelled": {"practice"},  # by the client
    "appointment.reminder_due": {"client"},
    "document.shared": {"client"},
    "form.assigned": {"client"},
    "form.submitted": {"practice"},
    "invoice.generated": {"client"},
    "invoice.paid": {"client"},
    "payment.attempted": {"client", "practice"},
    "payment.succeeded": {"client", "practice"},
    "payment.failed": {"practice"},  # source autopay: the client hears of it from autopay.charge_failed
    "payment.refunded": {"client"},
    "payment_method.added": {"client"},
    "payment_method.removed": {"client"},
    "payment_method.expiring": {"client"},
    "autopay.changed": {"client"},
    "autopay.charge_failed": {"client"},  # with next_attempt_at (the last night: autopay.disabled tells)
    "autopay.disabled": {"client", "practice"},
}
SILENT = {"client.created", "client.invited", "practice.settings_changed", "staff_user.changed",
          "payment_method.default_changed", "message.sent"}
CONSUMED = sorted(c.type for c in CATALOGUE if any(x.service == "messaging" for x in c.consumers))


def example(event_type: str, client_id: str) -> dict:
    payload = copy.deepcopy(dict(CATALOGUE.get(event_type, 1).example))
    if "client_id" in payload:
        payload["client_id"] = client_id
    for key in ("payment_id", "invoice_id", "appointment_id", "payment_method_id", "user_id"):
        if key in payload and key != "client_id":
            payload[key] = str(uuid.uuid4())
    if event_type == "staff_user.changed":
        payload["email"] = f"{payload['user_id'][:8]}@harbor.example.test"
    if event_type == "practice.settings_changed":
        payload["settings"]["email"] = PRACTICE_EMAIL
    return payload


def bell(person, side: str) -> list[dict]:
    answer = person.api.get(f"/api/v1/{side}/notifications", query_string={"limit": 200})
    assert answer.status_code == 200
    return answer.get_json()["items"]


def practice_notices_about(staff, event_id_types: set[str], client_id: str) -> list[dict]:
    return [n for n in bell(staff, "staff") if n["type"] in event_id_types and client_id in (n["link"] or "")]


def test_the_lists_cover_every_event_messaging_consumes():
    assert set(CONSUMED) == set(AUDIENCES) | SILENT


@pytest.mark.parametrize("event_type", CONSUMED)
def test_each_event_tells_its_side_once_whatever_is_redelivered(event_type, mclient, mstaff, mdeliver,
                                                                 messaging_engine, msnapshot):
    client, staff = mclient(), mstaff()
    payload = example(event_type, client.id)
    mine_before = {n["id"] for n in bell(client, "portal")}
    practice_before = {n["id"] for n in bell(staff, "staff")}

    event = mdeliver(event_type, payload)

    mine = [n for n in bell(client, "portal") if n["id"] not in mine_before]
    practice = [n for n in bell(staff, "staff") if n["id"] not in practice_before]
    told = {side for side, notices in (("client", mine), ("practice", practice)) if notices}
    assert told == AUDIENCES.get(event_type, set())
    for notice in mine + practice:
        assert notice["type"] == event_type and notice["title"] and notice["body"] and notice["read_at"] is None
    assert len(mine) <= 1 and len(practice) <= 1

    again = msnapshot()
    mdeliver(event=event)  # the broker delivers it a second time
    again.assert_unchanged()


def test_the_clients_bell_counts_and_marks_read(mclient, mdeliver):
    client, other = mclient(), mclient()
    for event_type in ("invoice.generated", "payment.succeeded", "appointment.reminder_due"):
        mdeliver(event_type, example(event_type, client.id))
    mdeliver("invoice.generated", example("invoice.generated", other.id))
    items = bell(client, "portal")
    assert [n["type"] for n in items] == ["appointment.reminder_due", "payment.succeeded", "invoice.generated"]
    count = client.api.get("/api/v1/portal/notifications/unread-count").get_json()["unread"]
    assert count == 3

    assert client.api.post(f"/api/v1/portal/notifications/{items[0]['id']}/read").status_code == 204
    assert client.api.get("/api/v1/portal/notifications/unread-count").get_json()["unread"] == 2
    unread = client.api.get("/api/v1/portal/notifications", query_string={"unread": "true"}).get_json()["items"]
    assert {n["id"] for n in unread} == {items[1]["id"], items[2]["id"]}
    assert client.api.post("/api/v1/portal/notifications/read-all").status_code == 204
    assert client.api.get("/api/v1/portal/notifications/unread-count").get_json()["unread"] == 0
    # another client's bell is untouched
    assert other.api.get("/api/v1/portal/notifications/unread-count").get_json()["unread"] == 1


def test_a_payment_succeeded_links_the_receipt_and_mails_the_client_once(mclient, mdeliver, messaging_service,
                                                                        mail_sink):
    client = mclient()
    payload = example("payment.succeeded", client.id)
    event = mdeliver("payment.succeeded", payload)
    mdeliver(event=event)
    notice = bell(client, "portal")[0]
    assert notice["link"] == f"/account/payments/{payload['payment_id']}"
    assert "$100.00" in notice["body"] and "Visa ending 4242" in notice["body"]
    messaging_service.mails.send_due()
    mails = mail_sink.to(client.email)
    assert len(mails) == 1
    assert mails[0]["Subject"] == "Harbor Counseling: Payment received"
    assert "4242" not in mails[0]["Subject"] and "$" not in mails[0]["Subject"]
    assert f"https://portal.harbor.example.test/account/payments/{payload['payment_id']}" in mails[0].get_content()


def test_no_subject_line_names_an_amount_a_card_or_a_time():
    for subject in EMAIL_SUBJECTS.values():
        assert not any(ch.isdigit() for ch in subject) and "$" not in subject


def test_a_failed_portal_payment_says_why_in_plain_words_and_that_it_will_not_be_retried(mclient, mdeliver):
    client = mclient()
    payload = {**example("payment.failed", client.id), "source": "portal", "failure_code": "expired_card",
               "failure_message": "card_expired"}
    mdeliver("payment.failed", payload)
    notice = bell(client, "portal")[0]
    assert notice["title"] == "Payment failed" and "The card has expired." in notice["body"]
    assert "will not be tried again automatically" in notice["body"] and notice["link"] == "/account/pay"


def test_an_autopay_client_is_told_which_card_is_charged_how_much_and_when(mclient, mdeliver):
    client = mclient()
    card = example("payment_method.added", client.id)
    mdeliver("payment_method.added", {**card, "brand": "mastercard", "last4": "4444", "is_default": True})
    mdeliver("autopay.changed", {"client_id": client.id, "enabled": True})
    invoice = {**example("invoice.generated", client.id), "total_cents": 15000,
               "autopay": {"charge_at": "2027-01-05T06:00:00+00:00", "amount_cents": 17500, "currency": "USD"}}
    mdeliver("invoice.generated", invoice)
    notice = next(n for n in bell(client, "portal") if n["type"] == "invoice.generated")
    assert ("AutoPay will charge Mastercard ending 4444 $175.00 (your balance) on Tue, Jan 5, 2027 at 1:00 AM"
            in notice["body"])
    assert notice["link"] == f"/account/invoices/{invoice['invoice_id']}"


def test_removing_the_card_autopay_charges_tells_the_practice(mclient, mstaff, mdeliver):
    client, staff = mclient("Robin", "Hale"), mstaff()
    card = {**example("payment_method.added", client.id), "is_default": True}
    other = {**example("payment_method.added", client.id), "is_default": False, "last4": "1881"}
    mdeliver("payment_method.added", card)
    mdeliver("payment_method.added", other)
    mdeliver("autopay.changed", {"client_id": client.id, "enabled": True})

    mdeliver("payment_method.removed", {"payment_method_id": other["payment_method_id"], "client_id": client.id,
                                        "brand": "visa", "last4": "1881"})
    assert practice_notices_about(staff, {"payment_method.removed"}, client.id) == []  # not AutoPay's card

    mdeliver("payment_method.removed", {"payment_method_id": card["payment_method_id"], "client_id": client.id,
                                        "brand": "visa", "last4": "4242"})
    told = practice_notices_about(staff, {"payment_method.removed"}, client.id)
    assert len(told) == 1 and told[0]["title"] == "AutoPay card removed" and "Robin Hale" in told[0]["body"]
    mine = [n for n in bell(client, "portal") if n["type"] == "payment_method.removed"]
    assert "AutoPay has no card to charge now" in mine[0]["body"]


def test_a_card_about_to_expire_links_straight_to_cards_on_file(mclient, mdeliver):
    client = mclient()
    mdeliver("payment_method.expiring", example("payment_method.expiring", client.id))
    notice = bell(client, "portal")[0]
    assert notice["link"] == "/account/cards" and "expires on Dec 31, 2026" in notice["body"]


def test_a_failed_autopay_night_says_when_it_tries_again(mclient, mdeliver):
    client = mclient()
    mdeliver("autopay.charge_failed", {**example("autopay.charge_failed", client.id),
                                       "next_attempt_at": "2027-01-05T06:00:00+00:00"})
    notice = bell(client, "portal")[0]
    assert "AutoPay will try again on Tue, Jan 5, 2027 at 1:00 AM." in notice["body"]
    assert notice["link"] == "/account/cards"


def test_the_last_failed_night_is_told_once_that_autopay_will_not_try_again(mclient, mstaff, mdeliver,
                                                                           messaging_service, mail_sink):
    client = mclient()
    mdeliver("autopay.charge_failed", {**example("autopay.charge_failed", client.id), "failures": 3,
                                       "next_attempt_at": None, "autopay_enabled": False})
    mdeliver("autopay.disabled", example("autopay.disabled", client.id))
    mine = bell(client, "portal")
    assert [n["type"] for n in mine] == ["autopay.disabled"]
    assert "it will not try again" in mine[0]["body"] and mine[0]["link"] == "/account/cards"
    messaging_service.mails.send_due()
    assert [m["Subject"] for m in mail_sink.to(client.email)] == ["Harbor Counseling: AutoPay was turned off"]


def test_a_profile_change_by_staff_needs_no_review(mclient, mstaff, mdeliver):
    client, staff = mclient(), mstaff()
    before = {n["id"] for n in bell(staff, "staff")}
    mdeliver("profile.updated", {**example("profile.updated", client.id), "by": "staff"})
    assert [n for n in bell(staff, "staff") if n["id"] not in before] == []


def test_the_practice_bell_is_shared_by_every_staff_member(mclient, mstaff, mdeliver):
    client, one, two = mclient(), mstaff(), mstaff("Sam", "Ode")
    mdeliver("client.registered", example("client.registered", client.id))
    notice = next(n for n in bell(one, "staff") if client.id in (n["link"] or ""))
    assert one.api.post(f"/api/v1/staff/notifications/{notice['id']}/read").status_code == 204
    seen_by_two = next(n for n in bell(two, "staff") if n["id"] == notice["id"])
    assert seen_by_two["read_at"] is not None
    assert two.api.post("/api/v1/staff/notifications/read-all").status_code == 204
    assert two.api.get("/api/v1/staff/notifications/unread-count").get_json()["unread"] == 0


def test_when_another_card_takes_autopays_place_the_notice_names_it(mclient, mstaff, mdeliver):
    client, staff = mclient("Kai", "Moss"), mstaff()
    card = {**example("payment_method.added", client.id), "is_default": True}
    mdeliver("payment_method.added", card)
    mdeliver("autopay.changed", {"client_id": client.id, "enabled": True})
    successor = str(uuid.uuid4())
    mdeliver("payment_method.removed", {"payment_method_id": card["payment_method_id"], "client_id": client.id,
                                        "brand": "visa", "last4": "4242", "was_default": True,
                                        "new_default": {"payment_method_id": successor, "brand": "mastercard",
                                                        "last4": "4444"}})
    told = practice_notices_about(staff, {"payment_method.removed"}, client.id)
    assert len(told) == 1 and "AutoPay will charge Mastercard ending 4444, their default now." in told[0]["body"]
    mine = next(n for n in bell(client, "portal") if n["type"] == "payment_method.removed")
    assert "AutoPay will charge Mastercard ending 4444 from now on" in mine["body"]


def test_an_autopay_charge_that_failed_after_the_night_says_it_will_not_be_tried_again(mclient, mdeliver):
    client = mclient()
    mdeliver("autopay.charge_failed", {**example("autopay.charge_failed", client.id), "next_attempt_at": None,
                                       "autopay_enabled": True})
    notice = bell(client, "portal")[0]
    assert "AutoPay will not try this payment again" in notice["body"] and "Pay Now" in notice["body"]
