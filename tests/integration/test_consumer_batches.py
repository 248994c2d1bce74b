"""The consumer handles the messages it has in hand as one batch: one transaction, once per event, in order."""

from __future__ import annotations

import json
import threading
import uuid
from types import SimpleNamespace

import pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from services.identity.models import processed_events
from shared import metrics
from shared.consumer import Delivery, EventConsumer
from shared.events import make_event
from shared.logs import correlation_id_var
from tests.support.processes import eventually

pytestmark = pytest.mark.integration

effects_meta = MetaData()
effects = Table("test_consumer_batch_effects", effects_meta,
                Column("id", Integer, primary_key=True, autoincrement=True),
                Column("event_id", String(64)), Column("note", String(100)))

BROKEN = "unknown client: not in the directory yet"


@pytest.fixture
def sessions(identity_engine):
    """The consumer's own engine: every commit it counts is the consumer's."""
    effects_meta.create_all(identity_engine)
    engine = create_engine(identity_engine.url.render_as_string(hide_password=False))
    commits: list[int] = []
    sa_event.listen(engine, "commit", lambda _conn: commits.append(1))
    yield SimpleNamespace(factory=sessionmaker(bind=engine, expire_on_commit=False), commits=commits)
    engine.dispose()


def make_consumer(sessions, amqp_url: str, exchange: str, **kwargs) -> tuple[EventConsumer, dict]:
    seen = {"broken": 0, "correlation_ids": [], "gate": threading.Event(), "at_gate": threading.Event()}

    def on_gate(_session, _event):
        seen["at_gate"].set()
        assert seen["gate"].wait(10), "the test never opened the gate"
        # On the consumer's own thread, pika reads what the broker has sent meanwhile off the socket: every
        # message the test published is in hand before this handler returns, and they are handled as one batch.
        consumer = seen["consumer"]
        eventually(lambda: (consumer._connection.process_data_events(time_limit=0.05),
                            len(consumer._in_hand) >= seen["expect"])[1],
                   timeout=10, interval=0, message="every message the test published in hand")

    def on_happened(session, event):
        seen["correlation_ids"].append(correlation_id_var.get())
        session.execute(effects.insert().values(event_id=event.id, note=event.payload.get("note", "")))

    def on_broken(session, event):
        seen["broken"] += 1
        session.execute(effects.insert().values(event_id=event.id, note="must roll back"))
        raise RuntimeError(BROKEN)

    consumer = EventConsumer(
        service=f"testbatch{uuid.uuid4().hex[:6]}", session_factory=sessions.factory, processed=processed_events,
        subscriptions={"test.gate": on_gate, "test.happened": on_happened, "test.broken": on_broken},
        amqp_url=amqp_url, exchange=exchange, **kwargs)
    seen["consumer"] = consumer
    return consumer, seen


@pytest.fixture
def running(sessions, migrated, exchange, broker):
    """A consumer running in a thread (retries after 30 s: a retried message waits in its retry queue),
    with a record of every batch it handled: (bodies, outcomes or the exception)."""
    consumer, seen = make_consumer(sessions, migrated.amqp_url, exchange, retry_delays=(30,))
    batches: list[tuple[list[bytes], list[str] | Exception]] = []
    real_handle_batch = consumer.handle_batch

    def recording_handle_batch(bodies):
        try:
            outcomes = real_handle_batch(bodies)
        except Exception as exc:
            batches.append((list(bodies), exc))
            raise
        batches.append((list(bodies), outcomes))
        return outcomes

    consumer.handle_batch = recording_handle_batch
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    # set once the queue is declared and bound: a message published before the binding would be dropped
    eventually(lambda: consumer._channel is not None, timeout=10, message="consumer queue declared and bound")

    def stop() -> None:
        consumer.stop()
        thread.join(10)
        assert not thread.is_alive()

    yield SimpleNamespace(consumer=consumer, seen=seen, batches=batches, commits=sessions.commits, stop=stop)
    stop()
    for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(30)]:
        broker.queue_delete(name)
    for name in (consumer.retry_exchange, consumer.dead_letter_exchange):
        broker.exchange_delete(name)


def publish(broker, exchange, event_or_body, routing_key=None):
    body = event_or_body if isinstance(event_or_body, bytes) else json.dumps(event_or_body.to_dict()).encode()
    broker.basic_publish(exchange, routing_key or event_or_body.type, body,
                         pika.BasicProperties(delivery_mode=2, headers={}))


