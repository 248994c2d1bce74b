"""Billing's domain errors: plain exceptions that know nothing of HTTP.

Each carries the sentence a person reads (its message) and, when it has them, `errors` (field -> messages),
`headers` and `extra` (more members of the answer). api/errors.py maps each class to its status, slug and title
(ERROR_MAP), and shared.errors carries these attributes into the problem answer."""

from __future__ import annotations

from shared.domain import DomainError


class BillingError(DomainError):
    """A refusal of one of billing's use cases."""


# --- the account and its documents ------------------------------------------------------------

class UnknownClient(BillingError):
    """No billing account for this client (billing has not heard of it, or it is not the caller's)."""


class InvoiceNotFound(BillingError):
    """No invoice with this id (for this client)."""


class DocumentNotFound(BillingError):
    """No invoice, statement, superbill or service code with this id (for this client)."""


# --- service codes and invoices ----------------------------------------------------------------

class ServiceCodeTaken(BillingError):
    """A service code of this name exists already."""


class InvoiceClientUnknown(BillingError):
    """An invoice for a client billing has no account for (a field the staff member fixes)."""


class NotACompletedSession(BillingError):
    """The session an invoice names is unknown, not completed, or another client's."""


class AlreadyInvoiced(BillingError):
    """The session has an invoice already."""


class UnknownServiceCodes(BillingError):
    """Some invoice lines name service codes that are unknown or no longer active."""


# --- adjustments -------------------------------------------------------------------------------

class NotTheClientsInvoice(BillingError):
    """An adjustment names an invoice that is unknown or another client's."""


class AdjustmentTooLarge(BillingError):
    """A write-off or discount larger than what is owed (on the invoice named, or on all open invoices)."""


# --- the practice's switches -------------------------------------------------------------------

class BillingDocumentsOff(BillingError):
    """The practice does not share billing documents with clients online."""


class AutopayOff(BillingError):
    """AutoPay is switched off for the practice."""


class SettingsUnknown(BillingError):
    """Identity could not confirm a switch is on: nothing is decided on a guess (the caller tries again)."""


# --- events ------------------------------------------------------------------------------------

class EventForUnknownClient(Exception):
    """An event names a client (or a payment) billing has not heard of yet: the consumer retries it, then
    dead-letters it, never drops it. No HTTP answer: an event handler raises it, never a route (not a
    BillingError, so it is in no ERROR_MAP)."""
