"""The staff console's pages (/staff) by real HTTP through the gateway, as a browser without JavaScript uses them:
signed in through the Sign in form, every POST with the page's csrf_token, each outcome checked through the API."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, bearer
from tests.support import random_refs
from tests.support.processes import eventually

pytestmark = pytest.mark.e2e
PASSWORD = "console-client-passphrase-77"


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert match, "no csrf_token in the page"
    return match.group(1)


def signed_in(stack, email: str, password: str, *, staff: bool = True) -> requests.Session:
    browser = requests.Session()
    browser.headers["Accept"] = "text/html"
    path = "/staff/signin" if staff else "/signin"
    form = browser.get(f"{stack.gateway}{path}")
    assert form.status_code == 200
    done = browser.post(f"{stack.gateway}{path}", data={"csrf_token": csrf_of(form.text), "email": email,
                                                        "password": password})
    assert done.status_code == 200, done.text[:500]
    return browser


def post(browser: requests.Session, stack, path: str, data: dict, *, page: str | None = None,
         follow: bool = False) -> requests.Response:
    """A form's POST with the csrf_token of the page it is on (`page`, by default the form's own path)."""
    token = csrf_of(browser.get(f"{stack.gateway}{page or path}").text)
    return browser.post(f"{stack.gateway}{path}", data={"csrf_token": token, **data}, allow_redirects=follow)


@pytest.fixture
def console(stack):
    with signed_in(stack, ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        yield browser


@pytest.fixture
def staff(admin_token):
    return bearer(admin_token)


def find_clients(stack, staff, q: str) -> list[dict]:
    return requests.get(f"{stack.api}/staff/clients", params={"q": q}, headers=staff, timeout=10).json()["items"]


def new_client(console, stack, staff, **fields) -> str:
    data = {"first_name": "Avery", "last_name": "Console", "date_of_birth": "1985-06-01",
            "email": random_refs.email("console"), **fields}
    done = post(console, stack, "/staff/clients/new", data)
    assert done.status_code == 302, done.text[:800]
    client_id = done.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    # billing learns of the client from client.created
    eventually(lambda: requests.get(f"{stack.api}/staff/clients/{client_id}/account", headers=staff,
                                    timeout=10).status_code == 200, timeout=15, message="billing knows the client")
    return client_id


def service_code(console, stack, rate: str = "150.00") -> str:
    code = f"W{uuid.uuid4().hex[:6]}".upper()
    done = post(console, stack, "/staff/service-codes", {"code": code, "description": "Psychotherapy, 45 minutes",
                                                         "rate": rate})
    assert done.status_code == 302, done.text[:800]
    return code


def test_a_new_client_with_a_missing_field_keeps_what_was_typed_and_makes_nothing(console, stack, staff):
    address = random_refs.email("missing")
    refused = post(console, stack, "/staff/clients/new", {"first_name": "Quinn", "last_name": "",
                                                          "date_of_birth": "1979-02-03", "email": address,
                                                          "address.city": "Towson"})
    assert refused.status_code == 422
    page = refused.text
    assert 'id="f-last_name-error"' in page and 'aria-describedby="f-last_name-error"' in page
    assert 'value="Quinn"' in page and f'value="{address}"' in page and 'value="Towson"' in page
    assert 'value="1979-02-03"' in page
    assert find_clients(stack, staff, address) == []

    # The API's own field problems come back next to their fields the same way.
    bad = post(console, stack, "/staff/clients/new", {"first_name": "Quinn", "last_name": "Ode",
                                                      "date_of_birth": "1979-02-03", "email": "not-an-address"})
    assert bad.status_code == 422 and 'id="f-email-error"' in bad.text and 'value="not-an-address"' in bad.text
    assert find_clients(stack, staff, "not-an-address") == []


def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(console, stack, staff):
    address = random_refs.email("nocsrf")
    refused = console.post(f"{stack.gateway}/staff/clients/new", data={
        "first_name": "Nora", "last_name": "Forged", "date_of_birth": "1990-01-01", "email": address},
        allow_redirects=False)
    assert refused.status_code == 403 and "did not come from this site" in refused.text
    forged = console.post(f"{stack.gateway}/staff/clients/new", allow_redirects=False, data={
        "csrf_token": "0" * 64, "first_name": "Nora", "last_name": "Forged", "date_of_birth": "1990-01-01",
        "email": address})
    assert forged.status_code == 403
    assert find_clients(stack, staff, address) == []


def test_the_chart_invitation_invoice_ledger_and_write_off(console, stack, staff):
    client_id = new_client(console, stack, staff, first_name="Robin", last_name="Chart")
    chart = console.get(f"{stack.gateway}/staff/clients/{client_id}")
    assert chart.status_code == 200 and "<h1>Robin Chart" in chart.text and "Send invitation" in chart.text

    invited = post(console, stack, f"/staff/clients/{client_id}/invitation", {}, page=f"/staff/clients/{client_id}")
    assert invited.status_code == 200
    link = re.search(r'id="invitation-link" type="text" value="([^"]+)"', invited.text)
    assert link and "/register?token=" in html.unescape(link[1]) and "Valid until" in invited.text
    chart = console.get(f"{stack.gateway}/staff/clients/{client_id}")
    assert "Resend invitation" in chart.text

    code = service_code(console, stack, rate="150.00")
    assert code in console.get(f"{stack.gateway}/staff/service-codes").text
    issued = post(console, stack, f"/staff/clients/{client_id}/invoices/new",
                  {"lines.0.service_code": code, "lines.0.units": "2", "lines.1.service_code": "",
                   "lines.1.units": "", "date_of_service": "2026-11-20"})
    assert issued.status_code == 302, issued.text[:800]
    invoice_page = console.get(f"{stack.gateway}{issued.headers['Location']}")
    assert invoice_page.status_code == 200 and "$300.00" in invoice_page.text
    assert re.search(r"Invoice #\d{6} issued for \$300.00", invoice_page.text)
    invoices = requests.get(f"{stack.api}/staff/invoices", params={"client_id": client_id}, headers=staff,
                            timeout=10).json()["items"]
    assert [i["total_cents"] for i in invoices] == [30000]
    ledger = console.get(f"{stack.gateway}/staff/clients/{client_id}/ledger")
    assert ledger.status_code == 200 and f"Invoice #{invoices[0]['number']:06d}" in ledger.text
    assert "$300.00" in ledger.text

    # An unknown code on a line is the API's 422, shown on that line; nothing is issued.
    unknown = post(console, stack, f"/staff/clients/{client_id}/invoices/new",
                   {"lines.0.service_code": "", "lines.0.units": "", "lines.1.service_code": "NOPE-1",
                    "lines.1.units": "1"})
    assert unknown.status_code == 422 and 'id="f-lines-1-service_code-error"' in unknown.text
    assert len(requests.get(f"{stack.api}/staff/invoices", params={"client_id": client_id}, headers=staff,
                            timeout=10).json()["items"]) == 1

    adjustments = f"/staff/clients/{client_id}/adjustments"
    no_reason = post(console, stack, adjustments, {"kind": "write_off", "amount": "25.00", "reason": "",
                                                   "confirm": "1"})
    assert no_reason.status_code == 422 and 'id="f-reason-error"' in no_reason.text
    assert 'value="25.00"' in no_reason.text

    def entries(kind):
        return requests.get(f"{stack.api}/staff/clients/{client_id}/ledger", params={"kind": kind},
                            headers=staff, timeout=10).json()["items"]

    assert entries("adjustment") == []
    review = post(console, stack, adjustments, {"kind": "write_off", "amount": "25.50", "reason": "Hardship"})
    assert review.status_code == 200 and "Write-off $25.50" in review.text and "Balance after" in review.text
    assert entries("adjustment") == []  # the review step writes nothing
    done = post(console, stack, adjustments, {"kind": "write_off", "amount": "25.50", "reason": "Hardship",
                                              "confirm": "1"})
    assert done.status_code == 302
    written = entries("adjustment")
    assert [(e["amount_cents"], e["reason"]) for e in written] == [(-2550, "Hardship")]
    assert "Hardship" in console.get(f"{stack.gateway}/staff/clients/{client_id}/ledger").text

    off = post(console, stack, f"/staff/clients/{client_id}/autopay", {"enabled": "false"},
               page=f"/staff/clients/{client_id}")
    assert off.status_code == 302
    assert requests.get(f"{stack.api}/staff/clients/{client_id}/account", headers=staff,
                        timeout=10).json()["autopay_enrolled"] is False

    documents = post(console, stack, f"/staff/clients/{client_id}/documents/new",
                     {"kind": "statement", "from": "2026-01-01", "to": "2026-12-31"})
    assert documents.status_code == 302, documents.text[:800]
    listed = requests.get(f"{stack.api}/staff/clients/{client_id}/billing-documents", headers=staff,
                          timeout=10).json()["items"]
    statement = next(d for d in listed if d["kind"] == "statement")
    pdf = console.get(f"{stack.gateway}/staff/documents/{statement['id']}.pdf")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_settings_switch_is_saved(console, stack, staff):
    before = requests.get(f"{stack.api}/staff/settings", headers=staff, timeout=10).json()
    switches = ("online_payments_enabled", "billing_documents_enabled", "autopay_enabled", "self_scheduling_enabled")

    def form(flip: bool) -> dict:
        data = {name: "on" for name in switches if before[name] != (flip and name == "self_scheduling_enabled")}
        return {**data, "practice_name": before["practice_name"], "timezone": before["timezone"],
                "currency": before["currency"], "email": before.get("email") or "", "phone": before.get("phone") or ""}

    saved = post(console, stack, "/staff/settings", form(True))
    assert saved.status_code == 302
    after = requests.get(f"{stack.api}/staff/settings", headers=staff, timeout=10).json()
    assert after["self_scheduling_enabled"] is (not before["self_scheduling_enabled"])
    assert {k: after[k] for k in switches if k != "self_scheduling_enabled"} == \
        {k: before[k] for k in switches if k != "self_scheduling_enabled"}

    refused = post(console, stack, "/staff/settings", {**form(False), "timezone": "Mars/Olympus"})
    assert refused.status_code == 422 and 'id="f-timezone-error"' in refused.text
    assert 'value="Mars/Olympus"' in refused.text
    assert post(console, stack, "/staff/settings", form(False)).status_code == 302
    assert requests.get(f"{stack.api}/staff/settings", headers=staff, timeout=10).json() == before


def registered(console, stack, staff, **fields) -> tuple[str, str]:
    """A client made in the console and invited from it, registered through the API: (client id, e-mail)."""
    address = random_refs.email("portal")
    client_id = new_client(console, stack, staff, email=address, last_name="Portal", date_of_birth="1991-09-09",
                           **fields)
    invited = post(console, stack, f"/staff/clients/{client_id}/invitation", {}, page=f"/staff/clients/{client_id}")
    url = html.unescape(re.search(r'id="invitation-link" type="text" value="([^"]+)"', invited.text)[1])
    assert requests.post(f"{stack.api}/auth/register", timeout=10, json={
        "token": url.split("token=")[1], "last_name": "Portal", "date_of_birth": "1991-09-09",
        "password": PASSWORD}).status_code == 201
    return client_id, address


def test_review_queue_accepts_a_client_change(console, stack, staff):
    client_id, address = registered(console, stack, staff, first_name="Sasha")
    token = requests.post(f"{stack.api}/auth/login", json={"email": address, "password": PASSWORD},
                          timeout=10).json()["access_token"]
    assert requests.patch(f"{stack.api}/portal/me", headers=bearer(token), json={"phone": "555-0177"},
                          timeout=10).status_code == 200
    queue = console.get(f"{stack.gateway}/staff/review")
    assert queue.status_code == 200 and "Sasha Portal" in queue.text and "555-0177" in queue.text
    change = next(c for c in requests.get(f"{stack.api}/staff/profile-changes", params={"status": "pending",
                                                                                       "limit": 200},
                                          headers=staff, timeout=10).json()["items"]
                  if c["client_id"] == client_id)
    assert post(console, stack, f"/staff/review/{change['id']}", {"decision": "accept", "note": "Checked by phone"},
                page="/staff/review").status_code == 302
    accepted = requests.get(f"{stack.api}/staff/profile-changes", params={"status": "accepted", "limit": 200},
                            headers=staff, timeout=10).json()["items"]
    assert any(c["id"] == change["id"] and c["review_note"] == "Checked by phone" for c in accepted)
    assert "Checked by phone" in console.get(f"{stack.gateway}/staff/review?status=accepted").text

    # The client's own browser session is not let into the console.
    with signed_in(stack, address, PASSWORD, staff=False) as portal:
        refused = portal.get(f"{stack.gateway}/staff/clients")
        assert refused.status_code == 403 and "for the practice&#39;s staff" in refused.text


def test_a_refund_from_a_payment_is_confirmed_and_made_once(console, stack, staff):
    assert requests.patch(f"{stack.api}/staff/settings", headers=staff, json={"online_payments_enabled": True},
                          timeout=10).status_code == 200
    client_id, address = registered(console, stack, staff, first_name="Refunda")
    code = service_code(console, stack, rate="80.00")
    assert post(console, stack, f"/staff/clients/{client_id}/invoices/new",
                {"lines.0.service_code": code, "lines.0.units": "1"}).status_code == 302
    me = bearer(requests.post(f"{stack.api}/auth/login", json={"email": address, "password": PASSWORD},
                              timeout=10).json()["access_token"])
    card = requests.post(f"{stack.processor}/v1/tokens", headers={"Origin": stack.gateway}, timeout=10, json={
        "card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": datetime.now(UTC).year + 2,
        "cvc": "123", "cardholder_name": "Refunda Portal", "postal_code": "21204"}).json()["token"]

    def paid():
        r = requests.post(f"{stack.api}/portal/payments", headers={**me, "Idempotency-Key": uuid.uuid4().hex},
                          json={"pay_balance": True, "processor_token": card}, timeout=15)
        return r.json() if r.status_code == 201 and r.json()["status"] == "succeeded" else None

    payment = eventually(paid, timeout=15, interval=0.3, message="the payment went through")
    detail = f"/staff/payments/{payment['id']}"
    page = console.get(f"{stack.gateway}{detail}")
    assert page.status_code == 200 and "Up to <strong>$80.00</strong>" in page.text
    attempt = re.search(r'name="attempt" value="([0-9a-f]+)"', page.text)[1]
    refund = f"{detail}/refund"

    too_much = post(console, stack, refund, {"amount": "80.01", "reason": "Overcharged", "attempt": attempt},
                    page=detail)
    assert too_much.status_code == 422 and 'id="f-amount-error"' in too_much.text
    no_reason = post(console, stack, refund, {"amount": "30.00", "reason": "", "attempt": attempt,
                                              "confirm": "1"}, page=detail)
    assert no_reason.status_code == 422 and 'id="f-reason-error"' in no_reason.text
    confirm = post(console, stack, refund, {"amount": "30.00", "reason": "Overcharged", "attempt": attempt},
                   page=detail)
    assert confirm.status_code == 200 and "Refund $30.00" in confirm.text

    def refunded() -> int:
        return requests.get(f"{stack.api}/staff/payments/{payment['id']}", headers=staff,
                            timeout=10).json()["refunded_cents"]

    assert refunded() == 0
    confirmed = {"amount": "30.00", "reason": "Overcharged", "attempt": attempt, "confirm": "1"}
    assert post(console, stack, refund, confirmed, page=detail).status_code == 302
    assert refunded() == 3000
    # The same confirmation again (a reload, a second click): the same refund, not another.
    assert post(console, stack, refund, confirmed, page=detail).status_code == 302
    assert refunded() == 3000
    listed = console.get(f"{stack.gateway}/staff/payments", params={"client_id": client_id})
    assert listed.status_code == 200 and "$30.00 refunded" in listed.text and "Portal, Refunda" in listed.text
