"""Scheduling's refusals through its API: for every portal and staff endpoint, bad input answers a clear
application/problem+json (status, title, detail, `errors` naming the field) and writes nothing at all (every row of
scheduling's tables compared before and after, so a status change refused in place would show too)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.integration.conftest import assert_problem
from tests.integration.identity_fake import fake_identity
from tests.integration.scheduling_fixtures import SCHEDULING_TABLES
from tests.support.snapshot import TableSnapshot

pytestmark = pytest.mark.integration

# DEFAULT_NOW is Monday 2027-01-04 12:00 UTC; the office works Mon-Fri 09:00-17:00 New York (EST, UTC-5).
TUESDAY_10 = "2027-01-12T15:00:00Z"
TUESDAY_10_OUT = "2027-01-12T15:00:00+00:00"
SEE_ERRORS = "One or more fields are missing or invalid; see errors."
REQUESTS = "/api/v1/portal/appointment-requests"
BOOKINGS = "/api/v1/staff/appointments"
NOT_OFFERED = "This is not one of the times offered; choose a time from the list."
NOT_OFFERING = "No active clinician with this id offers this appointment type."
GAP = "2:30 AM on 14 March 2027 does not exist in America/New_York (the clocks go forward)"
ONE_START = "Give either start (a UTC time) or start_local (the site's wall clock)."
NO_OFFSET = "Give the time with its offset (…Z for UTC), or use start_local with the site's wall clock."
DROP = object()  # a request field left out


@pytest.fixture
def unchanged(scheduling_engine):
    """Every row of scheduling's tables, digested: what a refused call must leave exactly as it was."""
    return lambda: TableSnapshot(scheduling_engine, SCHEDULING_TABLES, contents=SCHEDULING_TABLES)


def refused(response, status: int, slug: str, *, field: str | None = None, message: str | None = None,
            detail: str | None = None) -> dict:
    """The problem answer: its status, its type, its detail, and (for a field to fix) the field's messages. A
    nested field is written with slashes (rules/0/weekday), as marshmallow nests it."""
    body = assert_problem(response, status)
    assert body["type"] == f"/problems/{slug}", body
    if detail is not None:
        assert body["detail"] == detail, body
    if field is not None:
        errors = body.get("errors", {})
        if field in errors:
            found = errors[field]
        else:
            found = errors
            for part in field.split("/"):
                assert part in found, body
                found = found[part]
        if message is not None:
            assert found == [message], body
    return body


def request_body(**changes) -> dict:
    body = {"appointment_type_id": "{type}", "clinician_id": "{clinician}", "start": TUESDAY_10}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not DROP}


def booking_body(**changes) -> dict:
    return request_body(**{"client_id": "{client}", **changes})


def filled(value, ids: dict):
    """`value` with {type}, {clinician}, {site}, {client}, {appointment}, {request} put in, at any depth."""
    if isinstance(value, str):
        return value.format_map(ids) if "{" in value else value
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    return value


@pytest.fixture
def desk(office, sclient, sstaff):
    """An office, a client of it, one booked appointment and one open request of theirs; answers the ids and the
    two callers."""
    o = office()
    client_id, client = sclient()
    booked = sstaff.post(BOOKINGS, json={"client_id": client_id, "clinician_id": o.clinician["id"],
                                         "appointment_type_id": o.kind["id"], "start": "2027-01-13T15:00:00Z"})
    assert booked.status_code == 201, booked.get_json()
    requested = client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                            "start": "2027-01-14T15:00:00Z"})
    assert requested.status_code == 201, requested.get_json()
    ids = {"type": o.kind["id"], "clinician": o.clinician["id"], "site": o.site["id"], "client": client_id,
           "appointment": booked.get_json()["id"], "request": requested.get_json()["id"]}
    return {"ids": ids, "client": client, "staff": sstaff, "office": o}


