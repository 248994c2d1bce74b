"""Documents' answer checks (domain/answers.py): what each question type takes, drafts against submissions,
yes/no follow-ups, the signature block and its disclosure, when a form still takes answers, and the digest of
what was submitted."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import struct
import zlib

import pytest

from services.documents.domain import answers as a
from services.documents.domain.disclosure import DISCLOSURE_TEXT, DISCLOSURE_VERSION, DISCLOSURES
from services.documents.domain.errors import AnswersInvalid, FormNotEditable
from services.documents.domain.starter_templates import starter_template
from services.documents.domain.templates import parse_template
from shared.schemas import NUL_MESSAGE, SURROGATE_MESSAGE

TEMPLATE = parse_template({
    "title": "Everything",
    "sections": [
        {"title": "First", "fields": [
            {"key": "name", "type": "text", "label": "Name", "required": True, "max_length": 20},
            {"key": "story", "type": "textarea", "label": "Story", "max_length": 30},
            {"key": "born", "type": "date", "label": "Born", "required": True},
            {"key": "count", "type": "number", "label": "Count", "min": 0, "max": 10, "integer": True},
            {"key": "weight", "type": "number", "label": "Weight", "min": 0.5},
            {"key": "colour", "type": "choice", "label": "Colour", "required": True,
             "choices": [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]},
            {"key": "pets", "type": "multichoice", "label": "Pets", "required": True,
             "choices": [{"value": "cat", "label": "Cat"}, {"value": "dog", "label": "Dog"},
                         {"value": "fish", "label": "Fish"}]},
        ]},
        {"title": "Second", "fields": [
            {"key": "agree", "type": "checkbox", "label": "I agree", "required": True},
            {"key": "newsletter", "type": "checkbox", "label": "Send me news"},
            {"key": "smokes", "type": "yesno", "label": "Do you smoke?", "required": True,
             "follow_up": {"key": "smokes_how_much", "type": "text", "label": "How much?", "required": True}},
            {"key": "card", "type": "card_on_file", "label": "Card", "required": True},
            {"key": "sign", "type": "signature", "label": "I sign"},
        ]},
    ],
})
CARD_ID = "0b7e6a4c-3f0e-4c49-9d2a-6f1f3f5e2a10"


def png(width: int = 300, height: int = 100, padding: int = 0) -> bytes:
    """A small real PNG: its signature, IHDR, one IDAT and IEND (padding: a longer IDAT, to pass a size)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1)) + b"\x00" * padding
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def data_url(data: bytes, prefix: str = a.PNG_DATA_URL) -> str:
    return prefix + base64.b64encode(data).decode()


def signed(**changes) -> dict:
    return {"disclosure_accepted": True, "disclosure_version": DISCLOSURE_VERSION, "typed_name": "Avery Stone",
            "drawn": None} | changes


def complete(**changes) -> dict:
    answers = {"name": "Avery Stone", "born": "1990-04-01", "colour": "blue", "pets": ["dog"], "agree": True,
               "smokes": False, "card": CARD_ID, "sign": signed()}
    answers.update(changes)
    return {k: v for k, v in answers.items() if v is not ...}


def refusal(answers, *, final: bool, template=TEMPLATE) -> dict[str, list[str]]:
    with pytest.raises(AnswersInvalid) as refused:
        a.check_answers(template, answers, final=final)
    assert refused.value.errors
    return refused.value.errors


# --- what each type takes -------------------------------------------------------------------------------------

def test_a_complete_submission_comes_back_cleaned():
    assert a.check_answers(TEMPLATE, complete(), final=True) == complete()


@pytest.mark.parametrize(("key", "given", "kept"), [
    ("name", "  Avery  ", "Avery"),
    ("name", "x" * 20, "x" * 20),  # exactly max_length
    ("name", "Zoë 李 \u200d", "Zoë 李 \u200d"),
    ("story", "line one\r\nline two\rthree", "line one\nline two\nthree"),
    ("story", "tab\tseparated", "tab\tseparated"),
    ("born", "2000-02-29", "2000-02-29"),
    ("count", 3, 3),
    ("count", 3.0, 3),  # a whole float is the whole number
    ("count", 0, 0),
    ("count", 10, 10),
    ("weight", 72.5, 72.5),
    ("weight", 0.5, 0.5),
    ("colour", "red", "red"),
    ("pets", ["fish", "cat"], ["cat", "fish"]),  # the form's order, not the ticking order
    ("agree", False, False),
    ("newsletter", True, True),
    ("smokes", True, True),
    ("card", CARD_ID.upper(), CARD_ID),
])
def test_each_type_takes_its_answers(key, given, kept):
    cleaned = a.check_answers(TEMPLATE, {key: given}, final=False)
    assert cleaned == {key: kept} and type(cleaned[key]) is type(kept)


