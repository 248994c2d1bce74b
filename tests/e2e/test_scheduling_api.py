"""Scheduling through the gateway with every process real: the self-scheduling switch reaches scheduling by
identity's event, a client's request is approved, its .ics and the private feed (a public path at the gateway)
download, history exports pass through, and a completed session reaches billing as a billable session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import bearer
from tests.e2e.test_pay_now import registered_client
from tests.support.processes import eventually

pytestmark = pytest.mark.e2e


def _setup(stack, http, staff) -> tuple[dict, dict, dict]:
    tag = uuid.uuid4().hex[:6]
    site = http.post(f"{stack.api}/staff/sites", headers=staff,
                     json={"name": f"E2E site {tag}", "timezone": "America/New_York"}).json()
    clinician = http.post(f"{stack.api}/staff/clinicians", headers=staff, json={
        "first_name": "Jo", "last_name": f"March {tag}", "site_ids": [site["id"]]}).json()
    kind = http.post(f"{stack.api}/staff/appointment-types", headers=staff, json={
        "name": f"Consultation {tag}", "modality": "video", "duration_minutes": 30, "bookable_online": True,
        "clinician_ids": [clinician["id"]], "service_code": "90834"}).json()
    rules = [{"weekday": d, "start": "08:00", "end": "20:00", "site_id": site["id"]} for d in range(7)]
    put = http.put(f"{stack.api}/staff/clinicians/{clinician['id']}/availability", headers=staff,
                   json={"rules": rules})
    assert put.status_code == 200, put.text
    return site, clinician, kind


def test_a_request_made_approved_exported_and_billed(stack, http, admin_token):
    staff = bearer(admin_token)
    site, clinician, kind = _setup(stack, http, staff)
    client_id, me = registered_client(stack, http, staff)
    assert http.patch(f"{stack.api}/staff/settings", headers=staff,
                      json={"self_scheduling_enabled": True}).status_code == 200
    query = {"appointment_type_id": kind["id"], "clinician_id": clinician["id"],
             "from": (datetime.now(UTC) + timedelta(days=2)).date().isoformat()}
    # the switch and the client reach scheduling by identity's events
    offered = eventually(lambda: (r := http.get(f"{stack.api}/portal/availability", headers=me, params=query))
                         .status_code == 200 and r.json()["items"], timeout=20, message="slots offered")
    slot = offered[0]
    made = eventually(lambda: (r := http.post(f"{stack.api}/portal/appointment-requests", headers=me, json={
        "appointment_type_id": kind["id"], "clinician_id": clinician["id"], "start": slot["start"],
        "note": "First visit"})).status_code == 201 and r, timeout=20, message="the request taken")
    request = made.json()
    assert request["status"] == "requested" and request["start"] == slot["start"]
    approved = http.post(f"{stack.api}/staff/appointment-requests/{request['id']}/approve", headers=staff)
    assert approved.status_code == 200 and approved.json()["status"] == "booked"

    upcoming = http.get(f"{stack.api}/portal/appointments", headers=me, params={"scope": "upcoming"}).json()
    assert [a["id"] for a in upcoming["items"]] == [request["id"]] and upcoming["self_scheduling_enabled"] is True
    ics = http.get(f"{stack.api}/portal/appointments/{request['id']}/ics", headers=me)
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    assert "attachment" in ics.headers["Content-Disposition"] and f"UID:{request['id']}@" in ics.text

    feed = http.post(f"{stack.api}/portal/calendar-feed", headers=me).json()
    assert feed["url"].startswith(stack.gateway + "/api/v1/calendar/")  # the portal's address, not the service's
    assert feed["webcal_url"] == "webcal://" + feed["url"].split("://", 1)[1]
    path = feed["url"].split("/api/v1", 1)[1]
    anonymous = http.get(f"{stack.api}{path}")  # no token: the URL's secret is the credential
    assert anonymous.status_code == 200 and anonymous.text.count("BEGIN:VEVENT") == 1
    assert http.delete(f"{stack.api}/portal/calendar-feed", headers=me).status_code == 204
    assert http.get(f"{stack.api}{path}").status_code == 404

    export = http.get(f"{stack.api}/portal/appointments/history", headers=me, params={"format": "xlsx"})
    assert export.status_code == 200 and export.content[:2] == b"PK"
    assert "attachment" in export.headers["Content-Disposition"]

    dashboard = http.get(f"{stack.api}/portal/dashboard", headers=me).json()
    assert dashboard["upcoming_appointments"][0]["id"] == request["id"]
    assert dashboard["features"]["self_scheduling"] is True


def test_a_completed_session_becomes_billable_at_billing(stack, http, admin_token):
    staff = bearer(admin_token)
    site, clinician, _ = _setup(stack, http, staff)
    short = http.post(f"{stack.api}/staff/appointment-types", headers=staff, json={
        "name": f"Check-in {uuid.uuid4().hex[:6]}", "modality": "phone", "duration_minutes": 5,
        "bookable_online": False, "clinician_ids": [clinician["id"]], "service_code": "90832"}).json()
    client_id, _ = registered_client(stack, http, staff)
    later = (datetime.now(UTC) + timedelta(days=30)).replace(hour=15, minute=0, second=0, microsecond=0)

    def book(start: datetime):
        return http.post(f"{stack.api}/staff/appointments", headers=staff, json={
            "client_id": client_id, "clinician_id": clinician["id"], "appointment_type_id": short["id"],
            "start": start.isoformat()})

    # scheduling knows the client once client.created has arrived: a booking next month is taken (then cancelled)
    first = eventually(lambda: (r := book(later)).status_code == 201 and r, timeout=20,
                       message="scheduling knows the client")
    assert http.post(f"{stack.api}/staff/appointments/{first.json()['id']}/cancel", headers=staff,
                     json={}).status_code == 200
    booked = book((datetime.now(UTC) + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1))
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    done = eventually(lambda: (r := http.post(f"{stack.api}/staff/appointments/{appointment['id']}/complete",
                                              headers=staff)).status_code == 200 and r, timeout=15,
                      message="the session has begun and is completed")
    assert done.json()["status"] == "completed"
    billable = eventually(lambda: [s for s in http.get(f"{stack.api}/staff/billable-sessions", headers=staff,
                                                       params={"client_id": client_id}).json()["items"]
                                   if s["appointment_id"] == appointment["id"]], timeout=20,
                          message="billing has the session")
    assert billable[0]["service_code"] == "90832" and billable[0]["fee"] is False
    assert billable[0]["outcome"] == "completed"
