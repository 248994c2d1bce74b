"""The relay's claim on real PostgreSQL, the broker played by a fake channel: what a batch leaves in the outbox
when the broker confirms it, refuses part of it, never answers, or the database drops the relay's connection."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

import pika
import pytest
from sqlalchemy import (
    MetaData,
    select,
    text,
)

from shared.events import define_event_tables
from shared.relay import KEEP_CONNECTION_SECONDS, OutboxRelay
from tests.support.clock import ManualClock

pytestmark = pytest.mark.integration

# The outbox (shared.events.define_event_tables) as a table of the tests' own: no other test's rows.
meta = MetaData()
relay_outbox, _ = define_event_tables(meta, outbox_name="test_relay_outbox", processed_name="test_relay_processed")


class FakeIoloop:
    def __init__(self):
        self.timers: list[tuple[float, object]] = []

    def call_later(self, delay, callback):
        self.timers.append((delay, callback))
        return callback

    def remove_timeout(self, timer):
        self.timers = [t for t in self.timers if t[1] is not timer]


class FakeChannel:
    """Records what the relay publishes; `fail_at`: the publish (0-based) that raises, as on a closed channel."""

    def __init__(self, fail_at: int | None = None):
        self.published: list[tuple[str, bytes, pika.BasicProperties]] = []
        self.fail_at = fail_at

    def basic_publish(self, exchange, routing_key, body, properties=None, mandatory=False):
        assert mandatory
        if len(self.published) == self.fail_at:
            raise pika.exceptions.ChannelWrongStateError("channel is closed")
        self.published.append((routing_key, body, properties))


@pytest.fixture
def outbox_table(identity_engine):
    meta.drop_all(identity_engine)
    meta.create_all(identity_engine)
    yield relay_outbox
    meta.drop_all(identity_engine)


@pytest.fixture
def relays(identity_engine, outbox_table):
    """Makes relays on the test outbox whose broker is a fake channel; releases their connections after."""
    made: list[OutboxRelay] = []

    def make(channel: FakeChannel) -> OutboxRelay:
        relay = OutboxRelay(service="identity", engine=identity_engine, outbox=outbox_table,
                            amqp_url="amqp://unused", exchange="test.unused", poll_interval=10.0)
        relay._connection = SimpleNamespace(ioloop=FakeIoloop(), is_open=True, close=lambda: None)
        relay._channel = channel
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay._release_database()


def add_rows(engine, n: int, **payload) -> list[str]:
    rows = [{"id": str(uuid.uuid4()), "event_type": f"test.kind{i % 2}",
             "envelope": {"id": f"e{i}", "type": f"test.kind{i % 2}", "version": 1, "producer": "identity",
                          "occurred_at": "2026-11-22T14:03:11.250Z", "correlation_id": f"corr-{i}",
                          "payload": {"i": i, **payload}},
             "headers": {"request_id": f"req-{i}"}} for i in range(n)]
    with engine.begin() as conn:
        conn.execute(relay_outbox.insert(), rows)
    return [row["id"] for row in rows]


def outbox_state(engine, ids) -> list[tuple[bool, int]]:
    """(published, attempts) per id, in the order given, as another connection sees them."""
    with engine.connect() as conn:
        found = {row.id: (row.published_at is not None, row.attempts) for row in conn.execute(
            select(relay_outbox.c.id, relay_outbox.c.published_at, relay_outbox.c.attempts)
            .where(relay_outbox.c.id.in_(ids)))}
    return [found[i] for i in ids]


def confirm(method) -> SimpleNamespace:
    return SimpleNamespace(method=method)


def test_a_confirmed_batch_is_published_in_order_with_its_stored_envelope_and_marked_at_the_commit(
        identity_engine, relays):
    ids = add_rows(identity_engine, 3, note="Zoë’s café ✓", amount_cents=1250)
    channel = FakeChannel()
    relay = relays(channel)
    relay._tick()

    with identity_engine.connect() as conn:
        envelopes = dict(conn.execute(select(relay_outbox.c.id, relay_outbox.c.envelope)).all())
    assert [props.message_id for _, _, props in channel.published] == ids  # in outbox order
    for outbox_id, (routing_key, body, props) in zip(ids, channel.published, strict=True):
        assert json.loads(body) == envelopes[outbox_id]  # the text PostgreSQL keeps, not re-encoded
        assert routing_key == props.type == envelopes[outbox_id]["type"]
        assert props.correlation_id == envelopes[outbox_id]["correlation_id"]
        assert props.headers == {"request_id": f"req-{ids.index(outbox_id)}"}
        assert props.delivery_mode == 2 and props.app_id == "identity" and props.content_type == "application/json"
    # while the broker has not confirmed, nothing is published for anyone else, and another relay skips the rows
    assert outbox_state(identity_engine, ids) == [(False, 0)] * 3
    other = relays(FakeChannel())
    other._tick()
    assert other._batch is None and other._channel.published == []

    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))
    assert outbox_state(identity_engine, ids) == [(False, 0)] * 3  # one still unconfirmed: not yet
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=3)))
    assert outbox_state(identity_engine, ids) == [(True, 1)] * 3
    with identity_engine.connect() as conn:
        assert len(set(conn.execute(select(relay_outbox.c.published_at)).scalars())) == 1
    assert relay._batch is None
    assert relay.confirm_timeout not in [delay for delay, _ in relay._connection.ioloop.timers]  # timer cancelled


def test_refused_rows_count_an_attempt_and_unconfirmed_ones_stay_as_they_were(identity_engine, relays):
    ids = add_rows(identity_engine, 3)
    relay = relays(FakeChannel())
    relay._tick()
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=1)))
    relay._on_confirm(confirm(pika.spec.Basic.Nack(delivery_tag=2)))
    relay._abandon_batch()  # the broker connection is lost before the third is confirmed

    assert outbox_state(identity_engine, ids) == [(True, 1), (False, 1), (False, 0)]
    again = FakeChannel()
    relays(again)._tick()
    assert [props.message_id for _, _, props in again.published] == ids[1:]


def test_rows_a_failed_publish_never_sent_are_left_as_they_were(identity_engine, relays):
    ids = add_rows(identity_engine, 3)
    relay = relays(FakeChannel(fail_at=1))
    with pytest.raises(pika.exceptions.ChannelWrongStateError):
        relay._tick()  # raised out of the ioloop: run_forever abandons the batch
    relay._abandon_batch()

    assert outbox_state(identity_engine, ids) == [(False, 0)] * 3


def test_a_connection_dropped_before_the_commit_leaves_the_rows_to_publish_again(identity_engine, relays):
    ids = add_rows(identity_engine, 2)
    relay = relays(FakeChannel())
    relay._tick()
    backend = relay._db.driver_connection.info.backend_pid
    with identity_engine.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        conn.commit()

    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))  # the commit fails
    assert relay._db is None and relay._batch is None
    assert outbox_state(identity_engine, ids) == [(False, 0)] * 2

    relay._tick()  # on a fresh connection from the pool
    assert [props.message_id for _, _, props in relay._channel.published] == ids + ids
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=4, multiple=True)))
    assert outbox_state(identity_engine, ids) == [(True, 1)] * 2


def test_the_kept_connection_is_handed_back_to_the_pool_after_a_while(relays, monkeypatch):
    """Kept between batches (no checkout per batch), but handed back after KEEP_CONNECTION_SECONDS, so the pool's
    recycle renews it like any pooled connection. The age is read on a clock the test moves."""
    clock = ManualClock()
    monkeypatch.setattr("shared.relay.time", clock)
    relay = relays(FakeChannel())
    first = relay._database()
    kept = relay._db
    clock.advance(KEEP_CONNECTION_SECONDS)  # at the limit, not over it: still the same connection
    assert relay._database() is first and relay._db is kept
    clock.advance(1)
    relay._database()
    assert relay._db is not kept, "the connection was not handed back to the pool"
    relay._release_database()
