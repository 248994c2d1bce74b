"""Secure messages end to end inside messaging: a client writes with an attachment, staff read and reply, each side's
unread count is what its list says, files come back byte for byte, and the other side's e-mail says only that
there is a message (the client's only when still unread after the practice's delay; several messages, one mail)."""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.integration.messaging_fixtures import PRACTICE_EMAIL

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + b"\x00" * 40


def write(api, path: str, *, files=(), **fields):
    data = dict(fields)
    if files:
        data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return api.client.open(path, method="POST", data=data, headers=api.headers(),
                           content_type="multipart/form-data")


def unread(api, side: str) -> int:
    answer = api.get(f"/api/v1/{side}/messages/unread-count")
    assert answer.status_code == 200
    return answer.get_json()["unread"]


def thread_row(api, side: str, thread_id: str) -> dict:
    items = api.get(f"/api/v1/{side}/messages/threads", query_string={"limit": 200}).get_json()["items"]
    return next(t for t in items if t["id"] == thread_id)


def test_a_client_writes_with_a_file_staff_reads_and_replies_and_the_counts_follow(mclient, mstaff):
    client, staff = mclient(), mstaff()
    started = write(client.api, "/api/v1/portal/messages/threads", subject="Question about my invoice",
                    body="Hello,\nplease see the attached form.", files=[("intake form.pdf", PDF)])
    assert started.status_code == 201, started.get_json()
    thread = started.get_json()
    assert thread["subject"] == "Question about my invoice" and len(thread["messages"]) == 1
    first = thread["messages"][0]
    assert first["sender_role"] == "client" and first["sender_name"] == client.name
    assert first["attachments"] == [{"id": first["attachments"][0]["id"], "filename": "intake form.pdf",
                                     "content_type": "application/pdf", "size_bytes": len(PDF)}]

    # the practice sees it unread; the client has nothing unread (their own message)
    staff_before = unread(staff.api, "staff")
    row = thread_row(staff.api, "staff", thread["id"])
    assert row["unread_count"] == 1 and row["client"] == {"id": client.id, "name": client.name}
    assert unread(client.api, "portal") == 0

    opened = staff.api.get(f"/api/v1/staff/messages/threads/{thread['id']}")
    assert opened.status_code == 200 and opened.get_json()["messages"][0]["body"].startswith("Hello,")
    assert thread_row(staff.api, "staff", thread["id"])["unread_count"] == 0
    assert unread(staff.api, "staff") == staff_before - 1

    reply = staff.api.post(f"/api/v1/staff/messages/threads/{thread['id']}/messages",
                           json={"body": "Thank you, we have it."})
    assert reply.status_code == 201 and reply.get_json()["sender_name"] == staff.name
    listed = client.api.get("/api/v1/portal/messages/threads").get_json()["items"]
    assert [t["unread_count"] for t in listed if t["id"] == thread["id"]] == [1]
    assert unread(client.api, "portal") == sum(t["unread_count"] for t in listed) == 1

    # reading is per side: the client reading marks the practice's message read, and nothing of the practice's
    seen = client.api.get(f"/api/v1/portal/messages/threads/{thread['id']}").get_json()
    assert [m["sender_role"] for m in seen["messages"]] == ["client", "staff"]
    assert unread(client.api, "portal") == 0
    assert seen["messages"][0]["read_at"] is not None  # the practice read the client's message


def test_an_attachment_comes_back_byte_for_byte_as_a_download(mclient, mstaff, messaging_engine):
    client, staff = mclient(), mstaff()
    content = PNG + bytes(range(256)) * 8000  # ~2 MB: more than one stored chunk
    thread = write(client.api, "/api/v1/portal/messages/threads", subject="Photo", body="See the picture.",
                   files=[("../../etc/scan.png", content)]).get_json()
    attachment = thread["messages"][0]["attachments"][0]
    assert attachment["filename"] == "scan.png"  # the path part of a sent name is dropped
    for api, side in ((client.api, "portal"), (staff.api, "staff")):
        answer = api.get(f"/api/v1/{side}/messages/attachments/{attachment['id']}")
        assert answer.status_code == 200 and answer.data == content
        assert answer.headers["Content-Disposition"].startswith('attachment; filename="scan.png"')
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.mimetype == "image/png" and int(answer.headers["Content-Length"]) == len(content)
    with messaging_engine.connect() as conn:
        stored = conn.execute(text("SELECT sha256, size_bytes FROM attachments WHERE id = :i"),
                              {"i": attachment["id"]}).one()
        chunks = conn.execute(text("SELECT count(*) FROM attachment_chunks WHERE attachment_id = :i"),
                              {"i": attachment["id"]}).scalar_one()
    assert stored.sha256 == hashlib.sha256(content).hexdigest() and stored.size_bytes == len(content)
    assert chunks == 2


