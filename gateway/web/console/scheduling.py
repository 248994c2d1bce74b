"""Scheduling in the console: the Calendar (a day or a week, per clinician or per site), one appointment and its
changes (reschedule, cancel, late cancel, completed, no-show), Book appointment, and the Requests clients made in
the portal (approve, or deny with a reason). Set-up (sites, clinicians, types, hours, settings) is in
scheduling_setup.

Times are shown and typed on the wall clock of the appointment's site (a phone or video appointment without a site:
the practice's), and sent as `start_local`: scheduling turns the wall clock into an instant, across clock changes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import abort, redirect, request, url_for

from gateway.web import core
from gateway.web.console import bp
from gateway.web.console.common import body, refusal, status_of

STATUSES = {"requested": "Requested", "denied": "Denied", "booked": "Booked", "confirmed": "Confirmed",
            "completed": "Completed", "no_show": "No-show", "late_cancelled": "Late cancelled",
            "cancelled": "Cancelled"}
STATUS_FILTER = [("", "Any status"), *((k, v) for k, v in STATUSES.items() if k != "denied")]
MODALITIES = {"in_person": "In person", "phone": "Phone", "video": "Video"}
VIEWS = [("day", "Day"), ("week", "Week")]
# Appointments of one practice day may fall on the day before or after on another site's wall clock: the calendar
# asks for two days more each side and places each appointment on its own site's day.
MARGIN = timedelta(days=2)
CLIENT_MATCHES = 10


# --- wall clocks ------------------------------------------------------------------------------------------------
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def clock_text(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def day_text(day: date) -> str:
    return f"{day:%A}, {day:%b} {day.day}, {day.year}"


def moment_text(value: str | None, where: ZoneInfo) -> str:
    """An instant of the API as a person reads it on that clock: "Dec 3, 2026, 3:00 PM EST"."""
    if not value:
        return ""
    moment = datetime.fromisoformat(value).astimezone(where)
    return f"{moment:%b} {moment.day}, {moment.year}, {clock_text(moment)} {moment.tzname()}"


def wall_clock(appointment: dict, practice_zone: str) -> dict:
    """When the appointment is, on its site's clock: the day, "9:00 AM"-"9:50 AM", the zone's abbreviation, the
    date and time a form shows, and until when the client may cancel online."""
    where = zone((appointment.get("site") or {}).get("timezone") or practice_zone)
    start = datetime.fromisoformat(appointment["start"]).astimezone(where)
    end = datetime.fromisoformat(appointment["end"]).astimezone(where)
    return {"day": start.date(), "day_text": day_text(start.date()), "start": clock_text(start),
            "end": clock_text(end), "zone": start.tzname() or "", "date": start.date().isoformat(),
            "time": f"{start:%H:%M}", "cancel_by": moment_text(appointment.get("cancel_by"), where)}


def shown(appointment: dict, practice_zone: str) -> dict:
    """The API's appointment with what the templates show: its wall clock and its status and modality in words."""
    client = appointment.get("client") or {}
    return {**appointment, "when": wall_clock(appointment, practice_zone),
            "asked": moment_text(appointment.get("created_at"), zone(practice_zone)),
            "status_text": STATUSES.get(appointment.get("status"), appointment.get("status")),
            "modality_text": MODALITIES.get((appointment.get("appointment_type") or {}).get("modality"), ""),
            "client_name": " ".join(p for p in (client.get("first_name"), client.get("last_name")) if p)
            or "A client"}


def practice_zone(settings: dict | None) -> str:
    return (settings or {}).get("timezone") or "UTC"


def shown_now(appointment: dict) -> dict:
    """`shown` for an appointment just changed: its site's zone, or (none) the practice's, asked for then."""
    if (appointment.get("site") or {}).get("timezone"):
        return shown(appointment, "UTC")
    return shown(appointment, practice_zone(body(core.api("GET", "/api/v1/staff/scheduling-settings"))))


def items(answer) -> list[dict] | None:
    found = body(answer)
    return found.get("items", []) if found is not None else None


def start_local(day: str, time: str) -> str:
    return f"{day}T{time}"


