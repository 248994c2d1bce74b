"""Messaging's tables: threads, their messages and attachments (the files' bytes in chunks), the notifications of
the bell, the mails it sends (each one a sent-mail record), and its copies of the client directory, the staff
directory, the practice's settings and the clients' cards and AutoPay (for the notices that name them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Json, UTCDateTime, new_id, service_metadata
from shared.directory import ClientDirectoryColumns, PracticeSettingsColumns
from shared.events import define_event_tables

SIDES = ("client", "staff")
AUDIENCES = ("client", "practice")
MAIL_STATUSES = ("pending", "sent", "skipped", "failed")


class Base(DeclarativeBase):
    metadata = service_metadata()


class Client(ClientDirectoryColumns, Base):
    """Messaging's copy of identity's client directory, and what billing and payments said of the client's AutoPay
    and default card (the AutoPay notices name the card)."""

    __tablename__ = "clients"
    autopay_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    default_payment_method_id: Mapped[str | None] = mapped_column(String(36))


class StaffMember(Base):
    """Identity's staff users (staff_user.changed): senders' names and the assignee's e-mail."""

    __tablename__ = "staff_members"
    user_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16), default="staff")
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Practice(PracticeSettingsColumns, Base):
    """The practice's settings as identity last announced them, and messaging's own: how long a message from the
    practice may stay unread before the client is e-mailed about it."""

    __tablename__ = "practice"
    client_email_delay_minutes: Mapped[int] = mapped_column(Integer, default=10)


class Card(Base):
    """A client's saved card as payments announced it: brand and last four only (never more)."""

    __tablename__ = "cards"
    payment_method_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    brand: Mapped[str | None] = mapped_column(String(20))
    last4: Mapped[str | None] = mapped_column(String(4))
    removed: Mapped[bool] = mapped_column(Boolean, default=False)


class Thread(Base):
    __tablename__ = "threads"
    __table_args__ = (
        CheckConstraint("started_by IN ('client', 'staff')", name="started_by"),
        # the practice inbox, newest first, and one client's threads
        Index("ix_threads_inbox", "last_message_at", "id"),
        Index("ix_threads_client", "client_id", "last_message_at", "id"),
        Index("ix_threads_assignee", "assigned_staff_id", "last_message_at"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(36))
    subject: Mapped[str] = mapped_column(String(200))
    started_by: Mapped[str] = mapped_column(String(10))
    assigned_staff_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Message(Base):
    """One message. `read_at` is the other side's: a client's message is read once a staff member opened the
    thread, the practice's once the client did (each side's unread count is a count of these, never a counter
    kept beside them)."""

    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("sender_role IN ('client', 'staff')", name="sender_role"),
        Index("ix_messages_thread", "thread_id", "seq"),
        # the unread counts: a thread's (its list row) and a client's or the practice's (the badge)
        Index("ix_messages_unread_thread", "thread_id", "sender_role", postgresql_where=text("read_at IS NULL")),
        Index("ix_messages_unread_client", "client_id", "sender_role", postgresql_where=text("read_at IS NULL")),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    # the order messages were written in, also when two carry the same instant
    seq: Mapped[int] = mapped_column(BigInteger, Identity(always=True), unique=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(36))
    sender_role: Mapped[str] = mapped_column(String(10))
    sender_id: Mapped[str] = mapped_column(String(36))
    sender_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attachment(Base):
    """A file of a message. Its bytes are AttachmentChunk rows written in the message's transaction (files.py)."""

    __tablename__ = "attachments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)  # its place among the message's files, as sent
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class AttachmentChunk(Base):
    __tablename__ = "attachment_chunks"
    attachment_id: Mapped[str] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Notification(Base):
    """One line of the bell: the client's own (audience client) or the practice's (audience practice, shared by
    every staff member). One per event and audience, whatever is redelivered."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint("audience IN ('client', 'practice')", name="audience"),
        Index("uq_notifications_event", "source_event_id", "audience", unique=True),
        Index("ix_notifications_list", "audience", "client_id", "created_at", "id"),
        Index("ix_notifications_practice", "audience", "created_at", "id"),
        Index("ix_notifications_unread", "audience", "client_id", postgresql_where=text("read_at IS NULL")),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    audience: Mapped[str] = mapped_column(String(10))
    client_id: Mapped[str | None] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    source_event_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Mail(Base):
    """A mail to send and, once sent, the record that it was: `key` makes one mail per event and recipient side
    (a redelivered event finds it); `coalesce_key` makes the "new message" mails of one client's thread side one
    pending mail (several messages in the delay give one e-mail). The sender (tasks.py) sends those whose
    `send_after` came, unless the condition of their template no longer holds (the messages were read meanwhile:
    skipped); one the SMTP server keeps refusing is `failed` after MAX_ATTEMPTS."""

    __tablename__ = "mails"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'skipped', 'failed')", name="status"),
        Index("ix_mails_due", "send_after", postgresql_where=text("status = 'pending'")),
        Index("uq_mails_coalesce", "coalesce_key", unique=True,
              postgresql_where=text("status = 'pending' AND coalesce_key IS NOT NULL")),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    coalesce_key: Mapped[str | None] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(60))
    recipient: Mapped[str] = mapped_column(String(254))
    client_id: Mapped[str | None] = mapped_column(String(36))
    context: Mapped[dict] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    send_after: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(200))


outbox, processed_events = define_event_tables(Base.metadata)
