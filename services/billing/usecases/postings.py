"""Payments and refunds posted to the ledger from payments' events (payment.succeeded, payment.refunded), inside
the consumer's transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.billing import ledger
from services.billing.domain.allocation import Paid, after_allocation, allocate, refund_reversals
from services.billing.domain.errors import EventForUnknownClient
from services.billing.models import Allocation, LedgerEntry


def post_payment(session: Session, payload: dict) -> None:
    """payment.succeeded: on the ledger once, allocated to the invoices named, else oldest due first;
    what is left is an account credit for the next invoice."""
    client_id, currency = ledger.lock_for_posting(session, payload["client_id"], from_event=True)
    amount = int(payload["amount_cents"])
    method = payload.get("method") or {}
    posted = ledger.append_reading_open_invoices(
        session, client_id, kind="payment", amount_cents=-amount, currency=currency,
        description=f"Payment by {card_label(method)}", payment_id=payload["payment_id"], method=method or None)
    if posted is None:
        return  # the same payment under another event id: already posted
    entry, open_invoices = posted
    allocations, _credit = allocate(amount, open_invoices, list(payload.get("invoice_ids") or []))
    ledger.add_allocations(session, allocations, entry.id)
    # under the account lock nothing else changed these invoices: what is left open follows from the allocations
    still_open, paid_off = after_allocation(open_invoices, allocations)
    messages = ledger.set_paid(session, client_id, paid_off)
    # With the balance after posting: payments stops counting this payment and sees the new balance at once.
    snapshot = ledger.snapshot(client_id, balance_cents=entry.balance_after_cents, currency=currency,
                               ledger_seq=entry.seq, open_invoices=still_open)
    messages.append(("payment.posted", {
        **snapshot, "payment_id": payload["payment_id"], "client_id": client_id, "amount_cents": amount,
        "currency": currency, "entry_id": entry.id,
        "allocations": [{"invoice_id": i, "amount_cents": a} for i, a in allocations]}))
    messages.append(("balance.changed", snapshot))
    # invoice.paid (each invoice paid off), payment.posted and balance.changed, in that order, in one INSERT
    ledger.publish_all(session, messages)


def card_label(method: dict) -> str:
    return f"{method.get('brand', 'card').title()} ending {method['last4']}" if method.get("last4") else "card"


def post_refund(session: Session, payload: dict) -> None:
    """payment.refunded: the refund raises the balance; it uses up account credit first, then re-opens
    the invoices that payment paid, the most recent first."""
    client_id = ledger.lock_account(session, payload["client_id"], from_event=True).client_id
    payment = session.scalars(select(LedgerEntry).where(ledger.kind_is("payment"),
                                                        LedgerEntry.payment_id == payload["payment_id"])).first()
    if payment is None:
        raise EventForUnknownClient(f"refund for payment {payload['payment_id']} not posted yet")
    amount = int(payload["amount_cents"])
    # this payment's own money on no invoice (not the whole account's credit)
    credit = ledger.payment_unallocated(session, payment)
    allocations = [Paid(a.invoice_id, a.amount_cents) for a in session.scalars(
        select(Allocation).where(Allocation.entry_id == payment.id).order_by(Allocation.created_at))]
    reversals = refund_reversals(amount, credit, allocations)
    currency = ledger.practice_currency(session)
    entry = ledger.append(session, client_id, kind="refund", amount_cents=amount, currency=currency,
                          description="Refund of " + payment.description.lower(), payment_id=payload["payment_id"],
                          refund_id=payload["refund_id"], reason=payload.get("reason"), once=True)
    if entry is None:
        return  # the same refund again: already posted
    ledger.add_allocations(session, reversals, payment.id)
    ledger.settle_paid_flags(session, client_id, {i for i, _ in reversals})
    ledger.balance_changed(session, client_id, ledger.snapshot(
        client_id, balance_cents=entry.balance_after_cents, currency=currency, ledger_seq=entry.seq,
        open_invoices=ledger.open_invoices(session, client_id)))


