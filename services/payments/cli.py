"""Operator commands for payments: `python -m services.payments.cli reconcile` settles unknown outcomes now;
`convert-cards` converts the cards saved before migration 0003 now (the beat also does, every minute)."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.payments.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("reconcile", help="ask the processor about pending/processing payments and refunds")
    run.add_argument("--older-than", type=int, default=None, help="seconds (default: RECONCILE_AFTER_SECONDS)")
    sub.add_parser("convert-cards", help="attach every card saved by reusable token to its client's customer at "
                                         "the processor (a refused token: the card removed for re-entry)")
    args = parser.parse_args(argv)
    from services.payments.tasks import service

    if args.command == "convert-cards":
        summary = service().convert_legacy_cards()
        print(json.dumps(summary), flush=True)
        return 1 if summary["unknown"] else 0  # some cards left for later: say so to a script
    print(json.dumps(service().reconcile(older_than_seconds=args.older_than)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
