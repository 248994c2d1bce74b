"""Messages in the console: the practice inbox (filtered by client, Unread only, Assigned to), one thread (reading it
marks the client's messages read for the practice) with a reply and Assign to, a new message to a client, the print
view, and the attachments' downloads.

Attachments go to the API as they came (core.api_form): messaging checks each file's bytes and refuses what it does
not take with a 422 naming the file, shown above the form with what was typed. Downloads stream through
(core.api_download).
"""

from __future__ import annotations

from flask import redirect, request, url_for

from gateway.web import core
from gateway.web import messages as shared
from gateway.web.console import bp
from gateway.web.console.common import body, status_of

THREADS = "/api/v1/staff/messages/threads"
ASSIGNEES = ("GET", "/api/v1/staff/messages/assignees")
PAGE = 25
CLIENT_MATCHES = 10
UNSURE = ("The messaging service did not answer in time: the message may or may not have been sent. Look in the "
          "thread before you send it again.")


def _thread_path(thread_id: str, tail: str = "") -> str:
    return f"{THREADS}/{core.quote_path(thread_id)}{tail}"


def _client_path(client_id: str) -> str:
    return f"/api/v1/staff/clients/{core.quote_path(client_id)}"


def _items(answer) -> list[dict] | None:
    found = body(answer)
    return found.get("items", []) if found is not None else None


def client_name(client: dict | None) -> str:
    if not client:
        return ""
    return " ".join(p for p in (client.get("preferred_name") or client.get("first_name"), client.get("last_name"))
                    if p)


def refused(answer, default: str) -> tuple[int, str, dict[str, list[str]]]:
    return shared.refused(answer, default, unsure=UNSURE)


# --- the inbox --------------------------------------------------------------------------------------------------
@bp.get("/messages")
@core.signed_in("staff")
def messages():
    filters = {"client_id": request.args.get("client_id", "").strip()[:64],
               "unread": "true" if request.args.get("unread") == "true" else "",
               "assigned_to": request.args.get("assigned_to", "").strip()[:64]}
    q = request.args.get("q", "").strip()[:100]
    cursor = request.args.get("cursor", "")[:512]
    matches, search_down = None, False
    if q and not filters["client_id"]:  # the client searched for by name: their threads, or a choice of clients
        found = core.api("GET", "/api/v1/staff/clients", query={"q": q, "limit": CLIENT_MATCHES})
        matches, search_down = _items(found), not found.ok
        if matches is not None and len(matches) == 1:
            filters["client_id"], matches = matches[0]["id"], None
    calls = {"assignees": ASSIGNEES}
    if filters["client_id"]:
        calls["client"] = ("GET", _client_path(filters["client_id"]))
    if matches is None and not search_down:
        calls["threads"] = ("GET", THREADS, {"query": {**filters, "limit": PAGE, "cursor": cursor or None}})
    answers = core.gather(**calls)
    threads = answers.get("threads")
    if threads is not None and threads.status == 422 and cursor:  # an old or altered cursor: the first page
        return redirect(url_for("console.messages", **{k: v for k, v in filters.items() if v}))
    client = body(answers["client"]) if "client" in answers else None
    return core.page("console/messages.html", status_of(threads) if threads is not None and not threads.ok else 200,
                     listing=body(threads) if threads is not None else None,
                     threads_down=threads is not None and threads.unavailable, filters=filters, q=q, matches=matches,
                     search_down=search_down, client=client, client_name=client_name(client),
                     assignees=_items(answers["assignees"]), cursor=cursor,
                     errors=threads.field_errors if threads is not None and threads.status == 422 else {})


# --- one thread -------------------------------------------------------------------------------------------------
def _thread_page(thread_id: str, status: int = 200, **context):
    answers = core.gather(thread=("GET", _thread_path(thread_id)), assignees=ASSIGNEES)
    thread = core.must(answers["thread"])
    context.setdefault("values", {"body": ""})
    context.setdefault("errors", {})
    return core.page("console/message_thread.html", status, thread=thread, assignees=_items(answers["assignees"]),
                     **context)


