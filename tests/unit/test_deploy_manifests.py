"""The deploy manifests cover every service: docker compose, the kustomize base, Prometheus.

A service is a folder of services/ holding an app.py, plus the gateway. Each check is
a function that returns the problems it finds, so that the tests at the end can show
it does find them (a service missing everywhere, a container without limits, ...).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
# Read at call time (not import time) so a test can point it at a fake tree.
SERVICES_DIR = REPO_ROOT / "services"
COMPOSE_FILE = DEPLOY_DIR / "docker-compose.yml"
KUSTOMIZATION_FILE = DEPLOY_DIR / "k8s" / "base" / "kustomization.yaml"
PROMETHEUS_FILE = DEPLOY_DIR / "prometheus" / "prometheus.yml"
LOCAL_OVERLAY_FILE = DEPLOY_DIR / "k8s" / "overlays" / "local" / "kustomization.yaml"

# The suite's port plan: the web port of each service (deploy/README.md).
WEB_PORTS = {
    "gateway": 8000,
    "identity": 8001,
    "scheduling": 8002,
    "messaging": 8003,
    "documents": 8004,
    "billing": 8005,
    "payments": 8006,
}
# Where each web process's metrics are scraped: never its web port (the gateway's is public; a service's serves
# /internal too), but a port of their own (METRICS_PORT, served by gunicorn's master), which is all Prometheus
# may reach. 93xx for a service whose web port is 80xx (its relay is 91xx, its consumer 92xx).
METRICS_PORTS = {"gateway": 9100, **{name: port - 8000 + 9300 for name, port in WEB_PORTS.items() if name != "gateway"}}
# Services that never run in production belong in an overlay rather than the base;
# name them here to exempt them from the base check. The sandbox card processor
# (services/payments/sandbox/app.py) is nested in payments, so discovery never
# finds it: it needs no entry, and test_sandbox_processor_is_overlay_only keeps it
# out of the base (it lives in overlays/local only).
NOT_IN_K8S_BASE: set[str] = set()


# ---------------------------------------------------------------- loading


def discover_service_names(services_dir: Path) -> list[str]:
    """The gateway plus every folder of services_dir holding an app.py.

    Folder names use underscores where manifest names (DNS labels) use hyphens.
    """
    names = {"gateway"}
    if services_dir.is_dir():
        names |= {
            folder.name.replace("_", "-")
            for folder in services_dir.iterdir()
            if folder.is_dir() and (folder / "app.py").is_file()
        }
    return sorted(names)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def kustomize_resources(kustomization: Path) -> tuple[list[Path], list[dict]]:
    """The paths listed under `resources`, and every document of those that exist."""
    spec = load_yaml(kustomization)
    paths = [kustomization.parent / entry for entry in spec.get("resources") or []]
    documents: list[dict] = []
    for path in paths:
        if path.is_file():
            documents += [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    return paths, documents


def deployments(documents: list[dict]) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for doc in documents if doc.get("kind") == "Deployment"}


def scrape_targets(prometheus: dict) -> set[str]:
    return {
        target
        for job in prometheus.get("scrape_configs") or []
        for static in job.get("static_configs") or []
        for target in static.get("targets") or []
    }


# ---------------------------------------------------------------- checks


def missing_resource_files(paths: list[Path]) -> list[str]:
    return [f"kustomization lists {path.name}, which does not exist" for path in paths if not path.exists()]


def missing_compose_services(names: list[str], compose: dict) -> list[str]:
    services = compose.get("services") or {}
    return [name for name in names if name not in services]


def missing_deployments(names: list[str], documents: list[dict]) -> list[str]:
    present = deployments(documents)
    return [name for name in names if name not in present and name not in NOT_IN_K8S_BASE]


def missing_scrape_targets(names: list[str], prometheus: dict) -> list[str]:
    targets = scrape_targets(prometheus)
    problems = []
    for name in names:
        port = METRICS_PORTS.get(name)
        if port is None:
            problems.append(f"{name}: no web port known; add it to WEB_PORTS in this test")
            continue
        if f"{name}:{port}" not in targets:
            problems.append(f"{name}: no scrape target {name}:{port} in prometheus.yml")
        if f"{name}:{WEB_PORTS[name]}" in targets:
            problems.append(f"{name}: scraped on its web port {WEB_PORTS[name]}")
    return problems


def _is_web(deployment: dict, web_names: list[str]) -> bool:
    labels = deployment["metadata"].get("labels") or {}
    return deployment["metadata"]["name"] in web_names or labels.get("app.kubernetes.io/component") == "web"


def container_problems(documents: list[dict], web_names: list[str]) -> list[str]:
    """Sizing, probes (web processes) and hardening of every Deployment container."""
    problems = []
    for name, deployment in deployments(documents).items():
        pod = deployment["spec"]["template"]["spec"]
        pod_security = pod.get("securityContext") or {}
        web = _is_web(deployment, web_names)
        if not pod.get("containers"):
            problems.append(f"{name}: no containers")
        for kind in ("initContainers", "containers"):
            for container in pod.get(kind) or []:
                where = f"{name}/{container.get('name')}"
                resources = container.get("resources") or {}
                for key in ("requests", "limits"):
                    amounts = resources.get(key) or {}
                    for resource in ("cpu", "memory"):
                        if resource not in amounts:
                            problems.append(f"{where}: no resources.{key}.{resource}")
                security = container.get("securityContext") or {}
                if security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is not True:
                    problems.append(f"{where}: runAsNonRoot is not true")
                if security.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{where}: allowPrivilegeEscalation is not false")
                if security.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{where}: readOnlyRootFilesystem is not true")
                if "ALL" not in ((security.get("capabilities") or {}).get("drop") or []):
                    problems.append(f"{where}: capabilities do not drop ALL")
                if web and kind == "containers":
                    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                        got = ((container.get(probe) or {}).get("httpGet") or {}).get("path")
                        if got != path:
                            problems.append(f"{where}: {probe} does not GET {path} (got {got!r})")
    return problems


# ---------------------------------------------------------------- the real manifests


@pytest.fixture
def service_names() -> list[str]:
    return discover_service_names(SERVICES_DIR)


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(COMPOSE_FILE)


@pytest.fixture(scope="module")
def k8s() -> tuple[list[Path], list[dict]]:
    return kustomize_resources(KUSTOMIZATION_FILE)


@pytest.fixture(scope="module")
def prometheus() -> dict:
    return load_yaml(PROMETHEUS_FILE)


def test_kustomization_lists_only_existing_files(k8s):
    paths, documents = k8s
    assert paths, "deploy/k8s/base/kustomization.yaml lists no resources"
    assert missing_resource_files(paths) == []
    assert documents


def test_every_service_has_a_compose_service(service_names, compose):
    assert missing_compose_services(service_names, compose) == []


def test_every_service_has_a_k8s_deployment(service_names, k8s):
    assert missing_deployments(service_names, k8s[1]) == []


def test_every_service_has_a_scrape_target(service_names, prometheus):
    assert missing_scrape_targets(service_names, prometheus) == []


def test_deployment_containers_are_sized_probed_and_hardened(service_names, k8s):
    assert deployments(k8s[1]), "no Deployment in the kustomize base"
    assert container_problems(k8s[1], service_names) == []


def _fake_services_tree(root: Path, *names: str) -> Path:
    services = root / "services"
    for name in names:
        (services / name).mkdir(parents=True)
        (services / name / "app.py").write_text("def create_app(): ...\n")
    return services


def test_manifests_cover_identity(tmp_path, monkeypatch, compose, k8s, prometheus):
    """Holds whether or not services/identity/app.py exists in this checkout yet."""
    monkeypatch.setitem(globals(), "SERVICES_DIR", _fake_services_tree(tmp_path, "identity"))
    names = discover_service_names(SERVICES_DIR)
    assert names == ["gateway", "identity"]
    assert missing_compose_services(names, compose) == []
    assert missing_deployments(names, k8s[1]) == []
    assert missing_scrape_targets(names, prometheus) == []
    assert container_problems(k8s[1], names) == []


def test_sandbox_processor_is_overlay_only(service_names, k8s):
    """The sandbox card processor never reaches the base (production): local overlay only."""
    assert "sandbox-processor" not in service_names  # nested in payments: not discovered
    _, documents = k8s
    assert [doc["metadata"]["name"] for doc in documents if "sandbox" in doc["metadata"]["name"]] == []
    commands = [
        " ".join(container.get("command") or [])
        for deployment in deployments(documents).values()
        for kind in ("initContainers", "containers")
        for container in deployment["spec"]["template"]["spec"].get(kind) or []
    ]
    assert [command for command in commands if "services.payments.sandbox" in command] == []
    config = next(
        doc for doc in documents if doc.get("kind") == "ConfigMap" and doc["metadata"]["name"] == "portal-config"
    )
    # The sandbox refuses to start with PORTAL_ENV=production.
    assert config["data"]["PORTAL_ENV"] == "production"
    assert "sandbox" not in config["data"]["PROCESSOR_URL"]
    overlay_paths, overlay_documents = kustomize_resources(LOCAL_OVERLAY_FILE)
    assert missing_resource_files(overlay_paths) == []
    assert "sandbox-processor" in deployments(overlay_documents)


# ---------------------------------------------------------------- the checks can fail


def test_discovery_takes_folders_with_an_app_only(tmp_path):
    services = _fake_services_tree(tmp_path, "identity", "billing", "sandbox_processor")
    (services / "notes").mkdir()
    (services / "__init__.py").write_text("")
    assert discover_service_names(services) == ["billing", "gateway", "identity", "sandbox-processor"]
    assert discover_service_names(tmp_path / "nowhere") == ["gateway"]


def test_a_service_missing_everywhere_is_reported(tmp_path, monkeypatch, compose, k8s, prometheus):
    # A service of the port plan that is not deployed yet (billing now is).
    monkeypatch.setitem(globals(), "SERVICES_DIR", _fake_services_tree(tmp_path, "identity", "scheduling"))
    names = discover_service_names(SERVICES_DIR)
    assert missing_compose_services(names, compose) == ["scheduling"]
    assert missing_deployments(names, k8s[1]) == ["scheduling"]
    assert missing_scrape_targets(names, prometheus) == [
        "scheduling: no scrape target scheduling:9302 in prometheus.yml"
    ]
    on_the_web_port = copy.deepcopy(prometheus)
    on_the_web_port["scrape_configs"][0]["static_configs"].append({"targets": ["payments:8006"]})
    assert missing_scrape_targets(["payments"], on_the_web_port) == ["payments: scraped on its web port 8006"]
    assert missing_scrape_targets(["newcomer"], prometheus) == [
        "newcomer: no web port known; add it to WEB_PORTS in this test"
    ]


def test_a_missing_resource_file_is_reported(tmp_path):
    (tmp_path / "present.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    (tmp_path / "kustomization.yaml").write_text("resources: [present.yaml, absent.yaml]\n")
    paths, documents = kustomize_resources(tmp_path / "kustomization.yaml")
    assert missing_resource_files(paths) == ["kustomization lists absent.yaml, which does not exist"]
    assert [doc["metadata"]["name"] for doc in documents] == ["x"]


def _web_container(documents: list[dict], name: str) -> dict:
    return deployments(documents)[name]["spec"]["template"]["spec"]["containers"][0]


def _drop_limits(documents):
    del _web_container(documents, "identity")["resources"]["limits"]


def _drop_requests(documents):
    del _web_container(documents, "identity")["resources"]["requests"]


def _drop_readiness(documents):
    del _web_container(documents, "gateway")["readinessProbe"]


def _drop_liveness(documents):
    del _web_container(documents, "identity")["livenessProbe"]


def _run_as_root(documents):
    pod = deployments(documents)["identity-relay"]["spec"]["template"]["spec"]
    pod["securityContext"].pop("runAsNonRoot", None)
    pod["containers"][0]["securityContext"].pop("runAsNonRoot", None)


def _writable_init_container(documents):
    init = deployments(documents)["identity"]["spec"]["template"]["spec"]["initContainers"][0]
    init["securityContext"]["readOnlyRootFilesystem"] = False


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_drop_limits, "identity/web: no resources.limits.cpu"),
        (_drop_requests, "identity/web: no resources.requests.memory"),
        (_drop_readiness, "gateway/web: readinessProbe does not GET /readyz (got None)"),
        (_drop_liveness, "identity/web: livenessProbe does not GET /healthz (got None)"),
        (_run_as_root, "identity-relay/relay: runAsNonRoot is not true"),
        (_writable_init_container, "identity/migrate: readOnlyRootFilesystem is not true"),
    ],
)
def test_container_gaps_are_reported(k8s, breakage, expected):
    documents = copy.deepcopy(k8s[1])
    breakage(documents)
    assert expected in container_problems(documents, ["gateway", "identity"])


# ---------------------------------------------------------------- secrets and the internal route (issue 9)

INTERNAL_PORT = 8006  # payments: /internal/v1/autopay-charges shares the web port
# Who calls payments' /internal routes: billing's web process and its celery worker (AutoPay), and the gateway
# for the public API on the same port (it never routes /internal: see the route-table test below).
INTERNAL_CALLERS = {"gateway", "billing", "billing-tasks"}
# identity's /internal routes (revoked sessions, the practice's switches) are for every process of the suite.
IDENTITY_INTERNAL_PORT = 8001
# Prometheus's pods, as the base names them (namespace `monitoring`): they reach the metrics ports only (METRICS_PORTS,
# the relays' and consumers'), never a web port. See test_no_other_namespace_reaches_a_web_port.
PROMETHEUS_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                   "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
# Deployments exempt from getting INTERNAL_API_KEY: none (every process builds a config that requires it).
AWAITING_INTERNAL_KEY: set[str] = set()
SECRET_ENV_NAMES = {"INTERNAL_API_KEY", "PROCESSOR_API_KEY", "SANDBOX_API_KEY", "IDENTITY_SECRET_KEY",
                    "POSTGRES_PASSWORD", "PORTAL_DB_PASSWORD", "RABBITMQ_DEFAULT_PASS", "PORTAL_ADMIN_PASSWORD"}
SECRET_URL_NAMES = {"AMQP_URL", "CELERY_BROKER_URL", "IDENTITY_DATABASE_URL", "BILLING_DATABASE_URL",
                    "PAYMENTS_DATABASE_URL"}


def _selects(selector: dict | None, labels: dict) -> bool:
    """Kubernetes label-selector semantics (an empty selector selects everything)."""
    selector = selector or {}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        if (operator == "In" and labels.get(key) not in values) or (operator == "NotIn" and labels.get(key) in values) \
                or (operator == "Exists" and key not in labels) or (operator == "DoesNotExist" and key in labels):
            return False
    return True


def _pod_labels(deployment: dict) -> dict:
    return deployment["spec"]["template"]["metadata"].get("labels") or {}


def _covers(rule: dict, port: int) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True  # no ports: every port
    return any(p.get("port") is None or p["port"] == port or (p["port"] <= port <= p.get("endPort", p["port"]))
               for p in ports)


def internal_route_peers(documents: list[dict], service: str = "payments", port: int = INTERNAL_PORT) -> list[str]:
    """Who the network policies let reach a service's web pods on its port, one line per peer:
    `pods: <deployments>` for a selector of this namespace, else a description of what else gets in."""
    pods = deployments(documents)
    target = _pod_labels(pods[service])
    found = []
    for policy in (doc for doc in documents if doc.get("kind") == "NetworkPolicy"):
        spec = policy["spec"]
        if "Ingress" not in (spec.get("policyTypes") or ["Ingress"]) or not _selects(spec.get("podSelector"), target):
            continue
        name = policy["metadata"]["name"]
        for rule in (r for r in spec.get("ingress") or [] if _covers(r, port)):
            peers = rule.get("from")
            if not peers:
                found.append(f"{name}: anyone (a rule without `from`)")
            for peer in peers or []:
                if peer == PROMETHEUS_PEER:
                    found.append(f"{name}: prometheus pods of namespace monitoring")
                elif "ipBlock" in peer:
                    found.append(f"{name}: addresses {peer['ipBlock'].get('cidr')}")
                elif "namespaceSelector" in peer:
                    found.append(f"{name}: other namespaces {peer['namespaceSelector']}")
                elif not (peer.get("podSelector") or {}):
                    found.append(f"{name}: every pod of the namespace")
                else:
                    selected = sorted(d for d, dep in pods.items() if _selects(peer["podSelector"], _pod_labels(dep)))
                    found.append(f"{name}: pods: {', '.join(selected)}")
    return found


def internal_route_problems(documents: list[dict]) -> list[str]:
    problems = []
    for peer in internal_route_peers(documents):
        if peer.endswith("prometheus pods of namespace monitoring"):
            continue
        selected = set(peer.partition("pods: ")[2].split(", ")) if "pods: " in peer else None
        if selected is None or not selected <= INTERNAL_CALLERS:
            problems.append(f"payments:{INTERNAL_PORT} is open to more than {sorted(INTERNAL_CALLERS)}: {peer}")
    return problems


def _all_documents(k8s) -> list[dict]:
    """The base and the local overlay's own resources (the sandbox's policies are there)."""
    _, overlay = kustomize_resources(LOCAL_OVERLAY_FILE)  # its files only (the base is a directory there)
    return k8s[1] + overlay


def test_only_the_gateway_and_billing_reach_the_internal_route(k8s):
    documents = _all_documents(k8s)
    assert internal_route_problems(documents) == []
    peers = internal_route_peers(documents)
    assert "payments: pods: gateway" in peers
    assert "payments: pods: billing, billing-tasks" in peers


def test_identitys_internal_routes_are_for_the_namespace_only(k8s):
    outside = [p for p in internal_route_peers(_all_documents(k8s), "identity", IDENTITY_INTERNAL_PORT)
               if "pods: " not in p]
    assert outside == []


def test_no_other_namespace_reaches_the_internal_port(k8s):
    """Prometheus scrapes payments' web metrics on 9306 (gunicorn's master), so nothing outside the namespace needs
    8006, which serves /internal."""
    assert [p for p in internal_route_peers(_all_documents(k8s)) if "pods: " not in p] == []


MONITORING = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}


def web_metrics_problems(documents: list[dict], names: list[str]) -> list[str]:
    """Each web Deployment serves its metrics from gunicorn's master on METRICS_PORTS[name] (a container port named
    `metrics`, the scrape annotation), not on its Service; only from outside the namespace may reach it, and
    nothing outside the namespace reaches its web port (the gateway's public 8000 aside: test_gateway_deploy)."""
    problems = []
    services = {d["metadata"]["name"]: d for d in documents if d.get("kind") == "Service"}
    for name in (n for n in names if n in deployments(documents)):
        port, web_port = METRICS_PORTS[name], WEB_PORTS[name]
        pod = deployments(documents)[name]["spec"]["template"]
        container = pod["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        if (pod["metadata"].get("annotations") or {}).get("prometheus.io/port") != str(port):
            problems.append(f"{name}: prometheus.io/port is not {port}")
        if env.get("METRICS_PORT") != str(port) or not env.get("PROMETHEUS_MULTIPROC_DIR"):
            problems.append(f"{name}: no METRICS_PORT={port} with a PROMETHEUS_MULTIPROC_DIR")
        if {"name": "metrics", "containerPort": port, "protocol": "TCP"} not in container.get("ports") or []:
            problems.append(f"{name}: no container port `metrics` {port}")
        if name in services and [p["port"] for p in services[name]["spec"]["ports"]] != [web_port]:
            problems.append(f"{name}: its Service carries more than {web_port}")
        inside = [peer for peer in internal_route_peers(documents, name, port)]
        if not any("prometheus pods of namespace monitoring" in peer or str(MONITORING) in peer for peer in inside):
            problems.append(f"{name}: Prometheus (namespace monitoring) cannot reach {port}")
        if name != "gateway":
            problems += [f"{name}:{web_port} is open from outside the namespace: {peer}"
                         for peer in internal_route_peers(documents, name, web_port) if "pods: " not in peer]
    return problems


def test_no_other_namespace_reaches_a_web_port(service_names, k8s):
    assert web_metrics_problems(_all_documents(k8s), service_names) == []


def _open_to_everyone(documents):
    next(d for d in documents if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == "payments")[
        "spec"]["ingress"].append({"ports": [{"port": 8006, "protocol": "TCP"}]})


def _open_to_a_namespace(documents):
    next(d for d in documents if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == "payments")[
        "spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})


def _open_to_every_billing_pod(documents):
    next(d for d in documents if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == "payments")[
        "spec"]["ingress"][0]["from"].append({"podSelector": {"matchLabels": {"portal/service": "billing"}}})


def _prometheus_rule(documents, name: str) -> dict:
    policy = next(d for d in documents if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == name)
    return next(rule for rule in policy["spec"]["ingress"]
                if any("namespaceSelector" in peer for peer in rule.get("from") or []))


def _prometheus_on_the_web_port(documents):
    _prometheus_rule(documents, "billing")["ports"].append({"port": 8005, "protocol": "TCP"})


def _prometheus_without_the_metrics_port(documents):
    rule = _prometheus_rule(documents, "identity")
    rule["ports"] = [p for p in rule["ports"] if p["port"] != 9301]


def _metrics_on_the_web_port(documents):
    pod = deployments(documents)["payments"]["spec"]["template"]
    pod["metadata"]["annotations"]["prometheus.io/port"] = "8006"
    container = pod["spec"]["containers"][0]
    container["env"] = [e for e in container["env"] if e["name"] != "METRICS_PORT"]


@pytest.mark.parametrize(("breakage", "expected"), [
    (_prometheus_on_the_web_port, "billing:8005 is open from outside the namespace: billing: other namespaces"),
    (_prometheus_without_the_metrics_port, "identity: Prometheus (namespace monitoring) cannot reach 9301"),
    (_metrics_on_the_web_port, "payments: prometheus.io/port is not 9306"),
    (_metrics_on_the_web_port, "payments: no METRICS_PORT=9306 with a PROMETHEUS_MULTIPROC_DIR"),
])
def test_a_web_port_open_to_prometheus_is_reported(service_names, k8s, breakage, expected):
    documents = copy.deepcopy(_all_documents(k8s))
    assert web_metrics_problems(documents, service_names) == []
    breakage(documents)
    assert any(expected in problem for problem in web_metrics_problems(documents, service_names))


@pytest.mark.parametrize(("breakage", "expected"), [
    (_open_to_everyone, "payments: anyone"),
    (_open_to_a_namespace, "payments: other namespaces"),
    (_open_to_every_billing_pod, "billing-beat"),
])
def test_a_wider_internal_route_is_reported(k8s, breakage, expected):
    documents = copy.deepcopy(_all_documents(k8s))
    breakage(documents)
    assert any(expected in problem for problem in internal_route_problems(documents))


def test_the_gateway_routes_nothing_under_internal():
    from gateway.routes import ROUTES, RouteTable

    assert [template for template, _ in ROUTES if "internal" in template.lower()] == []
    table = RouteTable()
    for path in ("/internal/v1/autopay-charges", "/api/v1/internal/v1/autopay-charges",
                 "/internal/v1/revoked-sessions"):
        assert table.match(path) is None, path


def test_every_process_that_builds_a_config_gets_the_internal_key(k8s):
    """Every config needs INTERNAL_API_KEY (shared.config.BaseConfig); the migration only a database URL."""
    missing = []
    for name, deployment in deployments(k8s[1]).items():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            refs = {(e.get("secretRef") or {}).get("name") for e in container.get("envFrom") or []}
            if "portal-internal-api" not in refs and name not in AWAITING_INTERNAL_KEY:
                missing.append(f"{name}/{container['name']}")
    assert missing == []


def _interpolations(value: str) -> list[tuple[str, str, str]]:
    """`${NAME}`, `${NAME:-default}`, `${NAME:?message}` of a compose value: (name, operator, rest)."""
    import re

    return re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?]?)([^}]*)\}", value)


