"""The deploy manifests cover every service of shared/services.py: docker compose, the kustomize base, Prometheus.

The services and their processes come from the one list (shared.services.SERVICES): each process kind a service
runs (`<name>` web, `<name>-events`, `<name>-tasks`, `<name>-beat`, per Service.processes) must be a compose
service and a Deployment of the base, and each metrics port of the list a scrape target. That every folder of
services/ with an app.py is on the list is tests/unit/test_services_registry.py's check (reused here, not copied:
test_an_unlisted_service_folder_is_reported), so a new folder fails there, its entry then fails here until its
manifests exist. Each check is a function that returns the problems it finds, so that the tests at the end can
show it does find them (a service missing everywhere, a process kind missing, a container without limits, ...).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
import yaml

from shared.services import BY_NAME, SERVICES, Service

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY_DIR / "docker-compose.yml"
KUSTOMIZATION_FILE = DEPLOY_DIR / "k8s" / "base" / "kustomization.yaml"
PROMETHEUS_FILE = DEPLOY_DIR / "prometheus" / "prometheus.yml"
LOCAL_OVERLAY_FILE = DEPLOY_DIR / "k8s" / "overlays" / "local" / "kustomization.yaml"

# Services that never run in production belong in an overlay rather than the base;
# name them here to exempt them from the base check. The sandbox card processor
# (services/payments/sandbox/app.py) is nested in payments and not on the list: it
# needs no entry, and test_sandbox_processor_is_overlay_only keeps it out of the base
# (it lives in overlays/local only).
NOT_IN_K8S_BASE: set[str] = set()
# Deployments of the base that run none of the suite's code (no config, not on the list): infrastructure the base
# brings along. Redis holds the web's browser sessions (redis.yaml; test_only_the_gateway_reaches_redis).
INFRASTRUCTURE = {"redis"}
# What compose runs beside a service's processes: its one-shots (`<name>-migrate`, identity's `-keys`).
COMPOSE_ONE_SHOTS = ("migrate", "keys")
# The static scrape job of the compose stack: its targets are the list's processes, nothing else.
PORTAL_JOB = "portal"
# A documents entry as the next service will have it (shared/services.py's port plan), for the breakage tests.
DOCUMENTS = Service("documents", 8004, tasks=True)


# ---------------------------------------------------------------- loading


def process_names(service: Service) -> list[str]:
    """The compose service and Deployment name of each of its process kinds: `<name>` for web, else
    `<name>-<kind>`."""
    return [service.name if kind == "web" else f"{service.name}-{kind}" for kind in service.processes]


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


def scrape_targets(prometheus: dict, job: str | None = None) -> dict[str, dict]:
    """Every static target (of `job`, or of every job), with its labels."""
    return {
        target: static.get("labels") or {}
        for config in prometheus.get("scrape_configs") or []
        if job is None or config.get("job_name") == job
        for static in config.get("static_configs") or []
        for target in static.get("targets") or []
    }


# ---------------------------------------------------------------- checks


def missing_resource_files(paths: list[Path]) -> list[str]:
    return [f"kustomization lists {path.name}, which does not exist" for path in paths if not path.exists()]


def missing_compose_services(services: tuple[Service, ...], compose: dict) -> list[str]:
    present = compose.get("services") or {}
    return [name for service in services for name in process_names(service) if name not in present]


def missing_deployments(services: tuple[Service, ...], documents: list[dict]) -> list[str]:
    present = deployments(documents)
    return [name for service in services for name in process_names(service)
            if name not in present and service.name not in NOT_IN_K8S_BASE]


def unlisted_compose_services(services: tuple[Service, ...], compose: dict) -> list[str]:
    """A compose service named after a listed service that is none of its process kinds nor one-shots: a process
    the list does not know (an old `<name>-relay`, say)."""
    known = {name for service in services for name in process_names(service)}
    known |= {f"{service.name}-{one_shot}" for service in services for one_shot in COMPOSE_ONE_SHOTS}
    return [f"compose runs {name}, which is no process of shared/services.py"
            for name in compose.get("services") or {}
            if name not in known and any(name.startswith(f"{service.name}-") for service in services)]


def unlisted_deployments(services: tuple[Service, ...], documents: list[dict]) -> list[str]:
    known = {name for service in services for name in process_names(service)} | INFRASTRUCTURE
    return [f"the base deploys {name}, which is no process of shared/services.py"
            for name in deployments(documents) if name not in known]


def expected_scrape_targets(service: Service) -> dict[str, str]:
    """target -> its `component` label: the web metrics, and the events process's when it has one."""
    targets = {f"{service.name}:{service.metrics_port}": "web"}
    if service.events_metrics_port is not None:
        targets[f"{service.name}-events:{service.events_metrics_port}"] = "events"
    return targets


