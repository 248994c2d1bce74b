"""Identity's HTTP adapters: thin routes that parse, call one use case, and dump."""

from flask import current_app, request

from services.identity.service import IdentityService


def identity() -> IdentityService:
    return current_app.extensions["identity"]


def client_address() -> str | None:
    """The client's address, as the throttles key on it: X-Forwarded-For is believed from the configured proxies
    only (services/identity/forwarded.py)."""
    return request.remote_addr
