"""The catalogue's machinery: a contract per (event type, version), checked when an event is written and loaded
when one is consumed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields

# Types no service publishes: the suite's own tests and benchmarks write and consume events of these to exercise
# the outbox, the relay and the consumer. Any payload, any version; never in docs/events.md.
UNCHECKED_PREFIXES = ("test.", "bench.")


class EventContractError(ValueError):
    """An event that is not what the catalogue says: unknown type, unknown version, another producer's, or a
    payload that does not match its schema. `reason` is a short code (a dead-letter header carries it); the
    message names fields and what is wrong with them, never a value."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def _keeping_unknown(schema: Schema) -> Schema:
    """`schema` keeping members it does not declare at every depth: `unknown=INCLUDE` covers only the top level,
    and a nested object (the settings, a card's `method`, an open invoice) would still refuse a member a newer
    producer added, dead-lettering every such event."""
    for member in schema.fields.values():
        inner = member.inner if isinstance(member, fields.List) else member
        if isinstance(inner, fields.Nested):
            inner.unknown = INCLUDE
            _keeping_unknown(inner.schema)
    return schema


@dataclass(frozen=True)
class Consumer:
    """A service that reacts to an event, and how."""

    service: str
    reaction: str


@dataclass(frozen=True)
class Contract:
    """One version of one event: who publishes it, who reacts, its payload's schema and an example.

    `published`: False for the events of services not built yet (scheduling, messaging, documents): the contract
    they will publish, so their consumers can be written against it first."""

    type: str
    version: int
    producer: str
    schema: type[Schema]
    payload: type  # the TypedDict a handler's signature names
    example: dict[str, Any]
    description: str
    consumers: tuple[Consumer, ...] = ()
    published: bool = True
    _writer: Schema = field(init=False, repr=False, compare=False)
    _reader: Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Built once: a schema instance per use, not per event. The writer refuses a field the contract does not
        # declare (a producer adding one adds it here first); the reader keeps it (a newer producer's addition
        # within the version: add fields, never rename or drop them).
        object.__setattr__(self, "_writer", self.schema(unknown=RAISE))
        object.__setattr__(self, "_reader", _keeping_unknown(self.schema(unknown=INCLUDE)))

    @property
    def key(self) -> tuple[str, int]:
        return self.type, self.version

    def check(self, payload: Any) -> None:
        """Raises EventContractError unless `payload` is exactly what this contract allows."""
        if not isinstance(payload, dict):
            raise EventContractError("invalid_payload", f"{self.type} v{self.version}: the payload is no object")
        errors = self._writer.validate(payload)
        if errors:
            raise EventContractError("invalid_payload", f"{self.type} v{self.version}: {describe(errors)}")

    def load(self, payload: Any) -> dict[str, Any]:
        """The payload as a handler receives it: checked, the same keys (fields this version does not declare
        kept), the same JSON values."""
        if not isinstance(payload, dict):
            raise EventContractError("invalid_payload", f"{self.type} v{self.version}: the payload is no object")
        try:
            return self._reader.load(payload)
        except ValidationError as exc:
            raise EventContractError("invalid_payload", f"{self.type} v{self.version}: {describe(exc.messages)}"
                                     ) from None


def describe(errors: Any, path: str = "") -> str:
    """marshmallow's error tree in one line: `amount_cents: Not a valid integer.; method.last4: Missing data for
    required field.` (names and messages only: marshmallow's messages hold no input)."""
    parts: list[str] = []
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            name = path if key == "_schema" else f"{path}.{key}" if path else str(key)
            parts.append(describe(value, name))
    elif isinstance(errors, list | tuple):
        messages = [str(m) for m in errors if not isinstance(m, Mapping | list | tuple)]
        if messages:
            parts.append(f"{path or 'payload'}: {' '.join(messages)}")
        parts.extend(describe(m, path) for m in errors if isinstance(m, Mapping | list | tuple))
    else:
        parts.append(f"{path or 'payload'}: {errors}")
    return "; ".join(p for p in parts if p)


def unchecked(event_type: str) -> bool:
    return event_type.startswith(UNCHECKED_PREFIXES)


class Catalogue:
    """Every contract, by (type, version)."""

    def __init__(self, contracts: Iterable[Contract]):
        self._contracts: dict[tuple[str, int], Contract] = {}
        self._types: set[str] = set()
        for contract in contracts:
            if contract.key in self._contracts:
                raise ValueError(f"{contract.type} v{contract.version} is in the catalogue twice")
            self._contracts[contract.key] = contract
            self._types.add(contract.type)

    def __iter__(self):
        return iter(sorted(self._contracts.values(), key=lambda c: (c.type, c.version)))

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._types

    def get(self, event_type: str, version: int) -> Contract:
        contract = self._contracts.get((event_type, version))
        if contract is None:
            if event_type in self._types:
                raise EventContractError("unknown_version", f"{event_type} has no version {version}")
            raise EventContractError("unknown_type", "no such event type in the catalogue")
        return contract

    def published_by(self, producer: str) -> set[str]:
        return {c.type for c in self if c.producer == producer}

    def consumed_by(self, service: str) -> set[str]:
        return {c.type for c in self if any(k.service == service for k in c.consumers)}

    def check_outgoing(self, event_type: str, version: int, producer: str, payload: Any) -> None:
        """The outbox writer's check: raises EventContractError for an event the catalogue does not allow from
        `producer`."""
        if unchecked(event_type):
            return
        contract = self.get(event_type, version)
        if producer != contract.producer:
            raise EventContractError("wrong_producer", f"{event_type} is {contract.producer}'s to publish")
        contract.check(payload)

    def load_incoming(self, event_type: str, version: int, payload: Any) -> dict[str, Any]:
        """A consumed event's payload, loaded by its contract (EventContractError when it cannot be)."""
        if unchecked(event_type):
            return payload
        return self.get(event_type, version).load(payload)


__all__ = ["Catalogue", "Consumer", "Contract", "EventContractError", "UNCHECKED_PREFIXES", "describe",
           "unchecked"]
