"""Identity's request and response schemas (marshmallow); unknown fields are refused."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.pagination import PageQuery, page_of
from shared.schemas import Address, Strict, StrictBool, TimeZoneName

NAME = validate.Length(min=1, max=100)
EMAIL_LEN = validate.Length(max=254)
PHONE = validate.Regexp(r"^[0-9+()\-. ]{5,32}$", error="Use digits, spaces and + ( ) - . only (5 to 32).")


class LoginIn(Strict):
    email = fields.Email(required=True, validate=EMAIL_LEN)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class MfaIn(Strict):
    mfa_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="Six digits."))


class RefreshIn(Strict):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=512))


class UserOut(Schema):
    id = fields.String()
    role = fields.String()
    client_id = fields.String(allow_none=True)
    email = fields.String()
    first_name = fields.String(allow_none=True)
    last_name = fields.String(allow_none=True)
    mfa_enabled = fields.Boolean()
    active = fields.Boolean(attribute="is_active")


class TokensOut(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.Constant("Bearer")
    expires_in = fields.Integer()
    user = fields.Nested(UserOut(only=("id", "role", "client_id")))


class MfaChallengeOut(Schema):
    mfa_required = fields.Boolean()
    mfa_token = fields.String()


class RegistrationInfoOut(Schema):
    valid = fields.Boolean()
    reason = fields.String(allow_none=True)
    practice_name = fields.String()
    expires_at = fields.DateTime(allow_none=True)


class RegisterIn(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=512))
    last_name = fields.String(required=True, validate=NAME)
    date_of_birth = fields.Date(required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RegisteredOut(Schema):
    user_id = fields.String()
    client_id = fields.String()
    email = fields.String()


class ResetRequestIn(Strict):
    email = fields.Email(required=True, validate=EMAIL_LEN)


class ResetConfirmIn(Strict):
    token = fields.String(required=True, validate=validate.Length(min=1, max=512))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class ResetConfirmedOut(Schema):
    status = fields.Constant("password_changed")
    mfa_enabled = fields.Boolean()
    detail = fields.String()


class EmergencyContact(Strict):
    name = fields.String(validate=validate.Length(max=200), allow_none=True)
    phone = fields.String(validate=PHONE, allow_none=True)
    relationship = fields.String(validate=validate.Length(max=100), allow_none=True)


class Insurance(Strict):
    carrier = fields.String(validate=validate.Length(max=200), allow_none=True)
    member_id = fields.String(validate=validate.Length(max=100), allow_none=True)
    group_number = fields.String(validate=validate.Length(max=100), allow_none=True)


class ProfileFields(Strict):
    first_name = fields.String(validate=NAME)
    last_name = fields.String(validate=NAME)
    preferred_name = fields.String(validate=validate.Length(max=100), allow_none=True)
    date_of_birth = fields.Date()
    email = fields.Email(validate=EMAIL_LEN, allow_none=True)
    phone = fields.String(validate=PHONE, allow_none=True)
    address = fields.Nested(Address)
    emergency_contact = fields.Nested(EmergencyContact)
    insurance = fields.Nested(Insurance)

    @validates_schema
    def _past_birth_date(self, data, **kwargs):
        from datetime import date

        dob = data.get("date_of_birth")
        if dob is not None and (dob > date.today() or dob.year < 1900):
            raise ValidationError("Must be a past date after 1900.", "date_of_birth")


class MyProfileIn(ProfileFields):
    """A client's own edit; a new sign-in e-mail needs the current password (a stolen access token alone must not
    move the account to another address, then reset its password there)."""

    password = fields.String(load_only=True, validate=validate.Length(min=1, max=1024))


class ProfileOut(Schema):
    first_name = fields.String()
    last_name = fields.String()
    preferred_name = fields.String(allow_none=True)
    date_of_birth = fields.Date()
    email = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    address = fields.Nested(Address)
    emergency_contact = fields.Nested(EmergencyContact)
    insurance = fields.Nested(Insurance)


class MyProfileOut(ProfileOut):
    """`session`: only after a change of the sign-in e-mail, which ended every session: the caller's new one."""

    session = fields.Nested(TokensOut)


class ClientIn(ProfileFields):
    first_name = fields.String(required=True, validate=NAME)
    last_name = fields.String(required=True, validate=NAME)
    date_of_birth = fields.Date(required=True)


class ClientOut(ProfileOut):
    id = fields.String()
    portal_status = fields.String()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


ClientPage = page_of(ClientOut, "ClientPage")


class ClientQuery(PageQuery):
    q = fields.String(load_default=None, validate=validate.Length(max=100))


class InvitationOut(Schema):
    invitation_url = fields.String()
    expires_at = fields.DateTime()


class StaffUserIn(Strict):
    email = fields.Email(required=True, validate=EMAIL_LEN)
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    first_name = fields.String(required=True, validate=NAME)
    last_name = fields.String(required=True, validate=NAME)
    role = fields.String(required=True, validate=validate.OneOf(["staff", "admin"]))


UserList = page_of(UserOut, "UserList")


class MfaSetupOut(TokensOut):
    """The secret for the authenticator app, and the caller's new session (the set-up ended the others)."""

    secret = fields.String()
    otpauth_uri = fields.String()


class PasswordIn(Strict):
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class MfaCodeIn(PasswordIn):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$", error="Six digits."))


class StaffUserPatchIn(Strict):
    active = StrictBool(required=True)


class PracticeAddress(Address):
    pass


class SettingsIn(Strict):
    practice_name = fields.String(validate=validate.Length(min=1, max=200))
    self_scheduling_enabled = StrictBool()
    online_payments_enabled = StrictBool()
    billing_documents_enabled = StrictBool()
    autopay_enabled = StrictBool()
    currency = fields.String(validate=validate.OneOf(["USD", "CAD", "EUR", "GBP", "AUD"]))
    timezone = TimeZoneName(validate=validate.Length(min=1, max=64))
    phone = fields.String(validate=PHONE, allow_none=True)
    email = fields.Email(validate=EMAIL_LEN, allow_none=True)
    address = fields.Nested(PracticeAddress)


class SettingsOut(Schema):
    practice_name = fields.String()
    self_scheduling_enabled = fields.Boolean()
    online_payments_enabled = fields.Boolean()
    billing_documents_enabled = fields.Boolean()
    autopay_enabled = fields.Boolean()
    currency = fields.String()
    timezone = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    address = fields.Nested(PracticeAddress)


class ProfileChangeOut(Schema):
    id = fields.String()
    client_id = fields.String()
    client_name = fields.String(allow_none=True)
    changes = fields.Dict()
    status = fields.String()
    created_at = fields.DateTime()
    reviewed_at = fields.DateTime(allow_none=True)
    reviewed_by = fields.String(allow_none=True)
    review_note = fields.String(allow_none=True)
    skipped_fields = fields.List(fields.String())


ProfileChangePage = page_of(ProfileChangeOut, "ProfileChangePage")


class ProfileChangeQuery(PageQuery):
    status = fields.String(load_default=None, validate=validate.OneOf(["pending", "accepted", "reverted"]))


class ReviewIn(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(["accept", "revert"]))
    note = fields.String(validate=validate.Length(max=1000), allow_none=True)
