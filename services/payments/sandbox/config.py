"""The sandbox processor's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import env, env_int, secret


def _origins(value: str | None) -> tuple[str, ...]:
    return tuple(o.strip().rstrip("/") for o in (value or "*").split(",") if o.strip()) or ("*",)


@dataclass
class SandboxConfig:
    service: str = "sandbox-processor"
    environment: str = field(default_factory=lambda: env("PORTAL_ENV", "development"))
    log_level: str = field(default_factory=lambda: env("LOG_LEVEL", "INFO"))
    # The secret key our services send as `Authorization: Bearer <key>` (tokenization needs none); payments'
    # PROCESSOR_API_KEY. No default: `make run` generates both (var/secrets.env), tests pass their own.
    api_key: str = field(default_factory=lambda: secret("SANDBOX_API_KEY"))
    # How long the 4000 0000 0000 3220 card keeps a charge call waiting (after recording the charge).
    slow_seconds: int = field(default_factory=lambda: env_int("SANDBOX_SLOW_SECONDS", 30))
    # Browser origins allowed to tokenize and to frame the hosted card fields; "*" (any) suits a sandbox.
    cors_origins: tuple[str, ...] = field(default_factory=lambda: _origins(env("SANDBOX_CORS_ORIGINS")))
    # SQLite file holding tokens, charges and refunds, so saved cards survive a restart.
    database_path: str = field(default_factory=lambda: env("SANDBOX_DATABASE_PATH", "var/sandbox-processor.sqlite3"))
    max_body_bytes: int = field(default_factory=lambda: env_int("MAX_BODY_BYTES", 16 * 1024 * 1024))
    testing: bool = False
