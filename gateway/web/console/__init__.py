"""The staff console, at /staff: what the practice's staff do in the browser.

Modules by area: `auth` (Sign in with the two-factor step, Logout, two-factor setup), `home` (the console's front
page); clients, review, settings and billing each add theirs. A new service adds a module here and an entry in NAV.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/staff")

# The console's menu: (endpoint, label, admin only).
NAV: list[tuple[str, str, bool]] = [
    ("console.home", "Home", False),
]



@bp.app_context_processor
def _console_context():
    return {"console_nav": NAV, "console_endpoints": {endpoint for endpoint, _, _ in NAV}}


from gateway.web.console import auth, home  # noqa: E402,F401  (views on bp)