# (case id, caller, method, path, query or body, status, problem type, field, message, detail)
# detail None: a schema's refusal (SEE_ERRORS); otherwise the use case's own sentence.
P = "/api/v1/portal"
S = "/api/v1/staff"
V = "validation-error"
CASES = [
    # --- portal: Book an Appointment ---
    ("availability-without-type", "client", "GET", f"{P}/availability", {}, 422, V, "appointment_type_id",
     "Missing data for required field.", None),
    ("availability-unknown-parameter", "client", "GET", f"{P}/availability",
     {"appointment_type_id": "{type}", "clinic": "north"}, 422, V, "clinic", "Unknown field.", None),
    ("availability-from-without-offset", "client", "GET", f"{P}/availability",
     {"appointment_type_id": "{type}", "from": "2027-01-11T10:00"}, 422, V, "from",
     "Give a date (2026-12-10) or a time with its offset (2026-12-10T15:00:00Z).", None),
    ("availability-from-not-a-date", "client", "GET", f"{P}/availability",
     {"appointment_type_id": "{type}", "from": "2027-13-45"}, 422, V, "from",
     "Give a date (2026-12-10) or a time with its offset (2026-12-10T15:00:00Z).", None),
    ("availability-unknown-type", "client", "GET", f"{P}/availability", {"appointment_type_id": str(uuid.uuid4())},
     422, V, "appointment_type_id", "No active appointment type with this id is bookable online.", "same"),
    ("availability-type-id-too-long", "client", "GET", f"{P}/availability", {"appointment_type_id": "x" * 37},
     422, V, "appointment_type_id", "Length must be between 1 and 36.", None),
    ("availability-unknown-clinician", "client", "GET", f"{P}/availability",
     {"appointment_type_id": "{type}", "clinician_id": str(uuid.uuid4())}, 422, V, "clinician_id", NOT_OFFERING,
     "same"),
    ("request-start-without-offset", "client", "POST", REQUESTS, request_body(start="2027-01-12T10:00:00"),
     422, V, "start", NO_OFFSET, None),
    ("request-start-not-a-time", "client", "POST", REQUESTS, request_body(start="tomorrow"), 422, V, "start",
     "Not a valid datetime.", None),
    ("request-start-and-start-local", "client", "POST", REQUESTS, request_body(start_local="2027-01-12T10:00"),
     422, V, "start", ONE_START, None),
    ("request-no-start", "client", "POST", REQUESTS, request_body(start=DROP), 422, V, "start", ONE_START, None),
    ("request-start-local-with-offset", "client", "POST", REQUESTS,
     request_body(start=DROP, start_local="2027-01-12T10:00:00Z"), 422, V, "start_local",
     "Not a valid naive datetime.", None),
    ("request-note-1001", "client", "POST", REQUESTS, request_body(note="n" * 1001), 422, V, "note",
     "Longer than maximum length 1000.", None),
    ("request-unknown-field", "client", "POST", REQUESTS, request_body(priority="high"), 422, V, "priority",
     "Unknown field.", None),
    ("request-type-a-number", "client", "POST", REQUESTS, request_body(appointment_type_id=5), 422, V,
     "appointment_type_id", "Not a valid string.", None),
    ("request-without-clinician", "client", "POST", REQUESTS, request_body(clinician_id=DROP), 422, V,
     "clinician_id", "Missing data for required field.", None),
    ("request-unknown-type", "client", "POST", REQUESTS, request_body(appointment_type_id=str(uuid.uuid4())), 422,
     V, "appointment_type_id", "No active appointment type with this id is bookable online.", "same"),
    ("request-unknown-clinician", "client", "POST", REQUESTS, request_body(clinician_id=str(uuid.uuid4())), 422, V,
     "clinician_id", NOT_OFFERING, "same"),
    ("request-off-the-slot-grid", "client", "POST", REQUESTS, request_body(start="2027-01-12T15:30:00Z"), 422, V,
     "start", NOT_OFFERED, "same"),
    ("request-outside-the-hours", "client", "POST", REQUESTS, request_body(start="2027-01-12T03:00:00Z"), 422, V,
     "start", NOT_OFFERED, "same"),
    ("request-on-a-saturday", "client", "POST", REQUESTS, request_body(start="2027-01-09T15:00:00Z"), 422, V,
     "start", NOT_OFFERED, "same"),
    ("request-in-the-past", "client", "POST", REQUESTS, request_body(start="2027-01-01T15:00:00Z"), 422, V,
     "start", "That time has already passed.", "same"),
    ("request-inside-the-notice", "client", "POST", REQUESTS, request_body(start="2027-01-04T15:00:00Z"), 422, V,
     "start", "Appointments must be requested at least 24 hours ahead.", "same"),
    ("request-past-the-horizon", "client", "POST", REQUESTS, request_body(start="2027-03-08T15:00:00Z"), 422, V,
     "start", "Appointments can be requested up to 60 days ahead.", "same"),
    ("request-in-the-spring-gap", "client", "POST", REQUESTS,
     request_body(start=DROP, start_local="2027-03-14T02:30"), 422, V, "start_local", GAP, "same"),
    ("request-body-not-an-object", "client", "POST", REQUESTS, [TUESDAY_10], 400, "bad-request", None, None,
     "The body must be a JSON object."),
    # --- portal: lists ---
    ("upcoming-other-scope", "client", "GET", f"{P}/appointments", {"scope": "past"}, 422, V, "scope",
     "Must be one of: upcoming.", None),
    ("upcoming-unknown-parameter", "client", "GET", f"{P}/appointments", {"page": "2"}, 422, V, "page",
     "Unknown field.", None),
    ("history-format-pdf", "client", "GET", f"{P}/appointments/history", {"format": "pdf"}, 422, V, "format",
     "Must be one of: json, csv, xlsx.", None),
    ("history-format-upper-case", "client", "GET", f"{P}/appointments/history", {"format": "CSV"}, 422, V,
     "format", "Must be one of: json, csv, xlsx.", None),
    ("history-limit-a-word", "client", "GET", f"{P}/appointments/history", {"limit": "ten"}, 422, V, "limit",
     "Not a valid integer.", None),
    ("history-limit-zero", "client", "GET", f"{P}/appointments/history", {"limit": "0"}, 422, V, "limit",
     "Must be greater than or equal to 1 and less than or equal to 200.", None),
    ("history-cursor-made-up", "client", "GET", f"{P}/appointments/history", {"cursor": "garbage"}, 422, V,
     "cursor", "Not a cursor this list gave out.", None),
    ("history-from-a-word", "client", "GET", f"{P}/appointments/history", {"from": "yesterday"}, 422, V, "from",
     "Not a valid date.", None),
    ("history-to-before-from", "client", "GET", f"{P}/appointments/history", {"from": "2027-01-05",
                                                                              "to": "2027-01-01"}, 422, V, "to",
     "The end of the range precedes its start.", None),
    ("history-unknown-parameter", "client", "GET", f"{P}/appointments/history", {"sort": "asc"}, 422, V, "sort",
     "Unknown field.", None),
    ("history-clinician-id-too-long", "client", "GET", f"{P}/appointments/history", {"clinician_id": "c" * 37},
     422, V, "clinician_id", "Length must be between 1 and 36.", None),
    ("appointment-unknown", "client", "GET", f"{P}/appointments/{uuid.uuid4()}", None, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("ics-unknown", "client", "GET", f"{P}/appointments/{uuid.uuid4()}/ics", None, 404, "appointment-not-found",
     None, None, "No appointment with this id."),
    ("confirm-unknown", "client", "POST", f"{P}/appointments/{uuid.uuid4()}/confirm", None, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("cancel-unknown", "client", "POST", f"{P}/appointments/{uuid.uuid4()}/cancel", None, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("feed-token-too-short", None, "GET", "/api/v1/calendar/short.ics", None, 404, "not-found", None, None, None),
    ("feed-token-wrong", None, "GET", "/api/v1/calendar/" + "A" * 43 + ".ics", None, 404, "calendar-feed-not-found",
     None, None, "This calendar link is not valid (it may have been replaced or revoked)."),
    # --- staff: sites ---
    ("site-without-name", "staff", "POST", f"{S}/sites", {"timezone": "Europe/London"}, 422, V, "name",
     "Missing data for required field.", None),
    ("site-zone-that-does-not-exist", "staff", "POST", f"{S}/sites", {"name": "Mars", "timezone": "Mars/Olympus"},
     422, V, "timezone", "Not a time zone name (for example America/New_York).", None),
    ("site-zone-an-offset", "staff", "POST", f"{S}/sites", {"name": "Offset", "timezone": "UTC-05:00"}, 422, V,
     "timezone", "Not a time zone name (for example America/New_York).", None),
    ("site-zone-a-number", "staff", "POST", f"{S}/sites", {"name": "Number", "timezone": 5}, 422, V, "timezone",
     "Not a valid string.", None),
    ("site-address-unknown-line", "staff", "POST", f"{S}/sites",
     {"name": "Moon", "timezone": "Europe/London", "address": {"planet": "Moon"}}, 422, V, "address/planet",
     "Unknown field.", None),
    ("sites-include-inactive-maybe", "staff", "GET", f"{S}/sites", {"include_inactive": "maybe"}, 422, V,
     "include_inactive", "Not a valid boolean.", None),
    ("sites-unknown-parameter", "staff", "GET", f"{S}/sites", {"city": "Leeds"}, 422, V, "city", "Unknown field.",
     None),
    ("site-active-yes", "staff", "PATCH", f"{S}/sites/{{site}}", {"active": "yes"}, 422, V, "active",
     "Not a valid boolean.", None),
    ("site-patch-zone-that-does-not-exist", "staff", "PATCH", f"{S}/sites/{{site}}",
     {"timezone": "America/Springfield"}, 422, V, "timezone", "Not a time zone name (for example America/New_York).",
     None),
    ("site-unknown", "staff", "PATCH", f"{S}/sites/{uuid.uuid4()}", {"active": False}, 404, "not-found", None,
     None, "No site with this id."),
    ("site-get-unknown", "staff", "GET", f"{S}/sites/{uuid.uuid4()}", {}, 404, "not-found", None, None,
     "No site with this id."),
    ("clinician-get-unknown", "staff", "GET", f"{S}/clinicians/{uuid.uuid4()}", {}, 404, "not-found", None, None,
     "No clinician with this id."),
    ("type-get-unknown", "staff", "GET", f"{S}/appointment-types/{uuid.uuid4()}", {}, 404, "not-found", None, None,
     "No appointment type with this id."),
    ("site-get-with-a-query", "staff", "GET", f"{S}/sites/{{site}}", {"full": "yes"}, 422, V, "full",
     "Unknown field.", None),
    # --- staff: clinicians ---
    ("clinician-no-sites", "staff", "POST", f"{S}/clinicians", {"first_name": "Ana", "last_name": "Ruiz",
                                                                 "site_ids": []}, 422, V, "site_ids",
     "Length must be between 1 and 50.", None),
    ("clinician-unknown-site", "staff", "POST", f"{S}/clinicians",
     {"first_name": "Ana", "last_name": "Ruiz", "site_ids": ["no-such-site"]}, 422, V, "site_ids",
     "No active site with id no-such-site.", "same"),
    ("clinician-empty-name", "staff", "POST", f"{S}/clinicians", {"first_name": "", "last_name": "Ruiz",
                                                                   "site_ids": ["{site}"]}, 422, V, "first_name",
     "Length must be between 1 and 100.", None),
    ("clinicians-include-inactive-maybe", "staff", "GET", f"{S}/clinicians", {"include_inactive": "maybe"}, 422, V,
     "include_inactive", "Not a valid boolean.", None),
    ("clinician-active-no", "staff", "PATCH", f"{S}/clinicians/{{clinician}}", {"active": "no"}, 422, V, "active",
     "Not a valid boolean.", None),
    ("clinician-unknown", "staff", "PATCH", f"{S}/clinicians/{uuid.uuid4()}", {"active": False}, 404, "not-found",
     None, None, "No clinician with this id."),
    # --- staff: availability ---
    ("availability-of-unknown-clinician", "staff", "GET", f"{S}/clinicians/{uuid.uuid4()}/availability", None,
     404, "not-found", None, None, "No clinician with this id."),
    ("set-availability-of-unknown-clinician", "staff", "PUT", f"{S}/clinicians/{uuid.uuid4()}/availability",
     {"rules": []}, 404, "not-found", None, None, "No clinician with this id."),
    ("availability-without-rules", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability", {}, 422, V,
     "rules", "Missing data for required field.", None),
    ("rule-ends-before-it-starts", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [{"weekday": 0, "start": "10:00", "end": "09:00", "site_id": "{site}"}]}, 422, V, "rules.0.end",
     "The end must be after the start.", "same"),
    ("rule-ends-when-it-starts", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [{"weekday": 0, "start": "09:00", "end": "17:00", "site_id": "{site}"},
                {"weekday": 1, "start": "10:00", "end": "10:00", "site_id": "{site}"}]}, 422, V, "rules.1.end",
     "The end must be after the start.", "same"),
    ("rule-weekday-seven", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [{"weekday": 7, "start": "09:00", "end": "10:00", "site_id": "{site}"}]}, 422, V, "rules/0/weekday",
     "Must be greater than or equal to 0 and less than or equal to 6.", None),
    ("rule-weekday-a-string", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [{"weekday": "1", "start": "09:00", "end": "10:00", "site_id": "{site}"}]}, 422, V,
     "rules/0/weekday", "Not a valid integer.", None),
    ("rule-start-9am", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [{"weekday": 1, "start": "9am", "end": "10:00", "site_id": "{site}"}]}, 422, V, "rules/0/start",
     "Not a valid time.", None),
    ("rule-at-another-site", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [{"weekday": 1, "start": "09:00", "end": "10:00", "site_id": str(uuid.uuid4())}]}, 422, V,
     "rules.0.site_id", "The clinician does not work at this site.", "same"),
    ("exception-ends-before-it-starts", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-01-12", "available": False, "start": "10:00", "end": "09:00"}]},
     422, V, "exceptions.0.end", "The end must be after the start.", "same"),
    ("exception-only-a-start", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-01-12", "available": False, "start": "10:00"}]}, 422, V,
     "exceptions.0.end", "Give both a start and an end, or neither (the whole day).", "same"),
    ("exception-only-an-end", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-01-12", "available": False, "end": "10:00"}]}, 422, V,
     "exceptions.0.start", "Give both a start and an end, or neither (the whole day).", "same"),
    ("extra-hours-only-a-start", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-01-16", "available": True, "start": "10:00"}]}, 422, V,
     "exceptions.0.end", "Give both a start and an end, or neither (the whole day).", "same"),
    ("extra-hours-without-hours", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-01-16", "available": True}]}, 422, V, "exceptions.0.start",
     "Extra hours need a start and an end.", "same"),
    ("exception-at-another-site", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-01-12", "available": False, "site_id": str(uuid.uuid4())}]}, 422,
     V, "exceptions.0.site_id", "The clinician does not work at this site.", "same"),
    ("exception-february-30", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-02-30", "available": False}]}, 422, V, "exceptions/0/date",
     "Not a valid date.", None),
    ("exception-available-yes", "staff", "PUT", f"{S}/clinicians/{{clinician}}/availability",
     {"rules": [], "exceptions": [{"date": "2027-01-12", "available": "yes"}]}, 422, V, "exceptions/0/available",
     "Not a valid boolean.", None),
    # --- staff: appointment types ---
    ("type-duration-a-string", "staff", "POST", f"{S}/appointment-types",
     {"name": "Intake", "modality": "video", "duration_minutes": "60", "bookable_online": True}, 422, V,
     "duration_minutes", "Not a valid integer.", None),
    ("type-duration-three-minutes", "staff", "POST", f"{S}/appointment-types",
     {"name": "Intake", "modality": "video", "duration_minutes": 3, "bookable_online": True}, 422, V,
     "duration_minutes", "Must be greater than or equal to 5 and less than or equal to 480.", None),
    ("type-bookable-online-yes", "staff", "POST", f"{S}/appointment-types",
     {"name": "Intake", "modality": "video", "duration_minutes": 60, "bookable_online": "yes"}, 422, V,
     "bookable_online", "Not a valid boolean.", None),
    ("type-modality-unknown", "staff", "POST", f"{S}/appointment-types",
     {"name": "Intake", "modality": "pigeon", "duration_minutes": 60, "bookable_online": True}, 422, V, "modality",
     "Must be one of: in_person, phone, video.", None),
    ("type-unknown-clinician", "staff", "POST", f"{S}/appointment-types",
     {"name": "Intake", "modality": "video", "duration_minutes": 60, "bookable_online": True,
      "clinician_ids": ["nobody"]}, 422, V, "clinician_ids", "No active clinician with id nobody.", "same"),
    ("types-include-inactive-maybe", "staff", "GET", f"{S}/appointment-types", {"include_inactive": "maybe"}, 422,
     V, "include_inactive", "Not a valid boolean.", None),
    ("type-buffer-a-string", "staff", "PATCH", f"{S}/appointment-types/{{type}}", {"buffer_after_minutes": "10"},
     422, V, "buffer_after_minutes", "Not a valid integer.", None),
    # --- staff: free times for a booking ---
    ("staff-availability-without-type", "staff", "GET", f"{S}/availability", {}, 422, V, "appointment_type_id",
     "Missing data for required field.", None),
    ("staff-availability-unknown-type", "staff", "GET", f"{S}/availability",
     {"appointment_type_id": str(uuid.uuid4())}, 422, V, "appointment_type_id",
     "No active appointment type with this id.", "same"),
    ("staff-availability-clinician-not-offering", "staff", "GET", f"{S}/availability",
     {"appointment_type_id": "{type}", "clinician_id": str(uuid.uuid4())}, 422, V, "clinician_id", NOT_OFFERING,
     "same"),
    ("staff-availability-to-without-offset", "staff", "GET", f"{S}/availability",
     {"appointment_type_id": "{type}", "to": "2027-01-11T17:00:00"}, 422, V, "to",
     "Give a date (2026-12-10) or a time with its offset (2026-12-10T15:00:00Z).", None),
    ("staff-availability-unknown-parameter", "staff", "GET", f"{S}/availability",
     {"appointment_type_id": "{type}", "site_id": "{site}"}, 422, V, "site_id", "Unknown field.", None),
    ("type-unknown", "staff", "PATCH", f"{S}/appointment-types/{uuid.uuid4()}", {"active": False}, 404,
     "not-found", None, None, "No appointment type with this id."),
    # --- staff: scheduling settings ---
    ("settings-horizon-a-string", "staff", "PATCH", f"{S}/scheduling-settings", {"horizon_days": "400"}, 422, V,
     "horizon_days", "Not a valid integer.", None),
    ("settings-horizon-zero", "staff", "PATCH", f"{S}/scheduling-settings", {"horizon_days": 0}, 422, V,
     "horizon_days", "Must be greater than or equal to 1 and less than or equal to 730.", None),
    ("settings-fee-yes", "staff", "PATCH", f"{S}/scheduling-settings", {"late_cancel_fee": "yes"}, 422, V,
     "late_cancel_fee", "Not a valid boolean.", None),
    ("settings-window-12-hours", "staff", "PATCH", f"{S}/scheduling-settings", {"cancellation_window_hours": 12},
     422, V, "cancellation_window_hours", "Must be one of: 0, 24, 48, 72.", None),
    ("settings-approval-unknown", "staff", "PATCH", f"{S}/scheduling-settings", {"approval": "auto"}, 422, V,
     "approval", "Must be one of: staff, automatic.", None),
    ("settings-lead-a-string", "staff", "PATCH", f"{S}/scheduling-settings", {"reminder_lead_hours": ["24"]}, 422,
     V, "reminder_lead_hours/0", "Not a valid integer.", None),
    ("settings-unknown-field", "staff", "PATCH", f"{S}/scheduling-settings", {"self_scheduling_enabled": False},
     422, V, "self_scheduling_enabled", "Unknown field.", None),
    # --- staff: requests ---
    ("requests-status-open", "staff", "GET", f"{S}/appointment-requests", {"status": "open"}, 422, V, "status",
     "Must be one of: pending, denied, all.", None),
    ("requests-unknown-parameter", "staff", "GET", f"{S}/appointment-requests", {"clinician_id": "{clinician}"},
     422, V, "clinician_id", "Unknown field.", None),
    ("approve-unknown", "staff", "POST", f"{S}/appointment-requests/{uuid.uuid4()}/approve", None, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("deny-without-reason", "staff", "POST", f"{S}/appointment-requests/{{request}}/deny", {}, 422, V, "reason",
     "Missing data for required field.", None),
    ("deny-empty-reason", "staff", "POST", f"{S}/appointment-requests/{{request}}/deny", {"reason": ""}, 422, V,
     "reason", "Length must be between 1 and 500.", None),
    ("deny-unknown", "staff", "POST", f"{S}/appointment-requests/{uuid.uuid4()}/deny", {"reason": "Full"}, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    # --- staff: the calendar ---
    ("calendar-without-range", "staff", "GET", BOOKINGS, {}, 422, V, "from",
     "Give from and to (a day or a week of the calendar).", None),
    ("calendar-without-to", "staff", "GET", BOOKINGS, {"from": "2027-01-11"}, 422, V, "from",
     "Give from and to (a day or a week of the calendar).", None),
    ("calendar-without-from", "staff", "GET", BOOKINGS, {"to": "2027-01-11"}, 422, V, "from",
     "Give from and to (a day or a week of the calendar).", None),
    ("calendar-63-days", "staff", "GET", BOOKINGS, {"from": "2027-01-01", "to": "2027-03-05"}, 422, V, "to",
     "At most 62 days at once.", None),
    ("calendar-to-before-from", "staff", "GET", BOOKINGS, {"from": "2027-01-05", "to": "2027-01-01"}, 422, V, "to",
     "The end of the range precedes its start.", None),
    ("calendar-unknown-status", "staff", "GET", BOOKINGS, {"from": "2027-01-11", "to": "2027-01-15",
                                                           "status": "lost"}, 422, V, "status", None, None),
    ("calendar-unknown-parameter", "staff", "GET", BOOKINGS, {"from": "2027-01-11", "to": "2027-01-15",
                                                              "view": "week"}, 422, V, "view", "Unknown field.",
     None),
    # --- staff: bookings ---
    ("booking-unknown-client", "staff", "POST", BOOKINGS, booking_body(client_id=str(uuid.uuid4())), 422, V,
     "client_id", "No client with this id.", "same"),
    ("booking-unknown-type", "staff", "POST", BOOKINGS, booking_body(appointment_type_id=str(uuid.uuid4())), 422,
     V, "appointment_type_id", "No active appointment type with this id.", "same"),
    ("booking-unknown-clinician", "staff", "POST", BOOKINGS, booking_body(clinician_id=str(uuid.uuid4())), 422, V,
     "clinician_id", NOT_OFFERING, "same"),
    ("booking-unknown-site", "staff", "POST", BOOKINGS, booking_body(site_id=str(uuid.uuid4())), 422, V, "site_id",
     "The clinician does not work at this site.", "same"),
    ("booking-start-without-offset", "staff", "POST", BOOKINGS, booking_body(start="2027-01-12T10:00:00"), 422, V,
     "start", NO_OFFSET, None),
    ("booking-in-the-past", "staff", "POST", BOOKINGS, booking_body(start="2027-01-04T11:00:00Z"), 422, V, "start",
     "That time has already passed.", "same"),
    ("booking-in-the-spring-gap", "staff", "POST", BOOKINGS,
     booking_body(start=DROP, start_local="2027-03-14T02:30"), 422, V, "start_local", GAP, "same"),
    ("booking-note-1001", "staff", "POST", BOOKINGS, booking_body(note="n" * 1001), 422, V, "note",
     "Longer than maximum length 1000.", None),
    ("booking-without-client", "staff", "POST", BOOKINGS, request_body(), 422, V, "client_id",
     "Missing data for required field.", None),
    ("booking-taken", "staff", "POST", BOOKINGS, booking_body(start="2027-01-13T15:30:00Z"), 409, "slot-taken",
     None, None, "The clinician has another appointment at that time."),
    ("staff-appointment-unknown", "staff", "GET", f"{BOOKINGS}/{uuid.uuid4()}", None, 404, "appointment-not-found",
     None, None, "No appointment with this id."),
    ("reschedule-unknown", "staff", "POST", f"{BOOKINGS}/{uuid.uuid4()}/reschedule", {"start": TUESDAY_10}, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("reschedule-without-start", "staff", "POST", f"{BOOKINGS}/{{appointment}}/reschedule", {}, 422, V, "start",
     ONE_START, None),
    ("reschedule-start-without-offset", "staff", "POST", f"{BOOKINGS}/{{appointment}}/reschedule",
     {"start": "2027-01-12T10:00"}, 422, V, "start", NO_OFFSET, None),
    ("reschedule-into-the-past", "staff", "POST", f"{BOOKINGS}/{{appointment}}/reschedule",
     {"start": "2027-01-04T11:00:00Z"}, 422, V, "start", "That time has already passed.", "same"),
    ("reschedule-into-the-spring-gap", "staff", "POST", f"{BOOKINGS}/{{appointment}}/reschedule",
     {"start_local": "2027-03-14T02:30"}, 422, V, "start_local", GAP, "same"),
    ("reschedule-to-another-site", "staff", "POST", f"{BOOKINGS}/{{appointment}}/reschedule",
     {"start": TUESDAY_10, "site_id": str(uuid.uuid4())}, 422, V, "site_id",
     "The clinician does not work at this site.", "same"),
    ("cancel-reason-501", "staff", "POST", f"{BOOKINGS}/{{appointment}}/cancel", {"reason": "r" * 501}, 422, V,
     "reason", "Longer than maximum length 500.", None),
    ("late-cancel-reason-a-number", "staff", "POST", f"{BOOKINGS}/{{appointment}}/late-cancel", {"reason": 7}, 422,
     V, "reason", "Not a valid string.", None),
    ("cancel-unknown-field", "staff", "POST", f"{BOOKINGS}/{{appointment}}/cancel", {"fee": True}, 422, V, "fee",
     "Unknown field.", None),
    ("staff-cancel-unknown", "staff", "POST", f"{BOOKINGS}/{uuid.uuid4()}/cancel", {}, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("late-cancel-unknown", "staff", "POST", f"{BOOKINGS}/{uuid.uuid4()}/late-cancel", {}, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("complete-unknown", "staff", "POST", f"{BOOKINGS}/{uuid.uuid4()}/complete", None, 404,
     "appointment-not-found", None, None, "No appointment with this id."),
    ("no-show-unknown", "staff", "POST", f"{BOOKINGS}/{uuid.uuid4()}/no-show", None, 404, "appointment-not-found",
     None, None, "No appointment with this id."),
    ("booking-body-not-json", "staff", "POST", BOOKINGS, "text", 415, "unsupported-media-type", None, None,
     "Send the body as application/json."),
]


@pytest.mark.parametrize("caller, method, path, payload, status, slug, field, message, detail",
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input_is_a_clear_problem_and_writes_nothing(desk, unchanged, scheduling_app, caller, method, path,
                                                         payload, status, slug, field, message, detail):
    ids = desk["ids"]
    api = desk[caller] if caller else None
    url = filled(path, ids)
    before = unchanged()
    if api is None:
        response = scheduling_app.test_client().open(url, method=method)
    elif payload == "text":
        response = api.call(method, url, data="text", headers={"Content-Type": "text/plain"})
    elif method == "GET":
        response = api.get(url, query_string=filled(payload or {}, ids))
    else:
        response = api.call(method, url, json=filled(payload, ids))
    expected_detail = message if detail == "same" else (detail or (SEE_ERRORS if field else None))
    refused(response, status, slug, field=field, message=message, detail=expected_detail)
    before.assert_unchanged()


def test_a_calendar_of_exactly_62_days_is_answered(desk):
    response = desk["staff"].get(BOOKINGS, query_string={"from": "2027-01-01", "to": "2027-03-04",
                                                           "clinician_id": desk["ids"]["clinician"]})
    assert response.status_code == 200, response.get_json()
    assert [a["id"] for a in response.get_json()["items"]] == [desk["ids"]["appointment"], desk["ids"]["request"]]


# --- unknown, retired and unfitting set-up --------------------------------------------------------------------

def retire(sstaff, what: str, object_id: str) -> None:
    path = {"type": "appointment-types", "clinician": "clinicians", "site": "sites"}[what]
    response = sstaff.patch(f"/api/v1/staff/{path}/{object_id}", json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False, response.get_json()


@pytest.mark.parametrize("retired, portal_message, staff_message", [
    ("type", "No active appointment type with this id is bookable online.",
     "No active appointment type with this id."),
    ("clinician", NOT_OFFERING, NOT_OFFERING),
], ids=["type", "clinician"])
def test_a_retired_type_or_clinician_is_refused_on_every_path(office, sclient, sstaff, unchanged, retired,
                                                             portal_message, staff_message):
    o = office()
    client_id, client = sclient()
    retire(sstaff, retired, (o.kind if retired == "type" else o.clinician)["id"])
    field = "appointment_type_id" if retired == "type" else "clinician_id"
    before = unchanged()
    body = {"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"], "start": TUESDAY_10}
    refused(client.get("/api/v1/portal/availability", query_string={
        "appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"]}), 422, V, field=field,
        message=portal_message, detail=portal_message)
    refused(client.post(REQUESTS, json=body), 422, V, field=field, message=portal_message, detail=portal_message)
    refused(sstaff.post(BOOKINGS, json={**body, "client_id": client_id}), 422, V, field=field,
            message=staff_message, detail=staff_message)
    before.assert_unchanged()


def test_a_retired_site_offers_nothing_and_cannot_be_booked(office, sclient, sstaff, unchanged):
    o = office()
    client_id, client = sclient()
    retire(sstaff, "site", o.site["id"])
    before = unchanged()
    offered = client.get("/api/v1/portal/availability", query_string={
        "appointment_type_id": o.kind["id"], "from": "2027-01-11", "to": "2027-01-15"})
    assert offered.status_code == 200 and offered.get_json()["items"] == []
    refused(client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                        "start": TUESDAY_10}), 422, V, field="start", message=NOT_OFFERED)
    message = "The clinician does not work at this site."
    refused(sstaff.post(BOOKINGS, json={"client_id": client_id, "appointment_type_id": o.kind["id"],
                                        "clinician_id": o.clinician["id"], "site_id": o.site["id"],
                                        "start": TUESDAY_10}), 422, V, field="site_id", message=message,
            detail=message)
    refused(sstaff.post("/api/v1/staff/clinicians", json={"first_name": "Bo", "last_name": "Lind",
                                                          "site_ids": [o.site["id"]]}), 422, V, field="site_ids",
            message=f"No active site with id {o.site['id']}.")
    before.assert_unchanged()


@pytest.mark.parametrize("which", ["unknown", "retired", "not-the-clinicians"])
def test_a_request_at_a_site_that_does_not_fit_names_site_id(office, sclient, sstaff, unchanged, which):
    o = office()
    other = office()
    _, client = sclient()
    site_id = {"unknown": str(uuid.uuid4()), "retired": o.site["id"], "not-the-clinicians": other.site["id"]}[which]
    if which == "retired":
        retire(sstaff, "site", site_id)
    before = unchanged()
    refused(client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                        "start": TUESDAY_10, "site_id": site_id}), 422, V, field="site_id")
    before.assert_unchanged()


