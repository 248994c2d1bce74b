"""Scheduling's clocks through its API: availability across both daylight-saving changes in New York and London
(the skipped hour offers nothing, the repeated hour is offered twice), requests and staff bookings in the repeated
hour, and a clinician at a London site while the practice keeps New York's days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

pytestmark = pytest.mark.integration

NIGHTS = [{"weekday": d, "start": "00:00", "end": "04:00"} for d in range(7)]  # 00:00-04:00 every day, site time
REQUESTS = "/api/v1/portal/appointment-requests"
BOOKINGS = "/api/v1/staff/appointments"


def offered(api, o, frm: str, to: str) -> list[dict]:
    response = api.get("/api/v1/portal/availability", query_string={
        "appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"], "from": frm, "to": to})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def on_the_sites_clock(starts: list[str], zone: str) -> list[str]:
    return [datetime.fromisoformat(s).astimezone(ZoneInfo(zone)).isoformat() for s in starts]


# zone, now, the site's local day as instants [from, to), the slots' UTC starts, the same on the site's clock
CHANGES = [
    pytest.param("America/New_York", datetime(2027, 3, 1, 12, tzinfo=UTC),
                 "2027-03-14T00:00:00-05:00", "2027-03-15T00:00:00-04:00",
                 ["2027-03-14T05:00:00+00:00", "2027-03-14T06:00:00+00:00", "2027-03-14T07:00:00+00:00"],
                 ["2027-03-14T00:00:00-05:00", "2027-03-14T01:00:00-05:00", "2027-03-14T03:00:00-04:00"],
                 id="new-york-spring-forward"),
    pytest.param("America/New_York", datetime(2027, 10, 20, 12, tzinfo=UTC),
                 "2027-11-07T00:00:00-04:00", "2027-11-08T00:00:00-05:00",
                 ["2027-11-07T04:00:00+00:00", "2027-11-07T05:00:00+00:00", "2027-11-07T06:00:00+00:00",
                  "2027-11-07T07:00:00+00:00", "2027-11-07T08:00:00+00:00"],
                 ["2027-11-07T00:00:00-04:00", "2027-11-07T01:00:00-04:00", "2027-11-07T01:00:00-05:00",
                  "2027-11-07T02:00:00-05:00", "2027-11-07T03:00:00-05:00"],
                 id="new-york-fall-back"),
    pytest.param("Europe/London", datetime(2027, 3, 1, 12, tzinfo=UTC),
                 "2027-03-28T00:00:00+00:00", "2027-03-29T00:00:00+01:00",
                 ["2027-03-28T00:00:00+00:00", "2027-03-28T01:00:00+00:00", "2027-03-28T02:00:00+00:00"],
                 ["2027-03-28T00:00:00+00:00", "2027-03-28T02:00:00+01:00", "2027-03-28T03:00:00+01:00"],
                 id="london-spring-forward"),
    pytest.param("Europe/London", datetime(2027, 10, 20, 12, tzinfo=UTC),
                 "2027-10-31T00:00:00+01:00", "2027-11-01T00:00:00+00:00",
                 ["2027-10-30T23:00:00+00:00", "2027-10-31T00:00:00+00:00", "2027-10-31T01:00:00+00:00",
                  "2027-10-31T02:00:00+00:00", "2027-10-31T03:00:00+00:00"],
                 ["2027-10-31T00:00:00+01:00", "2027-10-31T01:00:00+01:00", "2027-10-31T01:00:00+00:00",
                  "2027-10-31T02:00:00+00:00", "2027-10-31T03:00:00+00:00"],
                 id="london-fall-back"),
]


@pytest.mark.parametrize("zone, now, frm, to, utc_starts, local_starts", CHANGES)
def test_the_night_the_clocks_change(office, sclient, sclock, zone, now, frm, to, utc_starts, local_starts):
    o = office(zone=zone, rules=NIGHTS)
    _, client = sclient()
    sclock.at(now)
    slots = offered(client, o, frm, to)
    assert [s["start"] for s in slots] == utc_starts
    assert on_the_sites_clock([s["start"] for s in slots], zone) == local_starts
    # an hour of absolute time each, the change included
    assert [s["end"] for s in slots] == [(datetime.fromisoformat(t) + timedelta(hours=1)).isoformat()
                                         for t in utc_starts]
    assert {(s["site_id"], s["timezone"], s["clinician_id"]) for s in slots} == {
        (o.site["id"], zone, o.clinician["id"])}


@pytest.mark.parametrize("zone, now, frm, to, count", [
    ("America/New_York", datetime(2027, 3, 1, 12, tzinfo=UTC), "2027-03-13T00:00:00-05:00",
     "2027-03-14T00:00:00-05:00", 4),
    ("America/New_York", datetime(2027, 3, 1, 12, tzinfo=UTC), "2027-03-15T00:00:00-04:00",
     "2027-03-16T00:00:00-04:00", 4),
    ("Europe/London", datetime(2027, 10, 20, 12, tzinfo=UTC), "2027-10-30T00:00:00+01:00",
     "2027-10-31T00:00:00+01:00", 4),
    ("Europe/London", datetime(2027, 10, 20, 12, tzinfo=UTC), "2027-11-01T00:00:00+00:00",
     "2027-11-02T00:00:00+00:00", 4),
], ids=["new-york-the-night-before", "new-york-the-night-after", "london-the-night-before",
        "london-the-night-after"])
def test_the_nights_around_a_change_have_all_four_hours(office, sclient, sclock, zone, now, frm, to, count):
    o = office(zone=zone, rules=NIGHTS)
    _, client = sclient()
    sclock.at(now)
    starts = [s["start"] for s in offered(client, o, frm, to)]
    assert len(starts) == count
    assert [t[11:16] for t in on_the_sites_clock(starts, zone)] == ["00:00", "01:00", "02:00", "03:00"]


def test_the_practices_days_list_the_night_the_clocks_go_forward_in_its_own_zone(office, sclient, sclock,
                                                                                   scheduling_practice):
    """from/to as dates are the practice's (New York's) days; with the horizon raised the clock can stay in
    winter."""
    scheduling_practice.policy.update({"horizon_days": 400})
    o = office(rules=NIGHTS)
    _, client = sclient()
    starts = [s["start"] for s in offered(client, o, "2027-03-14", "2027-03-14")]
    assert starts == ["2027-03-14T05:00:00+00:00", "2027-03-14T06:00:00+00:00", "2027-03-14T07:00:00+00:00"]
    spring = [s["start"] for s in offered(client, o, "2027-03-13", "2027-03-15")]
    assert len(spring) == 4 + 3 + 4


# --- the repeated hour ---------------------------------------------------------------------------------------

def test_a_request_for_the_second_one_oclock_books_that_instant(office, sclient, sstaff, sclock):
    o = office(rules=NIGHTS)
    _, first = sclient()
    _, second = sclient()
    sclock.at(datetime(2027, 10, 20, 12, tzinfo=UTC))
    later = second.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                        "start": "2027-11-07T01:00:00-05:00"})
    assert later.status_code == 201, later.get_json()
    assert (later.get_json()["start"], later.get_json()["end"]) == ("2027-11-07T06:00:00+00:00",
                                                                    "2027-11-07T07:00:00+00:00")
    earlier = first.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                         "start": "2027-11-07T01:00:00-04:00"})
    assert earlier.status_code == 201, earlier.get_json()
    assert earlier.get_json()["start"] == "2027-11-07T05:00:00+00:00"

    # both are held once approved: two appointments at "01:00" that do not overlap
    for made in (later, earlier):
        approved = sstaff.post(f"/api/v1/staff/appointment-requests/{made.get_json()['id']}/approve")
        assert approved.status_code == 200, approved.get_json()
    left = [s["start"] for s in offered(first, o, "2027-11-07", "2027-11-07")]
    assert left == ["2027-11-07T04:00:00+00:00", "2027-11-07T07:00:00+00:00", "2027-11-07T08:00:00+00:00"]


@pytest.mark.parametrize("zone, start_local, start", [
    ("America/New_York", "2027-11-07T01:00", "2027-11-07T05:00:00+00:00"),
    ("America/New_York", "2027-11-07T01:30", "2027-11-07T05:30:00+00:00"),
    ("Europe/London", "2027-10-31T01:00", "2027-10-31T00:00:00+00:00"),
], ids=["new-york", "new-york-half-past", "london"])
def test_a_staff_booking_in_the_repeated_hour_takes_the_first_occurrence(office, sclient, sstaff, sclock, zone,
                                                                         start_local, start):
    o = office(zone=zone, rules=NIGHTS)
    client_id, _ = sclient()
    sclock.at(datetime(2027, 10, 20, 12, tzinfo=UTC))
    booked = sstaff.post(BOOKINGS, json={"client_id": client_id, "appointment_type_id": o.kind["id"],
                                         "clinician_id": o.clinician["id"], "start_local": start_local})
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["start"] == start
    assert datetime.fromisoformat(booked.get_json()["start"]).astimezone(ZoneInfo(zone)).fold == 0


def test_a_request_with_start_local_in_the_repeated_hour_is_the_first_one_oclock(office, sclient, sclock):
    o = office(rules=NIGHTS)
    _, client = sclient()
    sclock.at(datetime(2027, 10, 20, 12, tzinfo=UTC))
    made = client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                       "start_local": "2027-11-07T01:00"})
    assert made.status_code == 201, made.get_json()
    assert made.get_json()["start"] == "2027-11-07T05:00:00+00:00"


def test_the_hour_after_the_spring_gap_can_be_requested(office, sclient, sclock):
    o = office(rules=NIGHTS)
    _, client = sclient()
    sclock.at(datetime(2027, 3, 1, 12, tzinfo=UTC))
    made = client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                       "start_local": "2027-03-14T03:00"})
    assert made.status_code == 201, made.get_json()
    assert (made.get_json()["start"], made.get_json()["end"]) == ("2027-03-14T07:00:00+00:00",
                                                                  "2027-03-14T08:00:00+00:00")


# --- a London site, a New York practice ------------------------------------------------------------------------

def test_a_london_site_offers_its_own_hours_on_new_yorks_days(office, sclient):
    """London's 00:00-04:00 (GMT, UTC) on 13 January is 19:00-23:00 on the 12th in New York: the practice's day
    12 January lists them, its 13th lists London's 14th."""
    o = office(zone="Europe/London", rules=NIGHTS)
    _, client = sclient()
    twelfth = offered(client, o, "2027-01-12", "2027-01-12")
    assert [s["start"] for s in twelfth] == ["2027-01-13T00:00:00+00:00", "2027-01-13T01:00:00+00:00",
                                             "2027-01-13T02:00:00+00:00", "2027-01-13T03:00:00+00:00"]
    assert {s["timezone"] for s in twelfth} == {"Europe/London"}
    thirteenth = offered(client, o, "2027-01-13", "2027-01-13")
    assert [s["start"][:13] for s in thirteenth] == ["2027-01-14T00", "2027-01-14T01", "2027-01-14T02",
                                                     "2027-01-14T03"]


