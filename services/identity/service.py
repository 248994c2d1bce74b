"""Identity's use cases: each opens a unit of work, loads, applies the domain rules, writes the outbox, commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyotp
from cryptography.fernet import Fernet
from sqlalchemy import func, or_, select, update
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
    ResetTokenInvalid,
    WeakPassword,
)
from services.identity.domain.registration import ensure_usable, identity_matches, invitation_state, mismatch
from services.identity.domain.throttle import ThrottleState, record_failure, seconds_locked
from services.identity.domain.tokens import Signer, opaque_token, token_hash
from services.identity.models import (
    Client,
    Invitation,
    LoginThrottle,
    PasswordReset,
    PracticeSettings,
    ProfileChange,
    RefreshToken,
    User,
    outbox,
)
from shared.auth import Principal, TokenVerifier
from shared.db import new_id, unit_of_work, utcnow
from shared.errors import Conflict, Forbidden, NotFound, Unauthorized, Unprocessable
from shared.events import make_event, record_event
from shared.pagination import paginate

log = logging.getLogger(__name__)

SETTINGS_FIELDS = ("practice_name", "self_scheduling_enabled", "online_payments_enabled",
                   "billing_documents_enabled", "autopay_enabled", "currency", "timezone", "phone", "email",
                   "address")
CLIENT_FIELDS = ("first_name", "last_name", "preferred_name", "date_of_birth", "email", "phone", "address",
                 "emergency_contact", "insurance")

Mail = Callable[[str, str, str], None]  # (to, template, context as json-able dict) -> enqueue after commit


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
                 fernet: Fernet, mail: Callable[..., None], reads: sessionmaker[Session] | None = None):
        self.config = config
        self.sessions = sessions
        self.reads = reads or sessions  # autocommit sessions for single-statement reads
        self.signer = signer
        self.verifier = verifier
        self.fernet = fernet
        self.mail = mail  # enqueue a mail; called only after commit

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
            keys.append((f"address:{address}", self.config.address_max_failures))
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
                user = session.get(User, found.id)
                if passwords.needs_rehash(user.password_hash):
                    user.password_hash = passwords.hash_password(password)
                session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == keys[0][0]))
                if user.mfa_enabled:
                    return {"mfa_required": True,
                            "mfa_token": self.signer.mfa_token(user_id=user.id, role=user.role,
                                                               ttl=self.config.mfa_token_ttl)}
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
            if user is None or not user.is_active or not user.mfa_enabled:
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
        refresh = opaque_token()
        session.add(RefreshToken(user_id=user.id, family_id=family_id or new_id(), token_hash=token_hash(refresh),
                                 expires_at=utcnow() + timedelta(seconds=self.config.refresh_token_ttl)))
        access = self.signer.access_token(user_id=user.id, role=user.role, client_id=user.client_id,
                                          ttl=self.config.access_token_ttl)
        return Tokens(access_token=access, refresh_token=refresh, expires_in=self.config.access_token_ttl, user=user)

    def refresh(self, refresh_token: str) -> Tokens:
        with unit_of_work(self.sessions) as session:
            row = session.scalars(select(RefreshToken).where(RefreshToken.token_hash == token_hash(refresh_token))
                                  .with_for_update()).first()
            if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
                raise InvalidToken("Sign in again.")
            if row.rotated_at is not None:
                # A rotated token came back: someone holds a stolen copy. End the whole family.
                session.execute(update(RefreshToken).where(RefreshToken.family_id == row.family_id,
                                                           RefreshToken.revoked_at.is_(None))
                                .values(revoked_at=utcnow()))
                session.commit()
                log.warning("refresh token reuse; family revoked", extra={"fields": {"user_id": row.user_id}})
                raise InvalidToken("Sign in again.")
            user = session.get(User, row.user_id)
            if user is None or not user.is_active:
                raise InvalidToken("Sign in again.")
            row.rotated_at = utcnow()
            return self._issue(session, user, family_id=row.family_id)

    def logout(self, refresh_token: str) -> None:
        with unit_of_work(self.sessions) as session:
            row = session.scalars(select(RefreshToken)
                                  .where(RefreshToken.token_hash == token_hash(refresh_token))).first()
            if row is not None:
                session.execute(update(RefreshToken).where(RefreshToken.family_id == row.family_id,
                                                           RefreshToken.revoked_at.is_(None))
                                .values(revoked_at=utcnow()))

    # --- password reset ----------------------------------------------------------------------
    def request_password_reset(self, email: str) -> None:
        email = email.strip().lower()
        token = opaque_token()
        with unit_of_work(self.sessions) as session:
            user = session.scalars(select(User).where(User.email == email, User.is_active.is_(True))).first()
            if user is None:
                return  # same answer either way: no account discovery
            session.add(PasswordReset(user_id=user.id, token_hash=token_hash(token),
                                      expires_at=utcnow() + timedelta(seconds=self.config.password_reset_ttl)))
            practice = self._settings(session).practice_name
        self.mail(email, "password_reset", {"practice_name": practice,
                                            "reset_url": f"{self.config.portal_base_url}/reset-password?token={token}",
                                            "minutes": self.config.password_reset_ttl // 60})

    def confirm_password_reset(self, token: str, password: str) -> None:
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
            session.execute(update(RefreshToken).where(RefreshToken.user_id == user.id,
                                                       RefreshToken.revoked_at.is_(None))
                            .values(revoked_at=utcnow()))
            session.execute(LoginThrottle.__table__.delete().where(LoginThrottle.key == f"account:{user.email}"))

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

    def mfa_setup(self, user_id: str) -> dict:
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            if user.mfa_enabled:
                raise Conflict("Two-factor sign-in is already on; turn it off first to change the device.")
            secret = pyotp.random_base32()
            user.mfa_secret_encrypted = self.fernet.encrypt(secret.encode()).decode()
            user.mfa_last_step = None
            practice = self._settings(session).practice_name
            uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=practice)
            return {"secret": secret, "otpauth_uri": uri}

    def mfa_enable(self, user_id: str, code: str) -> None:
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

    def mfa_disable(self, user_id: str, password: str) -> None:
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            if not passwords.verify_password(user.password_hash, password):
                raise Unprocessable("The password is not right.", errors={"password": ["Does not match."]})
            user.mfa_enabled = False
            user.mfa_secret_encrypted = None
            user.mfa_last_step = None

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
            changes = self._change_client(session, client, data)
            if changes:
                self._publish(session, "profile.updated", {**directory_entry(client), "changed_fields":
                                                           sorted(changes), "by": "staff"})
            return self._client_view(session, client)

    def _change_client(self, session: Session, client: Client, data: dict) -> dict:
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
        if "email" in changes:
            user = session.scalars(select(User).where(User.client_id == client.id)).first()
            if user is not None:
                if not client.email:
                    raise Unprocessable("A registered client signs in with e-mail; it cannot be removed.",
                                        errors={"email": ["Required for a registered client."]})
                user.email = client.email
        session.flush()
        return changes

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
            email, first_name = client.email, client.preferred_name or client.first_name
        url = f"{self.config.portal_base_url}/register?token={token}"
        self.mail(email, "invitation", {"practice_name": practice, "first_name": first_name, "invitation_url": url,
                                        "expires_at": expires_at.strftime("%B %d, %Y %H:%M UTC")})
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

    def update_my_profile(self, client_id: str, data: dict) -> dict:
        forbidden = sorted(set(data) & set(profile.PRACTICE_OWNED))
        if forbidden:
            raise Forbidden("Your practice keeps these details; send them a message to change them.",
                            errors={name: ["Only your practice can change this."] for name in forbidden})
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, client_id, with_for_update=True)
            if client is None:
                raise ClientNotFound("No client record.")
            changes = self._change_client(session, client, data)
            if changes:
                change = ProfileChange(client_id=client.id, changes=changes)
                session.add(change)
                session.flush()
                self._publish(session, "profile.updated", {**directory_entry(client),
                                                           "changed_fields": sorted(changes), "by": "client",
                                                           "change_id": change.id})
            return client_dict(client)

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
            skipped = []
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
                    user = session.scalars(select(User).where(User.client_id == client.id)).first()
                    if user is not None and client.email:
                        user.email = client.email
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
            return view


def _jsonable(data: dict) -> dict:
    out = {}
    for key, value in data.items():
        out[key] = value.isoformat() if isinstance(value, date) else value
    return out


def _change_view(change: ProfileChange, client_name: str | None) -> dict:
    return {"id": change.id, "client_id": change.client_id, "client_name": client_name, "changes": change.changes,
            "status": change.status, "created_at": change.created_at, "reviewed_at": change.reviewed_at,
            "reviewed_by": change.reviewed_by, "review_note": change.review_note}
