"""The web: the client portal at / and the staff console at /staff, served by the gateway.

Server-rendered Flask + Jinja2 pages with htmx (pinned in static/vendor, nothing from a CDN) for partial updates.
Every page is a client of the public API (gateway/web/api.py) with the signed-in user's token, which stays on the
server (gateway/web/session.py). Reading and plain forms work without JavaScript; card entry is the one place
that needs it (the processor's hosted card fields, in a frame).

Adding pages for a new service: a module in portal/ or console/ with its views on the blueprint of that package,
templates under templates/portal or templates/console, and a tile or a menu entry in `portal.NAV`/`console.NAV`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, redirect, render_template, request
from jinja2 import FileSystemLoader
from werkzeug.exceptions import HTTPException

from gateway.web import core, filters
from gateway.web.api import Api
from gateway.web.session import SessionStore

HERE = Path(__file__).parent
WEB_BLUEPRINTS = frozenset({"portal", "console"})
# The pinned htmx: its file name carries its version, so browsers may keep it for good.
HTMX = "vendor/htmx-2.0.11.min.js"


def content_security_policy(processor_origin: str) -> str:
    return "; ".join([
        "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self'", "font-src 'self'",
        "connect-src 'self'", f"frame-src {processor_origin}", "frame-ancestors 'none'", "form-action 'self'",
        "base-uri 'none'", "object-src 'none'",
    ])


def install(app: Flask, *, api: Api, store: SessionStore, settings: core.WebSettings) -> None:
    from gateway.web.console import bp as console_bp
    from gateway.web.portal import bp as portal_bp

    app.extensions["web"] = core.Web(api=api, store=store, settings=settings)
    app.jinja_loader = FileSystemLoader(str(HERE / "templates"))
    app.static_folder = str(HERE / "static")
    if "static" not in app.view_functions:
        app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=app.send_static_file)
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = 3600
    filters.register(app)
    csp = content_security_policy(settings.processor_origin)

    @app.context_processor
    def _context():
        return {"csrf_token": core.csrf_token, "web_session": core.current_session(), "htmx_asset": HTMX,
                "idle_seconds": settings.idle_seconds,
                "flashes": core.take_flashes() if request.blueprint in WEB_BLUEPRINTS else []}

    app.register_blueprint(console_bp)
    app.register_blueprint(portal_bp)

    @app.before_request
    def _web_request():
        if request.blueprint in WEB_BLUEPRINTS:
            core.load_session()
            core.check_csrf()

    @app.after_request
    def _web_headers(response):
        if request.path.startswith("/api/") or request.blueprint not in WEB_BLUEPRINTS and not _is_page(response):
            return response
        response.headers["Content-Security-Policy"] = csp
        response.headers["Referrer-Policy"] = "no-referrer"  # the e-mailed links carry tokens
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        for name, value in g.get("new_cookies", {}).items():
            core.set_cookie(response, name, value)
        if g.get("clear_session_cookie"):
            core.clear_cookie(response, core.SESSION_COOKIE)
        return response

    @app.errorhandler(core.SessionEnded)
    def _session_ended(_exc):
        kind = "staff" if request.blueprint == "console" else "client"
        response = redirect(core.sign_in_url(kind, reason="ended"))
        core.clear_cookie(response, core.SESSION_COOKIE)
        if core.is_htmx():  # htmx follows redirects in place: tell it to load the page instead
            response.headers["HX-Redirect"] = response.location
        return response

    default_http = app.error_handler_spec[None][None].get(HTTPException)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if request.path.startswith("/api/") or request.path in ("/healthz", "/readyz", "/openapi.json",
                                                                  "/api-routes", "/metrics"):
            return default_http(exc) if default_http else exc
        if request.blueprint not in WEB_BLUEPRINTS and "text/html" not in request.headers.get("Accept", ""):
            return default_http(exc) if default_http else exc
        if g.get("web_session", False) is False:
            core.load_session()
        area = "console" if request.blueprint == "console" or request.path.startswith("/staff") else "portal"
        return render_template(f"{area}/error.html", status=exc.code, title=_TITLES.get(exc.code, "Error"),
                               detail=exc.description if exc.code in (403, 409, 410) or
                               exc.description != type(exc).description else None), exc.code


def _is_page(response) -> bool:
    return (response.mimetype or "").startswith("text/html") or request.path.startswith("/static/")


_TITLES = {400: "Something in the request was wrong", 403: "Not allowed", 404: "Page not found",
           405: "Not allowed", 409: "That could not be done", 410: "That link can no longer be used",
           500: "Something went wrong", 502: "Part of the portal is unavailable",
           503: "Part of the portal is unavailable", 504: "Part of the portal is unavailable"}
