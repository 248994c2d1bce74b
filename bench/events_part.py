"""Events: outbox relay throughput against raw pika publishing, and commit-to-handler latency.

Everything happens in a bench RabbitMQ vhost (`portal_bench`, made and deleted with rabbitmqctl) or,
where rabbitmqctl cannot reach the broker, under bench.* names in the configured vhost (deleted by
name afterwards), and in a fresh bench database `portal_bench_events` with identity's outbox tables.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from urllib.parse import quote, urlparse, urlunparse

import pika

from bench.common import (
    Procs,
    Workspace,
    bench_db_url,
    cpu_delta,
    cpu_snapshot,
    drop_bench_database,
    log,
    machine_ticks,
    percentile,
    plain_dsn,
    recreate_database,
)

VHOST = "portal_bench"
EXCHANGE = "bench.events"
SINK = "bench.sink"
CONSUMER_SERVICE = "bench"  # the consumer's queue is "bench.events" (queues and exchanges are separate names)
RETRY_DELAYS = (1, 5, 30, 120, 600)  # shared.consumer.DEFAULT_RETRY_DELAYS: the queues to delete by name
SAMPLE_PAYLOAD = {"client_id": "6f1c1d8e-3b1a-4a8e-9a53-0c1c2d3e4f50", "first_name": "Casey",
                  "last_name": "Benchmark", "preferred_name": "Case", "email": "casey.bench@bench.local",
                  "date_of_birth": "1990-04-12", "changed_fields": ["address", "phone"], "by": "client"}


class BenchBroker:
    """A place on the broker the bench may fill and then delete whole."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        parsed = urlparse(base_url)
        self.user = parsed.username or "guest"
        self.vhost_mode = False
        loopback = (parsed.hostname or "127.0.0.1") in ("127.0.0.1", "localhost", "::1")
        if loopback and shutil.which("rabbitmqctl"):
            self._ctl("delete_vhost", VHOST, quiet=True)  # left over by a killed run
            if self._ctl("add_vhost", VHOST) and self._ctl("set_permissions", "-p", VHOST, self.user, ".*", ".*",
                                                           ".*"):
                self.vhost_mode = True
        if self.vhost_mode:
            self.url = urlunparse(parsed._replace(path="/" + quote(VHOST, safe="")))
        else:
            self.url = base_url
        log(f"events: broker at {'vhost ' + VHOST if self.vhost_mode else 'the configured vhost, bench.* names'}")

    @staticmethod
    def _ctl(*args: str, quiet: bool = False) -> bool:
        try:
            done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            if not quiet:
                log(f"rabbitmqctl {args[0]} failed: {exc}")
            return False
        if done.returncode != 0 and not quiet:
            log(f"rabbitmqctl {args[0]} failed: {done.stderr.strip()[-300:]}")
        return done.returncode == 0

    def connection(self) -> pika.BlockingConnection:
        return pika.BlockingConnection(pika.URLParameters(self.url))

    def cleanup(self) -> None:
        if self.vhost_mode:
            self._ctl("delete_vhost", VHOST)
            return
        queues = [SINK, f"{CONSUMER_SERVICE}.events", f"{CONSUMER_SERVICE}.events.dlq"] + [
            f"{CONSUMER_SERVICE}.events.retry.{d}s" for d in RETRY_DELAYS]
        exchanges = [EXCHANGE, f"{EXCHANGE}.retry", f"{EXCHANGE}.dlx"]
        try:
            conn = self.connection()
        except Exception as exc:
            log(f"cannot clean the broker: {exc}")
            return
        try:
            for name in queues:
                channel = conn.channel()
                try:
                    channel.queue_delete(name)
                except pika.exceptions.ChannelClosed:
                    pass
            for name in exchanges:
                channel = conn.channel()
                try:
                    channel.exchange_delete(name)
                except pika.exceptions.ChannelClosed:
                    pass
        finally:
            conn.close()


class _Load:
    """CPU use between construction and stop(): the whole machine, and what was not ours."""

    def __init__(self, groups: dict[str, int]):
        self.groups = groups
        self.cpu, self.machine = cpu_snapshot(groups), machine_ticks()
        self.values: dict = {}

    def stop(self) -> None:
        cpu, machine = cpu_delta(self.cpu, cpu_snapshot(self.groups)), machine_ticks()
        capacity = (machine[1] - self.machine[1]) or 1.0
        busy = machine[0] - self.machine[0]
        self.values = {"machine_busy": round(busy / capacity, 2),
                       "other_cpu_share": round(max(0.0, busy - sum(cpu.values())) / capacity, 2),
                       "cpu_s": {k: v for k, v in cpu.items() if v}}

    def result(self) -> dict:
        return self.values


