"""The sandbox processor's hosted card fields (services/payments/sandbox/card_fields.py describes the protocol).

First through Flask's test client: the page for an allowed origin with its CSP (framed only by that origin), 400
problem+json for a malformed or refused origin, no inline script or style, a label for every input, the script and
style sheet with their content types, a script that posts only to the portal's origin and logs nothing.

Then in headless Chromium (skipped where Playwright or /usr/bin/chromium is missing): a portal page on another origin
frames the fields and speaks the protocol with them, as the portal does. Ready with a height, local checks at the
fields, a token, the processor's refusals at their field, Enter asking the portal to submit, reset, a network failure,
messages of other origins ignored, framing by another origin refused, no CSP violation, axe-core's WCAG 2.1 A/AA rules,
and a 375 px wide screen. The card number and security code never reach the portal's page or origin.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from werkzeug.serving import make_server

from tests.support.sandbox import sandbox_app

API_KEY = "sk_test_card_fields"
PORTAL = "http://127.0.0.1:8000"
NEXT_YEAR = datetime.now(UTC).year + 1
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
       "form-action 'none'; base-uri 'none'; frame-ancestors {origin}")
FIELDS = ["cardholder_name", "card_number", "exp", "cvc", "postal_code"]
LABELS = ["Cardholder name", "Card number", "Expiration date", "Security code", "Billing postal code"]
AUTOCOMPLETE = ["cc-name", "cc-number", "cc-exp", "cc-csc", "postal-code"]


@pytest.fixture
def make_app(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_ENV", raising=False)

    return lambda **overrides: sandbox_app(tmp_path, API_KEY, **overrides)


@pytest.fixture
def client(make_app):
    return make_app().test_client()


class Page(HTMLParser):
    """The elements of a page, in order, as (tag, attributes), and the text of each element with an id."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict]] = []
        self.title = ""
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def all(self, tag: str) -> list[dict]:
        return [attrs for name, attrs in self.elements if name == tag]

    def by_id(self, element_id: str) -> tuple[str, dict]:
        found = [(tag, attrs) for tag, attrs in self.elements if attrs.get("id") == element_id]
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]


def card_fields(client, origin: str = PORTAL):
    return client.get("/v1/card-fields", query_string={"origin": origin})


def assert_refused_origin(response):
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 400 and body["type"] == "/problems/bad-request" and body["detail"]
    assert body["error"]["code"] == "invalid_origin" and body["errors"]["origin"]
    assert "frame-ancestors" not in response.headers.get("Content-Security-Policy", "")


# --- the page, through the test client -------------------------------------------------------------------------------

