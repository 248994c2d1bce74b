"""Messages and the notification bell in the portal, in Chromium through the real stack: a client writes to the
practice with a PDF attached and downloads it back, reads the practice's reply (the Dashboard's red badge, the
Messages menu and the thread list agree, and the badge goes once it is read), replies, and prints the thread; a file
whose bytes are not what its name says is refused with the API's sentence and what was typed is kept; another
client's thread is a 404; the bell's count agrees with the Notifications page, Mark as read and Mark all as read
change it, and its refresh every 30 s is a background request that leaves the idle clock alone."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.browser.conftest import (
    COUNT_PRINTS,
    PDF,
    PNG,
    MessagesHeader,
    a_file,
    client_thread,
    invoice_for,
    messaging_knows,
    number,
    registered_client,
    session_record,
    sign_in,
)
from tests.support.processes import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.browser]



# --- the pages, as a client uses them ----------------------------------------------------------------------------
Header = MessagesHeader


class DashboardPage:
    def __init__(self, page):
        self.page = page

    def open(self) -> DashboardPage:
        self.page.goto("/dashboard")
        return self

    def messages_badge(self) -> int:
        badge = self.page.locator(".tiles a", has_text="Messages").locator(".badge")
        return number(badge.inner_text()) if badge.count() else 0


class MessagesPage:
    def __init__(self, page):
        self.page = page

    def open(self) -> MessagesPage:
        Header(self.page).messages_link().click()
        self.page.wait_for_url("**/messages")
        return self

    def write(self, subject: str, body: str, files: list[dict] = ()) -> None:
        self.page.get_by_role("link", name="New message").click()
        self.page.get_by_label("Subject").fill(subject)
        self.page.get_by_role("textbox", name="Message", exact=True).fill(body)
        if files:
            self.page.get_by_label("Attach documents or images (optional)").set_input_files(list(files))
        self.page.get_by_role("button", name="Send message").click()

    def row(self, subject: str):
        return self.page.locator("ul.threads li", has_text=subject)

    def unread_total(self) -> int:
        return sum(number(text) for text in self.page.locator("ul.threads .badge").all_inner_texts())


class ThreadPage:
    def __init__(self, page):
        self.page = page

    def messages(self):
        return self.page.locator("ol.messages > li")

    def attachment(self, filename: str):
        return self.page.get_by_role("link", name=filename, exact=True)

    def reply(self, body: str, files: list[dict] = ()) -> None:
        self.page.get_by_label("Your reply").fill(body)
        if files:
            self.page.get_by_label("Attach documents or images (optional)").set_input_files(list(files))
        self.page.get_by_role("button", name="Send reply").click()


class NotificationsPage:
    def __init__(self, page):
        self.page = page

    def unread(self):
        return self.page.locator("li.notification-unread")

    def mark_read(self, item) -> None:
        item.get_by_role("button", name=re.compile(r"^Mark as read")).click()

    def mark_all_read(self) -> None:
        self.page.get_by_role("button", name="Mark all as read").click()


# --- the tests -----------------------------------------------------------------------------------------------------
def test_a_client_writes_with_a_pdf_reads_the_reply_and_prints_the_thread(stack, staff, page, context):
    client = registered_client(stack, staff, first_name="Harper")
    messaging_knows(stack, staff, client)
    sign_in(page, client)
    messages = MessagesPage(page).open()
    assert "You have no messages yet" in page.locator("main").inner_text()
    messages.write("Question about my visit", "Hello,\nmy notes from the visit are attached.",
                   [a_file("visit-notes.pdf", PDF, "application/pdf")])
    page.wait_for_url(re.compile(r".*/messages/[0-9a-f-]+$"))
    thread_id = page.url.rsplit("/", 1)[1]
    thread = ThreadPage(page)
    assert "Your message was sent to the practice." in page.get_by_role("status").first.inner_text()
    assert page.get_by_role("heading", level=1).inner_text() == "Question about my visit"
    assert thread.messages().count() == 1
    assert "Hello,\nmy notes from the visit are attached." in thread.messages().first.inner_text()
    with page.expect_download() as got:
        thread.attachment("visit-notes.pdf").click()
    download = got.value
    assert download.suggested_filename == "visit-notes.pdf"
    assert Path(download.path()).read_bytes() == PDF

    # the practice answers (the console's side is test_console_messages): the red badge, the menu and the list agree
    assert staff.get(f"{stack.api}/staff/messages/threads/{thread_id}").status_code == 200  # the practice reads it
    answered = staff.post(f"{stack.api}/staff/messages/threads/{thread_id}/messages",
                          json={"body": "Thank you, we have your notes."})
    assert answered.status_code == 201, answered.text
    dashboard = DashboardPage(page).open()
    assert dashboard.messages_badge() == 1
    assert Header(page).messages_count() == 1
    assert client.api.get(f"{stack.api}/portal/messages/unread-count").json()["unread"] == 1
    MessagesPage(page).open()
    assert messages.unread_total() == 1 and number(messages.row("Question about my visit")
                                                   .locator(".badge").inner_text()) == 1
    messages.row("Question about my visit").get_by_role("link").click()
    page.wait_for_url(f"**/messages/{thread_id}")
    assert thread.messages().count() == 2
    latest = thread.messages().nth(1).inner_text()
    assert "Practice Administrator" in latest and "Thank you, we have your notes." in latest
    assert "Read by the practice" in thread.messages().first.inner_text()  # opened by the practice
    # read now: the badge goes, everywhere
    assert Header(page).messages_count() == 0
    assert DashboardPage(page).open().messages_badge() == 0
    assert client.api.get(f"{stack.api}/portal/messages/unread-count").json()["unread"] == 0

    page.goto(f"/messages/{thread_id}")
    thread.reply("Great, thank you.", [a_file("photo.png", PNG, "image/png")])
    page.wait_for_url(f"**/messages/{thread_id}*")
    assert "Your reply was sent." in page.get_by_role("status").first.inner_text()
    assert thread.messages().count() == 3 and thread.attachment("photo.png").is_visible()

    # Print: the whole thread on a page of its own; its button prints (web.js), its stylesheet drops the chrome
    context.add_init_script(COUNT_PRINTS)
    page.get_by_role("link", name="Print").click()
    page.wait_for_url(f"**/messages/{thread_id}/print")
    printed = page.locator("main").inner_text()
    for text in ("Question about my visit", "my notes from the visit are attached.", "Thank you, we have your notes.",
                 "Great, thank you.", "visit-notes.pdf", "photo.png"):
        assert text in printed
    assert page.locator(".print-message").count() == 3
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__prints") == 1
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert not page.get_by_role("button", name="Print").is_visible()
    assert page.get_by_role("heading", level=1, name="Question about my visit").is_visible()
    page.emulate_media(media="screen")


def test_a_refused_file_shows_the_apis_sentence_and_keeps_what_was_typed(stack, staff, page):
    client = registered_client(stack, staff, first_name="Emerson")
    messaging_knows(stack, staff, client)
    sign_in(page, client)
    MessagesPage(page).open().write("Lab results", "Here are my results.",
                                    [a_file("results.pdf", b"only some text, not a PDF", "application/pdf")])
    alert = page.get_by_role("alert")
    assert "results.pdf" in alert.inner_text() and "Choose the files to attach again" in alert.inner_text()
    assert "results.pdf" in page.locator("#f-attachments-error").inner_text()
    assert page.get_by_label("Subject").input_value() == "Lab results"
    assert page.get_by_role("textbox", name="Message", exact=True).input_value() == "Here are my results."
    assert client.api.get(f"{stack.api}/portal/messages/threads").json()["items"] == []  # nothing was sent

    # a reply too: refused, the reply kept, the thread as it was
    thread = client_thread(stack, client, "Forms", "Which forms do I need?")
    page.goto(f"/messages/{thread['id']}")
    ThreadPage(page).reply("The form is attached.", [a_file("form.docx", b"plain words", "application/msword")])
    assert "form.docx" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Your reply").input_value() == "The form is attached."
    assert ThreadPage(page).messages().count() == 1


def test_another_client_cannot_open_the_thread(stack, staff, page):
    owner = registered_client(stack, staff, first_name="Jamie")
    messaging_knows(stack, staff, owner)
    thread = client_thread(stack, owner, "Private matter", "Only for my practice.", files=[("mine.pdf", PDF)])
    attachment_id = thread["messages"][0]["attachments"][0]["id"]
    other = registered_client(stack, staff, first_name="Kendall")
    sign_in(page, other)
    for path in (f"/messages/{thread['id']}", f"/messages/{thread['id']}/print"):
        answer = page.goto(path)
        assert answer.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
        assert "Only for my practice." not in page.content() and "Private matter" not in page.content()
    assert page.request.get(f"/messages/attachments/{attachment_id}").status == 404
    assert "Private matter" not in MessagesPage(page).open().page.locator("main").inner_text()


def test_the_bell_agrees_with_notifications_and_refreshes_in_the_background(stack, staff, service_code, page,
                                                                            context, sessions_redis):
    client = registered_client(stack, staff, first_name="Reese")
    invoice_for(stack, staff, client, service_code)  # "New invoice": a notification for the client
    unread_url = f"{stack.api}/portal/notifications/unread-count"
    eventually(lambda: client.api.get(unread_url).json()["unread"] >= 1, timeout=20, interval=0.2,
               message="the client's notification")
    page.clock.install()  # the page's timers (htmx's every 30s) run when the test says
    sign_in(page, client)
    header = Header(page)
    count = client.api.get(unread_url).json()["unread"]
    assert header.bell_count() == count
    header.bell().click()
    page.wait_for_url("**/notifications")
    notices = NotificationsPage(page)
    assert notices.unread().count() == count
    invoice_notice = notices.unread().filter(has_text="New invoice").first
    assert invoice_notice.get_by_role("link", name="New invoice").get_attribute("href").startswith(
        "/account/invoices/")

    # a new notification while the page is open: the bell's refresh shows it without a reload, as a background
    # request that leaves the idle clock where it was (the session's `seen`, put back two minutes to show a write)
    record = session_record(stack, context)
    before = f"{time.time() - 120:.3f}"
    sessions_redis.hset(record, "seen", before)
    page.evaluate("window.__same_page = true")
    invoice_for(stack, staff, client, service_code)
    eventually(lambda: client.api.get(unread_url).json()["unread"] > count, timeout=20, interval=0.2,
               message="the second notification")
    for attempt in range(3):  # a refresh on its way before the notification came shows the old count: the next one
        with page.expect_response(lambda r: r.url.endswith("/notifications/bell")) as polled:
            page.clock.run_for(31_000)
        assert polled.value.request.headers.get("x-portal-background") == "1"
        assert polled.value.status == 200
        try:
            expect(header.bell().locator(".bell-count")).not_to_have_text(re.compile(rf"^\s*{count}\b"),
                                                                         timeout=2000)
            break
        except AssertionError:
            if attempt == 2:
                raise
    assert header.bell_count() > count
    assert page.evaluate("window.__same_page") is True
    assert sessions_redis.hget(record, "seen").decode() == before

    # Mark as read, then Mark all as read: the bell and the list go down together
    page.reload()
    shown = header.bell_count()
    assert notices.unread().count() == shown == client.api.get(unread_url).json()["unread"]
    notices.mark_read(notices.unread().first)
    page.wait_for_url("**/notifications")
    assert header.bell_count() == shown - 1 == notices.unread().count()
    notices.mark_all_read()
    assert "All your notifications are marked as read." in page.get_by_role("status").first.inner_text()
    assert header.bell_count() == 0 and notices.unread().count() == 0
    page.get_by_role("navigation", name="Which notifications").get_by_role("link", name="Unread").click()
    assert "You have no unread notifications." in page.locator("main").inner_text()
    assert client.api.get(unread_url).json()["unread"] == 0
