"""The relay's claim (one UPDATE ... RETURNING on a kept connection: batch size and order, concurrent relays,
no transaction left open, nothing lost to a dying relay, a nack or a closed channel) and the consumer's
(the processed row in the handler's transaction, a dropped connection, stop() from a handler)."""

from __future__ import annotations

import json
import threading
import uuid
from types import SimpleNamespace

import pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, func, select, text
from sqlalchemy.orm import sessionmaker

import shared.consumer as consumer_module
from services.identity.models import outbox, processed_events
from shared import metrics
from shared.consumer import EventConsumer
from shared.events import make_event
from shared.relay import OutboxRelay
from tests.integration import test_relay_claims as claims
from tests.integration.test_events import published, write_events
from tests.support.processes import eventually

pytestmark = pytest.mark.integration

relay_outbox = claims.relay_outbox
FakeChannel, FakeIoloop, add_rows, outbox_state, confirm = (
    claims.FakeChannel, claims.FakeIoloop, claims.add_rows, claims.outbox_state, claims.confirm)


@pytest.fixture
def fresh_outbox(identity_engine):
    claims.meta.drop_all(identity_engine)
    claims.meta.create_all(identity_engine)
    yield relay_outbox
    claims.meta.drop_all(identity_engine)


@pytest.fixture
def make_relay(identity_engine, fresh_outbox):
    made: list[OutboxRelay] = []

    def make(channel=None, *, batch_size: int = 500, service: str = "identity") -> OutboxRelay:
        relay = OutboxRelay(service=service, engine=identity_engine, outbox=fresh_outbox, amqp_url="amqp://unused",
                            exchange="test.unused", poll_interval=10.0, batch_size=batch_size)
        relay._connection = SimpleNamespace(ioloop=FakeIoloop(), is_open=True, close=lambda: None)
        relay._channel = channel or FakeChannel()
        made.append(relay)
        return relay

    yield make
    for relay in made:
        relay._release_database()


def backend_state(engine, pid: int) -> tuple[str, object, object]:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT state, backend_xid, backend_xmin FROM pg_stat_activity "
                                       "WHERE pid = :pid"), {"pid": pid}).one())


# --- relay ---------------------------------------------------------------------------------------------------

def test_the_claim_takes_at_most_batch_size_rows_in_seq_order_and_a_second_relay_the_next_ones(
        identity_engine, make_relay):
    ids = add_rows(identity_engine, 5)
    first, second = make_relay(batch_size=2), make_relay(batch_size=2)
    first._tick()
    second._tick()
    assert [p.message_id for _, _, p in first._channel.published] == ids[:2]
    assert [p.message_id for _, _, p in second._channel.published] == ids[2:4]
    assert first._batch.full and second._batch.full
    first._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))
    second._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))
    assert outbox_state(identity_engine, ids) == [(True, 1)] * 4 + [(False, 0)]


def test_relays_claiming_at_once_publish_every_row_once_and_each_batch_in_seq_order(identity_engine, make_relay):
    """SKIP LOCKED in the UPDATE's subquery: concurrent claims never overlap, never wait on each other."""
    ids = add_rows(identity_engine, 600)
    relays = [make_relay(batch_size=25) for _ in range(3)]
    errors: list[BaseException] = []

    def drain(relay: OutboxRelay) -> None:
        try:
            empty = 0
            while empty < 3:
                relay._tick()
                if relay._batch is None:  # nothing left, or only rows another relay's batch holds
                    empty += 1
                    continue
                empty = 0
                relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=relay._next_tag, multiple=True)))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    sent = [p.message_id for relay in relays for _, _, p in relay._channel.published]
    assert sorted(sent) == sorted(ids)  # each row once, none left out
    position = {i: n for n, i in enumerate(ids)}
    for relay in relays:  # a relay's own sequence follows the outbox's
        mine = [position[p.message_id] for _, _, p in relay._channel.published]
        assert mine == sorted(mine)
    assert outbox_state(identity_engine, ids) == [(True, 1)] * len(ids)


