"""The suite's one list of its services: name, port, processes, and the public paths each owns at the gateway.

Everything else that names the services is built from this list or checked against it:
- built: the port of each service (shared.config.SERVICE_PORTS, so every service_url()), the gateway's route
  table (gateway/routes.py), the Procfile of `make run` (`python -m shared.services procfile --write`; a unit test
  fails when it is stale);
- checked: docker compose, the kustomize base, Prometheus's targets and the network policies
  (tests/unit/test_deploy_manifests.py), and that every folder of services/ with an app.py is listed here.

Adding a service is one entry here plus its folder (and its manifests, which the checks then ask for).

The process plan of each service (README, "Processes"):
- `web`: gunicorn serving `services.<name>.app:create_app()` on `port`; its metrics on `metrics_port` (93xx).
- `events`: `python -m services.<name>.worker events`, the outbox relay and the event consumer in one process
  (threads with connections of their own); its metrics, with the outbox backlog, on `events_metrics_port` (91xx).
- `tasks`: a celery worker on the queue named after the service, when it has background jobs; `beat` when it
  also has a schedule (exactly one replica; `make run` embeds it in the worker with -B).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROCFILE = ROOT / "Procfile"


@dataclass(frozen=True)
class Service:
    name: str
    port: int
    routes: tuple[str, ...] = ()  # public path templates (gateway/routes.py explains `*` and which wins)
    events: bool = True  # an events process (every service with a database has an outbox)
    tasks: bool = False
    beat: bool = False
    # The largest request body the gateway forwards to it, when more than every service's MAX_BODY_BYTES
    # (messaging: five 10 MB attachments and the form around them).
    max_body_bytes: int | None = None

    @property
    def metrics_port(self) -> int:
        return 9100 if self.name == "gateway" else self.port - 8000 + 9300

    @property
    def events_metrics_port(self) -> int | None:
        return self.port - 8000 + 9100 if self.events else None

    @property
    def app(self) -> str:
        return "gateway.app:create_app()" if self.name == "gateway" else f"services.{self.name}.app:create_app()"

    @property
    def processes(self) -> tuple[str, ...]:
        """The process kinds, named as their compose services and Deployments are: <name>, <name>-events, ..."""
        return ("web",) + ("events",) * self.events + ("tasks",) * self.tasks + ("beat",) * self.beat


SERVICES: tuple[Service, ...] = (
    # The routes the gateway answers itself, composed from the services' own public answers (gateway/composed.py).
    Service("gateway", 8000, events=False, routes=("/api/v1/portal/dashboard",)),
    Service("identity", 8001, tasks=True, routes=(
        "/api/v1/auth", "/api/v1/portal/me", "/api/v1/staff/users", "/api/v1/staff/me", "/api/v1/staff/clients",
        "/api/v1/staff/settings", "/api/v1/staff/profile-changes",
    )),
    Service("scheduling", 8002, tasks=True, beat=True, routes=(
        "/api/v1/staff/sites", "/api/v1/staff/clinicians", "/api/v1/staff/appointment-types",
        "/api/v1/staff/appointment-requests", "/api/v1/staff/appointments", "/api/v1/staff/scheduling-settings",
        "/api/v1/staff/availability",
        "/api/v1/portal/appointment-types", "/api/v1/portal/clinicians", "/api/v1/portal/sites",
        "/api/v1/portal/availability",
        "/api/v1/portal/appointment-requests", "/api/v1/portal/appointments", "/api/v1/portal/calendar-feed",
        "/api/v1/calendar",
    )),
    Service("messaging", 8003, tasks=True, beat=True, max_body_bytes=52 * 1024 * 1024, routes=(
        "/api/v1/portal/messages", "/api/v1/portal/notifications",
        "/api/v1/staff/messages", "/api/v1/staff/notifications", "/api/v1/staff/messaging-settings",
    )),
    Service("billing", 8005, tasks=True, beat=True, routes=(
        "/api/v1/portal/account", "/api/v1/portal/invoices", "/api/v1/portal/billing-documents",
        "/api/v1/staff/service-codes", "/api/v1/staff/invoices", "/api/v1/staff/billable-sessions",
        "/api/v1/staff/superbills", "/api/v1/staff/statements", "/api/v1/staff/billing-documents",
        "/api/v1/staff/billing-profile", "/api/v1/staff/autopay", "/api/v1/staff/clients/*/ledger",
        "/api/v1/staff/clients/*/account", "/api/v1/staff/clients/*/adjustments", "/api/v1/staff/clients/*/autopay",
        "/api/v1/staff/clients/*/billing-documents",
    )),
    Service("payments", 8006, tasks=True, beat=True, routes=(
        "/api/v1/portal/payment-methods", "/api/v1/portal/payments", "/api/v1/staff/payments",
        "/api/v1/staff/clients/*/payment-methods",
    )),
)
BY_NAME = {service.name: service for service in SERVICES}

# What `make run` starts besides the services: local stand-ins for what production buys (an SMTP relay, the card
# processor). Never in the kustomize base.
LOCAL_PROCESSES = {
    "smtp": ".venv/bin/python -m shared.smtp_sink --port 1025 --dir var/mail",
    "sandbox": '.venv/bin/gunicorn -c deploy/gunicorn.conf.py -w 1 --threads 8 -b 127.0.0.1:8090 '
               '"services.payments.sandbox.app:create_app()"',
}


def procfile_lines(services: tuple[Service, ...] = SERVICES) -> list[str]:
    """The Procfile of `make run`: every process of every service, on 127.0.0.1, metrics on their own ports."""
    lines = [f"{name}: {command}" for name, command in LOCAL_PROCESSES.items()]
    for s in services:
        metrics = f"METRICS_PORT={s.metrics_port} METRICS_ADDR=127.0.0.1"
        lines.append(f"{s.name}: PROMETHEUS_MULTIPROC_DIR=var/prometheus/{s.name} {metrics} .venv/bin/gunicorn "
                     f'-c deploy/gunicorn.conf.py -b 127.0.0.1:{s.port} "{s.app}"')
        if s.events:
            lines.append(f"{s.name}-events: METRICS_PORT={s.events_metrics_port} METRICS_ADDR=127.0.0.1 "
                         f".venv/bin/python -m services.{s.name}.worker events")
        if s.tasks:
            beat = f" -B --schedule var/celerybeat-{s.name}" if s.beat else ""
            lines.append(f"{s.name}-tasks: .venv/bin/celery -A services.{s.name}.tasks worker -n {s.name}@%h{beat}"
                         f" -Q {s.name} --pool=threads --concurrency=2 --loglevel=WARNING")
    return lines


def procfile_text() -> str:
    return ("# Made by `python -m shared.services procfile --write` from shared/services.py: edit the list there.\n"
            + "\n".join(procfile_lines()) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.services")
    parser.add_argument("what", choices=["procfile"])
    parser.add_argument("--write", action="store_true", help=f"write {PROCFILE.name} instead of printing it")
    args = parser.parse_args(argv)
    if args.write:
        PROCFILE.write_text(procfile_text())
    else:
        sys.stdout.write(procfile_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
