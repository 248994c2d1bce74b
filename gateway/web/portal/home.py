"""The Dashboard: tiles for each area, the balance due and Pay Now when it applies."""

from __future__ import annotations

from flask import redirect, url_for

from gateway.web import core
from gateway.web.portal import TILES, bp


@bp.get("/")
def index():
    if core.current_session() is None:
        return redirect(url_for("portal.sign_in"))
    return dashboard()


@bp.get("/dashboard")
@core.signed_in("client")
def dashboard():
    answers = core.gather(me=("GET", "/api/v1/portal/me"), account=("GET", "/api/v1/portal/account"))
    me, account = answers["me"], answers["account"]
    return core.page("portal/dashboard.html", tiles=TILES, me=me.json() if me.ok else None, me_down=not me.ok,
                     account=account.json() if account.ok else None, account_down=not account.ok)
