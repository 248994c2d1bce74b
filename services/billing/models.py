"""Billing's tables: accounts (its client directory), service codes, invoices, the ledger, documents, AutoPay."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shared.db import Json, UTCDateTime, new_id, service_metadata
from shared.directory import ClientDirectoryColumns, PracticeColumns
from shared.events import define_event_tables


class Base(DeclarativeBase):
    metadata = service_metadata()


class Account(ClientDirectoryColumns, Base):
    """A client's billing account, and billing's copy of the client's directory entry (every directory field)."""

    __tablename__ = "accounts"
    autopay_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    autopay_failures: Mapped[int] = mapped_column(Integer, default=0)
    autopay_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    default_payment_method_id: Mapped[str | None] = mapped_column(String(36))  # from payments' events


class Practice(PracticeColumns, Base):
    """Billing's copy of the practice settings (from practice.settings_changed) and its own billing profile."""

    __tablename__ = "practice"
    email: Mapped[str | None] = mapped_column(String(254))
    billing_documents_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    autopay_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # billing's own: what a superbill needs
    provider_name: Mapped[str | None] = mapped_column(String(200))
    provider_credentials: Mapped[str | None] = mapped_column(String(100))
    npi: Mapped[str | None] = mapped_column(String(10))
    tax_id: Mapped[str | None] = mapped_column(String(20))
    license: Mapped[str | None] = mapped_column(String(50))
    place_of_service: Mapped[str | None] = mapped_column(String(100))


class ServiceCode(Base):
    __tablename__ = "service_codes"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    description: Mapped[str] = mapped_column(String(200))
    rate_cents: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class BillableSession(Base):
    """A completed appointment (from appointment.completed), or a late cancel or no-show the practice charges a fee
    for: billable until invoiced."""

    __tablename__ = "billable_sessions"
    appointment_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("accounts.client_id"), index=True)
    clinician_id: Mapped[str | None] = mapped_column(String(36))
    appointment_type: Mapped[str | None] = mapped_column(String(100))
    service_code: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20), default="completed", server_default="completed")
    fee: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invoice_id: Mapped[str | None] = mapped_column(String(36))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("accounts.client_id"))
    appointment_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    date_of_service: Mapped[date | None] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_date: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total_cents: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(500))
    # When the balance last reached zero (invoice.paid sent); cleared when a refund reopens it.
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(36))
    lines: Mapped[list[InvoiceLine]] = relationship(order_by="InvoiceLine.position", lazy="selectin")
    __table_args__ = (
        Index("ix_invoices_client_issued", "client_id", "issued_at", "id"),
        Index("ix_invoices_open", "client_id", "due_date", "number", postgresql_where=text("paid_at IS NULL")),
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    service_code: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(200))
    units: Mapped[int] = mapped_column(Integer)
    rate_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    date_of_service: Mapped[date | None] = mapped_column(Date)


class LedgerEntry(Base):
    """Every change of money. Amounts are signed: a charge or refund raises the balance, a payment or
    adjustment lowers it. balance_after_cents is computed at insert under the account lock; entries
    are never edited."""

    __tablename__ = "ledger_entries"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("accounts.client_id"))
    kind: Mapped[str] = mapped_column(String(16))  # charge | payment | refund | adjustment
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    balance_after_cents: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(300))
    invoice_id: Mapped[str | None] = mapped_column(String(36))
    payment_id: Mapped[str | None] = mapped_column(String(36))
    refund_id: Mapped[str | None] = mapped_column(String(36))
    adjustment_kind: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    method: Mapped[dict | None] = mapped_column(Json)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(36))
    __table_args__ = (
        Index("ix_ledger_client_seq", "client_id", "seq"),
        Index("ix_ledger_client_occurred", "client_id", "occurred_at", "seq"),
        # A payment, a refund or an invoice's charge is on the ledger at most once, whatever the events do.
        Index("uq_ledger_payment", "payment_id", unique=True, postgresql_where=text("kind = 'payment'")),
        Index("uq_ledger_refund", "refund_id", unique=True, postgresql_where=text("kind = 'refund'")),
        Index("uq_ledger_charge", "invoice_id", unique=True, postgresql_where=text("kind = 'charge'")),
    )


class Allocation(Base):
    """How much of an invoice a credit paid (positive) or a refund un-paid (negative).
    entry_id is the payment or adjustment it came from; none when an account credit was applied."""

    __tablename__ = "allocations"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    entry_id: Mapped[str | None] = mapped_column(ForeignKey("ledger_entries.id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Statement(Base):
    __tablename__ = "statements"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("accounts.client_id"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(36))


class Superbill(Base):
    __tablename__ = "superbills"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("accounts.client_id"), index=True)
    period_from: Mapped[date] = mapped_column(Date)
    period_to: Mapped[date] = mapped_column(Date)
    diagnosis_codes: Mapped[list] = mapped_column(Json, default=list)
    provider: Mapped[dict] = mapped_column(Json, default=dict)
    place_of_service: Mapped[str | None] = mapped_column(String(100))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(36))


class Counter(Base):
    """Gap-free document numbers: the row is locked in the issuing transaction."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class AutopayRun(Base):
    __tablename__ = "autopay_runs"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    run_key: Mapped[str] = mapped_column(String(50))
    trigger: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    summary: Mapped[dict] = mapped_column(Json, default=dict)


class AutopayAttempt(Base):
    __tablename__ = "autopay_attempts"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    run_key: Mapped[str] = mapped_column(String(50))
    client_id: Mapped[str] = mapped_column(ForeignKey("accounts.client_id"), index=True)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(20))  # succeeded | failed | processing | error
    payment_id: Mapped[str | None] = mapped_column(String(36))
    failure_code: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())
    __table_args__ = (UniqueConstraint("run_key", "client_id"),)


outbox, processed_events = define_event_tables(Base.metadata)
