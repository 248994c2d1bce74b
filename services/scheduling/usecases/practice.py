"""The practice as scheduling keeps it: the settings copied from identity's events (self-scheduling, time zone,
name) and scheduling's own policy, read and edited by staff at /staff/scheduling-settings."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.scheduling.usecases.base import Context, in_transaction, practice


def policy_view(session: Session) -> dict:
    p = practice(session)
    return {"self_scheduling_enabled": p.self_scheduling_enabled, "practice_name": p.practice_name,
            "timezone": p.timezone,
            "minimum_notice_hours": p.minimum_notice_minutes // 60, "horizon_days": p.horizon_days,
            "max_open_requests": p.max_open_requests, "cancellation_window_hours": p.cancellation_window_hours,
            "approval": p.approval, "reminder_lead_hours": sorted((m // 60 for m in p.reminder_lead_minutes or ()),
                                                                  reverse=True),
            "late_cancel_fee": p.late_cancel_fee, "no_show_fee": p.no_show_fee}


class Policy:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    def get(self) -> dict:
        with in_transaction(self.ctx) as session:
            return policy_view(session)

    def update(self, data: dict) -> dict:
        with in_transaction(self.ctx) as session:
            p = practice(session)
            session.refresh(p, with_for_update=True)
            for name, value in data.items():
                if name == "minimum_notice_hours":
                    p.minimum_notice_minutes = value * 60
                elif name == "reminder_lead_hours":
                    p.reminder_lead_minutes = sorted({h * 60 for h in value}, reverse=True)
                else:
                    setattr(p, name, value)
            session.flush()
            return policy_view(session)
