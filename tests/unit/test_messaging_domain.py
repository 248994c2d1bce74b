"""Messaging's rules without a database: the notification table's words and audiences, the e-mail table and
templates (nothing of a message's content, no amount or card in a subject), and what a file is taken as."""

from __future__ import annotations

import io
import zipfile

import pytest

from services.messaging.domain import messages as rules
from services.messaging.domain import notices as table
from services.messaging.domain.errors import AttachmentRefused, MessageInvalid
from services.messaging.events import SUBSCRIPTIONS
from services.messaging.usecases.mails import render

FACTS = table.Facts(practice_name="Harbor Counseling", timezone="America/New_York", client_name="Avery Stone")


@pytest.mark.parametrize(("cents", "currency", "shown"), [
    (15000, "USD", "$150.00"), (5, "USD", "$0.05"), (123456789, "USD", "$1,234,567.89"), (-2500, "USD", "-$25.00"),
    (1000, "EUR", "€10.00"), (1000, "CHF", "10.00 CHF"), (None, None, "$0.00"),
])
def test_money_is_written_from_integer_cents(cents, currency, shown):
    assert table.money(cents, currency) == shown


def test_an_instant_is_written_on_the_practices_clock():
    assert table.when("2026-12-08T15:00:00+00:00", "America/New_York") == "Tue, Dec 8, 2026 at 10:00 AM"
    assert table.when("2027-07-01T03:30:00Z", "America/Los_Angeles") == "Wed, Jun 30, 2027 at 8:30 PM"


def test_every_rule_is_for_an_event_messaging_subscribes_to():
    assert set(table.RULES) <= set(SUBSCRIPTIONS)
    assert {event for event, _ in table.EMAIL_SUBJECTS} <= set(table.RULES)


def test_the_other_side_hears_of_a_booking():
    by_staff = table.notices_for("appointment.booked", {"appointment_id": "a", "client_id": "c", "by": "staff",
                                                        "start": "2026-12-08T15:00:00+00:00"}, FACTS)
    by_client = table.notices_for("appointment.booked", {"appointment_id": "a", "client_id": "c", "by": "client",
                                                         "start": "2026-12-08T15:00:00+00:00"}, FACTS)
    assert [n.audience for n in by_staff] == ["client"] and [n.audience for n in by_client] == ["practice"]
    assert "Avery Stone" in by_client[0].body and by_staff[0].link == "/appointments/a"


def test_a_reschedule_says_where_from():
    notice, = table.notices_for("appointment.booked", {"appointment_id": "a", "client_id": "c", "by": "staff",
                                                       "start": "2026-12-09T15:00:00+00:00",
                                                       "previous_start": "2026-12-08T15:00:00+00:00"}, FACTS)
    assert "moved from Tue, Dec 8, 2026 at 10:00 AM" in notice.body


@pytest.mark.parametrize("code", sorted(table.FAILURE_WORDS))
def test_each_failure_code_has_plain_words_and_what_to_do(code):
    notice = table.notices_for("payment.failed", {"payment_id": "p", "client_id": "c", "amount_cents": 100,
                                                  "failure_code": code, "failure_message": code,
                                                  "source": "portal"}, FACTS)[0]
    what, todo = table.FAILURE_WORDS[code]
    assert what in notice.body and todo in notice.body and code not in notice.body


def test_an_unknown_failure_code_still_reads_as_a_sentence():
    notice = table.notices_for("payment.failed", {"payment_id": "p", "client_id": "c", "amount_cents": 100,
                                                  "failure_code": "weird_new_code", "failure_message": None}, FACTS)[0]
    assert "did not go through" in notice.body and "weird_new_code" not in notice.body


def test_the_invoice_notice_without_a_card_asks_for_one_before_autopay_runs():
    notice, = table.notices_for("invoice.generated", {
        "invoice_id": "i", "client_id": "c", "number": 7, "total_cents": 100, "currency": "USD",
        "due_date": "2027-01-31", "autopay": {"charge_at": "2027-01-05T06:00:00+00:00", "amount_cents": 100}}, FACTS)
    assert "there is no card on file to charge" in notice.body and "Tue, Jan 5, 2027 at 1:00 AM" in notice.body


def test_no_subject_carries_a_detail():
    for (event_type, audience), subject in table.EMAIL_SUBJECTS.items():
        assert audience in ("client", "practice")
        assert not any(ch.isdigit() for ch in subject) and "$" not in subject and "ending" not in subject


def test_the_new_message_mail_says_only_that_there_is_one():
    subject, text = render("new_message", {"audience": "client"}, practice_name="Harbor Counseling",
                           practice_phone="+1 207 555 0100", base_url="https://portal.example.test/")
    assert subject == "Harbor Counseling: You have a new secure message"
    assert "https://portal.example.test/signin" in text and "+1 207 555 0100" in text
    staff_subject, staff_text = render("new_message", {"audience": "practice"}, practice_name="Harbor Counseling",
                                       practice_phone=None, base_url="https://portal.example.test")
    assert "https://portal.example.test/staff/signin" in staff_text and staff_subject == subject


