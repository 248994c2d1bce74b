"""Billing's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import BaseConfig, env_int, service_url


@dataclass
class BillingConfig(BaseConfig):
    service: str = "billing"
    invoice_due_days: int = field(default_factory=lambda: env_int("INVOICE_DUE_DAYS", 14))
    payments_url: str = field(default_factory=lambda: service_url("payments"))
    # AutoPay runs nightly at this practice-local time (celery beat); the run can be triggered by hand too.
    autopay_hour: int = field(default_factory=lambda: env_int("AUTOPAY_HOUR", 1))
    autopay_minute: int = field(default_factory=lambda: env_int("AUTOPAY_MINUTE", 0))
    autopay_max_failures: int = 3
    payments_timeout: float = field(default_factory=lambda: env_int("PAYMENTS_TIMEOUT_MS", 35000) / 1000)
    # Identity, asked for the practice's switches at the moment of a decision (shared.practice_settings), and
    # how long that question may take before the decision is refused as "try again".
    identity_url: str = field(default_factory=lambda: service_url("identity"))
    identity_timeout: float = field(default_factory=lambda: env_int("IDENTITY_TIMEOUT_MS", 2000) / 1000)
