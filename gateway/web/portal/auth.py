"""Sign in, Logout, Register (from the e-mailed link), Reset password: the signed-out pages of the portal."""

from __future__ import annotations

from flask import redirect, request, url_for

from gateway.web import core
from gateway.web.portal import bp

REASONS = {"idle": "You were signed out after 15 minutes without activity. Sign in again to continue.",
           "ended": "Your session has ended. Sign in again to continue."}


def sign_in_answer(email: str, password: str):
    return core.web().api.call("POST", "/api/v1/auth/login", json_body={"email": email, "password": password},
                               headers=core.forwarded_headers())


@bp.route("/signin", methods=["GET", "POST"])
def sign_in():
    session = core.current_session()
    target = core.local_path(request.values.get("next"), url_for("portal.dashboard"))
    if request.method == "GET" and session is not None and not session.is_staff:
        return redirect(target)
    form = {"email": request.form.get("email", "")}
    error = None
    if request.method == "POST":
        email, password = request.form.get("email", "").strip(), request.form.get("password", "")
        if not email or not password:
            errors = {k: ["Enter your " + ("e-mail address." if k == "email" else "password.")]
                      for k, v in (("email", email), ("password", password)) if not v}
            return core.page("portal/signin.html", 422, form=form, errors=errors, next=target,
                             error="Enter your e-mail address and password.")
        answer = sign_in_answer(email, password)
        body = answer.json()
        if answer.ok and body.get("access_token"):
            if body.get("user", {}).get("role") != "client":
                core.web().api.call("POST", "/api/v1/auth/logout", json_body={"refresh_token": body["refresh_token"]},
                                    headers=core.forwarded_headers())
                error = "This is the client portal. Practice staff sign in at the staff console (/staff)."
                return core.page("portal/signin.html", 403, form=form, errors={}, next=target, error=error)
            if session is not None:
                core.revoke(session)
            response = redirect(target)
            core.start_session(body, response)
            return response
        if answer.ok and body.get("mfa_required"):
            error = "Practice staff sign in at the staff console (/staff)."
        elif answer.status == 429:
            error = answer.detail or "Too many attempts. Wait a few minutes and try again."
        elif answer.unavailable:
            error = "Sign in is unavailable right now. Try again in a few minutes."
        else:
            error = "That e-mail address and password do not match. Check them and try again."
        return core.page("portal/signin.html", answer.status if answer.status >= 400 else 401, form=form,
                         errors={}, next=target, error=error)
    notice = REASONS.get(request.args.get("reason", ""))
    return core.page("portal/signin.html", form=form, errors={}, next=target, error=None, notice=notice)


@bp.post("/logout")
def logout():
    return core.logout_view("client")


@bp.post("/session/keepalive")
def keepalive():
    return core.keepalive_view("client")


# --- Register, from the e-mailed link ------------------------------------------------------------------
@bp.route("/register", methods=["GET", "POST"])
def register():
    token = request.values.get("token", "")
    api = core.web().api
    info = api.call("GET", f"/api/v1/auth/registration/{core.quote_path(token or '-')}",
                    headers=core.forwarded_headers())
    details = info.json()
    practice = details.get("practice_name") or "Client Portal"
    if info.unavailable:
        return core.page("portal/register.html", 503, practice=practice, valid=False, token=token, form={},
                         errors={}, error="Registration is unavailable right now. Try again in a few minutes.")
    valid = info.ok and details.get("valid")
    if not valid:
        return core.page("portal/register.html", 410 if info.status in (200, 410) else info.status,
                         practice=practice, valid=False, token=token, form={}, errors={},
                         error="This link can no longer be used. Ask your practice for a new one.")
    form = {"last_name": request.form.get("last_name", ""), "date_of_birth": request.form.get("date_of_birth", "")}
    if request.method == "POST":
        answer = api.call("POST", "/api/v1/auth/register", headers=core.forwarded_headers(),
                          json_body={"token": token, "password": request.form.get("password", ""), **form})
        if answer.status == 201:
            return core.page("portal/registered.html", practice=practice, email=answer.json().get("email"))
        errors = answer.field_errors
        return core.page("portal/register.html", answer.status, practice=practice, valid=answer.status == 422,
                         token=token, form=form, errors=errors,
                         error=answer.detail or "Registration did not go through.")
    return core.page("portal/register.html", practice=practice, valid=True, token=token, form=form, errors={},
                     error=None, expires_at=details.get("expires_at"))


# --- Reset password ----------------------------------------------------------------------------------
@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password():
    sent = False
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        if not email:
            return core.page("portal/forgot.html", 422, sent=False, errors={"email": ["Enter your e-mail address."]},
                             form={"email": ""})
        answer = core.web().api.call("POST", "/api/v1/auth/password-reset", json_body={"email": email},
                                     headers=core.forwarded_headers())
        if answer.status == 422:
            return core.page("portal/forgot.html", 422, sent=False, errors=answer.field_errors, form={"email": email})
        sent = True
    return core.page("portal/forgot.html", sent=sent, errors={}, form={"email": ""})


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password():
    token = request.values.get("token", "")
    if request.method == "POST":
        answer = core.web().api.call("POST", "/api/v1/auth/password-reset/confirm", headers=core.forwarded_headers(),
                                     json_body={"token": token, "password": request.form.get("password", "")})
        if answer.ok:
            return core.page("portal/reset_done.html")
        return core.page("portal/reset.html", answer.status, token=token, errors=answer.field_errors,
                         error=answer.detail or "The password was not changed.")
    return core.page("portal/reset.html", token=token, errors={}, error=None if token else
                     "This page needs the link from your e-mail. Ask for a new one below.")
