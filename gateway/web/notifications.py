"""The notification bell and the Notifications page, for the portal (the client's own) and the console (the
practice's, one for all staff): newest first, unread ones marked, each with its link; Mark as read, Mark all as read.

The header of every page shows the bell's unread count and Messages' own; both are asked when the header is drawn
(once a page), and refreshed every 30 s by htmx from the bell's route, a background request that does not count as
activity (core.BACKGROUND_HEADER): a page left open still signs out when idle. `install(bp, Side(...))` adds the
routes and the header's counts to the portal's or the console's blueprint.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, g, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from gateway.web import core

PAGE = 25


@dataclass(frozen=True)
class Side:
    kind: str  # "client" | "staff": who signs in (core.signed_in)
    api: str  # "/api/v1/portal" | "/api/v1/staff"
    templates: str  # "portal" | "console"
    counts_name: str  # the header's counts, as the templates call them
    all_read: str  # what Mark all as read says

    @property
    def unread(self) -> dict[str, tuple]:
        return {"notifications": ("GET", f"{self.api}/notifications/unread-count"),
                "messages": ("GET", f"{self.api}/messages/unread-count")}

    def remember(self, answers: dict) -> dict:
        counts = {name: answers[name].json().get("unread") if answers[name].ok else None for name in self.unread}
        setattr(g, self.counts_name, counts)
        return counts

    def header_counts(self) -> dict[str, int | None]:
        """{notifications, messages}: the header's unread counts, each None when messaging cannot say; {} when
        signed out (or signed in as the other side)."""
        if self.counts_name not in g:
            session = core.current_session()
            setattr(g, self.counts_name, {})
            if session is not None and session.is_staff == (self.kind == "staff"):
                try:
                    self.remember(core.gather(**self.unread))
                except (core.SessionEnded, HTTPException):
                    pass  # the page itself is drawn; the next one signs in again
        return getattr(g, self.counts_name)


PORTAL = Side("client", "/api/v1/portal", "portal", "portal_counts", "All your notifications are marked as read.")
CONSOLE = Side("staff", "/api/v1/staff", "console", "console_counts",
               "All the practice's notifications are marked as read.")


def local_link(link: str | None) -> str | None:
    """A notification's link, if it is a path of this site (never another site's address)."""
    return core.local_path(link, "") or None


def install(bp: Blueprint, side: Side) -> None:
    listing_endpoint = f"{bp.name}.notifications"
    api = f"{side.api}/notifications"

    @bp.app_context_processor
    def _header():
        return {side.counts_name: side.header_counts, "background_header": core.BACKGROUND_HEADER,
                "local_link": local_link}

    @bp.get("/notifications/bell")
    def notifications_bell():
        """The bell's and Messages' counts, for htmx to swap in. Not `signed_in`: an ended session stops the polling
        (core.STOP_POLLING) instead of the bell swapping the Sign in page into itself."""
        session = core.current_session()
        if session is None:
            return core.STOP_POLLING
        if session.is_staff != (side.kind == "staff"):
            return "", 204
        try:
            counts = side.remember(core.gather(**side.unread))
        except core.SessionEnded:
            return core.STOP_POLLING
        if all(value is None for value in counts.values()):
            return "", 204  # messaging is not answering: the numbers shown stay
        return core.page(f"{side.templates}/_bell.html", counts=counts)

    @bp.get("/notifications")
    @core.signed_in(side.kind)
    def notifications():
        unread_only = request.args.get("unread") == "true"
        cursor = request.args.get("cursor", "")[:512]
        answer = core.api("GET", api, query={"unread": "true" if unread_only else None, "limit": PAGE,
                                             "cursor": cursor or None})
        if answer.status == 422:  # an old or altered cursor: the first page
            return redirect(url_for(listing_endpoint, unread="true" if unread_only else None))
        return core.page(f"{side.templates}/notifications.html", 200 if answer.ok else 503,
                         listing=answer.json() if answer.ok else None, unread_only=unread_only, cursor=cursor)

    def back() -> str:
        return core.local_path(request.form.get("next"), url_for(listing_endpoint))

    @bp.post("/notifications/<notification_id>/read")
    @core.signed_in(side.kind)
    def notification_read(notification_id: str):
        answer = core.api("POST", f"{api}/{core.quote_path(notification_id)}/read")
        if not answer.ok:
            core.must(answer)
        return redirect(back())

    @bp.post("/notifications/read-all")
    @core.signed_in(side.kind)
    def notifications_read_all():
        answer = core.api("POST", f"{api}/read-all")
        if not answer.ok:
            core.must(answer)
        core.flash(side.all_read)
        return redirect(back())
