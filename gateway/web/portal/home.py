"""The Dashboard: tiles for each area (Messages with a red badge for unread messages), the balance due and Pay Now
when it applies, the next appointments."""

from __future__ import annotations

from flask import redirect, url_for

from gateway.web import core
from gateway.web.notifications import PORTAL
from gateway.web.portal import TILES, bp
from gateway.web.portal.appointments import UPCOMING, shown

NEXT_SHOWN = 3  # the Dashboard's next appointments; Appointments lists them all


@bp.get("/")
def index():
    if core.current_session() is None:
        return redirect(url_for("portal.sign_in"))
    return dashboard()


@bp.get("/dashboard")
@core.signed_in("client")
def dashboard():
    answers = core.gather(me=("GET", "/api/v1/portal/me"), account=("GET", "/api/v1/portal/account"),
                          upcoming=UPCOMING, **PORTAL.unread)
    me, account, upcoming = answers["me"], answers["account"], answers["upcoming"]
    listing = upcoming.json() if upcoming.ok else None
    PORTAL.remember(answers)  # the header's bell and Messages show the same numbers as the tiles
    return core.page("portal/dashboard.html", tiles=TILES, me=me.json() if me.ok else None, me_down=not me.ok,
                     account=account.json() if account.ok else None, account_down=not account.ok,
                     upcoming=[shown(v) for v in listing.get("items", [])[:NEXT_SHOWN]] if listing else None,
                     self_scheduling=listing.get("self_scheduling_enabled") if listing else None)
