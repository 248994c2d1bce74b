"""The event catalogue, in code: one contract per event type and version (producer, consumers, payload schema,
example). The outbox writer checks every event against it; the consumer loads every payload by it; docs/events.md
is generated from it (`python -m shared.contracts.docs --write`)."""

from __future__ import annotations

from shared.contracts import billing, identity, messaging, payments, scheduling, upcoming
from shared.contracts.catalogue import (
    UNCHECKED_PREFIXES,
    Catalogue,
    Consumer,
    Contract,
    EventContractError,
    unchecked,
)

CATALOGUE = Catalogue([*identity.CONTRACTS, *billing.CONTRACTS, *payments.CONTRACTS, *scheduling.CONTRACTS,
                       *messaging.CONTRACTS, *upcoming.CONTRACTS])

__all__ = ["CATALOGUE", "UNCHECKED_PREFIXES", "Catalogue", "Consumer", "Contract", "EventContractError", "unchecked"]