@pytest.mark.parametrize(("key", "blank"), [
    ("name", ""), ("name", "   "), ("story", "\n\n"), ("born", ""), ("count", ""), ("colour", ""), ("pets", []),
    ("card", ""), ("agree", None), ("smokes", None), ("sign", None), ("sign", {}),
    ("sign", {"disclosure_accepted": False, "typed_name": "  ", "drawn": None}),
])
def test_a_blank_answer_is_no_answer(key, blank):
    assert a.check_answers(TEMPLATE, {key: blank}, final=False) == {}


WRONG = [
    ("name", 42, "Must be text."),
    ("name", ["Avery"], "Must be text."),
    ("name", "x" * 21, "At most 20 characters."),
    ("name", "two\nlines", "Must be one line of text."),
    ("name", "nul\x00here", NUL_MESSAGE),
    ("story", "lone \ud800 surrogate", SURROGATE_MESSAGE),
    ("story", "escape \x1b[31m", "Must not contain control characters."),
    ("story", "y" * 31, "At most 30 characters."),
    ("born", "01/04/1990", "Must be a date as YYYY-MM-DD."),
    ("born", "19900401", "Must be a date as YYYY-MM-DD."),
    ("born", "1990-04-01T00:00:00", "Must be a date as YYYY-MM-DD."),
    ("born", "1990-02-30", "Not a real date."),
    ("born", "0001-01-01", "Must be a date between"),
    ("born", 19900401, "Must be a date as YYYY-MM-DD."),
    ("count", "3", "Must be a number."),
    ("count", "three", "Must be a number."),
    ("count", True, "Must be a number."),
    ("count", float("nan"), "Must be a number."),
    ("count", 2.5, "Must be a whole number."),
    ("count", 11, "Must be at most 10."),
    ("count", -1, "Must be at least 0."),
    ("weight", 0.25, "Must be at least 0.5."),
    ("weight", 10**13, "Must be at most 1,000,000,000,000."),
    ("colour", "green", "Must be one of the choices."),
    ("colour", "Red", "Must be one of the choices."),  # the value, not the label
    ("colour", ["red"], "Must be one of the choices."),
    ("pets", "cat", "Must be a list of the choices."),
    ("pets", ["cat", 1], "Must be a list of the choices."),
    ("pets", ["cat", "cow"], "Each must be one of the choices."),
    ("pets", ["cat", "cat"], "Each choice at most once."),
    ("agree", "true", "Must be true (ticked) or false."),
    ("agree", 1, "Must be true (ticked) or false."),
    ("smokes", "yes", "Must be true (yes) or false (no)."),
    ("smokes", 0, "Must be true (yes) or false (no)."),
    ("card", "not-a-card-id", "Must be the id of a card saved to Cards on File."),
    ("card", "{" + CARD_ID + "}", "Must be the id of a card saved to Cards on File."),
    ("card", CARD_ID.replace("-", "") + "abcd", "Must be the id of a card saved to Cards on File."),
    ("card", "0b7e6a4c3f0e-4c49-9d2a-6f1f3f5e2a-10", "Must be the id of a card saved to Cards on File."),
    ("sign", "Avery Stone", "Must be a signature"),
]


@pytest.mark.parametrize(("key", "given", "message"), WRONG, ids=[f"{k}={v!r:.30}" for k, v, _ in WRONG])
@pytest.mark.parametrize("final", [False, True], ids=["draft", "submission"])
def test_a_wrong_answer_is_refused_naming_its_question(key, given, message, final):
    errors = refusal(complete(**{key: given}), final=final)
    assert list(errors) == [key] and any(message in m for m in errors[key]), errors


