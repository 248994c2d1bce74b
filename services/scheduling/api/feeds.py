"""/api/v1/calendar (no token): a client's private calendar feed, for calendar apps that subscribe to a URL. The
URL's secret is the credential; only its hash is stored, and a wrong or revoked one is 404."""

from __future__ import annotations

from flask import Blueprint, abort

from services.scheduling import files
from services.scheduling.api import file_response, scheduling, zone_of
from shared.web import doc

bp = Blueprint("scheduling_feeds", __name__, url_prefix="/api/v1/calendar")


@bp.get("/<token>.ics")
@doc(summary="A client's appointments as a calendar feed")
def feed(token: str):
    if not 20 <= len(token) <= 100:
        abort(404)
    views, practice_name = scheduling().calendar.feed(token)
    data = files.feed_ics(views, practice_name=practice_name, zone_of=zone_of)
    return file_response(data, files.ICS_TYPE, "appointments.ics", inline=True)
