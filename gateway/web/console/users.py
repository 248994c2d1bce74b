"""Staff users (admins only): the list, a new staff user or admin, and taking a user's access away (every session
of theirs ends at once) or giving it back."""

from __future__ import annotations

from flask import redirect, request, url_for

from gateway.web import core
from gateway.web.console import bp
from gateway.web.console.common import admin_only, body, refusal, status_of

ROLES = [("staff", "Staff"), ("admin", "Administrator")]
FIELDS = ("first_name", "last_name", "email", "role")


def _page(status: int = 200, **context):
    answer = core.api("GET", "/api/v1/staff/users")
    context.setdefault("values", {"role": "staff"})
    context.setdefault("errors", {})
    return core.page("console/users.html", status if answer.ok or status != 200 else status_of(answer),
                     users=(body(answer) or {}).get("items") if answer.ok else None, roles=ROLES,
                     me=core.current_session().user_id, **context)


@bp.route("/users", methods=["GET", "POST"])
@core.signed_in("staff")
@admin_only
def users():
    if request.method == "GET":
        return _page()
    typed = {k: request.form.get(k, "").strip() for k in FIELDS}
    password = request.form.get("password", "")
    errors = {k: ["Enter this."] for k in ("first_name", "last_name", "email") if not typed[k]}
    if not password:
        errors["password"] = ["Enter a first password for them."]
    if typed["role"] not in dict(ROLES):
        errors["role"] = ["Choose a role."]
    if errors:
        return _page(422, values=typed, errors=errors, error="The staff user was not added. Check the fields "
                                                              "marked below.")
    answer = core.api("POST", "/api/v1/staff/users", json_body={**typed, "password": password})
    if answer.ok:
        core.flash(f"{typed['first_name']} {typed['last_name']} can sign in to the console now. Ask them to set up "
                   "two-factor sign-in.")
        return redirect(url_for("console.users"))
    return _page(status_of(answer), values=typed, errors=answer.field_errors,
                 error=refusal(answer, "The staff user was not added."))


@bp.post("/users/<user_id>/active")
@core.signed_in("staff")
@admin_only
def users_active(user_id: str):
    active = request.form.get("active") == "true"
    answer = core.api("PATCH", f"/api/v1/staff/users/{core.quote_path(user_id)}", json_body={"active": active})
    if answer.ok:
        user = answer.json()
        who = f"{user.get('first_name') or ''} {user.get('last_name') or ''}".strip() or user.get("email")
        core.flash(f"{who} can sign in again." if active else f"{who} can no longer sign in; their sessions ended.")
    else:
        core.flash(refusal(answer, "Nothing was changed."), "error")
    return redirect(url_for("console.users"))