def start_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The API names the start (start, start_local); the forms have a date and a time."""
    out: dict[str, list[str]] = {}
    for name, messages in errors.items():
        out.setdefault("time" if name in ("start", "start_local") else name, []).extend(messages)
    return out


def typed_start(form) -> tuple[dict, dict[str, list[str]]]:
    """The date and time typed (the site's wall clock), and what is missing."""
    values = {"date": form.get("date", "").strip(), "time": form.get("time", "").strip()}
    errors = {}
    if not values["date"]:
        errors["date"] = ["Enter the date."]
    if not values["time"]:
        errors["time"] = ["Enter the time, such as 09:00."]
    return values, errors


# --- the calendar -----------------------------------------------------------------------------------------------
def _day(text: str | None) -> date | None:
    try:
        found = date.fromisoformat(text or "")
    except ValueError:
        return None
    return found if 1900 <= found.year <= 2999 else None  # a week around year 1 or 9999 has no dates to ask for


def _days(view: str, day: date) -> list[date]:
    if view == "week":
        monday = day - timedelta(days=day.weekday())
        return [monday + timedelta(days=n) for n in range(7)]
    return [day]


@bp.get("/calendar")
@core.signed_in("staff")
def calendar():
    view = request.args.get("view") if request.args.get("view") in dict(VIEWS) else "day"
    chosen = _day(request.args.get("date"))
    filters = {name: request.args[name] for name in ("clinician_id", "site_id", "status") if request.args.get(name)}
    # Without a date the day is today on the practice's clock, known only with the answers: ask for the days it may be.
    utc_today = datetime.now(UTC).date()
    candidates = [chosen] if chosen else [utc_today + timedelta(days=n) for n in (-1, 0, 1)]
    span = sorted({d for c in candidates for d in _days(view, c)})
    answers = core.gather(
        appointments=("GET", "/api/v1/staff/appointments",
                      {"query": {"from": (span[0] - MARGIN).isoformat(), "to": (span[-1] + MARGIN).isoformat(),
                                 **filters}}),
        settings=("GET", "/api/v1/staff/scheduling-settings"),
        clinicians=("GET", "/api/v1/staff/clinicians"),
        sites=("GET", "/api/v1/staff/sites"),
        pending=("GET", "/api/v1/staff/appointment-requests", {"query": {"status": "pending"}}))
    settings = body(answers["settings"])
    here = practice_zone(settings)
    today = datetime.now(zone(here)).date()
    day = chosen or today
    days = _days(view, day)
    found = items(answers["appointments"])
    by_day: dict[date, list[dict]] = {d: [] for d in days}
    for appointment in found or []:
        entry = shown(appointment, here)
        if entry["when"]["day"] in by_day:
            by_day[entry["when"]["day"]].append(entry)
    step = timedelta(days=7 if view == "week" else 1)
    pending = items(answers["pending"])
    return core.page("console/scheduling_calendar.html",
                     200 if found is not None else status_of(answers["appointments"]),
                     view=view, views=VIEWS, day=day, today=today, days=days, by_day=by_day, filters=filters,
                     previous=(day - step).isoformat(), next=(day + step).isoformat(), day_text=day_text,
                     clinicians=items(answers["clinicians"]), sites=items(answers["sites"]),
                     statuses=STATUS_FILTER, down=found is None, practice_zone=here,
                     pending=len(pending) if pending is not None else None)


# --- one appointment --------------------------------------------------------------------------------------------
def _appointment_path(appointment_id: str, tail: str = "") -> str:
    return f"/api/v1/staff/appointments/{core.quote_path(appointment_id)}{tail}"


# The form's action in the URL -> (the API's path, what is said when it is done).
CHANGES = {"reschedule": ("/reschedule", "Rescheduled to {when}."),
           "cancel": ("/cancel", "The appointment is cancelled."),
           "late-cancel": ("/late-cancel", "Marked as a late cancellation."),
           "complete": ("/complete", "Marked completed."),
           "no-show": ("/no-show", "Marked as a no-show.")}


def _appointment_page(appointment_id: str, status: int = 200, **context):
    answers = core.gather(appointment=("GET", _appointment_path(appointment_id)),
                          settings=("GET", "/api/v1/staff/scheduling-settings"),
                          clinicians=("GET", "/api/v1/staff/clinicians", {"query": {"include_inactive": "true"}}),
                          sites=("GET", "/api/v1/staff/sites"))
    here = practice_zone(body(answers["settings"]))
    appointment = shown(core.must(answers["appointment"]), here)
    clinician = next((c for c in items(answers["clinicians"]) or [] if c["id"] == appointment["clinician"]["id"]),
                     None)
    sites = items(answers["sites"]) or []
    # Where it may move: the clinician's active sites (the API says so too when one is not).
    site_options = [(s["id"], s["name"]) for s in sites if clinician and s["id"] in clinician.get("site_ids", [])]
    context.setdefault("values", {"date": appointment["when"]["date"], "time": appointment["when"]["time"],
                                  "site_id": (appointment.get("site") or {}).get("id", "")})
    context.setdefault("errors", {})
    return core.page("console/scheduling_appointment.html", status, appointment=appointment,
                     site_options=site_options, failed=context.pop("failed", None), **context)


@bp.get("/calendar/appointments/<appointment_id>")
@core.signed_in("staff")
def calendar_appointment(appointment_id: str):
    return _appointment_page(appointment_id)


@bp.post("/calendar/appointments/<appointment_id>/<change>")
@core.signed_in("staff")
def calendar_change(appointment_id: str, change: str):
    if change not in CHANGES:
        abort(404)
    tail, done = CHANGES[change]
    values: dict = {}
    if change == "reschedule":
        values, errors = typed_start(request.form)
        values["site_id"] = request.form.get("site_id", "").strip()
        if errors:
            return _appointment_page(appointment_id, 422, values=values, errors=errors, failed=change,
                                     error="Not rescheduled. Check the fields marked below.")
        payload = {"start_local": start_local(values["date"], values["time"])}
        if values["site_id"]:
            payload["site_id"] = values["site_id"]
    elif change in ("cancel", "late-cancel"):
        values = {"reason": request.form.get("reason", "").strip()}
        payload = {"reason": values["reason"] or None}
    else:
        payload = None
    answer = core.api("POST", _appointment_path(appointment_id, tail), json_body=payload)
    if answer.ok:
        moved = shown_now(answer.json())
        when = moved["when"]
        message = done.format(when=f"{when['day_text']}, {when['start']} {when['zone']}")
        if moved.get("fee"):
            message += " The practice's fee for it goes to billing."
        core.flash(message)
        return redirect(url_for("console.calendar_appointment", appointment_id=appointment_id))
    if answer.status == 404:
        core.must(answer)
    errors = start_errors(answer.field_errors)
    if change != "reschedule" and "reason" not in errors and errors:
        errors = {}
    kept = {"values": values} if change == "reschedule" else {"reason": values.get("reason", "")}
    return _appointment_page(appointment_id, status_of(answer), **kept, errors=errors, failed=change,
                             error=refusal(answer, "Nothing was changed.") if answer.status != 422 or not errors
                             else "Nothing was changed. Check the fields marked below.")


# --- book an appointment ----------------------------------------------------------------------------------------
BOOKING_FIELDS = ("clinician_id", "appointment_type_id", "site_id", "date", "time", "note")


def _book_page(status: int = 200, *, values: dict, errors: dict | None = None, error: str | None = None):
    client_id = values.get("client_id") or ""
    q = request.args.get("q", "").strip()[:100]
    calls = {"clinicians": ("GET", "/api/v1/staff/clinicians"),
             "types": ("GET", "/api/v1/staff/appointment-types"),
             "sites": ("GET", "/api/v1/staff/sites")}
    if client_id:
        calls["client"] = ("GET", f"/api/v1/staff/clients/{core.quote_path(client_id)}")
    elif q:
        calls["matches"] = ("GET", "/api/v1/staff/clients", {"query": {"q": q, "limit": CLIENT_MATCHES}})
    answers = core.gather(**calls)
    client = None
    if client_id:
        client = body(answers["client"])
        if client is None and answers["client"].status == 404:
            errors = {**(errors or {}), "client_id": ["No client with this id: search again."]}
    matches = items(answers["matches"]) if "matches" in answers else None
    if core.is_htmx() and request.method == "GET":
        return core.page("console/_scheduling_clients.html", q=q, matches=matches, values=values,
                         down="matches" in answers and answers["matches"].unavailable)
    return core.page("console/scheduling_book.html", status, client=client, q=q, matches=matches, values=values,
                     clinicians=items(answers["clinicians"]), types=items(answers["types"]),
                     sites=items(answers["sites"]), errors=errors or {}, error=error,
                     down="matches" in answers and answers["matches"].unavailable)


@bp.route("/calendar/book", methods=["GET", "POST"])
@core.signed_in("staff")
def calendar_book():
    if request.method == "GET":
        values = {name: request.args.get(name, "") for name in ("client_id", *BOOKING_FIELDS)}
        return _book_page(values=values)
    values = {name: request.form.get(name, "").strip() for name in ("client_id", *BOOKING_FIELDS)}
    start, errors = typed_start(request.form)
    for name, what in (("client_id", "Choose the client."), ("clinician_id", "Choose the clinician."),
                       ("appointment_type_id", "Choose the type of appointment.")):
        if not values[name]:
            errors[name] = [what]
    if errors:
        return _book_page(422, values=values, errors=errors, error="Not booked. Check the fields marked below.")
    payload = {"client_id": values["client_id"], "clinician_id": values["clinician_id"],
               "appointment_type_id": values["appointment_type_id"],
               "start_local": start_local(start["date"], start["time"])}
    if values["site_id"]:
        payload["site_id"] = values["site_id"]
    if values["note"]:
        payload["note"] = values["note"]
    answer = core.api("POST", "/api/v1/staff/appointments", json_body=payload)
    if answer.ok:
        booked = shown_now(answer.json())
        when = booked["when"]
        core.flash(f"Booked: {booked['client_name']} with {booked['clinician']['name']}, {when['day_text']}, "
                   f"{when['start']} {when['zone']}.")
        return redirect(url_for("console.calendar_appointment", appointment_id=booked["id"]))
    errors = start_errors(answer.field_errors)
    taken = answer.problem_type == "slot-taken"
    return _book_page(status_of(answer), values=values, errors=errors,
                      error=(f"Not booked: that time is taken. {answer.detail}" if taken
                             else refusal(answer, "Not booked.") if answer.status != 422 or not errors
                             else "Not booked. Check the fields marked below."))


# --- requests from the portal -----------------------------------------------------------------------------------
REQUEST_TABS = [("pending", "Waiting for an answer"), ("denied", "Denied"), ("all", "All from the portal")]


def _requests_page(status: int = 200, *, failed: dict | None = None):
    tab = request.args.get("status", "pending")
    if tab not in dict(REQUEST_TABS):
        tab = "pending"
    answers = core.gather(requests=("GET", "/api/v1/staff/appointment-requests", {"query": {"status": tab}}),
                          settings=("GET", "/api/v1/staff/scheduling-settings"))
    here = practice_zone(body(answers["settings"]))
    found = items(answers["requests"])
    listed = [shown(r, here) for r in found] if found is not None else None
    return core.page("console/scheduling_requests.html", status if found is not None else
                     status_of(answers["requests"]), tab=tab, tabs=REQUEST_TABS, requests=listed,
                     failed=failed or {})


@bp.get("/requests")
@core.signed_in("staff")
def requests():
    return _requests_page()


def _request_path(appointment_id: str, decision: str) -> str:
    return f"/api/v1/staff/appointment-requests/{core.quote_path(appointment_id)}/{decision}"


def _back_to_requests():
    return redirect(url_for("console.requests", status=request.args.get("status") or None))


@bp.post("/requests/<appointment_id>/approve")
@core.signed_in("staff")
def requests_approve(appointment_id: str):
    answer = core.api("POST", _request_path(appointment_id, "approve"))
    if answer.ok:
        approved = shown_now(answer.json())
        when = approved["when"]
        core.flash(f"Approved: {approved['client_name']} is booked with {approved['clinician']['name']}, "
                   f"{when['day_text']}, {when['start']} {when['zone']}.")
    elif answer.problem_type == "slot-taken":
        core.flash(f"Not approved: that time is taken. {answer.detail} Deny the request, or book the client at "
                   "another time.", "error")
    elif answer.status in (404, 409, 422):
        core.flash(f"Not approved. {answer.detail}", "warn")
    else:
        core.flash(refusal(answer, "Not approved."), "error")
    return _back_to_requests()


@bp.post("/requests/<appointment_id>/deny")
@core.signed_in("staff")
def requests_deny(appointment_id: str):
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _requests_page(422, failed={"id": appointment_id, "reason": reason,
                                           "errors": {"reason": ["Say why: the client reads this."]}})
    answer = core.api("POST", _request_path(appointment_id, "deny"), json_body={"reason": reason})
    if answer.ok:
        denied = shown(answer.json(), "UTC")  # only its client is said
        core.flash(f"Denied the request of {denied['client_name']}. They see why under their Upcoming Appointments.")
        return _back_to_requests()
    if answer.status == 422 and answer.field_errors:
        return _requests_page(422, failed={"id": appointment_id, "reason": reason, "errors": answer.field_errors})
    if answer.status in (404, 409):
        core.flash(f"Not denied. {answer.detail}", "warn")
    else:
        core.flash(refusal(answer, "Not denied."), "error")
    return _back_to_requests()
