"""The event consumer: one durable quorum queue per service, idempotent handlers, retry with back-off, DLQ.

A handler runs in one transaction together with the processed-event row; the message is acked only
after that commit. A failing handler's message goes to a delay queue (TTL, then back to the main
queue) and, after the last attempt, to the service's dead-letter queue; it is never requeued hot.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable

import pika
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from shared import metrics
from shared.db import unit_of_work
from shared.events import Event
from shared.logs import correlation_id_var, request_id_var

log = logging.getLogger(__name__)

Handler = Callable[[Session, Event], None]
DEFAULT_RETRY_DELAYS = (1, 5, 30, 120, 600)


class PoisonMessage(Exception):
    """A message no retry can fix (not an event at all): it goes straight to the dead-letter queue."""


class EventConsumer:
    def __init__(self, *, service: str, session_factory: sessionmaker[Session], processed: Table,
                 subscriptions: dict[str, Handler], amqp_url: str, exchange: str,
                 retry_delays: tuple[int, ...] = DEFAULT_RETRY_DELAYS, prefetch: int = 50):
        self.service = service
        self.session_factory = session_factory
        self.processed = processed
        self.subscriptions = subscriptions
        self.params = pika.URLParameters(amqp_url)
        self.params.heartbeat = 30
        self.exchange = exchange
        self.retry_exchange = f"{exchange}.retry"
        self.dead_letter_exchange = f"{exchange}.dlx"
        self.queue = f"{service}.events"
        self.dead_letter_queue = f"{service}.events.dlq"
        self.retry_delays = retry_delays
        self.prefetch = prefetch
        self._channel: BlockingChannel | None = None
        self._connection: pika.BlockingConnection | None = None
        self._stopping = False

    # --- topology ----------------------------------------------------------------------------
    def retry_queue(self, delay: int) -> str:
        return f"{self.queue}.retry.{delay}s"

    def declare(self, channel: BlockingChannel) -> None:
        channel.exchange_declare(self.exchange, exchange_type="topic", durable=True)
        channel.exchange_declare(self.retry_exchange, exchange_type="direct", durable=True)
        channel.exchange_declare(self.dead_letter_exchange, exchange_type="direct", durable=True)
        channel.queue_declare(self.queue, durable=True, arguments={"x-queue-type": "quorum"})
        for routing_key in self.subscriptions:
            channel.queue_bind(self.queue, self.exchange, routing_key=routing_key)
        channel.queue_declare(self.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
        channel.queue_bind(self.dead_letter_queue, self.dead_letter_exchange, routing_key=self.queue)
        for delay in self.retry_delays:
            name = self.retry_queue(delay)
            channel.queue_declare(name, durable=True, arguments={
                "x-message-ttl": delay * 1000,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.queue,
            })
            channel.queue_bind(name, self.retry_exchange, routing_key=name)

    # --- handling ----------------------------------------------------------------------------
    def handle(self, body: bytes) -> str:
        """Runs the handler once per event id; answers 'handled', 'duplicate' or 'ignored'."""
        try:
            event = Event.from_json(body)
        except (ValueError, KeyError, TypeError) as exc:
            raise PoisonMessage(str(exc)) from exc
        handler = self.subscriptions.get(event.type)
        if handler is None:
            return "ignored"
        correlation_id_var.set(event.correlation_id)
        request_id_var.set(None)
        with unit_of_work(self.session_factory) as session:
            inserted = session.execute(
                pg_insert(self.processed)
                .values(consumer=self.service, event_id=event.id, event_type=event.type)
                .on_conflict_do_nothing()
                .returning(self.processed.c.event_id)
            ).first()
            if inserted is None:
                return "duplicate"
            handler(session, event)
        return "handled"

    def _on_message(self, channel: BlockingChannel, method, properties, body: bytes) -> None:
        event_type = method.routing_key
        try:
            outcome = self.handle(body)
        except Exception as exc:
            self._retry_or_dead_letter(channel, properties, body, event_type, exc)
            channel.basic_ack(method.delivery_tag)
            return
        metrics.EVENTS_CONSUMED.labels(self.service, event_type, outcome).inc()
        channel.basic_ack(method.delivery_tag)

    def _retry_or_dead_letter(self, channel: BlockingChannel, properties, body: bytes, event_type: str,
                              exc: Exception) -> None:
        headers = dict(properties.headers or {})
        attempt = int(headers.get("x-attempt", 0)) + 1
        headers["x-attempt"] = attempt
        headers["x-last-error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        props = pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent,
                                     message_id=properties.message_id, type=properties.type, headers=headers,
                                     correlation_id=properties.correlation_id)
        if attempt <= len(self.retry_delays) and not isinstance(exc, PoisonMessage):
            delay = self.retry_delays[attempt - 1]
            log.warning("event handling failed; retrying", exc_info=exc,
                        extra={"fields": {"type": event_type, "attempt": attempt, "retry_in_s": delay}})
            channel.basic_publish(self.retry_exchange, self.retry_queue(delay), body, properties=props)
            metrics.EVENTS_CONSUMED.labels(self.service, event_type, "retried").inc()
        else:
            log.error("event dead-lettered", exc_info=exc, extra={"fields": {"type": event_type,
                                                                            "attempt": attempt}})
            channel.basic_publish(self.dead_letter_exchange, self.queue, body, properties=props)
            metrics.EVENTS_DEAD_LETTERED.labels(self.service, event_type).inc()
            metrics.EVENTS_CONSUMED.labels(self.service, event_type, "dead_lettered").inc()

    # --- lifecycle ---------------------------------------------------------------------------
    def connect(self) -> BlockingChannel:
        self._connection = pika.BlockingConnection(self.params)
        channel = self._connection.channel()
        channel.confirm_delivery()  # retry and dead-letter publishes must not be lost
        channel.basic_qos(prefetch_count=self.prefetch)
        self.declare(channel)
        self._channel = channel
        return channel

    def run_forever(self, *, install_signals: bool = True) -> None:
        if install_signals:  # only the main thread of a process may; tests run this in a thread
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
        backoff = 1.0
        while not self._stopping:
            try:
                channel = self.connect()
                backoff = 1.0
                log.info("consumer connected", extra={"fields": {"queue": self.queue,
                                                                 "types": sorted(self.subscriptions)}})
                channel.basic_consume(self.queue, self._on_message)
                while not self._stopping:
                    self._connection.process_data_events(time_limit=1)
            except pika.exceptions.AMQPError as exc:
                log.warning("broker connection lost: %s", type(exc).__name__)
            finally:
                self._close()
            if not self._stopping:
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def stop(self) -> None:
        self._stopping = True

    def _close(self) -> None:
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except Exception:
            log.debug("connection already closed")
        self._connection = None
        self._channel = None