def test_a_clinician_who_does_not_offer_the_type_is_refused(office, sclient, sstaff, unchanged):
    o = office()
    other = office()  # a clinician of the practice, offering only their own type
    client_id, client = sclient()
    before = unchanged()
    body = {"appointment_type_id": o.kind["id"], "clinician_id": other.clinician["id"], "start": TUESDAY_10}
    refused(client.get("/api/v1/portal/availability", query_string={
        "appointment_type_id": o.kind["id"], "clinician_id": other.clinician["id"]}), 422, V, field="clinician_id",
        message=NOT_OFFERING, detail=NOT_OFFERING)
    refused(client.post(REQUESTS, json=body), 422, V, field="clinician_id", message=NOT_OFFERING,
            detail=NOT_OFFERING)
    refused(sstaff.post(BOOKINGS, json={**body, "client_id": client_id}), 422, V, field="clinician_id",
            message=NOT_OFFERING, detail=NOT_OFFERING)
    before.assert_unchanged()


def test_a_type_not_bookable_online_is_refused_to_clients(office, sclient, unchanged):
    o = office(bookable=False)
    _, client = sclient()
    message = "No active appointment type with this id is bookable online."
    before = unchanged()
    refused(client.get("/api/v1/portal/availability", query_string={"appointment_type_id": o.kind["id"]}), 422, V,
            field="appointment_type_id", message=message, detail=message)
    refused(client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                        "start": TUESDAY_10}), 422, V, field="appointment_type_id", message=message)
    before.assert_unchanged()


