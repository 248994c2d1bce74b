"""Accounts: who is staff, and who may take a staff member's access away."""

from __future__ import annotations

from services.identity.domain.errors import OwnAccountDeactivation

STAFF_ROLES = ("staff", "admin")


def ensure_may_set_active(*, admin_id: str, user_id: str, active: bool) -> None:
    """An administrator never locks themselves out: deactivating one's own account needs another administrator
    (the last administrator could otherwise leave the practice with none)."""
    if user_id == admin_id and not active:
        raise OwnAccountDeactivation("You cannot deactivate your own account; another administrator can.")