def deliver_in_hand(running, broker, exchange, messages: list) -> None:
    """Gets all `messages` to the consumer at once: they are published while it is busy with a gate
    event, whose handler, once the test opens the gate, takes deliveries until it has every one of them in
    hand (prefetch 50)."""
    publish(broker, exchange, make_event("test.gate", {}, producer="test"))
    assert running.seen["at_gate"].wait(10)
    for message in messages:
        if isinstance(message, tuple):
            publish(broker, exchange, message[0], routing_key=message[1])
        else:
            publish(broker, exchange, message)
    running.seen["expect"] = len(messages)
    running.commits.clear()
    running.seen["gate"].set()


def effect_rows(engine, event_id) -> list:
    with engine.connect() as conn:
        return conn.execute(select(effects.c.note).where(effects.c.event_id == event_id)).scalars().all()


def effects_in_order(engine, ids) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(effects.c.event_id, effects.c.note)
                                               .where(effects.c.event_id.in_(ids)).order_by(effects.c.id))]


def processed_ids(engine, consumer, ids) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(processed_events.c.event_id).where(
            processed_events.c.consumer == consumer.service, processed_events.c.event_id.in_(ids))).scalars())


def left_in_queue(broker, consumer) -> int:
    """After the consumer stopped: an unacked message would be back in the queue."""
    return broker.queue_declare(consumer.queue, passive=True).method.message_count


def consumed(consumer, event_type: str, outcome: str) -> float:
    for family in metrics.EVENTS_CONSUMED.collect():
        for sample in family.samples:
            if sample.name.endswith("_total") and sample.labels == {
                    "service": consumer.service, "type": event_type, "outcome": outcome}:
                return sample.value
    return 0.0


def got_from(broker, queue: str):
    def get():
        method, props, body = broker.basic_get(queue, auto_ack=True)
        return (props, body) if method else None
    return get


# --- through the broker -------------------------------------------------------------------------

def test_events_in_hand_share_one_transaction_and_each_has_its_effect_once_in_order(running, broker, exchange,
                                                                                     identity_engine):
    events = [make_event("test.happened", {"note": f"n{i}"}, producer="test", correlation_id=f"corr-{i}")
              for i in range(20)]
    deliver_in_hand(running, broker, exchange, events)
    ids = [e.id for e in events]
    eventually(lambda: len(effects_in_order(identity_engine, ids)) == 20, timeout=10, message="all handled")
    running.stop()  # it settles what it has in hand and ends: whatever else it would have done is done

    assert effects_in_order(identity_engine, ids) == [(e.id, f"n{i}") for i, e in enumerate(events)]
    # the gate's own commit, then one for all 20 events, not twenty
    assert len(running.commits) == 2, running.commits
    assert [len(bodies) for bodies, _ in running.batches] == [20]
    assert running.seen["correlation_ids"] == [f"corr-{i}" for i in range(20)]  # each event's own, before it
    assert consumed(running.consumer, "test.happened", "handled") == 20
    assert left_in_queue(broker, running.consumer) == 0  # every one acked


def test_a_failing_event_in_a_batch_is_retried_alone_and_the_others_are_handled_once(running, broker, exchange,
                                                                                    identity_engine):
    good = [make_event("test.happened", {"note": f"n{i}"}, producer="test") for i in range(4)]
    broken = make_event("test.broken", {}, producer="test")
    deliver_in_hand(running, broker, exchange, [good[0], good[1], broken, good[2], good[3]])
    ids = [e.id for e in good]

    props, body = eventually(got_from(broker, running.consumer.retry_queue(30)), timeout=10,
                             message="the failing event in its retry queue")
    assert json.loads(body)["id"] == broken.id
    assert props.headers["x-attempt"] == 1 and BROKEN in props.headers["x-last-error"]  # the batch try not counted
    eventually(lambda: len(effects_in_order(identity_engine, ids)) == 4, timeout=10, message="the others handled")
    running.stop()
    assert effects_in_order(identity_engine, ids) == [(e.id, f"n{i}") for i, e in enumerate(good)]
    assert effect_rows(identity_engine, broken.id) == []
    assert processed_ids(identity_engine, running.consumer, ids + [broken.id]) == set(ids)
    # it did fail inside a batch, which was rolled back and handled one by one
    assert [(len(bodies), type(result)) for bodies, result in running.batches] == [(5, RuntimeError)]
    assert running.seen["broken"] == 2  # in the batch, then on its own
    assert consumed(running.consumer, "test.happened", "handled") == 4
    assert consumed(running.consumer, "test.broken", "retried") == 1
    assert left_in_queue(broker, running.consumer) == 0


