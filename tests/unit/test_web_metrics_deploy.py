"""Every service's web metrics are on a port of their own (gunicorn's master, METRICS_PORT) under compose and
`make run`, as the gateway's are (tests/unit/test_gateway_deploy.py): Prometheus never needs the web port, which
serves /internal. The Kubernetes side is in tests/unit/test_deploy_manifests.py (web_metrics_problems)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from shared.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
# The gateway's web process is tests/unit/test_gateway_deploy.py's.
SERVICES_BUT_THE_GATEWAY = [s for s in SERVICES if s.name != "gateway"]
WITH_EVENTS = [s for s in SERVICES if s.events]


def _procfile() -> dict[str, list[str]]:
    lines = [line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {name: shlex.split(command) for name, command in lines}


def _compose_block(name: str) -> str:
    """A service's block of the compose file, as text (its anchors and merge keys are not the point); its first
    line may carry a comment."""
    text = (ROOT / "deploy/docker-compose.yml").read_text()
    return re.split(rf"\n  {re.escape(name)}:(?:  #[^\n]*)?\n", text, maxsplit=1)[1].split("\n\n", 1)[0]


@pytest.mark.parametrize("service", SERVICES_BUT_THE_GATEWAY, ids=lambda s: s.name)
def test_make_run_gives_the_web_process_a_metrics_port(service):
    words = _procfile()[service.name]
    assert f"METRICS_PORT={service.metrics_port}" in words and "METRICS_ADDR=127.0.0.1" in words
    assert any(w.startswith("PROMETHEUS_MULTIPROC_DIR=") for w in words)


@pytest.mark.parametrize("service", SERVICES_BUT_THE_GATEWAY, ids=lambda s: s.name)
def test_compose_gives_the_web_process_a_metrics_port(service):
    block = _compose_block(service.name)
    assert "gunicorn" in block and f'METRICS_PORT: "{service.metrics_port}"' in block


@pytest.mark.parametrize("service", WITH_EVENTS, ids=lambda s: s.name)
def test_make_run_and_compose_give_the_events_process_its_metrics_port(service):
    """One events process (relay and consumer) per service, its metrics on the list's events_metrics_port."""
    port, command = service.events_metrics_port, ["-m", f"services.{service.name}.worker", "events"]
    words = _procfile()[f"{service.name}-events"]
    assert f"METRICS_PORT={port}" in words and words[-3:] == command
    block = _compose_block(f"{service.name}-events")
    assert f'["python", "{command[0]}", "{command[1]}", "events"]' in block and f'METRICS_PORT: "{port}"' in block


def test_no_two_processes_share_a_metrics_port():
    ports = [w.split("=", 1)[1] for words in _procfile().values() for w in words if w.startswith("METRICS_PORT=")]
    assert len(ports) == len(set(ports)), ports
    compose = re.findall(r'METRICS_PORT: "(\d+)"', (ROOT / "deploy/docker-compose.yml").read_text())
    assert sorted(compose) == sorted(ports)
