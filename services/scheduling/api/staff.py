"""/api/v1/staff (role staff or admin): sites, clinicians, appointment types, availability, scheduling settings,
booking requests, bookings and their changes, and the calendar."""

from __future__ import annotations

from flask import Blueprint

from services.scheduling.api import scheduling
from services.scheduling.api.schemas import (
    AvailabilityIn,
    AvailabilityOut,
    AvailabilityQuery,
    BookingIn,
    CalendarQuery,
    ClinicianIn,
    ClinicianOut,
    ClinicianPatch,
    DenyIn,
    ListQuery,
    PolicyOut,
    PolicyPatch,
    ReasonIn,
    RequestsQuery,
    RescheduleIn,
    SiteIn,
    SiteOut,
    SitePatch,
    SlotList,
    StaffAppointmentList,
    StaffAppointmentOut,
    TypeIn,
    TypeOut,
    TypePatch,
    slot_page,
)
from shared.web import doc, load, load_query, refuse_unknown_query

bp = Blueprint("scheduling_staff", __name__, url_prefix="/api/v1/staff")
refuse_unknown_query(bp)


def listed(items, schema) -> dict:
    return {"items": schema(many=True).dump(items), "next_cursor": None}


# --- sites, clinicians, types -------------------------------------------------------------------------------

@bp.post("/sites")
@doc(body=SiteIn, response=SiteOut, summary="A site (location) with its time zone")
def create_site():
    return SiteOut().dump(scheduling().setup.create_site(load(SiteIn()))), 201


@bp.get("/sites")
@doc(query=ListQuery, response=SiteOut(many=True), summary="Sites")
def sites():
    q = load_query(ListQuery())
    return listed(scheduling().setup.list_sites(include_inactive=q["include_inactive"]), SiteOut)


@bp.get("/sites/<site_id>")
@doc(response=SiteOut, summary="One site (retired ones too)")
def site(site_id: str):
    return SiteOut().dump(scheduling().setup.get_site(site_id))


@bp.patch("/sites/<site_id>")
@doc(body=SitePatch, response=SiteOut, summary="Change a site (active false retires it)")
def update_site(site_id: str):
    return SiteOut().dump(scheduling().setup.update_site(site_id, load(SitePatch())))


@bp.post("/clinicians")
@doc(body=ClinicianIn, response=ClinicianOut, summary="A clinician and the sites they work at")
def create_clinician():
    return ClinicianOut().dump(scheduling().setup.create_clinician(load(ClinicianIn()))), 201


@bp.get("/clinicians")
@doc(query=ListQuery, response=ClinicianOut(many=True), summary="Clinicians")
def clinicians():
    q = load_query(ListQuery())
    return listed(scheduling().setup.list_clinicians(include_inactive=q["include_inactive"]), ClinicianOut)


@bp.get("/clinicians/<clinician_id>")
@doc(response=ClinicianOut, summary="One clinician (inactive ones too)")
def clinician(clinician_id: str):
    return ClinicianOut().dump(scheduling().setup.get_clinician(clinician_id))


@bp.patch("/clinicians/<clinician_id>")
@doc(body=ClinicianPatch, response=ClinicianOut, summary="Change a clinician")
def update_clinician(clinician_id: str):
    return ClinicianOut().dump(scheduling().setup.update_clinician(clinician_id, load(ClinicianPatch())))


@bp.get("/clinicians/<clinician_id>/availability")
@doc(response=AvailabilityOut, summary="A clinician's weekly availability and its exceptions")
def availability(clinician_id: str):
    return AvailabilityOut().dump(scheduling().setup.get_availability(clinician_id))


@bp.put("/clinicians/<clinician_id>/availability")
@doc(body=AvailabilityIn, response=AvailabilityOut, summary="Replace a clinician's weekly availability and exceptions")
def set_availability(clinician_id: str):
    data = load(AvailabilityIn())
    return AvailabilityOut().dump(scheduling().setup.set_availability(clinician_id, data["rules"],
                                                                      data["exceptions"]))


@bp.post("/appointment-types")
@doc(body=TypeIn, response=TypeOut, summary="An appointment type and who offers it")
def create_type():
    return TypeOut().dump(scheduling().setup.create_type(load(TypeIn()))), 201


@bp.get("/appointment-types")
@doc(query=ListQuery, response=TypeOut(many=True), summary="Appointment types")
def types():
    q = load_query(ListQuery())
    return listed(scheduling().setup.list_types(include_inactive=q["include_inactive"]), TypeOut)


