"""Operator commands: `python -m shared.manage migrate [service ...]`, `drop-databases` (tests)."""

from __future__ import annotations

import argparse
import sys

from shared.config import database_url
from shared.migrations import ROOT, drop_database, upgrade


def services_with_migrations() -> list[str]:
    return sorted(p.parent.parent.name for p in (ROOT / "services").glob("*/migrations/env.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.manage")
    sub = parser.add_subparsers(dest="command", required=True)
    migrate = sub.add_parser("migrate", help="create each service's database if missing and migrate it")
    migrate.add_argument("services", nargs="*")
    drop = sub.add_parser("drop-databases", help="drop the services' databases (tests, resets)")
    drop.add_argument("services", nargs="*")
    args = parser.parse_args(argv)
    names = args.services or services_with_migrations()
    unknown = set(names) - set(services_with_migrations())
    if unknown:
        print(f"unknown services: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    for name in names:
        url = database_url(name)
        if args.command == "migrate":
            upgrade(name, url)
            print(f"{name}: migrated", flush=True)
        else:
            drop_database(url)
            print(f"{name}: dropped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
