"""Payments' HTTP adapters: thin routes that parse, call one use case, and dump."""

from flask import current_app, request

from services.payments.service import PaymentsService
from shared.errors import BadRequest


def payments() -> PaymentsService:
    return current_app.extensions["payments"]


def idempotency_key(*, required: bool = True) -> str | None:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key and not required:
        return None
    if not key:
        raise BadRequest("Send an Idempotency-Key header (a fresh random value per payment attempt).",
                         errors={"Idempotency-Key": ["Required."]})
    if len(key) > 255:
        raise BadRequest("The Idempotency-Key may be at most 255 characters.",
                         errors={"Idempotency-Key": ["At most 255 characters."]})
    return key
