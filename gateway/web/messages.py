"""What the portal's and the console's Messages pages share: the sentence a message the API did not take shows
above its form (gateway/web/portal/messages.py, gateway/web/console/messages.py)."""

from __future__ import annotations

from flask import request

from gateway.web import core

DOWN = "Messages are unavailable right now, and nothing was sent. Try again in a few minutes."


def refused(answer, default: str, *, unsure: str) -> tuple[int, str, dict[str, list[str]]]:
    """A message the API did not take: the page's status, the sentence above the form, the fields' errors. A refused
    file is named in the API's sentence; a browser cannot keep the files of a form, so it says to choose them again.
    `unsure`: what to say when the answer never came (the message may have been sent)."""
    if answer.status in (403, 404) and not answer.field_errors:
        core.must(answer)  # another client's thread is no thread at all: the 404 page
    if answer.status in (502, 504) and not answer.not_sent:
        return answer.status, unsure, {}
    if answer.unavailable:  # messaging's own 503 says why (an account still being set up); else it is down
        own = answer.status == 503 and not answer.not_sent and answer.detail
        return 503, answer.detail if own else DOWN, {}
    errors = answer.field_errors
    detail = answer.detail if answer.detail and not answer.detail.startswith("One or more fields") else ""
    message = detail or (f"{default} Check the fields marked below." if errors else default)
    if any(upload.filename for upload in request.files.getlist("attachments")):
        message += " Choose the files to attach again."
    return (answer.status if 400 <= answer.status < 500 else 422), message, errors