@pytest.mark.parametrize(("configured", "asked", "framed_by"), [
    (("*",), "http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    (("*",), "https://portal.example", "https://portal.example"),
    (("https://portal.example", "http://127.0.0.1:8000"), "https://portal.example", "https://portal.example"),
    (("http://127.0.0.1:8000",), "http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    # Compared and framed as browsers serialize an origin: lower case, no default port.
    (("https://portal.example",), "HTTPS://Portal.Example:443", "https://portal.example"),
    (("*",), "http://[::1]:8000", "http://[::1]:8000"),
])
def test_the_page_is_framed_only_by_the_origin_it_was_asked_for(make_app, configured, asked, framed_by):
    response = card_fields(make_app(cors_origins=configured).test_client(), asked)  # no API key
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == CSP.format(origin=framed_by)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers  # framed, never fetched across origins
    root = Page(response.get_data(as_text=True)).all("html")[0]
    assert root["data-portal-origin"] == framed_by and root["data-tokens-url"] == "/v1/tokens"


@pytest.mark.parametrize("origin", [
    None, "", "javascript:alert(1)", "http://a/b", "http://a/", "http://a?x=1", "http://a#x", "http://user@a",
    "ftp://a", "//a", "a", "null", "*", "http://a:0", "http://a:65536", "http://a b", "http://a;script-src *",
    "http://a,http://b", "http://[::1", "http://[nothex]", "http://-a.example", "https://portal.example'",
    'http://a"><script>', "http://" + "a" * 64 + ".example", "http://a\u00e9.example",
])
def test_a_missing_or_malformed_origin_is_a_400(client, origin):
    response = client.get("/v1/card-fields", query_string={} if origin is None else {"origin": origin})
    assert_refused_origin(response)


def test_two_origins_are_a_400(client):
    assert_refused_origin(client.get("/v1/card-fields?origin=http%3A%2F%2Fa&origin=http%3A%2F%2Fb"))


def test_an_origin_not_in_the_configured_list_is_a_400(make_app):
    client = make_app(cors_origins=("https://portal.example",)).test_client()
    assert_refused_origin(card_fields(client, "https://evil.example"))
    assert_refused_origin(card_fields(client, "http://portal.example"))  # another scheme is another origin
    assert_refused_origin(card_fields(client, "https://portal.example:8443"))
    assert card_fields(client, "https://portal.example").status_code == 200


def test_the_page_has_no_inline_script_or_style(client):
    html = card_fields(client).get_data(as_text=True)
    page = Page(html)
    scripts = page.all("script")
    assert scripts and all(s.get("src") for s in scripts)
    assert re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.DOTALL | re.IGNORECASE) == [""] * len(scripts)
    assert not page.all("style") and "<style" not in html.lower()
    for tag, attrs in page.elements:
        assert "style" not in attrs, tag
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
    assert "javascript:" not in html.lower()


def test_every_field_is_labelled_described_and_in_order(client):
    page = Page(card_fields(client).get_data(as_text=True))
    assert page.all("html")[0]["lang"] == "en" and page.title.strip()
    assert page.all("meta") and any(m.get("name") == "viewport" for m in page.all("meta"))
    inputs = page.all("input")
    assert [i["name"] for i in inputs] == FIELDS
    assert [i["autocomplete"] for i in inputs] == AUTOCOMPLETE
    labels = {label["for"]: label for label in page.all("label")}
    assert len(labels) == len(page.all("label")) == len(inputs)
    for field in inputs:
        assert field["id"] in labels, f"no <label for> for {field['name']}"
        described = field["aria-describedby"].split()
        assert f"{field['name']}-error" in described
        for element_id in described:
            page.by_id(element_id)
    label_texts = re.findall(r'<label for="([a-z_]+)">([^<]+)</label>', card_fields(client).get_data(as_text=True))
    assert label_texts == list(zip(FIELDS, LABELS, strict=True))
    number = next(i for i in inputs if i["name"] == "card_number")
    assert number["inputmode"] == "numeric" and number["type"] == "text"
    assert next(i for i in inputs if i["name"] == "exp")["placeholder"] == "MM/YY"
    live = [attrs for _, attrs in page.elements if attrs.get("aria-live")]
    assert len(live) == 1 and live[0]["id"] == "card-fields-error"


def test_the_script_and_the_style_sheet_are_served_with_their_types(client):
    script = client.get("/v1/card-fields.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    style = client.get("/v1/card-fields.css")
    assert style.status_code == 200 and style.mimetype == "text/css"
    assert style.headers["X-Content-Type-Options"] == "nosniff"
    assert "card-fields:ready" in script.get_data(as_text=True) and "input" in style.get_data(as_text=True)


def test_the_script_posts_only_to_the_portal_origin_and_logs_nothing(client):
    script = client.get("/v1/card-fields.js").get_data(as_text=True)
    calls = re.findall(r"postMessage\(([^;]*)\);", script)
    assert calls == ["message, portalOrigin"], calls  # one place posts, always to the portal's origin
    assert not re.search(r"""postMessage\([^)]*["'`]\*["'`]""", script)
    assert 'getAttribute("data-portal-origin")' in script
    assert "event.origin !== portalOrigin" in script
    assert "console." not in script and "localStorage" not in script and "sessionStorage" not in script


def test_tokenization_keeps_its_cors_answers(make_app):
    client = make_app(cors_origins=("https://portal.example",)).test_client()
    preflight = client.options("/v1/tokens", headers={"Origin": "https://portal.example",
                                                      "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://portal.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    made = client.post("/v1/tokens", headers={"Origin": "https://portal.example"}, json={
        "card_number": "4242424242424242", "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123",
        "cardholder_name": "Avery Stone", "postal_code": "94110"})
    assert made.status_code == 201 and made.headers["Access-Control-Allow-Origin"] == "https://portal.example"
    page = client.get("/v1/card-fields?origin=https://portal.example", headers={"Origin": "https://portal.example"})
    assert "Access-Control-Allow-Origin" not in page.headers


def test_the_card_fields_are_in_the_openapi_and_need_no_key(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert {"/v1/card-fields", "/v1/card-fields.js", "/v1/card-fields.css"} <= set(paths)
    assert client.get("/v1/charges?reference=x").status_code == 401  # the server routes still need it


# --- in a browser ----------------------------------------------------------------------------------------------------

CARD = {"cardholder_name": "Jordan Rivera", "card_number": "4242 4242 4242 4242", "exp": f"12/{NEXT_YEAR % 100:02d}",
        "cvc": "737", "postal_code": "94110"}

# The portal's side of the protocol, as a page on another origin: it frames the fields, sizes the frame from the
# height they report, runs "Continue" (tokenize) on a click or on card-fields:submit, and records every message.
PORTAL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portal</title>
<script>
window.received = [];
const PROCESSOR = "__PROCESSOR__";
function send(message) { document.getElementById("card").contentWindow.postMessage(message, PROCESSOR); }
window.addEventListener("message", (event) => {
  if (event.origin !== PROCESSOR) return;
  window.received.push(event.data);
  if (event.data.type === "card-fields:ready") document.getElementById("card").style.height = event.data.height + "px";
  if (event.data.type === "card-fields:submit") send({type: "card-fields:tokenize"});
});
</script></head>
<body><main><h1>Pay an invoice</h1>
<iframe id="card" title="Card details" src="__SRC__" style="width: 100%; border: 0; display: block"></iframe>
<button id="continue" type="button">Continue</button></main>
<script>document.getElementById("continue").addEventListener("click", () => send({type: "card-fields:tokenize"}));
</script></body></html>"""


class Served:
    """A WSGI app on 127.0.0.1 on a port of its own (an origin of its own), in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join(timeout=10)


def portal_app(pages: dict[str, str], log: list):
    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        log.append((environ["PATH_INFO"] + "?" + environ.get("QUERY_STRING", ""), body))
        page = pages.get(environ["PATH_INFO"])
        if page is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not here"]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")])
        return [page.encode()]

    return app


