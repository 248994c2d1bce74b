"""A retried event comes back from its delay queue with the main queue's name as its routing key: its outcome is
still counted under its own type (events_consumed_total{type}), so a dashboard and a test see it settle."""

from __future__ import annotations

import json
import threading
import uuid

import pika
import pytest

from services.identity.models import processed_events
from shared.consumer import EventConsumer
from shared.db import session_factory
from shared.events import make_event
from tests.support.observe import consumed
from tests.support.processes import eventually

pytestmark = pytest.mark.integration


def test_a_retried_event_is_counted_under_its_own_type(identity_engine, migrated, exchange, broker):
    tries = []

    def fails_once(session, event):
        tries.append(event.id)
        if len(tries) == 1:
            raise RuntimeError("the first try fails")

    url = identity_engine.url.render_as_string(hide_password=False)
    consumer = EventConsumer(service=f"testretry{uuid.uuid4().hex[:6]}", session_factory=session_factory(url),
                             processed=processed_events,
                             subscriptions={"test.happened": fails_once}, amqp_url=migrated.amqp_url,
                             exchange=exchange, retry_delays=(1,))
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        eventually(lambda: consumer._channel is not None, timeout=10, message="consumer connected")
        event = make_event("test.happened", {}, producer="test")
        broker.basic_publish(exchange, event.type, json.dumps(event.to_dict()).encode(),
                             pika.BasicProperties(delivery_mode=2, headers={}))
        eventually(lambda: len(tries) == 2, timeout=15, message="the event tried again from its delay queue")
        eventually(lambda: consumed(consumer.service, "test.happened", "handled") == 1, timeout=10,
                   message="the second try counted as handled under test.happened")
        assert consumed(consumer.service, "test.happened", "retried") == 1
        assert consumed(consumer.service, consumer.queue, "handled") == 0
    finally:
        consumer.stop()
        thread.join(10)
        for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(1)]:
            broker.queue_delete(name)
        for name in (consumer.retry_exchange, consumer.dead_letter_exchange):
            broker.exchange_delete(name)
