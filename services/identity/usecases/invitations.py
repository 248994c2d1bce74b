"""The portal invitation (a single-use link by mail) and registration from it: the client confirms their last name
and date of birth, then chooses a password."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.identity.domain import passwords
from services.identity.domain.errors import (
    AlreadyRegistered,
    ClientNotFound,
    EmailRequired,
    EmailTaken,
    InvitationNotFound,
)
from services.identity.domain.registration import (
    attempts_left,
    ensure_usable,
    identity_matches,
    invitation_state,
    mismatch,
)
from services.identity.domain.tokens import opaque_token, token_hash
from services.identity.models import Client, Invitation, User
from services.identity.usecases.base import UseCase
from services.identity.usecases.practice import Practice
from shared.auth import Principal
from shared.db import unit_of_work, utcnow


class Invitations(UseCase):
    def __init__(self, deps, *, practice: Practice):
        super().__init__(deps)
        self.practice = practice

    def invite(self, client_id: str, staff: Principal) -> dict:
        token = opaque_token()
        with unit_of_work(self.sessions) as session:
            client = session.get(Client, client_id, with_for_update=True)
            if client is None:
                raise ClientNotFound("No client with this id.")
            if not client.email:
                raise EmailRequired("Add the client's e-mail address first.", errors={"email": ["Required."]})
            if session.scalars(select(User.id).where(User.client_id == client.id)).first():
                raise AlreadyRegistered("This client has already registered for the portal.")
            now = utcnow()
            # One link at a time: a new one revokes the links not used yet.
            session.execute(update(Invitation).where(Invitation.client_id == client.id, Invitation.used_at.is_(None),
                                                     Invitation.revoked_at.is_(None)).values(revoked_at=now))
            expires_at = now + timedelta(seconds=self.config.invitation_ttl)
            session.add(Invitation(client_id=client.id, token_hash=token_hash(token), expires_at=expires_at,
                                   created_by=staff.user_id))
            self._publish(session, "client.invited", {"client_id": client.id, "email": client.email,
                                                      "expires_at": expires_at.isoformat()})
            practice = self.practice.name(session)
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
                    "practice_name": self.practice.name(session),
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
                left = attempts_left(failed_attempts=invitation.failed_attempts,
                                     max_misses=self.config.invitation_max_misses)
                session.commit()  # the miss must count even though the request fails
                raise mismatch(left)
            passwords.ensure_strong(password, passwords.user_inputs(self.practice.name(session), None, client))
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
