"""No double booking, ever: the exclusion constraint refuses the second of two overlapping holds even when two
connections write at once; bookings and approvals racing through the API end with exactly one winner and 409s."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.integration.conftest import assert_problem, outbox_events
from tests.support.locks import wait_for_lock_waiters

pytestmark = pytest.mark.integration

INSERT = text("INSERT INTO appointments (id, client_id, clinician_id, appointment_type_id, site_id, start_at, end_at, "
              "status, booked_by, fee, sequence) VALUES (:id, :client, :clinician, :type, :site, :start, :end, "
              ":status, 'staff', false, 0)")


def row(o, client_id, start, end, status="booked"):
    return {"id": str(uuid.uuid4()), "client": client_id, "clinician": o.clinician["id"], "type": o.kind["id"],
            "site": o.site["id"], "start": start, "end": end, "status": status}


def test_the_constraint_refuses_an_overlap_written_from_a_second_connection_at_once(office, sclient,
                                                                                 scheduling_engine):
    o = office()
    client_id, _ = sclient()
    ten, eleven = datetime(2027, 1, 12, 15, tzinfo=UTC), datetime(2027, 1, 12, 16, tzinfo=UTC)
    half_past = datetime(2027, 1, 12, 15, 30, tzinfo=UTC)
    first = scheduling_engine.connect()
    first_tx = first.begin()
    first.execute(INSERT, row(o, client_id, ten, eleven))  # not committed yet
    outcome: dict = {}

    def second_writer():
        with scheduling_engine.connect() as second:
            try:
                with second.begin():
                    second.execute(INSERT, row(o, client_id, half_past, half_past.replace(hour=16)))
                outcome["result"] = "committed"
            except IntegrityError as exc:
                outcome["result"] = exc.orig.sqlstate

    writer = threading.Thread(target=second_writer)
    writer.start()
    wait_for_lock_waiters(scheduling_engine, what="the second insert")  # it waits on the first's transaction
    first_tx.commit()
    first.close()
    writer.join(10)
    assert outcome == {"result": "23P01"}  # exclusion_violation
    with scheduling_engine.connect() as conn:
        held = conn.execute(text("SELECT count(*) FROM appointments WHERE clinician_id = :c"),
                            {"c": o.clinician["id"]}).scalar()
    assert held == 1


def test_cancelled_requested_and_no_show_rows_hold_nothing_and_back_to_back_is_allowed(office, sclient,
                                                                                     scheduling_engine):
    o = office()
    client_id, _ = sclient()
    ten, eleven = datetime(2027, 1, 12, 15, tzinfo=UTC), datetime(2027, 1, 12, 16, tzinfo=UTC)
    with scheduling_engine.begin() as conn:
        for status in ("cancelled", "requested", "no_show", "late_cancelled", "denied", "booked"):
            conn.execute(INSERT, row(o, client_id, ten, eleven, status))
        conn.execute(INSERT, row(o, client_id, eleven, eleven.replace(hour=17)))  # back to back
    with pytest.raises(IntegrityError), scheduling_engine.begin() as conn:
        conn.execute(INSERT, row(o, client_id, ten, eleven, "confirmed"))


def race(n, call):
    barrier = threading.Barrier(n)

    def one(i):
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def test_eight_staff_booking_the_same_slot_at_once_make_one_appointment(office, sclient, scheduling_app, sstaff,
                                                                         scheduling_engine):
    o = office()
    clients = [sclient()[0] for _ in range(8)]
    token = sstaff.token

    def book(i):
        with scheduling_app.test_client() as c:
            return c.post("/api/v1/staff/appointments", headers={"Authorization": f"Bearer {token}"}, json={
                "client_id": clients[i], "clinician_id": o.clinician["id"], "appointment_type_id": o.kind["id"],
                "start": "2027-01-12T15:30:00Z" if i % 2 else "2027-01-12T15:00:00Z"})

    answers = race(8, book)
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    for loser in (a for a in answers if a.status_code == 409):
        assert_problem(loser, 409)["type"].endswith("/slot-taken")
    with scheduling_engine.connect() as conn:
        held = conn.execute(text("SELECT count(*) FROM appointments WHERE clinician_id = :c AND status = 'booked'"),
                            {"c": o.clinician["id"]}).scalar()
    assert held == 1


def test_two_staff_approving_overlapping_requests_at_once_book_one(office, sclient, sstaff, scheduling_app,
                                                                   scheduling_engine):
    o = office()
    requests = []
    for _ in range(4):
        _, client = sclient()
        made = client.post("/api/v1/portal/appointment-requests", json={
            "appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"], "start": "2027-01-12T15:00:00Z"})
        assert made.status_code == 201, made.get_json()
        requests.append(made.get_json()["id"])
    token = sstaff.token

    def approve(i):
        with scheduling_app.test_client() as c:
            return c.post(f"/api/v1/staff/appointment-requests/{requests[i]}/approve",
                          headers={"Authorization": f"Bearer {token}"})

    answers = race(4, approve)
    assert sorted(a.status_code for a in answers) == [200, 409, 409, 409]
    approved = [r for r, a in zip(requests, answers, strict=True) if a.status_code == 200]
    assert [e["payload"]["appointment_id"] for r in requests
            for e in outbox_events(scheduling_engine, "appointment.approved", appointment_id=r)] == approved


def test_a_double_click_on_approve_changes_it_once(office, sclient, sstaff, scheduling_app, scheduling_engine):
    o = office()
    _, client = sclient()
    request_id = client.post("/api/v1/portal/appointment-requests", json={
        "appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
        "start": "2027-01-12T15:00:00Z"}).get_json()["id"]
    token = sstaff.token

    def approve(_):
        with scheduling_app.test_client() as c:
            return c.post(f"/api/v1/staff/appointment-requests/{request_id}/approve",
                          headers={"Authorization": f"Bearer {token}"})

    answers = race(2, approve)
    assert sorted(a.status_code for a in answers) == [200, 409]
    loser = next(a for a in answers if a.status_code == 409)
    assert assert_problem(loser, 409)["current_status"] == "booked"
    assert len(outbox_events(scheduling_engine, "appointment.approved", appointment_id=request_id)) == 1