@pytest.mark.parametrize("card_data", ["4242424242424242", "4242 4242 4242 4242",
                                       {"number": "4242424242424242", "cvc": "123", "exp": "12/30"}])
def test_card_data_in_place_of_a_saved_cards_id_is_refused_and_never_repeated(card_data):
    errors = refusal({"card": card_data}, final=False)
    assert errors == {"card": ["Must be the id of a card saved to Cards on File."]}
    assert "4242" not in json.dumps(errors)


def test_every_wrong_answer_is_reported_at_once():
    errors = refusal({"name": 1, "count": "x", "colour": "green"}, final=False)
    assert set(errors) == {"name", "count", "colour"}


@pytest.mark.parametrize("answers", [["name", "Avery"], "name=Avery", None])
def test_answers_that_are_not_an_object_are_refused(answers):
    assert refusal(answers, final=False) == {"_schema": ["Must be an object of question keys and answers."]}


def test_an_answer_for_a_question_the_form_has_not_got_is_refused():
    errors = refusal({"name": "Avery", "favourite_food": "soup"}, final=False)
    assert errors == {"favourite_food": ["There is no such question on this form."]}


@pytest.mark.parametrize("key", ["Bad Key", "nul\x00", "x" * 65, 7])
def test_an_unknown_key_that_cannot_be_quoted_is_reported_for_the_whole_answer(key):
    errors = refusal({key: "x", "other bad": "y"}, final=False)
    assert errors == {"_schema": ["An answer names no question here."]}


# --- drafts and submissions -----------------------------------------------------------------------------------

def test_a_draft_may_leave_anything_out():
    assert a.check_answers(TEMPLATE, {}, final=False) == {}
    assert a.check_answers(TEMPLATE, {"name": "Avery", "agree": False}, final=False) == {"name": "Avery",
                                                                                         "agree": False}


def test_a_submission_names_every_required_question_left_out():
    with pytest.raises(AnswersInvalid) as refused:
        a.check_answers(TEMPLATE, {"story": "only this"}, final=True)
    errors = refused.value.errors
    assert set(errors) == {"name", "born", "colour", "pets", "agree", "smokes", "card", "sign"}
    assert errors["name"] == [a.NEEDED] and errors["agree"] == [a.NEEDED]
    assert errors["sign"] == ["Sign the form: accept the e-signature disclosure and type your full name."]
    assert "count" not in errors and "story" not in errors and "newsletter" not in errors


@pytest.mark.parametrize(("key", "blank"), [
    ("name", None), ("name", ...), ("name", "  "), ("born", None), ("born", ""), ("colour", ...), ("colour", ""),
    ("pets", None), ("pets", []), ("smokes", None), ("smokes", ...), ("card", ...), ("card", ""),
])
def test_a_submission_refuses_each_required_question_blank(key, blank):
    errors = refusal(complete(**{key: blank}), final=True)
    assert errors == {key: [a.NEEDED]}


def test_a_submission_with_only_required_answers_missing_says_so():
    with pytest.raises(AnswersInvalid) as refused:
        a.check_answers(TEMPLATE, complete(name=...), final=True)
    assert str(refused.value) == "Answer the required questions before submitting."


def test_a_required_checkbox_must_be_ticked_to_submit_but_not_to_save():
    assert refusal(complete(agree=False), final=True) == {"agree": [a.TICK]}
    assert a.check_answers(TEMPLATE, complete(agree=False), final=False)["agree"] is False


def test_an_optional_checkbox_left_unticked_is_fine():
    assert a.check_answers(TEMPLATE, complete(newsletter=False), final=True)["newsletter"] is False


# --- yes/no follow-ups ----------------------------------------------------------------------------------------

def test_a_follow_up_is_required_when_the_answer_is_yes():
    assert refusal(complete(smokes=True), final=True) == {"smokes_how_much": [a.NEEDED]}
    cleaned = a.check_answers(TEMPLATE, complete(smokes=True, smokes_how_much="5 a day"), final=True)
    assert cleaned["smokes_how_much"] == "5 a day"


def test_a_follow_up_is_not_required_when_the_answer_is_no():
    assert "smokes_how_much" not in a.check_answers(TEMPLATE, complete(smokes=False), final=True)


