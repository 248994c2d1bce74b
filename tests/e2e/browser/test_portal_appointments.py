"""The portal's Appointments in Chromium through the real stack: Book an Appointment step by step (a taken time, a
note too long, the request sent), Upcoming Appointments (Requested, then approved by staff and confirmed here; a
cancel; one too close to cancel online), Add to calendar and the calendar feed, Appointment History's filters and
its CSV and Excel export of exactly the filtered rows, and the page of a practice that takes no requests online.

The practice's set-up (sites in New York's zone, clinicians, types, Mon-Sun 08:00-20:00) is made through the staff
API once for the module; each test makes its own client. With --screenshots DIR, each page is also shot at desktop
width and at 375 px into DIR, and axe-core checks it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
from openpyxl import load_workbook

from tests.e2e.browser.conftest import admin_session, registered_client, sign_in
from tests.support import random_refs
from tests.support.processes import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
NEW_YORK = ZoneInfo("America/New_York")
HISTORY_COLUMNS = ["Date", "Start", "End", "Time zone", "Appointment type", "Modality", "Clinician", "Site", "Status"]


@dataclass
class Practice:
    """What staff set up for this module: two sites, a clinician at each, a type booked online and one not."""

    sites: dict[str, dict]  # towson, annapolis
    clinicians: dict[str, str]  # name -> id
    therapy: dict  # in person, 50 minutes, bookable online, offered by both clinicians
    check_in: dict  # phone, 5 minutes, staff book it


@pytest.fixture(scope="module")
def practice(stack):
    tag = random_refs.suffix()[:6]
    with admin_session(stack) as staff:
        def made(path: str, body: dict) -> dict:
            answer = staff.post(f"{stack.api}/staff/{path}", json=body)
            assert answer.status_code == 201, answer.text
            return answer.json()

        towson = made("sites", {"name": f"Towson {tag}", "timezone": "America/New_York",
                                "address": {"line1": "1 York Rd", "city": "Towson", "state": "MD"}})
        annapolis = made("sites", {"name": f"Annapolis {tag}", "timezone": "America/New_York"})
        stone = made("clinicians", {"first_name": "Avery", "last_name": f"Stone {tag}", "credentials": "LCSW",
                                    "site_ids": [towson["id"]]})
        reyes = made("clinicians", {"first_name": "Blake", "last_name": f"Reyes {tag}", "site_ids": [annapolis["id"]]})
        for clinician, site in ((stone, towson), (reyes, annapolis)):
            answer = staff.put(f"{stack.api}/staff/clinicians/{clinician['id']}/availability", json={"rules": [
                {"weekday": day, "start": "08:00", "end": "20:00", "site_id": site["id"]} for day in range(7)]})
            assert answer.status_code == 200, answer.text
        both = [stone["id"], reyes["id"]]
        therapy = made("appointment-types", {"name": f"Individual therapy {tag}", "modality": "in_person",
                                             "duration_minutes": 50, "bookable_online": True, "clinician_ids": both})
        check_in = made("appointment-types", {"name": f"Check-in call {tag}", "modality": "phone",
                                              "duration_minutes": 5, "bookable_online": False, "clinician_ids": both})
        answer = staff.patch(f"{stack.api}/staff/scheduling-settings", json={
            "approval": "staff", "minimum_notice_hours": 24, "cancellation_window_hours": 24})
        assert answer.status_code == 200, answer.text
        return Practice(sites={"towson": towson, "annapolis": annapolis},
                        clinicians={stone["name"]: stone["id"], reyes["name"]: reyes["id"]}, therapy=therapy,
                        check_in=check_in)


def self_scheduling(stack, staff, client, practice: Practice, on: bool) -> None:
    """Identity's switch, and its event reaching scheduling: availability answers 200 (on) or 403 (off)."""
    assert staff.patch(f"{stack.api}/staff/settings", json={"self_scheduling_enabled": on}).status_code == 200
    want = 200 if on else 403
    eventually(lambda: client.api.get(f"{stack.api}/portal/availability", params={
        "appointment_type_id": practice.therapy["id"]}).status_code == want, timeout=20, interval=0.2,
        message=f"availability answering {want}")


