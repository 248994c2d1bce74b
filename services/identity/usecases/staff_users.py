"""Staff accounts: created and listed by an admin, deactivated (every session ends) or reactivated, the first
admin of a new install, and a staff member's own two-factor set-up."""

from __future__ import annotations

import pyotp
from sqlalchemy import select

from services.identity.domain import accounts, passwords, two_factor
from services.identity.domain.errors import AccountNotFound, EmailTaken, WrongCode
from services.identity.models import User
from services.identity.usecases.base import UseCase
from services.identity.usecases.practice import Practice
from services.identity.usecases.sign_in import SignIn, Tokens, end_all_sessions
from shared.auth import Principal
from shared.db import unit_of_work


class StaffUsers(UseCase):
    def __init__(self, deps, *, practice: Practice, sign_in: SignIn):
        super().__init__(deps)
        self.practice = practice
        self.sign_in = sign_in

    def create_staff_user(self, data: dict) -> User:
        email = data["email"].strip().lower()
        with unit_of_work(self.sessions) as session:
            passwords.ensure_strong(data["password"], passwords.user_inputs(self.practice.name(session)) +
                                    [email, data["first_name"], data["last_name"]])
            if session.scalars(select(User.id).where(User.email == email)).first():
                raise EmailTaken("Another account uses this e-mail address.")
            user = User(email=email, password_hash=passwords.hash_password(data["password"]), role=data["role"],
                        first_name=data["first_name"], last_name=data["last_name"])
            session.add(user)
            session.flush()
            self._announce(session, user)
            return user

    def _announce(self, session, user: User) -> None:
        """staff_user.changed: the user as they now are (messaging's staff directory: names, e-mail)."""
        self._publish(session, "staff_user.changed", {
            "user_id": user.id, "first_name": user.first_name, "last_name": user.last_name, "email": user.email,
            "role": user.role, "active": user.is_active})

    def list_staff_users(self) -> list[User]:
        with unit_of_work(self.sessions) as session:
            return list(session.scalars(select(User).where(User.role.in_(accounts.STAFF_ROLES))
                                        .order_by(User.last_name, User.first_name, User.id)))

    def get_user(self, user_id: str) -> User:
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id)
            if user is None:
                raise AccountNotFound("Account not found.")
            return user

    def ensure_admin(self, email: str, password: str) -> bool:
        """Creates the first admin unless a user has that e-mail; answers whether it did."""
        email = email.strip().lower()
        with unit_of_work(self.sessions) as session:
            self.practice.settings_row(session)
            if session.scalars(select(User.id).where(User.email == email)).first():
                return False
            admin = User(email=email, password_hash=passwords.hash_password(password), role="admin",
                         first_name="Practice", last_name="Administrator", is_active=True)
            session.add(admin)
            session.flush()
            self._announce(session, admin)
            return True

    def set_staff_active(self, user_id: str, active: bool, admin: Principal) -> User:
        """An admin takes a staff user's access away (every session ends at once) or gives it back."""
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            if user is None or user.role not in accounts.STAFF_ROLES:
                raise AccountNotFound("No staff user with this id.")
            accounts.ensure_may_set_active(admin_id=admin.user_id, user_id=user.id, active=active)
            user.is_active = active
            if not active:
                end_all_sessions(session, user.id)
            session.flush()
            self._announce(session, user)
            return user

    # --- two-factor: each change asks for the password again (SignIn.reauthenticate) ---------
    def mfa_setup(self, user_id: str, password: str, address: str | None) -> dict:
        keys = self.sign_in.reauthenticate(user_id, password, address)
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            two_factor.ensure_may_set_up(enabled=user.mfa_enabled)
            secret = pyotp.random_base32()
            user.mfa_secret_encrypted = self.fernet.encrypt(secret.encode()).decode()
            user.mfa_last_step = None
            uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=self.practice.name(session))
            return {"secret": secret, "otpauth_uri": uri, "tokens": self.sign_in.fresh_session(session, user, keys)}

    def mfa_enable(self, user_id: str, code: str, password: str, address: str | None) -> Tokens:
        keys = self.sign_in.reauthenticate(user_id, password, address)
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            two_factor.ensure_may_enable(set_up=user.mfa_secret_encrypted is not None, enabled=user.mfa_enabled)
            step = self.sign_in.accepted_step(user, code)
            if step is None:
                raise WrongCode("The code is not right.", errors={"code": ["Does not match."]})
            user.mfa_last_step = step
            user.mfa_enabled = True
            return self.sign_in.fresh_session(session, user, keys)

    def mfa_disable(self, user_id: str, password: str, address: str | None) -> Tokens:
        keys = self.sign_in.reauthenticate(user_id, password, address)
        with unit_of_work(self.sessions) as session:
            user = session.get(User, user_id, with_for_update=True)
            user.mfa_enabled = False
            user.mfa_secret_encrypted = None
            user.mfa_last_step = None
            return self.sign_in.fresh_session(session, user, keys)