@pytest.mark.parametrize(("parent", "final"), [(False, True), (False, False), (None, False), (..., False)],
                         ids=["no", "no-draft", "null-draft", "absent-draft"])
def test_a_follow_ups_answer_is_dropped_unless_the_answer_is_yes(parent, final):
    answers = complete(smokes=parent, smokes_how_much="5 a day")
    cleaned = a.check_answers(TEMPLATE, answers, final=final)
    assert "smokes_how_much" not in cleaned and cleaned["name"] == "Avery Stone"


def test_a_follow_ups_wrong_answer_is_refused_even_under_a_no():
    assert refusal(complete(smokes=False, smokes_how_much=5), final=True) == {"smokes_how_much": ["Must be text."]}


# --- the signature block --------------------------------------------------------------------------------------

def test_a_typed_name_alone_signs():
    assert a.check_answers(TEMPLATE, complete(), final=True)["sign"] == {
        "disclosure_accepted": True, "disclosure_version": DISCLOSURE_VERSION, "typed_name": "Avery Stone",
        "drawn": None}


def test_a_drawn_signature_is_kept_as_sent():
    drawing = data_url(png())
    assert a.check_answers(TEMPLATE, complete(sign=signed(drawn=drawing)), final=True)["sign"]["drawn"] == drawing


def test_the_typed_name_is_trimmed_and_its_spaces_made_single():
    cleaned = a.check_answers(TEMPLATE, complete(sign=signed(typed_name="  Avery \t  Stone ")), final=True)
    assert cleaned["sign"]["typed_name"] == "Avery Stone"


@pytest.mark.parametrize(("changes", "part", "message"), [
    ({"disclosure_accepted": False}, "disclosure_accepted", "Accept the e-signature disclosure"),
    ({"disclosure_accepted": ...}, "disclosure_accepted", "Accept the e-signature disclosure"),
    ({"disclosure_version": None}, "disclosure_version", "Say which e-signature disclosure was accepted."),
    ({"typed_name": "   "}, "typed_name", "Type your full name to sign."),
    ({"typed_name": ...}, "typed_name", "Type your full name to sign."),
])
def test_a_submission_refuses_an_incomplete_signature(changes, part, message):
    signature = {k: v for k, v in signed(**changes).items() if v is not ...}
    errors = refusal(complete(sign=signature), final=True)
    assert list(errors) == [f"sign.{part}"] and message in errors[f"sign.{part}"][0]
    # the same signature is a fine draft
    assert "sign" in a.check_answers(TEMPLATE, complete(sign=signature), final=False)


def test_a_disclosure_accepted_under_an_old_version_must_be_accepted_again(monkeypatch):
    monkeypatch.setattr(a, "DISCLOSURES", DISCLOSURES | {"esign-0": "An older text."})
    errors = refusal(complete(sign=signed(disclosure_version="esign-0")), final=True)
    assert errors == {"sign.disclosure_version": [
        "The e-signature disclosure has changed: read and accept the current one."]}


too_big = png(padding=a.DRAWN_MAX_BYTES)


@pytest.mark.parametrize(("changes", "part", "message"), [
    ({"disclosure_version": "esign-99"}, "disclosure_version", "Not a version of the e-signature disclosure."),
    ({"disclosure_version": 1}, "disclosure_version", "Not a version of the e-signature disclosure."),
    ({"disclosure_accepted": "yes"}, "disclosure_accepted", "Must be true or false."),
    ({"typed_name": 12}, "typed_name", "Must be text."),
    ({"typed_name": "Avery\x00Stone"}, "typed_name", NUL_MESSAGE),
    ({"typed_name": "Avery\nStone"}, "typed_name", "Must be one line of text."),
    ({"typed_name": "A" * (a.TYPED_NAME_MAX + 1)}, "typed_name", f"At most {a.TYPED_NAME_MAX} characters."),
    ({"drawn": "a squiggle"}, "drawn", "Must be a PNG image as a data URL"),
    ({"drawn": data_url(png(), "data:image/jpeg;base64,")}, "drawn", "Must be a PNG image as a data URL"),
    ({"drawn": a.PNG_DATA_URL + "not base64!"}, "drawn", "The drawing is not valid base64."),
    ({"drawn": data_url(b"\xff\xd8\xff\xe0" + b"\x00" * 40)}, "drawn", "The drawing is not a PNG image."),
    ({"drawn": data_url(png()[:20])}, "drawn", "The drawing is not a PNG image."),
    ({"drawn": data_url(png(width=0))}, "drawn", "at most 4096 pixels on each side"),
    ({"drawn": data_url(png(width=a.DRAWN_MAX_SIDE + 1))}, "drawn", "at most 4096 pixels on each side"),
    ({"drawn": data_url(too_big)}, "drawn", "The drawing is larger than 200 KB."),
    ({"drawn": 5}, "drawn", "Must be a PNG image as a data URL"),
])
@pytest.mark.parametrize("final", [False, True], ids=["draft", "submission"])
def test_a_bad_part_of_a_signature_is_refused_by_name(changes, part, message, final):
    errors = refusal(complete(sign=signed(**changes)), final=final)
    assert list(errors) == [f"sign.{part}"] and message in errors[f"sign.{part}"][0], errors


