"""A form's answers: what each question type takes, what a draft may leave out and a submission may not, the
signature block, when a form still takes answers, and the digest of what was submitted.

Answers are the JSON the portal sends, `{question key: answer}`, always the whole set (a draft is replaced, not
patched). No answer is None or absent; a blank text is no answer too. check_answers gives back the cleaned set:
what is stored, rendered in the PDF and digested, so its values are plain JSON (a date stays "YYYY-MM-DD")."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import struct
import uuid
from datetime import date

from services.documents.domain.disclosure import DISCLOSURE_VERSION, DISCLOSURES
from services.documents.domain.errors import AnswersInvalid, FormNotEditable
from services.documents.domain.templates import (
    CARD_ON_FILE,
    CHECKBOX,
    CONTROL,
    DATE,
    KEY,
    LONG_TEXT,
    MULTIPLE_CHOICE,
    NUMBER,
    NUMBER_LIMIT,
    SHORT_TEXT,
    SIGNATURE,
    SINGLE_CHOICE,
    YES_NO,
    Field,
    Template,
)
from shared.schemas import FIRST_DAY, LAST_DAY, refused_character

TO_COMPLETE, COMPLETED, WITHDRAWN = "to_complete", "completed", "withdrawn"

TYPED_NAME_MAX = 200
PNG_DATA_URL = "data:image/png;base64,"
DRAWN_MAX_BYTES = 200 * 1024  # a canvas signature is a few kilobytes; this is room, not an invitation
DRAWN_MAX_SIDE = 4096  # pixels
_DRAWN_MAX_CHARS = len(PNG_DATA_URL) + 4 * math.ceil(DRAWN_MAX_BYTES / 3)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIGNATURE_PARTS = ("disclosure_accepted", "disclosure_version", "typed_name", "drawn")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

NEEDED = "This question needs an answer."
TICK = "Tick this box to continue."
WORDS = {
    DATE: "Must be a date as YYYY-MM-DD.",
    NUMBER: "Must be a number.",
    SINGLE_CHOICE: "Must be one of the choices.",
    MULTIPLE_CHOICE: "Must be a list of the choices.",
    CHECKBOX: "Must be true (ticked) or false.",
    YES_NO: "Must be true (yes) or false (no).",
    SIGNATURE: "Must be a signature: the disclosure accepted, your typed full name and, if you like, a drawing.",
    # never the value itself in a message: whatever was sent in place of a saved card's id may be a card number
    CARD_ON_FILE: "Must be the id of a card saved to Cards on File.",
}


class _Wrong(Exception):
    """An answer refused: messages under its key ("") or a part of it ("typed_name")."""

    def __init__(self, message: str | None = None, *, parts: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.parts = parts if parts is not None else {"": [message or ""]}


# --- the form's state -----------------------------------------------------------------------------------------

def check_editable(status: str) -> None:
    """A form takes drafts and a submission only while it is to be completed: submitted answers are final, and a
    withdrawn form takes nothing (OpenEMR #13082)."""
    if status == COMPLETED:
        raise FormNotEditable("This form was submitted: its answers can no longer be changed.")
    if status == WITHDRAWN:
        raise FormNotEditable("The practice withdrew this form: it no longer needs completing.")
    if status != TO_COMPLETE:
        raise FormNotEditable("This form cannot be changed now.")


# --- the answers ----------------------------------------------------------------------------------------------

def check_answers(template: Template, answers: object, *, final: bool) -> dict:
    """The cleaned answers for `template`, or AnswersInvalid with every problem under its question's key.

    Always: no key the form has not got; each answer of its question's type and within its limits; no NUL or
    lone surrogate. When `final` (the submission) also: every required question answered (a required checkbox
    ticked; a yes/no's follow-up only when the answer is yes) and the signature complete. A follow-up's answer
    is dropped when its question is not answered yes: the client changed their mind, and the PDF must not show an
    answer to a question they no longer saw."""
    if not isinstance(answers, dict):
        raise AnswersInvalid("Answers must be an object of question keys and answers.",
                             errors={"_schema": ["Must be an object of question keys and answers."]})
    errors: dict[str, list[str]] = {}
    questions = {f.key: f for f in template.fields()}
    for key in answers:
        if key not in questions:
            shown = isinstance(key, str) and KEY.fullmatch(key) is not None
            messages = errors.setdefault(key if shown else "_schema", [])
            message = "There is no such question on this form." if shown else "An answer names no question here."
            if message not in messages:
                messages.append(message)
    cleaned: dict = {}
    for section in template.sections:
        for field in section.fields:
            value = _answer(field, answers.get(field.key), final, errors)
            if value is not None:
                cleaned[field.key] = value
            follow_up = field.follow_up
            if follow_up is not None:
                shown = value is True
                value = _answer(follow_up, answers.get(follow_up.key), final and shown, errors)
                if value is not None and shown:
                    cleaned[follow_up.key] = value
    if errors:
        missing = all(m in (NEEDED, TICK) for messages in errors.values() for m in messages)
        raise AnswersInvalid("Answer the required questions before submitting." if missing
                             else "Some answers need fixing.", errors=errors)
    return cleaned


def _answer(field: Field, value: object, final: bool, errors: dict[str, list[str]]):
    """The cleaned answer (None: not answered), its problems added to `errors`."""
    try:
        value = _CLEAN[field.type](field, value, final)
    except _Wrong as wrong:
        for part, messages in wrong.parts.items():
            errors.setdefault(f"{field.key}.{part}" if part else field.key, []).extend(messages)
        return None
    if final and field.required:
        if value is None:
            message = ("Sign the form: accept the e-signature disclosure and type your full name."
                       if field.type == SIGNATURE else NEEDED)
            errors.setdefault(field.key, []).append(message)
        elif field.type == CHECKBOX and value is False:
            errors.setdefault(field.key, []).append(TICK)
    return value


def _string(value: object, *, one_line: bool) -> str | None:
    if not isinstance(value, str):
        raise _Wrong("Must be text.")
    if message := refused_character(value):
        raise _Wrong(message)
    value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if CONTROL.search(value):
        raise _Wrong("Must not contain control characters.")
    if one_line and "\n" in value:
        raise _Wrong("Must be one line of text.")
    return value or None


def _text(field: Field, value: object, final: bool) -> str | None:
    if value is None:
        return None
    text = _string(value, one_line=field.type == SHORT_TEXT)
    if text is not None and field.max_length is not None and len(text) > field.max_length:
        raise _Wrong(f"At most {field.max_length} characters.")
    return text


def _date(field: Field, value: object, final: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise _Wrong(WORDS[DATE])
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise _Wrong("Not a real date.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise _Wrong(f"Must be a date between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.")
    return value


def _shown_number(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:g}"


def _number(field: Field, value: object, final: bool) -> int | float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Wrong(WORDS[NUMBER])
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Wrong(WORDS[NUMBER])
        if value.is_integer() and abs(value) <= NUMBER_LIMIT:
            value = int(value)  # 3.0 and 3 are one answer, and one digest
    if field.integer and not isinstance(value, int):
        raise _Wrong("Must be a whole number.")
    low = field.min if field.min is not None else -NUMBER_LIMIT
    high = field.max if field.max is not None else NUMBER_LIMIT
    if value < low:
        raise _Wrong(f"Must be at least {_shown_number(low)}.")
    if value > high:
        raise _Wrong(f"Must be at most {_shown_number(high)}.")
    return value


def _single_choice(field: Field, value: object, final: bool) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in field.choice_values:
        raise _Wrong(WORDS[SINGLE_CHOICE])
    return value


def _multiple_choice(field: Field, value: object, final: bool) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Wrong(WORDS[MULTIPLE_CHOICE])
    if any(v not in field.choice_values for v in value):
        raise _Wrong("Each must be one of the choices.")
    if len(set(value)) != len(value):
        raise _Wrong("Each choice at most once.")
    # in the form's order, whatever order they were ticked in: the same answer reads and digests the same
    return [v for v in field.choice_values if v in value] or None


def _boolean(field: Field, value: object, final: bool) -> bool | None:
    if value is None:
        return None
    if not isinstance(value, bool):  # not 1, "yes" or "on": the page sends JSON true or false
        raise _Wrong(WORDS[field.type])
    return value


def _card_on_file(field: Field, value: object, final: bool) -> str | None:
    """A saved card's id (payments' payment_method_id), never card data: the card goes from the browser to the
    processor's hosted fields and into Cards on File through payments. Whether the id is the client's own card is
    the use case's to ask payments."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) != 36:
        raise _Wrong(WORDS[CARD_ON_FILE])
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise _Wrong(WORDS[CARD_ON_FILE]) from None
    if str(parsed) != value.lower():
        raise _Wrong(WORDS[CARD_ON_FILE])
    return str(parsed)


def _signature(field: Field, value: object, final: bool) -> dict | None:
    """{"disclosure_accepted", "disclosure_version", "typed_name", "drawn"}: the e-signature disclosure accepted,
    with the version of its text the client read; the full name typed; the signature drawn on the canvas as a PNG
    data URL, or None (the typed name alone is a signature, so a keyboard-only signer can sign)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _Wrong(WORDS[SIGNATURE])
    parts: dict[str, list[str]] = {}
    if any(part not in SIGNATURE_PARTS for part in value):
        parts[""] = ["A signature has only disclosure_accepted, disclosure_version, typed_name and drawn."]
    accepted = value.get("disclosure_accepted", False)
    if not isinstance(accepted, bool):
        parts["disclosure_accepted"] = ["Must be true or false."]
    version = value.get("disclosure_version")
    if version is not None and (not isinstance(version, str) or version not in DISCLOSURES):
        parts["disclosure_version"] = ["Not a version of the e-signature disclosure."]
    name = value.get("typed_name")
    try:
        name = " ".join((_string(name, one_line=True) or "").split()) if name is not None else ""
        if len(name) > TYPED_NAME_MAX:
            raise _Wrong(f"At most {TYPED_NAME_MAX} characters.")
    except _Wrong as wrong:
        parts["typed_name"] = wrong.parts[""]
    drawn = value.get("drawn")
    if drawn is not None:
        if message := _drawn_refusal(drawn):
            parts["drawn"] = [message]
    if final and not parts:
        if accepted is not True:
            parts["disclosure_accepted"] = ["Accept the e-signature disclosure to sign electronically."]
        if version != DISCLOSURE_VERSION:
            parts["disclosure_version"] = ["The e-signature disclosure has changed: read and accept the current one."
                                           if version else "Say which e-signature disclosure was accepted."]
        if not name:
            parts["typed_name"] = ["Type your full name to sign."]
    if parts:
        raise _Wrong(parts=parts)
    if not (accepted or version or name or drawn):
        return None  # a draft's untouched signature block
    return {"disclosure_accepted": accepted, "disclosure_version": version, "typed_name": name, "drawn": drawn}


def _drawn_refusal(drawn: object) -> str | None:
    """Why a drawn signature is refused, or None: a PNG data URL of at most DRAWN_MAX_BYTES, a real PNG (its
    signature and IHDR chunk) of a sane size. The length is checked before anything is decoded."""
    if not isinstance(drawn, str) or not drawn.startswith(PNG_DATA_URL):
        return "Must be a PNG image as a data URL (data:image/png;base64,...)."
    if len(drawn) > _DRAWN_MAX_CHARS:
        return f"The drawing is larger than {DRAWN_MAX_BYTES // 1024} KB."
    try:
        png = base64.b64decode(drawn[len(PNG_DATA_URL):], validate=True)
    except (binascii.Error, ValueError):
        return "The drawing is not valid base64."
    if len(png) > DRAWN_MAX_BYTES:
        return f"The drawing is larger than {DRAWN_MAX_BYTES // 1024} KB."
    if len(png) < 24 or not png.startswith(_PNG_SIGNATURE) or png[12:16] != b"IHDR":
        return "The drawing is not a PNG image."
    width, height = struct.unpack(">II", png[16:24])
    if not (1 <= width <= DRAWN_MAX_SIDE and 1 <= height <= DRAWN_MAX_SIDE):
        return f"The drawing must be at most {DRAWN_MAX_SIDE} pixels on each side."
    return None


_CLEAN = {
    SHORT_TEXT: _text, LONG_TEXT: _text, DATE: _date, NUMBER: _number, SINGLE_CHOICE: _single_choice,
    MULTIPLE_CHOICE: _multiple_choice, CHECKBOX: _boolean, YES_NO: _boolean, SIGNATURE: _signature,
    CARD_ON_FILE: _card_on_file,
}


# --- the digest -----------------------------------------------------------------------------------------------

def canonical_content(template: Template, answers: dict) -> bytes:
    """The submitted content as one canonical JSON document: {"answers": the cleaned answers, "template": the
    version's to_dict()}, keys sorted, no spaces, UTF-8 as is (not \\u-escaped), no NaN. Lists keep their order
    (the order of sections, questions and choices is part of what the client saw). Anyone holding the stored
    version and answers can rebuild these bytes and check the digest on the certificate page."""
    content = {"template": template.to_dict(), "answers": answers}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def content_digest(template: Template, answers: dict) -> str:
    """The SHA-256 (hex) of canonical_content: what the certificate page shows as the submitted content's digest."""
    return hashlib.sha256(canonical_content(template, answers)).hexdigest()