def test_staff_start_a_thread_assign_it_and_filter_the_inbox(mclient, mstaff):
    client, staff, colleague = mclient(), mstaff(), mstaff("Lee", "Park")
    started = staff.api.post("/api/v1/staff/messages/threads", json={
        "client_id": client.id, "subject": "Your intake", "body": "Please fill in the intake form."})
    assert started.status_code == 201
    thread_id = started.get_json()["id"]
    assert started.get_json()["assigned_to"] is None
    assignees = staff.api.get("/api/v1/staff/messages/assignees").get_json()["items"]
    assert {"id": colleague.id, "name": "Lee Park", "role": "staff"} in assignees

    assigned = staff.api.post(f"/api/v1/staff/messages/threads/{thread_id}/assign",
                              json={"staff_user_id": colleague.id})
    assert assigned.status_code == 200 and assigned.get_json()["assigned_to"] == {"id": colleague.id,
                                                                                  "name": "Lee Park"}
    mine = staff.api.get("/api/v1/staff/messages/threads", query_string={"assigned_to": colleague.id})
    assert [t["id"] for t in mine.get_json()["items"]] == [thread_id]
    by_client = staff.api.get("/api/v1/staff/messages/threads", query_string={"client_id": client.id})
    assert [t["id"] for t in by_client.get_json()["items"]] == [thread_id]
    # nothing from the client yet: not in "unread", and in "read"
    unread_ids = {t["id"] for t in staff.api.get("/api/v1/staff/messages/threads",
                                                 query_string={"unread": "true", "limit": 200}).get_json()["items"]}
    assert thread_id not in unread_ids
    client.api.post(f"/api/v1/portal/messages/threads/{thread_id}/messages", json={"body": "Done, thanks."})
    unread_ids = {t["id"] for t in staff.api.get("/api/v1/staff/messages/threads",
                                                 query_string={"unread": "true", "limit": 200}).get_json()["items"]}
    assert thread_id in unread_ids
    unassigned = staff.api.post(f"/api/v1/staff/messages/threads/{thread_id}/assign", json={"staff_user_id": None})
    assert unassigned.get_json()["assigned_to"] is None


def test_the_inbox_pages_by_the_latest_message(mclient, mstaff, mclock):
    client, staff = mclient(), mstaff()
    ids = []
    for n in range(5):
        mclock.at(mclock.now + timedelta(minutes=1))
        ids.append(client.api.post("/api/v1/portal/messages/threads",
                                   json={"subject": f"Question {n}", "body": "?"}).get_json()["id"])
    first = client.api.get("/api/v1/portal/messages/threads", query_string={"limit": 2}).get_json()
    second = client.api.get("/api/v1/portal/messages/threads",
                            query_string={"limit": 2, "cursor": first["next_cursor"]}).get_json()
    third = client.api.get("/api/v1/portal/messages/threads",
                           query_string={"limit": 2, "cursor": second["next_cursor"]}).get_json()
    assert [t["id"] for t in first["items"] + second["items"] + third["items"]] == ids[::-1]
    assert third["next_cursor"] is None
    # a reply moves the thread to the top
    mclock.at(mclock.now + timedelta(minutes=1))
    staff.api.post(f"/api/v1/staff/messages/threads/{ids[0]}/messages", json={"body": "Answered."})
    assert client.api.get("/api/v1/portal/messages/threads").get_json()["items"][0]["id"] == ids[0]


# --- the e-mail of a new message ---------------------------------------------------------------------------

def test_the_client_is_mailed_once_when_the_practices_messages_stay_unread_past_the_delay(
        mclient, mstaff, mclock, messaging_service, mail_sink, mrelay):
    client, staff = mclient(), mstaff()
    thread = staff.api.post("/api/v1/staff/messages/threads", json={
        "client_id": client.id, "subject": "Lab results: confidential", "body": "Your results are in."}).get_json()
    mclock.at(mclock.now + timedelta(minutes=3))
    staff.api.post(f"/api/v1/staff/messages/threads/{thread['id']}/messages", json={"body": "And one more thing."})

    mclock.at(mclock.now + timedelta(minutes=6))  # 9 minutes after the first: not yet
    mrelay()
    messaging_service.mails.send_due()
    assert mail_sink.to(client.email) == []
    mclock.at(mclock.now + timedelta(minutes=2))  # 11 minutes: the first message's delay is over
    mrelay()
    messaging_service.mails.send_due()
    mclock.at(mclock.now + timedelta(minutes=20))
    mrelay()
    messaging_service.mails.send_due()

    mails = mail_sink.to(client.email)
    assert len(mails) == 1  # two messages, one e-mail
    mail = mails[0]
    content = mail.get_content()
    assert mail["Subject"] == "Harbor Counseling: You have a new secure message"
    assert "Harbor Counseling" in mail["From"] and "https://portal.harbor.example.test/signin" in content
    for secret in ("Lab results", "confidential", "Your results are in", "one more thing"):
        assert secret not in content and secret not in mail["Subject"]


