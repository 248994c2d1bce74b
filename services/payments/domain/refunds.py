"""What may be refunded: only a payment that went through, and never more than is left of it."""

from __future__ import annotations

from services.payments.domain.errors import NotRefundable, RefundTooLarge


def check_refundable(status: str) -> None:
    if status != "succeeded":
        raise NotRefundable("Only a payment that went through can be refunded.")


def refundable(amount_cents: int, refunded_cents: int, pending_refunds_cents: int) -> int:
    """What is left to refund: the amount charged minus refunds that went through and those still pending
    (which may yet go through)."""
    return max(0, amount_cents - refunded_cents - pending_refunds_cents)


def check_refund_amount(requested_cents: int, *, amount_cents: int, refunded_cents: int,
                        pending_refunds_cents: int) -> None:
    left = refundable(amount_cents, refunded_cents, pending_refunds_cents)
    if requested_cents > left:
        raise RefundTooLarge(f"At most {left} cents can still be refunded.",
                             errors={"amount_cents": [f"At most {left}."]}, extra={"refundable_cents": left})
