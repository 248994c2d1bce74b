"""Scheduling's flows through its API on the real database: what is offered, a request approved and denied,
staff's booking, confirm and cancel by the client, completion billed (the event), reminders, the feed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.integration.conftest import assert_problem, outbox_events

pytestmark = pytest.mark.integration

TUESDAY_10_NY = "2027-01-12T15:00:00+00:00"  # 10:00 in New York (EST, UTC-5), eight days after DEFAULT_NOW


def slots(api, office, frm="2027-01-11", to="2027-01-12", **extra):
    response = api.get("/api/v1/portal/availability", query_string={
        "appointment_type_id": office.kind["id"], "clinician_id": office.clinician["id"], "from": frm, "to": to,
        **extra})
    assert response.status_code == 200, response.get_json()
    return [s["start"] for s in response.get_json()["items"]]


def request_slot(api, office, start=TUESDAY_10_NY, **extra):
    return api.post("/api/v1/portal/appointment-requests", json={
        "appointment_type_id": office.kind["id"], "clinician_id": office.clinician["id"], "start": start, **extra})


def test_availability_is_the_weekly_hours_on_the_sites_clock(office, sclient):
    o = office()
    _, client = sclient()
    found = slots(client, o, frm="2027-01-11", to="2027-01-11")
    assert found[0] == "2027-01-11T14:00:00+00:00" and found[-1] == "2027-01-11T21:00:00+00:00"
    assert len(found) == 8


def test_a_request_approved_is_booked_and_holds_the_time(office, sclient, sstaff, scheduling_engine):
    o = office()
    client_id, client = sclient()
    response = request_slot(client, o, note="Mornings suit me.")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "requested" and body["start"] == TUESDAY_10_NY and body["note"] == "Mornings suit me."
    assert outbox_events(scheduling_engine, "appointment.requested", appointment_id=body["id"])
    # a request holds nothing: the slot is still offered
    assert TUESDAY_10_NY in slots(client, o)
    pending = sstaff.get("/api/v1/staff/appointment-requests").get_json()["items"]
    assert body["id"] in [p["id"] for p in pending]

    approved = sstaff.post(f"/api/v1/staff/appointment-requests/{body['id']}/approve")
    assert approved.status_code == 200, approved.get_json()
    assert approved.get_json()["status"] == "booked"
    assert outbox_events(scheduling_engine, "appointment.approved", appointment_id=body["id"])
    assert TUESDAY_10_NY not in slots(client, o)
    again = sstaff.post(f"/api/v1/staff/appointment-requests/{body['id']}/approve")
    assert_problem(again, 409)
    assert len(outbox_events(scheduling_engine, "appointment.approved", appointment_id=body["id"])) == 1
    upcoming = client.get("/api/v1/portal/appointments?scope=upcoming").get_json()["items"]
    assert [(u["id"], u["status"]) for u in upcoming] == [(body["id"], "booked")]
    assert upcoming[0]["clinician"]["name"].startswith("Ana Ruiz") and upcoming[0]["site"]["name"] == o.site["name"]


def test_two_requests_for_one_slot_the_second_approval_is_slot_taken(office, sclient, sstaff):
    o = office()
    _, first = sclient()
    _, second = sclient()
    a = request_slot(first, o).get_json()
    b = request_slot(second, o).get_json()
    assert sstaff.post(f"/api/v1/staff/appointment-requests/{a['id']}/approve").status_code == 200
    body = assert_problem(sstaff.post(f"/api/v1/staff/appointment-requests/{b['id']}/approve"), 409)
    assert body["type"].endswith("/slot-taken")
    # the loser is still pending, for staff to deny with a reason
    denied = sstaff.post(f"/api/v1/staff/appointment-requests/{b['id']}/deny", json={"reason": "That time went."})
    assert denied.status_code == 200 and denied.get_json()["status"] == "denied"


def test_staff_book_then_client_confirms_and_cannot_cancel_inside_the_window(office, sclient, sstaff, sclock,
                                                                            scheduling_engine):
    o = office()
    client_id, client = sclient()
    booked = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": TUESDAY_10_NY})
    assert booked.status_code == 201, booked.get_json()
    appointment = booked.get_json()
    assert appointment["status"] == "booked" and appointment["end"] == "2027-01-12T16:00:00+00:00"
    assert outbox_events(scheduling_engine, "appointment.booked", appointment_id=appointment["id"], by="staff")
    clash = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": "2027-01-12T15:30:00Z"})
    assert assert_problem(clash, 409)["type"].endswith("/slot-taken")
    # back to back is fine
    after = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": "2027-01-12T16:00:00Z"})
    assert after.status_code == 201, after.get_json()

    confirmed = client.post(f"/api/v1/portal/appointments/{appointment['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.get_json()["status"] == "confirmed"
    assert_problem(client.post(f"/api/v1/portal/appointments/{appointment['id']}/confirm"), 409)

    sclock.at(datetime(2027, 1, 11, 16, 0, tzinfo=UTC))  # 23 hours before: inside the 24-hour window
    refused = client.post(f"/api/v1/portal/appointments/{appointment['id']}/cancel")
    body = assert_problem(refused, 409)
    assert body["type"].endswith("/inside-cancellation-window") and "contact the practice" in body["detail"]
    assert not outbox_events(scheduling_engine, "appointment.cancelled", appointment_id=appointment["id"])
    sclock.at(datetime(2027, 1, 11, 14, 0, tzinfo=UTC))  # 25 hours before
    cancelled = client.post(f"/api/v1/portal/appointments/{appointment['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert outbox_events(scheduling_engine, "appointment.cancelled", appointment_id=appointment["id"], by="client")


def test_completed_session_is_announced_with_its_service_code(office, sclient, sstaff, sclock, scheduling_engine,
                                                              scheduling_practice):
    o = office(service_code="90837")
    client_id, _ = sclient()
    booked = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": TUESDAY_10_NY}).get_json()
    early = sstaff.post(f"/api/v1/staff/appointments/{booked['id']}/complete")
    assert_problem(early, 409)
    sclock.at(datetime(2027, 1, 12, 16, 5, tzinfo=UTC))
    done = sstaff.post(f"/api/v1/staff/appointments/{booked['id']}/complete")
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    [event] = outbox_events(scheduling_engine, "appointment.completed", appointment_id=booked["id"])
    assert event["payload"] == {"appointment_id": booked["id"], "client_id": client_id,
                                "clinician_id": o.clinician["id"], "start": TUESDAY_10_NY,
                                "end": "2027-01-12T16:00:00+00:00", "type": o.kind["name"], "outcome": "completed",
                                "service_code": "90837", "fee": False}


def test_a_no_show_is_billed_only_when_the_practice_charges(office, sclient, sstaff, sclock, scheduling_engine,
                                                            scheduling_practice):
    o = office()
    client_id, _ = sclient()
    starts = ["2027-01-12T15:00:00Z", "2027-01-12T16:00:00Z"]
    ids = [sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": s}).get_json()["id"] for s in starts]
    sclock.at(datetime(2027, 1, 12, 18, 0, tzinfo=UTC))
    assert sstaff.post(f"/api/v1/staff/appointments/{ids[0]}/no-show").get_json()["fee"] is False
    assert not outbox_events(scheduling_engine, "appointment.completed", appointment_id=ids[0])
    scheduling_practice.policy.update({"no_show_fee": True})
    assert sstaff.post(f"/api/v1/staff/appointments/{ids[1]}/no-show").get_json()["fee"] is True
    [event] = outbox_events(scheduling_engine, "appointment.completed", appointment_id=ids[1])
    assert event["payload"]["fee"] is True and event["payload"]["outcome"] == "no_show"


def test_reminders_fall_due_once_per_lead_and_move_with_a_reschedule(office, sclient, sstaff, sclock,
                                                                      scheduling_engine, scheduling_practice):
    o = office()
    client_id, _ = sclient()
    appointment = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": TUESDAY_10_NY}).get_json()
    reminders = scheduling_practice.reminders

    def sent():
        return sorted((e["payload"]["lead_minutes"], e["payload"]["start"])
                      for e in outbox_events(scheduling_engine, "appointment.reminder_due",
                                             appointment_id=appointment["id"]))

    sclock.at(datetime(2027, 1, 10, 14, 59, tzinfo=UTC))  # a minute before the 48-hour reminder
    reminders.publish_due()
    assert sent() == []
    sclock.at(datetime(2027, 1, 10, 15, 0, tzinfo=UTC))
    reminders.publish_due()
    reminders.publish_due()
    assert sent() == [(2880, TUESDAY_10_NY)]
    moved = sstaff.post(f"/api/v1/staff/appointments/{appointment['id']}/reschedule",
                        json={"start": "2027-01-14T15:00:00Z"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["sequence"] == 1
    sclock.at(datetime(2027, 1, 12, 15, 0, tzinfo=UTC))  # the old 24-hour moment: nothing for the old time
    reminders.publish_due()
    assert sent() == [(2880, TUESDAY_10_NY), (2880, "2027-01-14T15:00:00+00:00")]
    sstaff.post(f"/api/v1/staff/appointments/{appointment['id']}/cancel", json={"reason": "Clinician ill"})
    sclock.at(datetime(2027, 1, 13, 15, 0, tzinfo=UTC))
    reminders.publish_due()
    assert len(sent()) == 2  # never for a cancelled one


def test_booked_inside_the_lead_time_is_reminded_at_once_and_only_once(office, sclient, sstaff, sclock,
                                                                       scheduling_engine, scheduling_practice):
    o = office()
    client_id, _ = sclient()
    sclock.at(datetime(2027, 1, 12, 5, 0, tzinfo=UTC))  # ten hours before
    appointment = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": TUESDAY_10_NY}).get_json()
    scheduling_practice.reminders.publish_due()
    events = outbox_events(scheduling_engine, "appointment.reminder_due", appointment_id=appointment["id"])
    assert [e["payload"]["lead_minutes"] for e in events] == [1440]


def test_the_calendar_feed_lists_my_appointments_until_revoked(office, sclient, sstaff, scheduling_app):
    o = office()
    client_id, client = sclient()
    sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": TUESDAY_10_NY})
    made = client.post("/api/v1/portal/calendar-feed")
    assert made.status_code == 201
    path = "/api/v1/calendar/" + made.get_json()["url"].split("/api/v1/calendar/")[1]
    anyone = scheduling_app.test_client()
    feed = anyone.get(path)
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    assert feed.get_data(as_text=True).count("BEGIN:VEVENT") == 1
    assert client.get("/api/v1/portal/calendar-feed").get_json()["active"] is True
    assert client.delete("/api/v1/portal/calendar-feed").status_code == 204
    assert_problem(anyone.get(path), 404)


def test_history_filters_and_exports_exactly_those_rows(office, sclient, sstaff, sclock):
    o = office()
    other = office()
    client_id, client = sclient()
    for off, start in ((o, "2027-01-12T15:00:00Z"), (other, "2027-01-13T15:00:00Z"), (o, "2027-01-14T15:00:00Z")):
        assert sstaff.post("/api/v1/staff/appointments", json={
            "client_id": client_id, "clinician_id": off.clinician["id"], "appointment_type_id": off.kind["id"],
            "start": start}).status_code == 201
    sclock.at(datetime(2027, 1, 20, 12, 0, tzinfo=UTC))
    everything = client.get("/api/v1/portal/appointments/history").get_json()["items"]
    assert [h["start"] for h in everything] == ["2027-01-14T15:00:00+00:00", "2027-01-13T15:00:00+00:00",
                                                 "2027-01-12T15:00:00+00:00"]
    mine = client.get("/api/v1/portal/appointments/history", query_string={
        "clinician_id": o.clinician["id"], "from": "2027-01-13"}).get_json()["items"]
    assert [h["start"] for h in mine] == ["2027-01-14T15:00:00+00:00"]
    csv = client.get("/api/v1/portal/appointments/history", query_string={
        "clinician_id": o.clinician["id"], "format": "csv"})
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    lines = csv.get_data().decode("utf-8-sig").strip().split("\r\n")
    assert len(lines) == 3 and lines[1].startswith("2027-01-14,10:00,11:00,America/New_York")
    xlsx = client.get("/api/v1/portal/appointments/history", query_string={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.get_data()[:2] == b"PK"
    assert_problem(client.get("/api/v1/portal/appointments/history", query_string={"format": "pdf"}), 422,
                   field="format")


def test_another_clients_appointment_is_not_found(office, sclient, sstaff):
    o = office()
    owner_id, owner = sclient()
    _, stranger = sclient()
    appointment = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": owner_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": TUESDAY_10_NY}).get_json()
    for method, path in (("GET", ""), ("GET", "/ics"), ("POST", "/confirm"), ("POST", "/cancel")):
        assert_problem(stranger.call(method, f"/api/v1/portal/appointments/{appointment['id']}{path}"), 404)
    assert owner.get(f"/api/v1/portal/appointments/{appointment['id']}").status_code == 200
    assert appointment["id"] not in [a["id"] for a in
                                     stranger.get("/api/v1/portal/appointments").get_json()["items"]]




def test_staff_see_free_times_inside_the_clients_notice_and_of_types_not_bookable_online(office, sclient, sstaff):
    o = office(bookable=False)
    _, client = sclient()
    query = {"appointment_type_id": o.kind["id"], "from": "2027-01-04", "to": "2027-01-04"}
    staff_times = sstaff.get("/api/v1/staff/availability", query_string=query)
    assert staff_times.status_code == 200
    # DEFAULT_NOW is 07:00 in New York on Monday 4 January: staff see the rest of the day
    assert [s["start"] for s in staff_times.get_json()["items"]][:2] == ["2027-01-04T14:00:00+00:00",
                                                                        "2027-01-04T15:00:00+00:00"]
    assert_problem(client.get("/api/v1/portal/availability", query_string=query), 422,
                   field="appointment_type_id")


def test_a_request_sent_twice_is_one_request(office, sclient, scheduling_engine):
    o = office()
    _, client = sclient()
    first, second = request_slot(client, o), request_slot(client, o)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert len(outbox_events(scheduling_engine, "appointment.requested", appointment_id=first.get_json()["id"])) == 1
    assert [a["id"] for a in client.get("/api/v1/portal/appointments").get_json()["items"]] == [
        first.get_json()["id"]]


def test_a_staff_booking_sent_twice_is_one_appointment(office, sclient, sstaff, scheduling_engine):
    o = office()
    client_id, _ = sclient()
    body = {"client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
            "start": TUESDAY_10_NY}
    first, second = (sstaff.post("/api/v1/staff/appointments", json=body) for _ in range(2))
    assert first.get_json()["id"] == second.get_json()["id"]
    assert len(outbox_events(scheduling_engine, "appointment.booked", appointment_id=first.get_json()["id"])) == 1


def test_a_phone_session_without_a_site_is_on_the_practices_clock(office, sclient, sstaff):
    o = office(modality="phone", zone="Europe/London")
    second = sstaff.post("/api/v1/staff/sites", json={"name": "Second office", "timezone": "Europe/London"})
    sites = [o.site["id"], second.get_json()["id"]]
    assert sstaff.patch(f"/api/v1/staff/clinicians/{o.clinician['id']}", json={"site_ids": sites}).status_code == 200
    client_id, client = sclient()
    booked = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start": TUESDAY_10_NY})
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["site"] is None and booked.get_json()["timezone"] == "America/New_York"
    [mine] = client.get("/api/v1/portal/appointments").get_json()["items"]
    assert mine["timezone"] == "America/New_York"
    in_person = office()
    at_site = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": in_person.clinician["id"],
        "appointment_type_id": in_person.kind["id"], "start": "2027-01-13T15:00:00Z"}).get_json()
    assert at_site["timezone"] == in_person.site["timezone"]


def test_hours_at_a_site_the_clinician_left_offer_nothing(office, sclient, sstaff):
    o = office()
    _, client = sclient()
    assert slots(client, o)
    other = sstaff.post("/api/v1/staff/sites", json={"name": "Elsewhere", "timezone": "America/New_York"})
    moved = sstaff.patch(f"/api/v1/staff/clinicians/{o.clinician['id']}", json={"site_ids": [other.get_json()["id"]]})
    assert moved.status_code == 200
    assert slots(client, o) == []  # the weekly hours were at the old site
    assert_problem(request_slot(client, o), 422, field="start")


def test_start_local_of_a_siteless_session_is_on_the_practices_clock(office, sclient, sstaff):
    o = office(modality="video", zone="Europe/London")
    second = sstaff.post("/api/v1/staff/sites", json={"name": "Second", "timezone": "Europe/London"}).get_json()
    sstaff.patch(f"/api/v1/staff/clinicians/{o.clinician['id']}", json={"site_ids": [o.site["id"], second["id"]]})
    client_id, _ = sclient()
    booked = sstaff.post("/api/v1/staff/appointments", json={
        "client_id": client_id, "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
        "start_local": "2027-01-12T10:00"})
    assert booked.status_code == 201, booked.get_json()
    body = booked.get_json()
    assert body["site"] is None and body["timezone"] == "America/New_York"
    assert body["start"] == TUESDAY_10_NY  # 10:00 in New York, the clock it is shown on


def test_booked_at_once_a_clients_upcoming_bookings_count_as_open_requests(office, sclient, scheduling_practice):
    scheduling_practice.policy.update({"approval": "automatic", "max_open_requests": 2})
    o = office()
    _, client = sclient()
    for start in ("2027-01-12T15:00:00Z", "2027-01-12T16:00:00Z"):
        made = request_slot(client, o, start=start)
        assert made.status_code == 201 and made.get_json()["status"] == "booked"
    third = request_slot(client, o, start="2027-01-12T17:00:00Z")
    assert assert_problem(third, 409)["type"].endswith("/too-many-open-requests")


def test_a_denied_request_stays_in_upcoming_with_the_reason(office, sclient, sstaff):
    o = office()
    _, client = sclient()
    request = request_slot(client, o).get_json()
    sstaff.post(f"/api/v1/staff/appointment-requests/{request['id']}/deny", json={"reason": "Away that week."})
    [listed] = client.get("/api/v1/portal/appointments").get_json()["items"]
    assert (listed["id"], listed["status"], listed["reason"]) == (request["id"], "denied", "Away that week.")
    assert listed["can_cancel"] is False and listed["can_confirm"] is False


def test_staff_read_one_site_clinician_and_type(office, sstaff):
    o = office()
    assert sstaff.get(f"/api/v1/staff/sites/{o.site['id']}").get_json() == o.site
    assert sstaff.get(f"/api/v1/staff/clinicians/{o.clinician['id']}").get_json() == o.clinician
    assert sstaff.get(f"/api/v1/staff/appointment-types/{o.kind['id']}").get_json() == o.kind
    sstaff.patch(f"/api/v1/staff/sites/{o.site['id']}", json={"active": False})
    assert sstaff.get(f"/api/v1/staff/sites/{o.site['id']}").get_json()["active"] is False  # retired, still read


def test_clients_read_the_practices_active_sites(office, sclient, sstaff):
    o = office()
    retired = office()
    sstaff.patch(f"/api/v1/staff/sites/{retired.site['id']}", json={"active": False})
    _, client = sclient()
    listed = {s["id"]: s for s in client.get("/api/v1/portal/sites").get_json()["items"]}
    assert listed[o.site["id"]] == {k: o.site[k] for k in ("id", "name", "timezone", "address")}
    assert retired.site["id"] not in listed
