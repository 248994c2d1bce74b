"""Prometheus metrics that add up across gunicorn workers (multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set)."""

from __future__ import annotations

import os

# prometheus-client switches to multiprocess mode when the variable merely exists; an empty value
# would scatter its files into the working directory. Empty means unset.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR") == "":
    del os.environ["PROMETHEUS_MULTIPROC_DIR"]

from prometheus_client import (  # noqa: E402
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("events_published_total", "Events confirmed by the broker", ["service", "type"])
EVENTS_UNROUTED = Counter("events_unrouted_total", "Events published while no queue was bound for their type",
                          ["service", "type"])
EVENTS_CONSUMED = Counter(
    "events_consumed_total", "Events handled by a consumer", ["service", "type", "outcome"]
)
EVENTS_DEAD_LETTERED = Counter(
    "events_dead_lettered_total", "Events given up on and sent to the dead-letter queue", ["service", "type"]
)
UPSTREAM_ERRORS = Counter("gateway_upstream_errors_total", "Upstream failures seen by the gateway",
                          ["upstream", "kind"])


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    from prometheus_client import REGISTRY

    return REGISTRY


def exposition() -> tuple[bytes, str]:
    return generate_latest(registry()), CONTENT_TYPE_LATEST
