"""Scheduling's walls between callers: what one client reads (an appointment, its .ics, history rows and their
export, the upcoming list, the calendar feed) another client never reaches; a wrong feed secret finds nothing; staff
routes refuse a client's token and portal routes a staff token, writing nothing."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import openpyxl
import pytest
from flask import Flask

from services.scheduling.api import feeds, portal, staff
from tests.integration.conftest import assert_problem
from tests.integration.scheduling_fixtures import SCHEDULING_TABLES
from tests.support.snapshot import TableSnapshot

pytestmark = pytest.mark.integration

BOOKINGS = "/api/v1/staff/appointments"
HISTORY = "/api/v1/portal/appointments/history"
NOT_FOUND = "No appointment with this id."
UID = re.compile(r"^UID:([0-9a-f-]{36})@client-portal\r?$", re.M)


def book(sstaff, o, client_id: str, start: str) -> str:
    made = sstaff.post(BOOKINGS, json={"client_id": client_id, "clinician_id": o.clinician["id"],
                                       "appointment_type_id": o.kind["id"], "start": start})
    assert made.status_code == 201, made.get_json()
    return made.get_json()["id"]


def feed_path(api) -> str:
    made = api.post("/api/v1/portal/calendar-feed")
    assert made.status_code == 201, made.get_json()
    return "/api/v1/calendar/" + made.get_json()["url"].split("/api/v1/calendar/")[1]


def feed_uids(anyone, path: str) -> list[str]:
    response = anyone.get(path)
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    return UID.findall(response.get_data(as_text=True))


@pytest.fixture
def two_clients(office, sclient, sstaff, sclock, scheduling_app):
    """The owner: two completed sessions on 5 January (history), one booked on the 13th and one request for the
    14th (upcoming), and a calendar feed. The stranger: one booked on the 12th and a feed of their own. The clock
    then stands on 6 January."""
    o = office()
    owner_id, owner = sclient("Owen", "Owner")
    stranger_id, stranger = sclient("Sam", "Stranger")
    past = [book(sstaff, o, owner_id, "2027-01-05T15:00:00Z"), book(sstaff, o, owner_id, "2027-01-05T17:00:00Z")]
    booked = book(sstaff, o, owner_id, "2027-01-13T15:00:00Z")
    requested = owner.post("/api/v1/portal/appointment-requests", json={
        "appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"], "start": "2027-01-14T15:00:00Z"})
    assert requested.status_code == 201, requested.get_json()
    theirs = book(sstaff, o, stranger_id, "2027-01-12T15:00:00Z")
    sclock.at(datetime(2027, 1, 6, 12, tzinfo=UTC))
    for appointment_id in past:
        done = sstaff.post(f"{BOOKINGS}/{appointment_id}/complete")
        assert done.status_code == 200, done.get_json()
    return {"office": o, "owner": owner, "stranger": stranger, "owner_id": owner_id, "stranger_id": stranger_id,
            "past": past, "booked": booked, "requested": requested.get_json()["id"], "theirs": theirs,
            "owner_feed": feed_path(owner), "stranger_feed": feed_path(stranger),
            "anyone": scheduling_app.test_client()}


@pytest.fixture
def unchanged(scheduling_engine):
    return lambda: TableSnapshot(scheduling_engine, SCHEDULING_TABLES, contents=SCHEDULING_TABLES)


# --- one appointment ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["completed", "booked", "requested"])
@pytest.mark.parametrize("tail", ["", "/ics"], ids=["appointment", "ics"])
def test_a_strangers_appointment_and_its_ics_are_not_found(two_clients, which, tail):
    c = two_clients
    appointment_id = {"completed": c["past"][0], "booked": c["booked"], "requested": c["requested"]}[which]
    body = assert_problem(c["stranger"].get(f"/api/v1/portal/appointments/{appointment_id}{tail}"), 404)
    assert body["type"] == "/problems/appointment-not-found" and body["detail"] == NOT_FOUND
    # the owner reads it: the 404 is the wall, not a missing appointment
    assert c["owner"].get(f"/api/v1/portal/appointments/{appointment_id}{tail}").status_code == 200


@pytest.mark.parametrize("action", ["confirm", "cancel"])
def test_a_stranger_cannot_change_an_appointment(two_clients, unchanged, action):
    c = two_clients
    before = unchanged()
    for appointment_id in (c["booked"], c["requested"], c["past"][0]):
        body = assert_problem(c["stranger"].post(f"/api/v1/portal/appointments/{appointment_id}/{action}"), 404)
        assert body["type"] == "/problems/appointment-not-found"
    before.assert_unchanged()


# --- lists -------------------------------------------------------------------------------------------------------

def ids_of(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def test_each_client_sees_only_their_own_upcoming_appointments(two_clients):
    c = two_clients
    assert ids_of(c["owner"].get("/api/v1/portal/appointments")) == [c["booked"], c["requested"]]
    assert ids_of(c["stranger"].get("/api/v1/portal/appointments")) == [c["theirs"]]


def test_each_client_sees_only_their_own_history(two_clients):
    c = two_clients
    assert ids_of(c["owner"].get(HISTORY)) == [c["past"][1], c["past"][0]]
    assert ids_of(c["stranger"].get(HISTORY)) == []
    # filters naming the owner's clinician and days reach nothing of the owner's either
    assert ids_of(c["stranger"].get(HISTORY, query_string={
        "clinician_id": c["office"].clinician["id"], "from": "2027-01-05", "to": "2027-01-05"})) == []


def test_the_owners_history_cursor_pages_only_the_strangers_rows(two_clients):
    c = two_clients
    first = c["owner"].get(HISTORY, query_string={"limit": "1"})
    assert ids_of(first) == [c["past"][1]]
    cursor = first.get_json()["next_cursor"]
    assert ids_of(c["owner"].get(HISTORY, query_string={"limit": "1", "cursor": cursor})) == [c["past"][0]]
    assert ids_of(c["stranger"].get(HISTORY, query_string={"limit": "1", "cursor": cursor})) == []


def test_a_strangers_history_export_holds_none_of_the_owners_rows(two_clients):
    c = two_clients
    owner_csv = c["owner"].get(HISTORY, query_string={"format": "csv"})
    assert owner_csv.get_data().decode("utf-8-sig").strip().count("\r\n") == 2  # header and two sessions
    csv = c["stranger"].get(HISTORY, query_string={"format": "csv"})
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.get_data().decode("utf-8-sig").strip().split("\r\n") == [
        "Date,Start,End,Time zone,Appointment type,Modality,Clinician,Site,Status"]
    xlsx = c["stranger"].get(HISTORY, query_string={"format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.get_data())).active
    assert [row[0] for row in sheet.iter_rows(values_only=True)] == ["Date"]


# --- the calendar feed -------------------------------------------------------------------------------------------

def test_each_feed_lists_only_its_clients_appointments(two_clients):
    c = two_clients
    assert sorted(feed_uids(c["anyone"], c["owner_feed"])) == sorted(c["past"] + [c["booked"], c["requested"]])
    assert feed_uids(c["anyone"], c["stranger_feed"]) == [c["theirs"]]


def test_a_stranger_revoking_or_renewing_their_feed_leaves_the_owners(two_clients):
    c = two_clients
    assert c["stranger"].delete("/api/v1/portal/calendar-feed").status_code == 204
    assert c["stranger"].get("/api/v1/portal/calendar-feed").get_json()["active"] is False
    assert c["owner"].get("/api/v1/portal/calendar-feed").get_json()["active"] is True
    assert len(feed_uids(c["anyone"], c["owner_feed"])) == 4
    renewed = feed_path(c["stranger"])
    assert feed_uids(c["anyone"], renewed) == [c["theirs"]]
    assert len(feed_uids(c["anyone"], c["owner_feed"])) == 4


def near_miss(path: str) -> str:
    """The owner's feed address with the last character of its secret changed."""
    token = path.removeprefix("/api/v1/calendar/").removesuffix(".ics")
    return f"/api/v1/calendar/{token[:-1]}{'A' if token[-1] != 'A' else 'B'}.ics"


