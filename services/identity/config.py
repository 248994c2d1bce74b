"""Identity's settings, read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.config import BaseConfig, env, env_int, optional_secret


@dataclass
class IdentityConfig(BaseConfig):
    service: str = "identity"
    # RS256 signing key (PEM). Outside production identity generates one under var/keys/ when the file is missing;
    # production never does (services/identity/keys.py).
    private_key_file: str = field(default_factory=lambda: env("JWT_PRIVATE_KEY_FILE", "var/keys/identity-jwt.pem"))
    previous_public_key_files: str = field(default_factory=lambda: env("JWT_PREVIOUS_PUBLIC_KEY_FILES", ""))
    # Fernet key that encrypts TOTP secrets at rest: IDENTITY_SECRET_KEY, else the file (generated under var/keys/
    # outside production, as the signing key).
    secret_key_file: str = field(default_factory=lambda: env("IDENTITY_SECRET_KEY_FILE",
                                                             "var/keys/identity-secret.key"))
    secret_key: str | None = field(default_factory=lambda: optional_secret("IDENTITY_SECRET_KEY"))
    access_token_ttl: int = field(default_factory=lambda: env_int("ACCESS_TOKEN_TTL_SECONDS", 900))
    refresh_token_ttl: int = field(default_factory=lambda: env_int("REFRESH_TOKEN_TTL_SECONDS", 30 * 86400))
    mfa_token_ttl: int = 300
    invitation_ttl: int = field(default_factory=lambda: env_int("INVITATION_TTL_HOURS", 72) * 3600)
    invitation_max_misses: int = 5
    password_reset_ttl: int = field(default_factory=lambda: env_int("PASSWORD_RESET_TTL_MINUTES", 60) * 60)
    practice_name: str = field(default_factory=lambda: env("PRACTICE_NAME", "Your Practice"))
    # Login throttling: failures per window before a lockout, per account and per address.
    account_max_failures: int = field(default_factory=lambda: env_int("LOGIN_ACCOUNT_MAX_FAILURES", 5))
    address_max_failures: int = field(default_factory=lambda: env_int("LOGIN_ADDRESS_MAX_FAILURES", 20))
    throttle_window: int = field(default_factory=lambda: env_int("LOGIN_THROTTLE_WINDOW_SECONDS", 900))
    lockout: int = field(default_factory=lambda: env_int("LOGIN_LOCKOUT_SECONDS", 900))
    # The proxies whose X-Forwarded-For is believed (addresses or networks, comma-separated): the gateway's
    # address, and a load balancer's in front of it. `make run` runs the gateway on this machine.
    trusted_proxies: str = field(default_factory=lambda: env("TRUSTED_PROXIES", "127.0.0.1,::1"))
    # Password-reset requests: at most this many reset mails per account per window (more requests answer the
    # same 202 and send nothing), and this many requests per client address per window (then 429).
    reset_account_max_mails: int = field(default_factory=lambda: env_int("PASSWORD_RESET_ACCOUNT_MAX_MAILS", 3))
    reset_account_window: int = field(default_factory=lambda: env_int("PASSWORD_RESET_ACCOUNT_WINDOW_SECONDS",
                                                                      3600))
    reset_address_max_requests: int = field(default_factory=lambda: env_int("PASSWORD_RESET_ADDRESS_MAX_REQUESTS",
                                                                            10))
    reset_address_window: int = field(default_factory=lambda: env_int("PASSWORD_RESET_ADDRESS_WINDOW_SECONDS",
                                                                      900))
    # A mail handed to the mail worker but not sent after this long is handed over again (a task lost, or its
    # retries spent while the mail server was down); the worker sends each mail once.
    mail_requeue_after: int = field(default_factory=lambda: env_int("MAIL_REQUEUE_AFTER_SECONDS", 1800))
