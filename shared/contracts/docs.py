"""docs/events.md from the catalogue: `python -m shared.contracts.docs --write` (or without --write, to stdout)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marshmallow import Schema, fields

from shared.contracts import CATALOGUE, Catalogue
from shared.contracts.catalogue import Contract
from shared.contracts.fields import Currency, Id, IsoDate, IsoDateTime

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"
COMMAND = "python -m shared.contracts.docs --write"


def type_name(field: fields.Field) -> str:
    if isinstance(field, fields.Nested):
        inner = field.nested if isinstance(field.nested, type) else type(field.nested)
        return "object {" + ", ".join(_members(inner)) + "}"
    if isinstance(field, fields.List):
        return f"list of {type_name(field.inner)}"
    for kind, name in ((Id, "id (string)"), (Currency, "currency code"), (IsoDate, "date (YYYY-MM-DD)"),
                       (IsoDateTime, "date-time (ISO 8601)"), (fields.Boolean, "boolean"),
                       (fields.Integer, "integer"), (fields.Dict, "object"), (fields.String, "string")):
        if isinstance(field, kind):
            return name
    return type(field).__name__


def _members(schema: type[Schema]) -> list[str]:
    return [f"{name}{'' if f.required else '?'}" for name, f in schema().fields.items()]


def _choices(field: fields.Field) -> str:
    for validator in field.validators:
        if hasattr(validator, "choices"):
            return " (one of " + ", ".join(f"`{c}`" for c in validator.choices) + ")"
    return ""


def contract_section(contract: Contract) -> list[str]:
    status = "" if contract.published else " (not yet published)"
    lines = [f"### `{contract.type}` v{contract.version}{status}", "", contract.description, "",
             f"- producer: {contract.producer}"]
    if contract.consumers:
        lines.append("- consumers: " + "; ".join(f"{c.service} ({c.reaction})" for c in contract.consumers))
    lines += ["", "| field | type | required | null allowed |", "|---|---|---|---|"]
    for name, field in contract.schema().fields.items():
        lines.append(f"| `{name}` | {type_name(field)}{_choices(field)} | {'yes' if field.required else 'no'} | "
                     f"{'yes' if field.allow_none else 'no'} |")
    lines += ["", "```json", json.dumps(contract.example, indent=2, ensure_ascii=False), "```", ""]
    return lines


def render(catalogue: Catalogue = CATALOGUE) -> str:
    contracts = list(catalogue)
    lines = [
        "# Event catalogue",
        "",
        f"Generated from `shared/contracts/` by `{COMMAND}`; do not edit by hand (a test fails when it is stale).",
        "",
        "Exchange `portal.events` (topic, durable), routing key = `type`. Envelope: `id` (UUID), `type`, `version`,",
        "`occurred_at` (UTC ISO 8601), `producer`, `correlation_id`, `payload`. Money is integer `*_cents` with a",
        "`currency`; ids are strings (UUIDs). Within a version fields are added, never renamed or dropped.",
        "",
        "The outbox writer refuses an event this catalogue does not allow (unknown type or version, another service's",
        "type, a payload its schema refuses, a field it does not declare). A consumer's handler receives the payload",
        "loaded by its schema (fields a newer producer added are kept); a message of an unknown type or version, or",
        "whose payload its schema refuses, goes straight to the consumer's dead-letter queue, the reason in its",
        "`x-dead-letter-reason` header. Types starting `test.` or `bench.` are the suite's own tests' and are never",
        "published by a service.",
        "",
        "| type | version | producer | consumers | published |",
        "|---|---|---|---|---|",
    ]
    for c in contracts:
        consumers = ", ".join(dict.fromkeys(k.service for k in c.consumers)) or "—"
        lines.append(f"| [`{c.type}`](#{c.type.replace('.', '')}-v{c.version}) | {c.version} | {c.producer} | "
                     f"{consumers} | {'yes' if c.published else 'not yet'} |")
    lines += ["", "## Events", ""]
    for c in contracts:
        lines += contract_section(c)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.contracts.docs", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {DOC.relative_to(DOC.parents[1])}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC.parent.mkdir(exist_ok=True)
        DOC.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
