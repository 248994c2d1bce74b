"""How identity's domain errors answer over HTTP: one table, read by create_app (shared.errors.install_error_handlers).

The domain raises its own exceptions, which know nothing of HTTP; each maps here to its status, slug and title.
The error's message is the detail; its `errors`, `headers` and `extra` reach the answer as they are. Errors with a
problem type of their own have their own slug; the others answer as the generic problem of their status
(validation-error, forbidden, not-found, conflict), as they did when they were raised as those."""

from __future__ import annotations

from services.identity.domain import errors as e
from shared.errors import CONFLICT, FORBIDDEN, INVALID, NOT_FOUND, Mapped

ERROR_MAP: dict[type[Exception], Mapped] = {
    # sign-in, sessions, passwords
    e.InvalidCredentials: Mapped(401, "invalid-credentials", "E-mail or password is not right"),
    e.InvalidToken: Mapped(401, "invalid-token", "This token is not valid"),
    e.LoginThrottled: Mapped(429, "login-throttled", "Too many failed sign-in attempts"),
    e.ResetThrottled: Mapped(429, "password-reset-throttled", "Too many password-reset requests"),
    e.ResetTokenInvalid: Mapped(410, "reset-link-unusable", "This password-reset link can no longer be used"),
    e.WeakPassword: Mapped(422, "weak-password", "Choose a stronger password"),
    e.WrongPassword: Mapped(422, "wrong-password", "The password is not right"),
    e.PasswordRequired: INVALID,
    e.WrongCode: INVALID,
    e.TwoFactorStateConflict: CONFLICT,
    # accounts
    e.AccountNotFound: NOT_FOUND,
    e.OwnAccountDeactivation: CONFLICT,
    e.EmailTaken: Mapped(409, "email-taken", "This e-mail address is already in use"),
    # clients, invitations, registration
    e.ClientNotFound: Mapped(404, "client-not-found", "Client not found"),
    e.EmailRequired: INVALID,
    e.AlreadyRegistered: Mapped(409, "already-registered", "This client already has a portal account"),
    e.InvitationNotFound: Mapped(404, "registration-link-unknown", "This registration link is not valid"),
    e.InvitationUnusable: Mapped(410, "registration-link-unusable", "This registration link can no longer be used"),
    e.IdentityMismatch: Mapped(422, "identity-mismatch", "Last name or date of birth do not match our records"),
    # My Information and its review
    e.PracticeOwnedFields: FORBIDDEN,
    e.ProfileChangeNotFound: NOT_FOUND,
    e.AlreadyReviewed: CONFLICT,
}