@pytest.mark.parametrize("make, slug", [
    (near_miss, "calendar-feed-not-found"),
    (lambda path: path.replace(".ics", "") + "0.ics", "calendar-feed-not-found"),
    (lambda path: "/api/v1/calendar/" + "x" * 43 + ".ics", "calendar-feed-not-found"),
    (lambda path: "/api/v1/calendar/" + "x" * 19 + ".ics", "not-found"),
    (lambda path: "/api/v1/calendar/" + "x" * 101 + ".ics", "not-found"),
    (lambda path: path.upper().replace("/API/V1/CALENDAR/", "/api/v1/calendar/").replace(".ICS", ".ics"),
     "calendar-feed-not-found"),
], ids=["last-character-changed", "one-character-more", "made-up", "too-short", "too-long", "upper-case"])
def test_a_wrong_feed_secret_is_not_found(two_clients, make, slug):
    c = two_clients
    wrong = make(c["owner_feed"])
    assert wrong != c["owner_feed"]
    body = assert_problem(c["anyone"].get(wrong), 404)
    assert body["type"] == f"/problems/{slug}"
    assert "VEVENT" not in c["anyone"].get(wrong).get_data(as_text=True)


def test_a_revoked_or_replaced_feed_secret_is_not_found(two_clients):
    c = two_clients
    old = c["owner_feed"]
    new = feed_path(c["owner"])
    assert_problem(c["anyone"].get(old), 404)
    assert len(feed_uids(c["anyone"], new)) == 4
    assert c["owner"].delete("/api/v1/portal/calendar-feed").status_code == 204
    body = assert_problem(c["anyone"].get(new), 404)
    assert body["detail"] == "This calendar link is not valid (it may have been replaced or revoked)."


