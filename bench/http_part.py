"""HTTP: GET /api/v1/portal/me through the gateway, straight to identity, the ceiling and the floor apps;
then the gateway under several gunicorn worker models."""

from __future__ import annotations

import importlib.util
import json
import os
import urllib.request

from bench.common import (
    Procs,
    Workspace,
    bench_db_url,
    cpu_delta,
    cpu_snapshot,
    gunicorn,
    log,
    machine_ticks,
    plain_dsn,
    wrk,
    wrk_script,
)
from bench.fixture import prepare_identity

PATH = "/api/v1/portal/me"
IDENTITY_APP = "services.identity.app:create_app()"
GATEWAY_APP = "gateway.app:create_app()"
NOISY = 0.25  # other load above which a run is not trusted


def measured(url: str, script, groups: dict[str, int], *, connections: int, threads: int, duration: float,
             warmup: float, drop: tuple[str, ...] = ("bench", "rabbitmq")) -> dict:
    """wrk warm-up (discarded), then the measured run with the CPU each process group used during it.

    `drop`: labels left out of the CPU per request (RabbitMQ idles in a run that sends no events; a part
    whose requests publish events keeps it)."""
    if warmup > 0:
        wrk(url, script, threads=threads, connections=connections, duration=warmup)
    before, machine_before = cpu_snapshot(groups), machine_ticks()
    result = wrk(url, script, threads=threads, connections=connections, duration=duration)
    cpu, machine_after = cpu_delta(before, cpu_snapshot(groups)), machine_ticks()
    cpu["wrk"] = result.pop("wrk_cpu_s")
    # What the rest of the machine used meanwhile (RabbitMQ idles here; anything else is someone else's).
    machine_busy_s = machine_after[0] - machine_before[0]
    capacity_s = (machine_after[1] - machine_before[1]) or 1.0
    result["other_cpu_share"] = round(max(0.0, machine_busy_s - sum(cpu.values())) / capacity_s, 2)
    for label in drop:
        cpu.pop(label, None)
    result["cpu_s"] = cpu
    requests = max(1, result["requests"])
    result["cpu_ms_per_req"] = {k: round(v * 1000 / requests, 3) for k, v in cpu.items() if v > 0}
    result["cpu_busy"] = round(sum(cpu.values()) / capacity_s, 2)
    return result


def _check(url: str, token: str) -> None:
    """One request before measuring: a benchmark of error pages would be worthless."""
    request = urllib.request.Request(url + PATH, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        body = json.loads(response.read())
    if response.status != 200 or body.get("last_name") != "Benchmark":
        raise RuntimeError(f"{url}{PATH} answered {response.status}: {body}")


def gevent_available() -> bool:
    return importlib.util.find_spec("gevent") is not None


def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    fixture = prepare_identity(workspace)
    token = fixture["access_token"]
    env = {**os.environ, **workspace.env()}
    script = wrk_script(workspace, "portal-me", headers={"Authorization": f"Bearer {token}"})
    duration, warmup = settings["duration"], settings["warmup"]
    c1_duration = settings["c1_duration"]
    out: dict = {"path": PATH, "targets": {}, "gateway_models": {}}

    def both(name: str, url: str, groups: dict[str, int], model: str) -> None:
        _check(url, token)
        log(f"http: {name}: c{settings['connections']}, {duration:.0f} s")
        c32 = measured(url + PATH, script, groups, connections=settings["connections"], threads=2,
                       duration=duration, warmup=warmup)
        log(f"http: {name}: {c32['rps']} req/s, p50 {c32['p50_ms']} ms, p99 {c32['p99_ms']} ms; now c1")
        c1 = measured(url + PATH, script, groups, connections=1, threads=1, duration=c1_duration, warmup=1)
        out["targets"][name] = {"model": model, "c32": c32, "c1": c1}

    identity = gunicorn(procs, "identity", IDENTITY_APP, env)
    try:
        gw_env = {**env, "IDENTITY_URL": identity.url, "JWKS_URL": identity.url + "/.well-known/jwks.json"}
        gateway = gunicorn(procs, "gateway", GATEWAY_APP, gw_env)
        try:
            both("identity direct", identity.url, {"identity": identity.popen.pid}, "gthread 2x8")
            both("gateway", gateway.url, {"gateway": gateway.popen.pid, "identity": identity.popen.pid},
                 "gthread 2x8")
        finally:
            procs.stop(gateway)

        ceiling_env = {**env, "BENCH_DSN": plain_dsn(bench_db_url("identity")),
                       "BENCH_CLIENT_ID": fixture["client_id"]}
        ceiling = gunicorn(procs, "ceiling", "bench.apps:ceiling_app()", ceiling_env)
        try:
            both("ceiling (bare SELECT app)", ceiling.url, {"ceiling": ceiling.popen.pid}, "gthread 2x8")
        finally:
            procs.stop(ceiling)

        floor = gunicorn(procs, "floor", "bench.apps:floor_app()", {**env, "IDENTITY_URL": identity.url},
                         ready_path="/healthz")
        try:
            both("floor (naive requests proxy)", floor.url,
                 {"floor": floor.popen.pid, "identity": identity.popen.pid}, "gthread 2x8")
        finally:
            procs.stop(floor)

        # The gateway under each worker model, back to back (the config's default, gthread 2x8, again too,
        # so the comparison is between runs made under the same conditions).
        models = [("gthread 2x8", "gthread", 2, 8), ("sync 4", "sync", 4, None), ("gthread 2x16", "gthread", 2, 16),
                  ("gthread 4x4", "gthread", 4, 4)]
        if gevent_available():
            models.append(("gevent 2", "gevent", 2, None))
        else:
            out["gevent"] = "not installed: pip install gevent to measure it"
        for label, worker_class, workers, threads in models:
            gateway = gunicorn(procs, f"gateway-{worker_class}", GATEWAY_APP, gw_env, worker_class=worker_class,
                               workers=workers, threads=threads)
            try:
                _check(gateway.url, token)
                log(f"http: gateway {label}: c{settings['connections']}, {duration:.0f} s")
                result = measured(gateway.url + PATH, script,
                                  {"gateway": gateway.popen.pid, "identity": identity.popen.pid},
                                  connections=settings["connections"], threads=2, duration=duration,
                                  warmup=warmup)
                out["gateway_models"][label] = result
                log(f"http: gateway {label}: {result['rps']} req/s, p99 {result['p99_ms']} ms")
            finally:
                procs.stop(gateway)
    finally:
        procs.stop(identity)

    models = out["gateway_models"]
    ok = {k: v for k, v in models.items() if not v["non_2xx_3xx"] and not v["socket_errors"]} or models
    # A run that shared the machine with someone else's work says little; choose among the quiet ones.
    quiet = {k: v for k, v in ok.items() if v.get("other_cpu_share", 0) <= NOISY}
    if quiet and len(quiet) < len(ok):
        out["best_gateway_model_note"] = (
            f"Best chosen among the runs with other load ≤ {NOISY:.0%} ({', '.join(quiet)}); the others were "
            "disturbed by someone else's work.")
    elif not quiet:
        out["best_gateway_model_note"] = (
            f"Every run had other load > {NOISY:.0%}: the best model is unreliable; run again on a quiet machine.")
    pool = quiet or ok
    out["best_gateway_model"] = max(pool, key=lambda k: (pool[k]["rps"], -pool[k]["p99_ms"]))
    return out
