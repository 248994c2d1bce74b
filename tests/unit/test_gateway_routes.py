"""The gateway's route table: whole-segment matching, the most specific template wins, prefixes and roles."""

from __future__ import annotations

import pytest

from gateway.routes import PREFIX_ROLES, ROUTES, RouteTable, compile_routes, prefix_of
from shared.auth import CLIENT_ROLES, STAFF_ROLES

WITH_LEDGER = ROUTES + [("/api/v1/staff/clients/*/ledger", "billing")]


def test_a_star_template_beats_the_shorter_literal_prefix():
    table = RouteTable(WITH_LEDGER)
    assert table.match("/api/v1/staff/clients/c-42/ledger").upstream == "billing"
    assert table.match("/api/v1/staff/clients/c-42/ledger/entries/9").upstream == "billing"
    assert table.match("/api/v1/staff/clients/c-42").upstream == "identity"
    assert table.match("/api/v1/staff/clients").upstream == "identity"
    assert table.match("/api/v1/staff/clients/c-42/invitation").upstream == "identity"


def test_the_winner_does_not_depend_on_table_order():
    for table in (WITH_LEDGER, list(reversed(WITH_LEDGER))):
        assert RouteTable(table).match("/api/v1/staff/clients/c-1/ledger").template == \
            "/api/v1/staff/clients/*/ledger"


def test_compile_routes_sorts_most_specific_first():
    routes = compile_routes([("/api/v1/staff", "a"), ("/api/v1/staff/*/x", "b"),
                             ("/api/v1/staff/clients", "c"), ("/api/v1/staff/clients/*/x", "d")])
    assert [r.upstream for r in routes] == ["d", "b", "c", "a"]


def test_a_star_matches_exactly_one_segment():
    table = RouteTable([("/api/v1/staff/clients/*/ledger", "billing")])
    assert table.match("/api/v1/staff/clients/ledger") is None
    assert table.match("/api/v1/staff/clients//ledger") is None
    assert table.match("/api/v1/staff/clients/a/b/ledger") is None


def test_templates_match_whole_segments_only():
    table = RouteTable()
    assert table.match("/api/v1/staff/clientsx") is None
    assert table.match("/api/v1/authx/login") is None
    assert table.match("/api/v1/auth/login").upstream == "identity"
    assert table.match("/api/v1/portal/me/").upstream == "identity"


def test_an_unknown_path_matches_nothing_also_when_cached():
    table = RouteTable()
    for _ in range(2):
        assert table.match("/api/v1/staff/unknown") is None
        assert table.match("/api/v2/staff/users") is None
    assert table.match("/api/v1/staff/users").upstream == "identity"


@pytest.mark.parametrize(("path", "prefix"), [
    ("/api/v1/auth", "/api/v1/auth"),
    ("/api/v1/auth/login", "/api/v1/auth"),
    ("/api/v1/authx", None),
    ("/api/v1/authx/login", None),
    ("/api/v1/portal/me", "/api/v1/portal"),
    ("/api/v1/portals", None),
    ("/api/v1/staff/users", "/api/v1/staff"),
    ("/api/v1", None),
    ("/api/v2/staff/users", None),
    ("/healthz", None),
])
def test_prefix_of(path, prefix):
    assert prefix_of(path) == prefix


def test_prefix_roles():
    assert PREFIX_ROLES["/api/v1/auth"] is None
    assert PREFIX_ROLES["/api/v1/portal"] == CLIENT_ROLES
    assert PREFIX_ROLES["/api/v1/staff"] == STAFF_ROLES


def test_every_route_lives_under_a_guarded_prefix():
    # A route outside PREFIX_ROLES would be unreachable (404) or, worse, unguarded if the proxy changed.
    assert all(prefix_of(template) is not None for template, _ in ROUTES)