def test_no_mail_when_the_client_read_the_message_within_the_delay(mclient, mstaff, mclock, messaging_service,
                                                                   mail_sink, messaging_engine, mrelay):
    client, staff = mclient(), mstaff()
    thread = staff.api.post("/api/v1/staff/messages/threads", json={
        "client_id": client.id, "subject": "Reminder", "body": "See you Tuesday."}).get_json()
    mclock.at(mclock.now + timedelta(minutes=5))
    client.api.get(f"/api/v1/portal/messages/threads/{thread['id']}")
    mclock.at(mclock.now + timedelta(minutes=30))
    mrelay()
    messaging_service.mails.send_due()
    assert mail_sink.to(client.email) == []
    with messaging_engine.connect() as conn:
        statuses = conn.execute(text("SELECT status FROM mails WHERE recipient = :r"), {"r": client.email}).scalars()
        assert list(statuses) == ["skipped"]


def test_the_practice_is_mailed_at_once_and_the_assignee_when_there_is_one(mclient, mstaff, mclock,
                                                                         messaging_service, mail_sink, mrelay):
    client, staff = mclient(), mstaff()
    before = len(mail_sink.to(PRACTICE_EMAIL))
    thread = client.api.post("/api/v1/portal/messages/threads",
                             json={"subject": "Insurance card", "body": "My new member id is 123."}).get_json()
    mrelay()
    messaging_service.mails.send_due()
    practice_mails = mail_sink.to(PRACTICE_EMAIL)[before:]
    assert len(practice_mails) == 1
    assert "123" not in practice_mails[0].get_content() and "Insurance" not in practice_mails[0]["Subject"]
    assert "https://portal.harbor.example.test/staff/signin" in practice_mails[0].get_content()

    staff.api.post(f"/api/v1/staff/messages/threads/{thread['id']}/assign", json={"staff_user_id": staff.id})
    client.api.post(f"/api/v1/portal/messages/threads/{thread['id']}/messages", json={"body": "Also my address."})
    mrelay()
    messaging_service.mails.send_due()
    assert len(mail_sink.to(staff.email)) == 1
    assert len(mail_sink.to(PRACTICE_EMAIL)[before:]) == 1  # the assignee's, not the front desk's


def test_the_delay_is_the_practices_to_set(mstaff, mclient, mclock, messaging_service, mail_sink, mrelay):
    staff, client = mstaff(role="admin"), mclient()
    changed = staff.api.patch("/api/v1/staff/messaging-settings", json={"client_email_delay_minutes": 0})
    assert changed.status_code == 200 and changed.get_json()["client_email_delay_minutes"] == 0
    staff.api.post("/api/v1/staff/messages/threads", json={"client_id": client.id, "subject": "Hi", "body": "Hi."})
    mrelay()
    messaging_service.mails.send_due()
    assert len(mail_sink.to(client.email)) == 1


def test_a_mail_the_smtp_server_refuses_waits_and_goes_later(mclient, mstaff, mclock, messaging_service, mail_sink,
                                                            messaging_engine, monkeypatch, mrelay):
    client, staff = mclient(), mstaff()
    messaging_service.policy.update({"client_email_delay_minutes": 0})
    staff.api.post("/api/v1/staff/messages/threads", json={"client_id": client.id, "subject": "Hi", "body": "Hi."})
    monkeypatch.setattr(messaging_service.ctx.config, "smtp_port", 1)  # nothing listens there
    mrelay()
    counts = messaging_service.mails.send_due()
    assert counts["failed"] >= 1 and mail_sink.to(client.email) == []
    with messaging_engine.connect() as conn:
        row = conn.execute(text("SELECT status, attempts, send_after FROM mails WHERE recipient = :r"),
                           {"r": client.email}).one()
    assert row.status == "pending" and row.attempts == 1 and row.send_after > mclock.now
    monkeypatch.undo()
    mrelay()
    messaging_service.mails.send_due()
    assert mail_sink.to(client.email) == []  # not before its retry time
    mclock.at(mclock.now + timedelta(minutes=1))
    mrelay()
    messaging_service.mails.send_due()
    assert len(mail_sink.to(client.email)) == 1