# --- requests the practice's rules refuse -----------------------------------------------------------------------

def test_the_fourth_open_request_is_too_many(office, sclient, unchanged, scheduling_practice):
    assert scheduling_practice.policy.get()["max_open_requests"] == 3
    o = office()
    _, client = sclient()
    for hour in (15, 16, 17):
        made = client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                           "start": f"2027-01-12T{hour}:00:00Z"})
        assert made.status_code == 201, made.get_json()
    before = unchanged()
    fourth = client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                         "start": "2027-01-12T18:00:00Z"})
    refused(fourth, 409, "too-many-open-requests", detail=(
        "You already have 3 open appointment requests, the most your practice allows; wait for an answer or cancel "
        "one first."))
    assert fourth.get_json()["title"] == "Too many open appointment requests"
    before.assert_unchanged()


@pytest.fixture
def self_scheduling_projection(sdeliver):
    """Flip self-scheduling in scheduling's own copy of the practice's settings; put back on after the test."""
    def switch(on: bool) -> None:
        sdeliver("practice.settings_changed", {"settings": {"self_scheduling_enabled": on}})

    yield switch
    switch(True)


OFF = "Your practice does not take appointment requests online; please contact the practice."


@pytest.mark.parametrize("how, status, slug, detail", [
    ("projection-off", 403, "self-scheduling-off", OFF),
    ("identity-says-off", 403, "self-scheduling-off", OFF),
    ("identity-down", 503, "settings-unavailable",
     "The practice's settings cannot be confirmed right now; try again in a moment."),
])
def test_a_request_when_self_scheduling_is_not_confirmed(office, sclient, unchanged, self_scheduling_projection,
                                                         how, status, slug, detail):
    o = office()
    _, client = sclient()
    identity = fake_identity()
    if how == "projection-off":
        self_scheduling_projection(False)
    elif how == "identity-says-off":
        identity.set(self_scheduling_enabled=False)
    else:
        identity.down = True
    before = unchanged()
    response = client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                           "start": TUESDAY_10})
    refused(response, status, slug, detail=detail)
    if status == 503:
        assert response.headers["Retry-After"] == "5"
    before.assert_unchanged()


