"""What every page of the portal and the console shares: the session of the request, CSRF, the API calls made
with the signed-in user's token, the security headers, and the HTML error pages.

A page view is a function of what the API answers. It calls `api()` (one call) or `gather()` (several at once);
an answer of 5xx means that part is unavailable and the template says so; 401 means the session ended (sign in
again, and come back to this page); 404 is the 404 page (another client's invoice looks like no invoice at all).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Response, abort, current_app, g, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from gateway.upstream import BodyIncomplete, BodyStream, UpstreamBroken, UpstreamTimeout, UpstreamUnavailable
from gateway.web.api import Answer, Api
from gateway.web.session import SessionStore, WebSession

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Requests a page makes by itself (the idle warning's check, a badge's refresh) that must not count as activity.
BACKGROUND_HEADER = "X-Portal-Background"
# The answer to a background poll (the bell) whose session has ended: htmx's 286 stops the polling and nothing is
# swapped; the page's own idle timer, or the next click, goes to Sign in (a reload from here would race the idle
# timer's navigation there).
STOP_POLLING = ("", 286, {"HX-Reswap": "none"})
# A form that carries a message's attachments (messaging takes 5 files of 10 MB each, and the text): its body may be
# larger than the app's limit for every other request (MAX_CONTENT_LENGTH), as the API's own limit for messaging is.
UPLOAD_BODY_BYTES = 52 * 1024 * 1024


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


def takes_files(view):
    """A view whose form carries files (a message's attachments): its request may be UPLOAD_BODY_BYTES long."""
    view.upload_body_bytes = UPLOAD_BODY_BYTES
    return view


def check_csrf() -> None:
    if request.method not in UNSAFE:
        return
    if g.get("clear_session_cookie") and request.endpoint not in ("portal.sign_in", "console.sign_in"):
        raise SessionEnded()  # the form belonged to a session that has ended (idle): Sign in, not "form expired"
    # Set before anything reads the form (this check is the first): the limit applies when the body is parsed.
    limit = getattr(current_app.view_functions.get(request.endpoint), "upload_body_bytes", None)
    if limit:
        request.max_content_length = limit
    try:
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    except RequestEntityTooLarge:
        abort(413, description="What you sent is too large. Attach at most 5 files of up to 10 MB each.")
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


# --- bodies that are not JSON, answers that are files ---------------------------------------------------------
# gateway/web/api.py sends JSON bodies and reads every answer whole. A message's attachments go to the API as
# multipart/form-data, and an attachment comes back as a stream of up to 10 MB: these two calls use the same route
# table, pools, token and forwarded headers, and end the session on a 401 as api() does.
def _exchange(method: str, path: str, *, body: bytes | BodyStream | None = None, content_type: str | None = None,
              accept: str = "application/json"):
    """The upstream's answer as it came (its body may be a stream of chunks), or an Answer when it could not be had."""
    api_client = web().api
    route = api_client.routes.match(path)
    if route is None:
        raise LookupError(f"no service owns {path}")
    headers = [("Accept", accept), *forwarded_headers().items(), ("Authorization", f"Bearer {_fresh_token()}")]
    if content_type:
        headers.append(("Content-Type", content_type))
    try:
        response = api_client.pools[route.upstream].request(method, path, headers, body)
    except UpstreamUnavailable:
        return _unavailable(503, f"The {route.upstream} service is not answering.", not_sent=True)
    except UpstreamTimeout:
        return _unavailable(504, f"The {route.upstream} service took too long to answer.")
    except (UpstreamBroken, BodyIncomplete):
        return _unavailable(502, f"The {route.upstream} service gave no valid answer.")
    if response.status == 401:
        if response.chunks is not None:
            response.chunks.close()
        web().store.end(current_session())
        raise SessionEnded()
    return response


def _unavailable(status: int, detail: str, *, not_sent: bool = False) -> Answer:
    body = json.dumps({"status": status, "title": "Service unavailable", "detail": detail}).encode()
    return Answer(status, {"content-type": "application/problem+json"}, body, not_sent=not_sent)


def _answer(response) -> Answer:
    if isinstance(response, Answer):
        return response
    data = response.body if response.chunks is None else b"".join(response.chunks)
    return Answer(response.status, {k.lower(): v for k, v in response.headers}, data)


def _quoted(value: str) -> str:
    """A multipart parameter's value as a quoted-string the API's parser reads back: quote and backslash escaped,
    line breaks as %0D and %0A (as browsers send them)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "%0D").replace("\n", "%0A")


def api_form(method: str, path: str, *, fields: Mapping[str, str], files: Iterable[FileStorage],
             file_field: str = "attachments") -> Answer:
    """The form's fields and files sent on as multipart/form-data, each file under its own name and as it came: the
    API reads its type from its bytes and refuses what it does not take, naming the file. A file input left empty
    sends a part without a name: it is not a file."""
    boundary = f"portal-{secrets.token_hex(16)}"
    # Written to a spooled file (its first MiB in memory, the rest on disk) and sent from there a piece at a time:
    # five 10 MB files are never held whole in this process, once or twice.
    out = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115 (closed below)
    try:
        for name, value in fields.items():
            out.write((f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"\r\n\r\n'
                       f"{value}\r\n").encode())
        for upload in files:
            if not upload.filename:
                continue
            kind = (upload.mimetype or "application/octet-stream").replace("\r", "").replace("\n", "")
            out.write((f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(file_field)}"; '
                       f'filename="{_quoted(upload.filename or "")}"\r\nContent-Type: {kind}\r\n\r\n').encode())
            upload.stream.seek(0)
            while chunk := upload.stream.read(1024 * 1024):
                out.write(chunk)
            out.write(b"\r\n")
        out.write(f"--{boundary}--\r\n".encode())
        length = out.tell()
        out.seek(0)
        return _answer(_exchange(method, path, body=BodyStream(out, length),
                                 content_type=f"multipart/form-data; boundary={boundary}"))
    finally:
        out.close()


def api_download(path: str) -> Response:
    """The API's file, streamed through chunk by chunk (never whole in this process), always as a download with the
    API's file name; an answer that is not a file is the error page its status calls for."""
    response = _exchange("GET", path, accept="*/*")
    if isinstance(response, Answer) or not 200 <= response.status < 300:
        must(_answer(response))
        abort(404)
    headers = {name.lower(): value for name, value in response.headers}
    disposition = headers.get("content-disposition", "")
    out = {"Content-Disposition": disposition if disposition.lower().startswith("attachment") else "attachment",
           "X-Content-Type-Options": "nosniff"}
    if "content-length" in headers:
        out["Content-Length"] = headers["content-length"]
    # The chunks go out as they come; the server closes them (and so the upstream connection) if the browser goes
    # away before the end.
    body: Iterable[bytes] = [response.body] if response.chunks is None else response.chunks
    return Response(body, status=200, content_type=headers.get("content-type", "application/octet-stream"),
                    headers=out, direct_passthrough=True)


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