def test_a_drawing_just_under_the_cap_is_taken():
    drawing = png(padding=a.DRAWN_MAX_BYTES - len(png()) - 1)
    assert len(drawing) < a.DRAWN_MAX_BYTES
    assert a.check_answers(TEMPLATE, complete(sign=signed(drawn=data_url(drawing))), final=True)


def test_an_oversized_drawing_is_refused_before_it_is_decoded(monkeypatch):
    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded")
    monkeypatch.setattr(a.base64, "b64decode", no_decoding)
    errors = refusal(complete(sign=signed(drawn=a.PNG_DATA_URL + "A" * (a._DRAWN_MAX_CHARS + 1))), final=False)
    assert errors == {"sign.drawn": ["The drawing is larger than 200 KB."]}


def test_a_signature_with_a_part_it_has_not_got_is_refused():
    errors = refusal(complete(sign=signed(ip_address="10.0.0.1")), final=True)
    assert errors == {"sign": ["A signature has only disclosure_accepted, disclosure_version, typed_name and drawn."]}


def test_a_draft_keeps_a_signature_half_done():
    cleaned = a.check_answers(TEMPLATE, {"sign": {"typed_name": "Avery"}}, final=False)
    assert cleaned == {"sign": {"disclosure_accepted": False, "disclosure_version": None, "typed_name": "Avery",
                                "drawn": None}}


# --- the disclosure -------------------------------------------------------------------------------------------

def test_the_disclosure_says_what_esign_asks_for():
    text = DISCLOSURE_TEXT.lower()
    assert DISCLOSURE_TEXT == DISCLOSURES[DISCLOSURE_VERSION]
    for words in ("paper copy", "free of charge", "withdraw", "browser", "pdf", "internet", "e-mail address",
                  "sign them by hand"):
        assert words in text, words


# Each version's text, pinned: to change the words, add a version (the signatures given under one point at it).
PINNED_DISCLOSURES = {"esign-1": "af961584dc6c4a618dc260ba1cf8e42c37c3ae4ad9232b9bdd20f23d75ff5275"}


@pytest.mark.parametrize("version", sorted(PINNED_DISCLOSURES))
def test_a_disclosure_text_is_never_edited_in_place(version):
    digest = hashlib.sha256(DISCLOSURES[version].encode()).hexdigest()
    assert digest == PINNED_DISCLOSURES[version], f"{version} was edited: add a new version instead"


def test_every_disclosure_version_is_pinned():
    assert set(DISCLOSURES) == set(PINNED_DISCLOSURES) and DISCLOSURE_VERSION in DISCLOSURES


# --- when a form takes answers --------------------------------------------------------------------------------

def test_a_form_to_complete_takes_answers():
    a.check_editable(a.TO_COMPLETE)


@pytest.mark.parametrize(("status", "words"), [
    (a.COMPLETED, "submitted"), (a.WITHDRAWN, "withdrew"), ("archived", "cannot be changed"),
])
def test_a_submitted_or_withdrawn_form_takes_nothing(status, words):
    with pytest.raises(FormNotEditable) as refused:
        a.check_editable(status)
    assert words in str(refused.value)


# --- the digest -----------------------------------------------------------------------------------------------

