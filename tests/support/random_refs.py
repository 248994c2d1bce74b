"""Random ids instead of clean-up: every test makes its own clients and accounts."""

import uuid


def suffix() -> str:
    return uuid.uuid4().hex[:10]


def email(prefix: str = "client") -> str:
    return f"{prefix}.{suffix()}@example.test"


def address() -> str:
    """A random documentation-range address, so throttling by address never crosses tests."""
    n = uuid.uuid4().int
    return f"198.51.{(n >> 8) % 256}.{n % 254 + 1}"