# --- roles -------------------------------------------------------------------------------------------------------

PORTAL_ROUTES = [
    ("GET", "/api/v1/portal/appointment-types"),
    ("GET", "/api/v1/portal/clinicians"),
    ("GET", "/api/v1/portal/sites"),
    ("GET", "/api/v1/portal/availability"),
    ("POST", "/api/v1/portal/appointment-requests"),
    ("GET", "/api/v1/portal/appointments"),
    ("GET", "/api/v1/portal/appointments/history"),
    ("GET", "/api/v1/portal/appointments/{appointment}"),
    ("GET", "/api/v1/portal/appointments/{appointment}/ics"),
    ("POST", "/api/v1/portal/appointments/{appointment}/confirm"),
    ("POST", "/api/v1/portal/appointments/{appointment}/cancel"),
    ("GET", "/api/v1/portal/calendar-feed"),
    ("POST", "/api/v1/portal/calendar-feed"),
    ("DELETE", "/api/v1/portal/calendar-feed"),
]
STAFF_ROUTES = [
    ("POST", "/api/v1/staff/sites"),
    ("GET", "/api/v1/staff/sites"),
    ("GET", "/api/v1/staff/sites/{site}"),
    ("PATCH", "/api/v1/staff/sites/{site}"),
    ("POST", "/api/v1/staff/clinicians"),
    ("GET", "/api/v1/staff/clinicians"),
    ("GET", "/api/v1/staff/clinicians/{clinician}"),
    ("PATCH", "/api/v1/staff/clinicians/{clinician}"),
    ("GET", "/api/v1/staff/clinicians/{clinician}/availability"),
    ("PUT", "/api/v1/staff/clinicians/{clinician}/availability"),
    ("POST", "/api/v1/staff/appointment-types"),
    ("GET", "/api/v1/staff/appointment-types"),
    ("GET", "/api/v1/staff/appointment-types/{type}"),
    ("PATCH", "/api/v1/staff/appointment-types/{type}"),
    ("GET", "/api/v1/staff/availability"),
    ("GET", "/api/v1/staff/scheduling-settings"),
    ("PATCH", "/api/v1/staff/scheduling-settings"),
    ("GET", "/api/v1/staff/appointment-requests"),
    ("POST", "/api/v1/staff/appointment-requests/{request}/approve"),
    ("POST", "/api/v1/staff/appointment-requests/{request}/deny"),
    ("GET", "/api/v1/staff/appointments"),
    ("POST", "/api/v1/staff/appointments"),
    ("GET", "/api/v1/staff/appointments/{appointment}"),
    ("POST", "/api/v1/staff/appointments/{appointment}/reschedule"),
    ("POST", "/api/v1/staff/appointments/{appointment}/cancel"),
    ("POST", "/api/v1/staff/appointments/{appointment}/late-cancel"),
    ("POST", "/api/v1/staff/appointments/{appointment}/complete"),
    ("POST", "/api/v1/staff/appointments/{appointment}/no-show"),
]
# A body that would be taken if the role were: the refusal comes first, whatever the body.
BODIES = {
    "/api/v1/portal/appointment-requests": {"appointment_type_id": "{type}", "clinician_id": "{clinician}",
                                            "start": "2027-01-15T15:00:00Z"},
    "/api/v1/staff/sites": {"name": "Annex", "timezone": "Europe/London"},
    "/api/v1/staff/sites/{site}": {"active": False},
    "/api/v1/staff/clinicians": {"first_name": "Bo", "last_name": "Lind", "site_ids": ["{site}"]},
    "/api/v1/staff/clinicians/{clinician}": {"active": False},
    "/api/v1/staff/clinicians/{clinician}/availability": {"rules": []},
    "/api/v1/staff/appointment-types": {"name": "Intake", "modality": "video", "duration_minutes": 30,
                                        "bookable_online": True},
    "/api/v1/staff/appointment-types/{type}": {"active": False},
    "/api/v1/staff/scheduling-settings": {"horizon_days": 7},
    "/api/v1/staff/appointment-requests/{request}/deny": {"reason": "No"},
    "/api/v1/staff/appointments/{appointment}/reschedule": {"start": "2027-01-15T16:00:00Z"},
    "/api/v1/staff/appointments/{appointment}/cancel": {},
    "/api/v1/staff/appointments/{appointment}/late-cancel": {},
}


