"""Outbox relay and consumer on real PostgreSQL and RabbitMQ: nothing lost, nothing handled twice."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from urllib.parse import urlparse

import pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, text

from services.identity.models import outbox, processed_events
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory, unit_of_work
from shared.events import make_event, record_event
from shared.relay import OutboxRelay
from tests.support.observe import LogWatch, consumed, dead_lettered, settled
from tests.support.processes import eventually
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def tap(broker, exchange):
    """A queue bound to every event of the test's exchange; answers a function that drains it."""
    broker.exchange_declare(exchange, exchange_type="topic", durable=True)
    queue = broker.queue_declare("", exclusive=True).method.queue
    broker.queue_bind(queue, exchange, routing_key="#")
    received: list[dict] = []

    def drain() -> list[dict]:
        while True:
            method, _props, body = broker.basic_get(queue, auto_ack=True)
            if method is None:
                return received
            received.append(json.loads(body))

    yield drain
    broker.exchange_delete(exchange)


@pytest.fixture
def relays_log():
    with LogWatch("shared.relay") as watch:
        yield watch


def start_relay(engine, amqp_url, exchange) -> tuple[OutboxRelay, threading.Thread]:
    relay = OutboxRelay(service="identity", engine=engine, outbox=outbox, amqp_url=amqp_url, exchange=exchange,
                        poll_interval=0.2)
    thread = threading.Thread(target=relay.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    return relay, thread


def write_events(engine, n: int, event_type: str = "test.happened") -> list[str]:
    ids = []
    with unit_of_work(session_factory(str(engine.url.render_as_string(hide_password=False)))) as session:
        for i in range(n):
            ids.append(record_event(session, outbox, make_event(event_type, {"i": i}, producer="identity")).id)
    return ids


def published(engine, ids) -> int:
    with engine.connect() as conn:
        return conn.execute(select(text("count(*)")).select_from(outbox)
                            .where(outbox.c.id.in_(ids), outbox.c.published_at.is_not(None))).scalar_one()


def test_relay_publishes_committed_events_once_with_their_envelope(identity_engine, migrated, exchange, tap):
    relay, thread = start_relay(identity_engine, migrated.amqp_url, exchange)
    try:
        ids = write_events(identity_engine, 250)
        eventually(lambda: published(identity_engine, ids) == 250, timeout=15, message="outbox drained")
        received = eventually(lambda: [e for e in tap() if e["id"] in set(ids)] if len(
            [e for e in tap() if e["id"] in set(ids)]) == 250 else None, timeout=10, message="all delivered")
        assert sorted(e["payload"]["i"] for e in received) == list(range(250))
        assert {e["type"] for e in received} == {"test.happened"}
        assert all(e["producer"] == "identity" and e["version"] == 1 and e["occurred_at"] for e in received)
    finally:
        relay.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_events_arrive_in_outbox_order_with_the_envelope_as_recorded(identity_engine, migrated, exchange, tap):
    """The relay publishes the JSON text PostgreSQL keeps: it decodes to the envelope as recorded, non-ASCII
    text included, and one relay's events arrive in the order they were committed."""
    sessions = session_factory(identity_engine.url.render_as_string(hide_password=False))
    events = []
    for batch in range(3):
        with unit_of_work(sessions) as session:
            for i in range(10):
                events.append(record_event(session, outbox, make_event(
                    "test.ordered", {"n": batch * 10 + i, "note": "Zoë’s café ✓ 東京", "amount_cents": 1250},
                    producer="identity", correlation_id=f"corr-{batch}")))
    relay, thread = start_relay(identity_engine, migrated.amqp_url, exchange)
    try:
        ids = {e.id for e in events}
        received = eventually(lambda: got if len(got := [e for e in tap() if e["id"] in ids]) == 30 else None,
                              timeout=15, message="all delivered")
        assert received == [e.to_dict() for e in events]
    finally:
        relay.stop()
        thread.join(10)


# An hour: within a test's waits only a notification (or a full batch) can make the relay read the outbox.
NO_POLL = 3600.0


class WatchedRelay(OutboxRelay):
    """A relay that tells the test when it has taken a commit's notification (on its ioloop, after handling it)
    and, when `holding`, keeps each batch's confirms until the test lets them through: that batch stays out."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.notified: queue.Queue[bool] = queue.Queue()  # True: the batch was out when the notification came
        self.out: queue.Queue[int] = queue.Queue()  # a held batch's size, once its first confirm is in
        self.holding = False
        self._held: list = []
        self._let_through = None  # the batch whose confirms pass

    def _on_notify(self, fd, events) -> None:
        out = self._batch is not None
        OutboxRelay._on_notify(self, fd, events)
        self.notified.put(out)

    def _on_confirm(self, frame) -> None:
        batch = self._batch
        if not self.holding or batch is None or batch is self._let_through:
            OutboxRelay._on_confirm(self, frame)
            return
        if not self._held:
            self.out.put(len(batch.pending))
        self._held.append(frame)

    def let_through(self) -> None:
        """The held batch's confirms, handled on the relay's ioloop as if they had just come."""
        def release():
            self._let_through = self._batch
            frames, self._held = self._held, []
            for frame in frames:
                OutboxRelay._on_confirm(self, frame)

        self._connection.ioloop.add_callback_threadsafe(release)


def start_watched(engine, amqp_url, exchange, **kwargs) -> tuple[WatchedRelay, threading.Thread]:
    relay = WatchedRelay(service="identity", engine=engine, outbox=outbox, amqp_url=amqp_url, exchange=exchange,
                         poll_interval=NO_POLL, **kwargs)
    # Committed before the relay LISTENs, so that no notification of it comes later to confuse the test. Once
    # it is published the relay is connected and LISTENing (LISTEN comes before the first read), and the
    # backlog other tests left in identity's outbox is gone with it (rows leave in order).
    first = write_events(engine, 1)
    thread = threading.Thread(target=relay.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    eventually(lambda: published(engine, first) == 1, timeout=15, message="relay connected, backlog out")
    return relay, thread


def test_a_commit_wakes_the_relay_without_waiting_for_its_poll(identity_engine, migrated, exchange, tap):
    """The poll is only a safety net: with it an hour away, NOTIFY at commit must publish each event. Each one is
    committed with the relay idle: its batch is None before the previous event's published mark is committed."""
    relay, thread = start_watched(identity_engine, migrated.amqp_url, exchange)
    try:
        for _ in range(5):
            ids = write_events(identity_engine, 1)
            eventually(lambda i=ids: published(identity_engine, i) == 1, timeout=10, interval=0.005,
                       message="published on its notification, not at the poll")
    finally:
        relay.stop()
        thread.join(10)


def test_commits_while_a_batch_is_out_are_published_without_waiting_for_the_poll(identity_engine, migrated,
                                                                                   exchange, tap):
    """After a batch the relay reads the outbox again only if a commit was notified meanwhile (or the batch was
    full): an event committed while a batch is out must still leave at once, not at the poll an hour away. The
    test holds each batch out until the relay has taken the next commit's notification."""
    relay, thread = start_watched(identity_engine, migrated.amqp_url, exchange)
    try:
        relay.holding = True
        ids = write_events(identity_engine, 1)
        assert relay.notified.get(timeout=10) is False  # idle: it reads at once
        assert relay.out.get(timeout=10) == 1
        for _ in range(5):
            later = write_events(identity_engine, 1)
            assert relay.notified.get(timeout=10) is True, "the commit was not notified while the batch was out"
            relay.let_through()
            # the held batch is settled; the relay reads again for `later` (the next batch out) or never
            assert relay.out.get(timeout=10) == 1, "no batch for the event committed while one was out"
            ids += later
        relay.holding = False
        relay.let_through()
        eventually(lambda: published(identity_engine, ids) == len(ids), timeout=10, message="every event published")
    finally:
        relay.stop()
        thread.join(10)


def test_commits_within_the_linger_leave_in_one_batch(identity_engine, migrated, exchange, tap):
    """With a linger, the relay waits that long after a notification before reading: a commit made after the
    relay took the first one's notification (when a relay without linger would have read already) leaves with
    it in one batch (one published_at). The linger is long (3 s) so that the second commit is made within it
    however busy the machine is."""
    relay, thread = start_watched(identity_engine, migrated.amqp_url, exchange, linger=3.0)
    try:
        first = write_events(identity_engine, 1)
        assert relay.notified.get(timeout=10) is False
        second = write_events(identity_engine, 1)
        eventually(lambda: published(identity_engine, first + second) == 2, timeout=10, interval=0.01,
                   message="both published")
        with identity_engine.connect() as conn:
            stamps = set(conn.execute(select(outbox.c.published_at).where(outbox.c.id.in_(first + second))).scalars())
        assert len(stamps) == 1, stamps
    finally:
        relay.stop()
        thread.join(10)


def test_rolled_back_business_change_publishes_nothing(identity_engine, migrated, exchange, tap):
    sessions = session_factory(identity_engine.url.render_as_string(hide_password=False))
    event = make_event("test.rolled_back", {}, producer="identity")
    with pytest.raises(RuntimeError):
        with unit_of_work(sessions) as session:
            record_event(session, outbox, event)
            raise RuntimeError("the business change failed")
    with identity_engine.connect() as conn:
        assert conn.execute(select(outbox.c.id).where(outbox.c.id == event.id)).first() is None


def test_broker_outage_delays_events_never_loses_them(api, staff, new_client, identity_engine, migrated, exchange,
                                                      tap, relays_log):
    """Registration succeeds while the relay cannot reach RabbitMQ; its events go out once it is back."""
    amqp = urlparse(migrated.amqp_url)
    proxy = TcpProxy(amqp.hostname, amqp.port or 5672).start()
    proxied_url = migrated.amqp_url.replace(f"{amqp.hostname}:{amqp.port or 5672}", f"127.0.0.1:{proxy.port}")
    relay, thread = start_relay(identity_engine, proxied_url, exchange)
    try:
        warmup = write_events(identity_engine, 1)
        eventually(lambda: published(identity_engine, warmup) == 1, timeout=15, message="relay connected")
        proxy.cut()

        client = new_client()
        committed = relays_log.mark()
        token = staff.post(f"/api/v1/staff/clients/{client['id']}/invitation").get_json()["invitation_url"]
        done = api.post("/api/v1/auth/register", json={
            "token": token.split("token=")[1], "last_name": client["last_name"],
            "date_of_birth": client["date_of_birth"], "password": "quiet-harbor-lantern-42"})
        assert done.status_code == 201
        with identity_engine.connect() as conn:
            pending = conn.execute(select(outbox.c.id).where(
                outbox.c.event_type == "client.registered",
                outbox.c.envelope["payload"]["client_id"].astext == client["id"])).scalars().all()
        assert len(pending) == 1
        # A try to reach the broker failed after the commit: the relay got as far as it could, and the event
        # is still waiting (a relay that marked rows without the broker's confirm would have marked it).
        relays_log.wait_for("cannot reach the broker", after=committed, timeout=30)
        assert published(identity_engine, pending) == 0

        proxy.restore()
        eventually(lambda: published(identity_engine, pending) == 1, timeout=40, message="published after outage")
        got = eventually(lambda: [e for e in tap() if e["type"] == "client.registered"
                                  and e["payload"]["client_id"] == client["id"]], timeout=10)
        assert len(got) == 1
    finally:
        relay.stop()
        thread.join(10)
        proxy.cut()


def test_a_dropped_database_connection_costs_the_relay_one_tick_not_its_events(identity_engine, migrated, exchange,
                                                                               tap):
    """The relay's engine does not ping before each read (worker.py): when the database drops its connections,
    the next read fails, the pool is invalidated, and the following tick publishes on a fresh connection."""
    url = identity_engine.url
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    engine = get_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False),
                        pool_size=2, pool_pre_ping=False)
    relay, thread = start_relay(engine, migrated.amqp_url, exchange)
    try:
        first = write_events(identity_engine, 1)
        eventually(lambda: published(identity_engine, first) == 1, timeout=15, message="relay connected")
        proxy.cut()  # every pooled connection (and the LISTEN one) is gone
        proxy.restore()
        later = write_events(identity_engine, 3)
        eventually(lambda: published(identity_engine, later) == 3, timeout=15, message="published after the drop")
        assert len([e for e in tap() if e["id"] in set(later)]) == 3
    finally:
        relay.stop()
        thread.join(10)
        proxy.cut()
        engine.dispose()


