"""Messaging through the gateway, with real processes: a client writes with an attachment, the practice replies, the
counts agree, the "new message" e-mail lands in the mail directory without the content, and events of the other
services reach the bell (a client's registration, a payment, a saved card)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.e2e.conftest import bearer
from tests.e2e.test_pay_now import registered_client
from tests.support.processes import eventually

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + b"0" * 300_000 + b"\n%%EOF\n"


def unread(http, api: str, side: str, headers: dict) -> int:
    answer = http.get(f"{api}/{side}/messages/unread-count", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()["unread"]


def known_to_messaging(stack, http, me) -> None:
    """client.created has reached messaging: the client may write."""
    eventually(lambda: http.get(f"{stack.api}/portal/messages/threads", headers=me).status_code == 200 and
               http.post(f"{stack.api}/portal/messages/threads", headers=me,
                         json={"subject": "Hello", "body": "First contact."}).status_code == 201,
               timeout=20, interval=0.2, message="messaging knows the client")


def test_a_message_with_a_file_a_reply_the_counts_and_the_mail(stack, http, admin_token):
    staff = bearer(admin_token)
    assert http.patch(f"{stack.api}/staff/settings", headers=staff,
                      json={"email": "frontdesk@e2e.example"}).status_code == 200
    assert http.patch(f"{stack.api}/staff/messaging-settings", headers=staff,
                      json={"client_email_delay_minutes": 0}).status_code == 200
    client_id, me = registered_client(stack, http, staff)
    known_to_messaging(stack, http, me)
    address = http.get(f"{stack.api}/portal/me", headers=me).json()["email"]

    sent = http.post(f"{stack.api}/portal/messages/threads", headers=me,
                     data={"subject": "Superbill question", "body": "Is my diagnosis code right?"},
                     files=[("attachments", ("superbill.pdf", PDF, "application/pdf"))])
    assert sent.status_code == 201, sent.text
    thread = sent.json()
    attachment = thread["messages"][0]["attachments"][0]
    assert attachment["size_bytes"] == len(PDF)

    # the practice's inbox and its count; the file back through the gateway, byte for byte
    inbox = http.get(f"{stack.api}/staff/messages/threads", headers=staff, params={"client_id": client_id}).json()
    assert [t["unread_count"] for t in inbox["items"] if t["id"] == thread["id"]] == [1]
    download = http.get(f"{stack.api}/staff/messages/attachments/{attachment['id']}", headers=staff)
    assert download.status_code == 200 and hashlib.sha256(download.content).digest() == hashlib.sha256(PDF).digest()
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    opened = http.get(f"{stack.api}/staff/messages/threads/{thread['id']}", headers=staff).json()
    assert opened["messages"][-1]["body"] == "Is my diagnosis code right?"
    reply = http.post(f"{stack.api}/staff/messages/threads/{thread['id']}/messages", headers=staff,
                      json={"body": "Yes, F41.1 is the code on file."})
    assert reply.status_code == 201 and reply.json()["sender_name"] == "Practice Administrator"

    # the client's badge, list and dashboard agree
    listed = http.get(f"{stack.api}/portal/messages/threads", headers=me).json()["items"]
    assert unread(http, stack.api, "portal", me) == sum(t["unread_count"] for t in listed) == 1
    assert http.get(f"{stack.api}/portal/dashboard", headers=me).json()["unread_messages"] == 1

    # the e-mail: that there is a message, never what it says
    mails = eventually(lambda: stack.mails_to(address) and [m for m in stack.mails_to(address)
                                                            if "secure message" in m["Subject"]],
                       timeout=20, interval=0.2, message="the new-message e-mail")
    content = mails[0].get_content()
    for secret in ("F41.1", "diagnosis", "Superbill", "superbill.pdf"):
        assert secret not in content and secret not in mails[0]["Subject"]
    assert f"{stack.gateway}/signin" in content

    http.get(f"{stack.api}/portal/messages/threads/{thread['id']}", headers=me)
    assert unread(http, stack.api, "portal", me) == 0


def test_other_services_events_reach_the_bell(stack, http, admin_token):
    staff = bearer(admin_token)
    assert http.patch(f"{stack.api}/staff/settings", headers=staff,
                      json={"online_payments_enabled": True}).status_code == 200
    client_id, me = registered_client(stack, http, staff)

    # client.registered (identity) -> the practice's bell
    eventually(lambda: any(client_id in (n["link"] or "") and n["type"] == "client.registered"
                           for n in http.get(f"{stack.api}/staff/notifications", headers=staff,
                                             params={"limit": 200}).json()["items"]),
               timeout=20, interval=0.2, message="the practice told of the registration")

    # a saved card (payments) -> the client's security notice
    token = requests.post(f"{stack.processor}/v1/tokens", json={
        "card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": datetime.now(UTC).year + 2,
        "cvc": "123", "cardholder_name": "Morgan Lee", "postal_code": "21204"},
        headers={"Origin": stack.gateway}, timeout=5).json()["token"]
    saved = eventually(lambda: (r := http.post(f"{stack.api}/portal/payment-methods", headers={
        **me, "Idempotency-Key": uuid.uuid4().hex}, json={"processor_token": token})).status_code == 201 and r,
        timeout=20, interval=0.3, message="the card saved")
    assert saved.json()["last4"] == "4242"
    notices = eventually(lambda: [n for n in http.get(f"{stack.api}/portal/notifications", headers=me).json()["items"]
                                  if n["type"] == "payment_method.added"],
                         timeout=20, interval=0.2, message="the card notice")
    assert "ending 4242" in notices[0]["body"] and notices[0]["link"] == "/account/cards"
    count = http.get(f"{stack.api}/portal/notifications/unread-count", headers=me).json()["unread"]
    assert count >= 1
    assert http.get(f"{stack.api}/portal/dashboard", headers=me).json()["unread_notifications"] == count
    assert http.post(f"{stack.api}/portal/notifications/read-all", headers=me).status_code == 204
    assert http.get(f"{stack.api}/portal/notifications/unread-count", headers=me).json()["unread"] == 0


def test_five_10_mb_attachments_pass_the_gateway_and_a_sixth_file_is_refused(stack, http, admin_token):
    client_id, me = registered_client(stack, http, bearer(admin_token))
    known_to_messaging(stack, http, me)
    big = b"%PDF-1.4\n" + b"0" * (10 * 1024 * 1024 - 20) + b"\n%%EOF\n"
    files = [("attachments", (f"scan-{n}.pdf", big, "application/pdf")) for n in range(5)]
    sent = http.post(f"{stack.api}/portal/messages/threads", headers=me, data={"subject": "Scans", "body": "All."},
                     files=files)
    assert sent.status_code == 201, sent.text[:300]
    assert [a["size_bytes"] for a in sent.json()["messages"][0]["attachments"]] == [len(big)] * 5
    refused = http.post(f"{stack.api}/portal/messages/threads", headers=me, data={"subject": "More", "body": "x"},
                        files=files + [("attachments", ("six.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"))])
    assert refused.status_code in (413, 422) and refused.headers["Content-Type"] == "application/problem+json"