def test_availability_when_the_projection_says_self_scheduling_is_off(office, sclient, self_scheduling_projection):
    o = office()
    _, client = sclient()
    self_scheduling_projection(False)
    refused(client.get("/api/v1/portal/availability", query_string={"appointment_type_id": o.kind["id"]}), 403,
            "self-scheduling-off", detail=OFF)


def test_another_clients_request_and_appointment_cannot_be_confirmed_or_cancelled(desk, sclient, unchanged):
    _, stranger = sclient()
    before = unchanged()
    for appointment_id in (desk["ids"]["appointment"], desk["ids"]["request"]):
        for method, tail in (("GET", ""), ("GET", "/ics"), ("POST", "/confirm"), ("POST", "/cancel")):
            refused(stranger.call(method, f"/api/v1/portal/appointments/{appointment_id}{tail}"), 404,
                    "appointment-not-found", detail="No appointment with this id.")
    before.assert_unchanged()
    assert desk["client"].get(f"/api/v1/portal/appointments/{desk['ids']['request']}").get_json()["status"] == \
        "requested"


# --- status changes from the wrong status -----------------------------------------------------------------------

START = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)
AFTER_START = datetime(2027, 1, 12, 16, 5, tzinfo=UTC)
INSIDE_WINDOW = datetime(2027, 1, 12, 3, 0, tzinfo=UTC)  # 12 hours before START: a cancel now is a late one


