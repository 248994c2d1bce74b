"""A broker outage delays identity's mail, never loses it: identity's processes (web, relay, mail worker) reach
RabbitMQ through a TCP proxy the test cuts and restores (the machine's RabbitMQ is shared: never stopped), and a
password reset asked while it is cut answers 202 and its mail lands once the broker is back."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support import infra as infra_mod
from tests.support.processes import BIN, Process, eventually, free_port, gunicorn, python_module, wait_http
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e

ADMIN = "admin@outage.example"
ADMIN_PASSWORD = "Outage admin passphrase 6!"


def mails_to(mail_dir: Path, address: str) -> list:
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == address:
            found.append(message)
    return found


@pytest.fixture
def identity_behind_a_proxy(infra, tmp_path):
    """Identity's own database and vhost (no other relay or worker drains them), its processes on free ports, the
    broker through `proxy`."""
    from shared.migrations import drop_database, upgrade

    own = infra_mod.Infra(pg_base_url=infra.pg_base_url, amqp_base_url=infra.amqp_base_url,
                          run_id=f"{infra.run_id}mail")
    vhost = f"portal-test-{own.run_id}"
    if infra_mod.create_vhost(vhost):
        own.vhost = vhost
    upgrade("identity", own.database_url("identity"))
    broker = urlsplit(own.amqp_base_url)
    proxy = TcpProxy(broker.hostname or "127.0.0.1", broker.port or 5672).start()
    amqp = own.amqp_url.replace(f"{broker.hostname}:{broker.port or 5672}", f"127.0.0.1:{proxy.port}")
    mail_dir, logs, keys = tmp_path / "mail", tmp_path / "logs", tmp_path / "keys"
    for d in (mail_dir, logs, keys):
        d.mkdir()
    port, smtp = free_port(), free_port()
    env = {**own.env(), "AMQP_URL": amqp, "CELERY_BROKER_URL": amqp, "SMTP_HOST": "127.0.0.1",
           "SMTP_PORT": str(smtp), "PORTAL_BASE_URL": "http://portal.outage.test",
           "JWT_PRIVATE_KEY_FILE": str(keys / "jwt.pem"), "IDENTITY_SECRET_KEY_FILE": str(keys / "secret.key"),
           "PORTAL_ADMIN_EMAIL": ADMIN, "PORTAL_ADMIN_PASSWORD": ADMIN_PASSWORD, "INTERNAL_API_KEY": "outage-internal",
           "PORTAL_ENV": "test", "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4", "LOG_LEVEL": "INFO",
           "IDENTITY_URL": f"http://127.0.0.1:{port}", "JWKS_URL": f"http://127.0.0.1:{port}/.well-known/jwks.json"}
    admin = Process("create-admin", python_module("services.identity.cli", "create-admin"), env, logs).start()
    assert admin.popen.wait(60) == 0, admin.tail()
    processes = [
        Process("smtp", python_module("shared.smtp_sink", "--port", str(smtp), "--dir", str(mail_dir)), env, logs),
        Process("identity", gunicorn("services.identity.app:create_app()", port),
                {**env, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom")}, logs),
        Process("identity-relay", python_module("services.identity.worker", "relay"),
                {**env, "METRICS_PORT": str(free_port())}, logs),
        Process("identity-tasks", [str(BIN / "celery"), "-A", "services.identity.tasks", "worker",
                                   "-n", f"identity-outage-{own.run_id}@%h", "-Q", "identity", "--pool=threads",
                                   "--concurrency=1", "--loglevel=INFO"], env, logs),
    ]
    engine = create_engine(own.database_url("identity"))
    try:
        for process in processes:
            process.start()
        wait_http(f"http://127.0.0.1:{port}/healthz", processes[1])
        yield f"http://127.0.0.1:{port}", mail_dir, proxy, engine, processes
    finally:
        for process in processes:
            process.stop()
        proxy.cut()
        engine.dispose()
        drop_database(own.database_url("identity"))
        if own.vhost:
            infra_mod.delete_vhost(own.vhost)


def pending_mails(engine, address: str) -> list:
    with engine.connect() as conn:
        return conn.execute(text("SELECT status, queued_at FROM mail_outbox WHERE recipient = :r "
                                 "AND template = 'password_reset' ORDER BY created_at"), {"r": address}).all()


def test_a_reset_asked_while_the_broker_is_cut_is_mailed_once_it_is_back(identity_behind_a_proxy):
    base, mail_dir, proxy, engine, processes = identity_behind_a_proxy
    reset = f"{base}/api/v1/auth/password-reset"
    # the pipeline works: web -> mail outbox -> relay -> broker -> mail worker -> SMTP
    assert requests.post(reset, json={"email": ADMIN}, timeout=10).status_code == 202
    eventually(lambda: len(mails_to(mail_dir, ADMIN)) == 1, timeout=60, interval=0.2,
               message=f"the first reset mail\n{processes[2].tail()}\n{processes[3].tail()}")

    proxy.cut()
    assert requests.post(reset, json={"email": ADMIN}, timeout=10).status_code == 202
    rows = pending_mails(engine, ADMIN)
    assert [r.status for r in rows] == ["sent", "pending"]  # written with the request, waiting for the broker
    # the relay tries and fails while the broker is away: the row stays unqueued, nothing is lost
    eventually(lambda: "cannot hand mails to the mail worker" in processes[2].tail(200), timeout=30,
               message="the relay meets the outage")
    assert pending_mails(engine, ADMIN)[1].queued_at is None and len(mails_to(mail_dir, ADMIN)) == 1

    proxy.restore()
    eventually(lambda: len(mails_to(mail_dir, ADMIN)) == 2, timeout=120, interval=0.5,
               message=f"the reset mail after the outage\n{processes[2].tail()}\n{processes[3].tail()}")
    latest = mails_to(mail_dir, ADMIN)[-1].get_content()
    assert "http://portal.outage.test/reset-password?token=" in latest
    assert [r.status for r in pending_mails(engine, ADMIN)] == ["sent", "sent"]
