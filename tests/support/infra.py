"""Finds PostgreSQL and RabbitMQ for the tests, in ARCHITECTURE.md's order: URLs in the environment,
the local servers on their standard ports, containers (testcontainers) where a Docker engine runs,
else a clear error that says what to start."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from dataclasses import dataclass, field
from urllib.parse import quote

_containers: list = []


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def docker_available() -> bool:
    return bool(shutil.which("docker")) and subprocess.run(
        ["docker", "info"], capture_output=True, timeout=10).returncode == 0


@dataclass
class Infra:
    pg_base_url: str
    amqp_base_url: str  # without vhost
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    vhost: str | None = None

    @property
    def db_prefix(self) -> str:
        return f"portal_test_{self.run_id}_"

    def database_url(self, service: str) -> str:
        return f"{self.pg_base_url}/{self.db_prefix}{service}"

    @property
    def amqp_url(self) -> str:
        vhost = self.vhost if self.vhost is not None else "/"
        return f"{self.amqp_base_url}/{quote(vhost, safe='')}"

    def env(self) -> dict[str, str]:
        """What a service process of this run needs in its environment."""
        return {"PG_BASE_URL": self.pg_base_url, "DB_PREFIX": self.db_prefix, "AMQP_URL": self.amqp_url,
                "CELERY_BROKER_URL": self.amqp_url}


def find_postgres() -> str:
    url = os.environ.get("TEST_PG_BASE_URL") or os.environ.get("PG_BASE_URL")
    if url:
        return url.rstrip("/")
    if port_open("127.0.0.1", 5432):
        return "postgresql+psycopg://postgres@127.0.0.1:5432"
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer("postgres:15", driver="psycopg").start()
        _containers.append(container)
        return container.get_connection_url().rsplit("/", 1)[0]
    raise RuntimeError("PostgreSQL not found: set TEST_PG_BASE_URL, start the local server "
                       "(pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start), "
                       "or run a Docker engine for testcontainers.")


def find_rabbitmq() -> str:
    url = os.environ.get("TEST_AMQP_URL") or os.environ.get("AMQP_URL")
    if url:
        return url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    if port_open("127.0.0.1", 5672):
        return "amqp://guest:guest@127.0.0.1:5672"
    if docker_available():
        from testcontainers.rabbitmq import RabbitMqContainer

        container = RabbitMqContainer("rabbitmq:3.13").start()
        _containers.append(container)
        host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
        return f"amqp://guest:guest@{host}:{port}"
    raise RuntimeError("RabbitMQ not found: set TEST_AMQP_URL, start the local server (rabbitmq-server -detached), "
                       "or run a Docker engine for testcontainers.")


def create_vhost(name: str) -> bool:
    """A vhost per test run keeps queues of parallel runs apart; needs rabbitmqctl on this machine."""
    if not shutil.which("rabbitmqctl"):
        return False
    try:
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", name], check=True, capture_output=True, timeout=60)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*"],
                       check=True, capture_output=True, timeout=60)
        return True
    except (subprocess.SubprocessError, OSError):
        return False


def delete_vhost(name: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", name], capture_output=True, timeout=60)


def stop_containers() -> None:
    while _containers:
        _containers.pop().stop()
