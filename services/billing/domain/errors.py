"""Billing's domain errors, each with its HTTP answer through the shared problem types."""

from __future__ import annotations

from shared.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, Unprocessable


class UnknownClient(NotFound):
    slug, title = "unknown-client", "No billing account for this client"


class InvoiceNotFound(NotFound):
    slug, title = "invoice-not-found", "Invoice not found"


class DocumentNotFound(NotFound):
    slug, title = "document-not-found", "Billing document not found"


class ServiceCodeTaken(Conflict):
    slug, title = "service-code-taken", "This service code already exists"


class AlreadyInvoiced(Conflict):
    slug, title = "already-invoiced", "This session already has an invoice"


class AdjustmentTooLarge(Unprocessable):
    slug, title = "adjustment-too-large", "The adjustment is larger than what is owed"


class BillingDocumentsOff(Forbidden):
    slug, title = "billing-documents-off", "Your practice does not share billing documents online"


class AutopayOff(Conflict):
    slug, title = "autopay-off", "AutoPay is switched off for the practice"


class SettingsUnknown(ServiceUnavailable):
    """Identity could not confirm a switch is on: nothing is decided on a guess (the caller tries again)."""

    slug, title = "settings-unavailable", "The practice's settings cannot be confirmed right now"


class EventForUnknownClient(Exception):
    """An event names a client billing has not heard of yet: retried, then dead-lettered, never dropped."""
