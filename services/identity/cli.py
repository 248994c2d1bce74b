"""Operator commands for identity: `python -m services.identity.cli create-admin`."""

from __future__ import annotations

import argparse
import secrets
import sys

from shared.config import ConfigError, env, is_production, refuse_in_production

DEFAULT_ADMIN_EMAIL = "admin@practice.local"


def admin_password() -> tuple[str, bool]:
    """PORTAL_ADMIN_PASSWORD, else a random one outside production; answers whether it was generated.

    There is no default password: one written here would be everyone's. `make run` keeps the generated one in
    var/secrets.env; production must give one (and no placeholder)."""
    given = env("PORTAL_ADMIN_PASSWORD")
    if given is not None:
        return refuse_in_production("PORTAL_ADMIN_PASSWORD", given, min_length=12), False
    if is_production():
        raise ConfigError("PORTAL_ADMIN_PASSWORD is not set; PORTAL_ENV=production needs it for the first admin.")
    return secrets.token_urlsafe(18), True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.identity.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create-admin",
                            help="create the first admin from PORTAL_ADMIN_EMAIL / PORTAL_ADMIN_PASSWORD")
    create.add_argument("--print-password", action="store_true",
                        help="print the password of a new admin even when it came from PORTAL_ADMIN_PASSWORD "
                             "(`make run` does: it is the generated one of var/secrets.env)")
    args = parser.parse_args(argv)
    from services.identity.app import create_app

    email = env("PORTAL_ADMIN_EMAIL", DEFAULT_ADMIN_EMAIL)
    try:
        password, generated = admin_password()
    except ConfigError as exc:
        print(f"identity: {exc}", file=sys.stderr, flush=True)
        return 2
    app = create_app(mail=lambda *a: None)
    created = app.extensions["identity"].ensure_admin(email, password)
    if created:
        # Printed once, to the operator's terminal, at creation; a generated one is shown nowhere else.
        shown = password if generated or args.print_password else "(from PORTAL_ADMIN_PASSWORD)"
        print(f"identity: first admin created: {email} / {shown}", flush=True)
    else:
        print(f"identity: admin {email} already exists (PORTAL_ADMIN_PASSWORD only sets a new admin's password)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
