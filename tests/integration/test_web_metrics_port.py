"""Each service's web metrics come from gunicorn's master on METRICS_PORT (summed over its workers), so Prometheus
never needs the web port, which also serves /internal; the outbox backlog gauge comes from the service's relay,
the process that owns the outbox (a gunicorn master has no app to count it with)."""

from __future__ import annotations

import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, delete, func, insert, select

from tests.support.processes import Process, free_port, gunicorn, python_module, wait_http

pytestmark = pytest.mark.integration

SERVICES = ("identity", "billing", "payments")
REQUESTS = 7


def samples(text: str, name: str, **labels) -> list[float]:
    return [s.value for family in text_string_to_metric_families(text) for s in family.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def service_env(migrated, tmp_path) -> dict[str, str]:
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: no call leaves in these tests
    return {**migrated.env(), "PORTAL_ENV": "test", "INTERNAL_API_KEY": "metrics-internal", "LOG_LEVEL": "WARNING",
            "JWT_PRIVATE_KEY_FILE": str(tmp_path / "jwt.pem"), "IDENTITY_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
            "IDENTITY_URL": nowhere, "JWKS_URL": f"{nowhere}/.well-known/jwks.json", "PAYMENTS_URL": nowhere,
            "BILLING_URL": nowhere, "PROCESSOR_URL": nowhere, "PROCESSOR_API_KEY": "sk_test_metrics"}


@pytest.fixture(scope="module")
def web_processes(migrated, tmp_path_factory):
    """The three services' web processes as `make run` starts them: 2 workers, METRICS_PORT on 127.0.0.1."""
    base = tmp_path_factory.mktemp("web-metrics")
    env = service_env(migrated, base)
    started = {}
    for service in SERVICES:
        port, metrics_port = free_port(), free_port()
        process = Process(f"{service}-web", gunicorn(f"services.{service}.app:create_app()", port), {
            **env, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "2", "METRICS_PORT": str(metrics_port),
            "METRICS_ADDR": "127.0.0.1", "PROMETHEUS_MULTIPROC_DIR": str(base / f"prom-{service}")}, base)
        started[service] = (process.start(), f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}")
    try:
        for process, web, metrics in started.values():
            wait_http(f"{web}/healthz", process, timeout=60)
            wait_http(f"{metrics}/metrics", process)
        yield {service: (web, metrics) for service, (_, web, metrics) in started.items()}
    finally:
        for process, _, _ in started.values():
            process.stop()


@pytest.mark.parametrize("service", SERVICES)
def test_the_master_serves_every_workers_metrics_on_the_metrics_port(web_processes, service):
    web, metrics = web_processes[service]
    labels = {"service": service, "route": "/healthz", "method": "GET", "status": "200"}
    before = sum(samples(requests.get(f"{metrics}/metrics", timeout=10).text, "http_requests_total", **labels))
    for _ in range(REQUESTS):  # a connection each: gunicorn hands them to either worker
        assert requests.get(f"{web}/healthz", timeout=10).status_code == 200
    scraped = requests.get(f"{metrics}/metrics", timeout=10)
    assert scraped.status_code == 200 and scraped.headers["Content-Type"].startswith("text/plain")
    assert sum(samples(scraped.text, "http_requests_total", **labels)) == before + REQUESTS
    # The backlog is the relay's to report (test below); the web process has no outbox gauge left.
    assert samples(scraped.text, "outbox_backlog") == []


@pytest.mark.parametrize("service", SERVICES)
def test_the_web_port_still_answers_metrics_inside_the_namespace(web_processes, service):
    web, _ = web_processes[service]
    answer = requests.get(f"{web}/metrics", timeout=10)
    assert answer.status_code == 200 and samples(answer.text, "http_requests_total", service=service)


@pytest.fixture
def relay(migrated, tmp_path, request):
    """A service's relay with its metrics on a free port and the broker out of reach, so nothing it counts is
    published while the test looks."""
    service = request.param
    metrics_port = free_port()
    env = {**service_env(migrated, tmp_path), "METRICS_PORT": str(metrics_port), "METRICS_ADDR": "127.0.0.1",
           "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"}
    process = Process(f"{service}-relay", python_module(f"services.{service}.worker", "relay"), env, tmp_path).start()
    try:
        wait_http(f"http://127.0.0.1:{metrics_port}/metrics", process)
        yield service, f"http://127.0.0.1:{metrics_port}/metrics", migrated.database_url(service), process
    finally:
        process.stop()


@pytest.mark.parametrize("relay", SERVICES, indirect=True)
def test_the_relay_serves_its_outbox_backlog_counted_at_scrape_time(relay):
    import importlib

    service, metrics, database_url, process = relay
    outbox = importlib.import_module(f"services.{service}.models").outbox
    engine = create_engine(database_url)
    ids = [str(uuid.uuid4()) for _ in range(3)]

    def unpublished() -> int:
        with engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(outbox)
                                .where(outbox.c.published_at.is_(None))).scalar_one()

    def scraped() -> list[float]:
        return samples(requests.get(metrics, timeout=10).text, "outbox_backlog", service=service)

    try:
        before = unpublished()  # rows earlier tests left; nothing publishes while this test runs
        with engine.begin() as conn:
            conn.execute(insert(outbox), [{"id": i, "event_type": "test.metrics", "envelope": {"id": i}} for i in ids])
        assert scraped() == [before + 3], process.tail()
        with engine.begin() as conn:
            conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
        assert scraped() == [before]
        assert process.alive()
    finally:
        with engine.begin() as conn:
            conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
        engine.dispose()
