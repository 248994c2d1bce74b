"""Idempotency-Keys: which requests share a key's space, and what makes two requests the same request."""

from __future__ import annotations

import hashlib
import json


def payment_scope(client_id: str, source: str) -> str:
    """A client's own keys (the portal), apart from those another caller (AutoPay) sends for that client."""
    return f"client:{client_id}" if source == "portal" else f"{source}:{client_id}"


def refund_scope(payment_id: str) -> str:
    return f"refund:{payment_id}"


def request_hash(body: dict) -> str:
    """The same request: the same fields with the same values, whatever their order."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()
