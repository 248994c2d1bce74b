"""How messaging's domain errors answer over HTTP: one table, read by create_app (shared.errors)."""

from __future__ import annotations

from services.messaging.domain import errors as e
from shared.errors import INVALID, Mapped

ERROR_MAP: dict[type[Exception], Mapped] = {
    e.MessageInvalid: INVALID,
    e.AttachmentRefused: Mapped(422, "attachment-refused", "Attachment refused"),
    e.UnknownClient: INVALID,
    e.UnknownStaffMember: INVALID,
    e.ThreadNotFound: Mapped(404, "thread-not-found", "Thread not found"),
    e.AttachmentNotFound: Mapped(404, "attachment-not-found", "Attachment not found"),
    e.NotificationNotFound: Mapped(404, "notification-not-found", "Notification not found"),
    e.NotReadyYet: Mapped(503, "not-ready-yet", "Your account is still being set up"),
}
