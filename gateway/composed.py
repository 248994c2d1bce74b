"""Public API routes the gateway answers itself, composed from the services' own public routes.

`GET /api/v1/portal/dashboard` (shared/API.md) spans services: the client's name is identity's, the balance and
the payment switches billing's, the upcoming appointments and self-scheduling scheduling's, the unread messages and
notifications messaging's, and documents belong to a service still to come. The
proxy has checked the token and the role already (the /api/v1/portal prefix); each service checks it again when
asked here with the same token. A part whose service is down, or does not exist yet, is null and named in
`unavailable`, and the rest is answered: the Dashboard is never a 500.
"""

from __future__ import annotations

from flask import Flask, request

from gateway.web.api import Answer, Api
from shared.errors import Forbidden, Unauthorized

# The parts still to come: null until their service exists (their routes answer 404 meanwhile).
LATER = {"pending_documents": "documents"}
UPCOMING_SHOWN = 3  # the Dashboard shows the next few; Appointments has them all


def _forwarded() -> dict[str, str]:
    remote = request.remote_addr or ""
    chain = request.headers.get("X-Forwarded-For")
    return {"X-Request-ID": request.headers.get("X-Request-ID", ""),
            "X-Forwarded-For": f"{chain}, {remote}" if chain else remote}


def _refused(answers: dict[str, Answer]) -> None:
    """The services' own verdict on the token wins (a session ended a moment ago, a role they refuse)."""
    for answer in answers.values():
        if answer.status == 401:
            raise Unauthorized(answer.detail or None)
        if answer.status == 403:
            raise Forbidden(answer.detail or None)


def dashboard(me: Answer, account: Answer, upcoming: Answer, messages: Answer, notifications: Answer) -> dict:
    profile = me.json() if me.ok else None
    money = account.json() if account.ok else None
    appointments = upcoming.json() if upcoming.ok else None
    unavailable = [name for name, answer in (("identity", me), ("scheduling", upcoming), ("billing", account))
                   if not answer.ok]
    if not (messages.ok and notifications.ok):
        unavailable.append("messaging")
    return {
        "client": {k: profile.get(k) for k in ("first_name", "last_name", "preferred_name", "email")}
        if profile else None,
        "balance_cents": money.get("balance_cents") if money else None,
        "currency": money.get("currency") if money else None,
        "features": {"pay_now": money.get("pay_now") if money else None,
                     "billing_documents": money.get("billing_documents_enabled") if money else None,
                     "self_scheduling": appointments.get("self_scheduling_enabled") if appointments else None},
        "upcoming_appointments": (appointments.get("items") or [])[:UPCOMING_SHOWN] if appointments else None,
        "unread_messages": messages.json().get("unread") if messages.ok else None,
        "unread_notifications": notifications.json().get("unread") if notifications.ok else None,
        **{name: None for name in LATER},
        "unavailable": unavailable + sorted(set(LATER.values())),
    }


def install(app: Flask, api: Api) -> None:
    @app.get("/api/v1/portal/dashboard")
    def portal_dashboard():
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        calls = {"me": ("/api/v1/portal/me", None), "account": ("/api/v1/portal/account", None),
                 "upcoming": ("/api/v1/portal/appointments", {"scope": "upcoming"}),
                 "messages": ("/api/v1/portal/messages/unread-count", None),
                 "notifications": ("/api/v1/portal/notifications/unread-count", None)}
        answers = api.gather({name: ("GET", path, {"token": token, "headers": _forwarded(), "query": query})
                              for name, (path, query) in calls.items()})
        _refused(answers)
        return dashboard(answers["me"], answers["account"], answers["upcoming"], answers["messages"],
                         answers["notifications"])
