"""How a payment settles from the processor's answer, and which event says so."""

from __future__ import annotations

from datetime import datetime

from services.payments.processor.base import ChargeResult, failure_message

# A payment's outcome is not known yet: written and not charged (pending), or the charge's answer lost (processing).
UNSETTLED = ("pending", "processing")


def settlement(result: ChargeResult | str | None, now: datetime) -> dict:
    """The payment's new column values from the processor's answer: "processing" (the charge's answer was lost:
    left for reconciliation), a ChargeResult, or None (the processor never saw this reference, so nothing was
    charged: failed). The order of the keys is the settle statement's shape; keep it."""
    if result == "processing":
        return {"status": "processing"}
    if result is None:
        result = ChargeResult(status="failed", charge_id=None, failure_code="processor_unavailable",
                              failure_message=failure_message("processor_unavailable"))
    values = {"settled_at": now, "processor_charge_id": result.charge_id,
              "status": "succeeded" if result.succeeded else "failed"}
    if not result.succeeded:
        code = result.failure_code or "processing_error"
        values.update(failure_code=code, failure_message=result.failure_message or failure_message(code))
    return values


def outcome_event(payment, values: dict) -> tuple[str, dict] | None:
    """payment.succeeded or payment.failed for a payment (a Reservation or its row) settling with `values`;
    None while its outcome is still unknown."""
    common = {"payment_id": payment.id, "client_id": payment.client_id, "amount_cents": payment.amount_cents,
              "currency": payment.currency}
    if values["status"] == "succeeded":
        return "payment.succeeded", {**common, "invoice_ids": list(payment.invoice_ids or []),
                                     "processor_charge_id": values["processor_charge_id"],
                                     "method": {"brand": payment.brand, "last4": payment.last4},
                                     "source": payment.source}
    if values["status"] == "failed":
        return "payment.failed", {**common, "failure_code": values["failure_code"],
                                  "failure_message": values["failure_message"], "source": payment.source}
    return None