def test_between_the_two_changes_london_is_four_hours_ahead(office, sclient, sclock):
    """From 14 to 28 March 2027 New York is on EDT and London still on GMT: London's midnight on the 20th is 20:00
    on the 19th in New York, so the practice's 19 March lists London's night of the 20th."""
    o = office(zone="Europe/London", rules=NIGHTS)
    _, client = sclient()
    sclock.at(datetime(2027, 3, 1, 12, tzinfo=UTC))
    starts = [s["start"] for s in offered(client, o, "2027-03-19", "2027-03-19")]
    assert starts == ["2027-03-20T00:00:00+00:00", "2027-03-20T01:00:00+00:00", "2027-03-20T02:00:00+00:00",
                      "2027-03-20T03:00:00+00:00"]


def test_a_london_appointment_is_on_londons_day_in_the_history_and_the_calendar(office, sclient, sstaff, sclock):
    """Days filter on each appointment's own clock (its site's), the day its rows and exports show, not on the
    practice's (New York's) days."""
    o = office(zone="Europe/London", rules=NIGHTS)
    client_id, client = sclient()
    booked = sstaff.post(BOOKINGS, json={"client_id": client_id, "appointment_type_id": o.kind["id"],
                                         "clinician_id": o.clinician["id"], "start_local": "2027-01-13T00:00"})
    assert booked.status_code == 201, booked.get_json()
    appointment = booked.get_json()
    assert appointment["start"] == "2027-01-13T00:00:00+00:00"  # London's midnight; 19:00 on the 12th in New York
    sclock.at(datetime(2027, 1, 20, 12, tzinfo=UTC))

    def history(**query) -> list[str]:
        response = client.get("/api/v1/portal/appointments/history", query_string=query)
        assert response.status_code == 200, response.get_json()
        return [h["id"] for h in response.get_json()["items"]]

    assert history(**{"from": "2027-01-13", "to": "2027-01-13"}) == [appointment["id"]]
    assert history(**{"from": "2027-01-12", "to": "2027-01-12"}) == []
    assert history(to="2027-01-12") == []

    def calendar(day: str) -> list[str]:
        response = sstaff.get(BOOKINGS, query_string={"from": day, "to": day, "clinician_id": o.clinician["id"]})
        assert response.status_code == 200, response.get_json()
        return [a["id"] for a in response.get_json()["items"]]

    assert calendar("2027-01-13") == [appointment["id"]]
    assert calendar("2027-01-12") == []

    # the export: exactly the rows of that filter, on the site's wall clock
    csv = client.get("/api/v1/portal/appointments/history", query_string={"format": "csv", "from": "2027-01-13",
                                                                          "to": "2027-01-13"})
    assert csv.status_code == 200
    rows = csv.get_data().decode("utf-8-sig").strip().split("\r\n")
    assert len(rows) == 2 and rows[1].startswith("2027-01-13,00:00,01:00,Europe/London,")


def test_a_staff_booking_in_summer_reads_start_local_on_londons_clock(office, sclient, sstaff):
    o = office(zone="Europe/London", rules=NIGHTS)
    client_id, _ = sclient()
    booked = sstaff.post(BOOKINGS, json={"client_id": client_id, "appointment_type_id": o.kind["id"],
                                         "clinician_id": o.clinician["id"], "start_local": "2027-07-13T09:00"})
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["start"] == "2027-07-13T08:00:00+00:00"  # 09:00 BST, not 09:00 in New York
