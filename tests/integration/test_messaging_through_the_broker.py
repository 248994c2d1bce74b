"""Messaging's consumer on a real RabbitMQ: every event type it subscribes to, published to a topic exchange as the
other services' relays publish, reaches the bell; the same events published again (a redelivery, as a relay that
crashed after publishing does) change nothing."""

from __future__ import annotations

import json
import threading
import uuid

import pika
import pytest
from sqlalchemy import text

from services.messaging.events import SUBSCRIPTIONS
from services.messaging.models import processed_events
from shared.consumer import EventConsumer
from shared.db import session_factory
from shared.events import make_event
from tests.integration.test_messaging_notifications import AUDIENCES, example
from tests.support.processes import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
def consumer(messaging_config, migrated, exchange, broker):
    running = EventConsumer(service=f"messaging-test-{uuid.uuid4().hex[:6]}",
                            session_factory=session_factory(messaging_config.database_url),
                            processed=processed_events, subscriptions=SUBSCRIPTIONS, amqp_url=migrated.amqp_url,
                            exchange=exchange)
    thread = threading.Thread(target=running.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    # bound before anything is published (a message published before the binding would be dropped)
    eventually(lambda: running._channel is not None, timeout=10, message="consumer queue declared and bound")
    yield running
    running.stop()
    thread.join(10)
    for name in [running.queue, running.dead_letter_queue, *(running.retry_queue(d) for d in running.retry_delays)]:
        broker.queue_delete(name)
    for name in (running.retry_exchange, running.dead_letter_exchange):
        broker.exchange_delete(name)


def notices(engine, client_id: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted(conn.execute(text("SELECT type, audience FROM notifications WHERE client_id = :c"),
                                   {"c": client_id}).all())


def test_every_event_through_the_broker_reaches_the_bell_once(consumer, broker, exchange, mclient, mpractice,
                                                            messaging_engine):
    client = mclient()
    events = [make_event(event_type, example(event_type, client.id), producer="test") for event_type in AUDIENCES]
    for event in events + events:  # each twice: the second copy is a redelivery
        broker.basic_publish(exchange, event.type, json.dumps(event.to_dict()).encode(),
                             pika.BasicProperties(delivery_mode=2, headers={}))
    expected = sorted((event_type, audience) for event_type, sides in AUDIENCES.items() for audience in sides)
    eventually(lambda: notices(messaging_engine, client.id) == expected, timeout=20, interval=0.1,
               message="every event's notices on the bell")
    with messaging_engine.connect() as conn:
        handled = conn.execute(text("SELECT count(*) FROM processed_events WHERE consumer = :c"),
                               {"c": consumer.service}).scalar_one()
        dead = broker.queue_declare(consumer.dead_letter_queue, passive=True).method.message_count
    assert handled == len(events) and dead == 0
    assert notices(messaging_engine, client.id) == expected  # the second copies changed nothing