def test_an_event_nobody_subscribes_to_is_confirmed_and_counted(identity_engine, migrated, broker):
    """No queue bound for the type: the broker returns the mandatory message and still confirms it; the relay
    marks it published and counts it in events_unrouted_total."""
    from shared import metrics

    lonely = f"test.lonely.{uuid.uuid4().hex[:8]}"  # a fresh exchange: nothing is bound to it
    counter = metrics.EVENTS_UNROUTED.labels("identity", "test.unrouted")
    before = counter._value.get()
    relay, thread = start_relay(identity_engine, migrated.amqp_url, lonely)
    try:
        ids = write_events(identity_engine, 2, event_type="test.unrouted")
        eventually(lambda: published(identity_engine, ids) == 2, timeout=15, message="confirmed and marked")
        eventually(lambda: counter._value.get() - before >= 2, timeout=5, message="counted as unrouted")
    finally:
        relay.stop()
        thread.join(10)
        broker.exchange_delete(lonely)


# --- the consumer ------------------------------------------------------------------------------

effects_meta = MetaData()
effects = Table("test_consumer_effects", effects_meta, Column("id", Integer, primary_key=True, autoincrement=True),
                Column("event_id", String(64)), Column("note", String(100)))


@pytest.fixture
def consumer_setup(identity_engine, migrated, exchange, broker):
    effects_meta.create_all(identity_engine)
    service = f"testsvc{uuid.uuid4().hex[:6]}"
    calls = {"fail": 0}

    def on_happened(session, event):
        session.execute(effects.insert().values(event_id=event.id, note=event.payload.get("note", "")))

    def on_broken(session, event):
        calls["fail"] += 1
        session.execute(effects.insert().values(event_id=event.id, note="must roll back"))
        raise RuntimeError("unknown client: not in the directory yet")

    consumer = EventConsumer(service=service, session_factory=session_factory(
        identity_engine.url.render_as_string(hide_password=False)), processed=processed_events,
        subscriptions={"test.happened": on_happened, "test.broken": on_broken}, amqp_url=migrated.amqp_url,
        exchange=exchange, retry_delays=(1, 1))
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    # The channel is set once the whole topology is declared (the main queue first, the dead-letter and delay
    # queues after it): a test that looks into the dead-letter queue before it exists would close its channel.
    eventually(lambda: consumer._channel is not None and consumer_ready(migrated.amqp_url, consumer.queue),
               timeout=10, message="consumer's queues declared")
    yield consumer, calls
    consumer.stop()
    thread.join(10)
    for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(1)]:
        broker.queue_delete(name)
    for name in (consumer.retry_exchange, consumer.dead_letter_exchange):
        broker.exchange_delete(name)


