"""Scheduling's domain errors: plain exceptions that know nothing of HTTP (api/errors.py maps each to its answer).

Each carries the sentence a person reads and, for a field the caller fixes, `errors` (field -> messages)."""

from __future__ import annotations

from shared.domain import DomainError


class SchedulingError(DomainError):
    """A refusal of one of scheduling's use cases."""


def field_error(cls: type[SchedulingError], field: str, message: str) -> SchedulingError:
    """A refusal naming the field to fix; the message is the answer's detail too."""
    return cls(message, errors={field: [message]})


# --- what a request names ------------------------------------------------------------------------

class UnknownReference(SchedulingError):
    """A field names a site, clinician, appointment type or client that does not exist, is inactive, or does not
    fit (a clinician who does not offer the type, a site the clinician does not work at)."""


class AppointmentNotFound(SchedulingError):
    """No appointment (or request) with this id, for this caller."""


class SetupNotFound(SchedulingError):
    """No site, clinician or appointment type with this id (the path's object)."""


# --- time -----------------------------------------------------------------------------------------

class BadTime(SchedulingError):
    """A start or an end the rules refuse: in the past, inside the minimum notice, past the horizon, not on a slot
    boundary, a local time that does not exist, an end before its start."""


class SlotTaken(SchedulingError):
    """The time is no longer free (another appointment holds it, or it is no longer offered)."""


# --- status and policy ----------------------------------------------------------------------------

class StatusChanged(SchedulingError):
    """The appointment is not in a status this change applies to (it changed meanwhile: a double click, two staff
    at once, or a decision already taken)."""


class InsideCancellationWindow(SchedulingError):
    """Too close to the start for the client to cancel online: the practice is to be contacted."""


class TooManyOpenRequests(SchedulingError):
    """The client has as many open requests as the practice allows."""


class SelfSchedulingOff(SchedulingError):
    """The practice does not take appointment requests online."""


class SettingsUnknown(SchedulingError):
    """Identity could not confirm self-scheduling is on: nothing is decided on a guess (the caller tries again)."""


class NotReadyYet(SchedulingError):
    """The client's account has not reached scheduling yet (identity's event is on its way): try again shortly."""


class FeedNotFound(SchedulingError):
    """No calendar feed for this secret (never made, or revoked)."""


# --- events ---------------------------------------------------------------------------------------

class EventForUnknownClient(Exception):
    """An event names a client scheduling has not heard of yet: the consumer retries, then dead-letters it."""
