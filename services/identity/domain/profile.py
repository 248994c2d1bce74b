"""My Information: which fields a client may change, and what a change changed."""

from __future__ import annotations

CLIENT_EDITABLE = ("preferred_name", "email", "phone", "address", "emergency_contact", "insurance")
PRACTICE_OWNED = ("first_name", "last_name", "date_of_birth")
NESTED = ("address", "emergency_contact", "insurance")


def merged(current: dict | None, update: dict) -> dict:
    result = dict(current or {})
    result.update(update)
    return result


def apply_changes(current: dict, update: dict) -> dict[str, dict]:
    """{field: {"old": ..., "new": ...}} for each field whose value really changes."""
    changes = {}
    for name, value in update.items():
        new = merged(current.get(name), value) if name in NESTED else value
        old = current.get(name)
        if name in NESTED:
            old = old or {}
        if new != old:
            changes[name] = {"old": old, "new": new}
    return changes
