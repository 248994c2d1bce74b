"""Billing's celery tasks: the AutoPay beat. The beat ticks every few minutes; the run itself happens once
a day, when the practice's local time passes AUTOPAY_HOUR:AUTOPAY_MINUTE (practice time zone from settings)."""

from __future__ import annotations

from celery.schedules import crontab

from services.billing.config import BillingConfig
from services.billing.payments_client import PaymentsClient
from services.billing.usecases.autopay import AutopayRunner
from shared.db import session_factory, utcnow
from shared.practice_settings import PracticeSettings
from shared.tasks import make_celery

config = BillingConfig()
celery = make_celery("billing", config)
celery.conf.beat_schedule = {
    "autopay-tick": {"task": "billing.autopay_tick", "schedule": crontab(minute="*/5")},
}


def runner() -> AutopayRunner:
    return AutopayRunner(sessions=session_factory(config.database_url),
                         payments=PaymentsClient(config.payments_url, config.internal_api_key,
                                                 config.payments_timeout),
                         max_failures=config.autopay_max_failures,
                         hour=config.autopay_hour, minute=config.autopay_minute,
                         settings=PracticeSettings(config.identity_url, config.internal_api_key,
                                                   timeout=config.identity_timeout))


@celery.task(name="billing.autopay_tick")
def autopay_tick() -> dict | None:
    autopay = runner()
    if autopay.due_now(utcnow(), config.autopay_hour, config.autopay_minute):
        return autopay.run(trigger="beat")
    return None
