"""Operator commands for identity: `python -m services.identity.cli create-admin`."""

from __future__ import annotations

import argparse
import sys

from shared.config import env

DEFAULT_ADMIN_EMAIL = "admin@practice.local"
DEFAULT_ADMIN_PASSWORD = "Change-me: portal admin 2026!"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.identity.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create-admin", help="create the first admin from PORTAL_ADMIN_EMAIL / PORTAL_ADMIN_PASSWORD")
    parser.parse_args(argv)
    from services.identity.app import create_app

    email = env("PORTAL_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL)
    password = env("PORTAL_ADMIN_PASSWORD", DEFAULT_ADMIN_PASSWORD)
    app = create_app(mail=lambda *a: None)
    created = app.extensions["identity"].ensure_admin(email, password)
    if created:
        shown = password if password == DEFAULT_ADMIN_PASSWORD else "(from PORTAL_ADMIN_PASSWORD)"
        print(f"identity: first admin created: {email} / {shown}", flush=True)
    else:
        print(f"identity: admin {email} already exists", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