def staff_book(stack, staff, client, kind: dict, clinician_id: str, start: datetime | str) -> dict:
    """Staff's booking for the client, once scheduling knows the client (client.created reaches it by an event)."""
    def booked():
        at = start() if callable(start) else start
        answer = staff.post(f"{stack.api}/staff/appointments", json={
            "client_id": client.id, "appointment_type_id": kind["id"], "clinician_id": clinician_id,
            "start": at if isinstance(at, str) else at.isoformat()})
        if answer.status_code == 422 and "client_id" in answer.json().get("errors", {}):
            return None
        assert answer.status_code == 201, answer.text
        return answer.json()

    return eventually(booked, timeout=20, interval=0.2, message="scheduling knows the client")


class Look:
    """--screenshots DIR: each page at desktop width and at 375 px, and axe-core's WCAG 2.1 AA check of both."""

    def __init__(self, request):
        folder = request.config.getoption("--screenshots")
        self.shots = Path(folder) if folder else None
        self.problems: list[str] = []
        if self.shots:
            from axe_playwright_python.sync_playwright import Axe
            self.axe = Axe()
            self.shots.mkdir(parents=True, exist_ok=True)

    def __call__(self, page, name: str) -> None:
        if not self.shots:
            return
        size = page.viewport_size
        for suffix, viewport in (("", size), ("-phone", {"width": 375, "height": 812})):
            page.set_viewport_size(viewport)
            page.screenshot(path=str(self.shots / f"appointments-{name}{suffix}.png"), full_page=True)
            results = self.axe.run(page, options={"runOnly": {"type": "tag", "values": [
                "wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}, "resultTypes": ["violations"]})
            if results.violations_count:
                self.problems.append(f"{name}{suffix}: {results.generate_report()}")
            wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if wide > 1:
                self.problems.append(f"{name}{suffix}: {wide}px wider than the window")
        page.set_viewport_size(size)


@pytest.fixture
def look(request):
    watcher = Look(request)
    yield watcher
    assert not watcher.problems, "\n\n".join(watcher.problems)


# --- the pages, as a client uses them ----------------------------------------------------------------------------
class AppointmentsPage:
    def __init__(self, page):
        self.page = page

    def open(self) -> AppointmentsPage:
        self.page.goto("/appointments")
        return self

    def card(self, appointment_id: str):
        return self.page.locator(f"#appointment-{appointment_id}")

    def press(self, appointment_id: str, button: str) -> None:
        self.card(appointment_id).get_by_role("button", name=re.compile(f"^{button}")).click()
        self.page.wait_for_load_state()

    def notice(self) -> str:
        return self.page.locator("main .notice").first.inner_text()

    def book(self) -> BookingPage:
        self.page.get_by_role("link", name="Book an Appointment").last.click()
        self.page.wait_for_url("**/appointments/book")
        return BookingPage(self.page)


class BookingPage:
    def __init__(self, page):
        self.page = page

    def choose_type(self, name: str) -> None:
        self.page.get_by_label(re.compile(re.escape(name))).check()
        self.next()

    def choose_clinician(self, name: str) -> None:
        self.page.get_by_label(name).check()
        self.next()

    def choose_first_free_day(self) -> str:
        day = self.page.locator(".appt-cell.appt-free a").first
        text = day.inner_text()
        day.click()
        self.page.wait_for_url("**/appointments/book/time?*")
        return text

    def times(self):
        return self.page.locator("input[name=start]")

    def choose_time(self, index: int = 0) -> str:
        choice = self.times().nth(index)
        choice.check()
        value = choice.get_attribute("value")
        self.next()
        return value

    def write_note(self, text: str) -> None:
        self.page.get_by_label("Note for your practice (optional)").fill(text)

    def submit(self) -> None:
        self.page.get_by_role("button", name="Submit request").click()
        self.page.wait_for_load_state()

    def next(self) -> None:
        self.page.get_by_role("button", name="Continue").click()
        self.page.wait_for_load_state()

    def error(self) -> str:
        return self.page.locator("#form-error").inner_text()


class HistoryPage:
    def __init__(self, page):
        self.page = page
        self.rows = page.locator("#appointment-history-rows tr")

    def open(self, query: str = "") -> HistoryPage:
        self.page.goto("/appointments/history" + query)
        return self

    def filter(self, **chosen: str) -> None:
        for label, value in chosen.items():
            field = self.page.get_by_label(label, exact=True)
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(label=value)
            else:
                field.fill(value)
        self.page.get_by_role("button", name="Apply filters").click()

    def export(self, which: str):
        with self.page.expect_download() as info:
            self.page.get_by_role("link", name=which).click()
        return info.value

    def results(self) -> str:
        return self.page.locator("#appointment-history").inner_text()


def csv_rows(download) -> list[list[str]]:
    return list(csv.reader(io.StringIO(Path(download.path()).read_bytes().decode("utf-8-sig"), newline="")))


# --- the tests ---------------------------------------------------------------------------------------------------
def test_book_an_appointment_says_so_when_the_practice_takes_no_requests_online(stack, staff, practice, page,
                                                                                  look):
    client = registered_client(stack, staff, first_name="Rowan")
    self_scheduling(stack, staff, client, practice, on=False)
    sign_in(page, client)
    page.goto("/appointments")
    assert "does not take appointment requests online" in page.locator("main").inner_text()
    # no Book an Appointment button; the menu's link leads to the page that says so
    assert page.get_by_role("link", name="Book an Appointment").count() == 1
    response = page.goto("/appointments/book")
    assert response.status == 403
    assert page.get_by_role("heading", name="Book an Appointment is not available").is_visible()
    assert "please contact the practice" in page.locator("main").inner_text()
    assert page.locator("main form").count() == 0
    look(page, "book-off")
    # a step reached by its address is refused the same way (the availability answers 403)
    response = page.goto(f"/appointments/book/date?type={practice.therapy['id']}"
                         f"&clinician={next(iter(practice.clinicians.values()))}")
    assert response.status == 403 and page.locator("main form").count() == 0


def test_a_client_books_through_the_steps_then_confirms_one_and_cancels_another(stack, staff, practice, page,
                                                                                 look):
    client = registered_client(stack, staff, first_name="Morgan")
    self_scheduling(stack, staff, client, practice, on=True)
    stone_name, stone = next(iter(practice.clinicians.items()))
    therapy = practice.therapy
    # booked by staff three hours ahead: inside the 24-hour window, so only the practice can cancel it
    soon = staff_book(stack, staff, client, practice.check_in, stone,
                      lambda: (datetime.now(UTC) + timedelta(hours=3)).replace(second=0, microsecond=0))

    sign_in(page, client)
    page.get_by_role("link", name=re.compile("^Appointments")).first.click()
    page.wait_for_url("**/appointments")
    upcoming = AppointmentsPage(page)
    card = upcoming.card(soon["id"])
    assert "To cancel, please contact the practice" in card.inner_text()
    assert card.get_by_role("button", name=re.compile("^Cancel")).count() == 0
    assert re.search(r"\d{1,2}:\d\d [AP]M – \d{1,2}:\d\d [AP]M E[SD]T", card.inner_text())  # New York's clock
    assert "Phone" in card.inner_text() and stone_name in card.inner_text()
    look(page, "upcoming")
    # a cancel the API refuses (inside the window) says what the API says
    token = page.locator("input[name=csrf_token]").first.input_value()
    refused = page.request.post(f"/appointments/{soon['id']}/cancel", form={"csrf_token": token})
    assert "can no longer be cancelled online; please contact the practice" in refused.text()

    booking = upcoming.book()
    assert "In person" in page.locator("main").inner_text()
    look(page, "book-type")
    booking.choose_type(therapy["name"])
    look(page, "book-clinician")
    booking.choose_clinician(stone_name)
    week = page.get_by_role("heading", name=re.compile("^Choose a date"))
    first_week = week.inner_text()
    page.get_by_role("link", name="Next week").click()
    assert week.inner_text() != first_week
    page.get_by_role("link", name="Previous week").click()
    assert week.inner_text() == first_week
    assert page.get_by_role("link", name="Previous week").count() == 0  # this week is the first
    look(page, "book-date")
    booking.choose_first_free_day()
    look(page, "book-time")
    taken = booking.choose_time(0)
    booking.write_note("Afternoons suit me best.")
    look(page, "book-note")

    # meanwhile the practice books that very time (for this client): Submit request goes back to the times
    slot_taker = staff_book(stack, staff, client, therapy, stone, taken)
    booking.submit()
    assert "no longer free" in booking.error()
    look(page, "book-time-taken")
    assert taken not in [booking.times().nth(i).get_attribute("value") for i in range(booking.times().count())]
    chosen = booking.choose_time(0)

    # a note over 1,000 characters: the API's error beside the field, what was typed kept
    note = page.get_by_label("Note for your practice (optional)")
    note.evaluate("e => e.removeAttribute('maxlength')")
    note.fill("x" * 1001)
    booking.submit()
    assert page.locator("#f-note-error").is_visible()
    assert note.get_attribute("aria-describedby").endswith("f-note-error")
    assert len(note.input_value()) == 1001
    look(page, "book-note-error")
    booking.write_note("Afternoons suit me best.")
    booking.submit()
    assert page.get_by_role("heading", name="Request sent", level=1).is_visible()
    requested_id = re.search(r"/appointments/([0-9a-f-]+)\?sent=1", page.url).group(1)
    assert chosen == client.api.get(f"{stack.api}/portal/appointments/{requested_id}").json()["start"]
    look(page, "request-sent")

    upcoming.open()
    assert "Requested" in upcoming.card(requested_id).inner_text()
    assert "Afternoons suit me best." in upcoming.card(requested_id).inner_text()
    assert upcoming.card(requested_id).get_by_role("button", name=re.compile("^Cancel request")).count() == 1

    # staff approve it; the client confirms it here
    assert staff.post(f"{stack.api}/staff/appointment-requests/{requested_id}/approve").status_code == 200
    upcoming.open()
    assert "Booked" in upcoming.card(requested_id).inner_text()
    upcoming.press(requested_id, "Confirm")
    assert upcoming.notice().startswith("Confirmed:")
    assert "Confirmed" in upcoming.card(requested_id).locator(".appt-status").inner_text()
    assert upcoming.card(requested_id).get_by_role("button", name=re.compile("^Confirm")).count() == 0
    assert client.api.get(f"{stack.api}/portal/appointments/{requested_id}").json()["status"] == "confirmed"
    look(page, "upcoming-several")

    # the time the practice took is cancelled here (more than 24 hours ahead)
    upcoming.press(slot_taker["id"], "Cancel")
    assert upcoming.notice().startswith("Cancelled:")
    assert upcoming.card(slot_taker["id"]).count() == 0
    assert client.api.get(f"{stack.api}/portal/appointments/{slot_taker['id']}").json()["status"] == "cancelled"

    # Add to calendar: the API's .ics, with its own file name
    with page.expect_download() as info:
        upcoming.card(requested_id).get_by_role("link", name=re.compile("^Add to calendar")).click()
    ics = info.value
    assert re.fullmatch(r"appointment-\d{4}-\d\d-\d\d\.ics", ics.suggested_filename)  # the API's own name
    body = Path(ics.path()).read_text()
    assert body.startswith("BEGIN:VCALENDAR") and therapy["name"] in body


def test_a_practice_that_approves_at_once_says_booked(stack, staff, practice, page):
    client = registered_client(stack, staff, first_name="Emery")
    self_scheduling(stack, staff, client, practice, on=True)
    reyes_name, reyes = list(practice.clinicians.items())[1]
    staff_book(stack, staff, client, practice.check_in, reyes,  # scheduling knows the client from here on
               lambda: (datetime.now(UTC) + timedelta(hours=2)).replace(second=0, microsecond=0))
    assert staff.patch(f"{stack.api}/staff/scheduling-settings", json={"approval": "automatic"}).status_code == 200
    try:
        sign_in(page, client)
        booking = AppointmentsPage(page).open().book()
        booking.choose_type(practice.therapy["name"])
        booking.choose_clinician(reyes_name)
        booking.choose_first_free_day()
        booking.choose_time(0)
        booking.submit()
        assert page.get_by_role("heading", name="Booked", level=1).is_visible()
        booked_id = re.search(r"/appointments/([0-9a-f-]+)\?sent=1", page.url).group(1)
        card = AppointmentsPage(page).card(booked_id)
        assert "Booked" in card.inner_text() and card.get_by_role("button", name=re.compile("^Confirm")).count() == 1
    finally:
        assert staff.patch(f"{stack.api}/staff/scheduling-settings", json={"approval": "staff"}).status_code == 200


def test_the_calendar_feed_is_shown_once_and_stops(stack, staff, practice, page, look):
    client = registered_client(stack, staff, first_name="Sasha")
    stone = next(iter(practice.clinicians.values()))
    staff_book(stack, staff, client, practice.therapy, stone,
               lambda: (datetime.now(UTC) + timedelta(days=3, hours=1)).replace(minute=0, second=0, microsecond=0))
    sign_in(page, client)
    upcoming = AppointmentsPage(page).open()
    page.get_by_role("button", name="Turn on the calendar feed").click()
    page.wait_for_load_state()
    url = page.get_by_label("Calendar feed address").input_value()
    assert url.startswith(f"{stack.gateway}/api/v1/calendar/") and url.endswith(".ics")
    webcal = page.get_by_role("link", name="Open in my calendar app").get_attribute("href")
    assert webcal == "webcal://" + url.split("://", 1)[1]
    look(page, "feed-on")
    feed = requests.get(url, timeout=10)
    assert feed.status_code == 200 and practice.therapy["name"] in feed.text
    upcoming.open()
    assert "Your calendar feed is on" in page.locator("main").inner_text()
    assert url not in page.content()  # shown once only
    page.get_by_role("button", name="Stop the feed").click()
    page.wait_for_load_state()
    assert "calendar feed is stopped" in upcoming.notice()
    assert requests.get(url, timeout=10).status_code == 404
    assert page.get_by_role("button", name="Turn on the calendar feed").is_visible()


def test_appointment_history_filters_narrow_the_rows_and_export_exactly_those(stack, staff, practice, page, look):
    client = registered_client(stack, staff, first_name="Jamie")
    (stone_name, stone), (reyes_name, reyes) = practice.clinicians.items()
    # two 5-minute calls booked a few seconds ahead, with each clinician at their site: history once they begin
    starts = []
    for clinician in (stone, reyes):
        made = staff_book(stack, staff, client, practice.check_in, clinician,
                          lambda: datetime.now(UTC) + timedelta(seconds=4))
        starts.append(datetime.fromisoformat(made["start"]))
    sign_in(page, client)
    history = HistoryPage(page).open()
    eventually(lambda: (page.reload(), history.rows.count())[1] == 2, timeout=30, interval=0.5,
               message="both calls in the history once begun")
    look(page, "history")
    assert page.get_by_label("Site").locator("option").all_inner_texts()[0] == "All sites"
    sites = page.get_by_label("Site").locator("option").all_inner_texts()
    assert {practice.sites["towson"]["name"], practice.sites["annapolis"]["name"]} <= set(sites)
    assert practice.check_in["name"] in page.get_by_label("Appointment Type").locator("option").all_inner_texts()

    # one clinician: one row, and the CSV and the Excel file hold exactly it
    history.filter(Clinician=reyes_name)
    page.wait_for_url(f"**/appointments/history?*clinician_id={reyes}*")
    eventually(lambda: history.rows.count() == 1, timeout=10, message="the filtered rows")
    assert reyes_name in history.rows.first.inner_text() and stone_name not in history.results()
    download = history.export("Export CSV")
    assert re.fullmatch(r"appointment-history-\d{4}-\d\d-\d\d\.csv", download.suggested_filename)
    exported = csv_rows(download)
    assert exported[0] == HISTORY_COLUMNS
    local = starts[1].astimezone(NEW_YORK)
    assert exported[1:] == [[local.date().isoformat(), f"{local:%H:%M}",
                             f"{local + timedelta(minutes=5):%H:%M}", "America/New_York", practice.check_in["name"],
                             "Phone", reyes_name, practice.sites["annapolis"]["name"], "Booked"]]
    workbook = history.export("Export Excel")
    assert workbook.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(workbook.path()).read_bytes())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == HISTORY_COLUMNS and len(rows) == 2 and rows[1][6] == reyes_name

    # a range that ends yesterday: no rows, and the export is its header alone
    yesterday = (datetime.now(NEW_YORK) - timedelta(days=1)).date().isoformat()
    history.filter(To=yesterday)
    page.wait_for_url(f"**/appointments/history?*to={yesterday}*")
    page.get_by_text("No appointments match these filters.").wait_for()
    assert csv_rows(history.export("Export CSV")) == [HISTORY_COLUMNS]

    # a range ending before it starts, without htmx: the API's error beside the To field
    response = page.goto("/appointments/history?from=2026-12-31&to=2026-01-01")
    assert response.status == 422
    assert page.locator("#f-to-error").is_visible()
    assert page.get_by_label("To", exact=True).get_attribute("aria-invalid") == "true"
    look(page, "history-error")
