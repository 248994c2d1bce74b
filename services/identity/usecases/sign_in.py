"""Signing in: the password, the two-factor step, refresh and sign-out, the throttle of failures, and the password
asked again before a change that a stolen access token alone must not make."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.identity.domain import passwords, sign_in, two_factor
from services.identity.domain.errors import (
    AccountNotFound,
    InvalidCredentials,
    InvalidToken,
    LoginThrottled,
    WrongPassword,
)
from services.identity.domain.throttle import ThrottleState, record_failure, seconds_locked, sign_in_keys
from services.identity.domain.tokens import credentials_stamp, opaque_token, token_hash
from services.identity.models import LoginThrottle, RefreshToken, User
from services.identity.usecases.base import UseCase
from shared.db import new_id, unit_of_work, utcnow
from shared.errors import Unauthorized

log = logging.getLogger(__name__)

Keys = list[tuple[str, int]]  # (throttle key, failures allowed in a window), as domain.throttle.sign_in_keys gives


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def credentials(user: User) -> str:
    return credentials_stamp(user_id=user.id, email=user.email, password_changed_at=user.password_changed_at)


def end_session(session: Session, family_id: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                               RefreshToken.revoked_at.is_(None)).values(revoked_at=utcnow()))


def end_all_sessions(session: Session, user_id: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user_id,
                                               RefreshToken.revoked_at.is_(None)).values(revoked_at=utcnow()))


def forget_failures(session: Session, key: str) -> None:
    session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == key))


class SignIn(UseCase):
    # --- the throttle ------------------------------------------------------------------------
    def _keys(self, email: str, address: str | None) -> Keys:
        return sign_in_keys(email, address, account_limit=self.config.account_max_failures,
                            address_limit=self.config.address_max_failures)

    def _check_throttle(self, session: Session, keys: Keys) -> None:
        now = utcnow()
        rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys]))).all()
        wait = max((seconds_locked(ThrottleState(r.failures, r.window_started_at, r.locked_until), now)
                    for r in rows), default=0)
        if wait:
            raise LoginThrottled(f"Too many failed attempts. Try again in {wait} seconds.", retry_after=wait)

    def _record_failure(self, keys: Keys) -> None:
        with unit_of_work(self.sessions) as session:
            now = utcnow()
            for key, limit in keys:
                row = session.get(LoginThrottle, key, with_for_update=True)
                state = ThrottleState(row.failures, row.window_started_at, row.locked_until) if row else None
                state = record_failure(state, now, max_failures=limit, window=self.config.throttle_window,
                                       lockout=self.config.lockout)
                if row is None:
                    try:
                        with session.begin_nested():
                            session.add(LoginThrottle(key=key, failures=state.failures,
                                                      window_started_at=state.window_started_at,
                                                      locked_until=state.locked_until))
                    except IntegrityError:  # a concurrent failure created it first: count on that row
                        row = session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
                        row.failures += 1
                    continue
                row.failures, row.window_started_at, row.locked_until = (
                    state.failures, state.window_started_at, state.locked_until)

    # --- signing in --------------------------------------------------------------------------
    def login(self, email: str, password: str, address: str | None) -> Tokens | dict:
        email = email.strip().lower()
        keys = self._keys(email, address)
        with self.reads() as session:
            self._check_throttle(session, keys)
            found = session.execute(select(User.id, User.password_hash, User.is_active)
                                    .where(User.email == email)).first()
        # argon2 takes ~30 ms of CPU: verified with no database connection held
        ok = passwords.verify_password(found.password_hash if found else None, password)
        if ok and found.is_active:
            with unit_of_work(self.sessions) as session:
                # Locked and read again (domain.sign_in.after_password says why); a rehash must never write the
                # old password back over a new one.
                user = session.get(User, found.id, with_for_update=True, populate_existing=True)
                step = sign_in.after_password(checked_hash=found.password_hash, current_hash=user.password_hash,
                                              active=user.is_active, mfa_enabled=user.mfa_enabled)
                if step == sign_in.REFUSED:
                    raise InvalidCredentials("E-mail or password is not right.")
                if passwords.needs_rehash(user.password_hash):
                    user.password_hash = passwords.hash_password(password)
                forget_failures(session, keys[0][0])
                if step == sign_in.MFA:
                    return {"mfa_required": True,
                            "mfa_token": self.signer.mfa_token(user_id=user.id, role=user.role,
                                                               ttl=self.config.mfa_token_ttl,
                                                               credentials=credentials(user))}
                return self.issue(session, user)
        self._record_failure(keys)
        raise InvalidCredentials("E-mail or password is not right.")

    def complete_mfa(self, mfa_token: str, code: str, address: str | None) -> Tokens:
        try:
            claims = self.verifier.verify(mfa_token, purpose="mfa")
        except Unauthorized as exc:
            raise InvalidToken("The sign-in step has expired; sign in again.") from exc
        with unit_of_work(self.sessions) as session:
            user = session.get(User, claims["sub"], with_for_update=True)
            if user is None or not sign_in.mfa_step_stands(active=user.is_active, mfa_enabled=user.mfa_enabled,
                                                           claimed=str(claims.get("crd", "")),
                                                           current=credentials(user)):
                raise InvalidToken("The sign-in step has expired; sign in again.")
            keys = self._keys(user.email, address)
            self._check_throttle(session, keys)
            step = self.accepted_step(user, code)
            if step is not None:
                user.mfa_last_step = step
                return self.issue(session, user)
        self._record_failure(keys)
        raise InvalidCredentials("The code is not right.")

    def accepted_step(self, user: User, code: str) -> int | None:
        """The time step `code` is right for with the user's authenticator, or None (domain.two_factor)."""
        secret = self.fernet.decrypt(user.mfa_secret_encrypted.encode()).decode()
        return two_factor.accepted_step(secret, code, now=utcnow(), last_step=user.mfa_last_step)

    # --- sessions ----------------------------------------------------------------------------
    def issue(self, session: Session, user: User, family_id: str | None = None) -> Tokens:
        """A new session (refresh-token family), or the next pair of `family_id`'s; the access token names it."""
        refresh = opaque_token()
        family_id = family_id or new_id()
        session.add(RefreshToken(user_id=user.id, family_id=family_id, token_hash=token_hash(refresh),
                                 expires_at=utcnow() + timedelta(seconds=self.config.refresh_token_ttl)))
        access = self.signer.access_token(user_id=user.id, role=user.role, client_id=user.client_id,
                                          ttl=self.config.access_token_ttl, session_id=family_id)
        return Tokens(access_token=access, refresh_token=refresh, expires_in=self.config.access_token_ttl, user=user)

    def refresh(self, refresh_token: str) -> Tokens:
        with unit_of_work(self.sessions) as session:
            row = session.scalars(select(RefreshToken).where(RefreshToken.token_hash == token_hash(refresh_token))
                                  .with_for_update()).first()
            state = sign_in.REFUSED if row is None else sign_in.refresh_token_state(
                revoked_at=row.revoked_at, expires_at=row.expires_at, rotated_at=row.rotated_at, now=utcnow())
            if state == sign_in.REFUSED:
                raise InvalidToken("Sign in again.")
            if state == "reused":
                end_session(session, row.family_id)
                session.commit()
                log.warning("refresh token reuse; family revoked", extra={"fields": {"user_id": row.user_id}})
                raise InvalidToken("Sign in again.")
            ended = session.scalar(select(RefreshToken.id).where(RefreshToken.family_id == row.family_id,
                                                                 RefreshToken.revoked_at.is_not(None)).limit(1))
            user = session.get(User, row.user_id)
            if not sign_in.may_rotate(session_ended=ended is not None, user_active=user is not None and user.is_active):
                raise InvalidToken("Sign in again.")
            row.rotated_at = utcnow()
            return self.issue(session, user, family_id=row.family_id)

    def logout(self, refresh_token: str) -> None:
        with unit_of_work(self.sessions) as session:
            row = session.scalars(select(RefreshToken)
                                  .where(RefreshToken.token_hash == token_hash(refresh_token))).first()
            if row is not None:
                end_session(session, row.family_id)

    def revoked_sessions(self) -> dict:
        """The sessions ended within an access token's lifetime (and a minute): the tokens of older ones have
        expired anyway. One index-only scan (ix_refresh_tokens_revoked)."""
        window = self.config.access_token_ttl + 60
        since = utcnow() - timedelta(seconds=window)
        with self.reads() as session:
            rows = session.execute(select(RefreshToken.family_id, func.max(RefreshToken.revoked_at))
                                   .where(RefreshToken.revoked_at > since)
                                   .group_by(RefreshToken.family_id)).all()
        return {"sessions": [{"sid": family, "revoked_at": ended.timestamp()} for family, ended in rows],
                "window_seconds": window}

    # --- the password asked again ------------------------------------------------------------
    # Two-factor changes and a new sign-in e-mail ask for the password again (a stolen access token alone must bind
    # no authenticator, remove none, and move no account to a thief's address), counted with the account's sign-in
    # failures; each ends every session of the user and answers a new one for the caller, who has just shown what
    # a sign-in asks.
    def reauthenticate(self, user_id: str, password: str, address: str | None) -> Keys:
        with self.reads() as session:
            found = session.execute(select(User.email, User.password_hash).where(User.id == user_id)).first()
            if found is None:
                raise AccountNotFound("Account not found.")
            keys = self._keys(found.email, address)
            self._check_throttle(session, keys)
        # argon2 takes ~30 ms of CPU: verified with no database connection held
        if not passwords.verify_password(found.password_hash, password):
            self._record_failure(keys)
            raise WrongPassword("The password is not right.", errors={"password": ["Does not match."]})
        return keys

    def fresh_session(self, session: Session, user: User, keys: Keys) -> Tokens:
        end_all_sessions(session, user.id)
        forget_failures(session, keys[0][0])
        return self.issue(session, user)
