"""Operator commands for billing: `python -m services.billing.cli autopay-run` runs AutoPay now."""

from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.billing.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("autopay-run", help="run AutoPay now (a rerun the same night charges nobody twice)")
    parser.parse_args(argv)
    from services.billing.tasks import runner

    print(json.dumps(runner().run(trigger="cli"), default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
