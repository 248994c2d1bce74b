"""Scheduling's celery tasks: the reminder beat, which publishes the reminders that have come due."""

from __future__ import annotations

from services.scheduling.config import SchedulingConfig
from services.scheduling.usecases.base import Context
from services.scheduling.usecases.reminders import Reminders
from shared.db import session_factory
from shared.practice_settings import PracticeSettings
from shared.tasks import make_celery

config = SchedulingConfig()
celery = make_celery("scheduling", config)
celery.conf.beat_schedule = {
    "reminders-tick": {"task": "scheduling.reminders_tick", "schedule": float(config.reminder_tick_seconds)},
}


def reminders() -> Reminders:
    return Reminders(Context(config=config, sessions=session_factory(config.database_url),
                             settings=PracticeSettings(config.identity_url, config.internal_api_key,
                                                       timeout=config.identity_timeout)))


@celery.task(name="scheduling.reminders_tick")
def reminders_tick() -> int:
    return reminders().publish_due()
