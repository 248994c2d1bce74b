"""What identity publishes (PUBLISHES: payloads built by its use cases in usecases/, contracts in shared.contracts)
and consumes (nothing)."""

from __future__ import annotations

from shared.contracts.identity import (
    ClientCreated,
    ClientInvited,
    ClientRegistered,
    PracticeSettingsChanged,
    ProfileUpdated,
    StaffUserChanged,
)

PUBLISHES = {"client.created": ClientCreated, "client.invited": ClientInvited, "client.registered": ClientRegistered,
             "profile.updated": ProfileUpdated, "practice.settings_changed": PracticeSettingsChanged,
             "staff_user.changed": StaffUserChanged}
SUBSCRIPTIONS: dict = {}
