"""What every service's domain errors are: plain exceptions that know nothing of HTTP.

A domain error carries the sentence a person reads (its message, the problem's detail) and, when it has them,
`errors` (field -> messages), `headers` (Retry-After, WWW-Authenticate) and `extra` (more members of the answer,
like `failure_code`). The service's api/errors.py maps each class to its status, slug and title (ERROR_MAP), and
shared.errors carries these attributes into the problem answer. A service's domain/ imports this module and
nothing of HTTP (tests/unit/test_domain_purity.py)."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, detail: str | None = None, *, errors: dict | None = None, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(detail or "")  # no detail: the mapped title is the answer's detail
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra or {}
