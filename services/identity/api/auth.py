"""/api/v1/auth: sign-in, MFA, refresh, sign-out, registration and password reset (no token needed)."""

from __future__ import annotations

from flask import Blueprint

from services.identity.api import client_address, identity
from services.identity.api.schemas import (
    LoginIn,
    MfaChallengeOut,
    MfaIn,
    RefreshIn,
    RegisteredOut,
    RegisterIn,
    RegistrationInfoOut,
    ResetConfirmedOut,
    ResetConfirmIn,
    ResetRequestIn,
    TokensOut,
)
from shared.web import doc, load

bp = Blueprint("auth", __name__, url_prefix="/api/v1/auth")
tokens_out = TokensOut()


@bp.post("/login")
@doc(body=LoginIn, response=TokensOut, summary="Sign in with e-mail and password")
def login():
    data = load(LoginIn())
    result = identity().login(data["email"], data["password"], client_address())
    if isinstance(result, dict):
        return MfaChallengeOut().dump(result)
    return tokens_out.dump(result)


@bp.post("/mfa")
@doc(body=MfaIn, response=TokensOut, summary="Second step of a sign-in with two-factor on")
def mfa():
    data = load(MfaIn())
    return tokens_out.dump(identity().complete_mfa(data["mfa_token"], data["code"], client_address()))


@bp.post("/refresh")
@doc(body=RefreshIn, response=TokensOut, summary="Exchange a refresh token for a new pair")
def refresh():
    return tokens_out.dump(identity().refresh(load(RefreshIn())["refresh_token"]))


@bp.post("/logout")
@doc(body=RefreshIn, status=204, summary="Revoke the refresh token (and its family)")
def logout():
    identity().logout(load(RefreshIn())["refresh_token"])
    return "", 204


@bp.get("/registration/<token>")
@doc(response=RegistrationInfoOut, summary="Is this registration link usable?")
def registration_info(token: str):
    return RegistrationInfoOut().dump(identity().registration_info(token))


@bp.post("/register")
@doc(body=RegisterIn, response=RegisteredOut, status=201, summary="Complete registration from the e-mail link")
def register():
    data = load(RegisterIn())
    result = identity().register(data["token"], data["last_name"], data["date_of_birth"], data["password"])
    return RegisteredOut().dump(result), 201


@bp.post("/password-reset")
@doc(body=ResetRequestIn, status=202, summary="E-mail a reset link (answers 202 whether or not the account exists)")
def password_reset():
    identity().request_password_reset(load(ResetRequestIn())["email"], client_address())
    return {"status": "accepted", "detail": "If an account uses this address, a reset link is on its way."}, 202


@bp.post("/password-reset/confirm")
@doc(body=ResetConfirmIn, response=ResetConfirmedOut, summary="Set a new password from the reset link")
def password_reset_confirm():
    data = load(ResetConfirmIn())
    result = identity().confirm_password_reset(data["token"], data["password"])
    if result["mfa_enabled"]:
        detail = ("Your password is changed and every earlier sign-in has ended. Two-factor sign-in stays on: sign "
                  "in with the new password and the code from your authenticator app.")
    else:
        detail = "Your password is changed and every earlier sign-in has ended. Sign in with the new password."
    return ResetConfirmedOut().dump({**result, "detail": detail})