def test_between_batches_the_kept_connection_holds_no_transaction(identity_engine, make_relay):
    """A connection kept out of the pool must not sit idle in transaction (row locks, vacuum's horizon)."""
    ids = add_rows(identity_engine, 2)
    relay = make_relay()
    relay._tick()
    pid = relay._db.driver_connection.info.backend_pid
    assert backend_state(identity_engine, pid)[0] == "idle in transaction"  # the batch is out
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))
    assert outbox_state(identity_engine, ids) == [(True, 1)] * 2
    assert backend_state(identity_engine, pid) == ("idle", None, None)
    relay._tick()  # nothing left: an empty claim
    assert relay._batch is None
    assert relay._db.driver_connection.info.backend_pid == pid  # the same connection, kept
    assert backend_state(identity_engine, pid) == ("idle", None, None)


def test_a_batch_out_does_not_block_a_services_insert_and_its_row_waits_for_the_next_batch(
        identity_engine, make_relay):
    ids = add_rows(identity_engine, 2)
    relay = make_relay()
    relay._tick()
    with identity_engine.begin() as conn:  # a service's transaction, while the relay's claim is open
        conn.execute(text("SET LOCAL lock_timeout = '500ms'"))
        conn.execute(relay_outbox.insert(), [{"id": (late := str(uuid.uuid4())), "event_type": "test.late",
                                              "envelope": {"id": "late", "type": "test.late"}}])
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))
    assert outbox_state(identity_engine, [*ids, late]) == [(True, 1), (True, 1), (False, 0)]
    relay._tick()
    assert [p.message_id for _, _, p in relay._channel.published][-1] == late


def test_a_relay_that_dies_with_a_batch_out_leaves_every_row_to_publish_again(identity_engine, make_relay):
    """Killed after publishing, before the confirms: the server ends the claim's transaction, nothing is marked."""
    ids = add_rows(identity_engine, 3)
    relay = make_relay()
    relay._tick()
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=2, multiple=True)))  # two confirmed, not committed
    relay._db.driver_connection.pgconn.finish()  # the socket closes as it would with the process
    relay._discard_database(RuntimeError("killed"))  # only to hand the dead connection back to the pool
    eventually(lambda: outbox_state(identity_engine, ids) == [(False, 0)] * 3, timeout=5,
               message="the claim rolled back")
    again = make_relay()
    again._tick()
    assert [p.message_id for _, _, p in again._channel.published] == ids


def test_a_failed_claim_leaves_no_failed_transaction_and_no_connection_checked_out(identity_engine, make_relay):
    ids = add_rows(identity_engine, 1)
    relay = make_relay()
    checked_out = identity_engine.pool.checkedout()
    claim = relay._claim_sql
    relay._claim_sql = "SELECT 1 / 0"  # any error the claim might meet (a timeout, a cancelled statement)
    relay._tick()
    assert relay._db is None and relay._batch is None
    assert identity_engine.pool.checkedout() == checked_out
    relay._claim_sql = claim
    relay._tick()
    assert [p.message_id for _, _, p in relay._channel.published] == ids


def test_a_nack_of_the_whole_batch_marks_nothing_and_the_rows_go_again_in_order(identity_engine, make_relay):
    ids = add_rows(identity_engine, 3)
    relay = make_relay()
    relay._tick()
    relay._on_confirm(confirm(pika.spec.Basic.Nack(delivery_tag=3, multiple=True)))
    assert relay._batch is None
    assert outbox_state(identity_engine, ids) == [(False, 1)] * 3
    again = make_relay()
    again._tick()
    assert [p.message_id for _, _, p in again._channel.published] == ids


def published_count(service: str, event_type: str) -> float:
    for family in metrics.EVENTS_PUBLISHED.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == {"service": service, "type": event_type}:
                return sample.value
    return 0.0


