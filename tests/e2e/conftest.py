"""The stack as real processes (gateway, identity, scheduling, messaging, billing, payments with their events
processes and workers, an SMTP sink, the sandbox processor), through the gateway."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.processes import BIN, Process, free_port, gunicorn, python_module, wait_http

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "admin@e2e.example"
ADMIN_PASSWORD = "End to end admin passphrase 3!"


@dataclass
class Stack:
    gateway: str
    identity: str
    mail_dir: Path
    processes: dict[str, Process]
    env: dict[str, str]
    processor: str = ""

    @property
    def api(self) -> str:
        return f"{self.gateway}/api/v1"

    def mails_to(self, address: str) -> list[email.message.EmailMessage]:
        found = []
        for path in sorted(self.mail_dir.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                found.append(message)
        return found


@pytest.fixture(scope="session")
def e2e_infra(infra):
    """The stack's own databases and vhost: its relays and consumers run for the whole session and must
    never see (or publish) the integration tier's rows."""
    from shared.manage import services_with_migrations
    from shared.migrations import drop_database, upgrade
    from tests.support import infra as infra_mod

    own = infra_mod.Infra(pg_base_url=infra.pg_base_url, amqp_base_url=infra.amqp_base_url,
                          run_id=f"{infra.run_id}e2e")
    vhost = f"portal-test-{own.run_id}"
    if infra_mod.create_vhost(vhost):
        own.vhost = vhost
    for service in services_with_migrations():
        upgrade(service, own.database_url(service))
    yield own
    for service in services_with_migrations():
        drop_database(own.database_url(service))
    if own.vhost:
        infra_mod.delete_vhost(own.vhost)


