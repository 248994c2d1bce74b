"""Scheduling in the console, in Chromium through the real stack: staff set up a site (and retire another), a
clinician with weekly hours and an exception, an appointment type and the scheduling settings in the pages; book a
client, find the appointment in the day and the week calendar, reschedule it; answer clients' requests from the
portal (approve one, deny one with a reason, and an approval whose time was taken meanwhile); and the refusals the
API gives (a time past, a session not begun, a reason missing) are shown where they belong."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.e2e.browser.conftest import registered_client, staff_sign_in
from tests.support import random_refs
from tests.support.processes import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ZONE = "America/New_York"


def day_text(day) -> str:
    return f"{day:%A}, {day:%b} {day.day}, {day.year}"


# --- the pages, as a person uses them ---------------------------------------------------------------------------
class SchedulingSetupPage:
    def __init__(self, page):
        self.page = page

    def open(self, tab: str = "Settings") -> SchedulingSetupPage:
        self.page.get_by_role("navigation", name="Console").get_by_role("link", name="Scheduling setup").click()
        if tab != "Settings":
            self.page.get_by_role("navigation", name="Scheduling setup").get_by_role("link", name=tab).click()
        return self

    def add_site(self, name: str, zone: str, city: str) -> None:
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("Time zone").fill(zone)
        self.page.get_by_label("City").fill(city)
        self.page.get_by_role("button", name="Add site").click()

    def site_row(self, name: str):
        return self.page.locator("main table tr", has_text=name)

    def retire_site(self, name: str) -> None:
        self.site_row(name).get_by_role("button", name=f"Retire {name}").click()

    def add_clinician(self, first: str, last: str, credentials: str, sites: list[str]) -> None:
        self.page.get_by_label("First name").fill(first)
        self.page.get_by_label("Last name").fill(last)
        self.page.get_by_label("Credentials").fill(credentials)
        works_at = self.page.get_by_role("group", name="Works at")
        for site in sites:
            works_at.get_by_label(site).check()
        self.page.get_by_role("button", name="Add clinician").click()

    def add_type(self, name: str, *, minutes: int, buffer_after: int, clinicians: list[str]) -> None:
        self.page.get_by_label("Name").fill(name)
        self.page.get_by_label("How").select_option(label="In person")
        self.page.get_by_label("Length (minutes)").fill(str(minutes))
        self.page.get_by_label("Buffer after (minutes)").fill(str(buffer_after))
        self.page.get_by_label("Clients can request it in the portal").check()
        offered = self.page.get_by_role("group", name="Clinicians who offer it")
        for clinician in clinicians:
            offered.get_by_label(clinician).check()
        self.page.get_by_role("button", name="Add appointment type").click()

    def save_settings(self, *, window: str, reminders: str, charge_no_shows: bool) -> None:
        self.page.get_by_label("Cancellation window").select_option(label=window)
        self.page.get_by_label("Reminders (hours before)").fill(reminders)
        self.page.get_by_label("Charge no-shows").set_checked(charge_no_shows)
        self.page.get_by_role("button", name="Save scheduling settings").click()


class HoursPage:
    """A clinician's weekly hours and exceptions: rows of one form, saved as a whole."""

    def __init__(self, page):
        self.page = page

    def more_rows(self) -> None:
        self.page.get_by_role("link", name="More empty rows").click()

    def set_hours(self, row: int, weekday: str, start: str, end: str) -> None:
        group = self.page.get_by_role("group", name=f"Weekly hours, row {row}")
        group.get_by_label("Day").select_option(label=weekday)
        group.get_by_label("From").fill(start)
        group.get_by_label("To").fill(end)

    def set_day_away(self, row: int, day: str, reason: str) -> None:
        group = self.page.get_by_role("group", name=f"Exception, row {row}")
        group.get_by_label("Date").fill(day)
        group.get_by_label("What").select_option(label="Not available")
        group.get_by_label("Reason (optional)").fill(reason)

    def error_of(self, row: int, name: str):
        return self.page.get_by_role("group", name=f"Weekly hours, row {row}").get_by_label(name)

    def save(self) -> None:
        self.page.get_by_role("button", name="Save hours").click()


