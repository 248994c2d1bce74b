"""Messaging's domain errors (api/errors.py maps each to its HTTP answer)."""

from __future__ import annotations

from shared.domain import DomainError


class MessageInvalid(DomainError):
    """A subject or body that is empty or too long."""


class AttachmentRefused(DomainError):
    """A file of a type we do not take, whose bytes are not what its name says, too large, or too many."""


class ThreadNotFound(DomainError):
    """No such thread, or not the asking client's."""


class AttachmentNotFound(DomainError):
    pass


class NotificationNotFound(DomainError):
    pass


class UnknownClient(DomainError):
    """Staff named a client messaging has not heard of."""


class UnknownStaffMember(DomainError):
    pass


class NotReadyYet(DomainError):
    """The client's directory entry has not arrived yet (client.created is on its way)."""
