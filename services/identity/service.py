"""Identity's use cases: each opens a unit of work, loads, applies the domain rules, writes the outbox, commits."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyotp
from cryptography.fernet import Fernet
from sqlalchemy import String, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.identity.domain import passwords, profile
from services.identity.domain.errors import (
    AlreadyRegistered,
    ClientNotFound,
    EmailTaken,
    InvalidCredentials,
    InvalidToken,
    InvitationNotFound,
    LoginThrottled,
    ResetThrottled,
    ResetTokenInvalid,
    WeakPassword,
    WrongPassword,
)
from services.identity.domain.registration import ensure_usable, identity_matches, invitation_state, mismatch
from services.identity.domain.throttle import ThrottleState, address_key, record_failure, seconds_locked
from services.identity.domain.tokens import Signer, credentials_stamp, opaque_token, token_hash
from services.identity.mail_outbox import mail_row
from services.identity.models import (
    Client,
    Invitation,
    LoginThrottle,
    MailOutbox,
    PasswordReset,
    PracticeSettings,
    ProfileChange,
    RefreshToken,
    User,
    outbox,
)
from shared.auth import Principal, TokenVerifier
from shared.db import UTCDateTime, new_id, unit_of_work, utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from shared.events import make_event, record_event
from shared.pagination import paginate

log = logging.getLogger(__name__)

SETTINGS_FIELDS = ("practice_name", "self_scheduling_enabled", "online_payments_enabled",
                   "billing_documents_enabled", "autopay_enabled", "currency", "timezone", "phone", "email",
                   "address")
CLIENT_FIELDS = ("first_name", "last_name", "preferred_name", "date_of_birth", "email", "phone", "address",
                 "emergency_contact", "insurance")

Mail = Callable[[str, str, dict], None]  # (to, template, context): told after the commit of each mail written

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


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def client_dict(client: Client) -> dict:
    data = {name: getattr(client, name) for name in CLIENT_FIELDS}
    for name in profile.NESTED:
        data[name] = dict(data[name] or {})
    return data


def directory_entry(client: Client) -> dict:
    """What other services keep of a client (names for lists, PDFs and e-mails)."""
    return {"client_id": client.id, "first_name": client.first_name, "last_name": client.last_name,
            "preferred_name": client.preferred_name, "email": client.email,
            "date_of_birth": client.date_of_birth.isoformat()}


class IdentityService:
    def __init__(self, *, config, sessions: sessionmaker[Session], signer: Signer, verifier: TokenVerifier,
                 fernet: Fernet, mail: Mail | None = None, reads: sessionmaker[Session] | None = None):
        self.config = config
        self.sessions = sessions
        self.reads = reads or sessions  # autocommit sessions for single-statement reads
        self.signer = signer
        self.verifier = verifier
        self.fernet = fernet
        self.mail = mail  # told of each mail after its commit (tests); the mail itself leaves by the outbox

    def _write_mail(self, session: Session, to: str, template: str, context: dict, expires_at: datetime) -> None:
        """The mail goes in the caller's transaction: sent if and only if that transaction commits."""
        session.execute(insert(_mails), mail_row(self.fernet, to=to, template=template, context=context,
                                                 expires_at=expires_at))

    def _told(self, to: str, template: str, context: dict) -> None:
        if self.mail is not None:
            self.mail(to, template, context)

    def _publish(self, session: Session, event_type: str, payload: dict) -> None:
        record_event(session, outbox, make_event(event_type, payload, producer="identity"))

    # --- settings ----------------------------------------------------------------------------
    def _settings(self, session: Session, *, lock: bool = False) -> PracticeSettings:
        stmt = select(PracticeSettings).where(PracticeSettings.id == 1)
        settings = session.scalars(stmt.with_for_update() if lock else stmt).first()
        if settings is None:
            settings = PracticeSettings(id=1, practice_name=self.config.practice_name, address={},
                                        self_scheduling_enabled=False, online_payments_enabled=False,
                                        billing_documents_enabled=True, autopay_enabled=False, currency="USD",
                                        timezone="America/New_York")
            session.add(settings)
            session.flush()
            # Other services keep a copy: they learn the first values as they learn every change.
            self._publish(session, "practice.settings_changed",
                          {"settings": {n: getattr(settings, n) for n in SETTINGS_FIELDS}, "changed_fields": []})
        return settings

    def get_settings(self) -> dict:
        with unit_of_work(self.sessions) as session:
            settings = self._settings(session)
            return {name: getattr(settings, name) for name in SETTINGS_FIELDS}

    def current_settings(self) -> dict:
        """The settings at this moment in one autocommit read (no transaction): what payments and billing ask
        before each decision a switch controls, so it runs once per payment."""
        with self.reads() as session:
            settings = session.get(PracticeSettings, 1)
            if settings is not None:
                return {name: getattr(settings, name) for name in SETTINGS_FIELDS}
        return self.get_settings()  # the very first read makes the row

    def update_settings(self, changes: dict) -> dict:
        with unit_of_work(self.sessions) as session:
            settings = self._settings(session, lock=True)
            for name, value in changes.items():
                setattr(settings, name, dict(value) if name == "address" else value)
            session.flush()
            result = {name: getattr(settings, name) for name in SETTINGS_FIELDS}
            if changes:
                self._publish(session, "practice.settings_changed",
                              {"settings": result, "changed_fields": sorted(changes)})
            return result

    # --- sign-in -----------------------------------------------------------------------------
    def _throttle_keys(self, email: str, address: str | None) -> list[tuple[str, int]]:
        keys = [(f"account:{email}", self.config.account_max_failures)]
        if address:
            keys.append((f"address:{address_key(address)}", self.config.address_max_failures))
        return keys

    def _check_throttle(self, session: Session, keys: list[tuple[str, int]]) -> None:
        now = utcnow()
        rows = session.scalars(select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys]))).all()
        wait = max((seconds_locked(ThrottleState(r.failures, r.window_started_at, r.locked_until), now)
                    for r in rows), default=0)
        if wait:
            raise LoginThrottled(f"Too many failed attempts. Try again in {wait} seconds.", retry_after=wait)

    def _record_failure(self, keys: list[tuple[str, int]]) -> None:
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

    def login(self, email: str, password: str, address: str | None) -> Tokens | dict:
        email = email.strip().lower()
        keys = self._throttle_keys(email, address)
        with self.reads() as session:
            self._check_throttle(session, keys)
            found = session.execute(select(User.id, User.password_hash, User.is_active)
                                    .where(User.email == email)).first()
        # argon2 takes ~30 ms of CPU: verified with no database connection held
        ok = passwords.verify_password(found.password_hash if found else None, password)
        if ok and found.is_active:
            with unit_of_work(self.sessions) as session:
                # Locked and read again: a reset or a deactivation that committed while the password was being
                # checked must win (its end of every session cannot cover one started after it), and a rehash
                # must never write the old password back over a new one.
                user = session.get(User, found.id, with_for_update=True, populate_existing=True)
                if user.password_hash != found.password_hash or not user.is_active:
                    raise InvalidCredentials("E-mail or password is not right.")
                if passwords.needs_rehash(user.password_hash):
                    user.password_hash = passwords.hash_password(password)
                session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == keys[0][0]))
                if user.mfa_enabled:
                    return {"mfa_required": True,
                            "mfa_token": self.signer.mfa_token(user_id=user.id, role=user.role,
                                                               ttl=self.config.mfa_token_ttl,
                                                               credentials=_credentials(user))}
                return self._issue(session, user)
        self._record_failure(keys)
        raise InvalidCredentials("E-mail or password is not right.")

    def complete_mfa(self, mfa_token: str, code: str, address: str | None) -> Tokens:
        try:
            claims = self.verifier.verify(mfa_token, purpose="mfa")
        except Unauthorized as exc:
            raise InvalidToken("The sign-in step has expired; sign in again.") from exc
        with unit_of_work(self.sessions) as session:
            user = session.get(User, claims["sub"], with_for_update=True)
            # Deactivated, two-factor off, or the password (or sign-in e-mail) changed since the first step: that
            # step no longer stands for anything the account would accept now.
            if (user is None or not user.is_active or not user.mfa_enabled
                    or not hmac.compare_digest(str(claims.get("crd", "")), _credentials(user))):
                raise InvalidToken("The sign-in step has expired; sign in again.")
            keys = self._throttle_keys(user.email, address)
            self._check_throttle(session, keys)
            step = self._verify_totp(user, code)
            if step is not None:
                user.mfa_last_step = step
                return self._issue(session, user)
        self._record_failure(keys)
        raise InvalidCredentials("The code is not right.")

    def _verify_totp(self, user: User, code: str) -> int | None:
        """The accepted time step, or None; a step already used is refused (no replay)."""
        totp = pyotp.TOTP(self.fernet.decrypt(user.mfa_secret_encrypted.encode()).decode())
        now = utcnow()
        for offset in (0, -1, 1):
            moment = now + timedelta(seconds=30 * offset)
            step = totp.timecode(moment)
            if totp.verify(code, for_time=moment) and (user.mfa_last_step is None or step > user.mfa_last_step):
                return step
        return None

    def _issue(self, session: Session, user: User, family_id: str | None = None) -> Tokens:
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
            if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
                raise InvalidToken("Sign in again.")
            if row.rotated_at is not None:
                # A rotated token came back: someone holds a stolen copy. End the whole family.
                self._end_session(session, row.family_id)
                session.commit()
                log.warning("refresh token reuse; family revoked", extra={"fields": {"user_id": row.user_id}})
                raise InvalidToken("Sign in again.")
            # A session ended (any of its rows revoked) stays ended: an end that committed while an earlier refresh
            # held its row revoked the rows its statement saw, not the one that refresh then inserted.
            ended = session.scalar(select(RefreshToken.id).where(RefreshToken.family_id == row.family_id,
                                                                 RefreshToken.revoked_at.is_not(None)).limit(1))
            user = session.get(User, row.user_id)
            if ended is not None or user is None or not user.is_active:
                raise InvalidToken("Sign in again.")
            row.rotated_at = utcnow()
            return self._issue(session, user, family_id=row.family_id)

    def logout(self, refresh_token: str) -> None:
        with unit_of_work(self.sessions) as session:
            row = session.scalars(select(RefreshToken)
                                  .where(RefreshToken.token_hash == token_hash(refresh_token))).first()
            if row is not None:
                self._end_session(session, row.family_id)

    # --- ended sessions ----------------------------------------------------------------------
    @staticmethod
    def _end_session(session: Session, family_id: str) -> None:
        session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id,
                                                   RefreshToken.revoked_at.is_(None)).values(revoked_at=utcnow()))

    @staticmethod
    def _end_all_sessions(session: Session, user_id: str) -> None:
        session.execute(update(RefreshToken).where(RefreshToken.user_id == user_id,
                                                   RefreshToken.revoked_at.is_(None)).values(revoked_at=utcnow()))

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

    # --- password reset ----------------------------------------------------------------------
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
            self._check_password(password, self._user_inputs(session, user))
            user.password_hash = passwords.hash_password(password)
            user.password_changed_at = utcnow()
            reset.used_at = utcnow()
            session.execute(update(PasswordReset).where(PasswordReset.user_id == user.id,
                                                        PasswordReset.used_at.is_(None))
                            .values(used_at=utcnow()))
            # A new password ends every session, and unlocks a throttled account.
            self._end_all_sessions(session, user.id)
            session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == f"account:{user.email}"))
            return {"mfa_enabled": bool(user.mfa_enabled)}

    def _user_inputs(self, session: Session, user: User | None, client: Client | None = None) -> list[str]:
        inputs = [self._settings(session).practice_name]
        for who in (user, client):
            if who is not None:
                inputs += [who.email or "", (who.email or "").split("@")[0], who.first_name or "",
                           who.last_name or ""]
        return inputs

    @staticmethod
    def _check_password(password: str, user_inputs: list[str]) -> None:
        found = passwords.problems(password, user_inputs)
        if found:
            raise WeakPassword(found[0], errors={"password": found})

    # --- staff users and MFA -----------------------------------------------------------------
    def create_staff_user(self, data: dict) -> User:
        email = data["email"].strip().lower()
        with unit_of_work(self.sessions) as session:
            self._check_password(data["password"], self._user_inputs(session, None) +
                                 [email, data["first_name"], data["last_name"]])
            if session.scalars(select(User.id).where(User.email == email)).first():
                raise EmailTaken("Another account uses this e-mail address.")
            user = User(email=email, password_hash=passwords.hash_password(data["password"]), role=data["role"],
                        first_name=data["first_name"], last_name=data["last_name"])
            session.add(user)
            session.flush()
            return user

    def list_staff_users(self) -> list[User]:
        with unit_of_work(self.sessions) as session:
            return list(session.scalars(select(User).where(User.role.in_(("staff", "admin")))
                                        .order_by(User.last_name, User.first_name, User.id)))

    def get_user(self, user_id: str) -> User:
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id)
            if user is None:
                raise NotFound("Account not found.")
            return user

    def ensure_admin(self, email: str, password: str) -> bool:
        """Creates the first admin unless a user has that e-mail; answers whether it did."""
        email = email.strip().lower()
        with unit_of_work(self.sessions) as session:
            self._settings(session)
            if session.scalars(select(User.id).where(User.email == email)).first():
                return False
            session.add(User(email=email, password_hash=passwords.hash_password(password), role="admin",
                             first_name="Practice", last_name="Administrator"))
            return True

    # Two-factor changes ask for the password again (a stolen access token alone must bind no authenticator and
    # remove none), counted with the account's sign-in failures; each ends every session of the user and answers
    # a new one for the caller, who has just shown what a sign-in asks.
    def _reauthenticate(self, user_id: str, password: str, address: str | None) -> list[tuple[str, int]]:
        with self.reads() as session:
            found = session.execute(select(User.email, User.password_hash).where(User.id == user_id)).first()
            if found is None:
                raise NotFound("Account not found.")
            keys = self._throttle_keys(found.email, address)
            self._check_throttle(session, keys)
        # argon2 takes ~30 ms of CPU: verified with no database connection held
        if not passwords.verify_password(found.password_hash, password):
            self._record_failure(keys)
            raise WrongPassword("The password is not right.", errors={"password": ["Does not match."]})
        return keys

    def _fresh_session(self, session: Session, user: User, keys: list[tuple[str, int]]) -> Tokens:
        self._end_all_sessions(session, user.id)
        session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == keys[0][0]))
        return self._issue(session, user)

    def mfa_setup(self, user_id: str, password: str, address: str | None) -> dict:
        keys = self._reauthenticate(user_id, password, address)
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            if user.mfa_enabled:
                raise Conflict("Two-factor sign-in is already on; turn it off first to change the device.")
            secret = pyotp.random_base32()
            user.mfa_secret_encrypted = self.fernet.encrypt(secret.encode()).decode()
            user.mfa_last_step = None
            practice = self._settings(session).practice_name
            uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=practice)
            return {"secret": secret, "otpauth_uri": uri, "tokens": self._fresh_session(session, user, keys)}

    def mfa_enable(self, user_id: str, code: str, password: str, address: str | None) -> Tokens:
        keys = self._reauthenticate(user_id, password, address)
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            if user.mfa_secret_encrypted is None:
                raise Conflict("Start the set-up first.")
            if user.mfa_enabled:
                raise Conflict("Two-factor sign-in is already on.")
            step = self._verify_totp(user, code)
            if step is None:
                raise Unprocessable("The code is not right.", errors={"code": ["Does not match."]})
            user.mfa_last_step = step
            user.mfa_enabled = True
            return self._fresh_session(session, user, keys)

    def mfa_disable(self, user_id: str, password: str, address: str | None) -> Tokens:
        keys = self._reauthenticate(user_id, password, address)
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            user.mfa_enabled = False
            user.mfa_secret_encrypted = None
            user.mfa_last_step = None
            return self._fresh_session(session, user, keys)

    def set_staff_active(self, user_id: str, active: bool, admin: Principal) -> User:
        """An admin takes a staff user's access away (every session ends at once) or gives it back."""
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            if user is None or user.role not in ("staff", "admin"):
                raise NotFound("No staff user with this id.")
            if user.id == admin.user_id and not active:
                raise Conflict("You cannot deactivate your own account; another administrator can.")
            user.is_active = active
            if not active:
                self._end_all_sessions(session, user.id)
            session.flush()
            return user

    # --- client records ----------------------------------------------------------------------
    def _email_in_use(self, session: Session, email: str, *, except_client: str | None = None) -> bool:
        client_q = select(Client.id).where(func.lower(Client.email) == email)
        if except_client:
            client_q = client_q.where(Client.id != except_client)
        user_q = select(User.id).where(User.email == email)
        if except_client:
            user_q = user_q.where(or_(User.client_id.is_(None), User.client_id != except_client))
        return bool(session.scalars(client_q).first() or session.scalars(user_q).first())

    def create_client(self, data: dict, staff: Principal) -> dict:
        with unit_of_work(self.sessions) as session:
            if data.get("email"):
                data["email"] = data["email"].strip().lower()
                if self._email_in_use(session, data["email"]):
                    raise EmailTaken("Another client or account uses this e-mail address.")
            client = Client(created_by=staff.user_id, **{k: v for k, v in data.items() if k in CLIENT_FIELDS})
            for name in profile.NESTED:
                setattr(client, name, dict(data.get(name) or {}))
            session.add(client)
            session.flush()
            self._publish(session, "client.created", directory_entry(client))
            return self._client_view(session, client)

    def _client_view(self, session: Session, client: Client) -> dict:
        data = client_dict(client)
        data.update(id=client.id, created_at=client.created_at, updated_at=client.updated_at)
        user = session.scalars(select(User).where(User.client_id == client.id)).first()
        invitation = session.scalars(select(Invitation).where(Invitation.client_id == client.id)
                                     .order_by(Invitation.created_at.desc())).first()
        if user is not None:
            data["portal_status"] = "registered"
        elif invitation is not None and invitation_state(
                expires_at=invitation.expires_at, used_at=invitation.used_at, revoked_at=invitation.revoked_at,
                failed_attempts=invitation.failed_attempts, max_misses=self.config.invitation_max_misses,
                now=utcnow()) == "valid":
            data["portal_status"] = "invited"
        else:
            data["portal_status"] = "not_invited"
        return data

    def search_clients(self, q: str | None, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        with unit_of_work(self.sessions) as session:
            stmt = select(Client)
            if q:
                like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                full = func.concat(Client.first_name, " ", Client.last_name)
                stmt = stmt.where(or_(Client.first_name.ilike(like), Client.last_name.ilike(like),
                                      Client.preferred_name.ilike(like), Client.email.ilike(like),
                                      Client.phone.ilike(like), full.ilike(like)))
            rows, next_cursor = paginate(session, stmt, [Client.last_name, Client.first_name, Client.id],
                                         [str, str, str], limit=limit, cursor=cursor)
            return [self._client_view(session, c) for c in rows], next_cursor

    def get_client(self, client_id: str) -> dict:
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, client_id)
            if client is None:
                raise ClientNotFound("No client with this id.")
            return self._client_view(session, client)

    def update_client(self, client_id: str, data: dict, staff: Principal) -> dict:
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, client_id, with_for_update=True)
            if client is None:
                raise ClientNotFound("No client with this id.")
            # Staff may move a client's sign-in e-mail without the client's password (their record, their call);
            # it ends the client's sessions and tells the old address, as a client's own change does.
            told = []
            changes, _ = self._change_client(session, client, data, by="practice", told=told)
            if changes:
                self._publish(session, "profile.updated", {**directory_entry(client), "changed_fields":
                                                           sorted(changes), "by": "staff"})
            view = self._client_view(session, client)
        for mail in told:
            self._told(*mail)
        return view

    def _change_client(self, session: Session, client: Client, data: dict, *, by: str,
                       told: list) -> tuple[dict, User | None]:
        """The changes, and the portal account whose sign-in e-mail they moved (None if none)."""
        if data.get("email"):
            data["email"] = data["email"].strip().lower()
        changes = profile.apply_changes(_jsonable(client_dict(client)), _jsonable(data))
        if "email" in changes and data["email"]:
            if self._email_in_use(session, data["email"], except_client=client.id):
                raise EmailTaken("Another client or account uses this e-mail address.")
        for name in changes:
            value = data[name]
            if name in profile.NESTED:
                value = profile.merged(getattr(client, name), value)
            setattr(client, name, value)
        moved = None
        if "email" in changes:
            user = session.scalars(select(User).where(User.client_id == client.id).with_for_update()).first()
            if user is not None:
                if not client.email:
                    raise Unprocessable("A registered client signs in with e-mail; it cannot be removed.",
                                        errors={"email": ["Required for a registered client."]})
                if self._move_sign_in(session, user, client, by=by, told=told):
                    moved = user
        session.flush()
        return changes, moved

    def _move_sign_in(self, session: Session, user: User, client: Client, *, by: str, told: list) -> bool:
        """The account signs in with the client's new e-mail from now on. Every session of the user ends (whoever
        held one, the new address is what a sign-in asks now) and the old address is told, with nothing of the
        new one (it may be a thief's; the owner reads the old one). `by`: "client" or "practice"."""
        old = user.email
        if old == client.email:
            return False
        user.email = client.email
        self._end_all_sessions(session, user.id)
        now = utcnow()
        context = {"practice_name": self._settings(session).practice_name,
                   "first_name": client.preferred_name or client.first_name, "by": by,
                   "changed_at": now.strftime("%B %d, %Y %H:%M UTC")}
        self._write_mail(session, old, "email_changed", context, now + timedelta(days=7))
        told.append((old, "email_changed", context))
        return True

    def _moves_sign_in(self, client_id: str, data: dict) -> bool:
        """Would `data` change the e-mail the client's portal account signs in with?"""
        if not data.get("email"):
            return False  # unchanged, or removed (refused for an account that signs in with it)
        with self.reads() as session:
            current = session.scalar(select(User.email).where(User.client_id == client_id))
        return current is not None and current != data["email"].strip().lower()

    # --- invitations and registration --------------------------------------------------------
    def invite(self, client_id: str, staff: Principal) -> dict:
        token = opaque_token()
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, client_id, with_for_update=True)
            if client is None:
                raise ClientNotFound("No client with this id.")
            if not client.email:
                raise Unprocessable("Add the client's e-mail address first.", errors={"email": ["Required."]})
            if session.scalars(select(User.id).where(User.client_id == client.id)).first():
                raise AlreadyRegistered("This client has already registered for the portal.")
            now = utcnow()
            session.execute(update(Invitation).where(Invitation.client_id == client.id, Invitation.used_at.is_(None),
                                                     Invitation.revoked_at.is_(None)).values(revoked_at=now))
            expires_at = now + timedelta(seconds=self.config.invitation_ttl)
            session.add(Invitation(client_id=client.id, token_hash=token_hash(token), expires_at=expires_at,
                                   created_by=staff.user_id))
            self._publish(session, "client.invited", {"client_id": client.id, "email": client.email,
                                                      "expires_at": expires_at.isoformat()})
            practice = self._settings(session).practice_name
            url = f"{self.config.portal_base_url}/register?token={token}"
            context = {"practice_name": practice, "first_name": client.preferred_name or client.first_name,
                       "invitation_url": url, "expires_at": expires_at.strftime("%B %d, %Y %H:%M UTC")}
            self._write_mail(session, client.email, "invitation", context, expires_at)
            email = client.email
        self._told(email, "invitation", context)
        return {"invitation_url": url, "expires_at": expires_at}

    def _invitation(self, session: Session, token: str, *, lock: bool = False) -> Invitation:
        stmt = select(Invitation).where(Invitation.token_hash == token_hash(token))
        invitation = session.scalars(stmt.with_for_update() if lock else stmt).first()
        if invitation is None:
            raise InvitationNotFound("This registration link is not valid. Check the link in your e-mail.")
        return invitation

    def _state(self, invitation: Invitation) -> str:
        return invitation_state(expires_at=invitation.expires_at, used_at=invitation.used_at,
                                revoked_at=invitation.revoked_at, failed_attempts=invitation.failed_attempts,
                                max_misses=self.config.invitation_max_misses, now=utcnow())

    def registration_info(self, token: str) -> dict:
        with unit_of_work(self.sessions) as session:
            invitation = self._invitation(session, token)
            state = self._state(invitation)
            return {"valid": state == "valid", "reason": None if state == "valid" else state,
                    "practice_name": self._settings(session).practice_name,
                    "expires_at": invitation.expires_at if state == "valid" else None}

    def register(self, token: str, last_name: str, date_of_birth: date, password: str) -> dict:
        session = self.sessions()
        try:
            invitation = self._invitation(session, token, lock=True)
            ensure_usable(self._state(invitation))
            client = session.get(Client, invitation.client_id)
            if not identity_matches(record_last_name=client.last_name, record_dob=client.date_of_birth,
                                    last_name=last_name, date_of_birth=date_of_birth):
                invitation.failed_attempts += 1
                left = max(0, self.config.invitation_max_misses - invitation.failed_attempts)
                session.commit()  # the miss must count even though the request fails
                raise mismatch(left)
            self._check_password(password, self._user_inputs(session, None, client))
            if session.scalars(select(User.id).where(User.client_id == client.id)).first():
                raise AlreadyRegistered("This client has already registered. Sign in instead.")
            if session.scalars(select(User.id).where(User.email == client.email)).first():
                raise EmailTaken("Another account uses this e-mail address; ask your practice.")
            user = User(email=client.email, password_hash=passwords.hash_password(password), role="client",
                        client_id=client.id, first_name=client.first_name, last_name=client.last_name)
            session.add(user)
            invitation.used_at = utcnow()
            session.flush()
            self._publish(session, "client.registered", {"client_id": client.id, "user_id": user.id})
            session.commit()
            return {"user_id": user.id, "client_id": client.id, "email": user.email}
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # --- My Information ----------------------------------------------------------------------
    def my_profile(self, client_id: str) -> dict:
        # The hottest read of the portal: one Core SELECT on an autocommit connection, no ORM identity map.
        columns = [Client.__table__.c[name] for name in CLIENT_FIELDS]
        with self.reads() as session:
            row = session.execute(select(*columns).where(Client.__table__.c.id == client_id)).mappings().first()
        if row is None:
            raise ClientNotFound("No client record.")
        data = dict(row)
        for name in profile.NESTED:
            data[name] = dict(data[name] or {})
        return data

    def update_my_profile(self, principal: Principal, data: dict, address: str | None) -> dict:
        """A client's own edit. A new sign-in e-mail asks for the current password first (counted with the
        account's sign-in failures, as a change of two-factor is: a stolen access token alone must not move the
        account to a thief's address and reset its password there); it ends every session of the client and
        answers a new one for the caller in `session`, who has just shown what a sign-in asks."""
        password = data.pop("password", None)
        forbidden = sorted(set(data) & set(profile.PRACTICE_OWNED))
        if forbidden:
            raise Forbidden("Your practice keeps these details; send them a message to change them.",
                            errors={name: ["Only your practice can change this."] for name in forbidden})
        keys = None
        if self._moves_sign_in(principal.client_id, data):
            if password is None:
                raise _password_needed()
            keys = self._reauthenticate(principal.user_id, password, address)
        told = []
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, principal.client_id, with_for_update=True)
            if client is None:
                raise ClientNotFound("No client record.")
            changes, moved = self._change_client(session, client, data, by="client", told=told)
            if moved is not None and (keys is None or moved.id != principal.user_id):
                raise _password_needed()  # the address changed under us since it was read: ask again
            if changes:
                change = ProfileChange(client_id=client.id, changes=changes)
                session.add(change)
                session.flush()
                self._publish(session, "profile.updated", {**directory_entry(client),
                                                           "changed_fields": sorted(changes), "by": "client",
                                                           "change_id": change.id})
            result = client_dict(client)
            if moved is not None:
                result["session"] = self._fresh_session(session, moved, keys)
        for mail in told:
            self._told(*mail)
        return result

    def list_profile_changes(self, status: str | None, limit: int, cursor: str | None) -> tuple[list, str | None]:
        with unit_of_work(self.sessions) as session:
            stmt = select(ProfileChange)
            if status:
                stmt = stmt.where(ProfileChange.status == status)
            rows, next_cursor = paginate(session, stmt, [ProfileChange.created_at, ProfileChange.id],
                                         [datetime, str], limit=limit, cursor=cursor)
            names = {c.id: f"{c.first_name} {c.last_name}" for c in session.scalars(
                select(Client).where(Client.id.in_({r.client_id for r in rows})))}
            return [_change_view(r, names.get(r.client_id)) for r in rows], next_cursor

    def review_profile_change(self, change_id: str, decision: str, note: str | None, staff: Principal) -> dict:
        with unit_of_work(self.sessions) as session:
            change = session.get(ProfileChange, change_id, with_for_update=True)
            if change is None:
                raise NotFound("No profile change with this id.")
            if change.status != "pending":
                raise Conflict(f"This change was already {change.status}.")
            client = session.get(Client, change.client_id, with_for_update=True)
            skipped, told = [], []
            if decision == "revert":
                current = _jsonable(client_dict(client))
                restore = {}
                for name, values in change.changes.items():
                    if current.get(name) == values["new"]:
                        restore[name] = values["old"]
                    else:
                        skipped.append(name)  # changed again since: the later value stands
                for name, value in restore.items():
                    setattr(client, name, dict(value or {}) if name in profile.NESTED else value)
                if "email" in restore:
                    user = session.scalars(select(User).where(User.client_id == client.id)
                                           .with_for_update()).first()
                    if user is not None and client.email:
                        self._move_sign_in(session, user, client, by="practice", told=told)
                if restore:
                    session.flush()
                    self._publish(session, "profile.updated", {**directory_entry(client),
                                                               "changed_fields": sorted(restore), "by": "staff"})
            change.status = "accepted" if decision == "accept" else "reverted"
            change.reviewed_at = utcnow()
            change.reviewed_by = staff.user_id
            change.review_note = note
            view = _change_view(change, f"{client.first_name} {client.last_name}")
            view["skipped_fields"] = skipped
        for mail in told:
            self._told(*mail)
        return view


def _credentials(user: User) -> str:
    return credentials_stamp(user_id=user.id, email=user.email, password_changed_at=user.password_changed_at)


def _password_needed() -> Unprocessable:
    return Unprocessable("Enter your password to change the e-mail address you sign in with.",
                         errors={"password": ["Required to change the sign-in e-mail."]})


def _jsonable(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        out[key] = value.isoformat() if isinstance(value, date) else value
    return out


def _change_view(change: ProfileChange, client_name: str | None) -> dict:
    return {"id": change.id, "client_id": change.client_id, "client_name": client_name, "changes": change.changes,
            "status": change.status, "created_at": change.created_at, "reviewed_at": change.reviewed_at,
            "reviewed_by": change.reviewed_by, "review_note": change.review_note}