def appointment_in(status: str, o, client_id: str, client, sstaff, sclock) -> str:
    """An appointment (or request) of the client at START, brought to `status` the way people would."""
    base = {"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"], "start": TUESDAY_10}
    if status in ("requested", "denied"):
        made = client.post(REQUESTS, json=base)
    else:
        made = sstaff.post(BOOKINGS, json={**base, "client_id": client_id})
    assert made.status_code == 201, made.get_json()
    appointment_id = made.get_json()["id"]
    steps = {"denied": [("staff", "appointment-requests/{}/deny", {"reason": "That time went."})],
             "confirmed": [("client", "confirm", None)],
             "cancelled": [("staff", "appointments/{}/cancel", {})],
             "late_cancelled": [("window", None, None), ("staff", "appointments/{}/late-cancel", {})],
             "completed": [("clock", None, None), ("staff", "appointments/{}/complete", None)],
             "no_show": [("clock", None, None), ("staff", "appointments/{}/no-show", None)]}.get(status, [])
    for who, path, body in steps:
        if who in ("clock", "window"):
            sclock.at(AFTER_START if who == "clock" else INSIDE_WINDOW)
            continue
        if who == "client":
            done = client.post(f"/api/v1/portal/appointments/{appointment_id}/{path}")
        else:
            done = sstaff.post(f"/api/v1/staff/{path.format(appointment_id)}", json=body)
        assert done.status_code == 200, done.get_json()
    assert sstaff.get(f"{BOOKINGS}/{appointment_id}").get_json()["status"] == status
    return appointment_id


