"""The completed form's PDF: the answers as the client saw them, the signature and the certificate of completion,
read back out of the bytes with pypdf (a dev dependency)."""

from __future__ import annotations

import io
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pypdf
import pytest

from services.documents.pdf import render_completed_form

SIGNED_AT = datetime(2026, 3, 14, 13, 26, 5, tzinfo=UTC)
SIGNER = "Zoë Ångström-O'Brien"
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari/604.1"


def png(width: int = 120, height: int = 40) -> bytes:
    """A minimal RGBA PNG: a dark stroke across a transparent canvas, as the portal's signature pad sends it."""
    rows = b"".join(b"\x00" + b"".join(b"\x14\x1e\x5a\xff" if abs(y - height // 2 - (x % 16 - 8)) < 2
                                       else b"\x00\x00\x00\x00" for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def completed_form(**overrides) -> dict:
    """A three-section intake form as the service hands it to the renderer."""
    form = {
        "practice": {"name": "Harbor Light Counseling",
                     "address_lines": ["1200 Market Street, Suite 410", "Springfield, IL 62701"],
                     "timezone": "America/Chicago"},
        "form": {"title": "Intake questionnaire", "version": 3,
                 "description": "Please tell us about yourself before your first appointment."},
        "sections": [
            {"title": "About you", "fields": [
                {"label": "Full legal name", "type": "short_text", "answer": SIGNER},
                {"label": "Preferred name", "type": "short_text", "answer": "Zoë",
                 "help": "What you would like us to call you."},
                {"label": "Date of birth", "type": "date", "answer": "Apr 2, 1988"},
                {"label": "Pronouns", "type": "single_choice", "answer": "they/them",
                 "choices": ["she/her", "he/him", "they/them"]},
                {"label": "Occupation", "type": "short_text", "answer": None},
            ]},
            {"title": "Your health", "help": "These questions help your clinician plan your first session.",
             "fields": [
                 {"label": "What brings you to counseling?", "type": "long_text",
                  "answer": "Anxiety at work for six months.\nSleep has been difficult."},
                 {"label": "Which of these have you had in the last two weeks?", "type": "multiple_choice",
                  "answer": ["Trouble sleeping"], "choices": ["Low mood", "Trouble sleeping"]},
                 {"label": "Are you taking any medication?", "type": "yes_no", "answer": True,
                  "follow_up": {"label": "Which medication, and at what dose?", "type": "short_text",
                                "answer": "Sertraline 50 mg"}},
                 {"label": "Have you been hospitalized before?", "type": "yes_no", "answer": False,
                  "follow_up": {"label": "When, and where?", "type": "short_text", "answer": None}},
                 {"label": "Your stress this week, 1 to 10", "type": "number", "answer": "7"},
             ]},
            {"title": "Consent and payment", "fields": [
                {"label": "I agree to the cancellation policy.", "type": "checkbox", "answer": True},
                {"label": "Send me reminders by text message.", "type": "checkbox", "answer": False},
                {"label": "Card for late-cancellation fees", "type": "card_on_file",
                 "answer": "Visa ending in 4242, saved to Cards on File"},
                {"label": "Signature", "type": "signature", "answer": None,
                 "help": "Type your full legal name to sign."},
            ]},
        ],
        "signature": {"full_name": SIGNER, "drawn_png": png(), "signed_at": SIGNED_AT,
                      "disclosure_version": "esign-1",
                      "disclosure_text": "Consent to use electronic records and signatures\n\nYou may choose paper."},
        "certificate": {"signer_name": SIGNER, "signer_email": "zoe.angstrom@example.com",
                        "signed_in_how": "password and two-factor", "signed_at_utc": SIGNED_AT,
                        "ip_address": "203.0.113.42", "user_agent": PHONE, "content_sha256": SHA,
                        "form_id": "frm_01HV7Q3J8Z6W2K9M4N5P"},
        "audit": [
            {"event": "assigned", "at_utc": SIGNED_AT - timedelta(days=2), "ip": "198.51.100.7",
             "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/123.0"},
            {"event": "viewed", "at_utc": SIGNED_AT - timedelta(minutes=14), "ip": "203.0.113.42",
             "user_agent": PHONE},
            {"event": "consent_given", "at_utc": SIGNED_AT - timedelta(minutes=1), "ip": "203.0.113.42",
             "user_agent": PHONE},
            {"event": "signed", "at_utc": SIGNED_AT, "ip": "203.0.113.42", "user_agent": PHONE},
        ],
    }
    return form | overrides


def pages(document: bytes) -> list[str]:
    """The text of each page, whitespace collapsed."""
    return [" ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(document)).pages]


def text_of(document: bytes) -> str:
    return " ".join(pages(document))


@pytest.fixture(scope="module")
def rendered() -> bytes:
    return render_completed_form(completed_form())


# --------------------------------------------------------------------------- the answers


def test_a_three_section_form_renders_its_sections_labels_and_answers(rendered):
    assert rendered.startswith(b"%PDF-")
    texts = pages(rendered)
    assert len(texts) >= 2
    text = " ".join(texts)
    for expected in ("Harbor Light Counseling", "Intake questionnaire", "Version 3", "About you", "Your health",
                     "Consent and payment", "Full legal name", "Date of birth", "Apr 2, 1988",
                     "These questions help your clinician plan your first session.",
                     "What you would like us to call you.", "Anxiety at work for six months.",
                     "Sleep has been difficult.", "Visa ending in 4242, saved to Cards on File",
                     "Your stress this week, 1 to 10"):
        assert expected in text, expected


def test_choices_are_shown_as_the_client_had_them_with_the_chosen_ones_marked(rendered):
    text = text_of(rendered)
    assert "○ she/her ○ he/him ◉ they/them" in text
    assert "☐ Low mood ☒ Trouble sleeping" in text


def test_checkboxes_read_as_ticked_or_not_ticked(rendered):
    text = text_of(rendered)
    assert "I agree to the cancellation policy. ☒ Ticked" in text
    assert "Send me reminders by text message. ☐ Not ticked" in text


def test_a_yes_shows_its_follow_up_and_a_no_does_not(rendered):
    text = text_of(rendered)
    assert "Are you taking any medication? Yes Which medication, and at what dose? Sertraline 50 mg" in text
    assert "Have you been hospitalized before? No" in text
    assert "When, and where?" not in text  # the portal showed it only after a yes


def test_an_unanswered_question_says_so(rendered):
    assert "Occupation No answer" in text_of(rendered)


# --------------------------------------------------------------------------- the signature


def test_a_drawn_signature_is_an_image_above_who_signed_electronically(rendered):
    reader = pypdf.PdfReader(io.BytesIO(rendered))
    signature_pages = [number for number, text in enumerate(pages(rendered))
                       if f"Signed electronically by {SIGNER}" in text]
    assert len(signature_pages) == 1
    assert len(reader.pages[signature_pages[0]].images) == 1
    assert "Typed name and drawn signature" in text_of(rendered)
    assert "on Mar 14, 2026, 8:26:05 AM CDT (America/Chicago)" in text_of(rendered)


def test_without_a_drawing_the_typed_name_is_the_signature():
    form = completed_form()
    form["signature"] = form["signature"] | {"drawn_png": None}
    document = render_completed_form(form)
    reader = pypdf.PdfReader(io.BytesIO(document))
    assert sum(len(page.images) for page in reader.pages) == 0
    text = text_of(document)
    assert f"{SIGNER} Signed electronically by {SIGNER}" in text  # the name in script, then the caption
    assert "Signature: typed name; consent to sign electronically given (disclosure esign-1)." in text


def test_a_drawing_that_is_not_a_png_falls_back_to_the_typed_name():
    form = completed_form()
    form["signature"] = form["signature"] | {"drawn_png": b"\x89PNG\r\n\x1a\nnot really"}
    document = render_completed_form(form)
    assert sum(len(page.images) for page in pypdf.PdfReader(io.BytesIO(document)).pages) == 0
    text = text_of(document)
    assert "Signature: typed name;" in text
    assert "Signature Typed name E-signature disclosure" in text  # the certificate says what the page shows


def test_a_form_without_a_signature_field_gets_the_signature_after_its_last_section():
    form = completed_form()
    form["sections"] = [section | {"fields": [f for f in section["fields"] if f["type"] != "signature"]}
                        for section in form["sections"]]
    text = text_of(render_completed_form(form))
    assert text.count(f"Signed electronically by {SIGNER}") == 1
    assert text.index("Visa ending in 4242") < text.index("Signature") < text.index("Signed electronically by")


# --------------------------------------------------------------------------- the certificate of completion


def test_the_certificate_page_comes_last_with_every_detail_and_the_audit_trail(rendered):
    texts = pages(rendered)
    first = next(number for number, text in enumerate(texts) if "Certificate of completion" in text)
    assert first >= 1 and not any("Full legal name" in text for text in texts[first:])
    certificate = " ".join(texts[first:])
    for expected in ("Form Intake questionnaire (version 3)", "Form ID frm_01HV7Q3J8Z6W2K9M4N5P",
                     f"Signer {SIGNER}", "E-mail zoe.angstrom@example.com",
                     "Signed in with password and two-factor", "Signed at (UTC) Mar 14, 2026, 13:26:05 UTC",
                     "Signed at (practice time) Mar 14, 2026, 8:26:05 AM CDT (America/Chicago)",
                     "IP address 203.0.113.42", f"Content SHA-256 {SHA}", "Accepted, version esign-1",
                     "Event Time (UTC) IP address User agent", "Assigned Mar 12, 2026, 13:26:05 198.51.100.7",
                     "Viewed Mar 14, 2026, 13:12:05", "E-signature consent given Mar 14, 2026, 13:25:05",
                     "Signed Mar 14, 2026, 13:26:05", "You may choose paper."):
        assert expected in certificate, expected
    # a user agent wraps in its cell, but every part of it is there
    assert all(part in certificate for part in PHONE.split())


def test_a_local_time_given_as_text_is_printed_as_given():
    form = completed_form()
    form["certificate"] = form["certificate"] | {"signed_at_local": "14 March 2026, 08:26 (Central Time)"}
    assert "Signed at (practice time) 14 March 2026, 08:26 (Central Time)" in text_of(render_completed_form(form))


def test_without_a_known_time_zone_the_practice_time_is_utc():
    form = completed_form(practice=completed_form()["practice"] | {"timezone": "Mars/Olympus_Mons"})
    assert "Signed at (practice time) Mar 14, 2026, 1:26:05 PM UTC" in text_of(render_completed_form(form))


# --------------------------------------------------------------------------- text, pages, bytes


def test_names_in_any_latin_greek_or_cyrillic_letters_render_as_typed():
    names = ["Zoë Ångström", "Siobhán O'Brien", "Łukasz Żółć", "Ольга Петрова", "Νίκος Παπαδόπουλος",
             "Nguyễn Thị Minh Khai", "Ærøskøbing Ñúñez"]
    form = completed_form()
    form["sections"] = [{"title": "Family", "fields": [
        {"label": f"Name {number}", "type": "short_text", "answer": name} for number, name in enumerate(names)]}]
    form["certificate"] = form["certificate"] | {"signer_name": "Łukasz Żółć"}
    form["signature"] = form["signature"] | {"full_name": "Łukasz Żółć", "drawn_png": None}
    text = text_of(render_completed_form(form))
    for name in names:
        assert name in text, name
    assert "Signed electronically by Łukasz Żółć" in text


def test_characters_the_font_lacks_become_question_marks_and_control_characters_go():
    form = completed_form()
    form["sections"] = [{"title": "Notes", "fields": [
        {"label": "Anything else?", "type": "long_text", "answer": "Tea \u4e2d\u6587 fine\x07 e\u0301t\u00e9"},
        {"label": "And?", "type": "long_text", "answer": "plain\x07 ascii\x1b[31m"}]}]
    text = text_of(render_completed_form(form))
    assert "Tea ?? fine été" in text  # a decomposed é is composed first
    assert "plain ascii[31m" in text


def test_a_long_answer_flows_over_pages_and_keeps_every_line():
    form = completed_form()
    lines = [f"Line {number} of the history the client wrote." for number in range(1, 181)]
    form["sections"] = [{"title": "History", "fields": [
        {"label": "Your history", "type": "long_text", "answer": "\n".join(lines)}]}]
    document = render_completed_form(form)
    texts = pages(document)
    assert len(texts) >= 4
    text = " ".join(texts)
    assert all(line in text for line in lines)
    assert text.index("Line 180 of") < text.index("Certificate of completion")


def test_a_word_wider_than_the_page_is_broken_not_cut():
    word = "x" * 400
    form = completed_form()
    form["sections"] = [{"title": "Notes", "fields": [{"label": "Code", "type": "short_text", "answer": word}]}]
    assert text_of(render_completed_form(form)).replace(" ", "").count(word) == 1


def test_letter_by_default_and_a4_when_the_practice_prints_on_a4():
    letter = pypdf.PdfReader(io.BytesIO(render_completed_form(completed_form()))).pages[0].mediabox
    a4_form = completed_form(practice=completed_form()["practice"] | {"paper": "A4"})
    a4 = pypdf.PdfReader(io.BytesIO(render_completed_form(a4_form))).pages[0].mediabox
    assert (round(letter.width), round(letter.height)) == (612, 792)
    assert (round(a4.width), round(a4.height)) == (595, 842)


def test_the_same_form_renders_to_the_same_bytes(rendered):
    assert render_completed_form(completed_form()) == rendered


def test_every_page_has_its_number_and_the_metadata_names_the_form(rendered):
    texts = pages(rendered)
    assert all(f"Page {number} of {len(texts)}" in text for number, text in enumerate(texts, start=1))
    metadata = pypdf.PdfReader(io.BytesIO(rendered)).metadata
    assert metadata.title == "Intake questionnaire"
    assert metadata.author == "Harbor Light Counseling"
