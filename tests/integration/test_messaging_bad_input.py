"""Bad input to every messaging route: a clear problem+json naming what is wrong, and nothing written (no thread,
message, file, chunk, notification, mail or event). A route added without a case here fails the last test."""

from __future__ import annotations

import io
import uuid

import pytest

from services.messaging.domain.messages import BODY_MAX, MAX_ATTACHMENT_BYTES, SUBJECT_MAX

pytestmark = pytest.mark.integration

V, SEE = "validation-error", "See errors for the fields that are wrong."
THREADS, STAFF_THREADS = "/api/v1/portal/messages/threads", "/api/v1/staff/messages/threads"
PDF = b"%PDF-1.4\n%%EOF\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200 + b"PE\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120


@pytest.fixture
def desk(mclient, mstaff):
    client, staff = mclient(), mstaff(role="admin")
    thread = client.api.post(THREADS, json={"subject": "Hello", "body": "Hi."}).get_json()
    return {"client": client.api, "staff": staff.api, "ids": {"thread": thread["id"], "client": client.id}}


def filled(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value


# (id, caller, method, path, json body or query, status, slug, field)
CASES = [
    ("start-empty-subject", "client", "POST", THREADS, {"subject": "   ", "body": "Hi"}, 422, V, "subject"),
    ("start-empty-body", "client", "POST", THREADS, {"subject": "Hi", "body": " \n "}, 422, V, "body"),
    ("start-body-too-long", "client", "POST", THREADS, {"subject": "Hi", "body": "x" * (BODY_MAX + 1)}, 422, V,
     "body"),
    ("start-body-far-too-long", "client", "POST", THREADS, {"subject": "Hi", "body": "x" * (BODY_MAX * 2 + 1)}, 422,
     V, "body"),
    ("start-subject-too-long", "client", "POST", THREADS, {"subject": "s" * (SUBJECT_MAX + 1), "body": "Hi"}, 422, V,
     "subject"),
    ("start-no-subject", "client", "POST", THREADS, {"body": "Hi"}, 422, V, "subject"),
    ("start-body-a-number", "client", "POST", THREADS, {"subject": "Hi", "body": 7}, 422, V, "body"),
    ("start-a-staff-field-from-a-client", "client", "POST", THREADS,
     {"subject": "Hi", "body": "Hi", "client_id": "{client}"}, 422, V, "client_id"),
    ("start-not-json", "client", "POST", THREADS, "text", 415, "unsupported-media-type", None),
    ("reply-empty", "client", "POST", THREADS + "/{thread}/messages", {"body": ""}, 422, V, "body"),
    ("reply-unknown-thread", "client", "POST", THREADS + f"/{uuid.uuid4()}/messages", {"body": "Hi"}, 404,
     "thread-not-found", None),
    ("read-unknown-thread", "client", "GET", THREADS + f"/{uuid.uuid4()}", None, 404, "thread-not-found", None),
    ("list-limit-zero", "client", "GET", THREADS, {"limit": "0"}, 422, V, "limit"),
    ("list-bad-cursor", "client", "GET", THREADS, {"cursor": "not-a-cursor"}, 422, V, "cursor"),
    ("list-unknown-filter", "client", "GET", THREADS, {"unread": "true"}, 422, V, "unread"),
    ("unread-count-query", "client", "GET", "/api/v1/portal/messages/unread-count", {"x": "1"}, 422, V, "x"),
    ("attachment-unknown", "client", "GET", f"/api/v1/portal/messages/attachments/{uuid.uuid4()}", None, 404,
     "attachment-not-found", None),
    ("notifications-unread-yes", "client", "GET", "/api/v1/portal/notifications", {"unread": "yes"}, 422, V,
     "unread"),
    ("notifications-count-query", "client", "GET", "/api/v1/portal/notifications/unread-count", {"all": "1"}, 422,
     V, "all"),
    ("notification-unknown", "client", "POST", f"/api/v1/portal/notifications/{uuid.uuid4()}/read", None, 404,
     "notification-not-found", None),
    ("read-all-query", "client", "POST", "/api/v1/portal/notifications/read-all?type=x", None, 422, V, "type"),
    ("staff-start-unknown-client", "staff", "POST", STAFF_THREADS,
     {"client_id": str(uuid.uuid4()), "subject": "Hi", "body": "Hi"}, 422, V, "client_id"),
    ("staff-start-no-client", "staff", "POST", STAFF_THREADS, {"subject": "Hi", "body": "Hi"}, 422, V, "client_id"),
    ("staff-reply-unknown-thread", "staff", "POST", STAFF_THREADS + f"/{uuid.uuid4()}/messages", {"body": "Hi"},
     404, "thread-not-found", None),
    ("staff-reply-empty", "staff", "POST", STAFF_THREADS + "/{thread}/messages", {"body": "  "}, 422, V, "body"),
    ("staff-read-unknown-thread", "staff", "GET", STAFF_THREADS + f"/{uuid.uuid4()}", None, 404, "thread-not-found",
     None),
    ("staff-list-unread-maybe", "staff", "GET", STAFF_THREADS, {"unread": "maybe"}, 422, V, "unread"),
    ("staff-list-client-too-long", "staff", "GET", STAFF_THREADS, {"client_id": "c" * 37}, 422, V, "client_id"),
    ("assign-unknown-staff", "staff", "POST", STAFF_THREADS + "/{thread}/assign",
     {"staff_user_id": str(uuid.uuid4())}, 422, V, "staff_user_id"),
    ("assign-no-body-member", "staff", "POST", STAFF_THREADS + "/{thread}/assign", {}, 422, V, "staff_user_id"),
    ("assign-unknown-thread", "staff", "POST", STAFF_THREADS + f"/{uuid.uuid4()}/assign", {"staff_user_id": None},
     404, "thread-not-found", None),
    ("assignees-query", "staff", "GET", "/api/v1/staff/messages/assignees", {"role": "x"}, 422, V, "role"),
    ("staff-unread-query", "staff", "GET", "/api/v1/staff/messages/unread-count", {"x": "1"}, 422, V, "x"),
    ("staff-attachment-unknown", "staff", "GET", f"/api/v1/staff/messages/attachments/{uuid.uuid4()}", None, 404,
     "attachment-not-found", None),
    ("staff-notifications-limit", "staff", "GET", "/api/v1/staff/notifications", {"limit": "201"}, 422, V, "limit"),
    ("staff-notifications-count-query", "staff", "GET", "/api/v1/staff/notifications/unread-count", {"x": "1"}, 422,
     V, "x"),
    ("staff-notification-unknown", "staff", "POST", f"/api/v1/staff/notifications/{uuid.uuid4()}/read", None, 404,
     "notification-not-found", None),
    ("staff-read-all-query", "staff", "POST", "/api/v1/staff/notifications/read-all?x=1", None, 422, V, "x"),
    ("settings-query", "staff", "GET", "/api/v1/staff/messaging-settings", {"x": "1"}, 422, V, "x"),
    ("settings-delay-negative", "staff", "PATCH", "/api/v1/staff/messaging-settings",
     {"client_email_delay_minutes": -1}, 422, V, "client_email_delay_minutes"),
    ("settings-delay-over-a-day", "staff", "PATCH", "/api/v1/staff/messaging-settings",
     {"client_email_delay_minutes": 1441}, 422, V, "client_email_delay_minutes"),
    ("settings-delay-text", "staff", "PATCH", "/api/v1/staff/messaging-settings",
     {"client_email_delay_minutes": "10"}, 422, V, "client_email_delay_minutes"),
    ("settings-unknown", "staff", "PATCH", "/api/v1/staff/messaging-settings", {"practice_name": "X"}, 422, V,
     "practice_name"),
]


def refused(response, status: int, slug: str, field: str | None):
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/problem+json" and body["type"] == f"/problems/{slug}"
    assert body["detail"]
    if field:
        assert field in (body.get("errors") or {}), body
    return body


@pytest.mark.parametrize("caller, method, path, payload, status, slug, field",
                         [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_bad_input_is_a_clear_problem_and_writes_nothing(desk, msnapshot, caller, method, path, payload, status,
                                                         slug, field):
    api, ids = desk[caller], desk["ids"]
    url = filled(path, ids)
    before = msnapshot()
    if payload == "text":
        response = api.call(method, url, data="text", headers={"Content-Type": "text/plain"})
    elif method == "GET":
        response = api.get(url, query_string=payload or {})
    else:
        response = api.call(method, url, json=filled(payload, ids))
    refused(response, status, slug, field)
    before.assert_unchanged()


def upload(api, path: str, files: list[tuple[str, bytes]], **fields):
    data = {**fields, "attachments": [(io.BytesIO(content), name) for name, content in files]}
    return api.client.open(path, method="POST", data=data, headers=api.headers(), content_type="multipart/form-data")


# (id, files, the sentence the problem's detail holds)
FILES = [
    ("six-files", [(f"f{n}.pdf", PDF) for n in range(6)], "at most 5 attachments"),
    ("over-10-mb", [("big.pdf", PDF + b"0" * (MAX_ATTACHMENT_BYTES - len(PDF) + 1))], "larger than 10 MB"),
    ("a-renamed-windows-executable", [("invoice.pdf", EXE)], "its content is not a PDF file"),
    ("a-renamed-linux-executable", [("notes.txt", ELF)], "its content is not a TXT file"),
    ("an-executable", [("setup.exe", EXE)], "only PDF, JPEG, PNG, HEIC, DOCX or TXT"),
    ("text-named-png", [("photo.png", b"just some text")], "its content is not a PNG file"),
    ("a-pdf-named-jpeg", [("scan.jpg", PDF)], "its content is not a JPG file"),
    ("no-extension", [("README", b"hello")], "only PDF, JPEG, PNG, HEIC, DOCX or TXT"),
    ("empty", [("empty.pdf", b"")], "empty"),
    ("the-fifth-good-the-sixth-bad", [(f"f{n}.pdf", PDF) for n in range(4)] + [("x.pdf", EXE)], "not a PDF"),
]


@pytest.mark.parametrize("files, says", [pytest.param(*case[1:], id=case[0]) for case in FILES])
@pytest.mark.parametrize("where", ["start", "reply", "staff-reply"])
def test_a_refused_file_refuses_the_whole_message(desk, msnapshot, files, says, where):
    before = msnapshot()
    if where == "start":
        response = upload(desk["client"], THREADS, files, subject="Files", body="See attached.")
    elif where == "reply":
        response = upload(desk["client"], filled(THREADS + "/{thread}/messages", desk["ids"]), files, body="Here.")
    else:
        response = upload(desk["staff"], filled(STAFF_THREADS + "/{thread}/messages", desk["ids"]), files, body="Here.")
    body = refused(response, 422, "attachment-refused", "attachments")
    assert says in body["detail"]
    before.assert_unchanged()


def test_an_unknown_form_field_or_file_field_is_refused(desk, msnapshot):
    before = msnapshot()
    response = desk["client"].client.open(THREADS, method="POST", headers=desk["client"].headers(),
                                          content_type="multipart/form-data",
                                          data={"subject": "Hi", "body": "Hi", "priority": "high"})
    refused(response, 422, V, "priority")
    response = desk["client"].client.open(THREADS, method="POST", headers=desk["client"].headers(),
                                          content_type="multipart/form-data",
                                          data={"subject": "Hi", "body": "Hi", "file": (io.BytesIO(PDF), "a.pdf")})
    refused(response, 422, V, "file")
    before.assert_unchanged()


def test_every_type_named_is_taken(desk):
    """The accepted types, each from real signature bytes: PDF, JPEG, PNG, HEIC, DOCX, TXT."""
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + b"\x00" * 64
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    response = upload(desk["client"], THREADS, [("a.pdf", PDF), ("b.jpeg", jpeg), ("c.png", png), ("d.heic", heic),
                                                ("e.txt", "Grüße, notes\n".encode())],
                      subject="Types", body="All of them.")
    assert response.status_code == 201, response.get_json()
    kinds = [a["content_type"] for a in response.get_json()["messages"][0]["attachments"]]
    assert kinds == ["application/pdf", "image/jpeg", "image/png", "image/heic", "text/plain"]
    docx = _docx()
    response = upload(desk["client"], THREADS, [("letter.docx", docx)], subject="Letter", body="Attached.")
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["messages"][0]["attachments"][0]["content_type"].endswith("wordprocessingml.document")


def _docx() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                                          'package/2006/content-types"/>')
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def test_every_endpoint_has_its_bad_input_here(messaging_app):
    """A route added to messaging and not to CASES fails here, so none goes untried."""
    adapter = messaging_app.url_map.bind("localhost")
    endpoints = {(method, rule.endpoint) for rule in messaging_app.url_map.iter_rules()
                 if rule.endpoint.startswith("messaging_") for method in rule.methods - {"HEAD", "OPTIONS"}}
    dummy = {"thread": "x" * 36, "client": "x" * 36}
    tried = {(case[2], adapter.match(filled(case[3], dummy).split("?")[0], method=case[2])[0]) for case in CASES}
    assert endpoints - tried == set()
