"""The event consumer: one durable quorum queue per service, idempotent handlers, retry with back-off, DLQ.

A handler runs in one transaction together with the processed-event row; the message is acked only
after that commit. A failing handler's message goes to a delay queue (TTL, then back to the main
queue) and, after the last attempt, to the service's dead-letter queue; it is never requeued hot.

Messages the broker has already delivered are handled as one batch: one transaction with one
processed-event INSERT for all of them, the handlers in delivery order, one commit, one ack. The
consumer never waits to fill a batch; a single message in hand takes the per-message path. If anything
in a batch fails, the batch is rolled back and its messages go through the per-message path one by
one, so only the failing message is retried.

A handler receives the event with its payload loaded by the catalogue's contract for its type and version
(shared.contracts): the same keys and JSON values, checked. A message that is no event, of a type the catalogue
does not know, of a version it does not know, or whose payload its schema refuses, is poison: no retry can fix it,
so it goes straight to the dead-letter queue with the reason in its `x-dead-letter-reason` header (DEAD_LETTER_
REASONS) and what is wrong, field by field but never a value, in `x-last-error`.

What a transaction costs besides its handlers is kept small: the processed-event INSERT is one statement for
any number of events, compiled once and sent to the driver as it is; metric children are looked up once. An
idle consumer sleeps until a delivery comes or stop() wakes it.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import pika
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import String, Table, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from shared import metrics
from shared.contracts import CATALOGUE, Catalogue, EventContractError, unchecked
from shared.db import unit_of_work
from shared.events import Event
from shared.logs import correlation_id_var, exception_line, request_id_var

log = logging.getLogger(__name__)

# A handler names its payload's TypedDict (`event: Event[PaymentSucceeded]`); the consumer has loaded it so.
Handler = Callable[[Session, Event[Any]], None]
DEFAULT_RETRY_DELAYS = (1, 5, 30, 120, 600)
# The run loop sleeps until a delivery comes or stop() wakes it: no wake-up a second while idle. This is only
# the longest it waits should a wake-up ever be missed.
IDLE_WAIT_SECONDS = 30


DEAD_LETTER_REASON_HEADER = "x-dead-letter-reason"
# Why a message is in the dead-letter queue: the header's values.
DEAD_LETTER_REASONS = {
    "not_an_event": "the body is no event envelope (not JSON, not an object, a member missing)",
    "unknown_type": "no event of this type is in the catalogue",
    "unknown_version": "the catalogue has this type, not this version of it",
    "invalid_payload": "the payload does not match its contract's schema",
    "retries_exhausted": "the handler failed on every attempt",
}


# The type a retried message had when it first came: a delay queue dead-letters it back with the main queue's name
# as its routing key, so without this its metrics would count it under "<service>.events".
EVENT_TYPE_HEADER = "x-event-type"


def _event_type(method, properties) -> str:
    return (properties.headers or {}).get(EVENT_TYPE_HEADER) or method.routing_key


class PoisonMessage(Exception):
    """A message no retry can fix (no event, or not one the catalogue allows): it goes straight to the
    dead-letter queue, `reason` (a DEAD_LETTER_REASONS key) in its header."""

    def __init__(self, message: str, reason: str = "not_an_event"):
        super().__init__(message)
        self.reason = reason


def _claim_statement(processed: Table):
    """Inserts the processed-event rows of a list of events, answering the ids that were new: one statement
    for one event or fifty (arrays as parameters), compiled once and prepared by psycopg, instead of a
    multi-row VALUES built and compiled afresh for every batch."""
    rows = (func.unnest(bindparam("event_ids", type_=ARRAY(String)), bindparam("event_types", type_=ARRAY(String)))
            .table_valued("event_id", "event_type").render_derived("events"))
    return (pg_insert(processed)
            .from_select(["consumer", "event_id", "event_type"],
                         select(bindparam("consumer", type_=String), rows.c.event_id, rows.c.event_type))
            .on_conflict_do_nothing()
            .returning(processed.c.event_id))


class Delivery(NamedTuple):
    """A message as pika delivered it, kept until the run loop handles it."""
    method: pika.spec.Basic.Deliver
    properties: pika.BasicProperties
    body: bytes


class EventConsumer:
    def __init__(self, *, service: str, session_factory: sessionmaker[Session], processed: Table,
                 subscriptions: dict[str, Handler], amqp_url: str, exchange: str,
                 retry_delays: tuple[int, ...] = DEFAULT_RETRY_DELAYS, prefetch: int = 50,
                 batch_size: int | None = None, catalogue: Catalogue = CATALOGUE):
        self.service = service
        self.catalogue = catalogue
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
        # More than the prefetch is never in hand; 1 turns batching off. A batch keeps the connection's I/O
        # (heartbeats included) waiting until its commit, which this cap keeps short.
        self.batch_size = max(1, min(batch_size or prefetch, prefetch))
        self._in_hand: list[Delivery] = []  # delivered by pika, not yet handled, in delivery order
        self._claim_sql: str | None = None  # _claim_statement(processed) for the session's dialect
        self._consumed: dict[tuple[str, str], object] = {}  # (type, outcome) -> its events_consumed_total child
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
        """Runs the handler once per event id; answers 'handled', 'duplicate' or 'ignored'. PoisonMessage for a
        message no retry can fix."""
        event, handler = self._event(body)
        if handler is None:
            return "ignored"
        correlation_id_var.set(event.correlation_id)
        request_id_var.set(None)
        with unit_of_work(self.session_factory) as session:
            if not self._claim(session, [event]):
                return "duplicate"
            handler(session, event)
        return "handled"

    def handle_batch(self, bodies: Sequence[bytes]) -> list[str]:
        """handle() for several messages in one transaction: each handler runs once per event id, in the
        order given. Answers one outcome per body: 'handled', 'duplicate', 'ignored', or 'poison' for a
        body that is no event (it takes no part; the caller dead-letters it). On any exception the whole
        batch is rolled back and the exception raised: none of it happened."""
        outcomes: list[str] = []
        todo: list[tuple[int, Event]] = []  # (position, event) of the first copy of each id with a handler
        seen: set[str] = set()
        for body in bodies:
            try:
                event, handler = self._event(body)
            except PoisonMessage:
                outcomes.append("poison")
                continue
            if handler is None:
                outcomes.append("ignored")
            elif event.id in seen:
                outcomes.append("duplicate")  # the same event twice in one batch: the broker redelivered it
            else:
                seen.add(event.id)
                todo.append((len(outcomes), event))
                outcomes.append("handled")  # unless the processed-event row says otherwise, below
        if not todo:
            return outcomes
        with unit_of_work(self.session_factory) as session:
            new = self._claim(session, [e for _, e in todo])
            for position, event in todo:
                if event.id not in new:
                    outcomes[position] = "duplicate"
                    continue
                if session.new or session.identity_map:
                    # Each handler starts from an empty identity map, as in a transaction of its own: no
                    # ORM object an earlier handler loaded (and maybe a plain UPDATE changed since) is reused.
                    # (Dirty and deleted objects are in the identity map; a handler of plain DML leaves none.)
                    session.flush()
                    session.expunge_all()
                correlation_id_var.set(event.correlation_id)
                request_id_var.set(None)
                self.subscriptions[event.type](session, event)
        return outcomes

    def _claim(self, session: Session, events: Sequence[Event]) -> set[str]:
        """Inserts the events' processed-event rows in the session's transaction; answers the ids that were new
        (the others were handled before).

        The SQL, compiled once, goes straight to the driver on the session's connection: SQLAlchemy's execution
        context and result set-up (built afresh for each statement run as text) cost more than the statement.
        A connection the database dropped is invalidated here (that one only: the pool pings any connection
        idle for over a second), so the rollback that
        follows is no error of its own and the next transaction takes a fresh connection."""
        connection = session.connection()
        if self._claim_sql is None:
            self._claim_sql = str(_claim_statement(self.processed).compile(dialect=connection.dialect))
        driver = connection.connection.driver_connection
        try:
            cursor = driver.execute(self._claim_sql, {"consumer": self.service, "event_ids": [e.id for e in events],
                                                      "event_types": [e.type for e in events]})
            return {row[0] for row in cursor}
        except Exception as exc:
            if driver.closed:
                connection.invalidate(exc)
            raise

    @staticmethod
    def _parse(body: bytes) -> Event:
        try:
            return Event.from_json(body)
        except (ValueError, KeyError, TypeError) as exc:
            raise PoisonMessage(str(exc)) from exc

    def _event(self, body: bytes) -> tuple[Event, Handler | None]:
        """The event, its payload loaded by its contract, and the handler subscribed to it (None: not ours, or
        an unchecked test type nobody here handles). PoisonMessage when no retry can make it an event the
        catalogue allows."""
        event = self._parse(body)
        handler = self.subscriptions.get(event.type)
        try:
            if handler is None:
                if event.type not in self.catalogue and not unchecked(event.type):
                    self.catalogue.get(event.type, event.version)  # raises: unknown type
                return event, None
            payload = self.catalogue.load_incoming(event.type, event.version, event.payload)
        except EventContractError as exc:
            raise PoisonMessage(str(exc), reason=exc.reason) from None
        return (event if payload is event.payload else dataclasses.replace(event, payload=payload)), handler


    def _on_delivery(self, _channel: BlockingChannel, method, properties, body: bytes) -> None:
        # pika calls this, inside process_data_events, for every message it has received so far; they are
        # handled together once it returns (_handle_in_hand).
        self._in_hand.append(Delivery(method, properties, body))

    def _handle_in_hand(self, channel: BlockingChannel) -> None:
        """Handles what pika has delivered, oldest first, in batches of at most batch_size.

        Every batch is settled (acked, after its commit or its messages' retry/dead-letter publishes) before
        the next is looked at, so when a batch is acked, every earlier delivery on the channel already is."""
        while self._in_hand:
            batch = self._in_hand[:self.batch_size]
            del self._in_hand[:self.batch_size]
            if len(batch) == 1:
                self._on_message(channel, *batch[0])  # exactly today's path and cost
            else:
                self._on_messages(channel, batch)

    def _on_message(self, channel: BlockingChannel, method, properties, body: bytes) -> None:
        event_type = _event_type(method, properties)
        try:
            outcome = self.handle(body)
        except Exception as exc:
            self._retry_or_dead_letter(channel, properties, body, event_type, exc)
            channel.basic_ack(method.delivery_tag)
            return
        self._count(event_type, outcome)
        channel.basic_ack(method.delivery_tag)

    def _count(self, event_type: str, outcome: str) -> None:
        counter = self._consumed.get((event_type, outcome))
        if counter is None:
            counter = self._consumed[(event_type, outcome)] = metrics.EVENTS_CONSUMED.labels(
                self.service, event_type, outcome)
        counter.inc()

    def _on_messages(self, channel: BlockingChannel, batch: list[Delivery]) -> None:
        try:
            outcomes = self.handle_batch([delivery.body for delivery in batch])
        except Exception as exc:
            # A failing handler, a deadlock with another replica, a lost database: the batch was rolled
            # back whole. One by one, each message gets its own try, and only the failing one is retried.
            log.info("event batch rolled back; handling its events one by one",
                     extra={"fields": {"size": len(batch), "error": exception_line(exc)}})
            for delivery in batch:
                self._on_message(channel, *delivery)
            return
        for delivery, outcome in zip(batch, outcomes, strict=True):
            event_type = _event_type(delivery.method, delivery.properties)
            if outcome == "poison":
                try:
                    self._event(delivery.body)  # again, for the reason (poison is rare)
                except PoisonMessage as exc:
                    self._retry_or_dead_letter(channel, delivery.properties, delivery.body, event_type, exc)
            else:
                self._count(event_type, outcome)
        tags = [delivery.method.delivery_tag for delivery in batch]
        if tags == list(range(tags[0], tags[-1] + 1)):
            # `multiple` acks every unacked delivery up to the last tag: only this batch's, as the
            # earlier ones are settled and the ones received since have higher tags.
            channel.basic_ack(tags[-1], multiple=True)
        else:  # a gap means a delivery that is not ours to ack (never seen with one consumer per channel)
            for tag in tags:
                channel.basic_ack(tag)

    def _retry_or_dead_letter(self, channel: BlockingChannel, properties, body: bytes, event_type: str,
                              exc: Exception) -> None:
        headers = dict(properties.headers or {})
        attempt = int(headers.get("x-attempt", 0)) + 1
        headers["x-attempt"] = attempt
        headers["x-last-error"] = exception_line(exc)  # kept by RabbitMQ with the message: no values
        headers[EVENT_TYPE_HEADER] = event_type  # back from a delay queue, its routing key is the queue's name
        poison = isinstance(exc, PoisonMessage)
        dead = poison or attempt > len(self.retry_delays)
        if dead:
            headers[DEAD_LETTER_REASON_HEADER] = exc.reason if poison else "retries_exhausted"
        props = pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent,
                                     message_id=properties.message_id, type=properties.type, headers=headers,
                                     correlation_id=properties.correlation_id)
        if not dead:
            delay = self.retry_delays[attempt - 1]
            log.warning("event handling failed; retrying", exc_info=exc,
                        extra={"fields": {"type": event_type, "attempt": attempt, "retry_in_s": delay}})
            channel.basic_publish(self.retry_exchange, self.retry_queue(delay), body, properties=props)
            self._count(event_type, "retried")
        else:
            # Poison needs no traceback: its reason and error line say it all (field names, never values).
            log.error("event dead-lettered", exc_info=None if poison else exc,
                      extra={"fields": {"type": event_type, "attempt": attempt,
                                        "reason": headers[DEAD_LETTER_REASON_HEADER],
                                        "error": headers["x-last-error"]}})
            channel.basic_publish(self.dead_letter_exchange, self.queue, body, properties=props)
            metrics.EVENTS_DEAD_LETTERED.labels(self.service, event_type).inc()
            self._count(event_type, "dead_lettered")

    # --- lifecycle ---------------------------------------------------------------------------
    def connect(self) -> BlockingChannel:
        self._connection = pika.BlockingConnection(self.params)
        channel = self._connection.channel()
        channel.confirm_delivery()  # retry and dead-letter publishes must not be lost
        channel.basic_qos(prefetch_count=self.prefetch)
        self.declare(channel)
        self._in_hand = []  # a lost channel's unacked messages come again, on the new one
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
                channel.basic_consume(self.queue, self._on_delivery)
                while not self._stopping:
                    # Returns as soon as deliveries are pending (never waiting for more), after passing
                    # every message received so far to _on_delivery; or when stop() wakes it.
                    self._connection.process_data_events(time_limit=IDLE_WAIT_SECONDS)
                    self._handle_in_hand(channel)
            except pika.exceptions.AMQPError as exc:
                log.warning("broker connection lost: %s", type(exc).__name__)
            finally:
                self._close()
            if not self._stopping:
                time.sleep(backoff)
                backoff = min(backoff * 2, 30.0)

    def stop(self) -> None:
        """Stops once the batch in hand is settled; from a signal handler or from any thread."""
        self._stopping = True
        # Wakes the run loop from a thread of its own: a signal handler runs in the loop's thread, maybe while
        # it holds the pika lock that add_callback_threadsafe takes.
        threading.Thread(target=self._wake, name="consumer-stop", daemon=True).start()

    def _wake(self) -> None:
        connection = self._connection
        if connection is not None:
            try:
                connection.add_callback_threadsafe(lambda: None)  # process_data_events returns to run it
            except Exception:  # closed or closing: the loop is ending anyway
                log.debug("no connection to wake")

    def _close(self) -> None:
        try:
            if self._connection is not None and self._connection.is_open:
                self._connection.close()
        except Exception:
            log.debug("connection already closed")
        self._connection = None
        self._channel = None