def test_the_same_event_twice_in_a_batch_has_one_effect_and_a_poison_body_goes_to_the_dlq(running, broker, exchange,
                                                                                         identity_engine):
    first, second = (make_event("test.happened", {"note": n}, producer="test") for n in ("first", "second"))
    deliver_in_hand(running, broker, exchange,
                    [first, first, (b"this is not json", "test.happened"), second])

    props, body = eventually(got_from(broker, running.consumer.dead_letter_queue), timeout=10,
                             message="the poison body dead-lettered")
    assert body == b"this is not json"
    assert props.headers["x-attempt"] == 1 and props.headers["x-last-error"].startswith("PoisonMessage")
    eventually(lambda: effect_rows(identity_engine, second.id), timeout=10)
    running.stop()
    assert effect_rows(identity_engine, first.id) == ["first"]
    assert effect_rows(identity_engine, second.id) == ["second"]
    assert [result for _, result in running.batches] == [["handled", "duplicate", "poison", "handled"]]
    assert len(running.commits) == 2  # the gate's and the batch's
    assert consumed(running.consumer, "test.happened", "duplicate") == 1
    assert consumed(running.consumer, "test.happened", "dead_lettered") == 1
    assert left_in_queue(broker, running.consumer) == 0


# --- handle_batch itself ------------------------------------------------------------------------

def body(event) -> bytes:
    return json.dumps(event.to_dict()).encode()


def test_handle_batch_answers_duplicates_ignored_and_poison_in_one_transaction(sessions, identity_engine):
    consumer, seen = make_consumer(sessions, "amqp://unused", "unused")
    earlier, new, later = (make_event("test.happened", {"note": n}, producer="test", correlation_id=f"c-{n}")
                           for n in ("earlier", "new", "later"))
    unknown = make_event("test.nobody_listens", {}, producer="test")
    assert consumer.handle(body(earlier)) == "handled"
    sessions.commits.clear()

    outcomes = consumer.handle_batch([body(earlier), body(new), body(unknown), b"[1, 2", body(new), body(later)])

    assert outcomes == ["duplicate", "handled", "ignored", "poison", "duplicate", "handled"]
    assert len(sessions.commits) == 1
    assert effects_in_order(identity_engine, [earlier.id, new.id, later.id]) == [
        (earlier.id, "earlier"), (new.id, "new"), (later.id, "later")]
    assert seen["correlation_ids"] == ["c-earlier", "c-new", "c-later"]
    assert processed_ids(identity_engine, consumer, [unknown.id]) == set()  # ignored leaves no trace, as handle()
    assert consumer.handle_batch([body(unknown), b"{}"]) == ["ignored", "poison"]
    assert len(sessions.commits) == 1  # nothing to handle: no transaction at all


def test_handle_batch_rolls_back_whole_when_one_handler_fails(sessions, identity_engine):
    consumer, seen = make_consumer(sessions, "amqp://unused", "unused")
    before, after = (make_event("test.happened", {"note": n}, producer="test") for n in ("before", "after"))
    broken = make_event("test.broken", {}, producer="test")

    with pytest.raises(RuntimeError, match="unknown client"):
        consumer.handle_batch([body(before), body(broken), body(after)])

    ids = [before.id, broken.id, after.id]
    assert effects_in_order(identity_engine, ids) == []
    assert processed_ids(identity_engine, consumer, ids) == set()
    assert sessions.commits == []
    # the same messages are new to the per-message path
    assert consumer.handle(body(before)) == "handled" and consumer.handle(body(after)) == "handled"


def test_each_handler_in_a_batch_sees_the_database_not_an_earlier_handlers_objects(sessions, identity_engine):
    """As in a transaction of its own: an ORM object loaded by an earlier handler, since changed by a plain
    UPDATE, is read again, not answered stale from the session's identity map."""

    class Base(DeclarativeBase):
        pass

    class EffectRow(Base):
        __table__ = effects

    with identity_engine.begin() as conn:
        row_id = conn.execute(effects.insert().values(event_id="orm", note="v0").returning(effects.c.id)).scalar_one()
    read: list[str] = []
    alive: list = []  # as objects in a reference cycle (relationships both ways) stay alive until the gc runs

    def on_read(session, _event):
        alive.append(session.get(EffectRow, row_id))
        read.append(alive[-1].note)

    consumer = EventConsumer(
        service=f"testbatch{uuid.uuid4().hex[:6]}", session_factory=sessions.factory, processed=processed_events,
        subscriptions={"test.read": on_read,
                       "test.write": lambda session, _e: session.execute(
                           update(effects).where(effects.c.id == row_id).values(note="v1"))},
        amqp_url="amqp://unused", exchange="unused")
    events = [make_event(t, {}, producer="test") for t in ("test.read", "test.write", "test.read")]
    assert consumer.handle_batch([body(e) for e in events]) == ["handled"] * 3
    assert read == ["v0", "v1"]


