"""/api/v1/portal (role client): Book an Appointment, Upcoming Appointments, Appointment History and its export,
an appointment's .ics, and the private calendar feed."""

from __future__ import annotations

from flask import Blueprint, current_app

from services.scheduling import files
from services.scheduling.api import file_response, scheduling, zone_of
from services.scheduling.api.schemas import (
    AppointmentList,
    AppointmentOut,
    AvailabilityQuery,
    FeedOut,
    HistoryQuery,
    PublicClinicianOut,
    PublicSiteOut,
    PublicTypeOut,
    RequestIn,
    SlotList,
    UpcomingQuery,
    slot_page,
)
from services.scheduling.usecases.appointments import EXPORT_LIMIT
from shared.auth import current_client_id
from shared.web import doc, load, load_query, refuse_unknown_query

bp = Blueprint("scheduling_portal", __name__, url_prefix="/api/v1/portal")
refuse_unknown_query(bp)


@bp.get("/appointment-types")
@doc(response=PublicTypeOut(many=True), summary="The appointment types a client may request online")
def appointment_types():
    items = scheduling().setup.list_types(online_only=True)
    return {"items": PublicTypeOut(many=True).dump(items), "next_cursor": None}


@bp.get("/clinicians")
@doc(response=PublicClinicianOut(many=True), summary="The clinicians who offer a type bookable online")
def clinicians():
    return {"items": PublicClinicianOut(many=True).dump(scheduling().setup.online_clinicians()), "next_cursor": None}


@bp.get("/sites")
@doc(response=PublicSiteOut(many=True), summary="The practice's sites (the history's Site filter, directions)")
def sites():
    return {"items": PublicSiteOut(many=True).dump(scheduling().setup.list_sites()), "next_cursor": None}


@bp.get("/availability")
@doc(query=AvailabilityQuery, response=SlotList, summary="The times a client may request")
def availability():
    q = load_query(AvailabilityQuery())
    items = scheduling().appointments.availability(appointment_type_id=q["appointment_type_id"],
                                                   clinician_id=q["clinician_id"], start=q["from"], end=q["to"],
                                                   for_client=True)
    return slot_page(items)


@bp.post("/appointment-requests")
@doc(body=RequestIn, response=AppointmentOut, summary="Request an appointment (Book an Appointment)")
def request_appointment():
    data = load(RequestIn())
    return AppointmentOut().dump(scheduling().appointments.request(current_client_id(), data)), 201


@bp.get("/appointments")
@doc(query=UpcomingQuery, response=AppointmentList, summary="Upcoming Appointments, open requests included")
def upcoming():
    load_query(UpcomingQuery())
    items, self_scheduling = scheduling().appointments.upcoming(current_client_id())
    return {**AppointmentList().dump({"items": items, "next_cursor": None}), "self_scheduling_enabled": self_scheduling}


@bp.get("/appointments/history")
@doc(query=HistoryQuery, response=AppointmentList,
     summary="Appointment History, filtered; format=csv or xlsx exports exactly those rows")
def history():
    q = load_query(HistoryQuery())
    if q["format"] == "json":
        items, next_cursor = scheduling().appointments.history(current_client_id(), q, limit=q["limit"],
                                                               cursor=q["cursor"])
        return AppointmentList().dump({"items": items, "next_cursor": next_cursor})
    items, _ = scheduling().appointments.history(current_client_id(), q, limit=EXPORT_LIMIT)
    name = f"appointment-history-{scheduling().ctx.clock():%Y-%m-%d}.{q['format']}"
    if q["format"] == "csv":
        return file_response(files.history_csv(items, zone_of=zone_of), files.CSV_TYPE, name)
    return file_response(files.history_xlsx(items, zone_of=zone_of), files.XLSX_TYPE, name)


@bp.get("/appointments/<appointment_id>")
@doc(response=AppointmentOut, summary="One of my appointments")
def appointment(appointment_id: str):
    return AppointmentOut().dump(scheduling().appointments.get(appointment_id, client_id=current_client_id()))


@bp.get("/appointments/<appointment_id>/ics")
@doc(summary="One of my appointments as a calendar file (.ics)")
def appointment_ics(appointment_id: str):
    view = scheduling().appointments.get(appointment_id, client_id=current_client_id())
    data = files.appointment_ics(view, practice_name=scheduling().policy.get()["practice_name"], zone_of=zone_of)
    return file_response(data, files.ICS_TYPE, f"appointment-{view['start']:%Y-%m-%d}.ics")


@bp.post("/appointments/<appointment_id>/confirm")
@doc(response=AppointmentOut, summary="Confirm a booked appointment")
def confirm(appointment_id: str):
    return AppointmentOut().dump(scheduling().appointments.confirm(current_client_id(), appointment_id))


@bp.post("/appointments/<appointment_id>/cancel")
@doc(response=AppointmentOut, summary="Cancel an appointment or a request (outside the cancellation window)")
def cancel(appointment_id: str):
    return AppointmentOut().dump(scheduling().appointments.client_cancel(current_client_id(), appointment_id))


@bp.get("/calendar-feed")
@doc(response=FeedOut, summary="Whether my private calendar feed is on")
def feed_status():
    return FeedOut().dump(scheduling().calendar.status(current_client_id()))


@bp.post("/calendar-feed")
@doc(response=FeedOut, summary="A new private calendar feed URL (the previous one stops working)")
def feed_create():
    token, created_at = scheduling().calendar.create(current_client_id())
    return FeedOut().dump({"active": True, "created_at": created_at, **feed_urls(token)}), 201


@bp.delete("/calendar-feed")
@doc(summary="Revoke my private calendar feed")
def feed_revoke():
    scheduling().calendar.revoke(current_client_id())
    return "", 204


def feed_urls(token: str) -> dict:
    """The feed's public address: the portal's own (PORTAL_BASE_URL), where calendar apps reach the gateway."""
    root = current_app.config["PORTAL_BASE_URL"].rstrip("/")
    url = f"{root}/api/v1/calendar/{token}.ics"
    return {"url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]}
