"""The outbox relay: publishes committed outbox rows to RabbitMQ with batched publisher confirms.

Rows are claimed with FOR UPDATE SKIP LOCKED (several relays may run), published as persistent,
mandatory messages, and their published mark is committed only once the broker has confirmed them. A broker
outage delays events, never loses them; a crash between confirm and commit republishes (consumers dedupe).

A commit's NOTIFY wakes the relay after `linger` (RELAY_LINGER_MS, 10 ms by default, like Kafka's
linger.ms): commits close together leave in one batch, one read and one confirm round for all of them.

At tens of batches a second the relay's overhead per batch is most of what it costs, so a batch is lean: the
claim marks its rows published in the statement that locks and reads them, in a transaction committed only
once the broker has confirmed them all (BEGIN, claim, COMMIT: three round trips); the statements are compiled
once and run on one pooled connection kept between batches; the envelope goes out as the JSON text PostgreSQL
returns, not decoded and encoded again.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass

import pika
import psycopg
from pika.adapters.select_connection import SelectConnection
from sqlalchemy import (
    Integer,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection

from shared import metrics
from shared.events import NOTIFY_CHANNEL

log = logging.getLogger(__name__)
# As long as the engines' pool_recycle: the relay's kept connection is renewed as often as a pooled one.
KEEP_CONNECTION_SECONDS = 1800.0


@dataclass
class _Batch:
    pending: dict[int, tuple[str, str]]  # delivery tag -> (outbox id, event type)
    acked: list[tuple[str, str]]
    nacked: list[tuple[str, str]]
    started: float
    timeout: object = None  # the ioloop timer that gives up on missing confirms
    full: bool = False  # the batch took batch_size rows: more may be waiting
    notified: bool = False  # a commit was notified while the batch was out: its rows may not be in it


def _outbox_statements(outbox: Table, engine: Engine, batch_size: int) -> tuple[str, str, str]:
    """The claim and its two corrections as SQL for the driver, compiled once: a batch runs no SQLAlchemy
    statement construction, compilation or result processing, and psycopg prepares them after a few uses.

    The claim (UPDATE ... RETURNING) marks the rows published and counts the attempt in the statement that locks
    and reads them; its transaction stays open until the broker has confirmed the batch. Rows the broker refused
    (the attempt still counts), or never confirmed (as if never claimed), are set back before the commit; a relay
    that dies before it leaves every row as it was, as the rollback undoes the claim."""
    c = outbox.c
    waiting = (select(c.seq).where(c.published_at.is_(None)).order_by(c.seq).limit(batch_size)
               .with_for_update(skip_locked=True))
    claimed = (update(outbox).where(c.seq.in_(waiting.scalar_subquery()))
               .values(published_at=func.now(), attempts=c.attempts + literal_column("1", Integer))
               .returning(c.seq, c.id, c.event_type, cast(c.envelope, Text).label("body"),
                          c.envelope.op("->>", return_type=Text)(literal_column("'correlation_id'"))
                          .label("correlation_id"), c.headers)
               .cte("claimed"))
    claim = select(claimed.c.id, claimed.c.event_type, claimed.c.body, claimed.c.correlation_id,
                   claimed.c.headers).order_by(claimed.c.seq)  # RETURNING has no order of its own
    ids = any_(bindparam("ids", type_=ARRAY(String)))
    refused = update(outbox).where(c.id == ids).values(published_at=null())  # the attempt still counts
    unconfirmed = (update(outbox).where(c.id == ids)
                   .values(published_at=null(), attempts=c.attempts - literal_column("1", Integer)))
    return (str(claim.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})),
            str(refused.compile(dialect=engine.dialect)), str(unconfirmed.compile(dialect=engine.dialect)))


class OutboxRelay:
    def __init__(self, *, service: str, engine: Engine, outbox: Table, amqp_url: str, exchange: str,
                 batch_size: int = 500, poll_interval: float = 1.0, confirm_timeout: float = 30.0,
                 linger: float = 0.0):
        self.service = service
        self.engine = engine
        self.outbox = outbox
        self.params = pika.URLParameters(amqp_url)
        self.params.heartbeat = 30
        self.exchange = exchange
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.confirm_timeout = confirm_timeout
        self.linger = linger
        self._connection: SelectConnection | None = None
        self._channel = None
        self._batch: _Batch | None = None
        self._next_tag = 0
        self._tick_scheduled = False
        self._tick_due = 0.0
        self._tick_timer = None
        self._listen: psycopg.Connection | None = None
        self._db: PoolProxiedConnection | None = None  # checked out of the engine's pool between batches
        self._db_since = 0.0
        self._claim_sql, self._refused_sql, self._unconfirmed_sql = _outbox_statements(outbox, engine, batch_size)
        self._published_counters: dict[str, object] = {}
        self._stopping = False
        self._backoff = 1.0

    # --- lifecycle ---------------------------------------------------------------------------
    def run_forever(self, *, install_signals: bool = True) -> None:
        if install_signals:  # only the main thread of a process may; tests run this in a thread
            signal.signal(signal.SIGTERM, lambda *_: self.stop())
            signal.signal(signal.SIGINT, lambda *_: self.stop())
        try:
            while not self._stopping:
                self._tick_scheduled = False  # a tick scheduled on a dead connection's ioloop never runs
                try:
                    self._connection = SelectConnection(
                        self.params, on_open_callback=self._on_connection_open,
                        on_open_error_callback=self._on_connection_error,
                        on_close_callback=self._on_connection_closed)
                    self._connection.ioloop.start()
                except Exception:
                    log.exception("relay loop failed")
                self._abandon_batch()
                self._close_listen()
                if not self._stopping:
                    log.warning("broker unavailable; retrying", extra={"fields": {"in_seconds": self._backoff}})
                    time.sleep(self._backoff)
                    self._backoff = min(self._backoff * 2, 30.0)
        finally:
            self._release_database()

    def stop(self) -> None:
        self._stopping = True
        if self._connection is not None and self._connection.is_open:
            self._connection.ioloop.add_callback_threadsafe(self._connection.close)
        elif self._connection is not None:
            self._connection.ioloop.add_callback_threadsafe(self._connection.ioloop.stop)

    def _on_connection_open(self, connection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_connection_error(self, connection, error) -> None:
        log.warning("cannot reach the broker: %s", type(error).__name__)
        connection.ioloop.stop()

    def _on_connection_closed(self, connection, reason) -> None:
        self._channel = None
        connection.ioloop.stop()

    def _on_channel_open(self, channel) -> None:
        self._channel = channel
        self._next_tag = 0
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_return)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._declare())

    def _declare(self) -> None:
        self._channel.exchange_declare(self.exchange, exchange_type="topic", durable=True,
                                       callback=lambda _frame: self._ready())

    def _ready(self) -> None:
        self._backoff = 1.0
        log.info("relay connected", extra={"fields": {"exchange": self.exchange}})
        self._open_listen()
        self._schedule(0)

    def _on_channel_closed(self, channel, reason) -> None:
        log.warning("channel closed: %s", reason)
        self._channel = None
        if self._connection is not None and self._connection.is_open:
            self._connection.close()

    # --- waking up: LISTEN/NOTIFY, with a slow poll as a safety net ---------------------------
    def _open_listen(self) -> None:
        try:
            dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._listen = psycopg.connect(dsn, autocommit=True)
            self._listen.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self._connection.ioloop.add_handler(self._listen.pgconn.socket, self._on_notify,
                                                self._connection.ioloop.READ)
        except Exception:
            log.warning("LISTEN unavailable; polling only", exc_info=True)
            self._close_listen()

    def _close_listen(self) -> None:
        if self._listen is not None:
            try:
                if self._connection is not None:
                    self._connection.ioloop.remove_handler(self._listen.pgconn.socket)
            except Exception:  # already gone with the ioloop
                log.debug("listen handler already removed")
            try:
                self._listen.close()
            except Exception:
                log.debug("listen connection already closed")
            self._listen = None

    def _on_notify(self, _fd, _events) -> None:
        pgconn = self._listen.pgconn
        pgconn.consume_input()
        while pgconn.notifies() is not None:
            pass
        if self._batch is None:
            self._schedule(self.linger)
        else:
            self._batch.notified = True

    def _schedule(self, delay: float) -> None:
        """At most one tick pending; a sooner one (a notification) replaces a later one (the safety poll)."""
        if self._connection is None:
            return
        due = time.monotonic() + delay
        if self._tick_scheduled:
            if due >= self._tick_due:
                return
            self._connection.ioloop.remove_timeout(self._tick_timer)
        self._tick_scheduled = True
        self._tick_due = due
        self._tick_timer = self._connection.ioloop.call_later(delay, self._tick)

    # --- the outbox's connection ---------------------------------------------------------------
    def _database(self) -> psycopg.Connection:
        """The connection kept between batches (not checked out per batch), handed back to the pool and taken
        again after KEEP_CONNECTION_SECONDS, so the pool's recycle still renews it."""
        if self._db is not None and time.monotonic() - self._db_since > KEEP_CONNECTION_SECONDS:
            self._release_database()
        if self._db is None:
            self._db = self.engine.raw_connection()
            self._db_since = time.monotonic()
        return self._db.driver_connection

    def _discard_database(self, exc: BaseException) -> None:
        """After a failed statement: the connection is closed for real (a dropped one as much as one left in
        an unknown state), and the next tick takes a fresh one from the pool."""
        db, self._db = self._db, None
        if db is not None:
            try:
                db.invalidate(exc)
            except Exception:
                log.debug("outbox connection already gone")

    def _release_database(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()  # back to the pool, which rolls back anything left open
            except Exception:
                log.debug("outbox connection already gone")

    # --- publishing --------------------------------------------------------------------------
    def _tick(self) -> None:
        self._tick_scheduled = False
        if self._batch is not None or self._channel is None or self._stopping:
            return
        try:
            db = self._database()
            rows = db.execute(self._claim_sql).fetchall()
            if not rows:
                db.rollback()  # nothing claimed, nothing locked
        except Exception as exc:
            self._discard_database(exc)
            log.exception("cannot read the outbox")
            self._schedule(self.poll_interval)
            return
        if not rows:
            self._schedule(self.poll_interval)
            return
        # Every claimed row is pending until the broker confirms it, from before its publish: should a publish
        # fail halfway, the rows not sent are set back with the unconfirmed ones (the claim marked them all).
        first = self._next_tag + 1
        self._next_tag += len(rows)
        batch = self._batch = _Batch(pending={tag: (row[0], row[1]) for tag, row in enumerate(rows, first)},
                                     acked=[], nacked=[], started=time.monotonic(), full=len(rows) >= self.batch_size)
        publish, exchange, service = self._channel.basic_publish, self.exchange, self.service
        persistent, now = pika.DeliveryMode.Persistent, int(time.time())
        for outbox_id, event_type, body, correlation_id, headers in rows:
            properties = pika.BasicProperties(
                content_type="application/json", delivery_mode=persistent, message_id=outbox_id, type=event_type,
                app_id=service, headers=headers or {}, correlation_id=correlation_id, timestamp=now)
            publish(exchange, event_type, body.encode(), properties=properties, mandatory=True)
        batch.timeout = self._connection.ioloop.call_later(self.confirm_timeout, self._check_timeout)

    def _on_confirm(self, frame) -> None:
        batch = self._batch
        if batch is None:
            return
        method = frame.method
        tags = [t for t in batch.pending if t <= method.delivery_tag] if method.multiple else [method.delivery_tag]
        target = batch.acked if isinstance(method, pika.spec.Basic.Ack) else batch.nacked
        for tag in tags:
            item = batch.pending.pop(tag, None)
            if item is not None:
                target.append(item)
        if not batch.pending:
            self._finish_batch()

    def _mark(self, batch: _Batch) -> None:
        """Confirmed rows become published; refused ones count an attempt; unconfirmed ones stay as they were.

        The claim marked them all published (and counted the attempt) in the transaction still open: the
        exceptions are set back, and the commit makes the rest published."""
        try:
            db = self._database()  # the claim's: a batch is out only while its connection is kept
            if batch.nacked:
                db.execute(self._refused_sql, {"ids": [i for i, _ in batch.nacked]})
            if batch.pending:
                db.execute(self._unconfirmed_sql, {"ids": [i for i, _ in batch.pending.values()]})
            db.commit()
        except Exception as exc:
            self._discard_database(exc)
            log.exception("cannot mark outbox rows; they will be published again")
        counters = self._published_counters  # confirmed by the broker, whatever became of the mark
        for _, event_type in batch.acked:
            counter = counters.get(event_type)
            if counter is None:
                counter = counters[event_type] = metrics.EVENTS_PUBLISHED.labels(self.service, event_type)
            counter.inc()

    def _finish_batch(self) -> None:
        batch, self._batch = self._batch, None
        if batch.timeout is not None and self._connection is not None:
            self._connection.ioloop.remove_timeout(batch.timeout)
        self._mark(batch)
        if batch.nacked:
            log.warning("broker refused events", extra={"fields": {"count": len(batch.nacked)}})
            self._schedule(self._backoff)
            self._backoff = min(self._backoff * 2, 30.0)
        elif batch.full or self._listen is None:
            self._schedule(0)
        elif batch.notified:
            self._schedule(self.linger)
        else:
            # Drained as of this batch's read, and nothing committed since (every commit notifies): no
            # empty read of the outbox now; the next notification, or the safety poll, wakes the relay.
            self._schedule(self.poll_interval)

    def _check_timeout(self) -> None:
        batch = self._batch
        if batch is not None and time.monotonic() - batch.started >= self.confirm_timeout:
            log.warning("no confirms from the broker in time; reconnecting")
            if self._connection is not None and self._connection.is_open:
                self._connection.close()

    def _abandon_batch(self) -> None:
        batch, self._batch = self._batch, None
        if batch is not None:
            self._mark(batch)

    def _on_return(self, channel, method, properties, body) -> None:
        # Nobody is bound for this type yet (payment.attempted until messaging subscribes, say): the broker
        # still confirms it. Counted for operators; a log line per event would be noise on a hot type.
        metrics.EVENTS_UNROUTED.labels(self.service, method.routing_key).inc()
        log.debug("event had no subscriber", extra={"fields": {"type": method.routing_key}})
