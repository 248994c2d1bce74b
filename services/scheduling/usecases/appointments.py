"""An appointment's life: the times offered, a client's request, staff's booking, approval and denial, the client's
confirm and cancel, staff's cancel, late cancel, no-show, completion and reschedule, and the lists both sides read.

Every status change is a compare-and-set under the appointment's row lock (domain/booking.py's CHANGES say from
which statuses each applies), so a double click or two staff at once change it once. Every write that makes an
appointment hold time first locks its clinician's row (base.lock_clinician) and checks the buffers; the exclusion
constraint (models.Appointment) is the last word on overlap."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, cast, func, select, tuple_
from sqlalchemy.orm import Session

from services.scheduling.domain import availability as av
from services.scheduling.domain import booking
from services.scheduling.domain.errors import (
    AppointmentNotFound,
    BadTime,
    NotReadyYet,
    SlotTaken,
    StatusChanged,
    TooManyOpenRequests,
    UnknownReference,
    field_error,
)
from services.scheduling.models import (
    HOLDING,
    Appointment,
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Client,
    Clinician,
    ClinicianSite,
    Site,
    TypeClinician,
)
from services.scheduling.usecases import base, reminders
from services.scheduling.usecases.base import SLOT_TAKEN, Context, in_transaction, iso, publish
from services.scheduling.usecases.setup import clinician_name
from shared.pagination import decode_cursor, encode_cursor

OPEN = ("requested", "booked", "confirmed")
# What the Appointment History lists: appointments that have taken (or were to take) place, not requests.
HISTORY = ("booked", "confirmed", "completed", "no_show", "late_cancelled", "cancelled")
EXPORT_LIMIT = 10_000
LONGEST = timedelta(minutes=booking.LONGEST_MINUTES)


# --- reading the clinicians' time ----------------------------------------------------------------------------

def _windows(session: Session, clinician_ids: list[str], first_day: date, last_day: date) -> dict[str, list]:
    """Each clinician's open windows over those UTC dates (the expansion pads a day each side in every zone),
    at the active sites they work at now only (hours kept at a site they have left, or a retired one, offer
    nothing)."""
    rules: dict[str, list[av.Rule]] = defaultdict(list)
    for rule, zone in session.execute(
            select(AvailabilityRule, Site.timezone).join(Site, Site.id == AvailabilityRule.site_id)
            .join(ClinicianSite, (ClinicianSite.site_id == AvailabilityRule.site_id)
                  & (ClinicianSite.clinician_id == AvailabilityRule.clinician_id))
            .where(AvailabilityRule.clinician_id.in_(clinician_ids), Site.active.is_(True))):
        rules[rule.clinician_id].append(av.Rule(rule.weekday, rule.start_time, rule.end_time, rule.site_id, zone))
    overrides: dict[str, list[av.Override]] = defaultdict(list)
    works_at = defaultdict(set)
    for clinician_id, site_id in session.execute(select(ClinicianSite.clinician_id, ClinicianSite.site_id)
                                                 .where(ClinicianSite.clinician_id.in_(clinician_ids))):
        works_at[clinician_id].add(site_id)
    for exc, zone in session.execute(
            select(AvailabilityException, Site.timezone).outerjoin(Site, Site.id == AvailabilityException.site_id)
            .where(AvailabilityException.clinician_id.in_(clinician_ids),
                   AvailabilityException.day.between(first_day - timedelta(days=1), last_day + timedelta(days=1)))):
        if exc.site_id is not None and exc.site_id not in works_at[exc.clinician_id]:
            continue
        overrides[exc.clinician_id].append(av.Override(exc.day, exc.available, exc.start_time, exc.end_time,
                                                       exc.site_id, zone if exc.site_id else None))
    return {c: av.windows(rules[c], overrides[c], first_day, last_day) for c in clinician_ids}


def _busy(session: Session, clinician_ids: list[str], start: datetime, end: datetime,
          *, besides: str | None = None) -> dict[str, list[av.Busy]]:
    """The time each clinician's appointments hold around [start, end), with their types' buffers."""
    margin = timedelta(days=1)  # wider than any buffer
    # A lower bound on start_at too (no appointment is longer than LONGEST), so the index on (clinician, start)
    # reads the range asked for, not every appointment the clinician ever had before it.
    stmt = (select(Appointment.clinician_id, Appointment.start_at, Appointment.end_at,
                   AppointmentType.buffer_before_minutes, AppointmentType.buffer_after_minutes)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .where(Appointment.clinician_id.in_(clinician_ids), Appointment.status.in_(HOLDING),
                   Appointment.start_at < end + margin, Appointment.start_at > start - margin - LONGEST,
                   Appointment.end_at > start - margin))
    if besides:
        stmt = stmt.where(Appointment.id != besides)
    found: dict[str, list[av.Busy]] = defaultdict(list)
    for clinician_id, s, e, before, after in session.execute(stmt):
        found[clinician_id].append(av.Busy(s, e, timedelta(minutes=before), timedelta(minutes=after)))
    return found


def _offering(session: Session, kind: AppointmentType, clinician_id: str | None) -> list[str]:
    stmt = (select(Clinician.id).join(TypeClinician, TypeClinician.clinician_id == Clinician.id)
            .where(TypeClinician.appointment_type_id == kind.id, Clinician.active.is_(True)))
    if clinician_id:
        stmt = stmt.where(Clinician.id == clinician_id)
    return list(session.scalars(stmt.order_by(Clinician.id)))


def _utc_days(start: datetime, end: datetime) -> tuple[date, date]:
    return start.astimezone(UTC).date(), (end - timedelta(microseconds=1)).astimezone(UTC).date()


def _durations(kind: AppointmentType) -> dict:
    return {"duration": timedelta(minutes=kind.duration_minutes),
            "buffer_before": timedelta(minutes=kind.buffer_before_minutes),
            "buffer_after": timedelta(minutes=kind.buffer_after_minutes)}


# --- views ---------------------------------------------------------------------------------------------------

def _view_query():
    return (select(Appointment, AppointmentType, Clinician, Site, Client)
            .join(AppointmentType, AppointmentType.id == Appointment.appointment_type_id)
            .join(Clinician, Clinician.id == Appointment.clinician_id)
            .outerjoin(Site, Site.id == Appointment.site_id)
            .join(Client, Client.client_id == Appointment.client_id))


def appointment_view(row, *, now: datetime, policy: booking.Policy, for_staff: bool) -> dict:
    """An appointment as both sides read it; `timezone` is its site's, or the practice's for one without a site
    (a phone or video session): the clock its times are shown on."""
    a, kind, clinician, site, client = row
    view = {"id": a.id, "status": a.status, "start": a.start_at, "end": a.end_at, "booked_by": a.booked_by,
            "appointment_type": {"id": kind.id, "name": kind.name, "modality": kind.modality,
                                 "duration_minutes": kind.duration_minutes},
            "clinician": {"id": clinician.id, "name": clinician_name(clinician)},
            "site": ({"id": site.id, "name": site.name, "timezone": site.timezone, "address": site.address or {}}
                     if site else None),
            "timezone": site.timezone if site else policy.timezone,
            "reason": a.reason, "sequence": a.sequence, "created_at": a.created_at, "updated_at": a.updated_at}
    cancellable = a.status in OPEN and a.start_at > now
    view["can_confirm"] = a.status == "booked" and a.start_at > now
    view["can_cancel"] = cancellable and (a.status == "requested" or a.start_at - now >= policy.cancellation_window)
    view["cancel_by"] = (a.start_at - policy.cancellation_window) if a.status in ("booked", "confirmed") else None
    if for_staff:
        view.update(client={"id": client.client_id, "first_name": client.first_name, "last_name": client.last_name,
                            "preferred_name": client.preferred_name},
                    note=a.note, fee=a.fee)
    else:
        view["note"] = a.note  # the client's own note
    return view


class Appointments:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    # --- what can be requested -------------------------------------------------------------------------------
    def availability(self, *, appointment_type_id: str, clinician_id: str | None, start: date | datetime | None,
                     end: date | datetime | None, for_client: bool) -> list[dict]:
        """The slots between start and end (a date is the practice's calendar day, `end` included; by default two
        weeks from now, and never more than 62 days at once)."""
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            practice = base.practice(session)
            start, end = _span(start, end, now, practice.timezone)
            if for_client and not practice.self_scheduling_enabled:
                raise base.self_scheduling_off()
            kind = self._type(session, appointment_type_id, for_client=for_client)
            clinicians = _offering(session, kind, clinician_id)
            if clinician_id and not clinicians:
                raise field_error(UnknownReference, "clinician_id",
                                  "No active clinician with this id offers this appointment type.")
            policy = base.policy_of(practice)
            earliest, latest = (policy.earliest(now), policy.latest(now)) if for_client else (now, end)
            earliest, latest = max(earliest, start), min(latest, end)
            if earliest >= latest:
                return []
            first_day, last_day = _utc_days(earliest, latest)
            windows = _windows(session, clinicians, first_day, last_day)
            busy = _busy(session, clinicians, earliest, latest)
            sites = {i: (name, zone) for i, name, zone in session.execute(select(Site.id, Site.name, Site.timezone))}
        found = []
        for c in clinicians:
            for slot in av.slots(windows[c], busy=busy[c], earliest=earliest, latest=latest, **_durations(kind)):
                found.append({"start": slot.start, "end": slot.end, "clinician_id": c, "site_id": slot.site_id,
                              "site_name": sites[slot.site_id][0], "timezone": sites[slot.site_id][1]})
        return sorted(found, key=lambda s: (s["start"], s["clinician_id"]))

    # --- a client's request ----------------------------------------------------------------------------------
    def request(self, client_id: str, data: dict) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            base.require_self_scheduling(self.ctx, session)
            # The client's row, locked: two requests of one client at once (a double click) wait for each other.
            client = session.scalars(select(Client).where(Client.client_id == client_id).with_for_update()).first()
            if client is None:
                raise NotReadyYet("Your account is still being set up; try again in a moment.",
                                       headers={"Retry-After": "5"})
            policy = base.policy_of(base.practice(session))
            kind = self._type(session, data["appointment_type_id"], for_client=True)
            if not _offering(session, kind, data["clinician_id"]):
                raise field_error(UnknownReference, "clinician_id",
                                  "No active clinician with this id offers this appointment type.")
            if data.get("site_id") is not None:
                self._site(session, data["clinician_id"], data["site_id"], kind)
            start = self._start(session, data, clinician_id=data["clinician_id"])
            booking.check_requested_start(start, now, policy)
            same = session.scalars(select(Appointment).where(
                Appointment.client_id == client_id, Appointment.clinician_id == data["clinician_id"],
                Appointment.appointment_type_id == kind.id, Appointment.start_at == start,
                Appointment.booked_by == "client",
                Appointment.status.in_(OPEN))).first()
            if same is not None:  # sent twice (a double click, a retry): the request already made
                return self._view(session, same.id, now, policy, for_staff=False)
            # Booked at once, a client's own upcoming bookings are what their open requests would have been.
            counted = OPEN if policy.automatic_approval else ("requested",)
            open_requests = session.scalar(select(func.count()).select_from(Appointment).where(
                Appointment.client_id == client_id, Appointment.status.in_(counted),
                Appointment.booked_by == "client", Appointment.start_at > now))
            if open_requests >= policy.max_open_requests:
                raise TooManyOpenRequests(
                    f"You already have {open_requests} open appointment requests, the most your practice allows; "
                    "wait for an answer or cancel one first.")
            if policy.automatic_approval:
                base.lock_clinician(session, data["clinician_id"])
            slot = self._offered(session, kind, data["clinician_id"], start, now, policy, site_id=data.get("site_id"))
            appointment = Appointment(client_id=client_id, clinician_id=data["clinician_id"],
                                      appointment_type_id=kind.id, site_id=slot.site_id, start_at=slot.start,
                                      end_at=slot.end, note=data.get("note"), booked_by="client",
                                      status="booked" if policy.automatic_approval else "requested")
            session.add(appointment)
            base.flush_holding(session)
            if policy.automatic_approval:
                reminders.plan(session, appointment, now, policy)
                publish(session, "appointment.booked", _changed(appointment, "client"))
            else:
                publish(session, "appointment.requested", _whole(appointment, kind))
            return self._view(session, appointment.id, now, policy, for_staff=False)

    def _offered(self, session: Session, kind: AppointmentType, clinician_id: str, start: datetime,
                 now: datetime, policy: booking.Policy, *, site_id: str | None) -> av.Slot:
        """The slot at `start` as the client was offered it: off the grid (or outside the clinician's hours) is a
        bad start; on the grid but held meanwhile is a taken slot."""
        day = start.astimezone(UTC).date()
        windows = _windows(session, [clinician_id], day, day)[clinician_id]
        grid = dict(windows=windows, earliest=policy.earliest(now), latest=policy.latest(now), site_id=site_id,
                    **_durations(kind))
        if av.is_offered(start, busy=[], **grid) is None:
            raise field_error(BadTime, "start", "This is not one of the times offered; choose a time from the list.")
        slot = av.is_offered(start, busy=_busy(session, [clinician_id], start, start)[clinician_id], **grid)
        if slot is None:
            raise SlotTaken(SLOT_TAKEN)
        return slot

    # --- staff's booking and moves ---------------------------------------------------------------------------
    def book(self, data: dict) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            if session.get(Client, data["client_id"]) is None:
                raise field_error(UnknownReference, "client_id", "No client with this id.")
            kind = self._type(session, data["appointment_type_id"], for_client=False)
            if not _offering(session, kind, data["clinician_id"]):
                raise field_error(UnknownReference, "clinician_id",
                                  "No active clinician with this id offers this appointment type.")
            site_id = self._site(session, data["clinician_id"], data.get("site_id"), kind)
            start = self._start(session, data, clinician_id=data["clinician_id"], site_id=site_id)
            booking.check_staff_start(start, now)
            base.lock_clinician(session, data["clinician_id"])  # a double submit waits here, then finds the first
            same = session.scalars(select(Appointment).where(
                Appointment.client_id == data["client_id"], Appointment.clinician_id == data["clinician_id"],
                Appointment.appointment_type_id == kind.id, Appointment.start_at == start,
                Appointment.status.in_(("booked", "confirmed")))).first()
            if same is not None:  # the same booking sent twice (a double submit): the one already made
                return self._view(session, same.id, now, base.policy_of(base.practice(session)), for_staff=True)
            appointment = Appointment(client_id=data["client_id"], clinician_id=data["clinician_id"],
                                      appointment_type_id=kind.id, site_id=site_id, start_at=start,
                                      end_at=start + timedelta(minutes=kind.duration_minutes), booked_by="staff",
                                      status="booked", note=data.get("note"))
            self._hold(session, appointment, kind)
            session.add(appointment)
            base.flush_holding(session)
            policy = base.policy_of(base.practice(session))
            reminders.plan(session, appointment, now, policy)
            publish(session, "appointment.booked", _changed(appointment, "staff"))
            return self._view(session, appointment.id, now, policy, for_staff=True)

    def reschedule(self, appointment_id: str, data: dict) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            appointment = self._locked(session, appointment_id)
            booking.check_change(booking.CHANGES["reschedule"], appointment.status, appointment.start_at, now)
            kind = session.get(AppointmentType, appointment.appointment_type_id)
            site_id = self._site(session, appointment.clinician_id, data.get("site_id") or appointment.site_id, kind)
            start = self._start(session, data, clinician_id=appointment.clinician_id, site_id=site_id)
            booking.check_staff_start(start, now)
            previous = appointment.start_at
            appointment.start_at, appointment.end_at = start, start + timedelta(minutes=kind.duration_minutes)
            appointment.site_id, appointment.status = site_id, "booked"
            appointment.sequence += 1
            self._hold(session, appointment, kind)
            base.flush_holding(session)
            policy = base.policy_of(base.practice(session))
            reminders.forget(session, appointment.id)
            reminders.plan(session, appointment, now, policy)
            publish(session, "appointment.booked", {**_changed(appointment, "staff"), "previous_start": iso(previous)})
            return self._view(session, appointment.id, now, policy, for_staff=True)

    def _hold(self, session: Session, appointment: Appointment, kind: AppointmentType) -> None:
        """Staff's time for `appointment` is free, buffers included, under the clinician's lock."""
        before, after = timedelta(minutes=kind.buffer_before_minutes), timedelta(minutes=kind.buffer_after_minutes)
        mine = (appointment.start_at - before, appointment.end_at + after)
        with session.no_autoflush:  # the change is flushed after the check (base.flush_holding), not by it
            base.lock_clinician(session, appointment.clinician_id)
            busy = _busy(session, [appointment.clinician_id], *mine, besides=appointment.id)[appointment.clinician_id]
        for b in busy:
            if b.start - b.buffer_before < mine[1] and mine[0] < b.end + b.buffer_after:
                raise SlotTaken("The clinician has another appointment at that time.")

    # --- decisions and changes -------------------------------------------------------------------------------
    def approve(self, appointment_id: str) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            appointment = self._locked(session, appointment_id)
            booking.check_change(booking.CHANGES["approve"], appointment.status, appointment.start_at, now)
            if appointment.start_at <= now:
                raise field_error(BadTime, "start", "The requested time has passed; deny the request or book "
                                                    "another time.")
            kind = session.get(AppointmentType, appointment.appointment_type_id)
            appointment.status = "booked"
            appointment.sequence += 1
            self._hold(session, appointment, kind)
            base.flush_holding(session)
            policy = base.policy_of(base.practice(session))
            reminders.plan(session, appointment, now, policy)
            publish(session, "appointment.approved", {"appointment_id": appointment.id,
                                                      "client_id": appointment.client_id,
                                                      "start": iso(appointment.start_at), "reason": None})
            return self._view(session, appointment.id, now, policy, for_staff=True)

    def deny(self, appointment_id: str, reason: str | None) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            appointment = self._locked(session, appointment_id)
            booking.check_change(booking.CHANGES["deny"], appointment.status, appointment.start_at, now)
            appointment.status, appointment.reason = "denied", reason
            appointment.sequence += 1
            session.flush()
            publish(session, "appointment.denied", {"appointment_id": appointment.id,
                                                    "client_id": appointment.client_id,
                                                    "start": iso(appointment.start_at), "reason": reason})
            return self._view(session, appointment.id, now, base.policy_of(base.practice(session)), for_staff=True)

    def confirm(self, client_id: str, appointment_id: str) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            appointment = self._locked(session, appointment_id, client_id=client_id)
            booking.check_change(booking.CHANGES["confirm"], appointment.status, appointment.start_at, now)
            if appointment.start_at <= now:
                raise StatusChanged("This appointment has already begun.",
                                            extra={"current_status": appointment.status})
            appointment.status = "confirmed"
            session.flush()
            publish(session, "appointment.confirmed", _changed(appointment, "client"))
            return self._view(session, appointment.id, now, base.policy_of(base.practice(session)), for_staff=False)

    def client_cancel(self, client_id: str, appointment_id: str) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            appointment = self._locked(session, appointment_id, client_id=client_id)
            policy = base.policy_of(base.practice(session))
            booking.check_client_cancel(appointment.status, appointment.start_at, now, policy)
            self._cancel(session, appointment, "cancelled", by="client", reason=None)
            return self._view(session, appointment.id, now, policy, for_staff=False)

    def staff_change(self, appointment_id: str, change_name: str, reason: str | None = None) -> dict:
        """cancel, late_cancel, complete, no_show: by staff."""
        now = self.ctx.clock()
        change = booking.CHANGES[change_name]
        with in_transaction(self.ctx) as session:
            appointment = self._locked(session, appointment_id)
            policy = base.policy_of(base.practice(session))
            booking.check_staff_change(change, appointment.status, appointment.start_at, now, policy)
            if change.name in ("cancel", "late_cancel"):
                self._cancel(session, appointment, change.to_status, by="staff", reason=reason)
            else:
                appointment.status = change.to_status
                appointment.sequence += 1
                reminders.forget(session, appointment.id)
            fee = booking.charges_fee(change, policy)
            appointment.fee = fee
            session.flush()
            if change.name == "complete" or fee:
                kind = session.get(AppointmentType, appointment.appointment_type_id)
                publish(session, "appointment.completed", {**_whole(appointment, kind), "outcome": change.to_status,
                                                           "service_code": kind.service_code, "fee": fee})
            return self._view(session, appointment.id, now, policy, for_staff=True)

    def _cancel(self, session: Session, appointment: Appointment, status: str, *, by: str, reason: str | None):
        appointment.status, appointment.reason = status, reason
        appointment.sequence += 1
        reminders.forget(session, appointment.id)
        session.flush()
        publish(session, "appointment.cancelled", {**_changed(appointment, by), "reason": reason})

    # --- lists -----------------------------------------------------------------------------------------------
    def upcoming(self, client_id: str) -> tuple[list[dict], bool]:
        """The client's open requests and appointments still ahead, soonest first; and whether the practice takes
        requests online (the Dashboard's switch)."""
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            row = base.practice(session)
            policy = base.policy_of(row)
            # A denied request stays listed until its time, with the practice's reason (messaging will tell too).
            rows = session.execute(_view_query().where(Appointment.client_id == client_id,
                                                       Appointment.status.in_(OPEN + ("denied",)),
                                                       Appointment.end_at > now)
                                   .order_by(Appointment.start_at, Appointment.id))
            return [appointment_view(r, now=now, policy=policy, for_staff=False) for r in rows], \
                row.self_scheduling_enabled

    def history(self, client_id: str, q: dict, *, limit: int, cursor: str | None = None
                ) -> tuple[list[dict], str | None]:
        """The client's past appointments, newest first, filtered (dates are the practice's calendar days): a page
        and the cursor of the next. An export asks for every row (limit EXPORT_LIMIT)."""
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            row = base.practice(session)
            policy, zone = base.policy_of(row), ZoneInfo(row.timezone)
            stmt = _view_query().where(Appointment.client_id == client_id, Appointment.status.in_(HISTORY),
                                       Appointment.start_at < now)
            stmt = _filtered(stmt, q, zone)
            if cursor:
                key = decode_cursor(cursor, [datetime, str])
                stmt = stmt.where(tuple_(Appointment.start_at, Appointment.id) < tuple_(*key))
            stmt = stmt.order_by(Appointment.start_at.desc(), Appointment.id.desc()).limit(limit + 1)
            rows = session.execute(stmt).all()
            views = [appointment_view(r, now=now, policy=policy, for_staff=False) for r in rows[:limit]]
            next_cursor = (encode_cursor([views[-1]["start"], views[-1]["id"]]) if len(rows) > limit else None)
            return views, next_cursor

    def calendar(self, q: dict) -> list[dict]:
        """Staff's day and week: every appointment and request between from and to, by clinician and site."""
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            row = base.practice(session)
            policy = base.policy_of(row)
            stmt = _filtered(_view_query(), q, ZoneInfo(row.timezone))
            statuses = q.get("status") or [s for s in ("requested",) + HISTORY]
            stmt = stmt.where(Appointment.status.in_(statuses)).order_by(Appointment.start_at, Appointment.id)
            return [appointment_view(r, now=now, policy=policy, for_staff=True)
                    for r in session.execute(stmt.limit(EXPORT_LIMIT))]

    def requests(self, status: str) -> list[dict]:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            policy = base.policy_of(base.practice(session))
            stmt = _view_query()
            if status == "pending":
                stmt = stmt.where(Appointment.status == "requested")
            elif status == "denied":
                stmt = stmt.where(Appointment.status == "denied")
            else:
                stmt = stmt.where(Appointment.booked_by == "client")
            rows = session.execute(stmt.order_by(Appointment.start_at, Appointment.id).limit(EXPORT_LIMIT))
            return [appointment_view(r, now=now, policy=policy, for_staff=True) for r in rows]

    def get(self, appointment_id: str, *, client_id: str | None) -> dict:
        now = self.ctx.clock()
        with in_transaction(self.ctx) as session:
            if client_id is not None:
                self._locked(session, appointment_id, client_id=client_id, lock=False)
            return self._view(session, appointment_id, now, base.policy_of(base.practice(session)),
                              for_staff=client_id is None)

    def practice_name(self) -> str:
        with in_transaction(self.ctx) as session:
            return base.practice(session).practice_name

    # --- pieces ----------------------------------------------------------------------------------------------
    def _view(self, session: Session, appointment_id: str, now: datetime, policy: booking.Policy, *,
              for_staff: bool) -> dict:
        row = session.execute(_view_query().where(Appointment.id == appointment_id)).first()
        if row is None:
            raise AppointmentNotFound("No appointment with this id.")
        return appointment_view(row, now=now, policy=policy, for_staff=for_staff)

    def _locked(self, session: Session, appointment_id: str, *, client_id: str | None = None,
                lock: bool = True) -> Appointment:
        stmt = select(Appointment).where(Appointment.id == appointment_id)
        if client_id is not None:
            stmt = stmt.where(Appointment.client_id == client_id)  # another client's is not found
        appointment = session.scalars(stmt.with_for_update() if lock else stmt).first()
        if appointment is None:
            raise AppointmentNotFound("No appointment with this id.")
        return appointment

    def _type(self, session: Session, type_id: str, *, for_client: bool) -> AppointmentType:
        kind = session.get(AppointmentType, type_id)
        if kind is None or not kind.active or (for_client and not kind.bookable_online):
            raise field_error(UnknownReference, "appointment_type_id",
                              "No active appointment type with this id" + (" is bookable online." if for_client
                                                                           else "."))
        return kind

    def _site(self, session: Session, clinician_id: str, site_id: str | None, kind: AppointmentType) -> str | None:
        """The site of a staff booking: the one named (where the clinician works, active), else the clinician's
        only site; an in-person appointment needs one, a phone or video one may have none."""
        sites = list(session.scalars(select(ClinicianSite.site_id).join(Site, Site.id == ClinicianSite.site_id)
                                     .where(ClinicianSite.clinician_id == clinician_id, Site.active.is_(True))))
        if site_id is not None:
            if site_id not in sites:
                raise field_error(UnknownReference, "site_id", "The clinician does not work at this site.")
            return site_id
        if len(sites) == 1:
            return sites[0]
        if kind.modality == "in_person":
            raise field_error(UnknownReference, "site_id", "Say at which site this in-person appointment is.")
        return None

    def _start(self, session: Session, data: dict, *, clinician_id: str, site_id: str | None = None) -> datetime:
        """The start as an instant: `start` (with its offset) or `start_local` on the wall clock the appointment's
        times are shown on: its site's (the one named, else the clinician's only active site), else the
        practice's (a phone or video session of a clinician at several sites), as appointment_view says."""
        if data.get("start") is not None:
            return data["start"].astimezone(UTC)
        if not (site_id or data.get("site_id")):
            sites = list(session.scalars(select(ClinicianSite.site_id).join(Site, Site.id == ClinicianSite.site_id)
                                         .where(ClinicianSite.clinician_id == clinician_id, Site.active.is_(True))))
            site_id = sites[0] if len(sites) == 1 else None
        site_id = site_id or data.get("site_id")
        zone = session.scalar(select(Site.timezone).where(Site.id == site_id)) if site_id else None
        if zone is None:
            zone = base.practice(session).timezone
        local: datetime = data["start_local"]
        try:
            return av.local_instant(local.date(), local.time(), zone)
        except av.NonexistentLocalTime as exc:
            raise field_error(BadTime, "start_local", str(exc)) from None


DEFAULT_SPAN, MAX_SPAN = timedelta(days=14), timedelta(days=62)


def _span(start: date | datetime | None, end: date | datetime | None, now: datetime,
          zone: str) -> tuple[datetime, datetime]:
    def instant(value, *, after: bool) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        day = value + timedelta(days=1) if after else value
        return datetime.combine(day, time(0), ZoneInfo(zone)).astimezone(UTC)

    start = instant(start, after=False) if start else now
    end = instant(end, after=True) if end else start + DEFAULT_SPAN
    return start, min(end, start + MAX_SPAN)


def _filtered(stmt, q: dict, zone: ZoneInfo):
    """from/to (calendar days, both included, on each appointment's own clock: its site's, else the practice's,
    the day its rows and exports show), site, clinician, appointment type. The instants a day wider on each side
    let the index read the range; the local day decides."""
    local_day = cast(func.timezone(func.coalesce(Site.timezone, zone.key), Appointment.start_at), Date)
    if q.get("from"):
        stmt = stmt.where(Appointment.start_at >= datetime.combine(q["from"] - timedelta(days=1), time(0), zone),
                          local_day >= q["from"])
    if q.get("to"):
        stmt = stmt.where(Appointment.start_at < datetime.combine(q["to"] + timedelta(days=2), time(0), zone),
                          local_day <= q["to"])
    for name, column in (("site_id", Appointment.site_id), ("clinician_id", Appointment.clinician_id),
                         ("appointment_type_id", Appointment.appointment_type_id), ("client_id",
                                                                                   Appointment.client_id)):
        if q.get(name):
            stmt = stmt.where(column == q[name])
    return stmt


def _changed(a: Appointment, by: str) -> dict:
    return {"appointment_id": a.id, "client_id": a.client_id, "start": iso(a.start_at), "by": by}


def _whole(a: Appointment, kind: AppointmentType) -> dict:
    return {"appointment_id": a.id, "client_id": a.client_id, "clinician_id": a.clinician_id,
            "start": iso(a.start_at), "end": iso(a.end_at), "type": kind.name}


