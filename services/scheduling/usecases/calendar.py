"""A client's private calendar feed: a secret URL a calendar app subscribes to, made (or made anew, which ends
the old one) and revoked by the client; only the secret's hash is kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from services.scheduling.domain.errors import FeedNotFound, NotReadyYet
from services.scheduling.models import Appointment, CalendarFeed, Client
from services.scheduling.usecases import appointments as a
from services.scheduling.usecases import base
from services.scheduling.usecases.base import Context, in_transaction

FEED_PAST = timedelta(days=90)  # how far back the feed reaches; upcoming ones all
FEED_STATUSES = ("requested", "booked", "confirmed", "completed", "cancelled", "late_cancelled", "no_show")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Calendar:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def status(self, client_id: str) -> dict:
        with in_transaction(self.ctx) as session:
            feed = session.get(CalendarFeed, client_id)
            return {"active": feed is not None, "created_at": feed.created_at if feed else None}

    def create(self, client_id: str) -> tuple[str, datetime]:
        """A new secret (the old URL stops working): answered once, never stored."""
        token = secrets.token_urlsafe(32)
        with in_transaction(self.ctx) as session:
            if session.get(Client, client_id) is None:
                raise NotReadyYet("Your account is still being set up; try again in a moment.",
                                    headers={"Retry-After": "5"})
            feed = session.get(CalendarFeed, client_id, with_for_update=True)
            if feed is None:
                feed = CalendarFeed(client_id=client_id, token_hash=token_hash(token))
                session.add(feed)
            else:
                feed.token_hash = token_hash(token)
                feed.created_at = self.ctx.clock()
            session.flush()
            session.refresh(feed)
            return token, feed.created_at

    def revoke(self, client_id: str) -> None:
        with in_transaction(self.ctx) as session:
            session.execute(delete(CalendarFeed).where(CalendarFeed.client_id == client_id))

    def feed(self, token: str) -> tuple[list[dict], str]:
        """The feed's appointments (the last 90 days and every one ahead) and the practice's name."""
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            client_id = session.scalar(select(CalendarFeed.client_id)
                                       .where(CalendarFeed.token_hash == token_hash(token)))
            if client_id is None:
                raise FeedNotFound("This calendar link is not valid (it may have been replaced or revoked).")
            row = base.practice(session)
            policy = base.policy_of(row)
            stmt = (a._view_query().where(Appointment.client_id == client_id, Appointment.status.in_(FEED_STATUSES),
                                          Appointment.start_at >= now - FEED_PAST)
                    .order_by(Appointment.start_at, Appointment.id).limit(a.EXPORT_LIMIT))
            views = [a.appointment_view(r, now=now, policy=policy, for_staff=False) for r in session.execute(stmt)]
            return views, row.practice_name
