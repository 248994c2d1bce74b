"""The web's Pay Now and session edges against a scripted API (the gateway app in-process, real Redis): what the
page says and which Idempotency-Key it keeps when the payment's answer is lost, refused or still running, and what
an idle session's form or a slow identity does to the session."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import redis

from gateway.web.api import Answer

pytestmark = pytest.mark.integration
ACCOUNT = {"balance_cents": 15000, "currency": "USD", "pay_now": True, "online_payments_enabled": True}
CARD = {"id": "pm-1", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2035, "is_default": True}


def answer(status: int, body: dict | None = None, *, not_sent: bool = False) -> Answer:
    return Answer(status, {"content-type": "application/json"}, json.dumps(body or {}).encode(), not_sent=not_sent)


class ScriptedApi:
    """Answers by (method, path); POST /portal/payments answers what the test queued; every call is recorded."""

    def __init__(self):
        self.payments: list[Answer] = []
        self.calls: list[tuple[str, str, dict]] = []
        self.refresh = answer(200, {"access_token": "a2", "refresh_token": "r2", "expires_in": 900})

    def call(self, method, path, **kwargs):
        self.calls.append((method, path, kwargs))
        if path == "/api/v1/portal/payments" and method == "POST":
            return self.payments.pop(0)
        if path == "/api/v1/auth/refresh":
            return self.refresh
        if path == "/api/v1/auth/logout":
            return answer(204)
        return {"/api/v1/portal/account": answer(200, ACCOUNT),
                "/api/v1/portal/invoices": answer(200, {"items": [], "next_cursor": None}),
                "/api/v1/portal/payment-methods": answer(200, {"items": [CARD], "next_cursor": None}),
                }.get(path, answer(404, {"detail": "No such thing."}))

    def gather(self, plan):
        return {name: self.call(method, path, **kwargs) for name, (method, path, kwargs) in plan.items()}

    def keys(self) -> list[str]:
        return [kw["headers"]["Idempotency-Key"] for m, p, kw in self.calls if p == "/api/v1/portal/payments"]


@pytest.fixture
def portal(monkeypatch):
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"portal:test:web:{uuid.uuid4().hex[:8]}:"
    monkeypatch.setenv("WEB_SESSION_PREFIX", prefix)
    from gateway.app import create_app

    app = create_app()
    api = ScriptedApi()
    app.extensions["web"].api = api
    store = app.extensions["web"].store
    session = store.create({"access_token": "a1", "refresh_token": "r1", "expires_in": 900,
                            "user": {"id": "u1", "role": "client", "client_id": "c1"}})
    browser = app.test_client()
    browser.set_cookie("portal_session", session.key)
    yield browser, api, store, session
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def csrf(page) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.get_data(as_text=True)).group(1)


def to_review(browser) -> tuple[str, str]:
    token = csrf(browser.get("/account/pay"))
    assert browser.post("/account/pay", data={"mode": "balance", "csrf_token": token}).status_code == 302
    assert browser.post("/account/pay/method", data={"method": "saved:pm-1", "csrf_token": token}).status_code == 302
    review = browser.get("/account/pay/review").get_data(as_text=True)
    return token, re.search(r'name="attempt" value="([0-9a-f]+)"', review).group(1)


def test_a_lost_answer_keeps_the_attempt_and_says_it_may_have_gone_through(portal):
    browser, api, _, _ = portal
    token, attempt = to_review(browser)
    api.payments = [answer(504, {"detail": "took too long"}), answer(201, {"id": "p1", "status": "succeeded"})]
    lost = browser.post("/account/pay/submit", data={"attempt": attempt, "csrf_token": token})
    assert lost.status_code == 503
    text = lost.get_data(as_text=True)
    assert "We could not confirm this payment" in text and "nothing was charged" not in text
    assert f'value="{attempt}"' in text  # Submit Payment again sends the same key
    again = browser.post("/account/pay/submit", data={"attempt": attempt, "csrf_token": token})
    assert again.status_code == 302 and "/account/payments/p1" in again.location
    assert api.keys() == [f"web-{attempt}", f"web-{attempt}"]
    body = next(kw["json_body"] for m, p, kw in api.calls if p == "/api/v1/portal/payments")
    assert body == {"amount_cents": 15000, "payment_method_id": "pm-1"}  # what was reviewed, not "the balance now"


def test_a_request_that_never_left_says_nothing_was_charged_and_starts_a_new_attempt(portal):
    browser, api, _, _ = portal
    token, attempt = to_review(browser)
    api.payments = [answer(503, {"detail": "not answering"}, not_sent=True)]
    refused = browser.post("/account/pay/submit", data={"attempt": attempt, "csrf_token": token})
    assert refused.status_code == 302 and "/account/pay/method?failed=1" in refused.location
    page = browser.get(refused.location).get_data(as_text=True)
    assert "nothing was charged" in page
    browser.post("/account/pay/method", data={"method": "saved:pm-1", "csrf_token": token})
    review = browser.get("/account/pay/review").get_data(as_text=True)
    assert f'value="{attempt}"' not in review  # a new attempt, a new key


def test_still_running_is_the_pending_page_and_a_reused_key_after_a_change_is_a_new_attempt(portal):
    browser, api, _, _ = portal
    token, attempt = to_review(browser)
    api.payments = [answer(409, {"type": "/problems/request-in-progress", "detail": "running"})]
    pending = browser.post("/account/pay/submit", data={"attempt": attempt, "csrf_token": token})
    assert pending.status_code == 409 and "already being processed" in pending.get_data(as_text=True)
    # the client goes back and changes the amount: that is another payment, with another key
    browser.post("/account/pay", data={"mode": "custom", "amount": "20.00", "csrf_token": token})
    browser.post("/account/pay/method", data={"method": "saved:pm-1", "csrf_token": token})
    review = browser.get("/account/pay/review").get_data(as_text=True)
    assert f'value="{attempt}"' not in review and "$20.00" in review


def test_an_amount_over_a_balance_that_changed_is_chosen_again(portal):
    browser, api, _, _ = portal
    token, attempt = to_review(browser)
    api.payments = [answer(422, {"detail": "Too much.",
                                 "errors": {"amount_cents": ["More than the balance of $100."]}})]
    changed = browser.post("/account/pay/submit", data={"attempt": attempt, "csrf_token": token})
    assert changed.status_code == 409
    assert "Your balance has changed" in changed.get_data(as_text=True)


def test_a_form_of_a_session_that_idled_out_goes_to_sign_in_not_a_403(portal):
    browser, api, store, session = portal
    token = csrf(browser.get("/my-information"))
    name = next(store.redis.scan_iter(f"{store.prefix}session:*"))
    store.redis.hset(name, "seen", repr(time.time() - 3600))
    posted = browser.post("/my-information", data={"phone": "+1 410 555 0100", "csrf_token": token})
    assert posted.status_code == 302 and "/signin" in posted.location
    assert ("POST", "/api/v1/auth/logout") in [(m, p) for m, p, _ in api.calls]  # the idle session was revoked
    assert not [c for c in api.calls if c[1] == "/api/v1/portal/me" and c[0] == "PATCH"]


def test_identity_down_during_a_refresh_keeps_the_session(portal):
    browser, api, store, session = portal
    session.access_expires_at = time.time()  # due
    store.replace_tokens(session, {"access_token": "a1", "refresh_token": "r1", "expires_in": 0})
    api.refresh = answer(503, {"detail": "down"})
    down = browser.get("/account")
    assert down.status_code == 503
    assert store.load(session.key)[0] is not None  # kept: the next request tries again
    api.refresh = answer(200, {"access_token": "a2", "refresh_token": "r2", "expires_in": 900})
    assert browser.get("/account").status_code == 200
    assert store.load(session.key)[0].refresh_token == "r2"


def test_htmx_from_an_ended_session_loads_sign_in_as_a_page(portal):
    browser, _, store, session = portal
    store.end(session)
    partial = browser.get("/account/history", headers={"HX-Request": "true"})
    assert partial.status_code == 302 and "/signin" in partial.headers["HX-Redirect"]


def test_a_card_form_without_a_token_or_refused_by_the_api_says_why_and_saves_nothing(portal):
    browser, api, _, _ = portal
    token = csrf(browser.get("/account/cards"))
    empty = browser.post("/account/cards", data={"csrf_token": token})
    assert empty.status_code == 422 and "Enter the card" in empty.get_data(as_text=True)
    assert not [c for c in api.calls if c[0] == "POST" and c[1] == "/api/v1/portal/payment-methods"]
    api.call = _refusing(api.call, "/api/v1/portal/payment-methods",
                         answer(409, {"detail": "This card is saved already."}))
    refused = browser.post("/account/cards", data={"csrf_token": token, "processor_token": "tok_1"})
    assert refused.status_code == 409 and "This card is saved already." in refused.get_data(as_text=True)


def _refusing(call, path, refusal):
    def wrapped(method, called, **kwargs):
        return refusal if method == "POST" and called == path else call(method, called, **kwargs)
    return wrapped
