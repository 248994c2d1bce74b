"""Staff Sign in (with the TOTP step when two-factor is on), Logout, and setting up two-factor with a QR code."""

from __future__ import annotations

import io

import segno
from flask import redirect, request, url_for
from markupsafe import Markup

from gateway.web import core
from gateway.web.console import bp

REASONS = {"idle": "You were signed out after 15 minutes without activity. Sign in again to continue.",
           "ended": "Your session has ended. Sign in again to continue."}


def _begin(body: dict, target: str):
    if body.get("user", {}).get("role") not in ("staff", "admin"):
        core.web().api.call("POST", "/api/v1/auth/logout", json_body={"refresh_token": body["refresh_token"]},
                            headers=core.forwarded_headers())
        return core.page("console/signin.html", 403, form={}, errors={}, next=target,
                         error="This is the staff console. Clients sign in at the client portal (/).")
    session = core.current_session()
    if session is not None:
        core.revoke(session)
    response = redirect(target)
    core.start_session(body, response)
    return response


@bp.route("/signin", methods=["GET", "POST"])
def sign_in():
    target = core.local_path(request.values.get("next"), url_for("console.home"))
    if not target.startswith("/staff"):
        target = url_for("console.home")
    session = core.current_session()
    if request.method == "GET":
        if session is not None and session.is_staff:
            return redirect(target)
        return core.page("console/signin.html", form={}, errors={}, next=target,
                         notice=REASONS.get(request.args.get("reason", "")))
    email, password = request.form.get("email", "").strip(), request.form.get("password", "")
    form = {"email": email}
    if not email or not password:
        errors = {k: ["Enter your " + ("e-mail address." if k == "email" else "password.")]
                  for k, v in (("email", email), ("password", password)) if not v}
        return core.page("console/signin.html", 422, form=form, errors=errors, next=target,
                         error="Enter your e-mail address and password.")
    answer = core.web().api.call("POST", "/api/v1/auth/login", json_body={"email": email, "password": password},
                                 headers=core.forwarded_headers())
    body = answer.json()
    if answer.ok and body.get("mfa_required"):
        return core.page("console/mfa.html", mfa_token=body["mfa_token"], next=target, errors={}, error=None)
    if answer.ok and body.get("access_token"):
        return _begin(body, target)
    error = (answer.detail if answer.status == 429 else
             "Sign in is unavailable right now. Try again in a few minutes." if answer.unavailable else
             "That e-mail address and password do not match. Check them and try again.")
    return core.page("console/signin.html", answer.status if answer.status >= 400 else 401, form=form, errors={},
                     next=target, error=error)


@bp.post("/signin/mfa")
def sign_in_mfa():
    target = core.local_path(request.form.get("next"), url_for("console.home"))
    token, code = request.form.get("mfa_token", ""), request.form.get("code", "").strip().replace(" ", "")
    answer = core.web().api.call("POST", "/api/v1/auth/mfa", json_body={"mfa_token": token, "code": code},
                                 headers=core.forwarded_headers())
    if answer.ok and answer.json().get("access_token"):
        return _begin(answer.json(), target)
    if answer.status in (401, 410) and "expired" in answer.detail.lower():
        return redirect(url_for("console.sign_in", next=target))
    return core.page("console/mfa.html", 422 if answer.status < 500 else answer.status, mfa_token=token, next=target,
                     errors={"code": ["That code is not right. Enter the 6 digits your authenticator app shows now."]},
                     error="The code was not accepted.")


@bp.post("/logout")
def logout():
    return core.logout_view("staff")


@bp.post("/session/keepalive")
def keepalive():
    return core.keepalive_view("staff")


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code (segno), no inline style, so the page's CSP holds."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False, svgns=True,
                                    title="Two-factor set-up code", dark="#000", light="#fff")
    return Markup(out.getvalue().decode())  # noqa: S704  (segno's own SVG of the URI, no user markup)


@bp.route("/security", methods=["GET", "POST"])
@core.signed_in("staff")
def security():
    """Two-factor sign-in: set up (a QR code for the authenticator app), turn on with a first code, turn off.
    Each answers with a new session (identity ends the user's other sessions): this browser goes on with it."""
    me = core.must(core.api("GET", "/api/v1/staff/me"))
    if request.method == "GET":
        return core.page("console/security.html", me=me, setup=None, errors={}, error=None)
    action = request.form.get("action")
    password = request.form.get("password", "")
    code = request.form.get("code", "").strip().replace(" ", "")
    if action == "setup":
        answer = core.api("POST", "/api/v1/staff/me/mfa/setup", json_body={"password": password})
        if answer.ok:
            setup = answer.json()
            core.web().store.replace_tokens(core.current_session(), setup)
            return core.page("console/security.html", me=me, errors={}, error=None,
                             setup={"secret": setup["secret"], "uri": setup["otpauth_uri"],
                                    "qr": qr_svg(setup["otpauth_uri"])})
        return core.page("console/security.html", 422 if answer.status < 500 else answer.status, me=me, setup=None,
                         errors={"password": [_refusal(answer, "That password is not right.")]},
                         error="Two-factor set-up did not start.")
    if action in ("enable", "disable"):
        body = {"password": password, **({"code": code} if action == "enable" else {})}
        answer = core.api("POST", f"/api/v1/staff/me/mfa/{action}", json_body=body)
        if answer.ok:
            core.web().store.replace_tokens(core.current_session(), answer.json())
            core.flash("Two-factor sign-in is on. Next time, Sign in asks for a code from your app."
                       if action == "enable" else "Two-factor sign-in is off.")
            return redirect(url_for("console.security"))
        setup = None
        if action == "enable" and request.form.get("uri"):
            setup = {"secret": request.form.get("secret", ""), "uri": request.form["uri"],
                     "qr": qr_svg(request.form["uri"])}
        errors = answer.field_errors or {"code" if action == "enable" else "password":
                                         [_refusal(answer, "That is not right.")]}
        return core.page("console/security.html", 422 if answer.status < 500 else answer.status, me=me, setup=setup,
                         errors=errors, error="Two-factor sign-in is " + ("not on yet." if action == "enable"
                                                                          else "still on."))
    return redirect(url_for("console.security"))


def _refusal(answer, default: str) -> str:
    return answer.detail if answer.status < 500 and answer.detail else default
