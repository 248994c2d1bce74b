"""Pay Now in Chromium, through the processor's hosted card fields, as seed 000 walks it."""

from __future__ import annotations

import re

import pytest

from tests.e2e.browser.conftest import CARD_DECLINED, CARD_OK, fill_card, invoice_for, registered_client, sign_in
from tests.support.processes import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_new_card_pays_the_invoice_and_no_card_number_reaches_our_origin(stack, staff, service_code, page,
                                                                           card_watch):
    client = registered_client(stack, staff)
    invoice = invoice_for(stack, staff, client, service_code)
    sign_in(page, client)
    page.get_by_role("link", name="My Account", exact=True).first.click()
    page.get_by_role("link", name="Pay Now").click()
    page.get_by_label(re.compile("Total Balance")).check()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/pay/method")
    assert page.get_by_label("Add a new card").is_checked()  # no saved card yet
    fill_card(page, CARD_OK)
    page.get_by_label("Save this card for future payments").check()
    page.get_by_label("Set as default payment method").check()
    page.get_by_label("Note (optional)").fill("For the November session")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/pay/review")
    review = page.locator("main").inner_text()
    assert "$150.00" in review and "Visa ending 4242" in review and "Save this card for future payments" in review
    page.get_by_role("button", name="Submit Payment").click()
    page.wait_for_url(re.compile(r".*/account/payments/[0-9a-f-]+\?done=1$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Thank you, your payment is complete"
    assert page.get_by_role("button", name="Print receipt").is_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download receipt (PDF)").click()
    assert download.value.path().read_bytes().startswith(b"%PDF")

    # the ledger shows it; the invoice is paid; the card is on file as the default
    ledger = eventually(lambda: [e for e in staff.get(f"{stack.api}/staff/clients/{client.id}/ledger").json()["items"]
                                 if e["kind"] == "payment"], timeout=15, message="the payment on the ledger")
    assert ledger[0]["amount_cents"] == -15000
    assert client.api.get(f"{stack.api}/portal/invoices/{invoice['id']}").json()["balance_due_cents"] == 0
    cards = client.api.get(f"{stack.api}/portal/payment-methods").json()["items"]
    assert [(c["last4"], c["is_default"]) for c in cards] == [("4242", True)]

    # SAQ A: the number and the security code went to the processor's page only
    assert card_watch, "the page sent nothing to our origin?"
    for request in card_watch:
        assert CARD_OK not in request and "4242 4242" not in request and "cvc" not in request.lower()


def test_a_declined_card_says_so_and_another_card_pays(stack, staff, service_code, page):
    client = registered_client(stack, staff)
    invoice_for(stack, staff, client, service_code)
    sign_in(page, client)
    page.goto("/account/pay")
    page.get_by_role("button", name="Continue").click()
    fill_card(page, CARD_DECLINED)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Submit Payment").click()
    page.wait_for_url("**/account/pay/method?failed=1")
    assert "Your card was declined by its issuer. Try another card" in page.get_by_role("alert").first.inner_text()
    assert client.api.get(f"{stack.api}/portal/account").json()["balance_cents"] == 15000
    fill_card(page, CARD_OK)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Submit Payment").click()
    page.wait_for_url(re.compile(r".*/account/payments/[0-9a-f-]+\?done=1$"))
    payments = client.api.get(f"{stack.api}/portal/payments").json()["items"]
    assert sorted(p["status"] for p in payments) == ["failed", "succeeded"]


def test_a_saved_card_is_preselected_and_a_reload_of_submit_pays_once(stack, staff, service_code, page):
    client = registered_client(stack, staff)
    invoice_for(stack, staff, client, service_code, units=2)
    sign_in(page, client)
    # first a card on file, from Credit/Debit Cards on File
    page.goto("/account/cards")
    fill_card(page, CARD_OK)
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    assert "Visa ending 4242 saved." in page.locator("main").inner_text()
    page.goto("/account/pay")
    page.get_by_label("Custom Amount").check()
    page.get_by_label(re.compile("Payment amount")).fill("40.00")
    page.get_by_role("button", name="Continue").click()
    assert page.get_by_label(re.compile("Visa ending 4242")).is_checked()
    page.get_by_role("button", name="Continue").click()
    # submit the same attempt twice, as a double click or a reload after a lost answer would
    attempt = page.locator("input[name=attempt]").input_value()
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    first = page.request.post("/account/pay/submit", form={"attempt": attempt, "csrf_token": csrf})
    second = page.request.post("/account/pay/submit", form={"attempt": attempt, "csrf_token": csrf})
    assert first.ok and second.ok and first.url == second.url and "/account/payments/" in first.url
    payments = client.api.get(f"{stack.api}/portal/payments").json()["items"]
    assert [(p["amount_cents"], p["status"]) for p in payments] == [(4000, "succeeded")]


def test_a_custom_amount_above_the_balance_is_refused_as_typed_and_by_the_server(stack, staff, service_code, page):
    client = registered_client(stack, staff)
    invoice_for(stack, staff, client, service_code)
    sign_in(page, client)
    page.goto("/account/pay")
    page.get_by_label(re.compile("Payment amount")).fill("150.01")
    error = page.locator("#f-amount-error")
    assert error.inner_text() == "The amount cannot be more than your balance of $150.00."
    assert page.get_by_label("Custom Amount").is_checked()
    page.get_by_role("button", name="Continue").click()
    assert page.url.endswith("/account/pay")  # the script kept the form
    # without the script, the server refuses it the same way and keeps what was typed
    csrf = page.locator("input[name=csrf_token]").first.input_value()
    refused = page.request.post("/account/pay", form={"mode": "custom", "amount": "150.01", "csrf_token": csrf})
    assert refused.status == 422
    body = refused.text()
    assert "cannot be more than your balance of $150.00" in body and 'value="150.01"' in body
    assert client.api.get(f"{stack.api}/portal/payments").json()["items"] == []


def test_pay_now_with_the_keyboard_alone(stack, staff, service_code, page):
    client = registered_client(stack, staff)
    invoice_for(stack, staff, client, service_code)

    def tab_to(predicate, limit=60):
        for _ in range(limit):
            page.keyboard.press("Tab")
            if predicate():
                return
        raise AssertionError("never reached by Tab")

    focused = lambda: page.evaluate("document.activeElement && document.activeElement.textContent.trim()")  # noqa: E731
    field = lambda: page.evaluate("document.activeElement && document.activeElement.name")  # noqa: E731
    # Sign in: Tab to the e-mail field, type, Tab, type, Enter
    page.goto("/signin")
    tab_to(lambda: field() == "email")
    page.keyboard.type(client.email)
    page.keyboard.press("Tab")
    page.keyboard.type(client.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard")
    tab_to(lambda: focused() == "Pay Now")
    page.keyboard.press("Enter")
    page.wait_for_url("**/account/pay")
    tab_to(lambda: focused() == "Continue")
    page.keyboard.press("Enter")
    page.wait_for_url("**/account/pay/method")
    # into the processor's frame: its first field, then type and Tab through it
    tab_to(lambda: page.evaluate("document.activeElement && document.activeElement.tagName") == "IFRAME")
    frame = page.frame_locator("iframe.card-fields")
    for value in ("Morgan Lee", CARD_OK, "12/35", "123", "21204"):
        page.keyboard.type(value)
        page.keyboard.press("Tab")
    frame.locator("#postal_code").press("Enter")  # Enter in the card fields is Continue
    page.wait_for_url("**/account/pay/review")
    tab_to(lambda: focused() == "Submit Payment")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/account/payments/[0-9a-f-]+\?done=1$"))


def test_pay_now_is_not_offered_when_nothing_is_owed_and_the_page_says_why(stack, staff, service_code, page):
    client = registered_client(stack, staff)
    sign_in(page, client)
    page.goto("/account")
    assert page.get_by_role("link", name="Pay Now").count() == 0
    assert "Pay Now appears after an invoice has been generated" in page.locator("main").inner_text()
    page.goto("/account/pay")
    assert "You have no balance due, so there is nothing to pay." in page.locator("main").inner_text()


def test_pay_now_is_not_offered_when_the_practice_has_online_payments_off(stack, staff, service_code, page):
    client = registered_client(stack, staff)
    invoice_for(stack, staff, client, service_code)
    sign_in(page, client)
    assert staff.patch(f"{stack.api}/staff/settings", json={"online_payments_enabled": False}).status_code == 200
    try:
        eventually(lambda: not client.api.get(f"{stack.api}/portal/account").json()["pay_now"], timeout=15,
                   message="billing hears the switch")
        page.goto("/account")
        assert page.get_by_role("link", name="Pay Now").count() == 0
        assert "online payments are not turned on by your practice" in page.locator("main").inner_text()
        response = page.goto("/account/pay")
        assert response.status == 403
        assert "Please reach out to your practice to pay." in page.locator("main").inner_text()
    finally:
        assert staff.patch(f"{stack.api}/staff/settings", json={"online_payments_enabled": True}).status_code == 200
        eventually(lambda: client.api.get(f"{stack.api}/portal/account").json()["pay_now"], timeout=15,
                   message="online payments back on")


def test_cancel_at_any_step_returns_to_my_account_and_forgets_the_attempt(stack, staff, service_code, page):
    client = registered_client(stack, staff)
    invoice_for(stack, staff, client, service_code)
    sign_in(page, client)
    page.goto("/account/pay")
    page.get_by_label("Custom Amount").check()
    page.get_by_label(re.compile("Payment amount")).fill("12.00")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/account/pay/method")
    page.get_by_role("button", name="Cancel").click()  # no card typed: Cancel asks nothing of the card fields
    page.wait_for_url("**/account")
    page.goto("/account/pay")
    assert page.get_by_label(re.compile("Total Balance")).is_checked()  # the cancelled choice is gone
    assert page.request.get("/account/pay/cancel").status == 405  # a change of state is never a GET
    assert client.api.get(f"{stack.api}/portal/payments").json()["items"] == []
