"""The adapter to the card processor: the CardProcessor contract and its HTTP implementation."""

from services.payments.processor.base import (
    FAILURE_CODES,
    FAILURE_MESSAGES,
    RETRYABLE_FAILURE_CODES,
    CardDetails,
    CardProcessor,
    CardTokenInvalid,
    ChargeResult,
    PaymentMethodNotOwned,
    ProcessorError,
    ProcessorRejected,
    ProcessorTimeout,
    ProcessorUnavailable,
    ReferenceConflict,
    RefundResult,
    SavedCard,
    failure_message,
)
from services.payments.processor.http import HttpProcessor

__all__ = [
    "FAILURE_CODES", "FAILURE_MESSAGES", "RETRYABLE_FAILURE_CODES", "CardDetails", "CardProcessor",
    "CardTokenInvalid", "ChargeResult", "HttpProcessor", "PaymentMethodNotOwned", "ProcessorError", "ProcessorRejected",
    "ProcessorTimeout", "ProcessorUnavailable", "ReferenceConflict", "RefundResult", "SavedCard", "failure_message",
]