def test_only_confirmed_events_are_counted_published(identity_engine, make_relay):
    service = f"review{uuid.uuid4().hex[:6]}"
    add_rows(identity_engine, 4)  # types test.kind0, test.kind1, test.kind0, test.kind1
    relay = make_relay(service=service)
    relay._tick()
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=1)))
    relay._on_confirm(confirm(pika.spec.Basic.Nack(delivery_tag=2)))
    relay._on_confirm(confirm(pika.spec.Basic.Ack(delivery_tag=3)))
    relay._abandon_batch()  # the fourth never confirmed
    assert (published_count(service, "test.kind0"), published_count(service, "test.kind1")) == (2.0, 0.0)


def test_a_channel_the_broker_closes_mid_batch_loses_nothing_and_counts_no_attempt(identity_engine, migrated,
                                                                                    exchange, broker):
    """Through the real broker: the exchange vanishes, the publish closes the channel (404) before any confirm;
    the rows are set back without an attempt, and go out once the relay has reconnected (and declared it again)."""
    relay = OutboxRelay(service="identity", engine=identity_engine, outbox=outbox, amqp_url=migrated.amqp_url,
                        exchange=exchange, poll_interval=0.2)
    confirmed: set[str] = set()
    real_mark = relay._mark

    def recording_mark(batch):
        confirmed.update(i for i, _ in batch.acked)
        real_mark(batch)

    relay._mark = recording_mark
    thread = threading.Thread(target=relay.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        first = write_events(identity_engine, 1)
        eventually(lambda: published(identity_engine, first) == 1, timeout=15, message="relay connected")
        broker.exchange_delete(exchange)
        later = write_events(identity_engine, 3)
        eventually(lambda: published(identity_engine, later) == 3, timeout=20, message="published after reconnect")
        with identity_engine.connect() as conn:
            attempts = conn.execute(select(outbox.c.attempts).where(outbox.c.id.in_(later))).scalars().all()
        assert attempts == [1, 1, 1]
        assert set(later) <= confirmed  # published only once the broker confirmed them
    finally:
        relay.stop()
        thread.join(10)
        broker.exchange_delete(exchange)


# --- consumer ------------------------------------------------------------------------------------------------

review_meta = MetaData()
review_effects = Table("test_review_consumer_effects", review_meta,
                       Column("id", Integer, primary_key=True, autoincrement=True), Column("event_id", String(64)))


@pytest.fixture
def consumer_engine(identity_engine):
    review_meta.create_all(identity_engine)
    name = f"review-{uuid.uuid4().hex[:8]}"
    engine = create_engine(identity_engine.url.render_as_string(hide_password=False),
                           connect_args={"application_name": name})
    yield SimpleNamespace(engine=engine, name=name)
    engine.dispose()


def body(event) -> bytes:
    return json.dumps(event.to_dict()).encode()


def effect_count(engine, event_id) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(review_effects)
                            .where(review_effects.c.event_id == event_id)).scalar_one()


def test_the_processed_row_is_in_the_handlers_transaction(identity_engine, consumer_engine):
    """The claim goes to the driver, not through SQLAlchemy: the handler must still see its own processed row
    (same transaction) while nobody else does yet, and a failing handler takes the row with it."""
    seen: list[tuple[int, int]] = []
    fail = {"on": True}

    def handler(session, event):
        mine = session.execute(select(func.count()).select_from(processed_events).where(
            processed_events.c.event_id == event.id)).scalar_one()
        with identity_engine.connect() as other:
            theirs = other.execute(select(func.count()).select_from(processed_events).where(
                processed_events.c.event_id == event.id)).scalar_one()
        seen.append((mine, theirs))
        session.execute(review_effects.insert().values(event_id=event.id))
        if fail["on"]:
            raise RuntimeError("handler failed")

    consumer = EventConsumer(service=f"review{uuid.uuid4().hex[:6]}",
                             session_factory=sessionmaker(bind=consumer_engine.engine, expire_on_commit=False),
                             processed=processed_events, subscriptions={"test.happened": handler},
                             amqp_url="amqp://unused", exchange="unused")
    one, two = (make_event("test.happened", {}, producer="test") for _ in range(2))
    with pytest.raises(RuntimeError):
        consumer.handle_batch([body(one), body(two)])
    with pytest.raises(RuntimeError):
        consumer.handle(body(one))
    assert seen == [(1, 0), (1, 0)]
    assert effect_count(identity_engine, one.id) == 0
    fail["on"] = False
    assert consumer.handle_batch([body(one), body(two), body(one)]) == ["handled", "handled", "duplicate"]
    assert consumer.handle(body(two)) == "duplicate"
    assert [effect_count(identity_engine, e.id) for e in (one, two)] == [1, 1]


