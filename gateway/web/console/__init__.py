"""The staff console, at /staff: what the practice's staff do in the browser.

Modules by area: `auth` (Sign in with the two-factor step, Logout, two-factor setup), `home` (the console's front
page), `clients` (list, search, new, the chart, edit, invitation, AutoPay, ledger), `messages` (the practice inbox,
threads, replies, assignment, a new message to a client), `notifications` (the bell and the Notifications page),
`billing` (service codes, a new invoice, statements and superbills, write-offs and discounts, PDFs), `payments`
(list, one payment, refunds, reconcile), `review` (the review queue of My Information changes), `settings` (feature
switches, practice details, billing profile, messaging's e-mail delay) and `users` (staff users, admins only). A
new service adds a module here and an entry in NAV.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/staff")

# The console's menu: (endpoint, label, admin only).
NAV: list[tuple[str, str, bool]] = [
    ("console.home", "Home", False),
    ("console.clients", "Clients", False),
    ("console.messages", "Messages", False),
    ("console.calendar", "Calendar", False),
    ("console.requests", "Requests", False),
    ("console.review", "Review queue", False),
    ("console.payments", "Payments", False),
    ("console.service_codes", "Service codes", False),
    ("console.scheduling_setup", "Scheduling setup", False),
    ("console.settings", "Settings", False),
    ("console.users", "Staff users", True),
]



@bp.app_context_processor
def _console_context():
    return {"console_nav": NAV, "console_endpoints": {endpoint for endpoint, _, _ in NAV}}


from gateway.web.console import (  # noqa: E402,F401  (views on bp)
    auth,
    billing,
    clients,
    home,
    messages,
    notifications,
    payments,
    review,
    scheduling,
    scheduling_setup,
    settings,
    users,
)
