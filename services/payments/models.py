"""Payments' tables: saved cards (the processor's payment method and customer, never a token), payments, refunds,
idempotency keys, and the projections it keeps of billing (balance, open invoices) and identity (clients, practice
settings)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, func, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Json, UTCDateTime, new_id, service_metadata
from shared.directory import PracticeColumns
from shared.events import define_event_tables


class Base(DeclarativeBase):
    metadata = service_metadata()


class Account(Base):
    """A client as payments knows it, and billing's balance as of its latest balance.changed."""

    __tablename__ = "accounts"
    client_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    ledger_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    open_invoices: Mapped[list] = mapped_column(Json, default=list)  # [{invoice_id, balance_cents}]


class Practice(PracticeColumns, Base):
    """Payments' copy of the practice settings (from practice.settings_changed): receipts and the switch."""

    __tablename__ = "practice"


class InvoiceRef(Base):
    """Invoice numbers for receipts and answers (from invoice.generated)."""

    __tablename__ = "invoices"
    invoice_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    number: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(BigInteger)


class PaymentMethod(Base):
    """A card saved at the processor: its payment method there, attached to the processor's customer for this
    client. The single-use token it was saved from is spent and not kept.

    A card saved before migration 0003 (a "legacy" card) has its reusable token and no payment method yet, until
    the conversion attaches the token to the client's customer (PaymentsService.convert_legacy_cards): then the
    token is cleared. A removed card keeps neither token nor any use."""

    __tablename__ = "payment_methods"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    processor_customer_id: Mapped[str | None] = mapped_column(String(100))
    processor_payment_method_id: Mapped[str | None] = mapped_column(String(100))
    # a legacy card's token, only until its conversion (see above); None for every card saved since
    processor_token: Mapped[str | None] = mapped_column(String(200))
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    cardholder_name: Mapped[str | None] = mapped_column(String(200))
    fingerprint: Mapped[str | None] = mapped_column(String(128))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # payment_method.expiring was written for this card (once per card, ever: see Cards.announce_expiring_cards)
    expiry_notice_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        # One default card per client, enforced by the database too.
        Index("uq_payment_methods_default", "client_id", unique=True,
              postgresql_where=text("is_default AND removed_at IS NULL")),
        # A payment method at the processor is one client's card, never two clients'.
        Index("uq_payment_methods_processor_method", "processor_payment_method_id", unique=True,
              postgresql_where=text("processor_payment_method_id IS NOT NULL")),
        # Legacy tokens, looked up when a token is presented as a new card (empty once every card is converted).
        Index("ix_payment_methods_legacy_token", "processor_token",
              postgresql_where=text("processor_token IS NOT NULL")),
        # The cards on file not told of their expiry yet, by expiry month: the hourly look for those near it.
        Index("ix_payment_methods_expiry_unnoticed", "exp_year", "exp_month",
              postgresql_where=text("removed_at IS NULL AND expiry_notice_sent_at IS NULL")),
    )


# A payment still weighing on what the client can pay: in flight, or succeeded and not yet on billing's
# ledger (payment.posted not seen). Literal SQL, shared by the partial index and the query that reads it:
# a predicate compared to a bind parameter could not use the index under a generic (prepared) plan.
OPEN_PAYMENT_SQL = "status IN ('pending', 'processing') OR (status = 'succeeded' AND posted_at IS NULL)"


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(36))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    # pending (charge not answered yet) | processing (outcome unknown: reconciled) | succeeded | failed
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_message: Mapped[str | None] = mapped_column(String(300))
    payment_method_id: Mapped[str | None] = mapped_column(String(36))
    # Never written since migration 0003 (a new card's token stays in memory until the charge spends it): only a
    # payment left pending by the code before has one, cleared when it settles. To be dropped with the legacy
    # cards' token column.
    processor_token: Mapped[str | None] = mapped_column(String(200))
    brand: Mapped[str | None] = mapped_column(String(20))
    last4: Mapped[str | None] = mapped_column(String(4))
    invoice_ids: Mapped[list] = mapped_column(Json, default=list)
    note: Mapped[str | None] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(16), default="portal")  # portal | autopay
    processor_charge_id: Mapped[str | None] = mapped_column(String(100))
    refunded_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # billing's payment.posted arrived
    __table_args__ = (
        Index("ix_payments_client_created", "client_id", "created_at", "id"),
        Index("ix_payments_unsettled", "status", "created_at", postgresql_where=text("status IN ('pending', "
                                                                                    "'processing')")),
        Index("ix_payments_open", "client_id", postgresql_where=text(OPEN_PAYMENT_SQL)),
    )


class Refund(Base):
    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(36))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # pending | succeeded | failed
    processor_refund_id: Mapped[str | None] = mapped_column(String(100))
    failure_code: Mapped[str | None] = mapped_column(String(40))
    created_by: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class IdempotencyKey(Base):
    """The first answer to a key, kept (at least 24 h) so a repeat gets it back and charges nothing."""

    __tablename__ = "idempotency_keys"
    scope: Mapped[str] = mapped_column(String(80), primary_key=True)  # whose key: client:<id> | autopay
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")  # in_progress | done
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[dict | None] = mapped_column(Json)
    payment_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


outbox, processed_events = define_event_tables(Base.metadata)
