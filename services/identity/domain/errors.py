"""Identity's domain errors; each carries its HTTP answer through the shared problem types."""

from __future__ import annotations

from shared.errors import Conflict, Gone, NotFound, TooManyRequests, Unauthorized, Unprocessable


class InvalidCredentials(Unauthorized):
    slug, title = "invalid-credentials", "E-mail or password is not right"


class InvalidToken(Unauthorized):
    slug, title = "invalid-token", "This token is not valid"


class LoginThrottled(TooManyRequests):
    slug, title = "login-throttled", "Too many failed sign-in attempts"


class InvitationNotFound(NotFound):
    slug, title = "registration-link-unknown", "This registration link is not valid"


class InvitationUnusable(Gone):
    slug, title = "registration-link-unusable", "This registration link can no longer be used"


class IdentityMismatch(Unprocessable):
    slug, title = "identity-mismatch", "Last name or date of birth do not match our records"


class WeakPassword(Unprocessable):
    slug, title = "weak-password", "Choose a stronger password"


class EmailTaken(Conflict):
    slug, title = "email-taken", "This e-mail address is already in use"


class AlreadyRegistered(Conflict):
    slug, title = "already-registered", "This client already has a portal account"


class ClientNotFound(NotFound):
    slug, title = "client-not-found", "Client not found"


class ResetTokenInvalid(Gone):
    slug, title = "reset-link-unusable", "This password-reset link can no longer be used"


class ResetThrottled(TooManyRequests):
    slug, title = "password-reset-throttled", "Too many password-reset requests"


class WrongPassword(Unprocessable):
    slug, title = "wrong-password", "The password is not right"