def wrong(status: str) -> str:
    return f"This appointment is {status.replace('_', ' ')}; it cannot be changed that way now."


NOT_STARTED = "This appointment has not started yet."


@pytest.mark.parametrize("status, caller, change, body, past, detail", [
    ("booked", "staff", "appointment-requests/{}/approve", None, False, wrong("booked")),
    ("denied", "staff", "appointment-requests/{}/approve", None, False, wrong("denied")),
    ("booked", "staff", "appointment-requests/{}/deny", {"reason": "No"}, False, wrong("booked")),
    ("cancelled", "staff", "appointment-requests/{}/deny", {"reason": "No"}, False, wrong("cancelled")),
    ("cancelled", "client", "confirm", None, False, wrong("cancelled")),
    ("confirmed", "client", "confirm", None, False, wrong("confirmed")),
    ("requested", "client", "confirm", None, False, wrong("requested")),
    ("booked", "client", "confirm", None, True, "This appointment has already begun."),
    ("denied", "client", "cancel", None, False, wrong("denied")),
    ("cancelled", "client", "cancel", None, False, wrong("cancelled")),
    ("completed", "client", "cancel", None, False, wrong("completed")),
    ("cancelled", "staff", "appointments/{}/cancel", {}, False, wrong("cancelled")),
    ("completed", "staff", "appointments/{}/cancel", {}, False, wrong("completed")),
    ("requested", "staff", "appointments/{}/late-cancel", {}, False, wrong("requested")),
    ("late_cancelled", "staff", "appointments/{}/late-cancel", {}, False, wrong("late_cancelled")),
    ("booked", "staff", "appointments/{}/complete", None, False, NOT_STARTED),
    ("confirmed", "staff", "appointments/{}/complete", None, False, NOT_STARTED),
    ("requested", "staff", "appointments/{}/complete", None, True, wrong("requested")),
    ("completed", "staff", "appointments/{}/complete", None, False, wrong("completed")),
    ("booked", "staff", "appointments/{}/no-show", None, False, NOT_STARTED),
    ("cancelled", "staff", "appointments/{}/no-show", None, True, wrong("cancelled")),
    ("no_show", "staff", "appointments/{}/no-show", None, False, wrong("no_show")),
    ("cancelled", "staff", "appointments/{}/reschedule", {"start": "2027-01-13T16:00:00Z"}, False,
     wrong("cancelled")),
    ("requested", "staff", "appointments/{}/reschedule", {"start": "2027-01-13T16:00:00Z"}, False,
     wrong("requested")),
    ("completed", "staff", "appointments/{}/reschedule", {"start": "2027-01-13T16:00:00Z"}, False,
     wrong("completed")),
])
def test_a_change_from_the_wrong_status_is_status_changed(office, sclient, sstaff, sclock, unchanged, status,
                                                          caller, change, body, past, detail):
    o = office()
    client_id, client = sclient()
    appointment_id = appointment_in(status, o, client_id, client, sstaff, sclock)
    if past:
        sclock.at(AFTER_START)
    before = unchanged()
    if caller == "client":
        response = client.post(f"/api/v1/portal/appointments/{appointment_id}/{change}")
    else:
        response = sstaff.post(f"/api/v1/staff/{change.format(appointment_id)}", json=body)
    problem = refused(response, 409, "status-changed", detail=detail)
    assert problem["title"] == "The appointment's status does not allow this"
    assert problem["current_status"] == status
    before.assert_unchanged()


