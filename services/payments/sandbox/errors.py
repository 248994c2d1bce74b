"""The sandbox's refusals: each carries a processor error code, answered as problem+json with `error`."""

from __future__ import annotations


class SandboxError(Exception):
    """Answered as problem+json plus `error: {type, code, message}` (what a processor's client reads)."""

    status = 400
    slug = "bad-request"
    title = "Bad request"
    error_type = "invalid_request_error"
    code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, headers: dict | None = None,
                 errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.headers = headers or {}
        self.errors = errors  # {field or query parameter: [message]}, as the suite's 400s and 422s name them


class CardError(SandboxError):
    """The card itself is refused at tokenization: incorrect_number, expired_card, incorrect_cvc."""

    status, slug, title, error_type = 402, "card-error", "The card was refused", "card_error"

    def __init__(self, code: str, message: str):
        super().__init__(message, code=code)


class InvalidApiKey(SandboxError):
    status, slug, title, error_type, code = 401, "unauthorized", "Authentication required", \
        "authentication_error", "invalid_api_key"

    def __init__(self, message: str = "Send your secret API key as `Authorization: Bearer <key>`."):
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="sandbox-processor"'})


class InvalidOrigin(SandboxError):
    """The card-fields page was asked for without a well-formed portal origin, or for one not allowed."""

    code = "invalid_origin"

    def __init__(self, message: str):
        super().__init__(message, errors={"origin": [message]})


class ResourceMissing(SandboxError):
    status, slug, title, code = 404, "not-found", "Not found", "resource_missing"


class TokenAlreadyUsed(SandboxError):
    """A token is single-use: attached to a customer or charged once, it is spent."""

    code = "token_already_used"


class CustomerMismatch(SandboxError):
    """A payment method charges only when named with the customer it belongs to."""

    code = "payment_method_customer_mismatch"


class IdempotencyConflict(SandboxError):
    """The reference was used before with other parameters: the first request stands."""

    status, slug, title, code = 409, "conflict", "Conflict", "idempotency_conflict"


class AmountTooLarge(SandboxError):
    status, slug, title, code = 409, "conflict", "Conflict", "amount_too_large"


class ChargeNotRefundable(SandboxError):
    status, slug, title, code = 409, "conflict", "Conflict", "charge_not_refundable"