def _filled(value, ids: dict):
    if isinstance(value, str):
        return value.format_map(ids)
    if isinstance(value, dict):
        return {k: _filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_filled(v, ids) for v in value]
    return value


def call(api, method: str, path: str, ids: dict):
    body = BODIES.get(path)
    if path == BOOKINGS and method == "POST":
        body = {"client_id": ids["client"], "clinician_id": ids["clinician"], "appointment_type_id": ids["type"],
                "start": "2027-01-15T15:00:00Z"}
    query = {"from": "2027-01-11", "to": "2027-01-15"} if path == BOOKINGS and method == "GET" else None
    if path in ("/api/v1/portal/availability", "/api/v1/staff/availability"):
        query = {"appointment_type_id": ids["type"]}
    return api.call(method, _filled(path, ids), json=_filled(body, ids), query_string=query)


@pytest.fixture
def route_ids(office, sclient, sstaff):
    """Real objects for every path: a refusal must come before any of them is read or changed."""
    o = office()
    client_id, client = sclient()
    requested = client.post("/api/v1/portal/appointment-requests", json={
        "appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"], "start": "2027-01-14T15:00:00Z"})
    assert requested.status_code == 201, requested.get_json()
    return {"type": o.kind["id"], "clinician": o.clinician["id"], "site": o.site["id"], "client": client_id,
            "appointment": book(sstaff, o, client_id, "2027-01-13T15:00:00Z"), "request": requested.get_json()["id"],
            "client_api": client}


@pytest.mark.parametrize("method, path", STAFF_ROUTES, ids=[f"{m} {p}" for m, p in STAFF_ROUTES])
def test_a_staff_route_refuses_a_client_token(route_ids, unchanged, method, path):
    before = unchanged()
    body = assert_problem(call(route_ids["client_api"], method, path, route_ids), 403)
    assert body["type"] == "/problems/forbidden" and body["detail"] == "Your role may not use this endpoint."
    before.assert_unchanged()


@pytest.mark.parametrize("method, path", PORTAL_ROUTES, ids=[f"{m} {p}" for m, p in PORTAL_ROUTES])
def test_a_portal_route_refuses_a_staff_token(route_ids, sstaff, unchanged, method, path):
    before = unchanged()
    body = assert_problem(call(sstaff, method, path, route_ids), 403)
    assert body["type"] == "/problems/forbidden" and body["detail"] == "Your role may not use this endpoint."
    before.assert_unchanged()


@pytest.mark.parametrize("method, path", PORTAL_ROUTES + STAFF_ROUTES,
                         ids=[f"{m} {p}" for m, p in PORTAL_ROUTES + STAFF_ROUTES])
def test_every_route_but_the_feed_needs_a_token(route_ids, sstaff, unchanged, method, path):
    before = unchanged()
    body = assert_problem(call(sstaff.as_(None), method, path, route_ids), 401)
    assert body["type"] == "/problems/unauthorized"
    before.assert_unchanged()


def test_the_role_lists_are_every_portal_and_staff_route():
    """A route added to a blueprint and not to the lists above fails here, so none goes unchecked."""
    app = Flask(__name__)
    for bp in (portal.bp, staff.bp, feeds.bp):
        app.register_blueprint(bp)
    routes = {(method, re.sub(r"<[^>]+>", "{}", rule.rule)) for rule in app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}
              if rule.rule.startswith(("/api/v1/portal/", "/api/v1/staff/"))}
    listed = {(method, re.sub(r"{[^}]+}", "{}", path)) for method, path in PORTAL_ROUTES + STAFF_ROUTES}
    assert listed == routes
    assert len(listed) == len(PORTAL_ROUTES + STAFF_ROUTES) == 42
