"""Every page of the portal and the console, signed out and signed in: axe-core finds no WCAG 2.1 AA violation,
the page breaks no rule of its Content-Security-Policy, it fits a 375 px phone without sideways scrolling, and no
token is readable by its JavaScript. With --screenshots DIR (make screenshots), a PNG of each page lands in DIR."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.browser.conftest import (
    CARD_OK,
    PDF,
    a_file,
    client_thread,
    fill_card,
    invoice_for,
    messaging_knows,
    registered_client,
    sign_in,
    staff_sign_in,
)
from tests.e2e.browser.test_portal_appointments import (
    practice,  # noqa: F401 (a fixture of this module's test)
    self_scheduling,
    staff_book,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
WCAG = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
        "resultTypes": ["violations"]}


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe
    return Axe()


class Tour:
    def __init__(self, request, axe, stack):
        self.axe = axe
        self.stack = stack
        folder = request.config.getoption("--screenshots")
        self.shots = Path(folder) if folder else None
        if self.shots:
            self.shots.mkdir(parents=True, exist_ok=True)
        self.problems: list[str] = []
        self.seen: list[str] = []

    def watch(self, page) -> list[str]:
        violations: list[str] = []
        page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
        return violations

    def check(self, page, name: str, *, phone: bool = False) -> None:
        page.wait_for_load_state("load")
        results = self.axe.run(page, options=WCAG)
        if results.violations_count:
            self.problems.append(f"{name}: axe\n{results.generate_report()}")
        if phone:
            wide = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if wide > 1:
                self.problems.append(f"{name}: {wide}px wider than a 375 px phone")
        cookies = page.evaluate("document.cookie")
        if "portal_session" in cookies or "eyJ" in page.content():
            self.problems.append(f"{name}: a session cookie or a token is readable by the page")
        self.seen.append(name)
        if self.shots:
            page.screenshot(path=str(self.shots / f"{name}{'-phone' if phone else ''}.png"), full_page=True)


def _tour_appointments(tour, page, schedule, appointment, phone):
    """Appointments, Book an Appointment step by step, one appointment and the history (self-scheduling on)."""
    kind, clinician = schedule.therapy["id"], next(iter(schedule.clinicians.values()))
    for name, path in [("appointments", "/appointments"), ("appointment", f"/appointments/{appointment['id']}"),
                       ("book-an-appointment", "/appointments/book"),
                       ("book-clinician", f"/appointments/book/clinician?type={kind}"),
                       ("book-date", f"/appointments/book/date?type={kind}&clinician={clinician}"),
                       ("appointment-history", "/appointments/history")]:
        page.goto(path)
        tour.check(page, name, phone=phone)
    page.goto(f"/appointments/book/date?type={kind}&clinician={clinician}")
    page.locator("main a[href*='/appointments/book/time']").first.click()
    page.wait_for_url("**/appointments/book/time**")
    tour.check(page, "book-time", phone=phone)
    page.locator("main form input[type=radio]").first.check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/appointments/book/note**")
    tour.check(page, "book-note", phone=phone)


def _tour_messages(tour, page, thread, phone):
    """Messages (a thread with the practice's reply and a PDF), New message and its refusal of a file that is not
    what its name says, the print view, and Notifications."""
    for name, path in [("messages", "/messages"), ("message-new", "/messages/new"),
                       ("message-thread", f"/messages/{thread['id']}"),
                       ("message-print", f"/messages/{thread['id']}/print"), ("notifications", "/notifications"),
                       ("notifications-unread", "/notifications?unread=true")]:
        page.goto(path)
        tour.check(page, name, phone=phone)
    page.goto("/messages/new")
    page.get_by_label("Subject").fill("A file that is not a PDF")
    page.get_by_role("textbox", name="Message", exact=True).fill("See the file.")
    page.get_by_label("Attach documents or images (optional)").set_input_files(
        [a_file("not-a.pdf", b"plain text", "application/pdf")])
    page.get_by_role("button", name="Send message").click()
    page.get_by_role("alert").wait_for()
    tour.check(page, "message-new-refused", phone=phone)


def _tour_client(tour, page, stack, client, invoice, phone, schedule=None, appointment=None, thread=None):
    csp = tour.watch(page)
    sfx = ""
    for name, path in [("signin", "/signin"), ("forgot-password", "/forgot-password"),
                       ("reset-password", "/reset-password?token=not-a-real-token"),
                       ("register-expired-link", "/register?token=not-a-real-token"), ("not-found", "/no-such-page")]:
        page.goto(path)
        tour.check(page, name + sfx, phone=phone)
    sign_in(page, client)
    pages = [("dashboard", "/dashboard"), ("my-information", "/my-information"), ("my-account", "/account"),
             ("account-history", "/account/history"), ("invoices", "/account/invoices"),
             ("invoices-paid", "/account/invoices?status=paid"), ("invoice", f"/account/invoices/{invoice['id']}"),
             ("billing-documents", "/account/documents"), ("payment-history", "/account/payments"),
             ("cards-on-file", "/account/cards"), ("pay-now-amount", "/account/pay")]
    for name, path in pages:
        page.goto(path)
        tour.check(page, name, phone=phone)
    if schedule:
        _tour_appointments(tour, page, schedule, appointment, phone)
    if thread:
        _tour_messages(tour, page, thread, phone)
    page.goto("/account/pay")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/pay/method")
    tour.check(page, "pay-now-method", phone=phone)
    fill_card(page, CARD_OK)
    page.get_by_label("Save this card for future payments").check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/pay/review")
    tour.check(page, "pay-now-review", phone=phone)
    page.get_by_role("button", name="Submit Payment").click()
    page.wait_for_url(re.compile(r".*/account/payments/[0-9a-f-]+\?done=1$"))
    tour.check(page, "payment-confirmation", phone=phone)
    page.goto("/account/cards")
    tour.check(page, "cards-on-file-with-a-card", phone=phone)
    page.goto("/account/payments")
    tour.check(page, "payment-history-with-a-payment", phone=phone)
    assert not csp, csp


def _tour_console(tour, page, client, phone, appointment=None, thread=None):
    csp = tour.watch(page)
    page.goto("/staff/signin")
    tour.check(page, "staff-signin", phone=phone)
    staff_sign_in(page)
    tour.check(page, "staff-home", phone=phone)
    links = page.locator("header nav a").evaluate_all("(links) => links.map(a => a.getAttribute('href'))")
    for href in [*links, "/staff/security"]:
        page.goto(href)
        tour.check(page, "staff" + href.replace("/staff", "").replace("/", "-"), phone=phone)
    # one client's chart and what hangs off it, and one payment (the client's tour paid one)
    page.goto(f"/staff/clients/{client.id}")
    tour.check(page, "staff-client-chart", phone=phone)
    for name, tail in (("staff-client-edit", "/edit"), ("staff-client-ledger", "/ledger"),
                       ("staff-new-invoice", "/invoices/new"), ("staff-adjustment", "/adjustments"),
                       ("staff-statement", "/documents/new")):
        page.goto(f"/staff/clients/{client.id}{tail}")
        tour.check(page, name, phone=phone)
    page.goto("/staff/clients/new")
    tour.check(page, "staff-new-client", phone=phone)
    # scheduling: the calendar's week, one appointment, booking, and the set-up pages behind Scheduling setup
    pages = [("staff-calendar-week", "/staff/calendar?view=week"), ("staff-book-appointment", "/staff/calendar/book"),
             ("staff-requests-all", "/staff/requests?status=all"),
             ("staff-setup-sites", "/staff/scheduling-setup/sites"),
             ("staff-setup-clinicians", "/staff/scheduling-setup/clinicians"),
             ("staff-setup-types", "/staff/scheduling-setup/types")]
    if appointment:
        pages.append(("staff-appointment", f"/staff/calendar/appointments/{appointment['id']}"))
    # Messages (the inbox is in the menu): a thread, its print view, a new message, the client search; Notifications
    if thread:
        pages += [("staff-message-thread", f"/staff/messages/{thread['id']}"),
                  ("staff-message-print", f"/staff/messages/{thread['id']}/print")]
    pages += [("staff-message-new", "/staff/messages/new"), ("staff-message-new-search", "/staff/messages/new?q=Lee"),
              ("staff-message-new-to-client", f"/staff/messages/new?client_id={client.id}"),
              ("staff-messages-client", f"/staff/messages?client_id={client.id}&unread=true"),
              ("staff-messages-search", "/staff/messages?q=Lee"), ("staff-notifications", "/staff/notifications")]
    for name, path in pages:
        page.goto(path)
        tour.check(page, name, phone=phone)
    # one clinician, their hours, and one type: the lists' own links
    for name, listing, selector in (
            ("staff-setup-clinician", "clinicians",
             "main a[href*='/scheduling-setup/clinicians/']:not([href$='/availability'])"),
            ("staff-setup-availability", "clinicians", "main a[href$='/availability']"),
            ("staff-setup-type", "types", "main a[href*='/scheduling-setup/types/']")):
        page.goto(f"/staff/scheduling-setup/{listing}")
        page.goto(page.locator(selector).first.get_attribute("href"))
        tour.check(page, name, phone=phone)
    page.goto("/staff/payments")
    page.locator("main table a[href*='/staff/payments/']").first.click()
    page.wait_for_url(re.compile(r".*/staff/payments/[0-9a-f-]+$"))
    tour.check(page, "staff-payment", phone=phone)
    assert not csp, csp


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_every_page_is_accessible_within_its_policy_and_fits_a_phone(request, axe, stack, staff, service_code,
                                                                     browser, phone, practice):  # noqa: F811
    tour = Tour(request, axe, stack)
    client = registered_client(stack, staff, first_name="Avery")
    invoice = invoice_for(stack, staff, client, service_code)
    self_scheduling(stack, staff, client, practice, on=True)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=15, minute=0, second=0, microsecond=0)
    appointment = staff_book(stack, staff, client, practice.therapy, next(iter(practice.clinicians.values())),
                             start + timedelta(minutes=50 * (1 if phone else 0)))
    messaging_knows(stack, staff, client)
    thread = client_thread(stack, client, "A question about my invoice", "Could you explain the charge?\nThank you.",
                           files=[("invoice-question.pdf", PDF)])
    assert staff.post(f"{stack.api}/staff/messages/threads/{thread['id']}/messages",
                      json={"body": "Of course: it is for the session of last week."}).status_code == 201
    viewport = {"width": 375, "height": 812} if phone else {"width": 1100, "height": 900}
    for part in ("client", "console"):
        ctx = browser.new_context(base_url=stack.gateway, viewport=viewport, is_mobile=phone, has_touch=phone)
        ctx.set_default_timeout(15000)
        try:
            page = ctx.new_page()
            if part == "client":
                _tour_client(tour, page, stack, client, invoice, phone, practice, appointment, thread)
            else:
                _tour_console(tour, page, client, phone, appointment, thread)
        finally:
            ctx.close()
    assert len(tour.seen) >= 55
    assert not tour.problems, "\n\n".join(tour.problems)
