"""Where identity's secrets come from: files named by the environment; local runs create them once."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet

from services.identity.domain.tokens import generate_private_key_pem

log = logging.getLogger(__name__)


def _read_or_create(path: str, make) -> bytes:
    file = Path(path)
    if file.exists():
        return file.read_bytes()
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
    return _read_or_create(config.private_key_file, generate_private_key_pem)


def previous_public_pems(config) -> list[bytes]:
    return [Path(p).read_bytes() for p in config.previous_public_key_files.split(",") if p.strip()]


def fernet(config) -> Fernet:
    if config.secret_key:
        return Fernet(config.secret_key.encode())
    return Fernet(_read_or_create(config.secret_key_file, Fernet.generate_key).strip())