class CalendarPage:
    def __init__(self, page):
        self.page = page

    def open(self) -> CalendarPage:
        self.page.get_by_role("navigation", name="Console").get_by_role("link", name="Calendar").click()
        return self

    def show(self, day: str, clinician: str) -> None:
        self.page.get_by_label("Day", exact=True).fill(day)
        self.page.get_by_label("Clinician", exact=True).select_option(label=clinician)
        self.page.get_by_role("button", name="Show").click()

    def switch_to(self, view: str) -> None:
        self.page.get_by_role("navigation", name="Day or week").get_by_role("link", name=view).click()

    def step(self, name: str) -> None:
        self.page.get_by_role("link", name=re.compile(f"^{name}")).click()

    def appointments(self, day: str | None = None):
        where = self.page.locator(f"section[aria-labelledby='d-{day}']") if day else self.page.locator("main")
        return where.locator("li.sched-appt")

    def open_appointment(self, client_name: str) -> None:
        self.appointments().filter(has_text=client_name).locator("a.sched-time").click()


class BookPage:
    def __init__(self, page):
        self.page = page

    def find_client(self, name: str) -> None:
        self.page.get_by_label("Find the client by name, e-mail or phone").fill(name)
        self.page.get_by_role("button", name="Search").click()

    def choose_client(self, full_name: str) -> None:
        self.page.get_by_role("link", name=f"Book for {full_name}").click()

    def book(self, *, kind: str, site: str, day: str, time: str) -> None:
        self.page.get_by_label("Type").select_option(label=kind)
        self.page.get_by_label("Site").select_option(label=site)
        self.page.get_by_label("Date").fill(day)
        self.page.get_by_label("Time").fill(time)
        self.page.get_by_role("button", name="Book appointment").click()


class AppointmentPage:
    def __init__(self, page):
        self.page = page

    def reschedule(self, day: str, time: str) -> None:
        self.page.get_by_label("New date").fill(day)
        self.page.get_by_label("New time").fill(time)
        self.page.get_by_role("button", name="Reschedule").click()

    def cancel(self, reason: str) -> None:
        self.page.get_by_label("Reason (optional)").fill(reason)
        self.page.get_by_role("button", name="Cancel appointment").click()

    def mark_completed(self) -> None:
        self.page.get_by_role("button", name="Mark completed").click()

    def refusal(self) -> str:
        return self.page.get_by_role("alert").inner_text()


class RequestsPage:
    def __init__(self, page):
        self.page = page

    def open(self, tab: str | None = None) -> RequestsPage:
        self.page.get_by_role("navigation", name="Console").get_by_role("link", name="Requests").click()
        if tab:
            self.page.get_by_role("navigation", name="Which requests").get_by_role("link", name=tab).click()
        return self

    def request_of(self, client_name: str):
        return self.page.locator("section.card", has=self.page.get_by_role("heading", name=client_name))

    def approve(self, client_name: str) -> None:
        self.page.get_by_role("button", name=f"Approve the request of {client_name}").click()

    def deny(self, client_name: str, reason: str) -> None:
        card = self.request_of(client_name)
        card.get_by_label("Reason for denying").fill(reason)
        card.get_by_role("button", name=f"Deny the request of {client_name}").click()

    def notice(self) -> str:
        return self.page.locator("main .notice").first.inner_text()


# --- the API, for what the client does in the portal and for checking what was written ---------------------------
def scheduling_knows(stack, staff, client_id: str) -> bool:
    """Scheduling learns of a client from identity's event: a booking that names nothing else that exists is refused
    for its type, not for its client, once it has."""
    answer = staff.post(f"{stack.api}/staff/appointments", json={
        "client_id": client_id, "clinician_id": "none", "appointment_type_id": "none",
        "start_local": "2030-01-07T10:00"})
    return answer.status_code == 422 and "client_id" not in answer.json().get("errors", {})


def request_as(stack, client, kind_id: str, clinician_id: str, slot: dict, note: str) -> dict:
    answer = eventually(lambda: (r := client.api.post(f"{stack.api}/portal/appointment-requests", json={
        "appointment_type_id": kind_id, "clinician_id": clinician_id, "start": slot["start"], "note": note}))
        .status_code == 201 and r, timeout=20, message="the request taken (the client known to scheduling)")
    return answer.json()