@pytest.fixture(scope="module")
def browser(chromium):
    """The run's one Chromium (tests/conftest.py)."""
    return chromium


@pytest.fixture(scope="module")
def world(browser, tmp_path_factory):
    """The sandbox and two other origins: the portal (allowed to frame the fields) and another site (not)."""
    app = sandbox_app(tmp_path_factory.mktemp("fields"), API_KEY)
    sandbox = Served(app)
    pages: dict[str, str] = {}
    portal_log: list = []
    portal, other = Served(portal_app(pages, portal_log)), Served(portal_app(pages, portal_log))
    src = f"{sandbox.origin}/v1/card-fields?origin={portal.origin}"
    pages["/pay"] = PORTAL_PAGE.replace("__PROCESSOR__", sandbox.origin).replace("__SRC__", src)
    yield {"app": app, "sandbox": sandbox.origin, "portal": portal.origin, "other": other.origin,
           "portal_log": portal_log}
    for served in (sandbox, portal, other):
        served.stop()


class Portal:
    """The portal page in a browser tab, the card-fields frame in it, and what the tab saw."""

    def __init__(self, page, world):
        self.page, self.world = page, world
        self.console: list[str] = []
        self.requests: list[tuple[str, str]] = []  # (url, post body) of every request the tab made
        page.on("console", lambda message: self.console.append(message.text))
        page.on("request", lambda request: self.requests.append((request.url, request.post_data or "")))
        page.goto(world["portal"] + "/pay")
        self.ready = self.wait("card-fields:ready")
        self.frame = page.frame_locator("#card")

    def fields_frame(self):
        return self.page.frame(url=re.compile(r".*/v1/card-fields\?.*"))

    def received(self) -> list[dict]:
        return self.page.evaluate("window.received")

    def wait(self, kind: str, after: int = 0) -> dict:
        """The first message of `kind` the portal received after its first `after` messages (waits for it)."""
        self.page.wait_for_function(
            "([kind, after]) => window.received.slice(after).some((m) => m.type === kind)", arg=[kind, after])
        return next(m for m in self.received()[after:] if m["type"] == kind)

    def fill(self, **values):
        for name, value in values.items():
            self.frame.locator(f"[name={name}]").fill(value)

    def tokenize(self) -> dict:
        """Continue: the portal sends card-fields:tokenize; the answer, token or error."""
        after = len(self.received())
        self.page.click("#continue")
        self.page.wait_for_function(
            "(after) => window.received.slice(after).some((m) => m.type === 'card-fields:token' "
            "|| m.type === 'card-fields:error')", arg=after)
        return next(m for m in self.received()[after:] if m["type"] in ("card-fields:token", "card-fields:error"))

    def field_state(self) -> dict:
        """Each field's aria-invalid and the text of its error element (through aria-describedby)."""
        return self.frame.locator("form").evaluate("""(form) => Object.fromEntries(
            [...form.querySelectorAll("input")].map((input) => [input.name, {
                invalid: input.getAttribute("aria-invalid"),
                error: input.getAttribute("aria-describedby").split(" ").filter((id) => id.endsWith("-error"))
                    .map((id) => document.getElementById(id).textContent).join(""),
                value: input.value}]))""")

    def general_error(self) -> str:
        return self.frame.locator("#card-fields-error").text_content()

    def sent_card_data_elsewhere(self, *secrets: str) -> list[str]:
        """Requests holding the card number or security code that went anywhere but the processor's /v1/tokens."""
        tokens = self.world["sandbox"] + "/v1/tokens"
        return [url for url, body in self.requests if url != tokens and any(s in url or s in body for s in secrets)]


