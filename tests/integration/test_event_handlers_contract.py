"""Every consumer's handlers accept the catalogue's example of each event they subscribe to, on the service's
real test database (the write-time check makes every other integration test a check of the producers)."""

from __future__ import annotations

import json

import pytest

from shared.contracts import CATALOGUE
from shared.events import make_event

pytestmark = pytest.mark.integration

# What must be true first, as it would be in production: the client is known (client.created reaches every
# service before anything about the client); a refund's payment is posted before its refund.
BEFORE = {"payment.refunded": ["payment.succeeded"]}


def example_event(event_type: str):
    contract = CATALOGUE.get(event_type, 1)
    return make_event(event_type, dict(contract.example), producer=contract.producer)


def deliver_examples(consumer, subscriptions) -> dict[str, str]:
    outcomes = {}
    first = example_event("client.created")
    consumer.handle(json.dumps(first.to_dict()).encode())
    for event_type in sorted(subscriptions):
        for earlier in BEFORE.get(event_type, []):
            consumer.handle(json.dumps(example_event(earlier).to_dict()).encode())
        outcomes[event_type] = consumer.handle(json.dumps(example_event(event_type).to_dict()).encode())
    return outcomes


def test_billings_handlers_accept_the_catalogues_examples(billing_consumer):
    from services.billing.events import SUBSCRIPTIONS

    outcomes = deliver_examples(billing_consumer, SUBSCRIPTIONS)
    assert outcomes == dict.fromkeys(SUBSCRIPTIONS, "handled")


def test_payments_handlers_accept_the_catalogues_examples(payments_consumer):
    from services.payments.events import SUBSCRIPTIONS

    outcomes = deliver_examples(payments_consumer, SUBSCRIPTIONS)
    assert outcomes == dict.fromkeys(SUBSCRIPTIONS, "handled")


def test_a_handler_receives_the_payload_as_loaded_by_its_contract(billing_consumer, billing_config):
    """The consumer hands the loaded payload on: a field a newer producer added within the version is there too."""
    from shared.consumer import EventConsumer

    seen = []
    consumer = EventConsumer(service="contract-test", session_factory=billing_consumer.session_factory,
                             processed=billing_consumer.processed,
                             subscriptions={"autopay.changed": lambda _session, event: seen.append(event.payload)},
                             amqp_url=billing_config.amqp_url, exchange="unused")
    payload = {**CATALOGUE.get("autopay.changed", 1).example, "since": "2026-12-02"}
    event = make_event("autopay.changed", payload, producer="billing")
    assert consumer.handle(json.dumps(event.to_dict()).encode()) == "handled"
    assert seen == [payload]