def test_staff_set_up_scheduling_book_reschedule_and_answer_requests(stack, staff, page, request):
    shots = request.config.getoption("--screenshots")
    csp: list[str] = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)

    def shot(name: str) -> None:
        if shots:
            page.screenshot(path=f"{shots}/console-scheduling-{name}.png", full_page=True)

    tag = random_refs.suffix()[:6]
    site, annex = f"Harbor Street {tag}", f"Annex {tag}"
    clinician, kind = f"Dana Reyes{tag}, LCSW", f"Intake {tag}"
    policy_before = staff.get(f"{stack.api}/staff/scheduling-settings").json()
    switch_before = staff.get(f"{stack.api}/staff/settings").json()["self_scheduling_enabled"]
    here = ZoneInfo(ZONE)
    today = datetime.now(here).date()
    day = today + timedelta(days=3)
    staff_sign_in(page)
    try:
        # --- set-up: two sites (one retired), a clinician and their hours, a type, the settings ---
        setup = SchedulingSetupPage(page).open("Sites")
        setup.add_site(site, ZONE, "Baltimore")
        assert f"Site {site} added." in page.get_by_role("status").first.inner_text()
        setup.add_site(annex, ZONE, "Towson")
        setup.retire_site(annex)
        assert "retired" in page.get_by_role("status").first.inner_text()
        assert "Retired" in setup.site_row(annex).inner_text() and "Yes" in setup.site_row(site).inner_text()
        sites = {s["name"]: s for s in staff.get(f"{stack.api}/staff/sites",
                                                 params={"include_inactive": "true"}).json()["items"]}
        assert sites[annex]["active"] is False and sites[site]["timezone"] == ZONE
        shot("sites")

        setup.open("Clinicians")
        setup.add_clinician("Dana", f"Reyes{tag}", "LCSW", [site])
        assert page.get_by_role("heading", name=f"Hours of {clinician}").is_visible()  # straight to their hours
        hours = HoursPage(page)
        hours.more_rows()
        hours.set_hours(1, "Monday", "17:00", "09:00")  # the end before the start: the API says so, at the row
        hours.save()
        assert "The end must be after the start." in page.locator("#f-rules-0-end-error").inner_text()
        assert hours.error_of(1, "To").get_attribute("aria-invalid") == "true"
        for n, weekday in enumerate(("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")):
            hours.set_hours(n + 1, weekday, "08:00", "18:00")
        hours.set_day_away(1, (today + timedelta(days=10)).isoformat(), "Training")
        shot("hours")
        hours.save()
        assert "7 weekly, 1 exceptions" in page.get_by_role("status").first.inner_text()
        dana = next(c for c in staff.get(f"{stack.api}/staff/clinicians").json()["items"]
                    if c["last_name"] == f"Reyes{tag}")
        saved = staff.get(f"{stack.api}/staff/clinicians/{dana['id']}/availability").json()
        assert sorted(r["weekday"] for r in saved["rules"]) == list(range(7))
        assert {(r["start"], r["end"], r["site_id"]) for r in saved["rules"]} == {("08:00", "18:00",
                                                                                   sites[site]["id"])}
        assert [(e["available"], e["reason"]) for e in saved["exceptions"]] == [(False, "Training")]

        setup.open("Appointment types")
        setup.add_type(kind, minutes=50, buffer_after=10, clinicians=[clinician])
        assert page.locator("main table tr", has_text=kind).filter(has_text=clinician).count() == 1
        intake = next(t for t in staff.get(f"{stack.api}/staff/appointment-types").json()["items"]
                      if t["name"] == kind)
        assert intake["clinician_ids"] == [dana["id"]] and intake["bookable_online"] is True
        assert (intake["duration_minutes"], intake["buffer_after_minutes"], intake["modality"]) == (50, 10,
                                                                                                    "in_person")

        setup.open()
        assert page.get_by_role("link", name=re.compile("in Settings$")).get_attribute("href") == "/staff/settings"
        setup.save_settings(window="48 hours", reminders="soon", charge_no_shows=True)
        assert "Whole hours separated by commas" in page.locator("#f-reminder_lead_hours-error").inner_text()
        assert staff.get(f"{stack.api}/staff/scheduling-settings").json() == policy_before  # nothing written
        setup.save_settings(window="48 hours", reminders="72, 24", charge_no_shows=True)
        assert "Scheduling settings saved." in page.get_by_role("status").first.inner_text()
        policy = staff.get(f"{stack.api}/staff/scheduling-settings").json()
        assert (policy["cancellation_window_hours"], policy["reminder_lead_hours"], policy["no_show_fee"]) == (
            48, [72, 24], True)
        assert policy["approval"] == "staff"
        shot("settings")

        # --- book a client from the calendar ---
        client = registered_client(stack, staff, first_name=f"Quinn{tag}")
        name = f"Quinn{tag} Lee"
        eventually(lambda: scheduling_knows(stack, staff, client.id), timeout=20, message="scheduling knows the client")
        calendar = CalendarPage(page).open()
        calendar.show(day.isoformat(), clinician)
        page.get_by_role("link", name="Book appointment").click()
        book = BookPage(page)
        book.find_client(f"Quinn{tag}")
        book.choose_client(name)
        assert page.get_by_label("Clinician").locator("option:checked").inner_text() == clinician  # from the calendar
        choice = {"kind": f"{kind} · 50 min", "site": f"{site} ({ZONE})"}
        book.book(**choice, day=(today - timedelta(days=1)).isoformat(), time="10:00")
        assert "That time has already passed." in page.locator("#f-time-error").inner_text()  # the API's word
        book.book(**choice, day=day.isoformat(), time="10:00")
        assert f"Booked: {name} with {clinician}, {day_text(day)}, 10:00 AM EST." in \
            page.get_by_role("status").first.inner_text()
        booked_id = page.url.rsplit("/", 1)[1]
        booked = staff.get(f"{stack.api}/staff/appointments/{booked_id}").json()
        assert booked["start"] == datetime(day.year, day.month, day.day, 10, tzinfo=here).astimezone(
            ZoneInfo("UTC")).isoformat()
        assert booked["status"] == "booked" and booked["client"]["id"] == client.id

        # --- the day and the week ---
        calendar.open()
        calendar.show(day.isoformat(), clinician)
        assert page.get_by_role("heading", name=day_text(day)).is_visible()
        entry = calendar.appointments().filter(has_text=name)
        assert entry.count() == 1
        text = entry.inner_text()
        assert "10:00 AM–10:50 AM EST" in text and kind in text and "Booked" in text
        assert entry.get_by_role("link", name=name).get_attribute("href") == f"/staff/clients/{client.id}"
        shot("day")
        calendar.switch_to("Week")
        monday = day - timedelta(days=day.weekday())
        assert page.get_by_role("heading", name=f"Week of {day_text(monday)}").is_visible()
        in_week = calendar.appointments(day.isoformat()).filter(has_text=name)
        assert in_week.count() == 1 and "10:00 AM EST" in in_week.inner_text()
        shot("week")
        calendar.step("Next")
        assert page.get_by_role("heading", name=f"Week of {day_text(monday + timedelta(days=7))}").is_visible()
        assert calendar.appointments().filter(has_text=name).count() == 0
        calendar.step("Previous")
        calendar.open_appointment(name)

        # --- the appointment: not begun yet (refused), then rescheduled ---
        appointment = AppointmentPage(page)
        appointment.mark_completed()
        assert "This appointment has not started yet." in appointment.refusal()
        assert staff.get(f"{stack.api}/staff/appointments/{booked_id}").json()["status"] == "booked"
        shot("appointment-refused")
        appointment.reschedule(day.isoformat(), "14:00")
        assert f"Rescheduled to {day_text(day)}, 2:00 PM EST." in page.get_by_role("status").first.inner_text()
        moved = staff.get(f"{stack.api}/staff/appointments/{booked_id}").json()
        assert moved["start"] == datetime(day.year, day.month, day.day, 14, tzinfo=here).astimezone(
            ZoneInfo("UTC")).isoformat()
        assert page.get_by_role("heading", name=f"{day_text(day)}, 2:00 PM–2:50 PM EST").is_visible()

        # --- requests made in the portal ---
        assert staff.patch(f"{stack.api}/staff/settings", json={"self_scheduling_enabled": True}).status_code == 200
        query = {"appointment_type_id": intake["id"], "clinician_id": dana["id"],
                 "from": (today + timedelta(days=1)).isoformat()}
        # the switch reaches scheduling by identity's event
        slots = eventually(lambda: (r := client.api.get(f"{stack.api}/portal/availability", params=query))
                           .status_code == 200 and r.json()["items"], timeout=20, message="times offered")
        first = request_as(stack, client, intake["id"], dana["id"], slots[0], "Mornings are best.")
        second = request_as(stack, client, intake["id"], dana["id"], slots[-1], "Any time works.")
        requests_page = RequestsPage(page).open()
        card = requests_page.request_of(name).filter(has_text="Mornings are best.")
        first_when = datetime.fromisoformat(first["start"]).astimezone(here)
        assert f"{first_when:%b} {first_when.day}" in card.inner_text() and clinician in card.inner_text()
        assert kind in card.inner_text()
        shot("requests")
        card.get_by_role("button", name=f"Approve the request of {name}").click()
        assert f"Approved: {name} is booked with {clinician}" in requests_page.notice()
        assert staff.get(f"{stack.api}/staff/appointments/{first['id']}").json()["status"] == "booked"

        requests_page.request_of(name).get_by_role("button", name=f"Deny the request of {name}").click()
        assert "Say why" in page.locator(f"#reason-{second['id']}-error").inner_text()  # no reason: nothing sent
        assert staff.get(f"{stack.api}/staff/appointments/{second['id']}").json()["status"] == "requested"
        requests_page.deny(name, "The clinician is fully booked that week.")
        assert f"Denied the request of {name}" in requests_page.notice()
        denied = staff.get(f"{stack.api}/staff/appointments/{second['id']}").json()
        assert denied["status"] == "denied" and denied["reason"] == "The clinician is fully booked that week."
        requests_page.open("Denied")
        assert "The clinician is fully booked that week." in requests_page.request_of(name).inner_text()

        # a request whose time staff gave to someone else meanwhile: approving it says the time is taken
        late = request_as(stack, client, intake["id"], dana["id"], slots[len(slots) // 2], "Please.")
        other = registered_client(stack, staff, first_name=f"Rowan{tag}")
        eventually(lambda: scheduling_knows(stack, staff, other.id), timeout=20, message="scheduling knows them")
        taken = staff.post(f"{stack.api}/staff/appointments", json={
            "client_id": other.id, "clinician_id": dana["id"], "appointment_type_id": intake["id"],
            "start": late["start"]})
        assert taken.status_code == 201, taken.text
        requests_page.open()
        requests_page.approve(name)
        assert "Not approved: that time is taken." in requests_page.notice()
        assert staff.get(f"{stack.api}/staff/appointments/{late['id']}").json()["status"] == "requested"

        # the approved one is cancelled from its page, with a reason
        requests_page.open("All from the portal")
        requests_page.page.locator("section.card", has_text="Mornings are best.").get_by_role(
            "link", name=re.compile(f"^{first_when:%A}")).click()
        appointment.cancel("The client called to cancel.")
        assert "The appointment is cancelled." in page.get_by_role("status").first.inner_text()
        assert "nothing more to do" in page.locator("main").inner_text()
        cancelled = staff.get(f"{stack.api}/staff/appointments/{first['id']}").json()
        assert cancelled["status"] == "cancelled" and cancelled["reason"] == "The client called to cancel."
        assert not csp, csp
    finally:
        staff.patch(f"{stack.api}/staff/scheduling-settings", json={
            k: policy_before[k] for k in ("cancellation_window_hours", "reminder_lead_hours", "no_show_fee")})
        staff.patch(f"{stack.api}/staff/settings", json={"self_scheduling_enabled": switch_before})
