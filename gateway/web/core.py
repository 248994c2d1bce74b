"""What every page of the portal and the console shares: the session of the request, CSRF, the API calls made
with the signed-in user's token, the security headers, and the HTML error pages.

A page view is a function of what the API answers. It calls `api()` (one call) or `gather()` (several at once);
an answer of 5xx means that part is unavailable and the template says so; 401 means the session ended (sign in
again, and come back to this page); 404 is the 404 page (another client's invoice looks like no invoice at all).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import quote, urlsplit

from flask import abort, current_app, g, redirect, render_template, request, url_for

from gateway.web.api import Answer, Api
from gateway.web.session import SessionStore, WebSession

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Requests a page makes by itself (the idle warning's check, a badge's refresh) that must not count as activity.
BACKGROUND_HEADER = "X-Portal-Background"


class SessionEnded(Exception):
    """The API refused the session's token (signed out elsewhere, revoked, expired): sign in again."""


@dataclass
class WebSettings:
    secret: bytes
    processor_origin: str
    idle_seconds: int


@dataclass
class Web:
    api: Api
    store: SessionStore
    settings: WebSettings


def web() -> Web:
    return current_app.extensions["web"]


# --- cookies -------------------------------------------------------------------------------------
def secure_request() -> bool:
    return request.scheme == "https"


def cookie_name(base: str) -> str:
    # Over HTTPS the __Host- prefix: Secure, Path=/, no Domain, so no sibling host can set or shadow it.
    return f"__Host-{base}" if secure_request() else base


SESSION_COOKIE = "portal_session"
PRE_COOKIE = "portal_pre"


def set_cookie(response, base: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(cookie_name(base), value, max_age=max_age, path="/", secure=secure_request(),
                        httponly=True, samesite="Lax")


def clear_cookie(response, base: str) -> None:
    response.delete_cookie(cookie_name(base), path="/", secure=secure_request(), httponly=True, samesite="Lax")


# --- the request's session -----------------------------------------------------------------------
def load_session() -> None:
    """Before every web request: the session of the cookie, if any; an idle one is ended (and revoked)."""
    g.web_session = None
    g.new_cookies = {}
    cookie = request.cookies.get(cookie_name(SESSION_COOKIE), "")
    if cookie:
        session, idle = web().store.load(cookie)
        if session is not None and idle:
            revoke(session)
            g.session_ended = "idle"
            session = None
        if session is None:
            g.clear_session_cookie = True
        g.web_session = session
    if g.web_session is None and not request.cookies.get(cookie_name(PRE_COOKIE)):
        g.new_cookies[PRE_COOKIE] = secrets.token_urlsafe(24)


def current_session() -> WebSession | None:
    return g.get("web_session")


def revoke(session: WebSession) -> None:
    """Sign-out: identity revokes the refresh token (and its whole family); the record goes."""
    web().api.call("POST", "/api/v1/auth/logout", json_body={"refresh_token": session.refresh_token},
                   headers=forwarded_headers())
    web().store.end(session)


def start_session(tokens: dict, response) -> WebSession:
    session = web().store.create(tokens)
    set_cookie(response, SESSION_COOKIE, session.key)
    clear_cookie(response, PRE_COOKIE)
    return session


# --- CSRF ----------------------------------------------------------------------------------------
def csrf_token() -> str:
    """Bound to the session (or, signed out, to the pre-session cookie): a form of another site cannot know it."""
    session = current_session()
    basis = session.key if session else (request.cookies.get(cookie_name(PRE_COOKIE))
                                          or g.get("new_cookies", {}).get(PRE_COOKIE, ""))
    if not basis:
        return ""
    return hmac.new(web().settings.secret, b"csrf:" + basis.encode(), hashlib.sha256).hexdigest()


def check_csrf() -> None:
    if request.method not in UNSAFE:
        return
    if g.get("clear_session_cookie") and request.endpoint not in ("portal.sign_in", "console.sign_in"):
        raise SessionEnded()  # the form belonged to a session that has ended (idle): Sign in, not "form expired"
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = csrf_token()
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, description="This form has expired or did not come from this site. Reload the page and try "
                               "again.")
    origin = request.headers.get("Origin")
    if origin and origin != "null" and origin.rstrip("/") != f"{request.scheme}://{request.host}":
        abort(403, description="This request came from another site.")


# --- API calls with the user's token ------------------------------------------------------------------
def forwarded_headers() -> dict[str, str]:
    headers = {"X-Request-ID": g.get("request_id", ""), "X-Forwarded-For": request.remote_addr or ""}
    agent = request.headers.get("User-Agent")
    if agent:
        headers["User-Agent"] = agent[:500]
    return headers


