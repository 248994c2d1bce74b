"""IdentityService: what the routes, the CLI and the app call, composed of the use cases in services/identity/
usecases/ (one module each); every method hands over to the one that does the work. The table of contents."""

from __future__ import annotations

from datetime import date

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from services.identity.domain.tokens import Signer
from services.identity.models import User
from services.identity.usecases.base import Dependencies, Mail
from services.identity.usecases.clients import Clients
from services.identity.usecases.invitations import Invitations
from services.identity.usecases.my_information import MyInformation
from services.identity.usecases.password_reset import PasswordResets
from services.identity.usecases.practice import Practice
from services.identity.usecases.sign_in import SignIn, Tokens
from services.identity.usecases.staff_users import StaffUsers
from shared.auth import Principal, TokenVerifier

__all__ = ["IdentityService", "Tokens"]


class IdentityService:
    def __init__(self, *, config, sessions: sessionmaker[Session], signer: Signer, verifier: TokenVerifier,
                 fernet: Fernet, mail: Mail | None = None, reads: sessionmaker[Session] | None = None):
        deps = Dependencies(config=config, sessions=sessions, reads=reads or sessions, signer=signer,
                            verifier=verifier, fernet=fernet, mail=mail)
        self.config, self.sessions, self.reads = deps.config, deps.sessions, deps.reads
        self.signer, self.verifier, self.fernet = signer, verifier, fernet
        self.practice = Practice(deps)
        self.sign_in = SignIn(deps)
        self.password_resets = PasswordResets(deps, practice=self.practice)
        self.staff_users = StaffUsers(deps, practice=self.practice, sign_in=self.sign_in)
        self.clients = Clients(deps, practice=self.practice)
        self.invitations = Invitations(deps, practice=self.practice)
        self.my_information = MyInformation(deps, clients=self.clients, sign_in=self.sign_in)

    # --- practice settings (usecases/practice.py) ------------------------------------------------
    def get_settings(self) -> dict:
        return self.practice.get_settings()

    def current_settings(self) -> dict:
        return self.practice.current_settings()

    def update_settings(self, changes: dict) -> dict:
        return self.practice.update_settings(changes)

    # --- sign-in and sessions (usecases/sign_in.py) ----------------------------------------------
    def login(self, email: str, password: str, address: str | None) -> Tokens | dict:
        return self.sign_in.login(email, password, address)

    def complete_mfa(self, mfa_token: str, code: str, address: str | None) -> Tokens:
        return self.sign_in.complete_mfa(mfa_token, code, address)

    def refresh(self, refresh_token: str) -> Tokens:
        return self.sign_in.refresh(refresh_token)

    def logout(self, refresh_token: str) -> None:
        self.sign_in.logout(refresh_token)

    def revoked_sessions(self) -> dict:
        return self.sign_in.revoked_sessions()

    # --- password reset (usecases/password_reset.py) ---------------------------------------------
    def request_password_reset(self, email: str, address: str | None) -> None:
        self.password_resets.request_password_reset(email, address)

    def confirm_password_reset(self, token: str, password: str) -> dict:
        return self.password_resets.confirm_password_reset(token, password)

    # --- staff users and their two-factor (usecases/staff_users.py) -----------------------------
    def create_staff_user(self, data: dict) -> User:
        return self.staff_users.create_staff_user(data)

    def list_staff_users(self) -> list[User]:
        return self.staff_users.list_staff_users()

    def get_user(self, user_id: str) -> User:
        return self.staff_users.get_user(user_id)

    def ensure_admin(self, email: str, password: str) -> bool:
        return self.staff_users.ensure_admin(email, password)

    def set_staff_active(self, user_id: str, active: bool, admin: Principal) -> User:
        return self.staff_users.set_staff_active(user_id, active, admin)

    def mfa_setup(self, user_id: str, password: str, address: str | None) -> dict:
        return self.staff_users.mfa_setup(user_id, password, address)

    def mfa_enable(self, user_id: str, code: str, password: str, address: str | None) -> Tokens:
        return self.staff_users.mfa_enable(user_id, code, password, address)

    def mfa_disable(self, user_id: str, password: str, address: str | None) -> Tokens:
        return self.staff_users.mfa_disable(user_id, password, address)

    # --- client records (usecases/clients.py) ----------------------------------------------------
    def create_client(self, data: dict, staff: Principal) -> dict:
        return self.clients.create_client(data, staff)

    def search_clients(self, q: str | None, limit: int, cursor: str | None) -> tuple[list[dict], str | None]:
        return self.clients.search_clients(q, limit, cursor)

    def get_client(self, client_id: str) -> dict:
        return self.clients.get_client(client_id)

    def update_client(self, client_id: str, data: dict, staff: Principal) -> dict:
        return self.clients.update_client(client_id, data, staff)

    # --- invitations and registration (usecases/invitations.py) ---------------------------------
    def invite(self, client_id: str, staff: Principal) -> dict:
        return self.invitations.invite(client_id, staff)

    def registration_info(self, token: str) -> dict:
        return self.invitations.registration_info(token)

    def register(self, token: str, last_name: str, date_of_birth: date, password: str) -> dict:
        return self.invitations.register(token, last_name, date_of_birth, password)

    # --- My Information and its review (usecases/my_information.py) -----------------------------
    def my_profile(self, client_id: str) -> dict:
        return self.my_information.my_profile(client_id)

    def update_my_profile(self, principal: Principal, data: dict, address: str | None) -> dict:
        return self.my_information.update_my_profile(principal, data, address)

    def list_profile_changes(self, status: str | None, limit: int, cursor: str | None) -> tuple[list, str | None]:
        return self.my_information.list_profile_changes(status, limit, cursor)

    def review_profile_change(self, change_id: str, decision: str, note: str | None, staff: Principal) -> dict:
        return self.my_information.review_profile_change(change_id, decision, note, staff)