@pytest.fixture
def portal(browser, world):
    context = browser.new_context(viewport={"width": 375, "height": 800})
    portal = Portal(context.new_page(), world)
    yield portal
    assert not [text for text in portal.console if "Content Security Policy" in text], portal.console
    context.close()


def test_the_fields_report_their_height_when_ready_and_fit_a_375px_screen(portal):
    assert portal.ready["height"] > 300
    frame = portal.fields_frame()
    assert frame.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    box = portal.page.locator("#card").bounding_box()
    assert box["width"] <= 375 and box["height"] == portal.ready["height"]
    for name in FIELDS:
        field = portal.frame.locator(f"[name={name}]").bounding_box()
        assert field["x"] >= box["x"] and field["x"] + field["width"] <= box["x"] + box["width"], name
        assert field["height"] >= 44, name  # a comfortable touch target


def test_empty_fields_are_errors_at_each_field(portal):
    before = len(portal.received())
    error = portal.tokenize()
    assert set(error["fields"]) == set(FIELDS) and error["message"]
    state = portal.field_state()
    for name in FIELDS:
        assert state[name]["invalid"] == "true" and state[name]["error"] == error["fields"][name], name
    assert portal.general_error() == error["message"]
    assert portal.page.evaluate("document.activeElement.id") == "continue"  # a press there keeps its focus
    taller = portal.wait("card-fields:ready", before)  # the errors made the page taller, and it said so
    assert taller["height"] > portal.ready["height"]
    assert not [url for url, _ in portal.requests if url.endswith("/v1/tokens")]  # nothing sent to the processor


