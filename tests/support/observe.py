"""What a test waits on instead of a sleep: a consumer's outcome counts, the log lines a component wrote."""

from __future__ import annotations

import logging
import threading

from prometheus_client import REGISTRY

from tests.support.processes import eventually

SETTLED = ("handled", "duplicate", "ignored", "dead_lettered")  # a delivery's last outcome; "retried" comes again


def consumed(service: str, event_type: str, outcome: str) -> float:
    """events_consumed_total of one consumer (its service label), event type and outcome, in this process."""
    value = REGISTRY.get_sample_value("events_consumed_total",
                                      {"service": service, "type": event_type, "outcome": outcome})
    return value or 0.0


def dead_lettered(broker, queue: str, *, timeout: float = 10) -> tuple:
    """The first message in a dead-letter queue, taken off it: (properties, body bytes), once there is one."""
    def taken():
        method, props, body = broker.basic_get(queue, auto_ack=True)
        return (props, body) if method else None
    return eventually(taken, timeout=timeout, message=f"a message in {queue}")


def settled(service: str, event_type: str) -> float:
    """How many deliveries of `event_type` the consumer is done with (each retry chain counts once, at its end)."""
    return sum(consumed(service, event_type, outcome) for outcome in SETTLED)


class LogWatch(logging.Handler):
    """The records a logger (and its children) emits while the watch is attached, from any thread."""

    def __init__(self, logger: str):
        super().__init__(logging.DEBUG)
        self.logger = logging.getLogger(logger)
        self.records: list[logging.LogRecord] = []
        self._lock_records = threading.Lock()

    def __enter__(self) -> LogWatch:
        self.logger.addHandler(self)
        self._level = self.logger.level
        if self.logger.getEffectiveLevel() > logging.DEBUG:
            self.logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *_exc) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock_records:
            self.records.append(record)

    def mark(self) -> int:
        """A point in the log: wait_for(..., after=mark) looks only at what came later."""
        with self._lock_records:
            return len(self.records)

    def wait_for(self, text: str, *, after: int = 0, timeout: float = 15) -> logging.LogRecord:
        def found():
            with self._lock_records:
                later = self.records[after:]
            return next((r for r in later if text in r.getMessage()), None)

        return eventually(found, timeout=timeout, interval=0.02, message=f"log line {text!r}")
