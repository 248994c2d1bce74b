"""How billing's domain errors answer over HTTP: one table, read by create_app (shared.errors.install_error_handlers).

The domain raises its own exceptions, which know nothing of HTTP; each maps here to its status, slug and title.
Those answered with the generic validation-error are the ones a staff member fixes by changing a field, as
marshmallow's refusals are."""

from __future__ import annotations

from services.billing.domain import errors as e
from shared.errors import INVALID, Mapped

ERROR_MAP: dict[type[Exception], Mapped] = {
    # the account and its documents
    e.UnknownClient: Mapped(404, "unknown-client", "No billing account for this client"),
    e.InvoiceNotFound: Mapped(404, "invoice-not-found", "Invoice not found"),
    e.DocumentNotFound: Mapped(404, "document-not-found", "Billing document not found"),
    # service codes and invoices
    e.ServiceCodeTaken: Mapped(409, "service-code-taken", "This service code already exists"),
    e.InvoiceClientUnknown: INVALID,
    e.NotACompletedSession: INVALID,
    e.AlreadyInvoiced: Mapped(409, "already-invoiced", "This session already has an invoice"),
    e.UnknownServiceCodes: INVALID,
    # adjustments
    e.NotTheClientsInvoice: INVALID,
    e.AdjustmentTooLarge: Mapped(422, "adjustment-too-large", "The adjustment is larger than what is owed"),
    # the practice's switches
    e.BillingDocumentsOff: Mapped(403, "billing-documents-off",
                                  "Your practice does not share billing documents online"),
    e.AutopayOff: Mapped(409, "autopay-off", "AutoPay is switched off for the practice"),
    e.SettingsUnknown: Mapped(503, "settings-unavailable", "The practice's settings cannot be confirmed right now"),
}
