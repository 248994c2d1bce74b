"""A form template and its versions: sections of questions of ten types, what each type may be set to, and the one
way a template's JSON becomes a Template (parse_template), naming the path of everything it refuses.

Versions: a template's versions are kept side by side and never change once stored. An edit is stored as the next
version (next_version); a form is assigned with one version and keeps it to the end, whatever is edited after:
the client answers, signs and downloads exactly the questions they were given, and the digest on the certificate
page is of that version. New assignments take the latest version."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from services.documents.domain.errors import TemplateInvalid
from shared.schemas import refused_character

SHORT_TEXT, LONG_TEXT, DATE, NUMBER = "text", "textarea", "date", "number"
SINGLE_CHOICE, MULTIPLE_CHOICE, CHECKBOX, YES_NO = "choice", "multichoice", "checkbox", "yesno"
SIGNATURE, CARD_ON_FILE = "signature", "card_on_file"
FIELD_TYPES = (SHORT_TEXT, LONG_TEXT, DATE, NUMBER, SINGLE_CHOICE, MULTIPLE_CHOICE, CHECKBOX, YES_NO, SIGNATURE,
               CARD_ON_FILE)
TEXT_TYPES = (SHORT_TEXT, LONG_TEXT)
CHOICE_TYPES = (SINGLE_CHOICE, MULTIPLE_CHOICE)
# A follow-up is one plain question under a yes: no chain of yes/no, and the signature and the card stay where
# every client sees them.
NOT_A_FOLLOW_UP = (YES_NO, SIGNATURE, CARD_ON_FILE)
# One of each per template: the certificate page records one signing (one consent, one name, one moment), and a
# form saves one card. A form two people sign (a guardian and a teenager) is two forms until signers are modelled.
ONE_PER_TEMPLATE = (SIGNATURE, CARD_ON_FILE)

KEY = re.compile(r"[a-z][a-z0-9_]{0,63}")
CHOICE_VALUE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")

MAX_SECTIONS = 20
MAX_FIELDS_PER_SECTION = 50
MAX_FIELDS = 200  # in the whole template, follow-ups included
MAX_CHOICES = 50
TITLE_MAX = 200
LABEL_MAX = 500
CHOICE_LABEL_MAX = 200
HELP_MAX = 10_000  # a consent's paragraphs live in help
DESCRIPTION_MAX = 20_000
DEFAULT_MAX_LENGTH = {SHORT_TEXT: 200, LONG_TEXT: 5000}
MAX_LENGTH_LIMIT = {SHORT_TEXT: 1000, LONG_TEXT: 20_000}
NUMBER_LIMIT = 10**12  # no answer and no bound beyond ±this: a number on a form is an age, a count, a rating

TEMPLATE_SETTINGS = ("title", "description", "sections", "version")
SECTION_SETTINGS = ("title", "help", "fields")
FIELD_SETTINGS = ("key", "type", "label", "help", "required", "choices", "max_length", "min", "max", "integer",
                  "follow_up")
CHOICE_SETTINGS = ("value", "label")
# which type takes which option (the rest are every field's)
OPTION_TYPES = {"choices": CHOICE_TYPES, "max_length": TEXT_TYPES, "min": (NUMBER,), "max": (NUMBER,),
                "integer": (NUMBER,), "follow_up": (YES_NO,)}
# Control characters but tab and line breaks: nothing a person types, and what a PDF cannot show.
CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Choice:
    value: str  # what the answer holds
    label: str  # what the client reads


@dataclass(frozen=True)
class Field:
    key: str
    type: str
    label: str
    help: str = ""
    required: bool = False
    choices: tuple[Choice, ...] = ()  # single_choice, multiple_choice
    max_length: int | None = None  # short_text, long_text
    min: int | float | None = None  # number
    max: int | float | None = None  # number
    integer: bool = False  # number: whole numbers only
    follow_up: Field | None = None  # yes_no: the question shown when the answer is yes

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(c.value for c in self.choices)

    def to_dict(self) -> dict:
        out: dict = {"key": self.key, "type": self.type, "label": self.label, "help": self.help,
                     "required": self.required}
        if self.type in CHOICE_TYPES:
            out["choices"] = [{"value": c.value, "label": c.label} for c in self.choices]
        if self.type in TEXT_TYPES:
            out["max_length"] = self.max_length
        if self.type == NUMBER:
            out |= {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}
            out["integer"] = self.integer
        if self.follow_up is not None:
            out["follow_up"] = self.follow_up.to_dict()
        return out


@dataclass(frozen=True)
class Section:
    title: str
    help: str
    fields: tuple[Field, ...]

    def to_dict(self) -> dict:
        return {"title": self.title, "help": self.help, "fields": [f.to_dict() for f in self.fields]}


@dataclass(frozen=True)
class Template:
    title: str
    description: str
    sections: tuple[Section, ...]
    version: int = 1

    def fields(self) -> Iterator[Field]:
        """Every question in reading order, each yes/no's follow-up right after it."""
        for section in self.sections:
            for field in section.fields:
                yield field
                if field.follow_up is not None:
                    yield field.follow_up

    def field(self, key: str) -> Field | None:
        return next((f for f in self.fields() if f.key == key), None)

    @property
    def signature(self) -> Field | None:
        return next((f for f in self.fields() if f.type == SIGNATURE), None)

    def to_dict(self) -> dict:
        """The template as JSON: parse_template(t.to_dict()) == t; what is stored, served and digested."""
        return {"title": self.title, "description": self.description, "version": self.version,
                "sections": [s.to_dict() for s in self.sections]}


