"""Settings read from the environment; the defaults run the suite on one machine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
SERVICE_PORTS = {
    "gateway": 8000,
    "identity": 8001,
    "scheduling": 8002,
    "messaging": 8003,
    "documents": 8004,
    "billing": 8005,
    "payments": 8006,
}


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value is not None else default


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, else `<PG_BASE_URL>/<DB_PREFIX><service>`."""
    explicit = env(f"{service.upper()}_DATABASE_URL")
    if explicit:
        return explicit
    base = env("PG_BASE_URL", PG_BASE_URL)
    prefix = env("DB_PREFIX", "portal_")
    return f"{base}/{prefix}{service}"


def service_url(service: str) -> str:
    return env(f"{service.upper()}_URL", f"http://127.0.0.1:{SERVICE_PORTS[service]}")


@dataclass
class BaseConfig:
    """What every service reads; a service's own config.py extends it."""

    service: str = "service"
    database_url: str = ""
    amqp_url: str = field(default_factory=lambda: env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    events_exchange: str = field(default_factory=lambda: env("EVENTS_EXCHANGE", "portal.events"))
    # How long the relay waits after a commit's notification before reading the outbox, so commits close
    # together leave in one batch (Kafka's linger.ms): a payment's attempted and settled events, for one.
    relay_linger_ms: int = field(default_factory=lambda: env_int("RELAY_LINGER_MS", 10))
    celery_broker_url: str = field(
        default_factory=lambda: env("CELERY_BROKER_URL", env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"))
    )
    jwks_url: str = field(
        default_factory=lambda: env("JWKS_URL", service_url("identity") + "/.well-known/jwks.json")
    )
    jwt_issuer: str = field(default_factory=lambda: env("JWT_ISSUER", "portal-identity"))
    jwt_audience: str = field(default_factory=lambda: env("JWT_AUDIENCE", "portal"))
    smtp_host: str = field(default_factory=lambda: env("SMTP_HOST", "127.0.0.1"))
    smtp_port: int = field(default_factory=lambda: env_int("SMTP_PORT", 1025))
    mail_from: str = field(default_factory=lambda: env("MAIL_FROM", "Client Portal <no-reply@portal.local>"))
    portal_base_url: str = field(default_factory=lambda: env("PORTAL_BASE_URL", "http://127.0.0.1:8000"))
    log_level: str = field(default_factory=lambda: env("LOG_LEVEL", "INFO"))
    # The largest request body anyone accepts: the gateway refuses a larger one first (413), and every
    # service applies the same figure behind it (Flask's MAX_CONTENT_LENGTH).
    max_body_bytes: int = field(default_factory=lambda: env_int("MAX_BODY_BYTES", 16 * 1024 * 1024))
    # The shared key of the services' /internal routes (never routed by the gateway).
    internal_api_key: str = field(default_factory=lambda: env("INTERNAL_API_KEY", "dev-internal-key"))
    testing: bool = False

    def __post_init__(self) -> None:
        if not self.database_url and self.service != "gateway":
            self.database_url = database_url(self.service)
