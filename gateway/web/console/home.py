"""The console's front page: what needs the practice's attention."""

from __future__ import annotations

from flask import redirect, url_for

from gateway.web import core
from gateway.web.console import bp


@bp.get("")
@bp.get("/")
def index():
    if core.current_session() is None:
        return redirect(url_for("console.sign_in"))
    return home()


@bp.get("/home")
@core.signed_in("staff")
def home():
    answers = core.gather(me=("GET", "/api/v1/staff/me"),
                          changes=("GET", "/api/v1/staff/profile-changes", {"query": {"status": "pending",
                                                                                       "limit": 100}}))
    me, changes = answers["me"], answers["changes"]
    return core.page("console/home.html", me=me.json() if me.ok else None,
                     pending=len(changes.json().get("items", [])) if changes.ok else None)