def test_two_clients_sharing_an_address_are_each_told(mclient, mstaff, mdeliver, mclock, messaging_service, mrelay,
                                                      mail_sink):
    """A parent's address for two children: one child's read message must not swallow the other's mail."""
    staff = mstaff()
    shared = f"family-{uuid.uuid4().hex[:8]}@example.test"
    one, two = mclient("Ari", "Vale"), mclient("Bo", "Vale")
    for child in (one, two):
        mdeliver("profile.updated", {"client_id": child.id, "first_name": child.name.split()[0], "last_name": "Vale",
                                     "email": shared, "changed_fields": ["email"], "by": "staff"})
    for child in (one, two):
        staff.api.post("/api/v1/staff/messages/threads", json={"client_id": child.id, "subject": "Hi", "body": "Hi."})
    mrelay()
    ones = one.api.get("/api/v1/portal/messages/threads").get_json()["items"]
    one.api.get(f"/api/v1/portal/messages/threads/{ones[0]['id']}")
    mclock.at(mclock.now + timedelta(minutes=11))
    messaging_service.mails.send_due()
    assert len(mail_sink.to(shared)) == 1  # Bo's, though Ari read theirs


def test_a_reply_does_not_mark_what_the_replier_has_not_opened(mclient, mstaff):
    client, staff = mclient(), mstaff()
    thread = client.api.post("/api/v1/portal/messages/threads", json={"subject": "Q", "body": "One"}).get_json()
    staff.api.get(f"/api/v1/staff/messages/threads/{thread['id']}")
    client.api.post(f"/api/v1/portal/messages/threads/{thread['id']}/messages", json={"body": "Two"})
    staff.api.post(f"/api/v1/staff/messages/threads/{thread['id']}/messages", json={"body": "Answer to one"})
    assert thread_row(staff.api, "staff", thread["id"])["unread_count"] == 1  # "Two" was never shown


def test_an_older_unread_message_does_not_keep_a_later_mail_alive(mclient, mstaff, mclock, messaging_service, mrelay,
                                                                  mail_sink):
    client, staff = mclient(), mstaff()
    first = staff.api.post("/api/v1/staff/messages/threads", json={
        "client_id": client.id, "subject": "Old", "body": "Old news."}).get_json()
    mrelay()
    mclock.at(mclock.now + timedelta(minutes=11))
    messaging_service.mails.send_due()
    assert len(mail_sink.to(client.email)) == 1  # the first thread's mail; the client never opens it
    second = staff.api.post("/api/v1/staff/messages/threads", json={
        "client_id": client.id, "subject": "New", "body": "New news."}).get_json()
    mrelay()
    client.api.get(f"/api/v1/portal/messages/threads/{second['id']}")  # read within the delay
    mclock.at(mclock.now + timedelta(minutes=11))
    messaging_service.mails.send_due()
    assert len(mail_sink.to(client.email)) == 1  # no second mail: what it was for is read
    assert client.api.get("/api/v1/portal/messages/unread-count").get_json()["unread"] == 1  # the old one
    assert first["id"] != second["id"]


def test_a_practice_name_with_a_line_break_does_not_stop_the_mail(mclient, mstaff, mdeliver, mclock,
                                                                  messaging_service, mrelay, mail_sink):
    from tests.integration.messaging_fixtures import SETTINGS

    client, staff = mclient(), mstaff()
    mdeliver("practice.settings_changed", {"settings": {**SETTINGS, "practice_name": "Harbor\nCounseling"},
                                           "changed_fields": ["practice_name"]})
    messaging_service.policy.update({"client_email_delay_minutes": 0})
    staff.api.post("/api/v1/staff/messages/threads", json={"client_id": client.id, "subject": "Hi", "body": "Hi."})
    mrelay()
    messaging_service.mails.send_due()
    mail, = mail_sink.to(client.email)
    assert mail["From"].startswith("Harbor Counseling <") and mail["Subject"].startswith("Harbor Counseling: ")


def test_a_mail_refused_too_often_is_failed_and_the_others_go(mclient, mstaff, mclock, messaging_service, mrelay,
                                                              mail_sink, messaging_engine, monkeypatch):
    from services.messaging.usecases import mails

    client, staff = mclient(), mstaff()
    messaging_service.policy.update({"client_email_delay_minutes": 0})
    staff.api.post("/api/v1/staff/messages/threads", json={"client_id": client.id, "subject": "Hi", "body": "Hi."})
    mrelay()
    monkeypatch.setattr(messaging_service.ctx.config, "smtp_port", 1)
    for _ in range(mails.MAX_ATTEMPTS):
        messaging_service.mails.send_due()
        mclock.at(mclock.now + timedelta(seconds=mails.RETRY_MAX_SECONDS))
    with messaging_engine.connect() as conn:
        row = conn.execute(text("SELECT status, attempts FROM mails WHERE recipient = :r"), {"r": client.email}).one()
    assert row.status == "failed" and row.attempts == mails.MAX_ATTEMPTS