@bp.get("/messages/<thread_id>")
@core.signed_in("staff")
def messages_thread(thread_id: str):
    return _thread_page(thread_id)


@bp.post("/messages/<thread_id>")
@core.signed_in("staff")
@core.takes_files
def messages_reply(thread_id: str):
    values = {"body": request.form.get("body", "")}
    answer = core.api_form("POST", _thread_path(thread_id, "/messages"), fields=values,
                           files=request.files.getlist("attachments"))
    if answer.ok:
        core.flash("Your reply was sent to the client.")
        return redirect(url_for("console.messages_thread", thread_id=thread_id) + f"#m-{answer.json().get('id', '')}")
    status, error, errors = refused(answer, "The reply was not sent.")
    return _thread_page(thread_id, status, values=values, errors=errors, error=error)


@bp.post("/messages/<thread_id>/assign")
@core.signed_in("staff")
def messages_assign(thread_id: str):
    chosen = request.form.get("staff_user_id", "").strip()[:64]
    answer = core.api("POST", _thread_path(thread_id, "/assign"), json_body={"staff_user_id": chosen or None})
    if answer.ok:
        assigned = answer.json().get("assigned_to")
        core.flash(f"Assigned to {assigned['name']}." if assigned else "Nobody is assigned to this thread now.")
    elif answer.status == 404 and not answer.field_errors:
        core.must(answer)
    else:
        errors = answer.field_errors.get("staff_user_id") or []
        core.flash(" ".join(errors) or answer.detail or "The thread was not assigned; try again in a moment.",
                   "error")
    return redirect(url_for("console.messages_thread", thread_id=thread_id))


@bp.get("/messages/<thread_id>/print")
@core.signed_in("staff")
def messages_print(thread_id: str):
    return core.page("console/message_print.html", thread=core.must(core.api("GET", _thread_path(thread_id))))


@bp.get("/messages/attachments/<attachment_id>")
@core.signed_in("staff")
def messages_attachment(attachment_id: str):
    return core.api_download(f"/api/v1/staff/messages/attachments/{core.quote_path(attachment_id)}")


# --- a new message to a client ----------------------------------------------------------------------------------
def _new_page(status: int = 200, *, values: dict, errors: dict | None = None, error: str | None = None):
    client_id = values.get("client_id", "")
    q = request.args.get("q", "").strip()[:100]
    client = matches = None
    down = False
    if client_id:
        answer = core.api("GET", _client_path(client_id))
        client = body(answer)
        if client is None:
            errors = {**(errors or {}), "client_id": ["No client with this id: search again."]
                      if answer.status == 404 else ["The list of clients is unavailable right now."]}
    elif q:
        answer = core.api("GET", "/api/v1/staff/clients", query={"q": q, "limit": CLIENT_MATCHES})
        matches, down = _items(answer), answer.unavailable
    return core.page("console/message_new.html", status, client=client, client_name=client_name(client), q=q,
                     matches=matches, down=down, values=values, errors=errors or {}, error=error)


@bp.route("/messages/new", methods=["GET", "POST"])
@core.signed_in("staff")
@core.takes_files
def messages_new():
    if request.method == "GET":
        return _new_page(values={"client_id": request.args.get("client_id", "").strip()[:64], "subject": "",
                                 "body": ""})
    values = {name: request.form.get(name, "") for name in ("client_id", "subject", "body")}
    if not values["client_id"].strip():
        return _new_page(422, values=values, errors={"client_id": ["Choose the client."]},
                         error="The message was not sent: choose the client first.")
    answer = core.api_form("POST", THREADS, fields=values, files=request.files.getlist("attachments"))
    if answer.ok:
        core.flash("Your message was sent to the client.")
        return redirect(url_for("console.messages_thread", thread_id=answer.json()["id"]))
    status, error, errors = refused(answer, "The message was not sent.")
    return _new_page(status, values=values, errors=errors, error=error)
