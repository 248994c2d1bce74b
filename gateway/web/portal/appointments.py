"""Appointments: Upcoming Appointments (Confirm, Cancel, Add to calendar), Book an Appointment step by step (an
appointment type, a clinician who offers it, a day of a week, a time, a note; Submit request), Appointment History
with its filters and its CSV and Excel export, and the private calendar feed.

Times are shown on the wall clock of the appointment's site with the zone's abbreviation (9:00 AM EST), as the
client will live them; the API answers UTC. The booking's choices travel in each step's query string (every step
is a plain GET form, so Back, a reload and a bookmark work); the API checks them all at Submit request, and its
refusal is shown at the step it belongs to: a taken time back at the times, a note too long beside the note.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Response, abort, redirect, request, url_for

from gateway.web import core
from gateway.web.portal import bp

MODALITIES = {"in_person": "In person", "phone": "Phone", "video": "Video"}
# The export's words (scheduling's files.STATUS_WORDS), so the page and the downloaded file say the same.
STATUSES = {"requested": "Requested", "booked": "Booked", "confirmed": "Confirmed", "completed": "Completed",
            "no_show": "No show", "late_cancelled": "Late cancelled", "cancelled": "Cancelled", "denied": "Denied"}
NOTE_MAX = 1000  # the API's limit, told to the person beside the field; the API refuses a longer one itself
HISTORY_PAGE = 25
OPTIONS_SCAN = 200  # the history read (unfiltered) for the Site, Clinician and Type a client's past has
FILTERS = ("from", "to", "site_id", "clinician_id", "appointment_type_id")
TYPES = "/api/v1/portal/appointment-types"
CLINICIANS = "/api/v1/portal/clinicians"
SITES = "/api/v1/portal/sites"
AVAILABILITY = "/api/v1/portal/availability"
UPCOMING = ("GET", "/api/v1/portal/appointments", {"query": {"scope": "upcoming"}})
HISTORY = "/api/v1/portal/appointments/history"
FEED = "/api/v1/portal/calendar-feed"


# --- times on the site's wall clock ------------------------------------------------------------------------
def _zone(name: str | None):
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _instant(value) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _day_text(day: date, *, year: bool = True) -> str:
    return f"{day:%a}, {day:%b} {day.day}" + (f", {day.year}" if year else "")


def _clock(moment: datetime) -> str:
    return f"{moment.hour % 12 or 12}:{moment:%M} {'AM' if moment.hour < 12 else 'PM'}"


def _local(value, zone_name: str | None) -> datetime | None:
    moment = _instant(value)
    return moment.astimezone(_zone(zone_name)) if moment else None


def shown(view: dict) -> dict:
    """An appointment as the pages show it: its day and times on its site's clock (the practice's without a site),
    its words."""
    site = view.get("site") or {}
    kind = view.get("appointment_type") or {}
    zone = view.get("timezone") or site.get("timezone")  # the site's, or the practice's for phone and video
    start, end = _local(view.get("start"), zone), _local(view.get("end"), zone)
    cancel_by = _local(view.get("cancel_by"), zone)
    return {**view, "site": site or None, "type": kind, "clinician": view.get("clinician") or {},
            "day": _day_text(start.date()) if start else "—",
            "times": f"{_clock(start)} – {_clock(end)} {end.tzname()}" if start and end else "—",
            "when": f"{_day_text(start.date())}, {_clock(start)} {start.tzname()}" if start else "—",
            "modality": MODALITIES.get(kind.get("modality"), (kind.get("modality") or "").replace("_", " ")),
            "status_text": STATUSES.get(view.get("status"), (view.get("status") or "").replace("_", " ").capitalize()),
            "cancel_by_text": f"{_day_text(cancel_by.date())}, {_clock(cancel_by)} {cancel_by.tzname()}"
            if cancel_by else None}


def _parse_day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text and len(text) == 10 else None
    except ValueError:
        return None


# --- Upcoming Appointments -------------------------------------------------------------------------------
@bp.get("/appointments")
@core.signed_in("client")
def appointments():
    answers = core.gather(upcoming=UPCOMING, feed=("GET", FEED))
    upcoming, feed = answers["upcoming"], answers["feed"]
    listing = upcoming.json() if upcoming.ok else None
    return core.page("portal/appointments.html",
                     upcoming=[shown(v) for v in listing.get("items", [])] if listing is not None else None,
                     self_scheduling=listing.get("self_scheduling_enabled") if listing is not None else None,
                     feed=feed.json() if feed.ok else None)


@bp.get("/appointments/<appointment_id>")
@core.signed_in("client")
def appointment(appointment_id: str):
    found = core.must(core.api("GET", f"/api/v1/portal/appointments/{core.quote_path(appointment_id)}"))
    return core.page("portal/appointments_detail.html", appointment=shown(found),
                     sent=request.args.get("sent") == "1")


def _after_change() -> str:
    return core.local_path(request.form.get("next"), url_for("portal.appointments"))


@bp.post("/appointments/<appointment_id>/confirm")
@core.signed_in("client")
def confirm_appointment(appointment_id: str):
    answer = core.api("POST", f"/api/v1/portal/appointments/{core.quote_path(appointment_id)}/confirm")
    if answer.status == 409:
        core.flash(answer.detail or "This appointment cannot be confirmed now.", "error")
    else:
        done = shown(core.must(answer))
        core.flash(f"Confirmed: {done['type'].get('name', 'your appointment')} on {done['when']}.")
    return redirect(_after_change())


@bp.post("/appointments/<appointment_id>/cancel")
@core.signed_in("client")
def cancel_appointment(appointment_id: str):
    answer = core.api("POST", f"/api/v1/portal/appointments/{core.quote_path(appointment_id)}/cancel")
    if answer.status == 409:  # inside the cancellation window: the API's sentence says to contact the practice
        core.flash(answer.detail or "This appointment can no longer be cancelled online; please contact the "
                                    "practice.", "error")
    else:
        done = shown(core.must(answer))
        core.flash(f"Cancelled: {done['type'].get('name', 'your appointment')} on {done['when']}.")
    return redirect(_after_change())


def _file(path: str, query: dict | None = None) -> Response | None:
    """The API's file as it made it: its bytes, its content type and its Content-Disposition (the file's name).
    None when the API refused the query (422), for the page to say why."""
    answer = core.api("GET", path, query=query, headers={**core.forwarded_headers(), "Accept": "*/*"})
    if answer.status == 422:
        return None
    if not answer.ok:
        core.must(answer)
    return Response(answer.body, content_type=answer.headers.get("content-type", "application/octet-stream"),
                    headers={"Content-Disposition": answer.headers.get("content-disposition", "attachment")})


@bp.get("/appointments/<appointment_id>/calendar.ics")
@core.signed_in("client")
def appointment_ics(appointment_id: str):
    return _file(f"/api/v1/portal/appointments/{core.quote_path(appointment_id)}/ics") or abort(404)


# --- the private calendar feed ---------------------------------------------------------------------------
@bp.post("/appointments/calendar-feed")
@core.signed_in("client")
def calendar_feed_on():
    answer = core.api("POST", FEED)
    if not answer.ok:
        if answer.status in (409, 503) or answer.unavailable:
            core.flash(answer.detail or "The calendar feed cannot be turned on right now; try again in a moment.",
                       "error")
            return redirect(url_for("portal.appointments"))
        core.must(answer)
    made = answer.json()
    # Shown in this answer only: the API keeps just the secret's hash, and so does this page (never the session).
    # The address is the API's (the portal's public one, PORTAL_BASE_URL), never rebuilt from this request's Host.
    return core.page("portal/appointments_feed.html", url=made.get("url"), webcal_url=made.get("webcal_url"))


@bp.post("/appointments/calendar-feed/stop")
@core.signed_in("client")
def calendar_feed_off():
    answer = core.api("DELETE", FEED)
    if answer.ok or answer.status == 404:
        core.flash("The calendar feed is stopped: its address no longer shows your appointments.")
    else:
        core.flash(answer.detail or "The calendar feed could not be stopped right now; try again in a moment.",
                   "error")
    return redirect(url_for("portal.appointments"))


# --- Book an Appointment ---------------------------------------------------------------------------------
def _choice() -> dict[str, str]:
    """What the steps chose so far (query string of a step, or the Submit request form)."""
    return {name: (request.values.get(name) or "").strip()[:64] for name in ("type", "clinician", "week", "day",
                                                                           "start")}


def _args(choice: dict, *names: str) -> dict[str, str]:
    return {n: choice[n] for n in names if choice.get(n)}


def _off():
    return core.page("portal/appointments_book_off.html", 403)


def _lists(answers) -> tuple[list[dict], list[dict]]:
    types = core.must(answers["types"]).get("items", [])
    clinicians = core.must(answers["clinicians"]).get("items", []) if "clinicians" in answers else []
    return types, clinicians


def _chosen_type(types: list[dict], choice: dict) -> dict | None:
    return next((t for t in types if t.get("id") == choice["type"]), None)


def _chosen_clinician(clinicians: list[dict], kind: dict, choice: dict) -> dict | None:
    return next((c for c in clinicians if c.get("id") == choice["clinician"]
                 and c.get("id") in kind.get("clinician_ids", [])), None)


def _type_page(types: list[dict], choice: dict, *, status: int = 200, error: str | None = None):
    return core.page("portal/appointments_book_type.html", status, types=types, choice=choice, error=error,
                     modalities=MODALITIES)


@bp.get("/appointments/book")
@core.signed_in("client")
def book_type():
    answers = core.gather(types=("GET", TYPES), upcoming=UPCOMING)
    switch = answers["upcoming"].json().get("self_scheduling_enabled") if answers["upcoming"].ok else None
    if switch is False:  # said before the client chooses anything; the API refuses the request itself too
        return _off()
    types, _ = _lists(answers)
    return _type_page(types, _choice())


def _clinician_page(clinicians, kind, choice, *, status: int = 200, error: str | None = None):
    offering = [c for c in clinicians if c.get("id") in kind.get("clinician_ids", [])]
    return core.page("portal/appointments_book_clinician.html", status, kind=kind, offering=offering, choice=choice,
                     error=error, modalities=MODALITIES)


@bp.get("/appointments/book/clinician")
@core.signed_in("client")
def book_clinician():
    choice = _choice()
    types, clinicians = _lists(core.gather(types=("GET", TYPES), clinicians=("GET", CLINICIANS)))
    kind = _chosen_type(types, choice)
    if kind is None:
        return _type_page(types, choice, status=422, error="Choose an appointment type.")
    return _clinician_page(clinicians, kind, choice)


def _slots(choice: dict, first: date, last: date):
    """The lists and the free times of [first, last] (the practice's days, padded a day each side so every
    site's own days are whole), with the answer of the availability call."""
    answers = core.gather(types=("GET", TYPES), clinicians=("GET", CLINICIANS), slots=(
        "GET", AVAILABILITY, {"query": {"appointment_type_id": choice["type"], "clinician_id": choice["clinician"],
                                        "from": (first - timedelta(days=1)).isoformat(),
                                        "to": (last + timedelta(days=1)).isoformat()}}))
    return answers, answers["slots"]


def _refused_choice(answer, types, clinicians, choice):
    """The availability call's refusal, at the step it belongs to (None: not one of those)."""
    if answer.status == 403:
        return _off()
    errors = answer.field_errors if answer.status == 422 else {}
    kind = _chosen_type(types, choice)
    if "appointment_type_id" in errors or kind is None:
        return _type_page(types, choice, status=422, error=" ".join(errors.get("appointment_type_id", []))
                          or "Choose an appointment type.")
    if "clinician_id" in errors or _chosen_clinician(clinicians, kind, choice) is None:
        return _clinician_page(clinicians, kind, choice, status=422,
                               error=" ".join(errors.get("clinician_id", [])) or "Choose a clinician.")
    return None


def _local_slots(items: list[dict]) -> list[dict]:
    out = []
    for slot in items:
        start = _local(slot.get("start"), slot.get("timezone"))
        if start is not None:
            out.append({**slot, "local": start, "day": start.date(), "label": f"{_clock(start)} {start.tzname()}"})
    return out


@bp.get("/appointments/book/date")
@core.signed_in("client")
def book_date():
    choice = _choice()
    asked = _parse_day(choice["week"])
    if asked is not None and asked < datetime.now(UTC).date() - timedelta(days=1):
        asked = None  # an old link: this week
    around = asked or datetime.now(UTC).date()  # the site's today is this day or the one before
    answers, slots = _slots(choice, around - timedelta(days=1), around + timedelta(days=6))
    types, clinicians = _lists(answers)
    refused = _refused_choice(slots, types, clinicians, choice)
    if refused is not None:
        return refused
    free = _local_slots(core.must(slots).get("items", []))
    zone = _zone(free[0]["timezone"]) if free else UTC
    today = datetime.now(zone).date()
    first = max(asked or today, today)
    days = []
    for n in range(7):
        day = first + timedelta(days=n)
        times = [s for s in free if s["day"] == day]
        days.append({"date": day, "iso": day.isoformat(), "weekday": f"{day:%A}", "text": f"{day:%b} {day.day}",
                     "count": len(times), "first": times[0]["label"] if times else None})
    kind = _chosen_type(types, choice)
    return core.page("portal/appointments_book_date.html", kind=kind,
                     clinician=_chosen_clinician(clinicians, kind, choice),
                     choice={**choice, "week": first.isoformat()}, days=days,
                     zone_name=free[0]["timezone"] if free else None,
                     zone_abbr=datetime.combine(first, datetime.min.time(), zone).tzname(),
                     previous=max(first - timedelta(days=7), today).isoformat() if first > today else None,
                     following=(first + timedelta(days=7)).isoformat(), modalities=MODALITIES)


def _time_page(choice: dict, *, status: int = 200, error: str | None = None):
    day = _parse_day(choice["day"])
    if day is None:
        return redirect(url_for("portal.book_date", **_args(choice, "type", "clinician", "week")))
    answers, slots = _slots(choice, day, day)
    types, clinicians = _lists(answers)
    refused = _refused_choice(slots, types, clinicians, choice)
    if refused is not None:
        return refused
    times = [s for s in _local_slots(core.must(slots).get("items", [])) if s["day"] == day]
    kind = _chosen_type(types, choice)
    return core.page("portal/appointments_book_time.html", status, kind=kind,
                     clinician=_chosen_clinician(clinicians, kind, choice), choice=choice, times=times,
                     day_text=_day_text(day), several_sites=len({s.get("site_id") for s in times}) > 1, error=error,
                     modalities=MODALITIES)


@bp.get("/appointments/book/time")
@core.signed_in("client")
def book_time():
    return _time_page(_choice())


def _note_page(choice: dict, *, status: int = 200, error: str | None = None, errors: dict | None = None,
               note: str = ""):
    day = _parse_day(choice["day"])
    if day is None:
        return redirect(url_for("portal.book_date", **_args(choice, "type", "clinician", "week")))
    if not choice["start"]:
        return _time_page(choice, status=422, error="Choose a time.")
    answers, slots = _slots(choice, day, day)
    types, clinicians = _lists(answers)
    refused = _refused_choice(slots, types, clinicians, choice)
    if refused is not None:
        return refused
    wanted = _instant(choice["start"])
    slot = next((s for s in _local_slots(core.must(slots).get("items", []))
                 if wanted is not None and _instant(s["start"]) == wanted), None)
    if slot is None:
        return _time_page(choice, status=409, error="That time is no longer free; please choose another.")
    kind = _chosen_type(types, choice)
    return core.page("portal/appointments_book_note.html", status, kind=kind,
                     clinician=_chosen_clinician(clinicians, kind, choice), choice=choice, slot=slot,
                     when=f"{_day_text(slot['local'].date())}, {slot['label']}", note=note, error=error,
                     errors=errors or {}, note_max=NOTE_MAX, modalities=MODALITIES)


@bp.get("/appointments/book/note")
@core.signed_in("client")
def book_note():
    return _note_page(_choice())


@bp.post("/appointments/book/note")
@core.signed_in("client")
def book_submit():
    choice = _choice()
    note = request.form.get("note", "").strip()
    body = {"appointment_type_id": choice["type"], "clinician_id": choice["clinician"], "start": choice["start"]}
    if request.form.get("site_id"):
        body["site_id"] = request.form["site_id"][:64]
    if note:
        body["note"] = note
    answer = core.api("POST", "/api/v1/portal/appointment-requests", json_body=body)
    if answer.ok:
        return redirect(url_for("portal.appointment", appointment_id=answer.json()["id"], sent=1))
    if answer.status == 403:
        return _off()
    if answer.status == 409 and answer.problem_type == "slot-taken":
        return _time_page(choice, status=409, error=answer.detail or "That time is no longer free; please choose "
                                                                    "another.")
    errors = answer.field_errors if answer.status == 422 else {}
    if "start" in errors:  # a time no longer offered (the notice passed meanwhile): choose again
        return _time_page(choice, status=422, error=" ".join(errors["start"]))
    if "appointment_type_id" in errors or "clinician_id" in errors:
        return _refused_choice(answer, *_lists(core.gather(types=("GET", TYPES), clinicians=("GET", CLINICIANS))),
                               choice)
    message = "Check the note." if errors else (answer.detail or "The request was not sent; try again in a moment.")
    return _note_page(choice, status=answer.status if answer.status >= 400 else 500, error=message, errors=errors,
                      note=note)


# --- Appointment History ---------------------------------------------------------------------------------
def _options(rows: list[dict], listed: list[dict], key: str, chosen: str) -> list[tuple[str, str]]:
    """A filter's choices: what the API lists (online types, their clinicians) and what the client's past has."""
    names = {item["id"]: item.get("name") or "" for item in listed if item.get("id")}
    for row in rows:
        ref = row.get(key) or {}
        if ref.get("id"):
            names.setdefault(ref["id"], ref.get("name") or "")
    if chosen and chosen not in names:
        names[chosen] = "(no longer listed)"
    return sorted(names.items(), key=lambda pair: pair[1].lower())


@bp.get("/appointments/history")
@core.signed_in("client")
def appointment_history():
    query = {name: request.args.get(name, "")[:64] for name in (*FILTERS, "cursor")
             if request.args.get(name)}
    filters = {k: v for k, v in query.items() if k != "cursor"}
    calls = {"history": ("GET", HISTORY, {"query": {**query, "limit": HISTORY_PAGE}})}
    fragment = core.is_htmx()
    if not fragment:  # the filter panel's choices: the htmx swap keeps the panel and needs none of them
        calls.update(types=("GET", TYPES), clinicians=("GET", CLINICIANS), sites=("GET", SITES),
                     past=("GET", HISTORY, {"query": {"limit": OPTIONS_SCAN}}))
    answers = core.gather(**calls)
    answer = answers["history"]
    errors = answer.field_errors if answer.status == 422 else {}
    history = answer.json() if answer.ok else None
    context = {"rows": [shown(v) for v in history.get("items", [])] if history is not None else None,
               "next_cursor": history.get("next_cursor") if history is not None else None,
               "history_down": answer.unavailable, "query": query, "filters": filters, "errors": errors}
    status = 422 if errors else 200
    if fragment:
        return core.page("portal/_appointment_history.html", status, **context)
    past = answers["past"].json().get("items", []) if answers["past"].ok else []

    def listed(name: str) -> list[dict]:
        return answers[name].json().get("items", []) if answers[name].ok else []

    return core.page("portal/appointments_history.html", status, **context,
                     sites=[("", "All sites"), *_options(past, listed("sites"), "site", filters.get("site_id", ""))],
                     clinicians=[("", "All clinicians"), *_options(past, listed("clinicians"), "clinician",
                                                                   filters.get("clinician_id", ""))],
                     types=[("", "All appointment types"), *_options(past, listed("types"), "appointment_type",
                                                                     filters.get("appointment_type_id", ""))])


@bp.get("/appointments/history/export.<any(csv, xlsx):fmt>")
@core.signed_in("client")
def appointment_history_export(fmt: str):
    filters = {name: request.args.get(name, "")[:64] for name in FILTERS if request.args.get(name)}
    found = _file(HISTORY, {**filters, "format": fmt})
    # the filters refused (a range ending before it starts): the page says why, beside them
    return found if found is not None else redirect(url_for("portal.appointment_history", **filters))
