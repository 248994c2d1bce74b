"""/api/v1/staff (roles staff, admin): the practice inbox (filters, assignment), threads with a client, the
practice's notifications, and messaging's setting."""

from __future__ import annotations

from flask import Blueprint

from services.messaging.api import download, message_body, messaging
from services.messaging.api.schemas import (
    AssigneeOut,
    AssignIn,
    MessageOut,
    NotificationPage,
    NotificationQuery,
    ReplyIn,
    SettingsOut,
    SettingsPatch,
    StaffThreadIn,
    StaffThreadOut,
    StaffThreadPage,
    StaffThreadQuery,
    StaffThreadSummaryOut,
    UnreadOut,
)
from shared.auth import current_principal
from shared.web import doc, load, load_query, refuse_unknown_query

bp = Blueprint("messaging_staff", __name__, url_prefix="/api/v1/staff")
refuse_unknown_query(bp)
STAFF, PRACTICE = "staff", "practice"


@bp.get("/messages/threads")
@doc(query=StaffThreadQuery, response=StaffThreadPage,
     summary="The practice inbox, the latest first; filter by client, unread and assignee")
def threads():
    q = load_query(StaffThreadQuery())
    items, next_cursor = messaging().threads.list(side=STAFF, client_id=q["client_id"], unread=q["unread"],
                                                  assigned_to=q["assigned_to"], limit=q["limit"], cursor=q["cursor"])
    return StaffThreadPage().dump({"items": items, "next_cursor": next_cursor})


@bp.post("/messages/threads")
@doc(body=StaffThreadIn, response=StaffThreadOut, status=201, summary="Write to a client (a new thread)")
def start_thread():
    data, uploads = message_body(StaffThreadIn())
    view = messaging().threads.start(side=STAFF, sender_id=current_principal().user_id, client_id=data["client_id"],
                                     subject=data["subject"], body=data["body"], uploads=uploads)
    return StaffThreadOut().dump(view), 201


@bp.get("/messages/threads/<thread_id>")
@doc(response=StaffThreadOut, summary="A thread; the client's messages in it are read by the practice from now on")
def thread(thread_id: str):
    return StaffThreadOut().dump(messaging().threads.get(thread_id, side=STAFF))


@bp.post("/messages/threads/<thread_id>/messages")
@doc(body=ReplyIn, response=MessageOut, status=201, summary="Reply to the client")
def reply(thread_id: str):
    data, uploads = message_body(ReplyIn())
    message = messaging().threads.reply(side=STAFF, sender_id=current_principal().user_id, thread_id=thread_id,
                                        body=data["body"], uploads=uploads)
    return MessageOut().dump(message), 201


@bp.post("/messages/threads/<thread_id>/assign")
@doc(body=AssignIn, response=StaffThreadSummaryOut, summary="Assign the thread to a staff member (null: nobody)")
def assign(thread_id: str):
    return StaffThreadSummaryOut().dump(messaging().threads.assign(thread_id, load(AssignIn())["staff_user_id"]))


@bp.get("/messages/assignees")
@doc(response=AssigneeOut(many=True), summary="The staff members a thread can be assigned to")
def assignees():
    return {"items": AssigneeOut(many=True).dump(messaging().threads.assignees()), "next_cursor": None}


@bp.get("/messages/unread-count")
@doc(response=UnreadOut, summary="Messages from clients nobody at the practice has read")
def unread_messages():
    return {"unread": messaging().threads.unread_count(side=STAFF)}


@bp.get("/messages/attachments/<attachment_id>")
@doc(summary="Download an attachment")
def attachment(attachment_id: str):
    return download(*messaging().threads.attachment(attachment_id))


@bp.get("/notifications")
@doc(query=NotificationQuery, response=NotificationPage, summary="The practice's notifications, newest first")
def notifications():
    q = load_query(NotificationQuery())
    items, next_cursor = messaging().notifications.list(audience=PRACTICE, client_id=None, unread=q["unread"],
                                                        limit=q["limit"], cursor=q["cursor"])
    return NotificationPage().dump({"items": items, "next_cursor": next_cursor})


@bp.get("/notifications/unread-count")
@doc(response=UnreadOut, summary="The practice's unread notifications")
def unread_notifications():
    return {"unread": messaging().notifications.unread_count(audience=PRACTICE, client_id=None)}


@bp.post("/notifications/<notification_id>/read")
@doc(status=204, summary="Mark a notification read (for the whole practice)")
def read(notification_id: str):
    messaging().notifications.mark_read(notification_id, audience=PRACTICE, client_id=None)
    return "", 204


@bp.post("/notifications/read-all")
@doc(status=204, summary="Mark every practice notification read")
def read_all():
    messaging().notifications.mark_all_read(audience=PRACTICE, client_id=None)
    return "", 204


@bp.get("/messaging-settings")
@doc(response=SettingsOut, summary="How long a message may stay unread before the client is e-mailed")
def settings():
    return SettingsOut().dump(messaging().policy.get())


@bp.patch("/messaging-settings")
@doc(body=SettingsPatch, response=SettingsOut, summary="Change the client e-mail delay (0 to 1440 minutes)")
def change_settings():
    return SettingsOut().dump(messaging().policy.update(load(SettingsPatch())))
