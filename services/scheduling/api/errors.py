"""How scheduling's domain errors answer over HTTP: one table, read by create_app (shared.errors)."""

from __future__ import annotations

from services.scheduling.domain import availability
from services.scheduling.domain import errors as e
from shared.errors import INVALID, Mapped

ERROR_MAP: dict[type[Exception], Mapped] = {
    e.UnknownReference: INVALID,
    e.BadTime: INVALID,
    availability.InvalidAvailability: INVALID,
    e.AppointmentNotFound: Mapped(404, "appointment-not-found", "Appointment not found"),
    e.SetupNotFound: Mapped(404, "not-found", "Not found"),
    e.FeedNotFound: Mapped(404, "calendar-feed-not-found", "Calendar feed not found"),
    e.SlotTaken: Mapped(409, "slot-taken", "Slot taken"),
    e.StatusChanged: Mapped(409, "status-changed", "The appointment's status does not allow this"),
    e.InsideCancellationWindow: Mapped(409, "inside-cancellation-window",
                                       "Too late to cancel online: contact the practice"),
    e.TooManyOpenRequests: Mapped(409, "too-many-open-requests", "Too many open appointment requests"),
    e.SelfSchedulingOff: Mapped(403, "self-scheduling-off", "Your practice does not take appointment requests online"),
    e.SettingsUnknown: Mapped(503, "settings-unavailable", "The practice's settings cannot be confirmed right now"),
    e.NotReadyYet: Mapped(503, "not-ready-yet", "Your account is still being set up"),
}