def compose_secret_problems(compose: dict) -> list[str]:
    """A secret in docker-compose.yml comes from deploy/.env (or the shell), required (`${X:?...}`), never with a
    default written in the file."""
    import re
    from urllib.parse import urlsplit

    problems = []
    blocks = [(name, service.get("environment") or {}) for name, service in (compose.get("services") or {}).items()]
    for service, environment in blocks:
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        for key, value in environment.items():
            value = str(value)
            if key in SECRET_ENV_NAMES:
                found = _interpolations(value)
                # ${IDENTITY_SECRET_KEY:-} (unset: the generated key file) writes no value either.
                if not found or any(op not in (":?", "?") and not (op in (":-", "-") and rest == "")
                                    for _, op, rest in found):
                    problems.append(f"{service}: {key} is not required from the environment ({value})")
            elif key in SECRET_URL_NAMES:
                found = _interpolations(value)
                if any(op not in (":?", "?") for _, op, _ in found):
                    problems.append(f"{service}: {key} has an interpolation with a default ({value})")
                masked = re.sub(r"\$\{[^}]*\}", "INTERPOLATED", value)
                if (urlsplit(masked).password or "") != "INTERPOLATED":
                    problems.append(f"{service}: {key} writes its password in the file")
    return problems


def test_compose_takes_every_secret_from_the_environment(compose):
    assert compose_secret_problems(compose) == []


def test_compose_secrets_are_checked():
    broken = {"services": {"payments": {"environment": {
        "INTERNAL_API_KEY": "${INTERNAL_API_KEY:-dev-internal-key}",
        "PROCESSOR_API_KEY": "sk_test_sandbox",
        "PAYMENTS_DATABASE_URL": "postgresql+psycopg://portal:portal@postgres:5432/portal_payments",
        "AMQP_URL": "amqp://portal:${RABBITMQ_PASSWORD:-guest}@rabbitmq:5672/%2F"}}}}
    assert len(compose_secret_problems(broken)) == 4


def test_the_compose_database_server_has_no_password_written_in_it():
    import re

    for path in (DEPLOY_DIR / "postgres").iterdir():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"PASSWORD\s+'", text, re.IGNORECASE), f"{path.name} writes a password"
