"""A failing statement's log line keeps none of its values (issue 9, section 5): neither SQLAlchemy's
[parameters: ...] (hide_parameters on every engine) nor what PostgreSQL echoes back in its error (DETAIL "Key
(email)=(...)", "Failing row contains (...)", CONTEXT "JSON data, line 1: ...", the quoted input of "invalid input
syntax"), while it still says which statement failed and why (SQL, SQLSTATE, constraint, table, column)."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from sqlalchemy import text

from shared.config import BaseConfig
from shared.db import get_engine, get_read_engine
from shared.web import create_base_app

pytestmark = pytest.mark.integration

ADDRESS = "4417 Juniper Hollow Rd"
INSURANCE = "Aetna W98765432"
EMAIL = "juniper.hollow@example.test"
DIAGNOSIS = "F41.1 generalized anxiety"
VALUES = (ADDRESS, "Juniper", INSURANCE, "W98765432", EMAIL, "juniper.hollow", DIAGNOSIS, "anxiety")

FAILING = {
    # (SQL run before, the failing statement, its parameters, the SQLSTATE it fails with). Temporary tables live
    # as long as the pooled connection: each case has its own, made once.
    "not an integer": ((), "SELECT CAST(:address AS integer)", {"address": ADDRESS}, "22P02"),
    "NUL in jsonb": ((), "SELECT CAST(:doc AS jsonb)",
                     {"doc": json.dumps({"line1": ADDRESS, "insurance": INSURANCE + "\u0000"})}, "22P05"),
    "unique violation": (("CREATE TEMP TABLE IF NOT EXISTS people_u (email text UNIQUE, insurance text, note text)",
                          "INSERT INTO people_u VALUES ('juniper.hollow@example.test', 'x', 'y') "
                          "ON CONFLICT DO NOTHING"),
                         "INSERT INTO people_u VALUES (:email, :insurance, :note)",
                         {"email": EMAIL, "insurance": INSURANCE, "note": DIAGNOSIS}, "23505"),
    "not null violation": (("CREATE TEMP TABLE IF NOT EXISTS people_n (email text NOT NULL, insurance text, "
                            "note text)",),
                           "INSERT INTO people_n VALUES (NULL, :insurance, :note)",
                           {"insurance": INSURANCE, "note": DIAGNOSIS}, "23502"),
    "check violation": (("CREATE TEMP TABLE IF NOT EXISTS people_c (email text CHECK (email NOT LIKE '%juniper%'), "
                         "note text)",),
                        "INSERT INTO people_c VALUES (:email, :note)", {"email": EMAIL, "note": DIAGNOSIS}, "23514"),
}


@pytest.fixture
def app(migrated):
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    url = migrated.database_url("identity")
    config = BaseConfig(service="logtest", database_url=url)
    app = create_base_app("logtest", config)
    # The JSON log handler create_base_app installed, writing into a buffer instead of stdout.
    (handler,) = [h for h in root.handlers if getattr(h, "_portal", False)]
    app.config["log"] = io.StringIO()
    handler.setStream(app.config["log"])

    @app.get("/fail/<engine_kind>/<case>")
    def fail(engine_kind: str, case: str):
        before, statement, params, _ = FAILING[case]
        engine = get_read_engine(url) if engine_kind == "read" else get_engine(url)
        with engine.connect() as conn:
            for sql in before:
                conn.execute(text(sql))
            conn.execute(text(statement), params)
        return "not reached"

    yield app
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("engine_kind", ["write", "read"])
@pytest.mark.parametrize("case", FAILING)
def test_a_failing_statement_logs_none_of_its_values(app, case, engine_kind):
    response = app.test_client().get(f"/fail/{engine_kind}/{case}")
    _, statement, _, sqlstate = FAILING[case]
    unique = sqlstate == "23505"  # a conflict with an existing row is the caller's 409, logged as a warning
    assert response.status_code == (409 if unique else 500)
    lines = [json.loads(line) for line in app.config["log"].getvalue().splitlines()]
    logged = [entry for entry in lines
              if entry["message"] == ("unique violation answered 409" if unique else "unhandled error")]
    assert len(logged) == 1, lines
    line = json.dumps(logged[0], ensure_ascii=False)
    for value in VALUES:
        assert value.lower() not in line.lower(), f"{value!r} is in the log line: {line}"
    # still useful: which statement, and the database's reason as a code
    assert re.sub(r":(\w+)", r"%(\1)s", statement) in logged[0]["exception"]  # as psycopg was sent it
    assert sqlstate in logged[0]["exception"]


def test_a_unique_violation_is_a_409_naming_the_field_and_keeping_its_value_out(app):
    """Two requests creating the same e-mail at once both pass a service's look-up, and the loser's INSERT meets the
    unique index: a conflict with a row that now exists, the caller's 409 (seen as 500s when 8 staff requests made
    one client at once), never the value in the answer."""
    response = app.test_client().get("/fail/write/unique violation")
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "/problems/conflict" and body["errors"] == {"email": ["Already in use."]}
    assert EMAIL not in response.get_data(as_text=True)


def test_every_engine_hides_its_parameters(migrated):
    url = migrated.database_url("identity")
    assert get_engine(url).hide_parameters and get_read_engine(url).hide_parameters


def test_a_consumer_keeps_none_of_a_failing_statements_values(app, migrated):
    """An event handler's failing statement: the consumer's own log lines (the batch rolled back, the retry, the
    dead-letter) and the x-last-error header it puts on the message hold none of the values. Before, both wrote
    str(exc)[:200], which is psycopg's message with its DETAIL "Key (email)=(...) already exists"."""
    from types import SimpleNamespace

    import pika
    from sqlalchemy.exc import IntegrityError

    from services.identity.models import processed_events
    from shared.consumer import Delivery, EventConsumer

    before, statement, params, _ = FAILING["unique violation"]
    with get_engine(migrated.database_url("identity")).connect() as conn:
        for sql in before:
            conn.execute(text(sql))
        with pytest.raises(IntegrityError) as caught:
            conn.execute(text(statement), params)
    assert EMAIL in str(caught.value)  # what the consumer used to write

    def failing(_body):
        raise caught.value

    consumer = EventConsumer(service="logtest", session_factory=None, processed=processed_events, subscriptions={},
                             amqp_url=migrated.amqp_url, exchange="logtest.events", retry_delays=(5,))
    consumer.handle = consumer.handle_batch = failing
    published: list[pika.BasicProperties] = []
    channel = SimpleNamespace(basic_publish=lambda _exchange, _key, _body, properties: published.append(properties),
                              basic_ack=lambda *_args, **_kwargs: None)
    deliveries = [Delivery(SimpleNamespace(routing_key="test.happened", delivery_tag=tag),
                           pika.BasicProperties(headers={"x-attempt": attempt}, message_id=f"m{tag}"), b"{}")
                  for tag, attempt in ((1, 0), (2, 1))]  # one is retried, the other dead-lettered
    consumer._on_messages(channel, deliveries)

    assert len(published) == 2
    for properties in published:
        header = properties.headers["x-last-error"]
        assert "IntegrityError" in header and "23505" in header
        for value in VALUES:
            assert value.lower() not in header.lower(), header
    lines = [json.loads(line) for line in app.config["log"].getvalue().splitlines()]
    messages = {entry["message"] for entry in lines}
    assert {"event batch rolled back; handling its events one by one", "event handling failed; retrying",
            "event dead-lettered"} <= messages, messages
    for entry in lines:
        line = json.dumps(entry, ensure_ascii=False)
        for value in VALUES:
            assert value.lower() not in line.lower(), f"{value!r} is in the log line: {line}"
