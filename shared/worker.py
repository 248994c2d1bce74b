"""Entry point of a service's background processes: `relay` (outbox -> RabbitMQ) and `consume` (events in)."""

from __future__ import annotations

import argparse
import logging

from sqlalchemy import Table

from shared.consumer import EventConsumer
from shared.db import get_engine, session_factory
from shared.logs import configure_logging
from shared.metrics import serve_worker_metrics
from shared.relay import OutboxRelay

log = logging.getLogger(__name__)


def main(argv, *, config, outbox: Table, processed: Table, subscriptions: dict) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m services.{config.service}.worker")
    parser.add_argument("command", choices=["relay", "consume"])
    args = parser.parse_args(argv)
    configure_logging(f"{config.service}-{args.command}", config.log_level)
    serve_worker_metrics()
    if args.command == "relay":
        # No ping per checkout: a connection the database dropped fails one tick, which is retried at the next
        # poll on a fresh connection (the relay closes a connection whose statement failed).
        engine = get_engine(config.database_url, pool_size=2, pool_pre_ping=False)
        OutboxRelay(service=config.service, engine=engine, outbox=outbox, amqp_url=config.amqp_url,
                    exchange=config.events_exchange, linger=config.relay_linger_ms / 1000).run_forever()
        return 0
    if not subscriptions:
        log.info("this service consumes no events")
        return 0
    EventConsumer(service=config.service, session_factory=session_factory(config.database_url),
                  processed=processed, subscriptions=subscriptions, amqp_url=config.amqp_url,
                  exchange=config.events_exchange).run_forever()
    return 0
