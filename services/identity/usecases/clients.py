"""Client records: created, listed and searched, edited by staff; and what any change of a record does when it
moves the e-mail the client's portal account signs in with."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from services.identity.domain import profile
from services.identity.domain.errors import ClientNotFound, EmailRequired, EmailTaken
from services.identity.domain.registration import invitation_state, portal_status
from services.identity.models import Client, Invitation, User
from services.identity.usecases.base import UseCase
from services.identity.usecases.practice import Practice
from services.identity.usecases.sign_in import end_all_sessions
from shared.auth import Principal
from shared.db import unit_of_work, utcnow
from shared.pagination import paginate

CLIENT_FIELDS = ("first_name", "last_name", "preferred_name", "date_of_birth", "email", "phone", "address",
                 "emergency_contact", "insurance")

# The portal status of a page of clients in two statements, whatever the page's size: which of them registered,
# and the latest invitation of each (DISTINCT ON keeps each client's first row in this order).
REGISTERED = select(User.client_id).where(User.client_id.in_(bindparam("client_ids", expanding=True)))
LATEST_INVITATIONS = (
    select(Invitation.client_id, Invitation.expires_at, Invitation.used_at, Invitation.revoked_at,
           Invitation.failed_attempts)
    .where(Invitation.client_id.in_(bindparam("client_ids", expanding=True)))
    .ext(distinct_on(Invitation.client_id))
    .order_by(Invitation.client_id, Invitation.created_at.desc()))


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


class Clients(UseCase):
    def __init__(self, deps, *, practice: Practice):
        super().__init__(deps)
        self.practice = practice

    # --- what staff see --------------------------------------------------------------------------
    def _views(self, session: Session, clients: Sequence[Client]) -> list[dict]:
        ids = [c.id for c in clients]
        registered, latest = set(), {}
        if ids:
            registered = set(session.scalars(REGISTERED, {"client_ids": ids}))
            now = utcnow()
            for row in session.execute(LATEST_INVITATIONS, {"client_ids": ids}):
                latest[row.client_id] = invitation_state(
                    expires_at=row.expires_at, used_at=row.used_at, revoked_at=row.revoked_at,
                    failed_attempts=row.failed_attempts, max_misses=self.config.invitation_max_misses, now=now)
        views = []
        for client in clients:
            data = client_dict(client)
            data.update(id=client.id, created_at=client.created_at, updated_at=client.updated_at,
                        portal_status=portal_status(registered=client.id in registered,
                                                    latest_invitation=latest.get(client.id)))
            views.append(data)
        return views

    def _view(self, session: Session, client: Client) -> dict:
        return self._views(session, [client])[0]

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
            return self._views(session, rows), next_cursor

    def get_client(self, client_id: str) -> dict:
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, client_id)
            if client is None:
                raise ClientNotFound("No client with this id.")
            return self._view(session, client)

    # --- records created and changed -------------------------------------------------------------
    def email_in_use(self, session: Session, email: str, *, except_client: str | None = None) -> bool:
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
                if self.email_in_use(session, data["email"]):
                    raise EmailTaken("Another client or account uses this e-mail address.")
            client = Client(created_by=staff.user_id, **{k: v for k, v in data.items() if k in CLIENT_FIELDS})
            for name in profile.NESTED:
                setattr(client, name, dict(data.get(name) or {}))
            session.add(client)
            session.flush()
            self._publish(session, "client.created", directory_entry(client))
            return self._view(session, client)

    def update_client(self, client_id: str, data: dict, staff: Principal) -> dict:
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, client_id, with_for_update=True)
            if client is None:
                raise ClientNotFound("No client with this id.")
            # Staff may move a client's sign-in e-mail without the client's password (their record, their call);
            # it ends the client's sessions and tells the old address, as a client's own change does.
            told = []
            changes, _ = self.change_client(session, client, data, by="practice", told=told)
            if changes:
                self._publish(session, "profile.updated", {**directory_entry(client), "changed_fields":
                                                           sorted(changes), "by": "staff"})
            view = self._view(session, client)
        for mail in told:
            self._told(*mail)
        return view

    def change_client(self, session: Session, client: Client, data: dict, *, by: str,
                      told: list) -> tuple[dict, User | None]:
        """The changes, and the portal account whose sign-in e-mail they moved (None if none)."""
        if data.get("email"):
            data["email"] = data["email"].strip().lower()
        changes = profile.apply_changes(profile.jsonable(client_dict(client)), profile.jsonable(data))
        if "email" in changes and data["email"]:
            if self.email_in_use(session, data["email"], except_client=client.id):
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
                    raise EmailRequired("A registered client signs in with e-mail; it cannot be removed.",
                                        errors={"email": ["Required for a registered client."]})
                if self.move_sign_in(session, user, client, by=by, told=told):
                    moved = user
        session.flush()
        return changes, moved

    def move_sign_in(self, session: Session, user: User, client: Client, *, by: str, told: list) -> bool:
        """The account signs in with the client's new e-mail from now on. Every session of the user ends (whoever
        held one, the new address is what a sign-in asks now) and the old address is told, with nothing of the
        new one (it may be a thief's; the owner reads the old one). `by`: "client" or "practice"."""
        old = user.email
        if old == client.email:
            return False
        user.email = client.email
        end_all_sessions(session, user.id)
        now = utcnow()
        context = {"practice_name": self.practice.name(session),
                   "first_name": client.preferred_name or client.first_name, "by": by,
                   "changed_at": now.strftime("%B %d, %Y %H:%M UTC")}
        self._write_mail(session, old, "email_changed", context, now + timedelta(days=7))
        told.append((old, "email_changed", context))
        return True
