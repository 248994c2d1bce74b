"""Forms over API objects whose fields are named with dots for nested members ("address.city"): the values a
form shows, and the body a PATCH sends (only what changed; an emptied field as null)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def get(record: Mapping, name: str):
    head, _, member = name.partition(".")
    return (record.get(head) or {}).get(member) if member else record.get(head)


def put(out: dict, name: str, value) -> None:
    head, _, member = name.partition(".")
    if member:
        out.setdefault(head, {})[member] = value
    else:
        out[head] = value


def flat(record: Mapping, names: Iterable[str]) -> dict[str, str]:
    """What the form's inputs show: every field, "" for a missing one."""
    return {name: "" if (value := get(record, name)) is None else value for name in names}


def filled(form: Mapping, names: Iterable[str]) -> dict:
    """A new object's body: what was filled in (an empty field is not sent; the API says what is required)."""
    out: dict = {}
    for name in names:
        value = (form.get(name) or "").strip()
        if value:
            put(out, name, value)
    return out


def changed(form: Mapping, current: Mapping[str, str], names: Iterable[str]) -> dict:
    """A PATCH body: only the fields the form has that differ from the record (an emptied field as null)."""
    out: dict = {}
    for name in names:
        if name not in form:
            continue
        value = (form.get(name) or "").strip()
        if value != (current.get(name) or ""):
            put(out, name, value or None)
    return out
