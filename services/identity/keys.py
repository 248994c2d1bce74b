"""Where identity's secrets come from: files named by the environment (or IDENTITY_SECRET_KEY for the Fernet key).

They stay files, not entries of var/secrets.env: a PEM is several lines, and a checkout's existing var/keys/ holds
the key its database's encrypted two-factor seeds need. Outside production identity creates a missing one once
(`make run`, the e2e tier and the bench rely on it); with PORTAL_ENV=production it never does: a missing or
unusable key stops the process, naming the variable.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from services.identity.domain.tokens import generate_private_key_pem
from shared.config import ConfigError, is_production

log = logging.getLogger(__name__)
MIN_RSA_BITS = 2048


def _read_or_create(path: str, make, name: str) -> bytes:
    file = Path(path)
    if file.exists():
        return file.read_bytes()
    if is_production():
        raise ConfigError(f"{name} names no file; PORTAL_ENV=production never generates a key: mount the real one.")
    file.parent.mkdir(parents=True, exist_ok=True)
    data = make()
    # Written whole to a private temporary file, then linked into place: link() fails when another
    # process won the race, and no reader ever sees a half-written key.
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    try:
        os.link(tmp, file)
    except FileExistsError:
        return file.read_bytes()
    finally:
        tmp.unlink(missing_ok=True)
    log.info("created a new key file", extra={"fields": {"path": str(file)}})
    return data


def signing_key_pem(config) -> bytes:
    pem = _read_or_create(config.private_key_file, generate_private_key_pem, "JWT_PRIVATE_KEY_FILE")
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise ConfigError("JWT_PRIVATE_KEY_FILE does not hold an unencrypted PEM private key "
                          "(a placeholder?): generate one, e.g. openssl genpkey -algorithm RSA "
                          "-pkeyopt rsa_keygen_bits:3072.") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < MIN_RSA_BITS:
        raise ConfigError(f"JWT_PRIVATE_KEY_FILE must hold an RSA key of at least {MIN_RSA_BITS} bits (RS256).")
    return pem


def previous_public_pems(config) -> list[bytes]:
    return [Path(p).read_bytes() for p in config.previous_public_key_files.split(",") if p.strip()]


def fernet(config) -> Fernet:
    if config.secret_key:
        key, name = config.secret_key.encode(), "IDENTITY_SECRET_KEY"
    else:
        try:
            key = _read_or_create(config.secret_key_file, Fernet.generate_key, "IDENTITY_SECRET_KEY_FILE").strip()
        except ConfigError:
            raise ConfigError("Neither IDENTITY_SECRET_KEY nor the file IDENTITY_SECRET_KEY_FILE names is there; "
                              "PORTAL_ENV=production never generates a key: set the real one.") from None
        name = "IDENTITY_SECRET_KEY_FILE"
    try:
        return Fernet(key)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} is not a Fernet key (32 url-safe base64-encoded bytes): python -c "
                          "\"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())\"") from None
