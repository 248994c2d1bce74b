"""Scheduling's tables: sites, clinicians, appointment types, weekly availability and its exceptions, appointments
(requests included), their reminders, the clients' calendar feeds, and its copies of the client directory and the
practice's settings with scheduling's own policy beside them."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Time,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import Json, UTCDateTime, new_id, service_metadata
from shared.directory import ClientDirectoryColumns, PracticeSettingsColumns
from shared.events import define_event_tables

# The statuses whose appointment holds the clinician's time: the exclusion constraint covers exactly these, so a
# cancelled, late-cancelled or no-show appointment frees its slot and a request holds nothing until approved.
HOLDING = ("booked", "confirmed", "completed")
STATUSES = ("requested", "denied") + HOLDING + ("cancelled", "late_cancelled", "no_show")
_HOLDING_SQL = "status IN (" + ", ".join(f"'{s}'" for s in HOLDING) + ")"


class Base(DeclarativeBase):
    metadata = service_metadata()


class Client(ClientDirectoryColumns, Base):
    """Scheduling's copy of identity's client directory (client.created, profile.updated)."""

    __tablename__ = "clients"


class Practice(PracticeSettingsColumns, Base):
    """The practice's settings as identity last announced them, and scheduling's own policy (staff edit it at
    /staff/scheduling-settings)."""

    __tablename__ = "practice"
    minimum_notice_minutes: Mapped[int] = mapped_column(Integer, default=24 * 60)
    horizon_days: Mapped[int] = mapped_column(Integer, default=60)
    max_open_requests: Mapped[int] = mapped_column(Integer, default=3)
    cancellation_window_hours: Mapped[int] = mapped_column(Integer, default=24)  # 0 (none), 24, 48 or 72
    approval: Mapped[str] = mapped_column(String(10), default="staff")  # staff | automatic
    reminder_lead_minutes: Mapped[list] = mapped_column(Json, default=lambda: [2880, 1440])
    late_cancel_fee: Mapped[bool] = mapped_column(Boolean, default=False)
    no_show_fee: Mapped[bool] = mapped_column(Boolean, default=False)


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    address: Mapped[dict] = mapped_column(Json, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class Clinician(Base):
    __tablename__ = "clinicians"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    credentials: Mapped[str | None] = mapped_column(String(50))
    staff_user_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


class ClinicianSite(Base):
    __tablename__ = "clinician_sites"
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"), primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"), primary_key=True)


class AppointmentType(Base):
    __tablename__ = "appointment_types"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100))
    modality: Mapped[str] = mapped_column(String(10))  # in_person | phone | video
    duration_minutes: Mapped[int] = mapped_column(Integer)
    bookable_online: Mapped[bool] = mapped_column(Boolean, default=False)
    service_code: Mapped[str | None] = mapped_column(String(20))  # billing's code for the session
    buffer_before_minutes: Mapped[int] = mapped_column(Integer, default=0)
    buffer_after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    __table_args__ = (CheckConstraint("modality IN ('in_person', 'phone', 'video')", name="modality"),)


class TypeClinician(Base):
    """Which clinicians offer an appointment type."""

    __tablename__ = "appointment_type_clinicians"
    appointment_type_id: Mapped[str] = mapped_column(ForeignKey("appointment_types.id", ondelete="CASCADE"),
                                                     primary_key=True)
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinicians.id"), primary_key=True)


class AvailabilityRule(Base):
    """A weekly stretch of a clinician's time at a site, in the site's wall clock (weekday 0 = Monday)."""

    __tablename__ = "availability_rules"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    weekday: Mapped[int] = mapped_column(Integer)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class AvailabilityException(Base):
    """One local date that differs from the weekly rules: time off (the whole day, or some hours) or extra hours."""

    __tablename__ = "availability_exceptions"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinicians.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date)
    available: Mapped[bool] = mapped_column(Boolean)
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    reason: Mapped[str | None] = mapped_column(String(200))


class Appointment(Base):
    """An appointment, from the client's request (status requested) or staff's booking, to its outcome.

    The exclusion constraint is the last word on double booking: two holding appointments of one clinician never
    overlap, whichever path (and however many connections at once) tried."""

    __tablename__ = "appointments"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"))
    clinician_id: Mapped[str] = mapped_column(ForeignKey("clinicians.id"))
    appointment_type_id: Mapped[str] = mapped_column(ForeignKey("appointment_types.id"))
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id"))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)  # the client's note with a request
    booked_by: Mapped[str] = mapped_column(String(10))  # client | staff
    reason: Mapped[str | None] = mapped_column(String(500))  # a denial's or a cancellation's
    fee: Mapped[bool] = mapped_column(Boolean, default=False)  # a late cancel or no-show the practice charges
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # bumps on each change of time or status (.ics)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now(), onupdate=func.now())
    __table_args__ = (
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        CheckConstraint("status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")", name="status"),
        ExcludeConstraint(("clinician_id", "="), (text("tstzrange(start_at, end_at, '[)')"), "&&"),
                          name="no_double_booking", using="gist", where=text(_HOLDING_SQL)),
        Index("ix_appointments_clinician_start", "clinician_id", "start_at"),
        Index("ix_appointments_client_start", "client_id", "start_at"),
    )


class Reminder(Base):
    """One reminder of an appointment at one lead time, for its start then. Cancelling or moving the appointment
    deletes those not yet published; a reschedule makes new ones."""

    __tablename__ = "reminders"
    appointment_id: Mapped[str] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"),
                                                primary_key=True)
    lead_minutes: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_reminders_due", "due_at", postgresql_where=text("published_at IS NULL")),)


class CalendarFeed(Base):
    """A client's private calendar feed: the URL's secret is kept only as its hash; revoking deletes the row."""

    __tablename__ = "calendar_feeds"
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.now())


outbox, processed_events = define_event_tables(Base.metadata)
