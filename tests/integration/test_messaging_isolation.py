"""What a client reads of messaging is their own: another client's thread, replies into it, its attachments and
another client's notifications answer 404 (never 403: an id of someone else's is not confirmed to exist), and
nothing is written. Staff routes refuse a client's token, portal routes a staff token, and every route a caller
without a token."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask

from services.messaging.api import portal, staff

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture
def two(mclient, mstaff, mdeliver):
    owner, other, member = mclient(), mclient("Jordan", "Vale"), mstaff()
    thread = owner.api.client.open(
        "/api/v1/portal/messages/threads", method="POST", headers=owner.api.headers(),
        content_type="multipart/form-data",
        data={"subject": "Private", "body": "Only mine.", "attachments": [(io.BytesIO(PDF), "mine.pdf")]}).get_json()
    mdeliver("invoice.generated", {"invoice_id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "client_id": owner.id,
                                   "number": 7, "total_cents": 100, "currency": "USD", "due_date": "2027-01-31"})
    notice = owner.api.get("/api/v1/portal/notifications").get_json()["items"][0]
    return {"owner": owner, "other": other, "staff": member, "thread": thread["id"],
            "attachment": thread["messages"][0]["attachments"][0]["id"], "notification": notice["id"]}


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/v1/portal/messages/threads/{thread}", None),
    ("POST", "/api/v1/portal/messages/threads/{thread}/messages", {"body": "Let me in."}),
    ("GET", "/api/v1/portal/messages/attachments/{attachment}", None),
    ("POST", "/api/v1/portal/notifications/{notification}/read", None),
])
def test_another_client_cannot_reach_it(two, msnapshot, method, path, body):
    before = msnapshot()
    answer = two["other"].api.call(method, path.format(**two), json=body)
    assert answer.status_code == 404 and answer.mimetype == "application/problem+json"
    assert "Only mine" not in answer.get_data(as_text=True)
    before.assert_unchanged()


def test_another_clients_lists_and_counts_hold_nothing_of_it(two):
    other = two["other"].api
    assert other.get("/api/v1/portal/messages/threads").get_json()["items"] == []
    assert other.get("/api/v1/portal/notifications").get_json()["items"] == []
    assert other.get("/api/v1/portal/notifications/unread-count").get_json()["unread"] == 0
    two["staff"].api.post(f"/api/v1/staff/messages/threads/{two['thread']}/messages", json={"body": "For the owner"})
    assert other.get("/api/v1/portal/messages/unread-count").get_json()["unread"] == 0
    assert other.post("/api/v1/portal/notifications/read-all").status_code == 204
    owner = two["owner"].api
    assert owner.get("/api/v1/portal/notifications/unread-count").get_json()["unread"] == 1  # untouched
    assert owner.get("/api/v1/portal/messages/unread-count").get_json()["unread"] == 1


def test_the_client_notifications_are_not_the_practices(two):
    practice = two["staff"].api.get("/api/v1/staff/notifications", query_string={"limit": 200}).get_json()["items"]
    assert two["notification"] not in {n["id"] for n in practice}
    answer = two["staff"].api.post(f"/api/v1/staff/notifications/{two['notification']}/read")
    assert answer.status_code == 404


def routes(prefix: str) -> list[tuple[str, str]]:
    app = Flask(__name__)
    for bp in (portal.bp, staff.bp):
        app.register_blueprint(bp)
    return sorted((method, re.sub(r"<([^>]+)>", r"{\1}", rule.rule)) for rule in app.url_map.iter_rules()
                  for method in rule.methods - {"HEAD", "OPTIONS"} if rule.rule.startswith(prefix))


def call(api, method, path, two):
    ids = {"thread_id": two["thread"], "attachment_id": two["attachment"], "notification_id": two["notification"]}
    return api.call(method, path.format(**ids), json={} if method in ("POST", "PATCH") else None)


@pytest.mark.parametrize(("method", "path"), routes("/api/v1/staff/"))
def test_a_staff_route_refuses_a_client_token(two, msnapshot, method, path):
    before = msnapshot()
    answer = call(two["owner"].api, method, path, two)
    assert answer.status_code == 403 and answer.get_json()["detail"] == "Your role may not use this endpoint."
    before.assert_unchanged()


@pytest.mark.parametrize(("method", "path"), routes("/api/v1/portal/"))
def test_a_portal_route_refuses_a_staff_token(two, msnapshot, method, path):
    before = msnapshot()
    answer = call(two["staff"].api, method, path, two)
    assert answer.status_code == 403 and answer.get_json()["detail"] == "Your role may not use this endpoint."
    before.assert_unchanged()


@pytest.mark.parametrize(("method", "path"), routes("/api/v1/"))
def test_every_route_needs_a_token(two, messaging_app, msnapshot, method, path):
    before = msnapshot()
    ids = {"thread_id": two["thread"], "attachment_id": two["attachment"], "notification_id": two["notification"]}
    answer = messaging_app.test_client().open(path.format(**ids), method=method)
    assert answer.status_code == 401 and answer.mimetype == "application/problem+json"
    before.assert_unchanged()


def test_the_route_lists_are_not_empty():
    assert len(routes("/api/v1/portal/")) == 10 and len(routes("/api/v1/staff/")) == 14