def missing_scrape_targets(services: tuple[Service, ...], prometheus: dict) -> list[str]:
    targets = scrape_targets(prometheus)
    portal = scrape_targets(prometheus, PORTAL_JOB)
    expected = {target for service in SERVICES + services for target in expected_scrape_targets(service)}
    problems = []
    for service in services:
        for target, component in expected_scrape_targets(service).items():
            if target not in targets:
                problems.append(f"{service.name}: no scrape target {target} in prometheus.yml")
            elif portal.get(target, {}) != {"service": service.name, "component": component}:
                problems.append(f"{service.name}: {target} is not labelled service {service.name}, "
                                f"component {component} (got {portal.get(target)})")
        # Never a web port, whatever the host: the gateway's is public, a service's serves /internal.
        problems += [f"{service.name}: scraped on its web port {service.port} ({target})"
                     for target in targets if target.rpartition(":")[2] == str(service.port)]
    problems += [f"prometheus.yml scrapes {target}, which is no process of shared/services.py"
                 for target in portal if target not in expected]
    return problems


def compose_metrics_port_problems(services: tuple[Service, ...], compose: dict) -> list[str]:
    """Every METRICS_PORT in compose is one of the list's, on the process it belongs to."""
    declared = {name: str((block.get("environment") or {}).get("METRICS_PORT"))
                for name, block in (compose.get("services") or {}).items()
                if "METRICS_PORT" in (block.get("environment") or {})}
    wanted = {}
    for service in services:
        wanted[service.name] = str(service.metrics_port)
        if service.events_metrics_port is not None:
            wanted[f"{service.name}-events"] = str(service.events_metrics_port)
    problems = [f"compose: {name} has METRICS_PORT {port}, which is not shared/services.py's {wanted[name]}"
                if name in wanted else f"compose: {name} has METRICS_PORT {port}, but shared/services.py gives "
                                       f"{name} no metrics port"
                for name, port in declared.items() if wanted.get(name) != port]
    problems += [f"compose: {name} has no METRICS_PORT {port}" for name, port in wanted.items()
                 if name in (compose.get("services") or {}) and name not in declared]
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

WEB_NAMES = [service.name for service in SERVICES]


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


def test_every_process_of_every_service_is_a_compose_service(compose):
    assert missing_compose_services(SERVICES, compose) == []
    assert unlisted_compose_services(SERVICES, compose) == []


def test_every_process_of_every_service_is_a_k8s_deployment(k8s):
    assert missing_deployments(SERVICES, k8s[1]) == []
    assert unlisted_deployments(SERVICES, k8s[1]) == []


def test_every_metrics_port_of_the_list_is_scraped(prometheus):
    assert missing_scrape_targets(SERVICES, prometheus) == []


def test_every_compose_metrics_port_is_the_lists(compose):
    assert compose_metrics_port_problems(SERVICES, compose) == []


def test_deployment_containers_are_sized_probed_and_hardened(k8s):
    assert deployments(k8s[1]), "no Deployment in the kustomize base"
    assert container_problems(k8s[1], WEB_NAMES) == []


def test_the_process_names_follow_the_list():
    """What the manifests are asked for, spelled out for the services deployed today."""
    assert {service.name: process_names(service) for service in SERVICES} == {
        "gateway": ["gateway"],
        "identity": ["identity", "identity-events", "identity-tasks"],
        "scheduling": ["scheduling", "scheduling-events", "scheduling-tasks", "scheduling-beat"],
        "messaging": ["messaging", "messaging-events", "messaging-tasks", "messaging-beat"],
        "billing": ["billing", "billing-events", "billing-tasks", "billing-beat"],
        "payments": ["payments", "payments-events", "payments-tasks", "payments-beat"],
    }


def test_sandbox_processor_is_overlay_only(k8s):
    """The sandbox card processor never reaches the base (production): local overlay only."""
    assert "sandbox-processor" not in BY_NAME  # nested in payments, not on the list
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


def _fake_services_tree(root: Path, *names: str) -> Path:
    for name in names:
        (root / "services" / name).mkdir(parents=True)
        (root / "services" / name / "app.py").write_text("def create_app(): ...\n")
    return root


def test_an_unlisted_service_folder_is_reported(tmp_path, monkeypatch):
    """A folder of services/ with an app.py that shared/services.py does not name fails the registry's check
    (tests/unit/test_services_registry.py, run here on a fake tree), before the manifests are asked for it; a
    folder without an app.py is no service."""
    import test_services_registry as registry

    listed = [service.name for service in SERVICES if service.name != "gateway"]
    monkeypatch.setattr(registry, "ROOT", _fake_services_tree(tmp_path, *listed))
    (tmp_path / "services" / "notes").mkdir()
    registry.test_every_service_folder_is_listed_and_every_listed_service_has_its_folder()
    _fake_services_tree(tmp_path, "documents")
    with pytest.raises(AssertionError, match=r"folders \[.*'documents'.*\] but shared/services.py lists"):
        registry.test_every_service_folder_is_listed_and_every_listed_service_has_its_folder()


