"""My Information: which fields a client may change, what a change changed, and what a review does with it."""

from __future__ import annotations

from datetime import date

from services.identity.domain.errors import AlreadyReviewed, PracticeOwnedFields

CLIENT_EDITABLE = ("preferred_name", "email", "phone", "address", "emergency_contact", "insurance")
PRACTICE_OWNED = ("first_name", "last_name", "date_of_birth")
NESTED = ("address", "emergency_contact", "insurance")
DECISIONS = {"accept": "accepted", "revert": "reverted"}  # a review's decision -> the change's status after it


def merged(current: dict | None, update: dict) -> dict:
    result = dict(current or {})
    result.update(update)
    return result


def jsonable(data: dict) -> dict:
    """A record's values as a change stores them (dates as ISO strings): what changes are compared in."""
    return {key: value.isoformat() if isinstance(value, date) else value for key, value in data.items()}


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


def ensure_client_may_change(fields) -> None:
    """A client changes their own details; names and date of birth are the practice's."""
    forbidden = sorted(set(fields) & set(PRACTICE_OWNED))
    if forbidden:
        raise PracticeOwnedFields("Your practice keeps these details; send them a message to change them.",
                                  errors={name: ["Only your practice can change this."] for name in forbidden})


def moves_sign_in(signs_in_with: str | None, new_email: str | None) -> bool:
    """Would a new e-mail move the address a portal account signs in with (None: the client has no account)?
    A removed e-mail moves nothing: it is refused for an account that signs in with it."""
    if not new_email or signs_in_with is None:
        return False
    return signs_in_with != new_email.strip().lower()


def ensure_pending(status: str) -> None:
    """A change is reviewed once: accepted or reverted, it stays so."""
    if status != "pending":
        raise AlreadyReviewed(f"This change was already {status}.")


def revert(current: dict, changes: dict[str, dict]) -> tuple[dict, list[str]]:
    """What reverting `changes` (apply_changes' {field: {"old", "new"}}) does to the record as it is now
    (`current`, jsonable): (the old value of each field still holding the change's new value, and the fields
    changed again since, in the change's order). A later change stands: a revert never undoes more than this one."""
    restore, skipped = {}, []
    for name, values in changes.items():
        if current.get(name) == values["new"]:
            restore[name] = values["old"]
        else:
            skipped.append(name)
    return restore, skipped
