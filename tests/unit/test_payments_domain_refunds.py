"""What may be refunded (services/payments/domain/refunds.py)."""

from __future__ import annotations

import pytest

from services.payments.domain.errors import NotRefundable, RefundTooLarge
from services.payments.domain.refunds import check_refund_amount, check_refundable, refundable


@pytest.mark.parametrize("status", ["pending", "processing", "failed"])
def test_only_a_payment_that_went_through_is_refundable(status):
    check_refundable("succeeded")
    with pytest.raises(NotRefundable, match="Only a payment that went through can be refunded."):
        check_refundable(status)


def test_what_is_left_counts_refunds_done_and_pending():
    assert refundable(10_000, 2_000, 3_000) == 5_000
    assert refundable(10_000, 8_000, 3_000) == 0


def test_a_refund_up_to_what_is_left_and_not_a_cent_more():
    check_refund_amount(5_000, amount_cents=10_000, refunded_cents=2_000, pending_refunds_cents=3_000)
    with pytest.raises(RefundTooLarge) as refused:
        check_refund_amount(5_001, amount_cents=10_000, refunded_cents=2_000, pending_refunds_cents=3_000)
    assert str(refused.value) == "At most 5000 cents can still be refunded."
    assert refused.value.errors == {"amount_cents": ["At most 5000."]}
    assert refused.value.extra == {"refundable_cents": 5_000}