def test_a_service_missing_everywhere_is_reported(compose, k8s, prometheus):
    # The next service of the port plan, listed but not deployed yet (scheduling, messaging, billing and payments
    # now are).
    services = SERVICES + (DOCUMENTS,)
    assert missing_compose_services(services, compose) == ["documents", "documents-events", "documents-tasks"]
    assert missing_deployments(services, k8s[1]) == ["documents", "documents-events", "documents-tasks"]
    assert missing_scrape_targets(services, prometheus) == [
        "documents: no scrape target documents:9304 in prometheus.yml",
        "documents: no scrape target documents-events:9104 in prometheus.yml",
    ]
    on_the_web_port = copy.deepcopy(prometheus)
    on_the_web_port["scrape_configs"][0]["static_configs"].append({"targets": ["payments:8006"]})
    assert "payments: scraped on its web port 8006 (payments:8006)" in missing_scrape_targets(
        SERVICES, on_the_web_port)


def _without(document: dict, name: str) -> dict:
    document = copy.deepcopy(document)
    del document["services"][name]
    return document


def test_a_process_kind_missing_from_compose_or_k8s_is_reported(compose, k8s, prometheus):
    """One process of a deployed service missing (its events process, its beat) is named, and nothing else."""
    assert missing_compose_services(SERVICES, _without(compose, "billing-events")) == ["billing-events"]
    assert missing_compose_services(SERVICES, _without(compose, "payments-beat")) == ["payments-beat"]
    documents = [doc for doc in k8s[1] if doc["metadata"]["name"] != "identity-events"]
    assert missing_deployments(SERVICES, documents) == ["identity-events"]
    # A service the list gives a beat, which the manifests do not run yet.
    with_beat = tuple(dataclasses.replace(s, beat=True) if s.name == "identity" else s for s in SERVICES)
    assert missing_compose_services(with_beat, compose) == ["identity-beat"]
    assert missing_deployments(with_beat, k8s[1]) == ["identity-beat"]
    events_target = copy.deepcopy(prometheus)
    for static in events_target["scrape_configs"][0]["static_configs"]:
        static["targets"] = [t for t in static["targets"] if t != "billing-events:9105"]
    assert missing_scrape_targets(SERVICES, events_target) == [
        "billing: no scrape target billing-events:9105 in prometheus.yml"]


def test_a_process_the_list_does_not_know_is_reported(compose, k8s, prometheus):
    """The relay and consumer of before, left beside the events process."""
    old = copy.deepcopy(compose)
    old["services"]["billing-consumer"] = copy.deepcopy(old["services"]["billing-events"])
    assert unlisted_compose_services(SERVICES, old) == [
        "compose runs billing-consumer, which is no process of shared/services.py"]
    documents = copy.deepcopy(k8s[1])
    relay = copy.deepcopy(deployments(documents)["identity-events"])
    relay["metadata"]["name"] = "identity-relay"
    assert unlisted_deployments(SERVICES, documents + [relay]) == [
        "the base deploys identity-relay, which is no process of shared/services.py"]
    stale = copy.deepcopy(prometheus)
    stale["scrape_configs"][0]["static_configs"].append(
        {"targets": ["payments-consumer:9206"], "labels": {"service": "payments", "component": "consumer"}})
    assert missing_scrape_targets(SERVICES, stale) == [
        "prometheus.yml scrapes payments-consumer:9206, which is no process of shared/services.py"]
    relabelled = copy.deepcopy(prometheus)
    for static in relabelled["scrape_configs"][0]["static_configs"]:
        if static["targets"] == ["identity-events:9101"]:
            static["labels"]["component"] = "relay"
    assert missing_scrape_targets(SERVICES, relabelled) == [
        "identity: identity-events:9101 is not labelled service identity, component events "
        "(got {'service': 'identity', 'component': 'relay'})"]


def test_a_compose_metrics_port_off_the_list_is_reported(compose):
    moved = copy.deepcopy(compose)
    moved["services"]["billing-events"]["environment"]["METRICS_PORT"] = "9205"
    del moved["services"]["payments"]["environment"]["METRICS_PORT"]
    assert compose_metrics_port_problems(SERVICES, moved) == [
        "compose: billing-events has METRICS_PORT 9205, which is not shared/services.py's 9105",
        "compose: payments has no METRICS_PORT 9306",
    ]
    stray = copy.deepcopy(compose)
    # Its own mapping: payments-tasks shares the x-payments environment with the other payments blocks.
    tasks = stray["services"]["payments-tasks"]
    tasks["environment"] = {**tasks["environment"], "METRICS_PORT": "9206"}
    assert compose_metrics_port_problems(SERVICES, stray) == [
        "compose: payments-tasks has METRICS_PORT 9206, but shared/services.py gives payments-tasks no metrics port"]


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
    pod = deployments(documents)["identity-events"]["spec"]["template"]["spec"]
    pod["securityContext"].pop("runAsNonRoot", None)
    pod["containers"][0]["securityContext"].pop("runAsNonRoot", None)