def _fresh_token() -> str:
    session = current_session()
    if session is None:
        raise SessionEnded()
    store = web().store
    if store.needs_refresh(session):
        def exchange(refresh_token: str):
            answer = web().api.call("POST", "/api/v1/auth/refresh", json_body={"refresh_token": refresh_token},
                                    headers=forwarded_headers())
            if answer.ok:
                return answer.json()
            if answer.status >= 500 or answer.status == 429:  # identity could not say: keep the session
                abort(503, description="Signing you in again is not possible right now. Try again in a minute.")
            return None  # refused: the session has ended

        if not store.refresh(session, exchange):
            store.end(session)
            raise SessionEnded()
    return session.access_token


def api(method: str, path: str, **kwargs) -> Answer:
    kwargs.setdefault("headers", forwarded_headers())
    answer = web().api.call(method, path, token=_fresh_token(), **kwargs)
    if answer.status == 401:
        web().store.end(current_session())
        raise SessionEnded()
    return answer


def gather(**calls: tuple) -> dict[str, Answer]:
    """gather(me=("GET", "/api/v1/portal/me"), account=("GET", "/api/v1/portal/account", {"query": ...}))."""
    token = _fresh_token()
    headers = forwarded_headers()
    plan = {}
    for name, call in calls.items():
        method, path, *rest = call
        kwargs = dict(rest[0]) if rest else {}
        kwargs.setdefault("headers", headers)
        kwargs["token"] = token
        plan[name] = (method, path, kwargs)
    answers = web().api.gather(plan)
    if any(a.status == 401 for a in answers.values()):
        web().store.end(current_session())
        raise SessionEnded()
    return answers


def must(answer: Answer) -> Any:
    """The answer's body, or the error page its status calls for (404 for another client's object)."""
    if answer.ok:
        return answer.json()
    if answer.status in (403, 404, 409, 410):
        abort(answer.status, description=answer.detail or None)
    abort(503 if answer.unavailable else 500, description=answer.detail or None)


# --- views ---------------------------------------------------------------------------------------
def local_path(target: str | None, default: str) -> str:
    """Only a path on this site: never //evil.example or a scheme (an open redirect after sign-in)."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def sign_in_url(kind: str, *, reason: str | None = None) -> str:
    endpoint = "console.sign_in" if kind == "staff" else "portal.sign_in"
    here = request.full_path.rstrip("?") if request.method == "GET" else request.referrer
    args = {"next": local_path(here, "")} if here else {}
    if reason:
        args["reason"] = reason
    return url_for(endpoint, **{k: v for k, v in args.items() if v})


def signed_in(kind: str):
    """A page for signed-in clients (`client`) or staff (`staff`); others go to the right Sign in."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            session = current_session()
            if session is None:
                response = redirect(sign_in_url(kind, reason=g.get("session_ended")))
                if is_htmx():  # htmx would follow the redirect into the part it swaps: load the page instead
                    response.headers["HX-Redirect"] = response.location
                return response
            if (kind == "staff") != session.is_staff:
                abort(403, description="This page is for " + ("the practice's staff." if kind == "staff"
                                                              else "clients of the practice."))
            if request.headers.get(BACKGROUND_HEADER) != "1":
                web().store.touch(session)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def flash(message: str, kind: str = "ok") -> None:
    session = current_session()
    if session is not None:
        session.data.setdefault("flash", []).append([kind, message])
        web().store.save_data(session)


def take_flashes() -> list[list[str]]:
    session = current_session()
    if session is None or not session.data.get("flash"):
        return []
    messages = session.data.pop("flash")
    web().store.save_data(session)
    return messages


def page(template: str, status: int = 200, **context):
    return render_template(template, **context), status


def quote_path(value: str) -> str:
    return quote(value, safe="")


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


# --- the views both areas have ---------------------------------------------------------------------------
def logout_view(kind: str):
    """Logout: the refresh token revoked at identity (its whole session ends everywhere), the cookie cleared."""
    session = current_session()
    if session is not None:
        revoke(session)
    response = redirect(url_for("console.sign_in" if kind == "staff" else "portal.sign_in"))
    clear_cookie(response, SESSION_COOKIE)
    return response


def keepalive_view(kind: str):
    """The idle warning's "Stay signed in": the idle clock starts again (204 to its script, a page without it)."""
    session = current_session()
    if session is None:
        return redirect(sign_in_url(kind, reason=g.get("session_ended") or "ended"))
    web().store.touch(session)
    if request.headers.get("X-Portal-Keepalive") == "1":
        return "", 204
    return redirect(url_for("console.home" if kind == "staff" else "portal.dashboard"))