def test_the_digest_is_the_sha256_of_the_canonical_content():
    cleaned = a.check_answers(TEMPLATE, complete(), final=True)
    digest = a.content_digest(TEMPLATE, cleaned)
    content = a.canonical_content(TEMPLATE, cleaned)
    assert digest == hashlib.sha256(content).hexdigest() and len(digest) == 64
    assert json.loads(content) == {"template": TEMPLATE.to_dict(), "answers": cleaned}


def test_the_digest_is_the_same_whatever_the_order_of_the_answers():
    cleaned = a.check_answers(TEMPLATE, complete(), final=True)
    backwards = {k: (dict(reversed(v.items())) if isinstance(v, dict) else v) for k, v in reversed(cleaned.items())}
    assert list(backwards) != list(cleaned)
    assert a.content_digest(TEMPLATE, backwards) == a.content_digest(TEMPLATE, cleaned)


def test_the_same_answer_ticked_in_another_order_has_the_same_digest():
    one = a.check_answers(TEMPLATE, complete(pets=["cat", "dog"]), final=True)
    other = a.check_answers(TEMPLATE, complete(pets=["dog", "cat"]), final=True)
    assert a.content_digest(TEMPLATE, one) == a.content_digest(TEMPLATE, other)


@pytest.mark.parametrize(("key", "value"), [
    ("name", "Avery Stonf"), ("born", "1990-04-02"), ("pets", ["cat", "dog"]), ("agree", False),
    ("sign", signed(typed_name="Avery Ston")), ("sign", signed(drawn=data_url(png()))),
])
def test_the_digest_changes_when_one_answer_changes(key, value):
    cleaned = a.check_answers(TEMPLATE, complete(), final=True)
    assert a.content_digest(TEMPLATE, cleaned) != a.content_digest(TEMPLATE, cleaned | {key: value})


def test_the_digest_changes_with_the_template_version():
    cleaned = a.check_answers(TEMPLATE, complete(), final=True)
    assert a.content_digest(TEMPLATE, cleaned) != a.content_digest(dataclasses.replace(TEMPLATE, version=2), cleaned)


def test_the_canonical_content_is_compact_utf8_with_sorted_keys():
    content = a.canonical_content(TEMPLATE, {"name": "Zoë", "born": "1990-04-01"})
    assert content.startswith(b'{"answers":{"born":"1990-04-01","name":"Zo\xc3\xab"},"template":{"description":')


def test_an_answer_that_is_not_json_has_no_digest():
    with pytest.raises(ValueError):
        a.content_digest(TEMPLATE, {"weight": float("nan")})


# --- the starters, filled in ----------------------------------------------------------------------------------

def test_the_intake_questionnaire_can_be_completed_and_signed_with_the_keyboard():
    intake = starter_template("intake_questionnaire")
    answers = {
        "legal_name": "Avery Stone", "date_of_birth": "1990-04-01", "phone": "555-0100", "contact_preference": "text",
        "ok_to_leave_message": True, "emergency_name": "Sam Stone", "emergency_relationship": "Sister",
        "emergency_phone": "555-0101", "presenting_concerns": "Trouble sleeping and worrying about work.",
        "concern_areas": ["sleep", "anxiety"], "distress_rating": 6, "previous_therapy": True,
        "previous_therapy_details": "A counselor in college; talking helped.", "hospitalized": False,
        "takes_medication": True, "medication_list": "Sertraline 50 mg, Dr. Lee", "has_allergies": False,
        "self_harm_thoughts": False, "alcohol_drug_use": False, "intake_signature": signed(),
    }
    cleaned = a.check_answers(intake, answers, final=True)
    assert cleaned["concern_areas"] == ["anxiety", "sleep"] and cleaned["intake_signature"]["drawn"] is None
    assert refusal(answers | {"takes_medication": True, "medication_list": ""}, final=True, template=intake) == {
        "medication_list": [a.NEEDED]}


def test_the_credit_card_form_holds_a_saved_cards_id_only():
    form = starter_template("credit_card_information")
    answers = {"card": CARD_ID, "card_authorization": True, "card_signature": signed()}
    assert a.check_answers(form, answers, final=True)["card"] == CARD_ID
    without_card = {k: v for k, v in answers.items() if k != "card"}
    assert refusal(without_card, final=True, template=form) == {"card": [a.NEEDED]}
