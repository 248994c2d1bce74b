"""The browser tier: Playwright for Python driving Debian's Chromium (/usr/bin/chromium; no browser is downloaded)
through the real stack of tests/e2e/conftest.py, as a client and a staff member would click through it."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

import pytest
import redis
import requests

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, bearer
from tests.support import random_refs
from tests.support.processes import eventually

PASSWORD = "quiet-harbor-lantern-42"
CARD_OK, CARD_DECLINED = "4242424242424242", "4000000000000002"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="session")
def browser(chromium):
    return chromium


@pytest.fixture
def context(browser, stack):
    ctx = browser.new_context(base_url=stack.gateway, viewport={"width": 1100, "height": 900},
                              accept_downloads=True)
    ctx.set_default_timeout(15000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()


def admin_session(stack) -> requests.Session:
    http = requests.Session()
    answer = http.post(f"{stack.api}/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert answer.status_code == 200 and "access_token" in answer.json(), answer.text
    http.headers.update(bearer(answer.json()["access_token"]))
    return http


@pytest.fixture
def staff(stack):
    with admin_session(stack) as http:
        yield http


@pytest.fixture(scope="session")
def sessions_redis(stack):
    return redis.Redis.from_url(stack.env.get("WEB_SESSION_REDIS_URL", "redis://127.0.0.1:6379/0"))


@dataclass
class Client:
    id: str
    email: str
    password: str
    api: requests.Session  # the client's own API session (Bearer)


@pytest.fixture(scope="session")
def service_code(stack):
    with admin_session(stack) as http:
        assert http.patch(f"{stack.api}/staff/settings", json={"online_payments_enabled": True,
                                                               "billing_documents_enabled": True}).status_code == 200
        code = f"B{uuid.uuid4().hex[:6]}".upper()
        assert http.post(f"{stack.api}/staff/service-codes",
                         json={"code": code, "description": "Psychotherapy, 60 minutes", "rate_cents": 15000}
                         ).status_code == 201
        return code


def registered_client(stack, staff, first_name: str = "Morgan") -> Client:
    address = random_refs.email(first_name.lower())
    created = staff.post(f"{stack.api}/staff/clients", json={
        "first_name": first_name, "last_name": "Lee", "date_of_birth": "1980-03-03", "email": address})
    assert created.status_code == 201, (created.status_code, created.text)
    client_id = created.json()["id"]
    invited = staff.post(f"{stack.api}/staff/clients/{client_id}/invitation")
    assert invited.status_code in (200, 201), (invited.status_code, invited.text)
    url = invited.json()["invitation_url"]
    assert requests.post(f"{stack.api}/auth/register", json={
        "token": url.split("token=")[1], "last_name": "Lee", "date_of_birth": "1980-03-03",
        "password": PASSWORD}).status_code == 201
    signed_in = requests.post(f"{stack.api}/auth/login", json={"email": address, "password": PASSWORD})
    assert signed_in.status_code == 200, signed_in.text
    api = requests.Session()
    api.headers.update(bearer(signed_in.json()["access_token"]))
    return Client(client_id, address, PASSWORD, api)


def invoice_for(stack, staff, client: Client, code: str, units: int = 1) -> dict:
    """An invoice once billing knows the client (client.created), and once payments knows it is owed."""
    def invoiced():
        r = staff.post(f"{stack.api}/staff/invoices", json={"client_id": client.id, "lines": [
            {"service_code": code, "units": units}]})
        return r.json() if r.status_code == 201 else None

    invoice = eventually(invoiced, timeout=20, interval=0.2, message="billing knows the client")
    eventually(lambda: client.api.get(f"{stack.api}/portal/account").json().get("pay_now"), timeout=20,
               interval=0.2, message="Pay Now offered")
    return invoice


def sign_in(page, client: Client, *, then: str | None = None) -> None:
    page.goto("/signin" + (f"?next={then}" if then else ""))
    page.fill("#f-email", client.email)
    page.fill("#f-password", client.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(dashboard|account|my-information).*"))


def staff_sign_in(page) -> None:
    page.goto("/staff/signin")
    page.fill("#f-email", ADMIN_EMAIL)
    page.fill("#f-password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff(/home)?$"))


def fill_card(page, number: str, *, name: str = "Morgan Lee") -> None:
    frame = page.frame_locator("iframe.card-fields")
    frame.locator("#cardholder_name").fill(name)
    frame.locator("#card_number").fill(number)
    frame.locator("#exp").fill("12/35")
    frame.locator("#cvc").fill("123")
    frame.locator("#postal_code").fill("21204")


@pytest.fixture
def card_watch(page, stack):
    """Every request the page sends to our origin (:gateway), to look for a card number in any of them."""
    sent: list[str] = []

    def record(request):
        if request.url.startswith(stack.gateway):
            sent.append(f"{request.method} {request.url}\n{request.headers}\n{request.post_data or ''}")

    page.on("request", record)
    return sent


def session_record(stack, context) -> str:
    """The Redis hash of the context's browser session (gateway/web/session.py names it by a hash of the cookie)."""
    cookie = next(c for c in context.cookies() if c["name"] == "portal_session")["value"]
    return f"{stack.env['WEB_SESSION_PREFIX']}session:" + hashlib.sha256(
        b"web-session-record:" + cookie.encode()).hexdigest()