@pytest.fixture(scope="session")
def stack(e2e_infra, tmp_path_factory):
    migrated = e2e_infra
    base = tmp_path_factory.mktemp("stack")
    mail_dir, logs, keys = base / "mail", base / "logs", base / "keys"
    for d in (mail_dir, logs, keys):
        d.mkdir()
    ports = {name: free_port() for name in ("gateway", "identity", "smtp", "scheduling", "messaging", "billing",
                                                 "payments", "sandbox")}
    identity_url = f"http://127.0.0.1:{ports['identity']}"
    gateway_url = f"http://127.0.0.1:{ports['gateway']}"
    env = {
        **migrated.env(),
        "IDENTITY_URL": identity_url,
        "JWKS_URL": f"{identity_url}/.well-known/jwks.json",
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(ports["smtp"]),
        "PORTAL_BASE_URL": gateway_url,
        "JWT_PRIVATE_KEY_FILE": str(keys / "jwt.pem"), "IDENTITY_SECRET_KEY_FILE": str(keys / "secret.key"),
        "PORTAL_ADMIN_EMAIL": ADMIN_EMAIL, "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4", "LOG_LEVEL": "INFO",
        "UPSTREAM_READ_TIMEOUT_MS": "15000",
        "SCHEDULING_URL": f"http://127.0.0.1:{ports['scheduling']}",
        "MESSAGING_URL": f"http://127.0.0.1:{ports['messaging']}", "MAIL_TICK_SECONDS": "1",
        "BILLING_URL": f"http://127.0.0.1:{ports['billing']}", "PAYMENTS_URL": f"http://127.0.0.1:{ports['payments']}",
        "PROCESSOR_URL": f"http://127.0.0.1:{ports['sandbox']}", "PROCESSOR_API_KEY": "sk_test_e2e",
        "SANDBOX_API_KEY": "sk_test_e2e", "SANDBOX_DATABASE_PATH": str(base / "sandbox.sqlite3"),
        "INTERNAL_API_KEY": "e2e-internal", "PORTAL_ENV": "test",
        # the web: this run's own browser sessions in Redis, and the processor's hosted card fields
        "WEB_SESSION_PREFIX": f"portal:test:{migrated.run_id}:", "PROCESSOR_PUBLIC_URL": f"http://127.0.0.1:{ports['sandbox']}",
    }
    Process("create-admin", python_module("services.identity.cli", "create-admin"), env, logs).start().popen.wait(60)
    processes = {
        "smtp": Process("smtp", python_module("shared.smtp_sink", "--port", str(ports["smtp"]), "--dir",
                                              str(mail_dir)), env, logs),
        "identity": Process("identity", gunicorn("services.identity.app:create_app()", ports["identity"]),
                            {**env, "PROMETHEUS_MULTIPROC_DIR": str(base / "prom-identity")}, logs),
        # each service's events process, as make run and the manifests start it (its relay and its consumer)
        "identity-events": Process("identity-events", python_module("services.identity.worker", "events"), env,
                                   logs),
        "identity-tasks": Process("identity-tasks", [str(BIN / "celery"), "-A", "services.identity.tasks", "worker",
                                                     "-n", "identity-e2e@%h",
                                                     "-Q", "identity", "--pool=threads", "--concurrency=2",
                                                     "--loglevel=INFO"], env, logs),
        "scheduling": Process("scheduling", gunicorn("services.scheduling.app:create_app()", ports["scheduling"]),
                              {**env, "PROMETHEUS_MULTIPROC_DIR": str(base / "prom-scheduling")}, logs),
        "scheduling-events": Process("scheduling-events", python_module("services.scheduling.worker", "events"), env,
                                     logs),
        "messaging": Process("messaging", gunicorn("services.messaging.app:create_app()", ports["messaging"]),
                             {**env, "PROMETHEUS_MULTIPROC_DIR": str(base / "prom-messaging")}, logs),
        "messaging-events": Process("messaging-events", python_module("services.messaging.worker", "events"), env,
                                    logs),
        # the mail beat (every second here) and its worker, as make run starts them (-B)
        "messaging-tasks": Process("messaging-tasks", [str(BIN / "celery"), "-A", "services.messaging.tasks", "worker",
                                                       "-n", "messaging-e2e@%h", "-B", "--schedule",
                                                       str(base / "celerybeat-messaging"), "-Q", "messaging",
                                                       "--pool=threads", "--concurrency=1", "--loglevel=INFO"], env,
                                   logs),
        "billing": Process("billing", gunicorn("services.billing.app:create_app()", ports["billing"]),
                           {**env, "PROMETHEUS_MULTIPROC_DIR": str(base / "prom-billing")}, logs),
        "billing-events": Process("billing-events", python_module("services.billing.worker", "events"), env, logs),
        "payments": Process("payments", gunicorn("services.payments.app:create_app()", ports["payments"]),
                            {**env, "PROMETHEUS_MULTIPROC_DIR": str(base / "prom-payments")}, logs),
        "payments-events": Process("payments-events", python_module("services.payments.worker", "events"), env,
                                   logs),
        "sandbox": Process("sandbox", gunicorn("services.payments.sandbox.app:create_app()", ports["sandbox"]),
                           {**env, "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "8"}, logs),
        "gateway": Process("gateway", gunicorn("gateway.app:create_app()", ports["gateway"]),
                           {**env, "PROMETHEUS_MULTIPROC_DIR": str(base / "prom-gateway")}, logs),
    }
    try:
        for process in processes.values():
            process.start()
        wait_http(f"{identity_url}/readyz", processes["identity"])
        # ready: their database, the broker and identity's list of sessions
        for name in ("scheduling", "messaging", "billing", "payments"):
            wait_http(f"http://127.0.0.1:{ports[name]}/readyz", processes[name])
        wait_http(f"http://127.0.0.1:{ports['sandbox']}/healthz", processes["sandbox"])
        wait_http(f"{gateway_url}/readyz", processes["gateway"])
        running = Stack(gateway=gateway_url, identity=identity_url, mail_dir=mail_dir, processes=processes,
                        env=env, processor=f"http://127.0.0.1:{ports['sandbox']}")
        _running["stack"] = running
        yield running
    finally:
        _running.pop("stack", None)
        for process in processes.values():
            process.stop()


_running: dict[str, Stack] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed end-to-end test reports what the stack logged while it ran (its errors and their tracebacks):
    a 500 or a 502 then names its cause instead of a bare KeyError on the answer."""
    outcome = yield
    report = outcome.get_result()
    stack = _running.get("stack")
    if stack is None:
        return
    if call.when == "setup":
        item.stash[_log_offsets] = {name: _size(p.log_path) for name, p in stack.processes.items()}
    elif report.failed:
        offsets = item.stash.get(_log_offsets, {})
        for name, process in stack.processes.items():
            written = _read_from(process.log_path, offsets.get(name, 0))
            lines = [line for line in written.splitlines() if _noteworthy(line)]
            if lines:
                report.sections.append((f"stack log: {name} (errors while the test ran)", "\n".join(lines[-60:])))


_log_offsets = pytest.StashKey[dict]()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(2_000_000).decode(errors="replace")
    except OSError:
        return ""


def _noteworthy(line: str) -> bool:
    lowered = line.lower()
    return any(word in lowered for word in ("error", "traceback", "exception", "critical", "warning", '"status": 5',
                                             "  file ", "raise "))


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_token(stack, http):
    response = http.post(f"{stack.api}/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]
