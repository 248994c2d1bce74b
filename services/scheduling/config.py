"""Scheduling's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import BaseConfig, env_int, service_url


@dataclass
class SchedulingConfig(BaseConfig):
    service: str = "scheduling"
    # Identity, asked whether self-scheduling is on at the moment a client's request is taken
    # (shared.practice_settings), and how long that question may take before the request is refused as "try again".
    identity_url: str = field(default_factory=lambda: service_url("identity"))
    identity_timeout: float = field(default_factory=lambda: env_int("IDENTITY_TIMEOUT_MS", 2000) / 1000)
    # How often the beat looks for reminders that have come due.
    reminder_tick_seconds: int = field(default_factory=lambda: env_int("REMINDER_TICK_SECONDS", 60))