def _properties(event_id: str, event_type: str) -> pika.BasicProperties:
    """What the relay sends with each event."""
    return pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent,
                                message_id=event_id, type=event_type, app_id="bench", headers={},
                                correlation_id=None, timestamp=int(time.time()))


def _sample_body(event_type: str) -> bytes:
    from shared.events import make_event

    return json.dumps(make_event(event_type, SAMPLE_PAYLOAD, producer="bench").to_dict()).encode()


def _start_relay(procs: Procs, workspace: Workspace, broker: BenchBroker, db_url: str):
    env = {**os.environ, **workspace.env(), "IDENTITY_DATABASE_URL": db_url, "AMQP_URL": broker.url,
           "EVENTS_EXCHANGE": EXCHANGE, "LOG_LEVEL": "WARNING"}
    env.pop("METRICS_PORT", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return procs.start("relay", [sys.executable, "-m", "services.identity.worker", "relay"], env,
                       stop_signal=signal.SIGTERM)


def _sink_depth(broker: BenchBroker) -> int:
    conn = broker.connection()
    try:
        return conn.channel().queue_declare(SINK, passive=True).method.message_count
    finally:
        conn.close()


def relay_throughput(procs: Procs, workspace: Workspace, broker: BenchBroker, db_url: str, n: int,
                     batch: int = 500) -> dict:
    import psycopg

    from services.identity.models import outbox
    from shared.db import session_factory, unit_of_work
    from shared.events import make_event, record_event

    sessions = session_factory(db_url)
    log(f"events: inserting {n} outbox rows")
    started = time.perf_counter()
    for first in range(0, n, batch):
        with unit_of_work(sessions) as session:
            for _ in range(min(batch, n - first)):
                record_event(session, outbox, make_event("bench.throughput", SAMPLE_PAYLOAD, producer="bench"))
    insert_s = time.perf_counter() - started

    relay = _start_relay(procs, workspace, broker, db_url)
    relay_started = time.monotonic()
    load = _Load({"relay": relay.popen.pid})
    drained_at = first_claim = None
    unpublished = n
    deadline = relay_started + 180
    try:
        with psycopg.connect(plain_dsn(db_url), autocommit=True) as conn:
            while time.monotonic() < deadline:
                if relay.popen.poll() is not None:
                    raise RuntimeError(f"the relay exited with {relay.popen.returncode}:\n{relay.tail()}")
                unpublished, first_claim, now = conn.execute(
                    "SELECT count(*) FILTER (WHERE published_at IS NULL), min(published_at), clock_timestamp() "
                    "FROM outbox").fetchone()
                if unpublished == 0:
                    drained_at = now
                    break
                time.sleep(0.05)
        wall_s = time.monotonic() - relay_started
        load.stop()
    finally:
        procs.stop(relay)
    if drained_at is None:
        raise RuntimeError(f"the relay left {unpublished} of {n} rows after {wall_s:.0f} s:\n{relay.tail()}")
    seconds = (drained_at - first_claim).total_seconds()
    depth = _sink_depth(broker)
    return {"n": n, "insert_s": round(insert_s, 2), "insert_rows_per_s": round(n / insert_s, 1),
            "seconds": round(seconds, 2), "rows_per_s": round(n / seconds, 1),
            "wall_s_with_start": round(wall_s, 2), "messages_in_sink": depth, **load.result()}


def raw_publish(broker: BenchBroker, n: int, *, confirms: bool) -> dict:
    body = _sample_body("bench.raw")
    conn = broker.connection()
    try:
        channel = conn.channel()
        channel.queue_purge(SINK)
        if confirms:
            channel.confirm_delivery()
        started = time.perf_counter()
        for i in range(n):
            channel.basic_publish(EXCHANGE, "bench.raw", body, properties=_properties(f"raw-{i}", "bench.raw"),
                                  mandatory=True)
        # A synchronous round trip on the same channel: the broker has taken every publish before it.
        channel.queue_declare(SINK, passive=True)
        seconds = time.perf_counter() - started
        channel.queue_purge(SINK)
    finally:
        conn.close()
    return {"n": n, "seconds": round(seconds, 2), "msgs_per_s": round(n / seconds, 1), "confirms": confirms}


def latency(procs: Procs, workspace: Workspace, broker: BenchBroker, db_url: str, rate: int,
            seconds: float) -> dict:
    from sqlalchemy import event as sa_event

    from services.identity.models import outbox, processed_events
    from shared.consumer import EventConsumer
    from shared.db import session_factory, unit_of_work
    from shared.events import make_event, record_event

    sessions = session_factory(db_url)
    commits: dict[str, tuple[float, float]] = {}  # event id -> (business commit, occurred_at), epoch s
    handled: dict[str, float] = {}  # event id -> handler commit, epoch s
    received: dict[str, float] = {}  # event id -> handler start, epoch s
    warm: set[str] = set()
    lock = threading.Lock()

    def handler(session, event) -> None:
        with lock:
            received[event.id] = time.time()

        def committed(_session) -> None:
            with lock:
                handled[event.id] = time.time()

        sa_event.listen(session, "after_commit", committed, once=True)

    consumer = EventConsumer(service=CONSUMER_SERVICE, session_factory=sessions, processed=processed_events,
                             subscriptions={"bench.tick": handler}, amqp_url=broker.url, exchange=EXCHANGE)
    problems: list[BaseException] = []
    stats = {}

    def commit_one(seq: int) -> str:
        with unit_of_work(sessions) as session:
            event = record_event(session, outbox, make_event("bench.tick", {"seq": seq}, producer="bench"))
        done = time.time()
        occurred = datetime.fromisoformat(event.occurred_at.replace("Z", "+00:00")).timestamp()
        with lock:
            commits[event.id] = (done, occurred)
        return event.id

    def wait_handled(ids, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lock:
                if all(i in handled for i in ids):
                    return True
            time.sleep(0.05)
        return False

    def produce() -> None:
        try:
            deadline = time.monotonic() + 20
            while consumer._channel is None and time.monotonic() < deadline and not consumer._stopping:
                time.sleep(0.05)
            # Warm-up: the relay and the consumer are connected once these have gone through.
            for i in range(20):
                warm.add(commit_one(-1 - i))
                time.sleep(1 / rate)
            if not wait_handled(list(warm), 30):
                raise RuntimeError("warm-up events did not reach the consumer in 30 s")
            interval = 1 / rate
            count = int(rate * seconds)
            started = time.perf_counter()
            for i in range(count):
                if consumer._stopping:
                    raise RuntimeError("the consumer stopped before the run ended")
                pause = started + i * interval - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                commit_one(i)
            stats["produce_s"] = time.perf_counter() - started
            with lock:
                ids = [i for i in commits if i not in warm]
            stats["tail_drained"] = wait_handled(ids, 10)
        except BaseException as exc:
            problems.append(exc)
        finally:
            consumer.stop()

    relay = _start_relay(procs, workspace, broker, db_url)
    load = _Load({"relay": relay.popen.pid})
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    producer = threading.Thread(target=produce, name="bench-producer", daemon=True)
    watchdog = threading.Timer(seconds + 90, consumer.stop)
    log(f"events: latency at {rate} events/s for {seconds:.0f} s")
    try:
        producer.start()
        watchdog.start()
        consumer.run_forever()  # in the main thread: it installs signal handlers
    finally:
        watchdog.cancel()
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
        consumer.stop()
        producer.join(timeout=30)
        load.stop()
        procs.stop(relay)
    if problems:
        raise RuntimeError(f"latency run failed: {problems[0]!r}\nrelay log:\n{relay.tail()}") from problems[0]

    with lock:
        measured = {i: c for i, c in commits.items() if i not in warm}
        done = {i: handled[i] for i in measured if i in handled}
    # Where the time goes: created_at is the producer transaction's start, published_at the start of the
    # relay transaction that claimed the row (both PostgreSQL's now()).
    import psycopg

    with psycopg.connect(plain_dsn(db_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT id, extract(epoch FROM published_at - created_at)::float, extract(epoch FROM published_at)::float "
            "FROM outbox WHERE event_type = 'bench.tick' AND published_at IS NOT NULL AND id = ANY(%s)",
            (list(measured),)).fetchall()
    claims = [r[1] * 1000 for r in rows]
    with lock:
        delivery = [(received[r[0]] - r[2]) * 1000 for r in rows if r[0] in received]
        in_handler = [(done[i] - received[i]) * 1000 for i in done if i in received]
    from_commit = [(done[i] - measured[i][0]) * 1000 for i in done]
    from_occurred = [(done[i] - measured[i][1]) * 1000 for i in done]
    return {
        "rate_target": rate, "seconds": round(stats.get("produce_s", 0.0), 2), "produced": len(measured),
        "handled": len(done), "lost_or_late": len(measured) - len(done),
        "achieved_rate": round(len(measured) / stats["produce_s"], 1) if stats.get("produce_s") else None,
        "p50_ms": _r(percentile(from_commit, 50)), "p90_ms": _r(percentile(from_commit, 90)),
        "p99_ms": _r(percentile(from_commit, 99)), "max_ms": _r(max(from_commit, default=None)),
        "relay_claim_p50_ms": _r(percentile(claims, 50)), "relay_claim_p99_ms": _r(percentile(claims, 99)),
        "claim_to_handler_p50_ms": _r(percentile(delivery, 50)),
        "claim_to_handler_p99_ms": _r(percentile(delivery, 99)),
        "handler_p50_ms": _r(percentile(in_handler, 50)), "handler_p99_ms": _r(percentile(in_handler, 99)),
        "occurred_at_p50_ms": _r(percentile(from_occurred, 50)),
        "occurred_at_p99_ms": _r(percentile(from_occurred, 99)),
        **load.result(),
    }


def consumer_capacity(broker: BenchBroker, db_url: str, n: int) -> dict:
    """How fast shared.consumer.EventConsumer drains a backlog (the messages in hand handled as one batch: one
    transaction, one processed-events insert and one ack per batch of up to the prefetch, 50)."""
    from services.identity.models import processed_events
    from shared.consumer import EventConsumer
    from shared.db import session_factory
    from shared.events import make_event

    count = [0]
    finished = threading.Event()

    def handler(_session, _event) -> None:
        count[0] += 1
        if count[0] >= n:
            finished.set()

    consumer = EventConsumer(service=CONSUMER_SERVICE, session_factory=session_factory(db_url),
                             processed=processed_events, subscriptions={"bench.backlog": handler},
                             amqp_url=broker.url, exchange=EXCHANGE)
    conn = broker.connection()
    try:
        channel = conn.channel()
        consumer.declare(channel)  # binds bench.backlog to the consumer's queue
        channel.confirm_delivery()
        for _ in range(n):
            event = make_event("bench.backlog", SAMPLE_PAYLOAD, producer="bench")
            channel.basic_publish(EXCHANGE, event.type, json.dumps(event.to_dict()).encode(),
                                  properties=_properties(event.id, event.type))
    finally:
        conn.close()
    times = {}

    def stopper() -> None:
        while not count[0] and not consumer._stopping:
            time.sleep(0.001)
        times["first"] = time.perf_counter()
        finished.wait(timeout=120)
        times["last"] = time.perf_counter()
        consumer.stop()

    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    thread = threading.Thread(target=stopper, daemon=True)
    watchdog = threading.Timer(150, consumer.stop)
    try:
        thread.start()
        watchdog.start()
        consumer.run_forever()
    finally:
        watchdog.cancel()
        for sig, before in previous.items():
            signal.signal(sig, before)
        consumer.stop()
        thread.join(timeout=10)
    seconds = times.get("last", 0) - times.get("first", 0)
    return {"n": n, "handled": count[0], "seconds": round(seconds, 2),
            "msgs_per_s": round((count[0] - 1) / seconds, 1) if seconds > 0 else None}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    from shared.config import env

    os.environ.update(workspace.env())
    db_url = bench_db_url("events")
    log(f"events: recreating {db_url.rsplit('/', 1)[-1]}")
    recreate_database("identity", db_url)  # identity's schema: its outbox and processed_events tables
    broker = BenchBroker(env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    out: dict = {"broker": "vhost " + VHOST if broker.vhost_mode else "bench.* names", "exchange": EXCHANGE}
    try:
        conn = broker.connection()
        try:
            channel = conn.channel()
            channel.exchange_declare(EXCHANGE, exchange_type="topic", durable=True)
            channel.queue_declare(SINK, durable=True, arguments={"x-queue-type": "quorum"})
            channel.queue_bind(SINK, EXCHANGE, routing_key="#")
        finally:
            conn.close()

        out["relay"] = relay_throughput(procs, workspace, broker, db_url, settings["events_n"])
        log(f"events: relay {out['relay']['rows_per_s']} rows/s")
        out["raw_confirm_each"] = raw_publish(broker, settings["raw_n"], confirms=True)
        log(f"events: raw pika, a confirm per message: {out['raw_confirm_each']['msgs_per_s']} msg/s")
        out["raw_no_confirm"] = raw_publish(broker, settings["raw_n"], confirms=False)
        log(f"events: raw pika, no confirms: {out['raw_no_confirm']['msgs_per_s']} msg/s")

        conn = broker.connection()
        try:
            conn.channel().queue_delete(SINK)  # the latency run routes to the consumer's queue only
        finally:
            conn.close()
        out["latency"] = latency(procs, workspace, broker, db_url, settings["latency_rate"],
                                 settings["latency_seconds"])
        log(f"events: latency p50 {out['latency']['p50_ms']} ms, p99 {out['latency']['p99_ms']} ms")
        out["consumer_backlog"] = consumer_capacity(broker, db_url, settings.get("consumer_n", 2000))
        log(f"events: the consumer drains a backlog at {out['consumer_backlog']['msgs_per_s']} events/s")
    finally:
        broker.cleanup()
        from bench.common import dispose_engines

        dispose_engines()
        drop_bench_database(db_url)
    return out
