"""The gateway's settings: where each service lives, and how long to wait for it."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import SERVICE_PORTS, BaseConfig, env_int, service_url


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
