"""How payments's domain errors answer over HTTP: one table, read by create_app (shared.errors.install_error_handlers).

The domain raises its own exceptions, which know nothing of HTTP; each maps here to its status, slug and title.
Those answered with a generic problem type (validation-error, conflict, not-found) are the ones a client fixes
by changing a field, as marshmallow's refusals are."""

from __future__ import annotations

from services.payments.domain import errors as e
from shared.errors import CONFLICT, INVALID, NOT_FOUND, Mapped

ERROR_MAP: dict[type[Exception], Mapped] = {
    # the practice's switch
    e.OnlinePaymentsOff: Mapped(403, "online-payments-off", "Your practice does not take payments online"),
    e.SettingsUnknown: Mapped(503, "settings-unavailable", "Your practice's settings cannot be confirmed right now"),
    # what is payable
    e.NothingToPay: Mapped(422, "nothing-to-pay", "There is nothing to pay"),
    e.AmountOverBalance: Mapped(422, "amount-over-balance", "The amount is more than you owe"),
    e.InvoiceNotOpen: NOT_FOUND,
    e.CustomAmountForSeveralInvoices: INVALID,
    e.WrongCurrency: INVALID,
    # cards
    e.PaymentMethodNotFound: Mapped(404, "payment-method-not-found", "Card not found"),
    e.NoCardOnFile: INVALID,
    e.CardUnreadable: INVALID,
    e.CardExpired: Mapped(422, "expired_card", "This card has expired"),
    e.CardAlreadySaved: CONFLICT,
    e.CardReentryRequired: INVALID,
    e.ProcessorDown: Mapped(503, "processor-unavailable", "The card processor is not answering"),
    # idempotency keys
    e.IdempotencyConflict: Mapped(409, "idempotency-key-reused",
                                  "This Idempotency-Key was used for a different request"),
    e.RequestInProgress: Mapped(409, "request-in-progress",
                                "A request with this Idempotency-Key is still being processed"),
    # payments and refunds
    e.PaymentNotFound: Mapped(404, "payment-not-found", "Payment not found"),
    e.NoReceipt: CONFLICT,
    e.NotRefundable: CONFLICT,
    e.RefundTooLarge: Mapped(422, "refund-too-large", "The refund is more than what is left of the payment"),
}
