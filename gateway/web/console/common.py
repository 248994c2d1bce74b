"""What the console's views share: amounts typed in dollars, answers a page may show without, admin-only pages."""

from __future__ import annotations

from functools import wraps

from flask import abort

from gateway.web import core
from gateway.web.api import Answer
from gateway.web.filters import cents_from_text


def cents(text: str | None) -> int | None:
    """"12.50", "$1,200" or "7" as integer cents, exactly (no floats); None if it is not an amount."""
    return cents_from_text(text)


def body(answer: Answer):
    """The answer's body if it is one, else None (the template says that part is unavailable or not there)."""
    return answer.json() if answer.ok else None


def admin_only(view):
    """Under `core.signed_in("staff")`: the page is for admins (the API checks again)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if core.current_session().role != "admin":
            abort(403, description="Only an administrator of the practice can do this.")
        return view(*args, **kwargs)
    return wrapper


def status_of(answer: Answer) -> int:
    """The page's status for a refused form: the API's 4xx as it is (422, 409), 503 when the service is down."""
    if answer.unavailable:
        return 503
    return answer.status if 400 <= answer.status < 500 else 422


def refusal(answer: Answer, default: str) -> str:
    if answer.unavailable:
        return "That part of the practice's system is unavailable right now, and nothing was changed. Try again " \
               "in a few minutes."
    return answer.detail if answer.detail and not answer.detail.startswith("One or more fields") else default
