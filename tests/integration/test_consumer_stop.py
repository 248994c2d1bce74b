"""An idle consumer sleeps until a delivery comes (no wake-up a second), and stop() still ends it at once:
from another thread, and from the SIGTERM handler of a consumer process."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import uuid

import pytest

import shared.consumer as consumer_module
from services.identity.models import processed_events
from shared.consumer import EventConsumer
from shared.db import session_factory
from tests.support.processes import ROOT, eventually

pytestmark = pytest.mark.integration


def delete_topology(broker, consumer: EventConsumer) -> None:
    for name in [consumer.queue, consumer.dead_letter_queue, consumer.retry_queue(1)]:
        broker.queue_delete(name)
    for name in (consumer.retry_exchange, consumer.dead_letter_exchange):
        broker.exchange_delete(name)


# An hour: a consumer that ends within a test's join or communicate timeout was woken, not timed out.
NO_TIME_LIMIT = 3600


def test_an_idle_consumer_does_not_wake_up_and_stops_at_once(identity_engine, migrated, exchange, broker,
                                                             monkeypatch):
    """Idle, the consumer sits in one wait for deliveries, as long as IDLE_WAIT_SECONDS (no wake-up a second);
    stop() from another thread ends that wait, and the loop, at once."""
    monkeypatch.setattr(consumer_module, "IDLE_WAIT_SECONDS", NO_TIME_LIMIT)
    consumer = EventConsumer(service=f"teststop{uuid.uuid4().hex[:6]}", session_factory=session_factory(
        identity_engine.url.render_as_string(hide_password=False)), processed=processed_events,
        subscriptions={"test.happened": lambda _session, _event: None}, amqp_url=migrated.amqp_url,
        exchange=exchange, retry_delays=(1,))
    waits: list[float] = []  # the time limit of each wait for deliveries the loop began
    ended: list[float] = []  # ... and of each that ended
    real_connect = consumer.connect

    def connect():
        channel = real_connect()
        real_wait = consumer._connection.process_data_events

        def wait(time_limit=0):
            waits.append(time_limit)
            real_wait(time_limit=time_limit)
            ended.append(time_limit)

        consumer._connection.process_data_events = wait
        return channel

    consumer.connect = connect
    thread = threading.Thread(target=consumer.run_forever, kwargs={"install_signals": False}, daemon=True)
    thread.start()
    try:
        eventually(lambda: waits, timeout=10, message="consumer waiting for deliveries")
        assert broker.queue_declare(consumer.queue, passive=True).method.consumer_count == 1
        assert (waits, ended) == ([NO_TIME_LIMIT], [])  # one wait, as long as the idle limit, not yet over

        consumer.stop()
        thread.join(10)
        assert not thread.is_alive()
        assert (waits, ended) == ([NO_TIME_LIMIT], [NO_TIME_LIMIT])  # woken by stop(), and no wait after it
    finally:
        consumer.stop()
        thread.join(5)
        delete_topology(broker, consumer)


def test_sigterm_ends_an_idle_consumer_process_at_once(identity_config, migrated, exchange, broker):
    """The process says when its loop is in its wait for deliveries (an hour long here); SIGTERM then ends it."""
    service = f"teststop{uuid.uuid4().hex[:6]}"
    script = textwrap.dedent(f"""
        import shared.consumer
        from services.identity.models import processed_events
        from shared.consumer import EventConsumer
        from shared.db import session_factory

        shared.consumer.IDLE_WAIT_SECONDS = {NO_TIME_LIMIT}
        consumer = EventConsumer(
            service={service!r}, session_factory=session_factory({identity_config.database_url!r}),
            processed=processed_events, subscriptions={{"test.happened": lambda _s, _e: None}},
            amqp_url={migrated.amqp_url!r}, exchange={exchange!r}, retry_delays=(1,))
        real_connect = consumer.connect

        def connect():
            channel = real_connect()
            real_wait = consumer._connection.process_data_events

            def wait(time_limit=0):
                print("waiting", time_limit, flush=True)
                real_wait(time_limit=time_limit)

            consumer._connection.process_data_events = wait
            return channel

        consumer.connect = connect
        consumer.run_forever()
        print("stopped", flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    consumer = EventConsumer(service=service, session_factory=None, processed=processed_events, subscriptions={},
                             amqp_url=migrated.amqp_url, exchange=exchange, retry_delays=(1,))  # names only
    lines: queue.Queue[bytes] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in iter(process.stdout.readline, b"")],
                     daemon=True).start()
    seen: list[bytes] = []
    try:
        while not seen or not seen[-1].startswith(b"waiting"):
            seen.append(lines.get(timeout=30))  # queue.Empty: the process never got to its wait
        assert seen[-1].split() == [b"waiting", str(NO_TIME_LIMIT).encode()], seen
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        while (line := lines.get(timeout=10)) != b"stopped\n":
            seen.append(line)
        assert not [line for line in seen if line.startswith(b"waiting")][1:], seen  # no second wait
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        delete_topology(broker, consumer)
