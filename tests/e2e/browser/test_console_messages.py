"""Messages in the console, in Chromium through the real stack: a client's message with a PDF is unread in the
practice inbox (Messages in the menu counts it, the filters find it), staff open it, download the PDF, assign the
thread and reply with a file, and the client has it; a new message from the client's chart, its print view, and a
refused file that keeps the reply typed; the practice's bell agrees with the Notifications page and Mark as read;
and Settings' "E-mail the client about an unread message after (minutes)"."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.browser.conftest import (
    COUNT_PRINTS,
    PDF,
    PNG,
    MessagesHeader,
    a_file,
    client_thread,
    messaging_knows,
    number,
    registered_client,
    staff_sign_in,
)
from tests.support.processes import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
ADMIN_NAME = "Practice Administrator"
DELAY_LABEL = "E-mail the client about an unread message after (minutes)"



# --- the pages, as staff use them ----------------------------------------------------------------------------------
class Header(MessagesHeader):
    nav = "Console"


class InboxPage:
    def __init__(self, page):
        self.page = page

    def open(self) -> InboxPage:
        Header(self.page).messages_link().click()
        self.page.wait_for_url("**/staff/messages")
        return self

    def show(self, *, client: str | None = None, unread: bool = False, assigned_to: str | None = None) -> None:
        if client is not None:
            self.page.get_by_label("Client (name, e-mail or phone)").fill(client)
        if assigned_to is not None:
            self.page.get_by_label("Assigned to").select_option(label=assigned_to)
        self.page.get_by_label("Unread only").set_checked(unread)
        self.page.get_by_role("button", name="Show").click()
        self.page.wait_for_load_state()

    def row(self, subject: str):
        return self.page.locator("table.inbox tbody tr", has_text=subject)


class ThreadPage:
    def __init__(self, page):
        self.page = page

    def messages(self):
        return self.page.locator("ol.messages > li")

    def attachment(self, filename: str):
        return self.page.get_by_role("link", name=filename, exact=True)

    def assign(self, name: str) -> None:
        self.page.get_by_label("Assign to").select_option(label=name)
        self.page.get_by_role("button", name="Assign", exact=True).click()

    def reply(self, body: str, files: list[dict] = ()) -> None:
        self.page.get_by_label("Your reply").fill(body)
        if files:
            self.page.get_by_label("Attach documents or images (optional)").set_input_files(list(files))
        self.page.get_by_role("button", name="Send reply").click()


def staff_unread(stack, staff) -> int:
    return staff.get(f"{stack.api}/staff/messages/unread-count").json()["unread"]


# --- the tests -----------------------------------------------------------------------------------------------------
def test_staff_find_a_clients_message_unread_open_it_assign_it_and_reply(stack, staff, page):
    client = registered_client(stack, staff, first_name="Rowan")
    messaging_knows(stack, staff, client)
    # a scan larger than what the gateway reads whole (256 KB): its download streams through
    scan = PDF + b"%" + bytes(range(256)) * 6000
    thread = client_thread(stack, client, "Insurance letter", "Please see the letter from my insurer.",
                           files=[("letter.pdf", PDF), ("scan.pdf", scan)])
    staff_sign_in(page)
    header = Header(page)
    assert header.messages_count() == staff_unread(stack, staff) >= 1

    inbox = InboxPage(page).open()
    inbox.show(client=client.email, unread=True)  # one client matches the e-mail: their threads
    row = inbox.row("Insurance letter")
    assert row.count() == 1
    assert "Rowan Lee" in row.inner_text() and number(row.locator(".badge").inner_text()) == 1
    row.get_by_role("link", name="Insurance letter").click()
    page.wait_for_url(f"**/staff/messages/{thread['id']}")
    view = ThreadPage(page)
    assert "Please see the letter from my insurer." in view.messages().first.inner_text()
    with page.expect_download() as got:
        view.attachment("letter.pdf").click()
    assert got.value.suggested_filename == "letter.pdf" and Path(got.value.path()).read_bytes() == PDF
    with page.expect_download() as got:
        view.attachment("scan.pdf").click()
    assert got.value.suggested_filename == "scan.pdf" and Path(got.value.path()).read_bytes() == scan
    # opened: read for the whole practice, so Unread only no longer lists it
    unread_threads = staff.get(f"{stack.api}/staff/messages/threads",
                               params={"client_id": client.id, "unread": "true"}).json()["items"]
    assert unread_threads == []

    view.assign(f"{ADMIN_NAME} (admin)")
    assert f"Assigned to {ADMIN_NAME}." in page.get_by_role("status").first.inner_text()
    assert ADMIN_NAME in page.locator(".thread-facts").inner_text()

    view.reply("We have it, thank you.\nWe will call you this week.",
               [a_file("next-steps.txt", b"Bring your insurance card.", "text/plain")])
    page.wait_for_url(f"**/staff/messages/{thread['id']}*")
    assert "Your reply was sent to the client." in page.get_by_role("status").first.inner_text()
    assert view.messages().count() == 2 and view.attachment("next-steps.txt").is_visible()
    seen = client.api.get(f"{stack.api}/portal/messages/threads/{thread['id']}").json()
    latest = seen["messages"][-1]
    assert latest["sender_role"] == "staff" and latest["body"].startswith("We have it, thank you.")
    assert [a["filename"] for a in latest["attachments"]] == ["next-steps.txt"]

    # the filters: Assigned to finds it, Unread only does not (the practice read it)
    inbox.open()
    inbox.show(client=client.email, assigned_to=ADMIN_NAME)
    assert inbox.row("Insurance letter").count() == 1 and ADMIN_NAME in inbox.row("Insurance letter").inner_text()
    page.get_by_label("Unread only").check()
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert inbox.row("Insurance letter").count() == 0
    assert "No threads, unread only" in page.locator("main").inner_text()


def test_a_new_message_from_the_clients_chart_its_print_view_and_a_refused_file(stack, staff, page, context):
    client = registered_client(stack, staff, first_name="Dakota")
    messaging_knows(stack, staff, client)
    staff_sign_in(page)
    page.goto(f"/staff/clients/{client.id}")
    page.get_by_role("link", name="New message").click()
    page.wait_for_url(f"**/staff/messages/new?client_id={client.id}")
    assert "Dakota Lee" in page.get_by_role("region", name="To").inner_text()
    page.get_by_label("Subject").fill("Your intake forms")
    page.get_by_role("textbox", name="Message", exact=True).fill("Please bring the attached map.")
    page.get_by_label("Attach documents or images (optional)").set_input_files([a_file("map.png", PNG,
                                                                                          "image/png")])
    page.get_by_role("button", name="Send message").click()
    page.wait_for_url(re.compile(r".*/staff/messages/[0-9a-f-]+$"))
    thread_id = page.url.rsplit("/", 1)[1]
    assert "Your message was sent to the client." in page.get_by_role("status").first.inner_text()
    assert client.api.get(f"{stack.api}/portal/messages/unread-count").json()["unread"] == 1
    listed = client.api.get(f"{stack.api}/portal/messages/threads").json()["items"]
    assert [(t["id"], t["subject"], t["unread_count"]) for t in listed] == [(thread_id, "Your intake forms", 1)]

    # a reply whose file is not what its name says: refused by the API, the reply kept, nothing sent
    view = ThreadPage(page)
    view.reply("And the consent form.", [a_file("consent.pdf", b"words, not a PDF", "application/pdf")])
    assert "consent.pdf" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Your reply").input_value() == "And the consent form."
    assert view.messages().count() == 1

    # Print
    context.add_init_script(COUNT_PRINTS)
    page.goto(f"/staff/messages/{thread_id}")
    page.get_by_role("link", name="Print").click()
    page.wait_for_url(f"**/staff/messages/{thread_id}/print")
    text = page.locator("main").inner_text()
    assert "Secure messages with Dakota Lee" in text and "Please bring the attached map." in text and "map.png" in text
    page.get_by_role("button", name="Print").click()
    assert page.evaluate("window.__prints") == 1
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.get_by_role("button", name="Print").is_visible()
    assert page.get_by_role("heading", level=1, name="Your intake forms").is_visible()
    page.emulate_media(media="screen")


def test_the_practices_bell_agrees_with_notifications_and_mark_as_read(stack, staff, page):
    client = registered_client(stack, staff, first_name="Sawyer")
    messaging_knows(stack, staff, client)  # its "Client registered" notice is there
    unread_url = f"{stack.api}/staff/notifications/unread-count"
    staff_sign_in(page)
    header = Header(page)

    def agree():  # other tests' events may still be arriving: the bell and the API agree on one page
        page.reload()
        return header.bell_count() == staff.get(unread_url).json()["unread"]

    eventually(agree, timeout=20, interval=0.5, message="the bell shows the API's count")
    header.bell().click()
    page.wait_for_url("**/staff/notifications")
    notice = page.locator("li.notification", has_text="Sawyer Lee registered")
    assert notice.count() == 1 and "notification-unread" in notice.get_attribute("class")
    assert notice.get_by_role("link", name="Client registered").get_attribute("href") == f"/staff/clients/{client.id}"
    notice.get_by_role("button", name=re.compile(r"^Mark as read")).click()
    page.wait_for_url("**/staff/notifications")
    assert "notification-unread" not in notice.get_attribute("class")
    unread = staff.get(f"{stack.api}/staff/notifications", params={"unread": "true", "limit": 200}).json()["items"]
    assert f"/staff/clients/{client.id}" not in [n["link"] for n in unread]
    eventually(agree, timeout=20, interval=0.5, message="the bell shows the API's count")
    page.get_by_role("button", name="Mark all as read").click()
    assert "All the practice's notifications are marked as read." in page.get_by_role("status").first.inner_text()
    assert page.locator("li.notification-unread", has_text="Sawyer Lee").count() == 0
    eventually(agree, timeout=20, interval=0.5, message="the bell shows the API's count")


def test_the_client_email_delay_is_set_in_settings(stack, staff, page):
    url = f"{stack.api}/staff/messaging-settings"
    before = staff.get(url).json()["client_email_delay_minutes"]
    try:
        staff_sign_in(page)
        page.goto("/staff/settings")
        delay = page.get_by_label(DELAY_LABEL)
        assert delay.input_value() == str(before)
        delay.fill("2000")
        page.get_by_role("button", name="Save messaging setting").click()
        assert page.locator("#f-client_email_delay_minutes-error").is_visible()
        assert page.get_by_label(DELAY_LABEL).input_value() == "2000"
        assert staff.get(url).json()["client_email_delay_minutes"] == before
        page.get_by_label(DELAY_LABEL).fill("5")
        page.get_by_role("button", name="Save messaging setting").click()
        assert "still unread after 5 minutes" in page.get_by_role("status").first.inner_text()
        assert staff.get(url).json()["client_email_delay_minutes"] == 5
        assert page.get_by_label(DELAY_LABEL).input_value() == "5"
    finally:
        assert staff.patch(url, json={"client_email_delay_minutes": before}).status_code == 200
