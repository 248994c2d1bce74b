"""What staff set up before anything is booked: sites, clinicians (and the sites they work at), appointment types
(and who offers them), and each clinician's weekly availability with its exceptions."""

from __future__ import annotations

from datetime import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from services.scheduling.domain.errors import BadTime, SetupNotFound, UnknownReference, field_error
from services.scheduling.models import (
    AppointmentType,
    AvailabilityException,
    AvailabilityRule,
    Clinician,
    ClinicianSite,
    Site,
    TypeClinician,
)
from services.scheduling.usecases.base import Context, in_transaction


def clinician_name(c: Clinician) -> str:
    name = f"{c.first_name} {c.last_name}"
    return f"{name}, {c.credentials}" if c.credentials else name


def site_view(s: Site) -> dict:
    return {"id": s.id, "name": s.name, "timezone": s.timezone, "address": s.address or {}, "active": s.active}


def site_ids_of(session: Session, clinician_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {c: [] for c in clinician_ids}
    for clinician_id, site_id in session.execute(
            select(ClinicianSite.clinician_id, ClinicianSite.site_id)
            .where(ClinicianSite.clinician_id.in_(clinician_ids)).order_by(ClinicianSite.site_id)):
        found[clinician_id].append(site_id)
    return found


def clinician_ids_of(session: Session, type_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {t: [] for t in type_ids}
    for type_id, clinician_id in session.execute(
            select(TypeClinician.appointment_type_id, TypeClinician.clinician_id)
            .where(TypeClinician.appointment_type_id.in_(type_ids)).order_by(TypeClinician.clinician_id)):
        found[type_id].append(clinician_id)
    return found


def clinician_views(session: Session, clinicians: list[Clinician]) -> list[dict]:
    sites = site_ids_of(session, [c.id for c in clinicians])
    return [{"id": c.id, "first_name": c.first_name, "last_name": c.last_name, "credentials": c.credentials,
             "name": clinician_name(c), "staff_user_id": c.staff_user_id, "site_ids": sites[c.id],
             "active": c.active} for c in clinicians]


def type_views(session: Session, types: list[AppointmentType]) -> list[dict]:
    clinicians = clinician_ids_of(session, [t.id for t in types])
    return [{"id": t.id, "name": t.name, "modality": t.modality, "duration_minutes": t.duration_minutes,
             "bookable_online": t.bookable_online, "service_code": t.service_code,
             "buffer_before_minutes": t.buffer_before_minutes, "buffer_after_minutes": t.buffer_after_minutes,
             "clinician_ids": clinicians[t.id], "active": t.active} for t in types]


def _existing(session: Session, model, ids: list[str], field: str, what: str) -> None:
    """Every id names an active row of `model`, else the field to fix."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return
    found = set(session.scalars(select(model.id).where(model.id.in_(ids), model.active.is_(True))))
    missing = [i for i in ids if i not in found]
    if missing:
        raise field_error(UnknownReference, field, f"No active {what} with id {missing[0]}.")


def _get(session: Session, model, object_id: str, what: str, *, lock: bool = False):
    stmt = select(model).where(model.id == object_id)
    row = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if row is None:
        raise SetupNotFound(f"No {what} with this id.")
    return row


class Setup:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    # sites
    def create_site(self, data: dict) -> dict:
        with in_transaction(self.ctx) as session:
            site = Site(name=data["name"], timezone=data["timezone"], address=data.get("address") or {},
                        active=True)
            session.add(site)
            session.flush()
            return site_view(site)

    def list_sites(self, *, include_inactive: bool = False) -> list[dict]:
        with in_transaction(self.ctx) as session:
            stmt = select(Site).order_by(Site.name, Site.id)
            if not include_inactive:
                stmt = stmt.where(Site.active.is_(True))
            return [site_view(s) for s in session.scalars(stmt)]

    def get_site(self, site_id: str) -> dict:
        with in_transaction(self.ctx) as session:
            return site_view(_get(session, Site, site_id, "site"))

    def get_clinician(self, clinician_id: str) -> dict:
        with in_transaction(self.ctx) as session:
            return clinician_views(session, [_get(session, Clinician, clinician_id, "clinician")])[0]

    def get_type(self, type_id: str) -> dict:
        with in_transaction(self.ctx) as session:
            return type_views(session, [_get(session, AppointmentType, type_id, "appointment type")])[0]

    def update_site(self, site_id: str, data: dict) -> dict:
        with in_transaction(self.ctx) as session:
            site = _get(session, Site, site_id, "site", lock=True)
            for name in ("name", "timezone", "address", "active"):
                if name in data:
                    setattr(site, name, data[name] if name != "address" else (data[name] or {}))
            session.flush()
            return site_view(site)

    # clinicians
    def create_clinician(self, data: dict) -> dict:
        with in_transaction(self.ctx) as session:
            _existing(session, Site, data["site_ids"], "site_ids", "site")
            clinician = Clinician(first_name=data["first_name"], last_name=data["last_name"],
                                  credentials=data.get("credentials"), staff_user_id=data.get("staff_user_id"),
                                  active=True)
            session.add(clinician)
            session.flush()
            session.add_all(ClinicianSite(clinician_id=clinician.id, site_id=s)
                            for s in dict.fromkeys(data["site_ids"]))
            session.flush()
            return clinician_views(session, [clinician])[0]

    def list_clinicians(self, *, include_inactive: bool = False) -> list[dict]:
        with in_transaction(self.ctx) as session:
            stmt = select(Clinician).order_by(Clinician.last_name, Clinician.first_name, Clinician.id)
            if not include_inactive:
                stmt = stmt.where(Clinician.active.is_(True))
            return clinician_views(session, list(session.scalars(stmt)))

    def online_clinicians(self) -> list[dict]:
        """The active clinicians who offer a type bookable online (what Book an Appointment chooses from)."""
        offering = {c for t in self.list_types(online_only=True) for c in t["clinician_ids"]}
        return [c for c in self.list_clinicians() if c["id"] in offering]

    def update_clinician(self, clinician_id: str, data: dict) -> dict:
        with in_transaction(self.ctx) as session:
            clinician = _get(session, Clinician, clinician_id, "clinician", lock=True)
            for name in ("first_name", "last_name", "credentials", "staff_user_id", "active"):
                if name in data:
                    setattr(clinician, name, data[name])
            if "site_ids" in data:
                _existing(session, Site, data["site_ids"], "site_ids", "site")
                session.execute(delete(ClinicianSite).where(ClinicianSite.clinician_id == clinician.id))
                session.add_all(ClinicianSite(clinician_id=clinician.id, site_id=s)
                                for s in dict.fromkeys(data["site_ids"]))
            session.flush()
            return clinician_views(session, [clinician])[0]

    # appointment types
    def create_type(self, data: dict) -> dict:
        with in_transaction(self.ctx) as session:
            _existing(session, Clinician, data.get("clinician_ids") or [], "clinician_ids", "clinician")
            kind = AppointmentType(name=data["name"], modality=data["modality"],
                                   duration_minutes=data["duration_minutes"], bookable_online=data["bookable_online"],
                                   service_code=data.get("service_code"),
                                   buffer_before_minutes=data.get("buffer_before_minutes", 0),
                                   buffer_after_minutes=data.get("buffer_after_minutes", 0), active=True)
            session.add(kind)
            session.flush()
            session.add_all(TypeClinician(appointment_type_id=kind.id, clinician_id=c)
                            for c in dict.fromkeys(data.get("clinician_ids") or []))
            session.flush()
            return type_views(session, [kind])[0]

    def list_types(self, *, include_inactive: bool = False, online_only: bool = False) -> list[dict]:
        with in_transaction(self.ctx) as session:
            stmt = select(AppointmentType).order_by(AppointmentType.name, AppointmentType.id)
            if not include_inactive or online_only:
                stmt = stmt.where(AppointmentType.active.is_(True))
            if online_only:
                stmt = stmt.where(AppointmentType.bookable_online.is_(True))
            return type_views(session, list(session.scalars(stmt)))

    def update_type(self, type_id: str, data: dict) -> dict:
        with in_transaction(self.ctx) as session:
            kind = _get(session, AppointmentType, type_id, "appointment type", lock=True)
            for name in ("name", "modality", "duration_minutes", "bookable_online", "service_code",
                         "buffer_before_minutes", "buffer_after_minutes", "active"):
                if name in data:
                    setattr(kind, name, data[name])
            if "clinician_ids" in data:
                _existing(session, Clinician, data["clinician_ids"], "clinician_ids", "clinician")
                session.execute(delete(TypeClinician).where(TypeClinician.appointment_type_id == kind.id))
                session.add_all(TypeClinician(appointment_type_id=kind.id, clinician_id=c)
                                for c in dict.fromkeys(data["clinician_ids"]))
            session.flush()
            return type_views(session, [kind])[0]

    # availability
    def set_availability(self, clinician_id: str, rules: list[dict], exceptions: list[dict]) -> dict:
        """Replaces the clinician's weekly rules and exceptions with these (a PUT): each rule at one of the
        clinician's sites, ending after it starts; extra hours name their site unless the clinician has one."""
        with in_transaction(self.ctx) as session:
            clinician = _get(session, Clinician, clinician_id, "clinician", lock=True)
            sites = site_ids_of(session, [clinician.id])[clinician.id]
            for n, rule in enumerate(rules):
                if rule["site_id"] not in sites:
                    raise field_error(UnknownReference, f"rules.{n}.site_id",
                                      "The clinician does not work at this site.")
                _check_span(rule["start"], rule["end"], f"rules.{n}")
            for n, exc in enumerate(exceptions):
                start, end = exc.get("start"), exc.get("end")
                if (start is None) != (end is None):
                    raise field_error(BadTime, f"exceptions.{n}.end" if end is None else f"exceptions.{n}.start",
                                      "Give both a start and an end, or neither (the whole day).")
                if start is not None:
                    _check_span(start, end, f"exceptions.{n}")
                if exc.get("site_id") is not None and exc["site_id"] not in sites:
                    raise field_error(UnknownReference, f"exceptions.{n}.site_id",
                                      "The clinician does not work at this site.")
                if exc["available"]:
                    if start is None:
                        raise field_error(BadTime, f"exceptions.{n}.start", "Extra hours need a start and an end.")
                    if exc.get("site_id") is None:
                        if len(sites) != 1:
                            raise field_error(UnknownReference, f"exceptions.{n}.site_id",
                                              "Say at which site the extra hours are.")
                        exc = {**exc, "site_id": sites[0]}
                exceptions[n] = exc
            session.execute(delete(AvailabilityRule).where(AvailabilityRule.clinician_id == clinician.id))
            session.execute(delete(AvailabilityException).where(AvailabilityException.clinician_id == clinician.id))
            session.add_all(AvailabilityRule(clinician_id=clinician.id, site_id=r["site_id"], weekday=r["weekday"],
                                             start_time=r["start"], end_time=r["end"]) for r in rules)
            session.add_all(AvailabilityException(clinician_id=clinician.id, day=e["date"], available=e["available"],
                                                  start_time=e.get("start"), end_time=e.get("end"),
                                                  site_id=e.get("site_id"), reason=e.get("reason"))
                            for e in exceptions)
            session.flush()
            return availability_view(session, clinician.id)

    def get_availability(self, clinician_id: str) -> dict:
        with in_transaction(self.ctx) as session:
            _get(session, Clinician, clinician_id, "clinician")
            return availability_view(session, clinician_id)


def _check_span(start: time, end: time, where: str) -> None:
    if end <= start:
        raise field_error(BadTime, f"{where}.end", "The end must be after the start.")


def availability_view(session: Session, clinician_id: str) -> dict:
    rules = session.scalars(select(AvailabilityRule).where(AvailabilityRule.clinician_id == clinician_id)
                            .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time))
    exceptions = session.scalars(select(AvailabilityException)
                                 .where(AvailabilityException.clinician_id == clinician_id)
                                 .order_by(AvailabilityException.day, AvailabilityException.start_time))
    return {"clinician_id": clinician_id,
            "rules": [{"weekday": r.weekday, "start": r.start_time, "end": r.end_time, "site_id": r.site_id}
                      for r in rules],
            "exceptions": [{"date": e.day, "available": e.available, "start": e.start_time, "end": e.end_time,
                            "site_id": e.site_id, "reason": e.reason} for e in exceptions]}