def test_a_connection_the_database_dropped_between_batches_fails_one_batch_then_each_event_is_handled_once(
        identity_engine, consumer_engine):
    """The claim is the first statement of a transaction, so it is what meets a dropped connection: the batch
    fails, the connection is invalidated (not handed out again), and the events go through one by one."""
    consumer = EventConsumer(service=f"review{uuid.uuid4().hex[:6]}",
                             session_factory=sessionmaker(bind=consumer_engine.engine, expire_on_commit=False),
                             processed=processed_events,
                             subscriptions={"test.happened": lambda s, e: s.execute(
                                 review_effects.insert().values(event_id=e.id))},
                             amqp_url="amqp://unused", exchange="unused")
    warm = make_event("test.happened", {}, producer="test")
    assert consumer.handle(body(warm)) == "handled"  # a pooled connection now exists
    with identity_engine.connect() as conn:
        killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                   "WHERE application_name = :name"), {"name": consumer_engine.name}).scalar_one()
        conn.commit()
    assert killed == 1
    events = [make_event("test.happened", {"n": n}, producer="test") for n in range(3)]
    with pytest.raises(Exception):
        consumer.handle_batch([body(e) for e in events])
    assert consumer_engine.engine.pool.checkedout() == 0
    assert [consumer.handle(body(e)) for e in events] == ["handled"] * 3
    assert [effect_count(identity_engine, e.id) for e in events] == [1, 1, 1]


def test_stop_from_a_handler_settles_the_batch_and_ends_the_loop_at_once(identity_engine, consumer_engine,
                                                                          migrated, exchange, broker, monkeypatch):
    monkeypatch.setattr(consumer_module, "IDLE_WAIT_SECONDS", 3600)
    holder: dict = {}

    def handler(session, event):
        session.execute(review_effects.insert().values(event_id=event.id))
        holder["consumer"].stop()

    consumer = EventConsumer(service=f"review{uuid.uuid4().hex[:6]}",
                             session_factory=sessionmaker(bind=consumer_engine.engine, expire_on_commit=False),
                             processed=processed_events, subscriptions={"test.happened": handler},
                             amqp_url=migrated.amqp_url, exchange=exchange, retry_delays=(1,))
    holder["consumer"] = consumer
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        eventually(lambda: consumer._channel is not None, timeout=10, message="consumer connected")
        event = make_event("test.happened", {}, producer="test")
        broker.basic_publish(exchange, event.type, body(event), pika.BasicProperties(delivery_mode=2, headers={}))
        thread.join(10)
        assert not thread.is_alive()  # with an hour-long idle wait: stop() ended it, not a time limit
        assert effect_count(identity_engine, event.id) == 1
        assert broker.queue_declare(consumer.queue, passive=True).method.message_count == 0  # acked before it ended
    finally:
        consumer.stop()
        thread.join(5)
        for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(1)]:
            broker.queue_delete(name)
        for name in (consumer.retry_exchange, consumer.dead_letter_exchange, exchange):
            broker.exchange_delete(name)