def consumer_ready(amqp_url, queue) -> bool:
    """A passive declare that fails closes its channel, so it gets a connection of its own."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        connection.channel().queue_declare(queue, passive=True)
        return True
    except pika.exceptions.ChannelClosedByBroker:
        return False
    finally:
        if connection.is_open:
            connection.close()


def publish(broker, exchange, event_or_body, routing_key=None):
    body = event_or_body if isinstance(event_or_body, bytes) else json.dumps(event_or_body.to_dict()).encode()
    broker.basic_publish(exchange, routing_key or event_or_body.type, body,
                         pika.BasicProperties(delivery_mode=2, headers={}))


def effect_rows(engine, event_id) -> list:
    with engine.connect() as conn:
        return conn.execute(select(effects.c.note).where(effects.c.event_id == event_id)).scalars().all()


def test_redelivered_event_changes_nothing(consumer_setup, broker, exchange, identity_engine):
    consumer, _calls = consumer_setup
    event = make_event("test.happened", {"note": "once"}, producer="test")
    for _ in range(3):
        publish(broker, exchange, event)
    # the consumer is done with all three copies (whatever it made of them), then: one effect
    eventually(lambda: settled(consumer.service, "test.happened") >= 3, timeout=10, message="three copies settled")
    assert effect_rows(identity_engine, event.id) == ["once"]
    assert consumed(consumer.service, "test.happened", "duplicate") == 2


def test_failing_handler_retries_with_backoff_then_dead_letters(consumer_setup, broker, exchange,
                                                                identity_engine):
    consumer, calls = consumer_setup
    event = make_event("test.broken", {}, producer="test")
    publish(broker, exchange, event)

    props, body = dead_lettered(broker, consumer.dead_letter_queue, timeout=20)
    assert json.loads(body)["id"] == event.id
    assert calls["fail"] == 3  # first try + two retries
    assert props.headers["x-attempt"] == 3 and "unknown client" in props.headers["x-last-error"]
    assert effect_rows(identity_engine, event.id) == []  # each failed try rolled back
    with identity_engine.connect() as conn:
        assert conn.execute(select(processed_events.c.event_id).where(
            processed_events.c.event_id == event.id)).first() is None


def test_poison_message_goes_straight_to_the_dead_letter_queue(consumer_setup, broker, exchange):
    consumer, calls = consumer_setup
    publish(broker, exchange, b"this is not json", routing_key="test.happened")

    assert dead_lettered(broker, consumer.dead_letter_queue)[1] == b"this is not json"


def test_readiness_reports_database_and_broker(identity_app, identity_config):
    from shared.web import broker_check

    client = identity_app.test_client()
    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").get_json()["status"] == "ok"
    with pytest.raises(OSError):
        broker_check("amqp://guest:guest@127.0.0.1:1/%2F")()
    metrics = client.get("/metrics").get_data(as_text=True)
    # The outbox backlog is the relay's gauge now (tests/integration/test_web_metrics_port.py).
    assert "outbox_backlog" not in metrics
    assert "http_requests_total" in metrics


def test_engine_is_shared_per_url(identity_config):
    assert get_engine(identity_config.database_url) is get_engine(identity_config.database_url)
