"""My Information: a client reads and changes their own details (a new sign-in e-mail asks for the password), and
the practice reviews each change (accepts it, or reverts what of it still stands)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from services.identity.domain import profile
from services.identity.domain.errors import ClientNotFound, PasswordRequired, ProfileChangeNotFound
from services.identity.models import Client, ProfileChange, User
from services.identity.usecases.base import UseCase
from services.identity.usecases.clients import CLIENT_FIELDS, Clients, client_dict, directory_entry
from services.identity.usecases.sign_in import SignIn
from shared.auth import Principal
from shared.db import unit_of_work, utcnow
from shared.pagination import paginate

# The hottest read of the portal: one Core SELECT on an autocommit connection, no ORM Session. Built once, with
# the id a bind parameter: each request then skips building the WHERE clause and generating the statement's cache
# key (about a third of the read's CPU), and a Core connection skips the Session's set-up and close (another).
MY_PROFILE = (select(*(Client.__table__.c[name] for name in CLIENT_FIELDS))
              .where(Client.__table__.c.id == bindparam("client_id")))


def _password_needed() -> PasswordRequired:
    return PasswordRequired("Enter your password to change the e-mail address you sign in with.",
                            errors={"password": ["Required to change the sign-in e-mail."]})


def _change_view(change: ProfileChange, client_name: str | None) -> dict:
    return {"id": change.id, "client_id": change.client_id, "client_name": client_name, "changes": change.changes,
            "status": change.status, "created_at": change.created_at, "reviewed_at": change.reviewed_at,
            "reviewed_by": change.reviewed_by, "review_note": change.review_note}


class MyInformation(UseCase):
    def __init__(self, deps, *, clients: Clients, sign_in: SignIn):
        super().__init__(deps)
        self.clients = clients
        self.sign_in = sign_in

    def my_profile(self, client_id: str) -> dict:
        with self.read_engine.connect() as conn:
            row = conn.execute(MY_PROFILE, {"client_id": client_id}).mappings().first()
        if row is None:
            raise ClientNotFound("No client record.")
        data = dict(row)
        for name in profile.NESTED:
            data[name] = dict(data[name] or {})
        return data

    def _signs_in_with(self, client_id: str) -> str | None:
        with self.reads() as session:
            return session.scalar(select(User.email).where(User.client_id == client_id))

    def update_my_profile(self, principal: Principal, data: dict, address: str | None) -> dict:
        """A client's own edit. A new sign-in e-mail asks for the current password first (counted with the
        account's sign-in failures, as a change of two-factor is: a stolen access token alone must not move the
        account to a thief's address and reset its password there); it ends every session of the client and
        answers a new one for the caller in `session`, who has just shown what a sign-in asks."""
        password = data.pop("password", None)
        profile.ensure_client_may_change(data)
        keys = None
        # unchanged or removed e-mails read nothing (a removal is refused for an account that signs in with it)
        if data.get("email") and profile.moves_sign_in(self._signs_in_with(principal.client_id), data["email"]):
            if password is None:
                raise _password_needed()
            keys = self.sign_in.reauthenticate(principal.user_id, password, address)
        told = []
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, principal.client_id, with_for_update=True)
            if client is None:
                raise ClientNotFound("No client record.")
            changes, moved = self.clients.change_client(session, client, data, by="client", told=told)
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
                result["session"] = self.sign_in.fresh_session(session, moved, keys)
        for mail in told:
            self._told(*mail)
        return result

    # --- the practice's review ---------------------------------------------------------------
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
                raise ProfileChangeNotFound("No profile change with this id.")
            profile.ensure_pending(change.status)
            client = session.get(Client, change.client_id, with_for_update=True)
            skipped, told = [], []
            if decision == "revert":
                restore, skipped = profile.revert(profile.jsonable(client_dict(client)), change.changes)
                self._restore(session, client, restore, told)
            change.status = profile.DECISIONS[decision]
            change.reviewed_at = utcnow()
            change.reviewed_by = staff.user_id
            change.review_note = note
            view = _change_view(change, f"{client.first_name} {client.last_name}")
            view["skipped_fields"] = skipped
        for mail in told:
            self._told(*mail)
        return view

    def _restore(self, session: Session, client: Client, restore: dict, told: list) -> None:
        """Puts back the old values a revert restores; a sign-in e-mail put back moves the account back too."""
        for name, value in restore.items():
            setattr(client, name, dict(value or {}) if name in profile.NESTED else value)
        if "email" in restore:
            user = session.scalars(select(User).where(User.client_id == client.id).with_for_update()).first()
            if user is not None and client.email:
                self.clients.move_sign_in(session, user, client, by="practice", told=told)
        if restore:
            session.flush()
            self._publish(session, "profile.updated", {**directory_entry(client),
                                                       "changed_fields": sorted(restore), "by": "staff"})
