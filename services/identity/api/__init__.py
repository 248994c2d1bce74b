"""Identity's HTTP adapters: thin routes that parse, call one use case, and dump."""

from flask import current_app

from services.identity.service import IdentityService


def identity() -> IdentityService:
    return current_app.extensions["identity"]
