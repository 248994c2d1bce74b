"""Entry point of a service's background processes: `relay` (outbox -> RabbitMQ) and `consume` (events in)."""

from __future__ import annotations

import argparse
import logging
import os

from prometheus_client import start_http_server
from sqlalchemy import Table

from shared import metrics
from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.logs import configure_logging
from shared.outbox_metrics import OutboxBacklogCollector
from shared.relay import OutboxRelay

log = logging.getLogger(__name__)


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


def main(argv, *, config, outbox: Table, processed: Table, subscriptions: dict) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m services.{config.service}.worker")
    parser.add_argument("command", choices=["relay", "consume"])
    args = parser.parse_args(argv)
    configure_logging(f"{config.service}-{args.command}", config.log_level)
    if args.command == "relay":
        # No ping per checkout: a connection the database dropped fails one tick, which is retried at the next
        # poll on a fresh connection (the relay closes a connection whose statement failed).
        engine = get_engine(config.database_url, pool_size=2, pool_pre_ping=False)
        # The relay owns the outbox, so it reports the backlog (a scrape takes the pool's second connection).
        serve_metrics(OutboxBacklogCollector(config.service, engine, outbox))
        OutboxRelay(service=config.service, engine=engine, outbox=outbox, amqp_url=config.amqp_url,
                    exchange=config.events_exchange, linger=config.relay_linger_ms / 1000).run_forever()
        return 0
    serve_metrics()
    if not subscriptions:
        log.info("this service consumes no events")
        return 0
    EventConsumer(service=config.service, session_factory=session_factory(config.database_url),
                  processed=processed, subscriptions=subscriptions, amqp_url=config.amqp_url,
                  exchange=config.events_exchange).run_forever()
    return 0
