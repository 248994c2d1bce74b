"""Identity publishes client.created, client.invited, client.registered, profile.updated,
practice.settings_changed (payloads built in service.py) and consumes nothing."""

from __future__ import annotations

PUBLISHES = ("client.created", "client.invited", "client.registered", "profile.updated",
             "practice.settings_changed")
SUBSCRIPTIONS: dict = {}
