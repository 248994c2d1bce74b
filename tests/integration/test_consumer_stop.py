"""An idle consumer sleeps until a delivery comes (no wake-up a second), and stop() still ends it at once:
from another thread, and from the SIGTERM handler of a consumer process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid

import pytest

from services.identity.models import processed_events
from shared.consumer import EventConsumer
from shared.db import session_factory
from tests.integration.test_events import consumer_ready
from tests.support.processes import ROOT, eventually

pytestmark = pytest.mark.integration


def delete_topology(broker, consumer: EventConsumer) -> None:
    for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(1)]:
        broker.queue_delete(name)
    for name in (consumer.retry_exchange, consumer.dead_letter_exchange):
        broker.exchange_delete(name)


def test_an_idle_consumer_does_not_wake_up_and_stops_at_once(identity_engine, migrated, exchange, broker):
    consumer = EventConsumer(service=f"teststop{uuid.uuid4().hex[:6]}", session_factory=session_factory(
        identity_engine.url.render_as_string(hide_password=False)), processed=processed_events,
        subscriptions={"test.happened": lambda _session, _event: None}, amqp_url=migrated.amqp_url,
        exchange=exchange, retry_delays=(1,))
    rounds: list[float] = []
    real_handle_in_hand = consumer._handle_in_hand

    def counting_handle_in_hand(channel):
        rounds.append(time.monotonic())
        real_handle_in_hand(channel)

    consumer._handle_in_hand = counting_handle_in_hand
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        eventually(lambda: consumer._channel is not None, timeout=10, message="consumer connected")
        time.sleep(2.5)
        assert rounds == []  # nothing delivered: the loop never came round

        started = time.monotonic()
        consumer.stop()
        thread.join(5)
        assert not thread.is_alive()
        assert time.monotonic() - started < 2.0
    finally:
        consumer.stop()
        thread.join(5)
        delete_topology(broker, consumer)


def test_sigterm_ends_an_idle_consumer_process_at_once(identity_config, migrated, exchange, broker):
    service = f"teststop{uuid.uuid4().hex[:6]}"
    script = textwrap.dedent(f"""
        from services.identity.models import processed_events
        from shared.consumer import EventConsumer
        from shared.db import session_factory

        EventConsumer(service={service!r}, session_factory=session_factory({identity_config.database_url!r}),
                      processed=processed_events, subscriptions={{"test.happened": lambda _s, _e: None}},
                      amqp_url={migrated.amqp_url!r}, exchange={exchange!r}, retry_delays=(1,)).run_forever()
        print("stopped", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    consumer = EventConsumer(service=service, session_factory=None, processed=processed_events, subscriptions={},
                             amqp_url=migrated.amqp_url, exchange=exchange, retry_delays=(1,))  # names only
    try:
        eventually(lambda: consumer_ready(migrated.amqp_url, consumer.queue), timeout=15,
                   message="consumer process connected")
        time.sleep(1.0)  # into its wait for deliveries
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
        assert time.monotonic() - started < 3.0
        assert process.returncode == 0 and b"stopped" in output, output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        delete_topology(broker, consumer)