def test_a_notice_mail_links_to_its_page():
    subject, text = render("notice", {"audience": "client", "subject": "Payment received", "title": "Payment received",
                                      "body": "$1.00 was charged.", "link": "/account/payments/p"},
                           practice_name="Harbor", practice_phone=None, base_url="https://portal.example.test")
    assert subject == "Harbor: Payment received" and "https://portal.example.test/account/payments/p" in text


# --- what a message and a file may be ------------------------------------------------------------------------

@pytest.mark.parametrize("subject", ["", "   ", "\n\t"])
def test_an_empty_subject_is_refused(subject):
    with pytest.raises(MessageInvalid):
        rules.clean_subject(subject)


def test_a_subject_is_one_line_and_a_body_keeps_its_lines():
    assert rules.clean_subject("  Question \n about   billing ") == "Question about billing"
    assert rules.clean_body("\r\nLine one\r\n\r\nLine two\n") == "Line one\n\nLine two"
    with pytest.raises(MessageInvalid):
        rules.clean_body("x" * (rules.BODY_MAX + 1))


@pytest.mark.parametrize(("given", "kept"), [
    ("scan.pdf", "scan.pdf"), ("C:\\Users\\me\\scan.pdf", "scan.pdf"), ("../../etc/passwd.txt", "passwd.txt"),
    ('we"ird;name.pdf', "we_ird_name.pdf"), ("tab\there.png", "tab_here.png"), (" .hidden.txt ", "hidden.txt"),
])
def test_a_file_name_is_made_safe(given, kept):
    assert rules.safe_filename(given) == kept


def test_a_long_file_name_keeps_its_extension():
    name = rules.safe_filename("a" * 400 + ".pdf")
    assert len(name) <= 255 and name.endswith(".pdf")


@pytest.mark.parametrize("name", ["", "/", "...", None])
def test_a_file_without_a_name_is_refused(name):
    with pytest.raises(AttachmentRefused):
        rules.safe_filename(name)


@pytest.mark.parametrize(("name", "head", "content_type"), [
    ("a.pdf", b"%PDF-1.7\n", "application/pdf"),
    ("a.JPG", b"\xff\xd8\xff\xdb" + b"\x00" * 16, "image/jpeg"),
    ("a.txt", "naïve café\n".encode(), "text/plain; charset=utf-8"),
    ("a.txt", "é".encode()[:1], "text/plain; charset=utf-8"),  # a character cut by the sniffing window
])
def test_a_file_is_what_its_bytes_say(name, head, content_type):
    assert rules.sniff(name, head).content_type == content_type


@pytest.mark.parametrize(("name", "head"), [
    ("a.pdf", b"MZ\x90\x00" + b"\x00" * 60), ("a.txt", b"\x7fELF\x02\x01"), ("a.txt", b"text\x00with NUL"),
    ("a.txt", b"\xff\xfe\x00\x00"), ("a.png", b"%PDF-1.4"), ("a.docx", b"PK\x03\x04" + b"\x00" * 30),
    ("a.exe", b"MZ"), ("a.svg", b"<svg/>"), ("a.html", b"<html>"),
])
def test_a_file_whose_bytes_do_not_match_is_refused(name, head):
    with pytest.raises(AttachmentRefused):
        rules.sniff(name, head)


def test_sizes_and_counts_have_their_limits():
    rules.check_size("a.pdf", rules.MAX_ATTACHMENT_BYTES)
    with pytest.raises(AttachmentRefused):
        rules.check_size("a.pdf", rules.MAX_ATTACHMENT_BYTES + 1)
    rules.check_count(rules.MAX_ATTACHMENTS)
    with pytest.raises(AttachmentRefused):
        rules.check_count(rules.MAX_ATTACHMENTS + 1)


def _zip(names: list[str]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in names:
            z.writestr(name, "<x/>")
    out.seek(0)
    return out


def test_a_docx_is_a_word_document_without_macros():
    kind = rules.FileType("docx", rules.DOCX)
    rules.check_whole("a.docx", kind, _zip(["[Content_Types].xml", "word/document.xml"]))
    for names in (["[Content_Types].xml", "word/document.xml", "word/vbaProject.bin"],  # a .docm renamed
                  ["[Content_Types].xml", "xl/workbook.xml"],  # a spreadsheet renamed
                  ["word/document.xml"]):
        with pytest.raises(AttachmentRefused):
            rules.check_whole("a.docx", kind, _zip(names))
    with pytest.raises(AttachmentRefused):
        rules.check_whole("a.docx", kind, io.BytesIO(b"PK\x03\x04 not really a zip"))


def test_a_txt_is_text_to_its_last_byte():
    kind = rules.FileType("txt", "text/plain; charset=utf-8")
    rules.check_whole("a.txt", kind, io.BytesIO(("notes " * 300_000).encode()))
    with pytest.raises(AttachmentRefused):
        rules.check_whole("a.txt", kind, io.BytesIO(b"notes " * 5000 + b"\x00\x01binary"))
    with pytest.raises(AttachmentRefused):
        rules.check_whole("a.txt", kind, io.BytesIO(b"notes " * 5000 + b"\xff\xfe"))
    with pytest.raises(AttachmentRefused):
        rules.check_whole("a.txt", kind, io.BytesIO(b"ends in half a character \xc3"))


def test_a_file_name_cannot_hide_its_extension_with_bidi_characters():
    assert rules.safe_filename("invoice\u202efdp.exe") == "invoicefdp.exe"
