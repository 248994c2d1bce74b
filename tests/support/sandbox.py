"""The sandbox card processor as a Flask app for tests: its own SQLite file, no slow card, any origin."""

from __future__ import annotations

from pathlib import Path

from services.payments.sandbox.app import create_app
from services.payments.sandbox.config import SandboxConfig


def sandbox_app(folder: Path, api_key: str, **overrides):
    settings = {"database_path": str(folder / "sandbox.sqlite3"), "api_key": api_key, "slow_seconds": 0,
                "environment": "test", "cors_origins": ("*",), "testing": True, **overrides}
    return create_app(SandboxConfig(**settings))