# --- versions -------------------------------------------------------------------------------------------------

def same_content(a: Template, b: Template) -> bool:
    """The same questions and words, whatever the two version numbers."""
    return replace(a, version=0) == replace(b, version=0)


def next_version(current: Template | None, edited: Template) -> Template:
    """What to store when staff save `edited` over the latest version `current` (None: a new template).

    A new template is version 1. An edit that changes nothing is no new version: `current` comes back as it is
    (saving twice, or opening and saving, does not multiply versions). Any other edit is stored as a new row with
    the next number, whatever number `edited` carried; `current` is never overwritten, because forms assigned with
    it keep it: the version a form was assigned with is immutable."""
    if current is None:
        return replace(edited, version=1)
    if same_content(current, edited):
        return current
    return replace(edited, version=current.version + 1)


# --- parsing --------------------------------------------------------------------------------------------------

def parse_template(data: object) -> Template:
    """A Template from its JSON (the builder's, or a stored version's to_dict()), or TemplateInvalid with every
    problem found, each under its path: {"sections.1.fields.0.type": ["Unknown field type 'colour'."]}.

    Settings a template has not got are refused, not ignored: a misspelt "requried" would otherwise make a
    question optional without anyone noticing."""
    if not isinstance(data, dict):
        raise TemplateInvalid("A form template must be an object.", errors={"_schema": ["Must be an object."]})
    parser = _Parser()
    template = parser.template(data)
    if parser.errors:
        count = sum(len(messages) for messages in parser.errors.values())
        raise TemplateInvalid(f"The form template has {count} problem{'s' if count != 1 else ''} to fix.",
                              errors=parser.errors)
    assert template is not None
    return template


def _at(path: str, name: str | int) -> str:
    return f"{path}.{name}" if path else str(name)


