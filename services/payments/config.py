"""Payments' settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import BaseConfig, env, env_int, secret, service_url


@dataclass
class PaymentsConfig(BaseConfig):
    service: str = "payments"
    processor_url: str = field(default_factory=lambda: env("PROCESSOR_URL", "http://127.0.0.1:8090"))
    # The processor's secret key: no default (shared.config.secret); production takes no test-mode key.
    processor_api_key: str = field(default_factory=lambda: secret("PROCESSOR_API_KEY", refused_prefixes=("sk_test_",)))
    # Our wait for the processor's answer; past it the payment is `processing` until reconciled.
    processor_read_timeout: float = field(default_factory=lambda: env_int("PROCESSOR_READ_TIMEOUT_MS", 10000) / 1000)
    processor_connect_timeout: float = 3.05
    idempotency_ttl_hours: int = field(default_factory=lambda: env_int("IDEMPOTENCY_TTL_HOURS", 48))
    # A payment still pending/processing this long after it started is asked about at the processor.
    reconcile_after_seconds: int = field(default_factory=lambda: env_int("RECONCILE_AFTER_SECONDS", 60))
    # How often the beat looks for cards on file near their expiry, and how near: a card whose last good day is
    # within this many days is told of it (payment_method.expiring), once.
    card_expiry_tick_seconds: int = field(default_factory=lambda: env_int("CARD_EXPIRY_TICK_SECONDS", 3600))
    card_expiry_notice_days: int = field(default_factory=lambda: env_int("CARD_EXPIRY_NOTICE_DAYS", 30))
    # How long a second request with the same key waits for the first one to finish.
    idempotency_wait_seconds: float = field(default_factory=lambda: env_int("IDEMPOTENCY_WAIT_MS", 30000) / 1000)
    # Identity, asked for the practice's switches at the moment of a decision (shared.practice_settings), and
    # how long that question may take before the decision is refused as "try again".
    identity_url: str = field(default_factory=lambda: service_url("identity"))
    identity_timeout: float = field(default_factory=lambda: env_int("IDENTITY_TIMEOUT_MS", 2000) / 1000)
