"""A forgotten password: the reset link by mail (the same work whether or not the account exists), the throttle of
requests, and the new password from the link."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.identity.domain import passwords
from services.identity.domain.errors import ResetThrottled, ResetTokenInvalid
from services.identity.domain.throttle import ThrottleState, account_key, address_key, record_failure, seconds_locked
from services.identity.domain.tokens import opaque_token, token_hash
from services.identity.mail_outbox import mail_row
from services.identity.models import LoginThrottle, MailOutbox, PasswordReset, PracticeSettings, User
from services.identity.usecases.base import UseCase
from services.identity.usecases.practice import Practice
from services.identity.usecases.sign_in import end_all_sessions, forget_failures
from shared.db import UTCDateTime, new_id, unit_of_work, utcnow

_mails = MailOutbox.__table__
_resets = PasswordReset.__table__
_MAIL_COLUMNS = ("id", "template", "recipient", "context_encrypted", "status", "attempts", "expires_at")
# A password reset's two rows in one statement, built once: the reset and its mail are inserted when :user_id is
# an active account's id and not NULL (unknown address, or the account's mails spent). Both paths run this very
# statement, and only the rows differ: no timing tells whether an account exists.
_reset_row = (insert(_resets).from_select(
    ["id", "user_id", "token_hash", "expires_at"],
    select(bindparam("reset_id", type_=String), bindparam("user_id", type_=String),
           bindparam("token_hash", type_=String), bindparam("expires_at", type_=UTCDateTime))
    .where(bindparam("user_id", type_=String).is_not(None)))
    .returning(_resets.c.id).cte("reset"))
RESET_AND_MAIL = (insert(_mails).from_select(
    list(_MAIL_COLUMNS), select(*(bindparam(f"mail_{name}", type_=_mails.c[name].type) for name in _MAIL_COLUMNS))
    .select_from(_reset_row))
    .returning(_mails.c.id))


class PasswordResets(UseCase):
    def __init__(self, deps, *, practice: Practice):
        super().__init__(deps)
        self.practice = practice

    def request_password_reset(self, email: str, address: str | None) -> None:
        """A reset link by mail, if an active account uses `email`; the answer and the work are the same either way.

        Each request counts against the client address (too many: 429) and against the e-mail address (too many:
        no more mail this window, the same answer). Known or not, the request runs the same statements (the
        counters, one read, the one insert of `RESET_AND_MAIL`) and encrypts a mail: only whether rows are
        inserted differs, never the work."""
        email = email.strip().lower()
        token = opaque_token()
        now = utcnow()
        expires_at = now + timedelta(seconds=self.config.password_reset_ttl)
        with unit_of_work(self.sessions) as session:
            may_mail = self._count_reset_request(session, email, address, now)
            found = session.execute(select(
                select(User.id).where(User.email == email, User.is_active.is_(True)).scalar_subquery(),
                select(User.mfa_enabled).where(User.email == email, User.is_active.is_(True)).scalar_subquery(),
                select(PracticeSettings.practice_name).where(PracticeSettings.id == 1).scalar_subquery())).one()
            user_id, mfa_enabled, practice = found
            context = {"practice_name": practice or self.config.practice_name, "mfa_enabled": bool(mfa_enabled),
                       "reset_url": f"{self.config.portal_base_url}/reset-password?token={token}",
                       "minutes": self.config.password_reset_ttl // 60}
            mail = mail_row(self.fernet, to=email, template="password_reset", context=context, expires_at=expires_at)
            written = session.execute(RESET_AND_MAIL, {
                "reset_id": new_id(), "user_id": user_id if may_mail else None, "token_hash": token_hash(token),
                "expires_at": expires_at, **{f"mail_{name}": mail[name] for name in _MAIL_COLUMNS}}).first()
        if written is not None:
            self._told(email, "password_reset", context)

    def _count_reset_request(self, session: Session, email: str, address: str | None, now: datetime) -> bool:
        """Counts the request per client address (locked: ResetThrottled) and per e-mail address; answers whether
        the e-mail address may get another mail. Counted under row locks: a burst of concurrent requests counts
        every one of them."""
        config = self.config
        limits = {f"reset-account:{email}": (config.reset_account_max_mails, config.reset_account_window)}
        address = address_key(address) if address else None
        if address:
            limits[f"reset-address:{address}"] = (config.reset_address_max_requests, config.reset_address_window)
        session.execute(pg_insert(LoginThrottle).values([{"key": key, "failures": 0, "window_started_at": now}
                                                         for key in limits]).on_conflict_do_nothing())
        rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(list(limits)))
                               .order_by(LoginThrottle.key).with_for_update()).all()
        waits = {}
        for row in rows:
            most, window = limits[row.key]
            state = ThrottleState(row.failures, row.window_started_at, row.locked_until)
            waits[row.key] = seconds_locked(state, now)
            if not waits[row.key]:  # a lock runs out on time: requests while locked do not extend it
                state = record_failure(state, now, max_failures=most, window=window, lockout=window)
                row.failures, row.window_started_at, row.locked_until = (
                    state.failures, state.window_started_at, state.locked_until)
        wait = waits.get(f"reset-address:{address}", 0)
        if wait:
            raise ResetThrottled(f"Too many password-reset requests. Try again in {wait} seconds.", retry_after=wait)
        return not waits[f"reset-account:{email}"]

    def confirm_password_reset(self, token: str, password: str) -> dict:
        """Sets the new password and ends every session; two-factor stays as it was (the answer says which)."""
        with unit_of_work(self.sessions) as session:
            reset = session.scalars(select(PasswordReset).where(PasswordReset.token_hash == token_hash(token))
                                    .with_for_update()).first()
            if reset is None or reset.used_at is not None or reset.expires_at <= utcnow():
                raise ResetTokenInvalid("This link has expired or was used. Ask for a new one.")
            user = session.get(User, reset.user_id)
            passwords.ensure_strong(password, passwords.user_inputs(self.practice.name(session), user))
            user.password_hash = passwords.hash_password(password)
            user.password_changed_at = utcnow()
            reset.used_at = utcnow()
            session.execute(update(PasswordReset).where(PasswordReset.user_id == user.id,
                                                        PasswordReset.used_at.is_(None))
                            .values(used_at=utcnow()))
            # A new password ends every session, and unlocks a throttled account.
            end_all_sessions(session, user.id)
            forget_failures(session, account_key(user.email))
            return {"mfa_enabled": bool(user.mfa_enabled)}
