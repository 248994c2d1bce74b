"""Messaging's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import BaseConfig, env_int


@dataclass
class MessagingConfig(BaseConfig):
    service: str = "messaging"
    # Attachments: 5 files of 10 MB and the form around them (the gateway allows as much on messaging's routes).
    max_body_bytes: int = field(default_factory=lambda: env_int("MESSAGING_MAX_BODY_BYTES", 52 * 1024 * 1024))
    # How often the beat sends the mails that have come due.
    mail_tick_seconds: int = field(default_factory=lambda: env_int("MAIL_TICK_SECONDS", 15))
