"""Identity's request schemas: unknown fields refused, strict booleans, plausible dates, phones and time zones."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from marshmallow import ValidationError

from services.identity.api.schemas import (
    ClientIn,
    LoginIn,
    MfaIn,
    ProfileFields,
    RegisterIn,
    ReviewIn,
    SettingsIn,
)


def errors_of(schema, data) -> dict:
    with pytest.raises(ValidationError) as caught:
        schema.load(data)
    return caught.value.messages


def test_unknown_fields_are_refused():
    assert errors_of(LoginIn(), {"email": "a@example.com", "password": "x", "role": "admin"}) == {
        "role": ["Unknown field."]}
    assert "is_admin" in errors_of(ProfileFields(), {"address": {"city": "X", "is_admin": True}})["address"]


def test_login_needs_a_real_email_and_a_password():
    assert set(errors_of(LoginIn(), {})) == {"email", "password"}
    assert "email" in errors_of(LoginIn(), {"email": "not-an-email", "password": "x"})
    assert LoginIn().load({"email": "a@example.com", "password": "x"}) == {"email": "a@example.com",
                                                                          "password": "x"}


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", " 123456"])
def test_an_mfa_code_is_six_digits(code):
    assert "code" in errors_of(MfaIn(), {"mfa_token": "t", "code": code})


def test_register_parses_the_date_of_birth():
    loaded = RegisterIn().load({"token": "t", "last_name": "Doe", "date_of_birth": "1990-02-03", "password": "p"})
    assert loaded["date_of_birth"] == date(1990, 2, 3)


@pytest.mark.parametrize("dob", [date.today() + timedelta(days=1), date(1899, 12, 31)])
def test_a_date_of_birth_must_be_past_and_after_1900(dob):
    assert errors_of(ProfileFields(), {"date_of_birth": dob.isoformat()}) == {
        "date_of_birth": ["Must be a past date after 1900."]}


def test_client_in_needs_the_practice_owned_fields():
    assert set(errors_of(ClientIn(), {})) == {"first_name", "last_name", "date_of_birth"}


@pytest.mark.parametrize("phone", ["+1 (555) 010-0100", "555.0100", "05550100"])
def test_phone_numbers_accepted(phone):
    assert ProfileFields().load({"phone": phone}) == {"phone": phone}


@pytest.mark.parametrize("phone", ["1234", "call me", "555-0100 ext. 7", "1" * 33])
def test_phone_numbers_refused(phone):
    assert "phone" in errors_of(ProfileFields(), {"phone": phone})


def test_a_nested_field_cannot_be_null():
    assert errors_of(ProfileFields(), {"address": None}) == {"address": ["Field may not be null."]}


def test_settings_time_zone_must_exist():
    assert SettingsIn().load({"timezone": "America/New_York"}) == {"timezone": "America/New_York"}
    assert "timezone" in errors_of(SettingsIn(), {"timezone": "Mars/Olympus_Mons"})


@pytest.mark.parametrize("value", [True, False])
def test_strict_booleans_take_true_and_false(value):
    assert SettingsIn().load({"autopay_enabled": value}) == {"autopay_enabled": value}


@pytest.mark.parametrize("value", ["yes", "true", "on", "1", None])
def test_strict_booleans_refuse_strings_and_null(value):
    assert "autopay_enabled" in errors_of(SettingsIn(), {"autopay_enabled": value})


@pytest.mark.parametrize("value", [1, 0, 1.0])
def test_strict_booleans_refuse_numbers(value):
    # StrictBool's docstring: '"yes", 1 or "on" are refused, not guessed'. 1 == True in Python, so
    # `value in {True}` lets 1, 0 and 1.0 through.
    assert "autopay_enabled" in errors_of(SettingsIn(), {"autopay_enabled": value})


def test_review_decision_is_accept_or_revert():
    assert ReviewIn().load({"decision": "accept"}) == {"decision": "accept"}
    assert "decision" in errors_of(ReviewIn(), {"decision": "maybe"})
