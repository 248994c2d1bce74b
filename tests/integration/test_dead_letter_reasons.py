"""On real RabbitMQ: an event the catalogue does not allow goes straight to the dead-letter queue, no retry, the
reason in its x-dead-letter-reason header, and the event after it is handled as usual."""

from __future__ import annotations

import json
import threading
import uuid

import pika
import pytest

from services.identity.models import processed_events
from shared.consumer import DEAD_LETTER_REASON_HEADER, EventConsumer
from shared.contracts import CATALOGUE
from shared.db import session_factory
from shared.events import make_event
from tests.support.observe import dead_lettered
from tests.support.processes import eventually

pytestmark = pytest.mark.integration

EXAMPLE = CATALOGUE.get("autopay.changed", 1).example


@pytest.fixture
def running(identity_engine, migrated, exchange, broker):
    handled = []
    consumer = EventConsumer(
        service=f"dlqtest{uuid.uuid4().hex[:6]}",
        session_factory=session_factory(identity_engine.url.render_as_string(hide_password=False)),
        processed=processed_events, subscriptions={"autopay.changed": lambda _s, event: handled.append(event.id)},
        amqp_url=migrated.amqp_url, exchange=exchange, retry_delays=(30,))
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    eventually(lambda: consumer._channel is not None, timeout=10, message="consumer connected")
    yield consumer, handled
    consumer.stop()
    thread.join(10)
    for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(30)]:
        broker.queue_delete(name)
    for name in (consumer.retry_exchange, consumer.dead_letter_exchange):
        broker.exchange_delete(name)


def publish(broker, exchange, event, routing_key="autopay.changed"):
    broker.basic_publish(exchange, routing_key, json.dumps(event.to_dict()).encode(),
                         pika.BasicProperties(delivery_mode=2, headers={}))


@pytest.mark.parametrize(("event", "reason", "error"), [
    (make_event("autopay.changed", {**EXAMPLE, "enabled": "yes"}, producer="billing"), "invalid_payload",
     "enabled: Not a valid boolean."),
    (make_event("autopay.changed", {"enabled": True}, producer="billing"), "invalid_payload",
     "client_id: Missing data for required field."),
    (make_event("autopay.changed", EXAMPLE, producer="billing", version=9), "unknown_version", "no version 9"),
    (make_event("autopay.teleported", EXAMPLE, producer="billing"), "unknown_type", "no such event type"),
], ids=["wrong type", "missing field", "unknown version", "unknown type"])
def test_an_event_the_catalogue_does_not_allow_is_dead_lettered_at_once_with_its_reason(running, broker, exchange,
                                                                                       event, reason, error):
    consumer, handled = running
    after = make_event("autopay.changed", EXAMPLE, producer="billing")
    publish(broker, exchange, event)
    publish(broker, exchange, after)

    props, body = dead_lettered(broker, consumer.dead_letter_queue)
    assert json.loads(body)["id"] == event.id
    assert props.headers[DEAD_LETTER_REASON_HEADER] == reason
    assert props.headers["x-attempt"] == 1  # no retry
    assert error in props.headers["x-last-error"]
    eventually(lambda: after.id in handled, timeout=10, message="the next event handled")
    assert event.id not in handled
    # nothing waits in the retry queue: it went straight to the dead letters
    assert broker.queue_declare(consumer.retry_queue(30), passive=True).method.message_count == 0
