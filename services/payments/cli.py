"""Operator commands for payments: `python -m services.payments.cli reconcile` settles unknown outcomes now."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.payments.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("reconcile", help="ask the processor about pending/processing payments and refunds")
    run.add_argument("--older-than", type=int, default=None, help="seconds (default: RECONCILE_AFTER_SECONDS)")
    args = parser.parse_args(argv)
    from services.payments.tasks import service

    print(json.dumps(service().reconcile(older_than_seconds=args.older_than)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
