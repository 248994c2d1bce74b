"""Entry point of a service's background process: `events` runs the outbox relay (outbox -> RabbitMQ) and the
event consumer (RabbitMQ -> handlers) in one process, each in a thread of its own with its own database and
broker connections; `relay` and `consume` run one of them alone (tests, or scaling one apart from the other).

One process for both because they are small and idle most of the time: apart, each was a Python interpreter
with SQLAlchemy, pika and the service's models loaded twice (about 50 MiB PSS each, bench/stack_memory.py);
together they share that, and neither waits for the other (separate connections, separate threads)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from collections.abc import Callable

from prometheus_client import start_http_server
from sqlalchemy import Table

from shared import metrics
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.logs import configure_logging
from shared.outbox_metrics import OutboxBacklogCollector
from shared.relay import OutboxRelay

log = logging.getLogger(__name__)
# How long SIGTERM waits for the loops to finish what they hold (a consumer's batch, a relay's publish), in all.
STOP_WITHIN_SECONDS = 25.0


def serve_metrics(*collectors) -> None:
    """With METRICS_PORT set, this process's metrics there (METRICS_ADDR, all addresses by default), `collectors`
    asked at each scrape."""
    port = os.environ.get("METRICS_PORT")
    if not port:
        return
    registry = metrics.registry()
    for collector in collectors:
        registry.register(collector)
    start_http_server(int(port), addr=os.environ.get("METRICS_ADDR", "0.0.0.0"), registry=registry)  # noqa: S104


def main(argv, *, config, outbox: Table, processed: Table, subscriptions: dict,
         beside: Callable[[], Callable[[], object]] | None = None) -> int:
    """`beside`: started before the loops, it answers a function that stops it (identity's mail relay)."""
    parser = argparse.ArgumentParser(prog=f"python -m services.{config.service}.worker")
    parser.add_argument("command", choices=["events", "relay", "consume"])
    args = parser.parse_args(argv)
    configure_logging(f"{config.service}-{args.command}", config.log_level)
    loops = []
    if args.command in ("events", "relay"):
        # No ping per checkout: a connection the database dropped fails one tick, which is retried at the next
        # poll on a fresh connection (the relay closes a connection whose statement failed).
        engine = get_engine(config.database_url, pool_size=2, pool_pre_ping=False)
        # The relay owns the outbox, so its process reports the backlog (a scrape takes the pool's second
        # connection).
        serve_metrics(OutboxBacklogCollector(config.service, engine, outbox))
        loops.append(OutboxRelay(service=config.service, engine=engine, outbox=outbox, amqp_url=config.amqp_url,
                                 exchange=config.events_exchange, linger=config.relay_linger_ms / 1000))
    else:
        serve_metrics()
    if args.command in ("events", "consume"):
        if subscriptions:
            loops.append(EventConsumer(service=config.service, session_factory=session_factory(config.database_url),
                                       processed=processed, subscriptions=subscriptions, amqp_url=config.amqp_url,
                                       exchange=config.events_exchange))
        else:
            log.info("this service consumes no events")
    if not loops:
        return 0
    stop_beside = beside() if beside is not None and args.command in ("events", "relay") else None
    try:
        return run_loops(loops)
    finally:
        if stop_beside is not None:
            stop_beside()


def run_loops(loops: list) -> int:
    """Runs each loop's run_forever in a thread until SIGTERM or SIGINT, then stops them all and waits for each
    to finish what it has in hand (a consumer's batch, a relay's publish). Should one loop end by itself, the
    others are stopped too and the process exits non-zero, so its supervisor starts it again whole."""
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    threads = [threading.Thread(target=loop.run_forever, kwargs={"install_signals": False},
                                name=type(loop).__name__, daemon=True) for loop in loops]
    for thread in threads:
        thread.start()
    # Woken every second to notice a loop that ended: a wait on the signal alone would not see it.
    while not stopping.wait(1.0):
        if not all(thread.is_alive() for thread in threads):
            log.error("a loop ended by itself; stopping the others",
                      extra={"fields": {"ended": [t.name for t in threads if not t.is_alive()]}})
            break
    for loop in loops:
        loop.stop()
    # One budget for all of them, inside Kubernetes' 30 s grace period: they stop side by side, not in turn.
    deadline = time.monotonic() + STOP_WITHIN_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    late = [thread.name for thread in threads if thread.is_alive()]
    if late:
        log.warning("loops still running at exit; what they held is handed over again",
                    extra={"fields": {"late": late, "waited_seconds": STOP_WITHIN_SECONDS}})
    return 0 if stopping.is_set() else 1
