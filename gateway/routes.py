"""The route table: which service owns which public path (each service lists its paths in shared/services.py).

A path template matches a whole segment for `*`, and everything below it. The most specific
template wins (more segments first, then more literal ones), so `/staff/clients/*/ledger` can belong to billing
while `/staff/clients` stays identity's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.auth import CLIENT_ROLES, STAFF_ROLES
from shared.services import SERVICES

# Who may call each public prefix. None: anyone (the service decides, e.g. sign-in).
PREFIX_ROLES: dict[str, frozenset[str] | None] = {
    "/api/v1/auth": None,
    "/api/v1/calendar": None,  # a client's private calendar feed: the URL's own secret is the credential
    "/api/v1/portal": CLIENT_ROLES,
    "/api/v1/staff": STAFF_ROLES,
}

# Which service owns each public path: from the list of services (shared/services.py, each with its paths).
ROUTES: list[tuple[str, str]] = [(path, service.name) for service in SERVICES for path in service.routes]


@dataclass(frozen=True)
class Route:
    template: str
    upstream: str
    pattern: re.Pattern = field(compare=False)
    specificity: tuple[int, int] = field(compare=False)


def compile_routes(table: list[tuple[str, str]]) -> list[Route]:
    routes = []
    for template, upstream in table:
        segments = [s for s in template.split("/") if s]
        regex = "".join("/[^/]+" if s == "*" else "/" + re.escape(s) for s in segments)
        literal = sum(1 for s in segments if s != "*")
        routes.append(Route(template, upstream, re.compile(f"^{regex}(?:/|$)"), (len(segments), literal)))
    return sorted(routes, key=lambda r: r.specificity, reverse=True)


def prefix_of(path: str) -> str | None:
    for prefix in PREFIX_ROLES:
        if path == prefix or path.startswith(prefix + "/"):
            return prefix
    return None


class RouteTable:
    def __init__(self, table: list[tuple[str, str]] = ROUTES):
        self.routes = compile_routes(table)
        self._cache: dict[str, Route | None] = {}

    def match(self, path: str) -> Route | None:
        found = self._cache.get(path, False)
        if found is not False:
            return found
        found = next((r for r in self.routes if r.pattern.match(path)), None)
        if len(self._cache) < 10000:  # paths with ids are many; the cache only spares the hot ones
            self._cache[path] = found
        return found
