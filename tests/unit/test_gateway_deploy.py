"""The gateway's metrics are scraped on their own port wherever it runs; its public port never serves them."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from shared.services import BY_NAME

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = BY_NAME["gateway"]
METRICS_PORT = GATEWAY.metrics_port


def _gateway_documents() -> dict[str, dict]:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy/k8s/base/gateway.yaml").read_text()) if d]
    return {d["kind"]: d for d in docs}


def test_kubernetes_scrapes_the_gateway_on_its_metrics_port_only_from_prometheus():
    docs = _gateway_documents()
    pod = docs["Deployment"]["spec"]["template"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(METRICS_PORT)
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["METRICS_PORT"] == str(METRICS_PORT) and env["PROMETHEUS_MULTIPROC_DIR"]
    assert {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"} in container["ports"]
    # The Service (what the ingress reaches) carries the public port only.
    assert [p["port"] for p in docs["Service"]["spec"]["ports"]] == [GATEWAY.port]
    # From anywhere: its public port only; its metrics port only from the monitoring namespace.
    for rule in docs["NetworkPolicy"]["spec"]["ingress"]:
        ports = {p["port"] for p in rule["ports"]}
        if METRICS_PORT in ports:
            assert ports == {METRICS_PORT}
            monitoring = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
            assert rule["from"] == [{"namespaceSelector": monitoring}]
        else:
            assert ports == {GATEWAY.port}


def test_prometheus_scrapes_the_gateway_on_its_metrics_port():
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for s in job.get("static_configs") or [] for t in s["targets"]}
    assert f"gateway:{METRICS_PORT}" in targets and f"gateway:{GATEWAY.port}" not in targets


def test_compose_and_make_run_give_the_gateway_a_metrics_port():
    # The gateway's block of the compose file, as text (its anchors and merge keys are not the point).
    block = (ROOT / "deploy/docker-compose.yml").read_text().split("\n  gateway:\n", 1)[1].split("\n  # ---", 1)[0]
    assert f'METRICS_PORT: "{METRICS_PORT}"' in block
    (line,) = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("gateway:")]
    words = shlex.split(line.split(":", 1)[1])
    assert f"METRICS_PORT={METRICS_PORT}" in words and "METRICS_ADDR=127.0.0.1" in words
    assert any(w.startswith("PROMETHEUS_MULTIPROC_DIR=") for w in words)
