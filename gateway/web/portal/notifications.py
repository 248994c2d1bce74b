"""The notification bell and the Notifications page: what the practice's system told the client (a payment, an
invoice, an appointment), newest first, unread ones marked, each with its link; Mark as read, Mark all as read.

The header of every portal page shows the bell's unread count and Messages' own; both are asked when the header is
drawn (once a page), and refreshed every 30 s by htmx from `notifications_bell`, a background request that does
not count as activity (core.BACKGROUND_HEADER): a page left open still signs out when idle.
"""

from __future__ import annotations

from flask import g, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from gateway.web import core
from gateway.web.portal import bp

NOTIFICATIONS = "/api/v1/portal/notifications"
PAGE = 25
UNREAD = {"notifications": ("GET", f"{NOTIFICATIONS}/unread-count"),
          "messages": ("GET", "/api/v1/portal/messages/unread-count")}


def remember_counts(answers: dict) -> None:
    """The unread counts a view asked for itself (the Dashboard): the header uses them instead of asking again."""
    g.portal_counts = {name: answers[name].json().get("unread") if answers[name].ok else None for name in UNREAD}


def header_counts() -> dict[str, int | None]:
    """{notifications, messages}: the header's unread counts, each None when messaging cannot say; {} signed out."""
    if "portal_counts" not in g:
        session = core.current_session()
        g.portal_counts = {}
        if session is not None and not session.is_staff:
            try:
                remember_counts(core.gather(**UNREAD))
            except (core.SessionEnded, HTTPException):
                pass  # the page itself is drawn; the next one signs in again
    return g.portal_counts


def local_link(link: str | None) -> str | None:
    """A notification's link, if it is a path of this site (never another site's address)."""
    return core.local_path(link, "") or None


@bp.app_context_processor
def _header():
    return {"portal_counts": header_counts, "background_header": core.BACKGROUND_HEADER, "local_link": local_link}



@bp.get("/notifications/bell")
def notifications_bell():
    """The bell's and Messages' counts, for htmx to swap in. Not `signed_in`: an ended session stops the polling
    (core.STOP_POLLING) instead of the bell swapping the Sign in page into itself."""
    session = core.current_session()
    if session is None:
        return core.STOP_POLLING
    if session.is_staff:
        return "", 204
    try:
        remember_counts(core.gather(**UNREAD))
    except core.SessionEnded:
        return core.STOP_POLLING
    if all(value is None for value in g.portal_counts.values()):
        return "", 204  # messaging is not answering: the numbers shown stay
    return core.page("portal/_bell.html", counts=g.portal_counts)


@bp.get("/notifications")
@core.signed_in("client")
def notifications():
    unread_only = request.args.get("unread") == "true"
    cursor = request.args.get("cursor", "")[:512]
    answer = core.api("GET", NOTIFICATIONS, query={"unread": "true" if unread_only else None, "limit": PAGE,
                                                   "cursor": cursor or None})
    if answer.status == 422:  # an old or altered cursor: the first page
        return redirect(url_for("portal.notifications", unread="true" if unread_only else None))
    return core.page("portal/notifications.html", 200 if answer.ok else 503, listing=answer.json() if answer.ok
                     else None, unread_only=unread_only, cursor=cursor)


def _back() -> str:
    return core.local_path(request.form.get("next"), url_for("portal.notifications"))


@bp.post("/notifications/<notification_id>/read")
@core.signed_in("client")
def notification_read(notification_id: str):
    answer = core.api("POST", f"{NOTIFICATIONS}/{core.quote_path(notification_id)}/read")
    if not answer.ok:
        core.must(answer)
    return redirect(_back())


@bp.post("/notifications/read-all")
@core.signed_in("client")
def notifications_read_all():
    answer = core.api("POST", f"{NOTIFICATIONS}/read-all")
    if not answer.ok:
        core.must(answer)
    core.flash("All your notifications are marked as read.")
    return redirect(_back())