def test_approving_a_request_whose_time_has_passed_is_refused(office, sclient, sstaff, sclock, unchanged):
    o = office()
    client_id, client = sclient()
    appointment_id = appointment_in("requested", o, client_id, client, sstaff, sclock)
    sclock.at(AFTER_START)
    before = unchanged()
    message = "The requested time has passed; deny the request or book another time."
    refused(sstaff.post(f"/api/v1/staff/appointment-requests/{appointment_id}/approve"), 422, V, field="start",
            message=message, detail=message)
    before.assert_unchanged()


# --- what the service gets wrong (each fails today) -------------------------------------------------------------

AVAILABILITY = ["/api/v1/portal/availability", "/api/v1/staff/availability"]


@pytest.mark.parametrize("path", AVAILABILITY, ids=["portal", "staff"])
def test_availability_with_to_before_from_is_refused(desk, path):
    caller = desk["client"] if "/portal/" in path else desk["staff"]
    response = caller.get(path, query_string={"appointment_type_id": desk["ids"]["type"], "from": "2027-01-12",
                                              "to": "2027-01-11"})
    refused(response, 422, V, field="to")


@pytest.mark.parametrize("path", AVAILABILITY, ids=["portal", "staff"])
@pytest.mark.parametrize("name, value", [("to", "9999-12-31"), ("from", "9999-12-31"),
                                         ("from", "9999-12-31T23:00:00-05:00")])
def test_availability_at_the_end_of_the_calendar_is_refused_not_a_500(desk, path, name, value):
    caller = desk["client"] if "/portal/" in path else desk["staff"]
    response = caller.get(path, query_string={"appointment_type_id": desk["ids"]["type"], name: value})
    refused(response, 422, V, field=name)


def test_a_request_for_another_type_at_the_same_time_is_not_answered_with_the_first(office, sstaff, sclient):
    o = office()
    family = sstaff.post("/api/v1/staff/appointment-types", json={
        "name": f"Family session {uuid.uuid4().hex[:6]}", "modality": "in_person", "duration_minutes": 60,
        "bookable_online": True, "clinician_ids": [o.clinician["id"]]})
    assert family.status_code == 201, family.get_json()
    _, client = sclient()
    first = client.post(REQUESTS, json={"appointment_type_id": o.kind["id"], "clinician_id": o.clinician["id"],
                                        "start": TUESDAY_10, "note": "Just me."})
    assert first.status_code == 201, first.get_json()
    second = client.post(REQUESTS, json={"appointment_type_id": family.get_json()["id"],
                                         "clinician_id": o.clinician["id"], "start": TUESDAY_10,
                                         "note": "With my partner."})
    if second.status_code == 201:
        assert second.get_json()["appointment_type"]["id"] == family.get_json()["id"]
        assert second.get_json()["note"] == "With my partner."
    else:
        assert_problem(second, 409)


def test_the_calendar_filters_by_status(desk, sstaff):
    cancelled = sstaff.post(f"{BOOKINGS}/{desk['ids']['appointment']}/cancel", json={})
    assert cancelled.status_code == 200
    window = {"from": "2027-01-11", "to": "2027-01-15", "clinician_id": desk["ids"]["clinician"]}
    response = sstaff.get(BOOKINGS, query_string={**window, "status": "requested"})
    assert response.status_code == 200, response.get_json()
    assert [a["id"] for a in response.get_json()["items"]] == [desk["ids"]["request"]]
    both = sstaff.get(BOOKINGS, query_string={**window, "status": "requested,cancelled"}).get_json()["items"]
    assert {a["id"] for a in both} == {desk["ids"]["request"], desk["ids"]["appointment"]}


QUERYLESS = [
    ("client", "/api/v1/portal/appointment-types"),
    ("client", "/api/v1/portal/clinicians"),
    ("client", "/api/v1/portal/sites"),
    ("client", "/api/v1/portal/appointments/{appointment}"),
    ("client", "/api/v1/portal/appointments/{appointment}/ics"),
    ("client", "/api/v1/portal/calendar-feed"),
    ("staff", "/api/v1/staff/scheduling-settings"),
    ("staff", "/api/v1/staff/clinicians/{clinician}/availability"),
    ("staff", "/api/v1/staff/appointments/{appointment}"),
]


@pytest.mark.parametrize("caller, path", QUERYLESS)
def test_an_unknown_query_parameter_is_refused_everywhere(desk, caller, path):
    response = desk[caller].get(filled(path, desk["ids"]), query_string={"page": "2"})
    refused(response, 422, V, field="page", message="Unknown field.")


# Routes that take nothing a caller could get wrong (no body, no query, no path id).
NO_INPUT = {("POST", "/api/v1/portal/calendar-feed"), ("DELETE", "/api/v1/portal/calendar-feed")}


def test_every_endpoint_has_its_bad_input_here(scheduling_app):
    """A route added to the service and not to CASES fails here, so none goes untried."""
    adapter = scheduling_app.url_map.bind("localhost")
    endpoints = {(method, rule.endpoint) for rule in scheduling_app.url_map.iter_rules()
                 if rule.endpoint.startswith("scheduling_") for method in rule.methods - {"HEAD", "OPTIONS"}}
    dummy = {k: "x" * 36 for k in ("type", "clinician", "site", "client", "appointment", "request")}
    tried = {(case[2], adapter.match(filled(case[3], dummy), method=case[2])[0]) for case in CASES}
    tried |= {("GET", adapter.match(filled(path, dummy), method="GET")[0]) for _, path in QUERYLESS}
    tried |= {(method, adapter.match(path, method=method)[0]) for method, path in NO_INPUT}
    assert endpoints - tried == set()
