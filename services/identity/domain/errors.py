"""Identity's domain errors: what went wrong, in the practice's words. They know nothing of HTTP; each answers as
the status and problem type the table in services/identity/api/errors.py gives it (ERROR_MAP)."""

from __future__ import annotations

from shared.domain import DomainError


class IdentityError(DomainError):
    """The message is the sentence for the person (the problem's detail). `errors` (field -> messages) and `extra`
    (more members of the problem body) go into the answer as they are; so do `headers`, which only the refusals of
    a sign-in (WWW-Authenticate) and the throttles (Retry-After) carry, since the error table maps types alone."""


class SignInRefused(IdentityError):
    """The credentials or the token do not stand: the caller may try again with a bearer token (RFC 6750)."""

    def __init__(self, detail: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class Throttled(IdentityError):
    """Too many attempts in a window: `retry_after` seconds (at least one) until the lock runs out."""

    def __init__(self, detail: str | None = None, *, retry_after: int, **kwargs):
        self.retry_after = max(1, int(retry_after))
        kwargs.setdefault("headers", {"Retry-After": str(self.retry_after)})
        kwargs.setdefault("extra", {"retry_after": self.retry_after})
        super().__init__(detail, **kwargs)


# --- sign-in, sessions, passwords ---------------------------------------------------------------
class InvalidCredentials(SignInRefused):
    """The e-mail, the password or the two-factor code is not right."""


class InvalidToken(SignInRefused):
    """A refresh token or a sign-in step that no longer stands: sign in again."""


class LoginThrottled(Throttled):
    """Too many failed sign-ins for the account or from the address."""


class ResetThrottled(Throttled):
    """Too many password-reset requests from the address."""


class ResetTokenInvalid(IdentityError):
    """The reset link expired, was used, or never existed."""


class WeakPassword(IdentityError):
    """The password is too short, too long or too easy to guess."""


class WrongPassword(IdentityError):
    """The password asked again (to change two-factor or the sign-in e-mail) is not right."""


class PasswordRequired(IdentityError):
    """A change that moves the sign-in e-mail asks for the current password."""


class WrongCode(IdentityError):
    """The first code of a two-factor set-up does not match."""


class TwoFactorStateConflict(IdentityError):
    """The two-factor step does not fit the account's state (already on, or no set-up started)."""


# --- accounts -----------------------------------------------------------------------------------
class AccountNotFound(IdentityError):
    """No account (or no staff account) with this id."""


class OwnAccountDeactivation(IdentityError):
    """An administrator cannot take away their own access (another one can)."""


class EmailTaken(IdentityError):
    """Another client or account uses this e-mail address."""


# --- clients, invitations, registration ---------------------------------------------------------
class ClientNotFound(IdentityError):
    """No client record with this id."""


class EmailRequired(IdentityError):
    """The client needs an e-mail address for this (an invitation, or signing in once registered)."""


class AlreadyRegistered(IdentityError):
    """The client already has a portal account."""


class InvitationNotFound(IdentityError):
    """No registration link with this token."""


class InvitationUnusable(IdentityError):
    """The registration link was used, revoked, locked by misses, or expired (`extra["reason"]` says which)."""


class IdentityMismatch(IdentityError):
    """The last name or the date of birth typed does not match the client's record."""


# --- My Information and its review --------------------------------------------------------------
class PracticeOwnedFields(IdentityError):
    """A client tried to change what only the practice changes (names, date of birth)."""


class ProfileChangeNotFound(IdentityError):
    """No profile change with this id."""


class AlreadyReviewed(IdentityError):
    """The profile change was already accepted or reverted."""