def _writable_init_container(documents):
    init = deployments(documents)["identity"]["spec"]["template"]["spec"]["initContainers"][0]
    init["securityContext"]["readOnlyRootFilesystem"] = False


def _events_without_memory_limit(documents):
    del _web_container(documents, "billing-events")["resources"]["limits"]["memory"]


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (_drop_limits, "identity/web: no resources.limits.cpu"),
        (_drop_requests, "identity/web: no resources.requests.memory"),
        (_drop_readiness, "gateway/web: readinessProbe does not GET /readyz (got None)"),
        (_drop_liveness, "identity/web: livenessProbe does not GET /healthz (got None)"),
        (_run_as_root, "identity-events/events: runAsNonRoot is not true"),
        (_writable_init_container, "identity/migrate: readOnlyRootFilesystem is not true"),
        (_events_without_memory_limit, "billing-events/events: no resources.limits.memory"),
    ],
)
def test_container_gaps_are_reported(k8s, breakage, expected):
    documents = copy.deepcopy(k8s[1])
    assert expected not in container_problems(documents, WEB_NAMES)
    breakage(documents)
    assert expected in container_problems(documents, WEB_NAMES)


# ---------------------------------------------------------------- secrets and the internal route (issue 9)

INTERNAL_PORT = 8006  # payments: /internal/v1/autopay-charges shares the web port
# Who calls payments' /internal routes: billing's web process and its celery worker (AutoPay), and the gateway
# for the public API on the same port (it never routes /internal: see the route-table test below).
INTERNAL_CALLERS = {"gateway", "billing", "billing-tasks"}
# identity's /internal routes (revoked sessions, the practice's switches) are for every process of the suite.
IDENTITY_INTERNAL_PORT = 8001
# Prometheus's pods, as the base names them (namespace `monitoring`): they reach the metrics ports only (the list's
# metrics_port and events_metrics_port), never a web port. See test_no_other_namespace_reaches_a_web_port.
PROMETHEUS_PEER = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
                   "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}}}
# Deployments exempt from getting INTERNAL_API_KEY: none of the suite's (every process builds a config that
# requires it); the infrastructure builds none.
AWAITING_INTERNAL_KEY: set[str] = set(INFRASTRUCTURE)
SECRET_ENV_NAMES = {"INTERNAL_API_KEY", "PROCESSOR_API_KEY", "SANDBOX_API_KEY", "IDENTITY_SECRET_KEY", "WEB_SECRET_KEY",
                    "POSTGRES_PASSWORD", "PORTAL_DB_PASSWORD", "RABBITMQ_DEFAULT_PASS", "PORTAL_ADMIN_PASSWORD"}
SECRET_URL_NAMES = {"AMQP_URL", "CELERY_BROKER_URL", "IDENTITY_DATABASE_URL", "SCHEDULING_DATABASE_URL",
                    "MESSAGING_DATABASE_URL", "BILLING_DATABASE_URL", "PAYMENTS_DATABASE_URL"}


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


# Who may call a service's web port, for the services only the gateway calls (the API: their /internal routes, if
# any, are for no other service yet), and the infrastructure every process of theirs reaches outside the namespace.
GATEWAY_ONLY = ("scheduling", "messaging", "billing")
INFRASTRUCTURE_PORTS = {"PostgreSQL": 5432, "RabbitMQ": 5672}


def _egress_outside(documents: list[dict], source: str, port: int) -> bool:
    """Whether a NetworkPolicy of `source`'s pods lets them out on `port` beyond the namespace's pods (a rule without
    `to`, or to an ipBlock): where the base expects PostgreSQL and RabbitMQ."""
    labels = _pod_labels(deployments(documents)[source])
    for policy in (doc for doc in documents if doc.get("kind") == "NetworkPolicy"):
        spec = policy["spec"]
        if "Egress" not in (spec.get("policyTypes") or []) or not _selects(spec.get("podSelector"), labels):
            continue
        for rule in (r for r in spec.get("egress") or [] if _covers(r, port)):
            if not rule.get("to") or any("ipBlock" in peer for peer in rule["to"]):
                return True
    return False


def service_network_problems(documents: list[dict], name: str) -> list[str]:
    """A service of GATEWAY_ONLY: its web port lets the gateway's pods in and no one else (Prometheus has its metrics
    ports only: test_no_other_namespace_reaches_a_web_port), the gateway may go out to it; every process of
    it may go out to identity's 8001 (JWKS, the /internal settings route) and identity lets it in there; and each
    reaches PostgreSQL and RabbitMQ."""
    service = BY_NAME[name]
    problems = []
    peers = internal_route_peers(documents, name, service.port)
    for peer in peers:
        selected = set(peer.partition("pods: ")[2].split(", ")) if "pods: " in peer else None
        if selected is None or not selected <= {"gateway"}:
            problems.append(f"{name}:{service.port} is open to more than the gateway: {peer}")
    if not any(peer.endswith("pods: gateway") for peer in peers):
        problems.append(f"{name}:{service.port} does not let the gateway's pods in")
    if not _egress_reaches(documents, "gateway", name, service.port):
        problems.append(f"the gateway's pods cannot reach {name}:{service.port} (no egress rule)")
    identity_peers = internal_route_peers(documents, "identity", IDENTITY_INTERNAL_PORT)
    admitted = {pod for peer in identity_peers if "pods: " in peer for pod in peer.partition("pods: ")[2].split(", ")}
    for process in process_names(service):
        if not _egress_reaches(documents, process, "identity", IDENTITY_INTERNAL_PORT):
            problems.append(f"{process}: cannot reach identity:{IDENTITY_INTERNAL_PORT} (no egress rule)")
        if process not in admitted:
            problems.append(f"{process}: identity:{IDENTITY_INTERNAL_PORT} does not let it in")
        problems += [f"{process}: cannot reach {what} ({port})" for what, port in INFRASTRUCTURE_PORTS.items()
                     if not _egress_outside(documents, process, port)]
    return problems


