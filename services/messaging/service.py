"""Messaging's use cases (usecases/, one module each) behind one object, MessagingService
(app.extensions["messaging"]; the routes, the beat, bench): `threads` (secure messages and attachments),
`notifications` (the bell), `mails` (the beat's sender), `policy` (messaging's setting). The rules are in domain/."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from services.messaging.storage import AttachmentStore, PostgresStore
from services.messaging.usecases.base import Context
from services.messaging.usecases.mails import Mails
from services.messaging.usecases.notifications import Notifications
from services.messaging.usecases.practice import Policy
from services.messaging.usecases.threads import Threads
from shared.db import utcnow


class MessagingService:
    def __init__(self, *, config, sessions: sessionmaker[Session], store: AttachmentStore | None = None,
                 clock: Callable[[], datetime] = utcnow):
        self.ctx = Context(config=config, sessions=sessions, store=store or PostgresStore(sessions), clock=clock)
        self.threads = Threads(self.ctx)
        self.notifications = Notifications(self.ctx)
        self.mails = Mails(self.ctx)
        self.policy = Policy(self.ctx)