def test_a_card_is_tokenized_and_only_the_token_reaches_the_portal(portal, world):
    portal.fill(**CARD)
    token = portal.tokenize()
    assert token["type"] == "card-fields:token" and token["token"].startswith("tok_")
    assert {k: token[k] for k in ("brand", "last4", "exp_month", "exp_year", "cardholder_name", "postal_code")} == {
        "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": NEXT_YEAR,
        "cardholder_name": "Jordan Rivera", "postal_code": "94110"}
    details = world["app"].test_client().get(f"/v1/tokens/{token['token']}",
                                             headers={"Authorization": f"Bearer {API_KEY}"}).get_json()
    assert (details["last4"], details["cardholder_name"], details["exp_year"]) == ("4242", "Jordan Rivera", NEXT_YEAR)
    assert not any("4242424242424242" in json.dumps(m) or "737" in json.dumps(m) for m in portal.received())
    assert portal.sent_card_data_elsewhere("4242424242424242", "4242 4242 4242 4242", "737") == []
    assert not [path for path, body in world["portal_log"] if "4242" in path or b"4242" in body or b"737" in body]
    assert not [text for text in portal.console if "4242" in text or "737" in text]
    assert portal.field_state()["card_number"]["invalid"] is None and portal.general_error() == ""


def test_an_expiry_of_four_digits_and_spaces_in_the_number_are_taken(portal):
    portal.fill(**{**CARD, "card_number": "5555 5555 5555 4444", "exp": f"3 / {NEXT_YEAR}"})
    token = portal.tokenize()
    assert (token["brand"], token["last4"], token["exp_month"], token["exp_year"]) == ("mastercard", "4444", 3,
                                                                                       NEXT_YEAR)


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"card_number": "4242 4242 4242 4241"}, "card_number", "Your card number is incorrect."),
    ({"card_number": "3782 822463 10005", "cvc": "123"}, "cvc", "Your card's security code is incorrect."),
])
def test_a_refusal_of_the_processor_is_shown_at_its_field(portal, changes, field, message):
    portal.fill(**{**CARD, **changes})
    error = portal.tokenize()
    assert error == {"type": "card-fields:error", "message": message, "fields": {field: message}}
    state = portal.field_state()
    assert state[field] == {**state[field], "invalid": "true", "error": message}
    assert all(state[other]["invalid"] is None for other in FIELDS if other != field)
    assert [url for url, _ in portal.requests if url.endswith("/v1/tokens")]  # the processor said so


@pytest.mark.parametrize(("changes", "field"), [
    ({"exp": "01/20"}, "exp"), ({"exp": "13/30"}, "exp"), ({"exp": "12-30"}, "exp"),
    ({"card_number": "4242 4242 abcd 4242"}, "card_number"), ({"cvc": "12"}, "cvc"),
    ({"cardholder_name": "   "}, "cardholder_name"),
])
def test_local_checks_stop_the_card_before_the_processor(portal, changes, field):
    portal.fill(**{**CARD, **changes})
    error = portal.tokenize()
    assert list(error["fields"]) == [field] and error["message"] == error["fields"][field]
    assert portal.field_state()[field]["invalid"] == "true"
    assert not [url for url, _ in portal.requests if url.endswith("/v1/tokens")]


def test_a_corrected_field_loses_its_error(portal):
    portal.fill(**{**CARD, "cvc": ""})
    portal.tokenize()
    assert portal.field_state()["cvc"]["invalid"] == "true"
    portal.fill(cvc="737")
    assert portal.field_state()["cvc"] == {"invalid": None, "error": "", "value": "737"}


def test_enter_in_a_field_asks_the_portal_to_submit(portal):
    portal.fill(**CARD)
    portal.frame.locator("[name=postal_code]").focus()
    after = len(portal.received())
    portal.page.keyboard.press("Enter")
    portal.wait("card-fields:submit", after)
    token = portal.wait("card-fields:token", after)  # the portal answered submit with tokenize
    assert token["last4"] == "4242"
    assert portal.frame.locator("[name=postal_code]").evaluate("(el) => el === document.activeElement")


def test_enter_after_an_error_moves_focus_to_the_first_field_at_fault(portal):
    portal.fill(**{**CARD, "card_number": "", "cvc": ""})
    portal.frame.locator("[name=postal_code]").press("Enter")
    portal.wait("card-fields:error")
    assert portal.frame.locator("[name=card_number]").evaluate("(el) => el === document.activeElement")