@pytest.mark.parametrize("name", GATEWAY_ONLY)
def test_a_service_is_called_by_the_gateway_and_calls_identity(k8s, name):
    assert service_network_problems(_all_documents(k8s), name) == []


def _policy(documents, name: str) -> dict:
    return next(d for d in documents if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == name)


def _scheduling_open_to_every_pod(documents):
    _policy(documents, "scheduling")["spec"]["ingress"][0]["from"].append({"podSelector": {}})


def _scheduling_without_the_gateway(documents):
    _policy(documents, "scheduling")["spec"]["ingress"][0]["ports"] = [{"port": 8005, "protocol": "TCP"}]


def _scheduling_beat_outside_the_suite(documents):
    labels = deployments(documents)["scheduling-beat"]["spec"]["template"]["metadata"]["labels"]
    del labels["app.kubernetes.io/part-of"]


def _scheduling_without_postgres(documents):
    egress = _policy(documents, "scheduling")["spec"]["egress"]
    egress[:] = [rule for rule in egress if not _covers(rule, 5432)]


@pytest.mark.parametrize(("breakage", "expected"), [
    (_scheduling_open_to_every_pod, "scheduling:8002 is open to more than the gateway: scheduling: every pod"),
    (_scheduling_without_the_gateway, "scheduling:8002 does not let the gateway's pods in"),
    (_scheduling_beat_outside_the_suite, "scheduling-beat: cannot reach identity:8001 (no egress rule)"),
    (_scheduling_beat_outside_the_suite, "scheduling-beat: identity:8001 does not let it in"),
    (_scheduling_without_postgres, "scheduling-events: cannot reach PostgreSQL (5432)"),
])
def test_a_gap_in_a_services_network_is_reported(k8s, breakage, expected):
    documents = copy.deepcopy(_all_documents(k8s))
    assert service_network_problems(documents, "scheduling") == []
    breakage(documents)
    assert any(expected in problem for problem in service_network_problems(documents, "scheduling"))


def test_no_other_namespace_reaches_the_internal_port(k8s):
    """Prometheus scrapes payments' web metrics on 9306 (gunicorn's master), so nothing outside the namespace needs
    8006, which serves /internal."""
    assert [p for p in internal_route_peers(_all_documents(k8s)) if "pods: " not in p] == []


MONITORING = {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}


def _reached_by_prometheus(documents: list[dict], deployment: str, port: int) -> bool:
    return any("prometheus pods of namespace monitoring" in peer or str(MONITORING) in peer
               for peer in internal_route_peers(documents, deployment, port))


