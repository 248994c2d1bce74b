"""The route table: which service owns which public path. Later services only add rows.

A path template matches a whole segment for `*`, and everything below it. The most specific
template wins (more segments first, then more literal ones), so `/staff/clients/*/ledger` can belong to billing
while `/staff/clients` stays identity's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from shared.auth import CLIENT_ROLES, STAFF_ROLES

# Who may call each public prefix. None: anyone (the service decides, e.g. sign-in).
PREFIX_ROLES: dict[str, frozenset[str] | None] = {
    "/api/v1/auth": None,
    "/api/v1/portal": CLIENT_ROLES,
    "/api/v1/staff": STAFF_ROLES,
}

ROUTES: list[tuple[str, str]] = [
    # identity
    ("/api/v1/auth", "identity"),
    ("/api/v1/portal/me", "identity"),
    ("/api/v1/staff/users", "identity"),
    ("/api/v1/staff/me", "identity"),
    ("/api/v1/staff/clients", "identity"),
    ("/api/v1/staff/settings", "identity"),
    ("/api/v1/staff/profile-changes", "identity"),
    # billing
    ("/api/v1/portal/account", "billing"),
    ("/api/v1/portal/invoices", "billing"),
    ("/api/v1/portal/billing-documents", "billing"),
    ("/api/v1/staff/service-codes", "billing"),
    ("/api/v1/staff/invoices", "billing"),
    ("/api/v1/staff/billable-sessions", "billing"),
    ("/api/v1/staff/superbills", "billing"),
    ("/api/v1/staff/statements", "billing"),
    ("/api/v1/staff/billing-documents", "billing"),
    ("/api/v1/staff/billing-profile", "billing"),
    ("/api/v1/staff/autopay", "billing"),
    ("/api/v1/staff/clients/*/ledger", "billing"),
    ("/api/v1/staff/clients/*/account", "billing"),
    ("/api/v1/staff/clients/*/adjustments", "billing"),
    ("/api/v1/staff/clients/*/autopay", "billing"),
    ("/api/v1/staff/clients/*/billing-documents", "billing"),
    # payments
    ("/api/v1/portal/payment-methods", "payments"),
    ("/api/v1/portal/payments", "payments"),
    ("/api/v1/staff/payments", "payments"),
    ("/api/v1/staff/clients/*/payment-methods", "payments"),
]


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
