"""/api/v1/portal (role client): Messages (threads with the practice, replies, attachments) and the bell."""

from __future__ import annotations

from flask import Blueprint

from services.messaging.api import download, message_body, messaging
from services.messaging.api.schemas import (
    MessageOut,
    NotificationPage,
    NotificationQuery,
    ReplyIn,
    ThreadIn,
    ThreadOut,
    ThreadPage,
    ThreadQuery,
    UnreadOut,
)
from shared.auth import current_client_id
from shared.web import doc, load_query, refuse_unknown_query

bp = Blueprint("messaging_portal", __name__, url_prefix="/api/v1/portal")
refuse_unknown_query(bp)
CLIENT = "client"


@bp.get("/messages/threads")
@doc(query=ThreadQuery, response=ThreadPage, summary="My message threads, the latest first")
def threads():
    q = load_query(ThreadQuery())
    items, next_cursor = messaging().threads.list(side=CLIENT, client_id=current_client_id(), limit=q["limit"],
                                                  cursor=q["cursor"])
    return ThreadPage().dump({"items": items, "next_cursor": next_cursor})


@bp.post("/messages/threads")
@doc(body=ThreadIn, response=ThreadOut, status=201, summary="Write to the practice (JSON, or multipart with "
                                                              "attachments)")
def start_thread():
    data, uploads = message_body(ThreadIn())
    client_id = current_client_id()
    view = messaging().threads.start(side=CLIENT, sender_id=client_id, client_id=client_id, subject=data["subject"],
                                     body=data["body"], uploads=uploads)
    return ThreadOut().dump(view), 201


@bp.get("/messages/threads/<thread_id>")
@doc(response=ThreadOut, summary="One of my threads; the practice's messages in it are read from now on")
def thread(thread_id: str):
    return ThreadOut().dump(messaging().threads.get(thread_id, side=CLIENT, client_id=current_client_id()))


@bp.post("/messages/threads/<thread_id>/messages")
@doc(body=ReplyIn, response=MessageOut, status=201, summary="Reply (JSON, or multipart with attachments)")
def reply(thread_id: str):
    data, uploads = message_body(ReplyIn())
    client_id = current_client_id()
    message = messaging().threads.reply(side=CLIENT, sender_id=client_id, thread_id=thread_id, client_id=client_id,
                                        body=data["body"], uploads=uploads)
    return MessageOut().dump(message), 201


@bp.get("/messages/unread-count")
@doc(response=UnreadOut, summary="Messages from the practice I have not read (the red badge)")
def unread_messages():
    return {"unread": messaging().threads.unread_count(side=CLIENT, client_id=current_client_id())}


@bp.get("/messages/attachments/<attachment_id>")
@doc(summary="Download an attachment of one of my threads")
def attachment(attachment_id: str):
    return download(*messaging().threads.attachment(attachment_id, client_id=current_client_id()))


@bp.get("/notifications")
@doc(query=NotificationQuery, response=NotificationPage, summary="My notifications (the bell), newest first")
def notifications():
    q = load_query(NotificationQuery())
    items, next_cursor = messaging().notifications.list(audience=CLIENT, client_id=current_client_id(),
                                                        unread=q["unread"], limit=q["limit"], cursor=q["cursor"])
    return NotificationPage().dump({"items": items, "next_cursor": next_cursor})


@bp.get("/notifications/unread-count")
@doc(response=UnreadOut, summary="My unread notifications (the bell's count)")
def unread_notifications():
    return {"unread": messaging().notifications.unread_count(audience=CLIENT, client_id=current_client_id())}


@bp.post("/notifications/<notification_id>/read")
@doc(status=204, summary="Mark one of my notifications read")
def read(notification_id: str):
    messaging().notifications.mark_read(notification_id, audience=CLIENT, client_id=current_client_id())
    return "", 204


@bp.post("/notifications/read-all")
@doc(status=204, summary="Mark all my notifications read")
def read_all():
    messaging().notifications.mark_all_read(audience=CLIENT, client_id=current_client_id())
    return "", 204