def _shown(value: object) -> str:
    """A value of the caller's, safe to quote in a message: short, and only when it is printable text."""
    if not isinstance(value, str) or refused_character(value) or CONTROL.search(value):
        return ""
    return value if len(value) <= 40 else value[:37] + "..."


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class _Parser:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.keys: dict[str, str] = {}  # key -> the path of the question that has it
        self.once: dict[str, str] = {}  # signature, card_on_file -> the path of the template's one

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "_schema", []).append(message)

    def unknown_settings(self, data: dict, allowed: tuple[str, ...], path: str) -> None:
        for name in data:
            if name not in allowed:
                named = _shown(name) == name and len(name) <= 64 and "." not in name
                self.add(_at(path, name) if named else path, "Unknown setting." if named else "An unknown setting.")

    def text(self, data: dict, path: str, name: str, limit: int, *, required: bool = False,
             one_line: bool = False) -> str:
        value = data.get(name)
        where = _at(path, name)
        if value is None:
            value = ""
        if not isinstance(value, str):
            self.add(where, "Must be text.")
            return ""
        if message := refused_character(value):
            self.add(where, message)
            return ""
        value = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        if CONTROL.search(value) or (one_line and "\n" in value):
            self.add(where, "Must be one line of text." if one_line else "Must not contain control characters.")
        elif required and not value:
            self.add(where, f"A {name} is needed.")
        elif len(value) > limit:
            self.add(where, f"At most {limit} characters.")
        return value

    def template(self, data: dict) -> Template | None:
        self.unknown_settings(data, TEMPLATE_SETTINGS, "")
        title = self.text(data, "", "title", TITLE_MAX, required=True, one_line=True)
        description = self.text(data, "", "description", DESCRIPTION_MAX)
        version = data.get("version", 1)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            self.add("version", "Must be a whole number from 1.")
            version = 1
        sections_data = data.get("sections")
        if not isinstance(sections_data, list) or not sections_data:
            self.add("sections", "A form needs at least one section (a list).")
            return None
        if len(sections_data) > MAX_SECTIONS:
            self.add("sections", f"A form may have at most {MAX_SECTIONS} sections.")
            return None
        if _count_fields(sections_data) > MAX_FIELDS:  # before reading any, so no size of input costs more
            self.add("sections", f"A form may have at most {MAX_FIELDS} questions in all (follow-ups included).")
            return None
        sections = tuple(self.section(s, f"sections.{i}") for i, s in enumerate(sections_data))
        return Template(title, description, tuple(s for s in sections if s is not None), version)

    def section(self, data: object, path: str) -> Section | None:
        if not isinstance(data, dict):
            self.add(path, "Each section must be an object.")
            return None
        self.unknown_settings(data, SECTION_SETTINGS, path)
        title = self.text(data, path, "title", TITLE_MAX, one_line=True)
        help_text = self.text(data, path, "help", HELP_MAX)
        fields_data = data.get("fields")
        where = _at(path, "fields")
        if not isinstance(fields_data, list) or not fields_data:
            self.add(where, "A section needs at least one question (a list).")
            return None
        if len(fields_data) > MAX_FIELDS_PER_SECTION:
            self.add(where, f"A section may have at most {MAX_FIELDS_PER_SECTION} questions.")
            return None
        fields = tuple(self.field(f, f"{where}.{i}") for i, f in enumerate(fields_data))
        return Section(title, help_text, tuple(f for f in fields if f is not None))

    def field(self, data: object, path: str, *, follow_up: bool = False) -> Field | None:
        if not isinstance(data, dict):
            self.add(path, "Each question must be an object.")
            return None
        self.unknown_settings(data, FIELD_SETTINGS, path)
        key = self.key(data.get("key"), _at(path, "key"))
        kind = self.kind(data.get("type"), _at(path, "type"), follow_up=follow_up)
        label = self.text(data, path, "label", LABEL_MAX, required=True)
        help_text = self.text(data, path, "help", HELP_MAX)
        required = data.get("required", kind == SIGNATURE)
        if not isinstance(required, bool):
            self.add(_at(path, "required"), "Must be true or false.")
            required = False
        elif kind == SIGNATURE and not required:
            self.add(_at(path, "required"), "A signature block is always required.")
        if kind is None:
            return None  # which options belong depends on the type
        for option, types in OPTION_TYPES.items():
            if option in data and kind not in types:
                self.add(_at(path, option), f"A {kind} field has no {option} (only {' and '.join(types)}).")
        field = Field(key or "", kind, label, help_text, required)
        if kind in CHOICE_TYPES:
            field = replace(field, choices=self.choices(data.get("choices"), _at(path, "choices")))
        elif kind in TEXT_TYPES:
            field = replace(field, max_length=self.max_length(data, path, kind))
        elif kind == NUMBER:
            field = replace(field, **self.number_options(data, path))
        elif kind == YES_NO and data.get("follow_up") is not None:
            field = replace(field, follow_up=self.field(data["follow_up"], _at(path, "follow_up"), follow_up=True))
        return field

    def key(self, key: object, where: str) -> str | None:
        if key is None or key == "":
            self.add(where, "A key is needed.")
            return None
        if not isinstance(key, str) or not KEY.fullmatch(key):
            self.add(where, "A key is a lowercase letter, then up to 63 lowercase letters, digits or _.")
            return None
        if key in self.keys:
            self.add(where, f"The key '{key}' is already used by {self.keys[key]}.")
            return None
        self.keys[key] = where.removesuffix(".key")
        return key

    def kind(self, kind: object, where: str, *, follow_up: bool) -> str | None:
        if kind is None or kind == "":
            self.add(where, "A field type is needed.")
            return None
        if kind not in FIELD_TYPES:
            shown = _shown(kind)
            self.add(where, f"Unknown field type '{shown}'." if shown else "Unknown field type.")
            return None
        assert isinstance(kind, str)
        if follow_up and kind in NOT_A_FOLLOW_UP:
            self.add(where, f"A follow-up cannot be a {kind} field.")
            return None
        if kind in ONE_PER_TEMPLATE:
            if kind in self.once:
                what = "signature block" if kind == SIGNATURE else "card_on_file field"
                self.add(where, f"A form has one {what}; the first is {self.once[kind]}.")
                return None
            self.once[kind] = where.removesuffix(".type")
        return kind

    def choices(self, data: object, where: str) -> tuple[Choice, ...]:
        if not isinstance(data, list) or not data:
            self.add(where, "A choice question needs at least one choice (a list).")
            return ()
        if len(data) > MAX_CHOICES:
            self.add(where, f"At most {MAX_CHOICES} choices.")
            return ()
        choices: list[Choice] = []
        values: dict[str, int] = {}
        labels: dict[str, int] = {}
        for i, item in enumerate(data):
            path = f"{where}.{i}"
            if not isinstance(item, dict):
                self.add(path, "Each choice must be an object with a value and a label.")
                continue
            self.unknown_settings(item, CHOICE_SETTINGS, path)
            value = item.get("value")
            label = self.text(item, path, "label", CHOICE_LABEL_MAX, required=True, one_line=True)
            if not isinstance(value, str) or not CHOICE_VALUE.fullmatch(value):
                self.add(_at(path, "value"),
                         "A value is a lowercase letter or digit, then up to 63 lowercase letters, digits, - or _.")
                continue
            if value in values:
                self.add(_at(path, "value"), f"The value '{value}' is already used by choice {values[value]}.")
                continue
            values[value] = i
            # two choices that read the same cannot be told apart by the client
            if label and label.casefold() in labels:
                self.add(_at(path, "label"), f"The same label as choice {labels[label.casefold()]}.")
            labels.setdefault(label.casefold(), i)
            choices.append(Choice(value, label))
        return tuple(choices)

    def max_length(self, data: dict, path: str, kind: str) -> int:
        value = data.get("max_length", DEFAULT_MAX_LENGTH[kind])
        limit = MAX_LENGTH_LIMIT[kind]
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            self.add(_at(path, "max_length"), f"Must be a whole number from 1 to {limit}.")
            return DEFAULT_MAX_LENGTH[kind]
        return value

    def number_options(self, data: dict, path: str) -> dict:
        options: dict = {}
        for bound in ("min", "max"):
            value = data.get(bound)
            if value is None:
                continue
            if not _is_number(value) or abs(value) > NUMBER_LIMIT:
                self.add(_at(path, bound), f"Must be a number between -{NUMBER_LIMIT:,} and {NUMBER_LIMIT:,}.")
                continue
            options[bound] = int(value) if float(value).is_integer() else value
        if "min" in options and "max" in options and options["min"] > options["max"]:
            self.add(_at(path, "max"), "Must not be less than min.")
        integer = data.get("integer", False)
        if not isinstance(integer, bool):
            self.add(_at(path, "integer"), "Must be true or false.")
            integer = False
        return options | {"integer": integer}


def _count_fields(sections: list) -> int:
    count = 0
    for section in sections:
        fields = section.get("fields") if isinstance(section, dict) else None
        if isinstance(fields, list):
            count += len(fields) + sum(1 for f in fields if isinstance(f, dict) and isinstance(f.get("follow_up"),
                                                                                                dict))
    return count
