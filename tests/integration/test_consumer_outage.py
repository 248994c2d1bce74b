"""A consumer whose database drops its connection: the transaction that meets the dead connection fails as any
failure does (retried, never acked unhandled), and the next one runs on a fresh connection; no event is lost,
none handled twice."""

from __future__ import annotations

import json
import threading
import uuid

import pika
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from services.identity.models import processed_events
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.events import make_event
from tests.support.observe import settled
from tests.support.processes import eventually
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

effects_meta = MetaData()
effects = Table("test_consumer_outage_effects", effects_meta,
                Column("id", Integer, primary_key=True, autoincrement=True), Column("event_id", String(64)))


def effect_count(engine, event_id) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(effects.c.id).where(effects.c.event_id == event_id)).all())


def test_a_dropped_database_connection_costs_one_try_not_the_events(identity_engine, migrated, exchange, broker):
    effects_meta.create_all(identity_engine)
    url = identity_engine.url
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432).start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    consumer = EventConsumer(
        service=f"testoutage{uuid.uuid4().hex[:6]}", session_factory=session_factory(proxied),
        processed=processed_events,
        subscriptions={"test.happened": lambda session, event: session.execute(
            effects.insert().values(event_id=event.id))},
        amqp_url=migrated.amqp_url, exchange=exchange, retry_delays=(1,))
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()

    def publish(event):
        broker.basic_publish(exchange, event.type, json.dumps(event.to_dict()).encode(),
                             pika.BasicProperties(delivery_mode=2, headers={}))

    def ready(queue: str) -> int:
        return broker.queue_declare(queue, passive=True).method.message_count

    try:
        eventually(lambda: consumer._channel is not None, timeout=10, message="consumer connected")
        first = make_event("test.happened", {}, producer="test")
        publish(first)
        eventually(lambda: effect_count(identity_engine, first.id) == 1, timeout=10, interval=0.005)
        # At once, so the pooled connection counts as fresh (no ping at checkout): the next claim meets it dead.
        proxy.cut()
        proxy.restore()
        later = [make_event("test.happened", {"n": n}, producer="test") for n in range(3)]
        for event in later:
            publish(event)
        # Done when every delivery's chain has ended (handled, duplicate, dead-lettered: a retried one comes
        # again) and nothing waits in the retry or main queue: no copy can come after that.
        eventually(lambda: settled(consumer.service, "test.happened") >= 4
                   and ready(consumer.retry_queue(1)) == 0 and ready(consumer.queue) == 0, timeout=20,
                   interval=0.05, message="every delivery settled")
        assert [effect_count(identity_engine, e.id) for e in [first, *later]] == [1, 1, 1, 1]
        assert settled(consumer.service, "test.happened") == 4
        assert broker.queue_declare(consumer.dead_letter_queue, passive=True).method.message_count == 0
    finally:
        consumer.stop()
        thread.join(10)
        proxy.cut()
        get_engine(proxied).dispose()
        for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(1)]:
            broker.queue_delete(name)
        for name in (consumer.retry_exchange, consumer.dead_letter_exchange):
            broker.exchange_delete(name)