@bp.get("/appointment-types/<type_id>")
@doc(response=TypeOut, summary="One appointment type (inactive ones too)")
def appointment_type(type_id: str):
    return TypeOut().dump(scheduling().setup.get_type(type_id))


@bp.patch("/appointment-types/<type_id>")
@doc(body=TypePatch, response=TypeOut, summary="Change an appointment type")
def update_type(type_id: str):
    return TypeOut().dump(scheduling().setup.update_type(type_id, load(TypePatch())))


@bp.get("/availability")
@doc(query=AvailabilityQuery, response=SlotList,
     summary="Free times of a type's clinicians (staff: any type, from now; no minimum notice or horizon)")
def free_times():
    q = load_query(AvailabilityQuery())
    return slot_page(scheduling().appointments.availability(
        appointment_type_id=q["appointment_type_id"], clinician_id=q["clinician_id"], start=q["from"], end=q["to"],
        for_client=False))


# --- settings -----------------------------------------------------------------------------------------------

@bp.get("/scheduling-settings")
@doc(response=PolicyOut, summary="Scheduling's settings (self-scheduling itself is in /staff/settings)")
def policy():
    return PolicyOut().dump(scheduling().policy.get())


@bp.patch("/scheduling-settings")
@doc(body=PolicyPatch, response=PolicyOut, summary="Change scheduling's settings")
def update_policy():
    return PolicyOut().dump(scheduling().policy.update(load(PolicyPatch())))


# --- requests and appointments ------------------------------------------------------------------------------

@bp.get("/appointment-requests")
@doc(query=RequestsQuery, response=StaffAppointmentList, summary="Booking requests (pending by default)")
def requests():
    q = load_query(RequestsQuery())
    return StaffAppointmentList().dump({"items": scheduling().appointments.requests(q["status"]),
                                        "next_cursor": None})


@bp.post("/appointment-requests/<appointment_id>/approve")
@doc(response=StaffAppointmentOut, summary="Approve a request: it is booked (409 if the time is taken)")
def approve(appointment_id: str):
    return StaffAppointmentOut().dump(scheduling().appointments.approve(appointment_id))


@bp.post("/appointment-requests/<appointment_id>/deny")
@doc(body=DenyIn, response=StaffAppointmentOut, summary="Deny a request, with a reason the client reads")
def deny(appointment_id: str):
    return StaffAppointmentOut().dump(scheduling().appointments.deny(appointment_id, load(DenyIn())["reason"]))


@bp.get("/appointments")
@doc(query=CalendarQuery, response=StaffAppointmentList, summary="The calendar: appointments between from and to")
def calendar():
    q = load_query(CalendarQuery())
    return StaffAppointmentList().dump({"items": scheduling().appointments.calendar(q), "next_cursor": None})


@bp.post("/appointments")
@doc(body=BookingIn, response=StaffAppointmentOut, summary="Book an appointment for a client (409 if taken)")
def book():
    return StaffAppointmentOut().dump(scheduling().appointments.book(load(BookingIn()))), 201


@bp.get("/appointments/<appointment_id>")
@doc(response=StaffAppointmentOut, summary="One appointment")
def appointment(appointment_id: str):
    return StaffAppointmentOut().dump(scheduling().appointments.get(appointment_id, client_id=None))


@bp.post("/appointments/<appointment_id>/reschedule")
@doc(body=RescheduleIn, response=StaffAppointmentOut, summary="Move an appointment to another time")
def reschedule(appointment_id: str):
    return StaffAppointmentOut().dump(scheduling().appointments.reschedule(appointment_id, load(RescheduleIn())))


def _change(name: str, summary: str, *, path: str):
    def view(appointment_id: str):
        reason = load(ReasonIn(), optional=True)["reason"] if name in ("cancel", "late_cancel") else None
        return StaffAppointmentOut().dump(scheduling().appointments.staff_change(appointment_id, name, reason))

    view.__name__ = name
    bp.post(f"/appointments/<appointment_id>/{path}")(doc(body=ReasonIn if name in ("cancel", "late_cancel")
                                                          else None, response=StaffAppointmentOut,
                                                          summary=summary)(view))


_change("cancel", "Cancel an appointment", path="cancel")
_change("late_cancel", "Mark an appointment late-cancelled (fee when the practice charges one)", path="late-cancel")
_change("complete", "Mark a session completed: it becomes billable", path="complete")
_change("no_show", "Mark a no-show (fee when the practice charges one)", path="no-show")
