"""RFC 9457 problem details: one table maps exceptions to status and problem type."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, Response, g, json
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

PROBLEM_MIMETYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"


class ProblemError(Exception):
    """An error that knows its HTTP answer (raised by the shared layers and the API layers; a service's domain
    raises its own errors, shared.domain.DomainError, mapped by its api/errors.py)."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, errors: dict | None = None, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(ProblemError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(ProblemError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kwargs)


class ServiceUnavailable(ProblemError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": "5"})
        super().__init__(detail, **kwargs)


class Forbidden(ProblemError):
    status, slug, title = 403, "forbidden", "Forbidden"


class NotFound(ProblemError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, slug, title = 409, "conflict", "Conflict"


class Gone(ProblemError):
    status, slug, title = 410, "gone", "No longer available"


class UnsupportedMediaType(ProblemError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class Unprocessable(ProblemError):
    status, slug, title = 422, "validation-error", "Your request has invalid fields"


class TooManyRequests(ProblemError):
    status, slug, title = 429, "too-many-requests", "Too many attempts"

    def __init__(self, detail: str | None = None, *, retry_after: int, **kwargs):
        kwargs.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        kwargs.setdefault("extra", {"retry_after": max(1, int(retry_after))})
        super().__init__(detail, **kwargs)


@dataclass(frozen=True)
class Mapped:
    """A service's domain exception as an HTTP problem. The exception knows nothing of HTTP: its message is the
    detail, and these attributes, when it has them, go into the answer too: `errors` (field -> messages),
    `headers` (Retry-After...), `extra` (more members of the problem body)."""
    status: int
    slug: str
    title: str


def generic(kind: type[ProblemError]) -> Mapped:
    """A domain error answered as one of the generic problems above (validation-error, forbidden, not-found,
    conflict...), with the same status, slug and title as when that problem is raised."""
    return Mapped(kind.status, kind.slug, kind.title)


INVALID, FORBIDDEN, NOT_FOUND, CONFLICT = (generic(kind) for kind in (Unprocessable, Forbidden, NotFound, Conflict))


def problem(status: int, slug: str, title: str, detail: str | None = None, *, errors: dict | None = None,
            headers: dict | None = None, extra: dict | None = None) -> Response:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail or title}
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    request_id = getattr(g, "request_id", None) if g else None
    if request_id:
        body["request_id"] = request_id
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


_HTTP_SLUGS = {
    400: "bad-request", 401: "unauthorized", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
    409: "conflict", 413: "payload-too-large", 415: "unsupported-media-type", 429: "too-many-requests",
    500: "internal-error", 502: "bad-gateway", 503: "service-unavailable", 504: "gateway-timeout",
}


UNIQUE_VIOLATION = "23505"


def _unique_field(constraint: str | None, table: str | None) -> str | None:
    """The column a unique constraint guards, from our naming convention (uq_<table>_<column>, shared.db) or
    PostgreSQL's own (<table>_<column>_key)."""
    if not constraint or not table:
        return None
    for prefix, suffix in ((f"uq_{table}_", ""), (f"{table}_", "_key")):
        if constraint.startswith(prefix) and constraint.endswith(suffix) and len(constraint) > len(prefix + suffix):
            return constraint[len(prefix):len(constraint) - len(suffix)]
    return None


def install_error_handlers(app: Flask, error_map: dict[type[Exception], Mapped] | None = None) -> None:
    """Every error leaves as problem+json; `error_map` maps a service's domain exceptions."""
    mapping = dict(error_map or {})

    @app.errorhandler(ProblemError)
    def _problem_error(exc: ProblemError):
        return problem(exc.status, exc.slug, exc.title, exc.detail, errors=exc.errors, headers=exc.headers,
                       extra=exc.extra)

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError):
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        return problem(422, "validation-error", "Your request has invalid fields",
                       "One or more fields are missing or invalid; see errors.", errors=messages)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        # Keep what the exception says in headers (Allow on 405, Retry-After...), not its content type.
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return problem(code, _HTTP_SLUGS.get(code, "http-error"), exc.name, exc.description, headers=headers)

    @app.errorhandler(IntegrityError)
    def _integrity_error(exc: IntegrityError):
        # A service checks before it writes, but two requests sent at once both pass the check and the loser's
        # INSERT meets the unique index: the row it conflicts with exists now, so the caller gets the 409 the
        # check would have given. Never the value: PostgreSQL's DETAIL (which names it) stays out of the answer.
        diag = getattr(exc.orig, "diag", None)
        if getattr(exc.orig, "sqlstate", None) != UNIQUE_VIOLATION or diag is None:
            return _unexpected(exc)
        constraint, table = diag.constraint_name, diag.table_name
        log.warning("unique violation answered 409", exc_info=exc,
                    extra={"fields": {"constraint": constraint, "table": table}})
        field = _unique_field(constraint, table)
        return problem(409, "conflict", "Conflict",
                       "This conflicts with a record that already exists (perhaps made by a request sent at the "
                       "same time); nothing was changed.", errors={field: ["Already in use."]} if field else None)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        for cls in type(exc).__mro__:
            if cls in mapping:
                m = mapping[cls]
                return problem(m.status, m.slug, m.title, str(exc) or m.title, errors=getattr(exc, "errors", None),
                               headers=getattr(exc, "headers", None), extra=getattr(exc, "extra", None))
        log.exception("unhandled error")
        return problem(500, "internal-error", "Internal error", "Something went wrong on our side.")
