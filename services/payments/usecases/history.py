"""Payments as the API shows them: one payment, a page of the history (staff's or a client's), a receipt."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.payments.domain.errors import NoReceipt, PaymentNotFound
from services.payments.models import Account, InvoiceRef, Payment
from services.payments.projections import practice
from shared.db import unit_of_work
from shared.pagination import paginate


def invoice_numbers(session: Session, payments) -> dict[str, int]:
    """The invoice numbers of every invoice these payments name, in one query (none when none names one)."""
    ids = list(dict.fromkeys(i for payment in payments for i in payment.invoice_ids or []))
    if not ids:
        return {}
    return dict(session.execute(select(InvoiceRef.invoice_id, InvoiceRef.number)
                                .where(InvoiceRef.invoice_id.in_(ids))).all())


def view(session: Session, payment, numbers: dict[str, int] | None = None) -> dict:
    """A payment (a mapped Payment or a row of the payments table) as the API shows it; `numbers`, the invoice
    numbers read for a whole page already (invoice_numbers), or read here."""
    if numbers is None:
        numbers = invoice_numbers(session, [payment])
    return {"id": payment.id, "client_id": payment.client_id, "status": payment.status,
            "amount_cents": payment.amount_cents, "currency": payment.currency,
            "failure_code": payment.failure_code, "failure_message": payment.failure_message,
            "method": {"brand": payment.brand, "last4": payment.last4}, "payment_method_id":
            payment.payment_method_id, "invoice_ids": list(payment.invoice_ids or []),
            "invoice_numbers": [numbers[i] for i in payment.invoice_ids or [] if i in numbers],
            "note": payment.note, "source": payment.source, "refunded_cents": payment.refunded_cents,
            "created_at": payment.created_at, "settled_at": payment.settled_at,
            "posted": payment.posted_at is not None,
            "receipt_url": f"/api/v1/portal/payments/{payment.id}/receipt"}


class History:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    def list_payments(self, *, client_id: str | None, start: date | None, end: date | None, status: str | None,
                      limit: int, cursor: str | None):
        """A page of payments, newest first, in three statements whatever its size: the practice's timezone,
        the page, and the invoice numbers of every payment on it."""
        with unit_of_work(self.sessions) as session:
            stmt = select(Payment)
            if client_id:
                stmt = stmt.where(Payment.client_id == client_id)
            tz = ZoneInfo(practice(session).timezone)  # dates are the practice's calendar days
            if start:
                stmt = stmt.where(Payment.created_at >= datetime.combine(start, time.min, tz))
            if end:
                stmt = stmt.where(Payment.created_at < datetime.combine(end + timedelta(days=1), time.min, tz))
            if status:
                stmt = stmt.where(Payment.status == status)
            rows, next_cursor = paginate(session, stmt, [Payment.created_at, Payment.id], [datetime, str],
                                         limit=limit, cursor=cursor, descending=True)
            numbers = invoice_numbers(session, rows)
            return [view(session, p, numbers) for p in rows], next_cursor

    def _payment(self, session: Session, payment_id: str, client_id: str | None) -> Payment:
        """The payment, if it is the client's (any payment for staff: client_id None)."""
        payment = session.get(Payment, payment_id)
        if payment is None or (client_id is not None and payment.client_id != client_id):
            raise PaymentNotFound("No payment with this id.")
        return payment

    def get_payment(self, payment_id: str, *, client_id: str | None) -> dict:
        with unit_of_work(self.sessions) as session:
            return view(session, self._payment(session, payment_id, client_id))

    def receipt(self, payment_id: str, *, client_id: str | None) -> tuple[str, bytes]:
        from services.payments.receipt import render_receipt

        with unit_of_work(self.sessions) as session:
            payment = self._payment(session, payment_id, client_id)
            if payment.status != "succeeded":
                raise NoReceipt("A receipt exists only for a payment that went through.")
            account = session.get(Account, payment.client_id)
            return f"receipt-{payment.id[:8]}.pdf", render_receipt(practice(session), account,
                                                                   view(session, payment))
