"""Messaging's own practice setting: how long a message from the practice may stay unread before the client is
e-mailed about it (staff edit it at /staff/messaging-settings)."""

from __future__ import annotations

from services.messaging.usecases.base import Context, in_transaction, practice

FIELDS = ("client_email_delay_minutes",)


class Policy:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def get(self) -> dict:
        with in_transaction(self.ctx) as session:
            return self._view(practice(session))

    def update(self, changes: dict) -> dict:
        with in_transaction(self.ctx) as session:
            row = practice(session)
            for name in FIELDS:
                if name in changes:
                    setattr(row, name, changes[name])
            return self._view(row)

    @staticmethod
    def _view(row) -> dict:
        return {"client_email_delay_minutes": row.client_email_delay_minutes, "practice_name": row.practice_name,
                "practice_email": row.email}
