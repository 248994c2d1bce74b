"""Every service's web metrics are on a port of their own (gunicorn's master, METRICS_PORT) under compose and
`make run`, as the gateway's are (tests/unit/test_gateway_deploy.py): Prometheus never needs the web port, which
serves /internal. The Kubernetes side is in tests/unit/test_deploy_manifests.py (web_metrics_problems)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_METRICS_PORTS = {"identity": 9301, "billing": 9305, "payments": 9306}


def _procfile() -> dict[str, list[str]]:
    lines = [line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return {name: shlex.split(command) for name, command in lines}


def _compose_block(name: str) -> str:
    """A service's block of the compose file, as text (its anchors and merge keys are not the point)."""
    return (ROOT / "deploy/docker-compose.yml").read_text().split(f"\n  {name}:\n", 1)[1].split("\n\n", 1)[0]


@pytest.mark.parametrize(("service", "port"), WEB_METRICS_PORTS.items())
def test_make_run_gives_the_web_process_a_metrics_port(service, port):
    words = _procfile()[service]
    assert f"METRICS_PORT={port}" in words and "METRICS_ADDR=127.0.0.1" in words
    assert any(w.startswith("PROMETHEUS_MULTIPROC_DIR=") for w in words)


@pytest.mark.parametrize(("service", "port"), WEB_METRICS_PORTS.items())
def test_compose_gives_the_web_process_a_metrics_port(service, port):
    block = _compose_block(service)
    assert "gunicorn" in block and f'METRICS_PORT: "{port}"' in block


def test_no_two_processes_share_a_metrics_port():
    ports = [w.split("=", 1)[1] for words in _procfile().values() for w in words if w.startswith("METRICS_PORT=")]
    assert len(ports) == len(set(ports)), ports
    compose = re.findall(r'METRICS_PORT: "(\d+)"', (ROOT / "deploy/docker-compose.yml").read_text())
    assert sorted(compose) == sorted(ports)