def web_metrics_problems(documents: list[dict], services: tuple[Service, ...]) -> list[str]:
    """Each web Deployment serves its metrics from gunicorn's master on its Service.metrics_port (a container port
    named `metrics`, the scrape annotation), not on its Service; only from outside the namespace may reach it, and
    nothing outside the namespace reaches its web port (the gateway's public 8000 aside: test_gateway_deploy)."""
    problems = []
    k8s_services = {d["metadata"]["name"]: d for d in documents if d.get("kind") == "Service"}
    for service in (s for s in services if s.name in deployments(documents)):
        name, port, web_port = service.name, service.metrics_port, service.port
        pod = deployments(documents)[name]["spec"]["template"]
        container = pod["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        if (pod["metadata"].get("annotations") or {}).get("prometheus.io/port") != str(port):
            problems.append(f"{name}: prometheus.io/port is not {port}")
        if env.get("METRICS_PORT") != str(port) or not env.get("PROMETHEUS_MULTIPROC_DIR"):
            problems.append(f"{name}: no METRICS_PORT={port} with a PROMETHEUS_MULTIPROC_DIR")
        if {"name": "metrics", "containerPort": port, "protocol": "TCP"} not in container.get("ports") or []:
            problems.append(f"{name}: no container port `metrics` {port}")
        if name in k8s_services and [p["port"] for p in k8s_services[name]["spec"]["ports"]] != [web_port]:
            problems.append(f"{name}: its Service carries more than {web_port}")
        if not _reached_by_prometheus(documents, name, port):
            problems.append(f"{name}: Prometheus (namespace monitoring) cannot reach {port}")
        if name != "gateway":
            problems += [f"{name}:{web_port} is open from outside the namespace: {peer}"
                         for peer in internal_route_peers(documents, name, web_port) if "pods: " not in peer]
    return problems


def test_no_other_namespace_reaches_a_web_port(k8s):
    assert web_metrics_problems(_all_documents(k8s), SERVICES) == []


def events_metrics_problems(documents: list[dict], services: tuple[Service, ...]) -> list[str]:
    """Each `<name>-events` Deployment runs `python -m services.<name>.worker events` with its metrics (the outbox
    backlog among them) on the list's events_metrics_port: METRICS_PORT, the container port `metrics`, the scrape
    annotation, a liveness probe on them; and Prometheus may reach that port."""
    problems = []
    present = deployments(documents)
    for service in (s for s in services if s.events and f"{s.name}-events" in present):
        name, port = f"{service.name}-events", service.events_metrics_port
        pod = present[name]["spec"]["template"]
        (container, *others) = pod["spec"]["containers"]
        env = {e["name"]: e.get("value") for e in container.get("env") or []}
        if others:
            problems.append(f"{name}: more than one container")
        if container.get("command") != ["python", "-m", f"services.{service.name}.worker", "events"]:
            problems.append(f"{name}: does not run `python -m services.{service.name}.worker events` "
                            f"(got {container.get('command')})")
        if (pod["metadata"].get("annotations") or {}).get("prometheus.io/port") != str(port):
            problems.append(f"{name}: prometheus.io/port is not {port}")
        if env.get("METRICS_PORT") != str(port):
            problems.append(f"{name}: no METRICS_PORT={port}")
        if {"name": "metrics", "containerPort": port, "protocol": "TCP"} not in container.get("ports") or []:
            problems.append(f"{name}: no container port `metrics` {port}")
        if ((container.get("livenessProbe") or {}).get("httpGet") or {}) != {"path": "/metrics", "port": "metrics"}:
            problems.append(f"{name}: livenessProbe does not GET /metrics on `metrics`")
        if not _reached_by_prometheus(documents, name, port):
            problems.append(f"{name}: Prometheus (namespace monitoring) cannot reach {port}")
    return problems


def test_every_events_process_serves_its_metrics_to_prometheus(k8s):
    assert events_metrics_problems(_all_documents(k8s), SERVICES) == []


def _prometheus_without_the_events_port(documents):
    rule = _prometheus_rule(documents, "billing")
    rule["ports"] = [p for p in rule["ports"] if p["port"] != 9105]


def _events_on_the_old_consumer_port(documents):
    pod = deployments(documents)["payments-events"]["spec"]["template"]
    pod["metadata"]["annotations"]["prometheus.io/port"] = "9206"
    container = pod["spec"]["containers"][0]
    container["env"] = [{"name": "METRICS_PORT", "value": "9206"}]
    container["ports"] = [{"name": "metrics", "containerPort": 9206, "protocol": "TCP"}]


def _events_running_the_relay_only(documents):
    deployments(documents)["identity-events"]["spec"]["template"]["spec"]["containers"][0]["command"][-1] = "relay"


def _events_without_liveness(documents):
    del deployments(documents)["billing-events"]["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]


@pytest.mark.parametrize(("breakage", "expected"), [
    (_prometheus_without_the_events_port, "billing-events: Prometheus (namespace monitoring) cannot reach 9105"),
    (_events_on_the_old_consumer_port, "payments-events: prometheus.io/port is not 9106"),
    (_events_on_the_old_consumer_port, "payments-events: no METRICS_PORT=9106"),
    (_events_on_the_old_consumer_port, "payments-events: no container port `metrics` 9106"),
    (_events_running_the_relay_only, "identity-events: does not run `python -m services.identity.worker events`"),
    (_events_without_liveness, "billing-events: livenessProbe does not GET /metrics on `metrics`"),
])
def test_an_events_process_off_its_port_is_reported(k8s, breakage, expected):
    documents = copy.deepcopy(_all_documents(k8s))
    assert events_metrics_problems(documents, SERVICES) == []
    breakage(documents)
    assert any(expected in problem for problem in events_metrics_problems(documents, SERVICES))


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
def test_a_web_port_open_to_prometheus_is_reported(k8s, breakage, expected):
    documents = copy.deepcopy(_all_documents(k8s))
    assert web_metrics_problems(documents, SERVICES) == []
    breakage(documents)
    assert any(expected in problem for problem in web_metrics_problems(documents, SERVICES))


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


# ---------------------------------------------------------------- the web's browser sessions (Redis)

REDIS_PORT = 6379


def _env(container: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in container.get("env") or []}


def _egress_reaches(documents: list[dict], source: str, target: str, port: int) -> bool:
    """Whether a NetworkPolicy of `source`'s pods lets them out to `target`'s pods (this namespace) on `port`."""
    pods = deployments(documents)
    source_labels, target_labels = _pod_labels(pods[source]), _pod_labels(pods[target])
    for policy in (doc for doc in documents if doc.get("kind") == "NetworkPolicy"):
        spec = policy["spec"]
        if "Egress" not in (spec.get("policyTypes") or []) or not _selects(spec.get("podSelector"), source_labels):
            continue
        for rule in (r for r in spec.get("egress") or [] if _covers(r, port)):
            peers = rule.get("to")
            if not peers or any("podSelector" in peer and "namespaceSelector" not in peer
                                and _selects(peer["podSelector"], target_labels) for peer in peers):
                return True
    return False


def _secret_keys(documents: list[dict], container: dict) -> set[str]:
    """The variables a container takes from Secrets: whole ones (envFrom) and single keys (valueFrom)."""
    secrets = {doc["metadata"]["name"]: doc for doc in documents if doc.get("kind") == "Secret"}
    names = set()
    for source in container.get("envFrom") or []:
        secret = secrets.get((source.get("secretRef") or {}).get("name"))
        names |= set((secret or {}).get("stringData") or {})
    names |= {e["name"] for e in container.get("env") or [] if "secretKeyRef" in (e.get("valueFrom") or {})}
    return names


def _config_keys(documents: list[dict], container: dict) -> set[str]:
    maps = {doc["metadata"]["name"]: doc for doc in documents if doc.get("kind") == "ConfigMap"}
    names = {e["name"] for e in container.get("env") or [] if "value" in e or "configMapKeyRef" in (
        e.get("valueFrom") or {})}
    for source in container.get("envFrom") or []:
        names |= set((maps.get((source.get("configMapRef") or {}).get("name")) or {}).get("data") or {})
    return names


def k8s_web_session_problems(documents: list[dict]) -> list[str]:
    """The base's Redis holds the web's sessions for the gateway alone: only the gateway's pods get in on 6379 (and
    may go out to it), the gateway's WEB_SESSION_REDIS_URL names its Service, WEB_SECRET_KEY comes from a Secret and
    PROCESSOR_PUBLIC_URL is set; one replica, replaced by `Recreate` (two pods would each hold half the sessions)."""
    from urllib.parse import urlsplit

    pods = deployments(documents)
    if "redis" not in pods:
        return ["the base deploys no redis"]
    problems = []
    peers = internal_route_peers(documents, "redis", REDIS_PORT)
    for peer in peers:
        selected = set(peer.partition("pods: ")[2].split(", ")) if "pods: " in peer else None
        if selected is None or not selected <= {"gateway"}:
            problems.append(f"redis:{REDIS_PORT} is open to more than the gateway: {peer}")
    if not any(peer.endswith("pods: gateway") for peer in peers):
        problems.append(f"redis:{REDIS_PORT} does not let the gateway's pods in")
    if not _egress_reaches(documents, "gateway", "redis", REDIS_PORT):
        problems.append(f"the gateway's pods cannot reach redis:{REDIS_PORT} (no egress rule)")
    redis = pods["redis"]["spec"]
    if redis.get("replicas") != 1 or (redis.get("strategy") or {}).get("type") != "Recreate":
        problems.append("redis: not one replica replaced by Recreate")
    gateway = _web_container(documents, "gateway")
    url = urlsplit(_env(gateway).get("WEB_SESSION_REDIS_URL") or "")
    services = [doc for doc in documents if doc.get("kind") == "Service" and doc["metadata"]["name"] == url.hostname]
    if url.scheme not in ("redis", "rediss") or not any(
            _selects({"matchLabels": s["spec"].get("selector") or {}}, _pod_labels(pods["redis"]))
            and (url.port or REDIS_PORT) in [p["port"] for p in s["spec"]["ports"]] for s in services):
        problems.append(f"gateway: WEB_SESSION_REDIS_URL ({url.geturl()!r}) does not name the redis Service")
    if "WEB_SECRET_KEY" not in _secret_keys(documents, gateway):
        problems.append("gateway: WEB_SECRET_KEY does not come from a Secret")
    if "PROCESSOR_PUBLIC_URL" not in _config_keys(documents, gateway):
        problems.append("gateway: no PROCESSOR_PUBLIC_URL")
    return problems


def test_only_the_gateway_reaches_redis(k8s):
    documents = _all_documents(k8s)
    assert k8s_web_session_problems(documents) == []
    assert internal_route_peers(documents, "redis", REDIS_PORT) == ["redis: pods: gateway"]


def _redis_open_to_the_namespace(documents):
    next(d for d in documents if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == "redis")[
        "spec"]["ingress"][0]["from"].append({"podSelector": {}})


def _gateway_without_egress(documents):
    spec = next(d for d in documents if d.get("kind") == "NetworkPolicy" and d["metadata"]["name"] == "gateway")["spec"]
    spec["policyTypes"], spec["egress"] = ["Ingress"], []


def _sessions_elsewhere(documents):
    for entry in _web_container(documents, "gateway")["env"]:
        if entry["name"] == "WEB_SESSION_REDIS_URL":
            entry["value"] = "redis://sessions:6379/0"


def _secret_key_as_a_value(documents):
    container = _web_container(documents, "gateway")
    container["envFrom"] = [e for e in container["envFrom"] if (e.get("secretRef") or {}).get("name") != "gateway"]
    container["env"].append({"name": "WEB_SECRET_KEY", "value": "written-in-the-manifest"})


def _two_redis(documents):
    deployments(documents)["redis"]["spec"]["replicas"] = 2


@pytest.mark.parametrize(("breakage", "expected"), [
    (_redis_open_to_the_namespace, "redis:6379 is open to more than the gateway: redis: every pod of the namespace"),
    (_gateway_without_egress, "the gateway's pods cannot reach redis:6379"),
    (_sessions_elsewhere, "gateway: WEB_SESSION_REDIS_URL ('redis://sessions:6379/0') does not name the redis"),
    (_secret_key_as_a_value, "gateway: WEB_SECRET_KEY does not come from a Secret"),
    (_two_redis, "redis: not one replica replaced by Recreate"),
])
def test_a_gap_around_the_web_sessions_is_reported(k8s, breakage, expected):
    documents = copy.deepcopy(_all_documents(k8s))
    breakage(documents)
    assert any(expected in problem for problem in k8s_web_session_problems(documents))


def _compose_default(value: str) -> str:
    """A compose value with each `${NAME:-default}` replaced by its default (as with nothing in deploy/.env)."""
    import re

    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", r"\1", value)


def compose_web_session_problems(compose: dict) -> list[str]:
    """compose's redis is healthchecked and on 127.0.0.1 only; the gateway waits for it and names it; the card fields
    it frames are where compose publishes the sandbox (by default)."""
    from urllib.parse import urlsplit

    services = compose.get("services") or {}
    if "redis" not in services:
        return ["compose runs no redis"]
    redis, gateway = services["redis"], services["gateway"]
    environment = gateway.get("environment") or {}
    problems = []
    if not (redis.get("healthcheck") or {}).get("test"):
        problems.append("compose: redis has no healthcheck")
    problems += [f"compose: redis is published beyond 127.0.0.1 ({port})" for port in redis.get("ports") or []
                 if not str(port).startswith("127.0.0.1:")]
    if ((gateway.get("depends_on") or {}).get("redis") or {}).get("condition") != "service_healthy":
        problems.append("compose: the gateway does not wait for redis to be healthy")
    if urlsplit(str(environment.get("WEB_SESSION_REDIS_URL", ""))).hostname != "redis":
        problems.append("compose: the gateway's WEB_SESSION_REDIS_URL does not name the redis service")
    public = urlsplit(_compose_default(str(environment.get("PROCESSOR_PUBLIC_URL", ""))))
    published = {_compose_default(str(port)).rsplit(":", 2)[-2]
                 for port in services.get("sandbox-processor", {}).get("ports") or []}
    if public.hostname not in ("localhost", "127.0.0.1") or str(public.port) not in published:
        problems.append(f"compose: PROCESSOR_PUBLIC_URL ({public.geturl()!r}) is not the sandbox as published "
                        f"({sorted(published)})")
    return problems


def test_compose_gives_the_gateway_its_sessions_and_the_card_fields(compose):
    assert compose_web_session_problems(compose) == []
    assert "WEB_SECRET_KEY" in SECRET_ENV_NAMES  # required from deploy/.env: test_compose_takes_every_secret_...


def _compose_redis_on_every_address(compose):
    compose["services"]["redis"]["ports"] = ["6379:6379"]


def _compose_gateway_not_waiting(compose):
    del compose["services"]["gateway"]["depends_on"]["redis"]


def _compose_card_fields_elsewhere(compose):
    compose["services"]["gateway"]["environment"]["PROCESSOR_PUBLIC_URL"] = "${PROCESSOR_PUBLIC_URL:-http://localhost:8091}"


@pytest.mark.parametrize(("breakage", "expected"), [
    (_compose_redis_on_every_address, "compose: redis is published beyond 127.0.0.1 (6379:6379)"),
    (_compose_gateway_not_waiting, "compose: the gateway does not wait for redis to be healthy"),
    (_compose_card_fields_elsewhere, "compose: PROCESSOR_PUBLIC_URL ('http://localhost:8091') is not the sandbox"),
])
def test_a_compose_gap_around_the_web_sessions_is_reported(compose, breakage, expected):
    broken = copy.deepcopy(compose)
    breakage(broken)
    assert any(expected in problem for problem in compose_web_session_problems(broken))


def test_compose_requires_the_web_secret_key(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["gateway"]["environment"]["WEB_SECRET_KEY"] = "${WEB_SECRET_KEY:-dev-web-key}"
    assert compose_secret_problems(broken) == [
        "gateway: WEB_SECRET_KEY is not required from the environment (${WEB_SECRET_KEY:-dev-web-key})"]
