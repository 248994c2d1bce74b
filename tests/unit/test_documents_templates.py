"""Documents' form templates (domain/templates.py, domain/starter_templates.py): what parse_template takes, every
refusal named by its path in the template, the round trip through to_dict, the starters, and versions."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from services.documents.domain import templates as t
from services.documents.domain.errors import TemplateInvalid
from services.documents.domain.starter_templates import STARTER_TEMPLATES, starter_template
from shared.domain import DomainError
from shared.schemas import NUL_MESSAGE, SURROGATE_MESSAGE


def every_type() -> dict:
    """A template with one question of each type, in two sections (the second's first field is fields.0)."""
    return {
        "title": "Everything",
        "description": "One of each.",
        "sections": [
            {"title": "First", "help": "Some help.", "fields": [
                {"key": "name", "type": "text", "label": "Name", "required": True},
                {"key": "story", "type": "textarea", "label": "Story", "max_length": 300},
                {"key": "born", "type": "date", "label": "Born"},
                {"key": "count", "type": "number", "label": "Count", "min": 0, "max": 10, "integer": True},
                {"key": "colour", "type": "choice", "label": "Colour",
                 "choices": [{"value": "red", "label": "Red"}, {"value": "blue", "label": "Blue"}]},
                {"key": "pets", "type": "multichoice", "label": "Pets",
                 "choices": [{"value": "cat", "label": "Cat"}, {"value": "dog", "label": "Dog"}]},
            ]},
            {"title": "Second", "help": "", "fields": [
                {"key": "agree", "type": "checkbox", "label": "I agree", "required": True},
                {"key": "smokes", "type": "yesno", "label": "Do you smoke?",
                 "follow_up": {"key": "smokes_how_much", "type": "text", "label": "How much?",
                               "required": True}},
                {"key": "card", "type": "card_on_file", "label": "Card"},
                {"key": "sign", "type": "signature", "label": "I sign"},
            ]},
        ],
    }


def refusal(data) -> dict[str, list[str]]:
    with pytest.raises(TemplateInvalid) as refused:
        t.parse_template(data)
    assert isinstance(refused.value, DomainError) and refused.value.errors
    return refused.value.errors


def field(data: dict, section: int, index: int) -> dict:
    return data["sections"][section]["fields"][index]


# --- what is taken --------------------------------------------------------------------------------------------

def test_a_template_of_every_type_is_taken_with_its_options_and_defaults():
    template = t.parse_template(every_type())
    assert template.title == "Everything" and template.version == 1 and len(template.sections) == 2
    assert [f.type for f in template.fields()] == [
        "text", "textarea", "date", "number", "choice", "multichoice", "checkbox", "yesno",
        "text", "card_on_file", "signature"]
    assert template.field("name").max_length == 200 and template.field("name").required
    assert template.field("story").max_length == 300 and not template.field("story").required
    count = template.field("count")
    assert (count.min, count.max, count.integer) == (0, 10, True)
    assert template.field("colour").choice_values == ("red", "blue")
    assert template.field("smokes").follow_up == template.field("smokes_how_much")
    assert template.signature is template.field("sign") and template.signature.required  # always required
    assert template.field("nothing") is None


def test_a_long_text_defaults_to_5000_characters_and_a_short_one_to_200():
    data = every_type()
    del field(data, 0, 1)["max_length"]
    template = t.parse_template(data)
    assert template.field("story").max_length == 5000 and template.field("name").max_length == 200


def test_the_fields_come_in_reading_order_with_each_follow_up_after_its_question():
    keys = [f.key for f in t.parse_template(every_type()).fields()]
    assert keys.index("smokes_how_much") == keys.index("smokes") + 1


def test_words_are_trimmed_and_line_breaks_made_plain():
    data = every_type()
    data["title"] = "  Everything  "
    field(data, 0, 0)["help"] = "one\r\ntwo\rthree"
    template = t.parse_template(data)
    assert template.title == "Everything" and template.field("name").help == "one\ntwo\nthree"


def test_to_dict_round_trips_and_is_plain_json():
    template = t.parse_template(every_type())
    assert t.parse_template(template.to_dict()) == template
    as_dict = template.to_dict()
    assert as_dict["version"] == 1
    assert as_dict["sections"][0]["fields"][0] == {"key": "name", "type": "text", "label": "Name", "help": "",
                                                   "required": True, "max_length": 200}
    assert as_dict["sections"][0]["fields"][3] == {"key": "count", "type": "number", "label": "Count", "help": "",
                                                   "required": False, "min": 0, "max": 10, "integer": True}
    assert "choices" not in as_dict["sections"][1]["fields"][0]  # only the options a type has


def test_a_stored_version_keeps_its_number_through_the_round_trip():
    data = every_type() | {"version": 7}
    template = t.parse_template(data)
    assert template.version == 7 and t.parse_template(template.to_dict()).version == 7


def test_an_integral_float_bound_is_kept_as_an_integer():
    data = every_type()
    field(data, 0, 3).update({"min": 1.0, "max": 2.5})
    count = t.parse_template(data).field("count")
    assert count.min == 1 and isinstance(count.min, int) and count.max == 2.5


def test_parsing_does_not_change_the_input():
    data = every_type()
    before = copy.deepcopy(data)
    t.parse_template(data)
    assert data == before


# --- what is refused, each at its path ------------------------------------------------------------------------

def _set(section: int, index: int, **changes):
    def change(data: dict) -> None:
        field(data, section, index).update(changes)
    return change


def _drop(section: int, index: int, name: str):
    def change(data: dict) -> None:
        del field(data, section, index)[name]
    return change


def _many_sections(data: dict) -> None:
    data["sections"] = [copy.deepcopy(data["sections"][0]) for _ in range(t.MAX_SECTIONS + 1)]


def _many_fields(data: dict) -> None:
    data["sections"][0]["fields"] = [{"key": f"q{i}", "type": "checkbox", "label": f"Q{i}"}
                                     for i in range(t.MAX_FIELDS_PER_SECTION + 1)]


def _many_fields_in_all(data: dict) -> None:
    # 4 sections of 50 yes/no with a follow-up each: 400 questions, each section within its own cap
    data["sections"] = [{"title": "", "help": "", "fields": [
        {"key": f"q{s}_{i}", "type": "yesno", "label": "Q",
         "follow_up": {"key": f"f{s}_{i}", "type": "text", "label": "F"}}
        for i in range(t.MAX_FIELDS_PER_SECTION)]} for s in range(4)]


def _second_signature(data: dict) -> None:
    data["sections"][1]["fields"].append({"key": "sign_again", "type": "signature", "label": "Again"})


def _second_card(data: dict) -> None:
    data["sections"][1]["fields"].append({"key": "card_two", "type": "card_on_file", "label": "Another card"})


def _duplicate_key_across_sections(data: dict) -> None:
    field(data, 1, 0)["key"] = "name"


def _follow_up_reuses_a_key(data: dict) -> None:
    field(data, 1, 1)["follow_up"]["key"] = "born"


BAD = [
    ("an unknown field type", _set(1, 0, type="colour"), "sections.1.fields.0.type", "Unknown field type 'colour'."),
    ("a field type of another naming", _set(0, 0, type="short_text"), "sections.0.fields.0.type",
     "Unknown field type 'short_text'."),
    ("a field type that is not text", _set(0, 0, type=["text"]), "sections.0.fields.0.type",
     "Unknown field type."),
    ("no field type", _drop(0, 2, "type"), "sections.0.fields.2.type", "A field type is needed."),
    ("a duplicate key across sections", _duplicate_key_across_sections, "sections.1.fields.0.key",
     "The key 'name' is already used by sections.0.fields.0."),
    ("a follow-up with a key in use", _follow_up_reuses_a_key, "sections.1.fields.1.follow_up.key",
     "The key 'born' is already used by sections.0.fields.2."),
    ("no key", _drop(0, 0, "key"), "sections.0.fields.0.key", "A key is needed."),
    ("a key with capitals", _set(0, 0, key="Name"), "sections.0.fields.0.key", "A key is a lowercase letter"),
    ("a key starting with a digit", _set(0, 0, key="1name"), "sections.0.fields.0.key", "A key is a lowercase"),
    ("a key with a dash", _set(0, 0, key="first-name"), "sections.0.fields.0.key", "A key is a lowercase"),
    ("a key of 65 characters", _set(0, 0, key="a" * 65), "sections.0.fields.0.key", "A key is a lowercase"),
    ("a key that is a number", _set(0, 0, key=7), "sections.0.fields.0.key", "A key is a lowercase"),
    ("no label", _drop(0, 1, "label"), "sections.0.fields.1.label", "A label is needed."),
    ("a blank label", _set(0, 1, label="   "), "sections.0.fields.1.label", "A label is needed."),
    ("a label that is not text", _set(0, 1, label=5), "sections.0.fields.1.label", "Must be text."),
    ("a label too long", _set(0, 1, label="x" * (t.LABEL_MAX + 1)), "sections.0.fields.1.label",
     f"At most {t.LABEL_MAX} characters."),
    ("a label with NUL", _set(0, 1, label="a\x00b"), "sections.0.fields.1.label", NUL_MESSAGE),
    ("a help text with a lone surrogate", _set(0, 1, help="a\ud800b"), "sections.0.fields.1.help",
     SURROGATE_MESSAGE),
    ("a label with a control character", _set(0, 1, label="a\x1bb"), "sections.0.fields.1.label",
     "Must not contain control characters."),
    ("empty choices", _set(0, 4, choices=[]), "sections.0.fields.4.choices", "at least one choice"),
    ("no choices", _drop(0, 5, "choices"), "sections.0.fields.5.choices", "at least one choice"),
    ("duplicate choice values", _set(0, 4, choices=[{"value": "red", "label": "Red"},
                                                     {"value": "red", "label": "Crimson"}]),
     "sections.0.fields.4.choices.1.value", "The value 'red' is already used by choice 0."),
    ("choices that read the same", _set(0, 5, choices=[{"value": "cat", "label": "Cat"},
                                                       {"value": "kitten", "label": "cat"}]),
     "sections.0.fields.5.choices.1.label", "The same label as choice 0."),
    ("a choice with no label", _set(0, 4, choices=[{"value": "red"}]), "sections.0.fields.4.choices.0.label",
     "A label is needed."),
    ("a choice value with spaces", _set(0, 4, choices=[{"value": "dark red", "label": "Dark red"}]),
     "sections.0.fields.4.choices.0.value", "A value is a lowercase letter or digit"),
    ("a choice that is a string", _set(0, 4, choices=["red"]), "sections.0.fields.4.choices.0",
     "Each choice must be an object"),
    ("a choice with an unknown setting", _set(0, 4, choices=[{"value": "red", "label": "Red", "price": 3}]),
     "sections.0.fields.4.choices.0.price", "Unknown setting."),
    ("too many choices", _set(0, 4, choices=[{"value": f"c{i}", "label": f"C{i}"}
                                             for i in range(t.MAX_CHOICES + 1)]),
     "sections.0.fields.4.choices", f"At most {t.MAX_CHOICES} choices."),
    ("choices on a text question", _set(0, 0, choices=[{"value": "a", "label": "A"}]),
     "sections.0.fields.0.choices", "A text field has no choices"),
    ("a follow-up on a checkbox", _set(1, 0, follow_up={"key": "why", "type": "text", "label": "Why?"}),
     "sections.1.fields.0.follow_up", "A checkbox field has no follow_up (only yesno)."),
    ("a yes/no as a follow-up", _set(1, 1, follow_up={"key": "again", "type": "yesno", "label": "Again?"}),
     "sections.1.fields.1.follow_up.type", "A follow-up cannot be a yesno field."),
    ("a signature as a follow-up", _set(1, 1, follow_up={"key": "s2", "type": "signature", "label": "Sign"}),
     "sections.1.fields.1.follow_up.type", "A follow-up cannot be a signature field."),
    ("a follow-up that is not an object", _set(1, 1, follow_up="How much?"), "sections.1.fields.1.follow_up",
     "Each question must be an object."),
    ("a follow-up with no label", _set(1, 1, follow_up={"key": "how", "type": "text"}),
     "sections.1.fields.1.follow_up.label", "A label is needed."),
    ("a second signature block", _second_signature, "sections.1.fields.4.type",
     "A form has one signature block; the first is sections.1.fields.3."),
    ("a second card_on_file field", _second_card, "sections.1.fields.4.type",
     "A form has one card_on_file field; the first is sections.1.fields.2."),
    ("a signature that is not required", _set(1, 3, required=False), "sections.1.fields.3.required",
     "A signature block is always required."),
    ("required that is not a boolean", _set(0, 0, required="yes"), "sections.0.fields.0.required",
     "Must be true or false."),
    ("a misspelt setting", _set(0, 0, requried=True), "sections.0.fields.0.requried", "Unknown setting."),
    ("max_length on a number", _set(0, 3, max_length=5), "sections.0.fields.3.max_length",
     "A number field has no max_length"),
    ("max_length of 0", _set(0, 0, max_length=0), "sections.0.fields.0.max_length", "from 1 to 1000"),
    ("max_length over a short text's cap", _set(0, 0, max_length=1001), "sections.0.fields.0.max_length",
     "from 1 to 1000"),
    ("max_length over a long text's cap", _set(0, 1, max_length=20_001), "sections.0.fields.1.max_length",
     "from 1 to 20000"),
    ("max_length true", _set(0, 0, max_length=True), "sections.0.fields.0.max_length", "Must be a whole number"),
    ("min above max", _set(0, 3, min=11), "sections.0.fields.3.max", "Must not be less than min."),
    ("min as text", _set(0, 3, min="1"), "sections.0.fields.3.min", "Must be a number"),
    ("max not finite", _set(0, 3, max=float("inf")), "sections.0.fields.3.max", "Must be a number"),
    ("max beyond the limit", _set(0, 3, max=10**13), "sections.0.fields.3.max", "Must be a number"),
    ("integer not a boolean", _set(0, 3, integer=1), "sections.0.fields.3.integer", "Must be true or false."),
    ("min on a date", _set(0, 2, min=1), "sections.0.fields.2.min", "A date field has no min"),
    ("a question that is not an object", lambda d: d["sections"][0]["fields"].append("Name?"),
     "sections.0.fields.6", "Each question must be an object."),
    ("too many sections", _many_sections, "sections", f"at most {t.MAX_SECTIONS} sections"),
    ("too many questions in a section", _many_fields, "sections.0.fields",
     f"at most {t.MAX_FIELDS_PER_SECTION} questions"),
    ("too many questions in all", _many_fields_in_all, "sections", f"at most {t.MAX_FIELDS} questions in all"),
    ("no sections", lambda d: d.update(sections=[]), "sections", "at least one section"),
    ("sections not a list", lambda d: d.update(sections={"title": "x"}), "sections", "at least one section"),
    ("a section that is not an object", lambda d: d["sections"].append("Contact"), "sections.2",
     "Each section must be an object."),
    ("a section with no questions", lambda d: d["sections"][1].update(fields=[]), "sections.1.fields",
     "at least one question"),
    ("a section title on two lines", lambda d: d["sections"][0].update(title="a\nb"), "sections.0.title",
     "Must be one line of text."),
    ("a section with an unknown setting", lambda d: d["sections"][0].update(colour="red"), "sections.0.colour",
     "Unknown setting."),
    ("no title", lambda d: d.pop("title"), "title", "A title is needed."),
    ("a title too long", lambda d: d.update(title="x" * (t.TITLE_MAX + 1)), "title", "At most 200 characters."),
    ("a description that is not text", lambda d: d.update(description=["x"]), "description", "Must be text."),
    ("a version of 0", lambda d: d.update(version=0), "version", "Must be a whole number from 1."),
    ("a version that is true", lambda d: d.update(version=True), "version", "Must be a whole number from 1."),
    ("an unknown top-level setting", lambda d: d.update(owner="me"), "owner", "Unknown setting."),
    ("a setting name that cannot be quoted", lambda d: d.update({"a\x00": 1}), "_schema", "An unknown setting."),
]


@pytest.mark.parametrize(("change", "path", "message"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_template_is_refused_naming_the_path(change, path, message):
    data = every_type()
    change(data)
    errors = refusal(data)
    assert path in errors, errors
    assert any(message in m for m in errors[path]), errors[path]


def test_a_duplicate_names_where_its_key_was_first_used():
    data = every_type()
    _duplicate_key_across_sections(data)
    _second_signature(data)
    errors = refusal(data)
    assert errors["sections.1.fields.0.key"] == ["The key 'name' is already used by sections.0.fields.0."]
    assert errors["sections.1.fields.4.type"] == ["A form has one signature block; the first is sections.1.fields.3."]


def test_the_valid_template_the_bad_cases_start_from_is_taken():
    """Without this, every case above could pass because the starting template is itself refused."""
    t.parse_template(every_type())


def test_every_problem_is_reported_at_once():
    data = every_type()
    field(data, 0, 0)["type"] = "colour"
    field(data, 0, 1)["label"] = ""
    field(data, 0, 4)["choices"] = []
    with pytest.raises(TemplateInvalid) as refused:
        t.parse_template(data)
    assert set(refused.value.errors) == {"sections.0.fields.0.type", "sections.0.fields.1.label",
                                         "sections.0.fields.4.choices"}
    assert str(refused.value) == "The form template has 3 problems to fix."


def test_a_template_that_is_not_an_object_is_refused():
    assert refusal(["sections"]) == {"_schema": ["Must be an object."]}


def test_a_long_unknown_type_is_quoted_cut_short():
    data = every_type()
    field(data, 0, 0)["type"] = "x" * 100
    message, = refusal(data)["sections.0.fields.0.type"]
    assert message == f"Unknown field type '{'x' * 37}...'."


# --- the starters ---------------------------------------------------------------------------------------------

def test_the_suite_ships_the_three_starters_and_the_credit_card_form():
    assert list(STARTER_TEMPLATES) == ["intake_questionnaire", "consent_to_treatment", "release_of_information",
                                       "credit_card_information"]


@pytest.mark.parametrize("slug", sorted(STARTER_TEMPLATES))
def test_each_starter_parses_round_trips_and_has_one_signature(slug):
    template = starter_template(slug)
    assert t.parse_template(template.to_dict()) == template
    assert template.version == 1 and template.title
    assert [f.type for f in template.fields()].count("signature") == 1
    assert template.signature.required


def test_the_intake_asks_what_a_first_session_needs():
    intake = starter_template("intake_questionnaire")
    keys = {f.key for f in intake.fields()}
    assert {"legal_name", "date_of_birth", "phone", "emergency_name", "emergency_phone", "presenting_concerns",
            "takes_medication", "medication_list", "previous_therapy"} <= keys
    with_follow_up = [f for f in intake.fields() if f.follow_up is not None]
    assert len(with_follow_up) >= 4 and all(f.type == "yesno" for f in with_follow_up)
    assert "988" in intake.description


def test_the_consent_has_its_text_its_acknowledgements_and_a_signature():
    consent = starter_template("consent_to_treatment")
    assert "confidential" in consent.sections[0].help and "24 hours" in consent.sections[0].help
    boxes = [f for f in consent.fields() if f.type == "checkbox"]
    assert len(boxes) >= 3 and all(f.required for f in boxes)


def test_the_release_names_who_what_why_and_until_when():
    release = starter_template("release_of_information")
    assert release.field("recipient_name").required and release.field("information").type == "multichoice"
    assert release.field("purpose").required
    assert release.field("expires_on").type == "date" and release.field("expires_on").required
    assert "revoke" in release.description


def test_the_credit_card_form_saves_a_card_without_charging_it():
    form = starter_template("credit_card_information")
    card = form.field("card")
    assert card.type == "card_on_file" and card.required
    assert "won't be charged" in form.description and form.title == "Credit card information"


# --- versions -------------------------------------------------------------------------------------------------

def _relabel(template: t.Template, label: str) -> t.Template:
    section = template.sections[0]
    first = dataclasses.replace(section.fields[0], label=label)
    return dataclasses.replace(template, sections=(dataclasses.replace(section, fields=(first, *section.fields[1:])),
                                                   *template.sections[1:]))


def test_a_new_template_is_version_1():
    edited = dataclasses.replace(t.parse_template(every_type()), version=5)
    assert t.next_version(None, edited).version == 1


def test_an_edit_is_the_next_version_and_the_current_one_is_left_as_it_was():
    current = dataclasses.replace(t.parse_template(every_type()), version=3)
    edited = _relabel(t.parse_template(current.to_dict() | {"version": 1}), "Full name")
    stored = t.next_version(current, edited)
    assert stored.version == 4 and stored.field("name").label == "Full name"
    assert current.version == 3 and current.field("name").label == "Name"  # forms assigned with 3 keep it


def test_an_edit_that_changes_nothing_makes_no_new_version():
    current = dataclasses.replace(t.parse_template(every_type()), version=3)
    unchanged = t.parse_template(current.to_dict() | {"version": 9})
    assert t.next_version(current, unchanged) is current


def test_two_versions_of_the_same_words_have_the_same_content():
    one = t.parse_template(every_type())
    assert t.same_content(one, dataclasses.replace(one, version=2))
    assert not t.same_content(one, _relabel(one, "Other"))


def test_a_template_cannot_be_changed_in_place():
    template = t.parse_template(every_type())
    with pytest.raises(dataclasses.FrozenInstanceError):
        template.version = 2  # type: ignore[misc]