def test_reset_empties_every_field(portal):
    portal.fill(**{**CARD, "exp": "01/20"})
    portal.tokenize()
    assert portal.field_state()["exp"]["invalid"] == "true"
    portal.page.evaluate("send({type: 'card-fields:reset'})")
    portal.fields_frame().wait_for_function("() => document.querySelector('[name=card_number]').value === ''")
    assert portal.field_state() == {name: {"invalid": None, "error": "", "value": ""} for name in FIELDS}
    assert portal.general_error() == ""


def test_a_network_failure_is_one_plain_sentence(portal):
    portal.page.route("**/v1/tokens", lambda route: route.abort("connectionrefused"))
    portal.fill(**CARD)
    error = portal.tokenize()
    assert error["fields"] == {} and error["message"].endswith(".") and "processor did not answer" in error["message"]
    assert portal.general_error() == error["message"]


def test_messages_from_other_origins_are_ignored(portal):
    frame = portal.fields_frame()
    portal.fill(**CARD)
    # Posted by the processor's own origin (not the portal's): when the test's listener runs, the fields' listener
    # (added first) has already seen the message; a reset it obeyed would have emptied the fields.
    kept = frame.evaluate("""() => new Promise((resolve) => {
        window.addEventListener("message", () => resolve(document.querySelector("[name=card_number]").value),
                                {once: true});
        window.postMessage({type: "card-fields:reset"}, "*");
    })""")
    assert kept == CARD["card_number"]
    portal.fill(card_number="")
    invalid = frame.evaluate("""() => new Promise((resolve) => {
        window.addEventListener("message", () => resolve(document.querySelectorAll("[aria-invalid]").length),
                                {once: true});
        window.postMessage({type: "card-fields:tokenize"}, "*");
    })""")
    assert invalid == 0


def test_another_origin_cannot_frame_the_fields(browser, world):
    # A page of another origin frames the fields asked for with the portal's origin: frame-ancestors refuses it.
    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(world["other"] + "/blank-404")
    src = f"{world['sandbox']}/v1/card-fields?origin={world['portal']}"
    page.evaluate("""(src) => new Promise((resolve) => {
        const frame = document.createElement("iframe");
        frame.addEventListener("load", () => resolve(), {once: true});
        frame.src = src;
        document.body.appendChild(frame);
    })""", src)
    framed = [f for f in page.frames if f != page.main_frame]
    assert framed and all(f.url != src or not f.query_selector("input") for f in framed)
    assert any("frame-ancestors" in text for text in console), console
    context.close()


def test_axe_finds_no_wcag_21_aa_violation_with_and_without_errors(browser, world):
    axe_module = pytest.importorskip("axe_playwright_python.sync_playwright", reason="axe-playwright-python missing")
    context = browser.new_context(viewport={"width": 375, "height": 800}, bypass_csp=True)  # axe is injected
    page = context.new_page()
    page.goto(f"{world['sandbox']}/v1/card-fields?origin={world['portal']}")
    axe = axe_module.Axe()
    options = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}
    clean = axe.run(page, options=options)
    assert clean.violations_count == 0, clean.generate_report()
    page.keyboard.press("Tab")  # the first field, with a visible focus ring
    outline = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
        return [document.activeElement.name, s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
    assert outline == ["cardholder_name", "solid", 3.0]
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "card_number"
    page.evaluate("document.activeElement.blur()")
    # The errors as the portal's tokenize shows them (a message "from the portal", as the page is not framed here).
    page.evaluate("""(origin) => window.dispatchEvent(new MessageEvent("message", {
        data: {type: "card-fields:tokenize"}, origin: origin, source: window}))""", world["portal"])
    page.wait_for_function("() => document.querySelectorAll('[aria-invalid=true]').length === 5")
    with_errors = axe.run(page, options=options)
    assert with_errors.violations_count == 0, with_errors.generate_report()
    context.close()
