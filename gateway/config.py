"""The gateway's settings: where each service lives, and how long to wait for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import SERVICE_PORTS, BaseConfig, env, env_int, secret, service_url


@dataclass
class GatewayConfig(BaseConfig):
    service: str = "gateway"
    upstreams: dict[str, str] = field(default_factory=lambda: {
        name: service_url(name) for name in SERVICE_PORTS if name != "gateway"})
    connect_timeout: float = field(default_factory=lambda: env_int("UPSTREAM_CONNECT_TIMEOUT_MS", 1000) / 1000)
    read_timeout: float = field(default_factory=lambda: env_int("UPSTREAM_READ_TIMEOUT_MS", 15000) / 1000)
    pool_size: int = field(default_factory=lambda: env_int("UPSTREAM_POOL_SIZE", 32))
    # Strict-Transport-Security on every answer served over HTTPS (one year; 0 tells browsers to forget it).
    hsts_max_age: int = field(default_factory=lambda: env_int("HSTS_MAX_AGE", 31536000))
    # The web (gateway/web): browser sessions in Redis, signed CSRF tokens, the processor's hosted card fields.
    web_redis_url: str = field(default_factory=lambda: env("WEB_SESSION_REDIS_URL", "redis://127.0.0.1:6379/0"))
    web_session_prefix: str = field(default_factory=lambda: env("WEB_SESSION_PREFIX", "portal:web:"))
    web_idle_seconds: int = field(default_factory=lambda: env_int("WEB_IDLE_SECONDS", 900))
    web_secret: str = field(default_factory=lambda: secret("WEB_SECRET_KEY", min_length=32))
    # The card processor's origin as browsers reach it (its hosted card fields): the one frame-src of every page.
    processor_public_url: str = field(default_factory=lambda: (env("PROCESSOR_PUBLIC_URL") or env(
        "PROCESSOR_URL", "http://127.0.0.1:8090")).rstrip("/"))
