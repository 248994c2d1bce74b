"""What every identity use case is given (config, database sessions, keys, the mail hook) and how it writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.identity.domain.tokens import Signer
from services.identity.mail_outbox import mail_row
from services.identity.models import MailOutbox, outbox
from shared.auth import TokenVerifier
from shared.events import make_event, record_event

Mail = Callable[[str, str, dict], None]  # (to, template, context): told after the commit of each mail written


@dataclass(frozen=True)
class Dependencies:
    config: object  # IdentityConfig
    sessions: sessionmaker[Session]
    reads: sessionmaker[Session]  # autocommit sessions for single-statement reads
    signer: Signer
    verifier: TokenVerifier
    fernet: Fernet
    mail: Mail | None  # told of each mail after its commit (tests); the mail itself leaves by the outbox


class UseCase:
    def __init__(self, deps: Dependencies):
        self.deps = deps
        self.config = deps.config
        self.sessions = deps.sessions
        self.reads = deps.reads
        self.signer = deps.signer
        self.verifier = deps.verifier
        self.fernet = deps.fernet

    @property
    def read_engine(self) -> Engine:
        """The engine of `reads`, for a hot read that needs a connection and not a Session (its set-up, identity map
        and close cost more than the statement)."""
        return self.reads.kw["bind"]

    def _write_mail(self, session: Session, to: str, template: str, context: dict, expires_at: datetime) -> None:
        """The mail goes in the caller's transaction: sent if and only if that transaction commits."""
        session.execute(insert(MailOutbox.__table__), mail_row(self.fernet, to=to, template=template,
                                                               context=context, expires_at=expires_at))

    def _told(self, to: str, template: str, context: dict) -> None:
        if self.deps.mail is not None:
            self.deps.mail(to, template, context)

    def _publish(self, session: Session, event_type: str, payload: dict) -> None:
        record_event(session, outbox, make_event(event_type, payload, producer="identity"))
