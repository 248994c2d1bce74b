"""Every field of every request schema of every service refuses a NUL and a lone surrogate with a 422 problem naming
the field, and nothing is written (issue 9, section 5).

The routes and their schemas are read from the apps themselves (the `_openapi` info shared.web.doc records on each
view; nested schemas and lists followed), so a route or a field added later is covered without editing this test.
A query parameter travels in the URL, where a NUL is %00 and a lone surrogate can only be bytes that are not UTF-8
(%ED%A0%80): those are 400s naming the parameter, answered before any route runs.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from marshmallow import Schema, fields
from sqlalchemy import inspect

from tests.support.snapshot import TableSnapshot

pytestmark = pytest.mark.integration

BAD = {"nul": ("a\u0000b", "a%00b"), "lone-surrogate": ("\ud800x", "%ED%A0%80x")}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
SANDBOX_KEY = "sk_test_bad_strings"


@dataclass
class Case:
    method: str
    path: str          # the route with every <arg> filled
    where: str         # "body" or "query"
    field: tuple       # the path of keys (and list indexes) to the field, as the client sends it
    is_string: bool


def schema_instance(schema) -> Schema:
    return schema() if isinstance(schema, type) else schema


def leaf_fields(schema: Schema, prefix: tuple = ()):
    """(path, field) of every field a client may send, through nested schemas and lists."""
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        yield from _walk(field, (*prefix, field.data_key or name))


def _walk(field, path: tuple):
    if isinstance(field, fields.Nested):
        nested = field.schema
        yield from leaf_fields(nested, path)
        if field.many:
            yield from leaf_fields(nested, (*path, 0))
    elif isinstance(field, fields.List):
        yield from _walk(field.inner, (*path, 0))
    else:
        yield path, field


def is_string_field(field) -> bool:
    return isinstance(field, fields.String | fields.DateTime | fields.Date | fields.Time | fields.UUID)


def cases(app) -> list[Case]:
    found = []
    for rule in app.url_map.iter_rules():
        info = getattr(app.view_functions.get(rule.endpoint), "_openapi", None)
        if not info:
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<{arg}>", str(uuid.uuid4())).replace(f"<string:{arg}>", str(uuid.uuid4()))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if info["body"] is not None and method in WRITES:
                for field_path, field in leaf_fields(schema_instance(info["body"])):
                    found.append(Case(method, path, "body", field_path, is_string_field(field)))
            if info["query"] is not None:
                for field_path, field in leaf_fields(schema_instance(info["query"])):
                    found.append(Case(method, path, "query", field_path, is_string_field(field)))
    return found


def body_with(field_path: tuple, value) -> dict | list:
    for key in reversed(field_path):
        value = [value] if isinstance(key, int) else {key: value}
    return value


def names_the_field(errors, field_path: tuple) -> bool:
    node = errors
    for key in field_path:
        if not isinstance(node, dict) or str(key) not in node:
            return False
        node = node[str(key)]
    return True


def sweep(app, credentials, bad: str) -> tuple[list[Case], list[str]]:
    """Sends `bad` to every field of every route of `app`; answers (the cases, what went wrong)."""
    text, in_url = BAD[bad]
    client = app.test_client()
    all_cases, problems = cases(app), []
    for case in all_cases:
        headers = {"Idempotency-Key": uuid.uuid4().hex, **credentials(case.path)}
        if case.where == "body":
            response = client.open(case.path, method=case.method, json=body_with(case.field, text), headers=headers)
            want = 422
        else:
            response = client.open(f"{case.path}?{quote(str(case.field[0]))}={in_url}", method=case.method,
                                   headers=headers)
            want = 400
        label = f"{case.method} {case.path} {case.where} {'.'.join(map(str, case.field))}"
        body = response.get_json(silent=True) or {}
        if response.status_code != want or response.mimetype != "application/problem+json":
            problems.append(f"{label}: {response.status_code} {response.get_data(as_text=True)[:200]}")
        elif not names_the_field(body.get("errors") or {}, case.field[:1] if case.where == "query" else case.field):
            problems.append(f"{label}: does not name the field: {body.get('errors')}")
    return all_cases, problems


def assert_swept(all_cases: list[Case], problems: list[str], *, at_least: int):
    strings = [c for c in all_cases if c.is_string]
    assert len(strings) >= at_least, f"only {len(strings)} string fields found: is the enumeration broken?"
    assert not problems, "\n".join(problems)


def every_table(engine) -> TableSnapshot:
    """Row counts of every table of a service's database: a write anywhere shows."""
    return TableSnapshot(engine, tuple(t for t in inspect(engine).get_table_names() if t != "alembic_version"))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def credentials_for(app, staff_token: str, client_token: str):
    """What a path of `app` is called with: the internal key, a staff token, a client token, or nothing (/auth)."""

    def credentials(path: str) -> dict:
        if path.startswith("/internal"):
            return bearer(app.config["PORTAL"].internal_api_key)
        if path.startswith("/api/v1/staff"):
            return bearer(staff_token)
        return bearer(client_token) if path.startswith("/api/v1/portal") else {}

    return credentials


# --- every route of every service ---------------------------------------------------------------------------

@pytest.mark.parametrize("bad", BAD)
def test_identity_refuses_bad_strings_in_every_field(identity_app, identity_engine, staff, registered_client, bad):
    _, me, _ = registered_client()
    before = every_table(identity_engine)

    all_cases, problems = sweep(identity_app, credentials_for(identity_app, staff.token, me.token), bad)
    assert_swept(all_cases, problems, at_least=40)
    before.assert_unchanged()


@pytest.mark.parametrize("bad", BAD)
def test_billing_refuses_bad_strings_in_every_field(billing_app, billing_engine, bstaff, bclient, bad):
    _, me = bclient()
    before = every_table(billing_engine)

    all_cases, problems = sweep(billing_app, credentials_for(billing_app, bstaff.token, me.token), bad)
    assert_swept(all_cases, problems, at_least=25)
    before.assert_unchanged()


@pytest.mark.parametrize("bad", BAD)
def test_payments_refuses_bad_strings_in_every_field(payments_app, payments_engine, pstaff, payer, bad):
    _, me, _ = payer()
    before = every_table(payments_engine)

    all_cases, problems = sweep(payments_app, credentials_for(payments_app, pstaff.token, me.token), bad)
    assert_swept(all_cases, problems, at_least=10)
    before.assert_unchanged()


@pytest.mark.parametrize("bad", BAD)
def test_messaging_refuses_bad_strings_in_every_field(messaging_app, messaging_engine, mstaff, mclient, bad):
    me, member = mclient(), mstaff()
    before = every_table(messaging_engine)

    all_cases, problems = sweep(messaging_app, credentials_for(messaging_app, member.api.token, me.api.token), bad)
    assert_swept(all_cases, problems, at_least=10)
    before.assert_unchanged()


def sqlite_counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.mark.parametrize("bad", BAD)
def test_the_sandbox_processor_refuses_bad_strings_in_every_field(tmp_path, bad):
    from services.payments.sandbox.app import create_app
    from services.payments.sandbox.config import SandboxConfig

    database = tmp_path / "sandbox.sqlite3"
    app = create_app(SandboxConfig(api_key=SANDBOX_KEY, database_path=str(database), environment="test",
                                   testing=True))
    before = sqlite_counts(database)
    all_cases, problems = sweep(app, lambda path: bearer(SANDBOX_KEY), bad)
    assert_swept(all_cases, problems, at_least=8)
    assert sqlite_counts(database) == before