# --- Messages ------------------------------------------------------------------------------------------------------
# Files as messaging sees them: the type is read from the bytes (a PDF starts with %PDF, a PNG with its signature).
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def a_file(name: str, data: bytes, mime: str = "application/octet-stream") -> dict:
    """What Playwright's set_input_files takes for a file made in the test."""
    return {"name": name, "mimeType": mime, "buffer": data}


def messaging_knows(stack, staff, client: Client) -> None:
    """Messaging has the client in its directory (client.created reached it): its "Client registered" notice for
    the practice, made from the event after it, is there. Until then a client's new message is a 503."""
    link = f"/staff/clients/{client.id}"

    def known():
        answer = staff.get(f"{stack.api}/staff/notifications", params={"limit": 200})
        return answer.status_code == 200 and any(n.get("link") == link for n in answer.json()["items"])

    eventually(known, timeout=20, interval=0.2, message="messaging knows the client")


def client_thread(stack, client: Client, subject: str, body: str, files: list[tuple[str, bytes]] = ()) -> dict:
    """A thread the client starts through the API (multipart with `attachments` when there are files)."""
    url = f"{stack.api}/portal/messages/threads"
    if files:
        answer = client.api.post(url, data={"subject": subject, "body": body},
                                 files=[("attachments", (name, data)) for name, data in files])
    else:
        answer = client.api.post(url, json={"subject": subject, "body": body})
    assert answer.status_code == 201, (answer.status_code, answer.text)
    return answer.json()


# --- Messages and the bell, as both headers show them (test_portal_messages, test_console_messages) -----------------
# Counts window.print() calls (an init script runs before the page's own, whatever its Content-Security-Policy).
COUNT_PRINTS = "window.__prints = 0; window.print = function () { window.__prints += 1; };"


def number(text: str) -> int:
    """A badge's number ("2 unread" to screen readers)."""
    return int(re.match(r"\s*(\d+)", text).group(1))


class MessagesHeader:
    """The header's Messages link and bell, with their counts; `nav` names the menu (Main in the portal)."""

    nav = "Main"

    def __init__(self, page):
        self.page = page

    def messages_link(self):
        return self.page.get_by_role("navigation", name=self.nav).get_by_role("link", name=re.compile(r"^Messages"))

    def messages_count(self) -> int:
        badge = self.messages_link().locator(".badge")
        return number(badge.inner_text()) if badge.count() else 0

    def bell(self):
        return self.page.get_by_role("link", name=re.compile(r"^Notifications"))

    def bell_count(self) -> int:
        badge = self.bell().locator(".bell-count")
        return number(badge.inner_text()) if badge.count() else 0
