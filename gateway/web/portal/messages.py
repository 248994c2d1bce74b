"""Messages: secure messages with the practice. The threads (the latest first, each with its unread count), New
message and a reply, both with attachments, one thread (reading it marks the practice's messages in it read), its
print view, and the attachments' downloads.

Attachments go to the API as they came (multipart/form-data, core.api_form): messaging reads each file's type from
its bytes and refuses what it does not take (type, size, count) with a 422 naming the file, and the form comes back
with that sentence and what was typed. A download streams through (core.api_download), never whole in the gateway.
"""

from __future__ import annotations

from flask import redirect, request, url_for

from gateway.web import core
from gateway.web import messages as shared
from gateway.web.portal import bp

THREADS = "/api/v1/portal/messages/threads"
PAGE = 25


def _thread_path(thread_id: str, tail: str = "") -> str:
    return f"{THREADS}/{core.quote_path(thread_id)}{tail}"


def typed(*names: str) -> dict[str, str]:
    return {name: request.form.get(name, "") for name in names}


UNSURE = ("The practice's system did not answer in time: the message may or may not have been sent. Look in "
          "Messages before you send it again.")


def refused(answer, default: str) -> tuple[int, str, dict[str, list[str]]]:
    return shared.refused(answer, default, unsure=UNSURE)


# --- the threads ----------------------------------------------------------------------------------------------
@bp.get("/messages")
@core.signed_in("client")
def messages():
    cursor = request.args.get("cursor", "")[:512]
    answer = core.api("GET", THREADS, query={"limit": PAGE, "cursor": cursor or None})
    if answer.status == 422:  # an old or altered cursor: the first page
        return redirect(url_for("portal.messages"))
    return core.page("portal/messages.html", 200 if answer.ok else 503,
                     listing=answer.json() if answer.ok else None, cursor=cursor)


@bp.route("/messages/new", methods=["GET", "POST"])
@core.signed_in("client")
@core.takes_files
def message_new():
    if request.method == "GET":
        return core.page("portal/message_new.html", values={"subject": "", "body": ""}, errors={}, error=None)
    values = typed("subject", "body")
    answer = core.api_form("POST", THREADS, fields=values, files=request.files.getlist("attachments"))
    if answer.ok:
        core.flash("Your message was sent to the practice.")
        return redirect(url_for("portal.message_thread", thread_id=answer.json()["id"]))
    status, error, errors = refused(answer, "Your message was not sent.")
    return core.page("portal/message_new.html", status, values=values, errors=errors, error=error)


# --- one thread -------------------------------------------------------------------------------------------------
def _thread_page(thread_id: str, status: int = 200, **context):
    thread = core.must(core.api("GET", _thread_path(thread_id)))
    context.setdefault("values", {"body": ""})
    context.setdefault("errors", {})
    return core.page("portal/message_thread.html", status, thread=thread, **context)


@bp.get("/messages/<thread_id>")
@core.signed_in("client")
def message_thread(thread_id: str):
    return _thread_page(thread_id)


@bp.post("/messages/<thread_id>")
@core.signed_in("client")
@core.takes_files
def message_reply(thread_id: str):
    values = typed("body")
    answer = core.api_form("POST", _thread_path(thread_id, "/messages"), fields=values,
                           files=request.files.getlist("attachments"))
    if answer.ok:
        core.flash("Your reply was sent.")
        return redirect(url_for("portal.message_thread", thread_id=thread_id) + f"#m-{answer.json().get('id', '')}")
    status, error, errors = refused(answer, "Your reply was not sent.")
    return _thread_page(thread_id, status, values=values, errors=errors, error=error)


@bp.get("/messages/<thread_id>/print")
@core.signed_in("client")
def message_print(thread_id: str):
    return core.page("portal/message_print.html", thread=core.must(core.api("GET", _thread_path(thread_id))))


@bp.get("/messages/attachments/<attachment_id>")
@core.signed_in("client")
def message_attachment(attachment_id: str):
    return core.api_download(f"/api/v1/portal/messages/attachments/{core.quote_path(attachment_id)}")
