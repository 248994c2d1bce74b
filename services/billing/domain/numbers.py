"""How billing documents are numbered and named for people: one place for invoices, statements, superbills."""

from __future__ import annotations

_PREFIX = {"invoice": "", "statement": "STM-", "superbill": "SB-"}


def document_number(kind: str, number: int) -> str:
    return f"{_PREFIX[kind]}{number:06d}"


def document_file_name(kind: str, number: int) -> str:
    """The PDF's file name: the kind and the bare number, whatever the number's prefix for people."""
    return f"{kind}-{number:06d}.pdf"


def document_title(kind: str, number: int, period: tuple | None = None) -> str:
    if kind == "invoice":
        return f"Invoice #{document_number(kind, number)}"
    start, end = period
    return f"{kind.title()} {start.isoformat()} to {end.isoformat()}"
