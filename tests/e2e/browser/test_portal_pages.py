"""The portal and the console in Chromium: registering from the e-mailed link, the session cookie, My Information
reviewed in the console, an invoice made in the console, and the refusals (CSRF, another client's objects, an ended
session, a service that is down)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time

import pyotp
import pytest
import requests
from cryptography.fernet import Fernet

from tests.e2e.browser.conftest import (
    PASSWORD,
    invoice_for,
    registered_client,
    session_record,
    sign_in,
    staff_sign_in,
)
from tests.support import random_refs
from tests.support.processes import eventually, wait_http

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def link_in(stack, address: str, path: str) -> str:
    def found():
        for mail in stack.mails_to(address):
            match = re.search(r"(http://\S+" + re.escape(path) + r"\?token=[\w.-]+)", mail.get_body(("plain",))
                              .get_content())
            if match:
                return match.group(1)
        return None

    return eventually(found, timeout=20, message=f"a mail to {address} with {path}")


def test_register_from_the_emailed_link_then_sign_in_and_logout(stack, staff, page, context):
    address = random_refs.email("register")
    client_id = staff.post(f"{stack.api}/staff/clients", json={
        "first_name": "Robin", "last_name": "Hale", "date_of_birth": "1985-06-01", "email": address}).json()["id"]
    assert staff.post(f"{stack.api}/staff/clients/{client_id}/invitation").status_code == 201
    page.goto(link_in(stack, address, "/register"))
    page.get_by_label("Last name").fill("Wrong")
    page.get_by_label("Date of birth").fill("1985-06-01")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    assert page.get_by_role("alert").is_visible()
    assert page.get_by_label("Last name").input_value() == "Wrong"  # what was typed is kept
    page.get_by_label("Last name").fill("Hale")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    assert page.get_by_role("heading", name="You are registered").is_visible()
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail").fill(address)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")
    assert page.get_by_role("heading", level=1).inner_text() == "Welcome, Robin"

    # the session: one HttpOnly, SameSite=Lax cookie (no Secure over plain HTTP); nothing the page can read
    cookie = next(c for c in context.cookies() if c["name"] == "portal_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"] and cookie["path"] == "/"
    assert "portal_session" not in page.evaluate("document.cookie")
    assert "eyJ" not in page.content() and "eyJ" not in page.url

    # Logout at the top right: the session ends everywhere, the old cookie opens nothing
    page.get_by_role("button", name="Logout").click()
    page.wait_for_url("**/signin")
    replay = requests.get(f"{stack.gateway}/dashboard", cookies={"portal_session": cookie["value"]},
                          allow_redirects=False)
    assert replay.status_code == 302 and "/signin" in replay.headers["Location"]


def test_my_information_is_edited_and_the_practice_accepts_it_in_the_console(stack, staff, page, browser):
    client = registered_client(stack, staff, first_name="Jordan")
    sign_in(page, client)
    page.get_by_role("link", name="My Information", exact=True).first.click()
    assert page.get_by_text("Jordan Lee").is_visible()  # names and date of birth: read-only
    assert page.locator("input[name=first_name]").count() == 0
    page.get_by_label("Phone", exact=True).fill("not a phone")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#f-phone-error").is_visible()
    assert page.get_by_label("Phone", exact=True).get_attribute("aria-describedby") == "f-phone-error"
    assert page.get_by_label("Phone", exact=True).input_value() == "not a phone"
    assert client.api.get(f"{stack.api}/portal/me").json()["phone"] is None  # nothing written
    page.get_by_label("Phone", exact=True).fill("+1 410 555 0142")
    page.locator("#section-address summary").click()
    page.get_by_label("City").fill("Baltimore")
    page.get_by_role("button", name="Save").click()
    assert "Your practice reviews changes" in page.get_by_role("status").first.inner_text()
    me = client.api.get(f"{stack.api}/portal/me").json()
    assert me["phone"] == "+1 410 555 0142" and me["address"]["city"] == "Baltimore"

    staff_ctx = browser.new_context(base_url=stack.gateway)
    try:
        console = staff_ctx.new_page()
        staff_sign_in(console)
        console.get_by_role("link", name="Review queue").first.click()
        change = console.locator("section.card", has_text="Jordan Lee").first
        eventually(lambda: (console.reload(), change.count())[1], timeout=15, message="the change in the queue")
        assert "Baltimore" in change.inner_text()
        change.get_by_role("button", name=re.compile("^Accept")).click()
        console.wait_for_load_state()
        pending = staff.get(f"{stack.api}/staff/profile-changes", params={"status": "pending"}).json()["items"]
        assert not [c for c in pending if c["client_id"] == client.id]
    finally:
        staff_ctx.close()


def test_staff_make_an_invoice_in_the_console_and_the_client_sees_it(stack, staff, service_code, page, browser):
    client = registered_client(stack, staff, first_name="Casey")
    eventually(lambda: staff.get(f"{stack.api}/staff/clients/{client.id}/account").status_code == 200, timeout=20,
               message="billing knows the client")
    staff_ctx = browser.new_context(base_url=stack.gateway)
    try:
        console = staff_ctx.new_page()
        staff_sign_in(console)
        console.goto(f"/staff/clients/{client.id}/invoices/new")
        console.get_by_label("Service, line 1").select_option(service_code)
        console.get_by_label("Units, line 1").fill("1")
        console.get_by_role("button", name="Issue invoice").click()
        console.wait_for_load_state()
        assert "$150.00" in console.locator("main").inner_text()
    finally:
        staff_ctx.close()
    eventually(lambda: client.api.get(f"{stack.api}/portal/account").json()["balance_cents"] == 15000, timeout=20,
               message="the balance")
    sign_in(page, client)
    page.goto("/account/invoices")
    page.get_by_role("link", name=re.compile(r"Invoice #\d+")).first.click()
    text = page.locator("main").inner_text()
    assert "Psychotherapy, 60 minutes" in text and "Balance due" in text and "$150.00" in text


def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_written(stack, staff, page):
    client = registered_client(stack, staff)
    sign_in(page, client)
    refused = page.request.post("/my-information", form={"phone": "+1 410 555 0199"}, max_redirects=0)
    assert refused.status == 403 and "did not come from this site" in refused.text()
    wrong = page.request.post("/my-information", form={"phone": "+1 410 555 0199", "csrf_token": "0" * 64})
    assert wrong.status == 403
    htmx = page.request.post("/account/cards", form={"processor_token": "tok_x"}, headers={"HX-Request": "true"})
    assert htmx.status == 403
    assert client.api.get(f"{stack.api}/portal/me").json()["phone"] is None
    cards = client.api.get(f"{stack.api}/portal/payment-methods")
    assert cards.status_code == 200, (cards.status_code, cards.text)
    assert cards.json()["items"] == []


def test_another_clients_invoice_or_payment_is_a_404_page(stack, staff, service_code, page):
    owner = registered_client(stack, staff, first_name="Owner")
    invoice = invoice_for(stack, staff, owner, service_code)
    other = registered_client(stack, staff, first_name="Other")
    sign_in(page, other)
    for path in (f"/account/invoices/{invoice['id']}", "/account/payments/00000000-0000-4000-8000-000000000000",
                 f"/account/documents/{invoice['id']}.pdf"):
        response = page.goto(path)
        assert response.status == 404, path
        assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
        assert "Invoice #" not in page.locator("main").inner_text()


def test_an_ended_session_goes_to_sign_in_and_back_to_the_page(stack, staff, page, context, sessions_redis):
    client = registered_client(stack, staff)
    sign_in(page, client)
    record = session_record(stack, context)
    assert sessions_redis.exists(record)
    sessions_redis.hset(record, "seen", repr(time.time() - 16 * 60))  # as if idle for 16 minutes
    page.goto("/account/payments?from=2026-01-01")
    assert "/signin" in page.url and "reason=idle" in page.url
    assert "signed out after 15 minutes without activity" in page.get_by_role("status").first.inner_text()
    assert not sessions_redis.exists(record)  # ended (and its refresh token revoked)
    page.get_by_label("E-mail").fill(client.email)
    page.get_by_label("Password").fill(client.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/account/payments?from=2026-01-01")


def test_a_service_that_is_down_shows_that_part_unavailable_and_the_rest(stack, staff, page):
    client = registered_client(stack, staff)
    sign_in(page, client)
    payments = stack.processes["payments"]
    payments.stop()
    try:
        response = page.goto("/account")
        assert response.status == 200
        text = page.locator("main").inner_text()
        assert "Cards on file is unavailable right now" in text and "Balance" in text
        assert page.get_by_role("heading", name="Unpaid invoices").is_visible()
    finally:
        payments.start()
        wait_http(stack.env["PAYMENTS_URL"] + "/readyz", payments)


def test_staff_set_up_two_factor_with_a_qr_code_and_sign_in_with_a_code(stack, staff, browser):
    address = random_refs.email("staff")
    assert staff.post(f"{stack.api}/staff/users", json={"email": address, "password": PASSWORD + "-staff",
                                                        "first_name": "Sam", "last_name": "Staff",
                                                        "role": "staff"}).status_code == 201
    ctx = browser.new_context(base_url=stack.gateway)
    try:
        page = ctx.new_page()
        page.goto("/staff/signin")
        page.get_by_label("E-mail").fill(address)
        page.get_by_label("Password").fill(PASSWORD + "-staff")
        page.get_by_role("button", name="Sign in").click()
        page.goto("/staff/security")
        page.get_by_label("Your password").fill(PASSWORD + "-staff")
        page.get_by_role("button", name="Set up two-factor sign-in").click()
        assert page.locator(".qr svg").is_visible()
        secret = page.locator("main code").inner_text()
        totp = pyotp.TOTP(secret)
        page.get_by_label("The 6-digit code the app shows").fill(totp.now())
        page.get_by_label("Your password").fill(PASSWORD + "-staff")
        page.get_by_role("button", name="Turn on").click()
        assert "Two-factor sign-in is on" in page.locator("main").inner_text()
        page.get_by_role("button", name="Logout").click()
        page.get_by_label("E-mail").fill(address)
        page.get_by_label("Password").fill(PASSWORD + "-staff")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_label("Code").fill("000000")
        page.get_by_role("button", name="Verify").click()
        assert page.locator("#f-code-error").is_visible()
        page.get_by_label("Code").fill(totp.at(time.time() + 30))  # the next window: the first code is spent
        page.get_by_role("button", name="Verify").click()
        page.wait_for_url(re.compile(r".*/staff(/home)?$"))
    finally:
        ctx.close()


def test_a_client_cannot_open_the_console(stack, staff, page):
    client = registered_client(stack, staff)
    sign_in(page, client)
    response = page.goto("/staff/clients")
    assert response.status == 403
    assert "for the practice's staff" in page.locator("main").inner_text()


def test_idle_warns_a_minute_before_and_then_signs_out(stack, staff, page, context, sessions_redis):
    client = registered_client(stack, staff)
    page.clock.install()
    sign_in(page, client)
    page.goto("/account/history")
    dialog = page.get_by_role("dialog", name="Are you still there?")
    page.clock.fast_forward("13:30")
    assert not dialog.is_visible()
    page.clock.fast_forward("00:31")  # 14 minutes: the warning
    assert dialog.is_visible()
    page.get_by_role("button", name="Stay signed in").click()
    dialog.wait_for(state="hidden")
    page.clock.fast_forward("14:10")  # the clock started again with Stay signed in
    assert dialog.is_visible()
    # now idle for real on the server too, and the page's 15 minutes end
    sessions_redis.hset(session_record(stack, context), "seen", repr(time.time() - 16 * 60))
    page.clock.fast_forward("01:00")
    page.wait_for_url(re.compile(r".*/signin\?.*reason=idle.*"))
    assert "without activity" in page.get_by_role("status").first.inner_text()


def test_a_new_sign_in_e_mail_needs_the_password_and_the_session_goes_on(stack, staff, page):
    client = registered_client(stack, staff, first_name="Quinn")
    sign_in(page, client)
    page.goto("/my-information")
    new_address = "new." + client.email
    page.get_by_label("E-mail").fill(new_address)
    page.get_by_role("button", name="Save").click()
    assert page.locator("#f-password-error").is_visible()  # tied to the password field, which it names
    assert page.get_by_label("E-mail").input_value() == new_address
    assert client.api.get(f"{stack.api}/portal/me").status_code == 200  # nothing changed: the old token works
    page.get_by_label("Current password").fill(client.password)
    page.get_by_role("button", name="Save").click()
    assert "Your practice reviews changes" in page.get_by_role("status").first.inner_text()
    page.goto("/account")  # the browser's session carried on with identity's new one
    assert page.get_by_role("heading", name="My Account").is_visible()
    assert page.url.endswith("/account")


def test_the_gateway_refreshes_the_tokens_itself_and_a_stolen_refresh_token_ends_the_session(
        stack, staff, page, context, sessions_redis):
    client = registered_client(stack, staff)
    sign_in(page, client)
    record = session_record(stack, context)
    cookie = next(c for c in context.cookies() if c["name"] == "portal_session")["value"]
    fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(b"web-session-key:" + cookie.encode()).digest()))
    tokens = json.loads(fernet.decrypt(sessions_redis.hget(record, "tokens")))
    first_refresh = tokens["refresh_token"]
    tokens["access_expires_at"] = time.time()  # the access token is due: the next page refreshes it
    sessions_redis.hset(record, "tokens", fernet.encrypt(json.dumps(tokens).encode()))
    page.goto("/account")
    assert page.get_by_role("heading", name="My Account").is_visible()
    renewed = json.loads(fernet.decrypt(sessions_redis.hget(record, "tokens")))
    assert renewed["refresh_token"] != first_refresh and renewed["access_expires_at"] > time.time() + 600
    # the first refresh token is spent: sent again (stolen), identity ends the whole session, this browser's too
    assert requests.post(f"{stack.api}/auth/refresh", json={"refresh_token": first_refresh}).status_code == 401
    eventually(lambda: "/signin" in (page.goto("/account/payments") and page.url), timeout=10,
               message="the ended session sent to Sign in")


def test_account_history_filters_and_sorts_in_place(stack, staff, service_code, page):
    client = registered_client(stack, staff, first_name="Harper")
    first = invoice_for(stack, staff, client, service_code)
    second = staff.post(f"{stack.api}/staff/invoices", json={"client_id": client.id, "lines": [
        {"service_code": service_code, "units": 2}]}).json()
    sign_in(page, client)
    page.goto("/account/history")
    rows = page.locator("#history-rows tr")
    assert rows.count() == 2 and f"#{second['number']:06d}" in rows.first.inner_text()  # newest first
    page.get_by_label("Order").select_option("oldest")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/account/history?*order=oldest*")  # htmx swapped the table and kept the address
    assert f"#{first['number']:06d}" in rows.first.inner_text()
    assert page.get_by_role("heading", name="Account history").count() == 1  # the table only, not a page in a page
    page.get_by_label("Kind").select_option("payment")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/account/history?*kind=payment*")
    assert "No entries." in page.locator("#history").inner_text()
    page.get_by_label("From").fill("2026-12-31")
    page.get_by_label("To").fill("2026-01-01")
    page.get_by_role("button", name="Filter").click()
    refused = page.locator("#history").get_by_role("alert")
    refused.wait_for()  # the API's field error (422), swapped in where the table was
    assert "Check the dates" in refused.inner_text()