def test_what_a_handler_added_is_flushed_before_the_next_handler_runs(sessions, identity_engine):
    """A handler that leaves an ORM object pending: the next handler in the batch sees its row (flushed), and
    starts from an empty session, as in a transaction of its own; handlers of plain DML leave nothing to flush."""

    class Base(DeclarativeBase):
        pass

    class EffectRow(Base):
        __table__ = effects

    seen: list[tuple[list[str], int]] = []

    def on_add(session, event):
        session.add(EffectRow(event_id=event.id, note="added"))  # pending: not flushed by the handler

    def on_look(session, event):
        notes = session.connection().execute(  # a Core read on the connection: no autoflush
            select(effects.c.note).where(effects.c.event_id == event.payload["of"])).scalars().all()
        seen.append((notes, len(session.identity_map) + len(session.new)))

    consumer = EventConsumer(
        service=f"testbatch{uuid.uuid4().hex[:6]}", session_factory=sessions.factory, processed=processed_events,
        subscriptions={"test.add": on_add, "test.look": on_look}, amqp_url="amqp://unused", exchange="unused")
    added = make_event("test.add", {}, producer="test")
    look = make_event("test.look", {"of": added.id}, producer="test")
    look_again = make_event("test.look", {"of": added.id}, producer="test")
    assert consumer.handle_batch([body(added), body(look), body(look_again)]) == ["handled"] * 3
    assert seen == [(["added"], 0), (["added"], 0)]
    assert effect_rows(identity_engine, added.id) == ["added"]


class RecordingChannel:
    """What the per-message and batch paths do to the channel: acks and retry/dead-letter publishes."""

    def __init__(self):
        self.acks: list[tuple[int, bool]] = []
        self.published: list[str] = []

    def basic_ack(self, delivery_tag, multiple=False):
        self.acks.append((delivery_tag, multiple))

    def basic_publish(self, exchange, routing_key, body, properties=None):
        self.published.append(routing_key)


def test_a_deadlock_between_two_replicas_falls_back_to_one_by_one(sessions, identity_engine):
    """Two replicas' batches lock the same two rows in opposite orders: PostgreSQL kills one of them, which
    then handles its events one by one; nothing is retried, and every event has its effect once."""
    with identity_engine.begin() as conn:
        rows = conn.execute(effects.insert().returning(effects.c.id),
                            [{"event_id": "lock", "note": "row"}] * 2).scalars().all()
    both_locked_one = threading.Barrier(2, timeout=10)
    waited: set[str] = set()
    handled: list[str] = []

    def on_lock(session, event):
        session.execute(update(effects).where(effects.c.id == event.payload["row"]).values(note=event.id[:8]))
        if event.payload.get("wait") and event.id not in waited:  # only on the batch's first try
            waited.add(event.id)
            both_locked_one.wait()
        session.execute(effects.insert().values(event_id=event.id, note="locked"))
        handled.append(event.id)

    service = f"testbatch{uuid.uuid4().hex[:6]}"
    replicas = [EventConsumer(service=service, session_factory=sessions.factory, processed=processed_events,
                              subscriptions={"test.lock": on_lock}, amqp_url="amqp://unused", exchange="unused")
                for _ in range(2)]
    orders = [(rows[0], rows[1]), (rows[1], rows[0])]
    batches = [[make_event("test.lock", {"row": first, "wait": True}, producer="test"),
                make_event("test.lock", {"row": second}, producer="test")] for first, second in orders]
    channels = [RecordingChannel(), RecordingChannel()]

    def run(i: int) -> None:
        deliveries = [Delivery(pika.spec.Basic.Deliver(delivery_tag=tag, routing_key="test.lock"),
                               pika.BasicProperties(headers={}), body(e)) for tag, e in enumerate(batches[i], 1)]
        replicas[i]._on_messages(channels[i], deliveries)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    ids = [e.id for batch in batches for e in batch]
    assert sorted(effect_rows(identity_engine, i) for i in ids) == [["locked"]] * 4
    assert sorted(channel.acks for channel in channels) == [[(1, False), (2, False)], [(2, True)]]
    assert channels[0].published == channels[1].published == []  # the loser's events were not retried
    # the winner's two; the loser's first in the killed batch (its second died waiting), then both one by one
    assert len(handled) == 5
