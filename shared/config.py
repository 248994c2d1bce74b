"""Settings read from the environment; the defaults run the suite on one machine, except secrets, which have none.

A secret (`secret("INTERNAL_API_KEY")`) is always given: `make run` generates the development ones once into
var/secrets.env (`python -m shared.secrets`), tests and the bench pass their own. With PORTAL_ENV=production a
process also refuses a placeholder or a value written in this repository, and a database or broker URL whose
password is one. Every refusal names the variable, never its value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from shared.services import SERVICES

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
# Where each service listens locally (the port plan is shared/services.py).
SERVICE_PORTS = {service.name: service.port for service in SERVICES}


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_int(name: str, default: int) -> int:
    value = env(name)
    return int(value) if value is not None else default


class ConfigError(RuntimeError):
    """A setting the process cannot start without is missing or unusable; the message names it, never its value."""


# Written in this repository, now or in its history: anyone can read them, so production takes none of them.
KNOWN_VALUES = frozenset(v.lower() for v in (
    "dev-internal-key", "sk_test_sandbox", "Change-me: portal admin 2026!", "portal", "postgres", "guest",
    "password", "secret", "changeit", "admin",
))
# Placeholders of the deploy manifests (CHANGE-ME) and their usual spellings.
PLACEHOLDER_MARKERS = ("change-me", "change_me", "changeme", "placeholder", "replace-me")
LOCAL_SECRETS_HINT = ("`make run` generates the development secrets once into var/secrets.env; for a process of "
                      "your own, export them from there (set -a; . var/secrets.env; set +a) or set {name} yourself")


def environment() -> str:
    return (env("PORTAL_ENV") or "development").strip().lower()


def is_production() -> bool:
    return environment() == "production"


def _weakness(value: str, *, min_length: int = 0, refused_prefixes: tuple[str, ...] = ()) -> str | None:
    """Why production must not take this value, or None."""
    lowered = value.strip().lower()
    if any(marker in lowered for marker in PLACEHOLDER_MARKERS):
        return "holds a placeholder"
    if lowered in KNOWN_VALUES:
        return "holds a development value written in the repository"
    if any(lowered.startswith(prefix) for prefix in refused_prefixes):
        return "holds a test-mode key"
    if len(value.strip()) < min_length:
        return f"is shorter than {min_length} characters"
    return None


def refuse_in_production(name: str, value: str, **rules) -> str:
    """`value` unless PORTAL_ENV=production and it is a placeholder or a known value (ConfigError, naming `name`)."""
    if is_production():
        weakness = _weakness(value, **rules)
        if weakness:
            raise ConfigError(f"{name} {weakness}; PORTAL_ENV=production refuses it: set a real secret.")
    return value


def secret(name: str, *, min_length: int = 0, refused_prefixes: tuple[str, ...] = ()) -> str:
    """The secret `name` from the environment. It has no default anywhere: missing, it is a ConfigError that says
    where to get one; in production a placeholder, a known value or a too short one is refused as well."""
    value = env(name)
    if value is None:
        if is_production():
            raise ConfigError(f"{name} is not set; PORTAL_ENV=production needs it (see README, Security).")
        raise ConfigError(f"{name} is not set: " + LOCAL_SECRETS_HINT.format(name=name) + ".")
    return refuse_in_production(name, value, min_length=min_length, refused_prefixes=refused_prefixes)


def optional_secret(name: str, **rules) -> str | None:
    """A secret that may come from elsewhere when unset (a key file): None then, the production rule otherwise."""
    value = env(name)
    return None if value is None else refuse_in_production(name, value, **rules)


def check_url_credentials(name: str, url: str, *, password_required: bool = False) -> str:
    """In production, refuses a URL whose user or password is a placeholder or a known value (guest, portal,
    postgres, CHANGE-ME), or that has no password where the client would fall back to a default one."""
    if not is_production():
        return url
    try:
        parts = urlsplit(url)
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
    except ValueError:
        raise ConfigError(f"{name} is not a URL.") from None
    if any(marker in url.lower() for marker in PLACEHOLDER_MARKERS):
        raise ConfigError(f"{name} holds a placeholder; PORTAL_ENV=production refuses it: set the real URL.")
    if password.lower() in KNOWN_VALUES or (password_required and not password):
        what = "a development password" if password else "no password"
        raise ConfigError(f"{name} has {what}; PORTAL_ENV=production refuses it: set the real URL.")
    if user.lower() == "guest" and password_required:
        raise ConfigError(f"{name} uses the broker's default user; PORTAL_ENV=production refuses it.")
    return url


def database_url(service: str) -> str:
    """`<SERVICE>_DATABASE_URL`, else `<PG_BASE_URL>/<DB_PREFIX><service>`. Production names one of them explicitly
    (the built-in default is the local superuser without a password) and never a development password."""
    name = f"{service.upper()}_DATABASE_URL"
    explicit = env(name)
    if explicit:
        return check_url_credentials(name, explicit)
    base = env("PG_BASE_URL")
    if base is None and is_production():
        raise ConfigError(f"{name} is not set; PORTAL_ENV=production needs it (see README, Security).")
    prefix = env("DB_PREFIX", "portal_")
    return check_url_credentials(name if base is None else "PG_BASE_URL", f"{base or PG_BASE_URL}/{prefix}{service}")


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
    # The shared key of the services' /internal routes (never routed by the gateway). No default: see secret().
    internal_api_key: str = field(default_factory=lambda: secret("INTERNAL_API_KEY", min_length=32))
    testing: bool = False

    def __post_init__(self) -> None:
        if self.service == "gateway":  # no database, no broker
            return
        if not self.database_url:
            self.database_url = database_url(self.service)
        check_url_credentials(f"{self.service.upper()}_DATABASE_URL", self.database_url)
        # Without credentials the AMQP clients log in as guest/guest, RabbitMQ's well-known default.
        check_url_credentials("AMQP_URL", self.amqp_url, password_required=True)
        check_url_credentials("CELERY_BROKER_URL" if env("CELERY_BROKER_URL") else "AMQP_URL",
                              self.celery_broker_url, password_required=True)
