"""Login: the CPU cost of one argon2id verification, and sign-ins per second through the gateway."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request

from bench.common import CLIENT_EMAIL, CLIENT_PASSWORD, Procs, Workspace, gunicorn, log, wrk_script
from bench.fixture import prepare_identity
from bench.http_part import GATEWAY_APP, IDENTITY_APP, measured

LOGIN_PATH = "/api/v1/auth/login"


def argon2_cost(n: int) -> dict:
    from services.identity.domain import passwords

    stored = passwords.hash_password(CLIENT_PASSWORD)
    passwords.verify_password(stored, CLIENT_PASSWORD)  # warm
    cpu_started, started = time.process_time(), time.perf_counter()
    for _ in range(n):
        if not passwords.verify_password(stored, CLIENT_PASSWORD):
            raise RuntimeError("argon2 verification failed")
    wall_ms = (time.perf_counter() - started) * 1000 / n
    cpu_ms = (time.process_time() - cpu_started) * 1000 / n
    cores = os.cpu_count() or 1
    # The same verifications on every core at once (argon2-cffi releases the GIL): memory-hard hashing
    # may slow down when the cores share caches and memory bandwidth.
    per_thread = max(1, n // cores)

    def verify_many() -> None:
        for _ in range(per_thread):
            passwords.verify_password(stored, CLIENT_PASSWORD)

    threads = [threading.Thread(target=verify_many) for _ in range(cores)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    parallel_s = time.perf_counter() - started
    return {"n": n, "ms_each": round(wall_ms, 2), "cpu_ms_each": round(cpu_ms, 2), "cores": cores,
            # CPU time, not wall time: the cost stays the same when someone else is using the machine too.
            "max_logins_per_s": round(cores * 1000 / cpu_ms, 1), "params": _params(passwords.hasher),
            "parallel_verifies_per_s": round(per_thread * cores / parallel_s, 1)}


def _params(hasher) -> str:
    return f"argon2id m={hasher.memory_cost // 1024} MiB, t={hasher.time_cost}, p={hasher.parallelism}"


def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    prepare_identity(workspace)
    out: dict = {"argon2": argon2_cost(settings["argon2_n"])}
    log(f"login: argon2id verify {out['argon2']['cpu_ms_each']} ms CPU each; "
        f"at most {out['argon2']['max_logins_per_s']} logins/s on {out['argon2']['cores']} cores")
    # Failures are what the throttle counts; raised anyway so nothing the bench does can trip it.
    env = {**os.environ, **workspace.env(), "LOGIN_ACCOUNT_MAX_FAILURES": "1000000",
           "LOGIN_ADDRESS_MAX_FAILURES": "1000000"}
    body = json.dumps({"email": CLIENT_EMAIL, "password": CLIENT_PASSWORD})
    script = wrk_script(workspace, "login", method="POST", headers={"Content-Type": "application/json"},
                        body=body)
    identity = gunicorn(procs, "identity-login", IDENTITY_APP, env)
    try:
        gw_env = {**env, "IDENTITY_URL": identity.url, "JWKS_URL": identity.url + "/.well-known/jwks.json"}
        gateway = gunicorn(procs, "gateway-login", GATEWAY_APP, gw_env)
        try:
            request = urllib.request.Request(gateway.url + LOGIN_PATH, data=body.encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
                if response.status != 200 or "access_token" not in json.loads(response.read()):
                    raise RuntimeError(f"login through the gateway answered {response.status}")
            log(f"login: wrk -c{settings['login_connections']} POST {LOGIN_PATH}, {settings['duration']:.0f} s")
            result = measured(gateway.url + LOGIN_PATH, script,
                              {"gateway": gateway.popen.pid, "identity": identity.popen.pid},
                              connections=settings["login_connections"], threads=2,
                              duration=settings["duration"], warmup=settings["warmup"])
        finally:
            procs.stop(gateway)
    finally:
        procs.stop(identity)
    result["share_of_max"] = round(result["rps"] / out["argon2"]["max_logins_per_s"], 3)
    out["through_gateway"] = result
    log(f"login: {result['rps']} logins/s ({result['share_of_max']:.0%} of the argon2 maximum), "
        f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    return out
