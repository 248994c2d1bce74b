"""Payments (issue 4): Pay Now with a saved card through the gateway, against the raw processor call.

Aims: the service adds under 15 ms p50 over the processor call, and the ledger shows a payment (ledger
lag, from the payment's 201 answer) within 500 ms p99 at 50 payments/s.

The whole stack runs as make run starts it, on free ports: identity (web and events), the
gateway, billing (web and events: its relay and consumer), payments (web and events) and the sandbox processor
(1 worker x 16 threads), on fresh `portal_bench_*` databases and a bench RabbitMQ vhost (the part refuses
to run without one: its relays would publish into the developer's own vhost). Online payments are turned
on through the gateway; each bench client is registered, invoiced 1,000,000 cents and saves the 4242 card.

Runs, in one go: the raw charge (`POST /v1/charges` at the sandbox, a fresh reference each call) and Pay
Now (`POST /api/v1/portal/payments` through the gateway, a saved card, a fresh Idempotency-Key each call,
round robin over the clients) with wrk at 1 and at 16 connections; then Pay Now paced at 50/s from a
thread pool while another connection polls billing's database for each payment's ledger entry.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import requests

from bench.common import (
    Procs,
    Workspace,
    bench_db_url,
    cpu_delta,
    cpu_snapshot,
    dispose_engines,
    drop_bench_database,
    gunicorn,
    log,
    lua_string,
    lua_table,
    machine_ticks,
    percentile,
    plain_dsn,
    recreate_database,
    wrk_lua,
)
from bench.fixture import prepare_identity, registered_clients
from bench.http_part import GATEWAY_APP, IDENTITY_APP, measured

BILLING_APP = "services.billing.app:create_app()"
PAYMENTS_APP = "services.payments.app:create_app()"
SANDBOX_APP = "services.payments.sandbox.app:create_app()"
PAY_PATH = "/api/v1/portal/payments"
CHARGE_PATH = "/v1/charges"
PROCESSOR_KEY = "sk_test_bench"
INVOICE_CENTS = 1_000_000
PAYMENT_CENTS = 100
AIM_ADDED_MS = 15.0
AIM_LAG_MS = 500.0

# wrk: each thread walks the clients round robin from its own offset (stride = its thread count), so no two
# requests in flight are for the same client; the Idempotency-Key (or reference) is new for every request.
_LUA = """
local tokens = %(tokens)s
local methods = %(methods)s
local customers = %(customers)s
local n = #tokens
local stride = %(threads)d
local counter = 0
local nonce = "bench"
local kind = %(kind)s
local processor_key = %(key)s

function setup(thread)
  wrk_bench_threads = (wrk_bench_threads or 0) + 1
  thread:set("thread_no", wrk_bench_threads)
end

function init(args)
  local me = thread_no or 1
  math.randomseed(os.time() * 1000 + me)
  nonce = string.format("b%%x%%x%%x", os.time(), me, math.random(1, 2147483646))
end

function request()
  local me = thread_no or 1
  local i = ((counter * stride + me - 1) %% n) + 1
  counter = counter + 1
  local key = nonce .. "-" .. counter
  if kind == "paynow" then
    return wrk.format("POST", %(path)s, {["Authorization"] = "Bearer " .. tokens[i],
      ["Content-Type"] = "application/json", ["Idempotency-Key"] = key},
      '{"amount_cents": %(amount)d, "payment_method_id": "' .. methods[i] .. '"}')
  end
  return wrk.format("POST", %(path)s, {["Authorization"] = "Bearer " .. processor_key,
    ["Content-Type"] = "application/json"},
    '{"payment_method": "' .. methods[i] .. '", "customer": "' .. customers[i] ..
    '", "amount_cents": %(amount)d, "currency": "USD", "reference": "' .. key ..
    '", "description": "Client portal payment"}')
end
"""


def _script(workspace: Workspace, kind: str, clients: list[dict], threads: int):
    if kind == "paynow":
        tokens, methods, path = [c["access_token"] for c in clients], [c["method_id"] for c in clients], PAY_PATH
        customers = [""] * len(clients)
    else:  # the raw charge: the same saved cards, as the processor's payment methods with their customers
        tokens, methods, path = [""] * len(clients), [c["processor_method"] for c in clients], CHARGE_PATH
        customers = [c["processor_customer"] for c in clients]
    return wrk_lua(workspace, f"{kind}-t{threads}", _LUA % {
        "tokens": lua_table(tokens), "methods": lua_table(methods), "customers": lua_table(customers),
        "threads": threads, "kind": lua_string(kind),
        "key": lua_string(PROCESSOR_KEY), "path": lua_string(path), "amount": PAYMENT_CENTS})


# --- the stack ---------------------------------------------------------------------------------------

class Stack:
    def __init__(self, procs: Procs, workspace: Workspace, amqp_url: str):
        self.procs = procs
        self.urls: dict[str, str] = {}
        self.groups: dict[str, int] = {}
        env = {**os.environ, **workspace.env(), "BILLING_DATABASE_URL": bench_db_url("billing"),
               "PAYMENTS_DATABASE_URL": bench_db_url("payments"), "AMQP_URL": amqp_url,
               "CELERY_BROKER_URL": amqp_url, "PROCESSOR_API_KEY": PROCESSOR_KEY, "SANDBOX_API_KEY": PROCESSOR_KEY,
               "SANDBOX_DATABASE_PATH": str(workspace.path("sandbox", "processor.sqlite3")),
               "INTERNAL_API_KEY": "bench-internal-key", "UPSTREAM_READ_TIMEOUT_MS": "15000"}
        for name in ("METRICS_PORT", "EVENTS_EXCHANGE"):  # the stack's defaults, inside the bench vhost
            env.pop(name, None)
        self.env = env
        self.amqp_url = amqp_url

    def web(self, name: str, app: str, *, workers: int = 2, threads: int = 8) -> str:
        proc = gunicorn(self.procs, name, app, self.env, workers=workers, threads=threads)
        self.urls[name], self.groups[name] = proc.url, proc.popen.pid
        return proc.url

    def worker(self, name: str, module: str, command: str) -> None:
        env = {k: v for k, v in self.env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        proc = self.procs.start(name, [sys.executable, "-m", module, command], env, stop_signal=signal.SIGTERM)
        self.groups[name] = proc.popen.pid
        time.sleep(0.3)
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.popen.returncode}:\n{proc.tail()}")

    def start(self) -> None:
        self.web("sandbox", SANDBOX_APP, workers=1, threads=16)
        self.env["PROCESSOR_URL"] = self.urls["sandbox"]
        self.web("identity", IDENTITY_APP)
        self.env.update({"IDENTITY_URL": self.urls["identity"],
                         "JWKS_URL": self.urls["identity"] + "/.well-known/jwks.json"})
        self.web("billing", BILLING_APP)
        self.env["BILLING_URL"] = self.urls["billing"]
        self.web("payments", PAYMENTS_APP)
        self.env["PAYMENTS_URL"] = self.urls["payments"]
        self.web("gateway", GATEWAY_APP)
        # Each service's events process, as deployed (its relay and its consumer in one process). The consumers
        # are bound before identity's relay starts: an event published before its queue is bound is gone.
        self.worker("billing-events", "services.billing.worker", "events")
        self.worker("payments-events", "services.payments.worker", "events")
        self._wait_consumers(["billing.events", "payments.events"])
        self.worker("identity-events", "services.identity.worker", "events")

    def _wait_consumers(self, queues: list[str], timeout: float = 30.0) -> None:
        import logging


        deadline = time.monotonic() + timeout
        missing = list(queues)
        pika_log = logging.getLogger("pika")
        level, pika_log.level = pika_log.level, logging.CRITICAL  # a passive declare of a missing queue is expected
        try:
            self._poll_queues(missing, deadline)
        finally:
            pika_log.setLevel(level)
        if missing:
            raise RuntimeError(f"no consumer on {', '.join(missing)} after {timeout:.0f} s")

    def _poll_queues(self, missing: list[str], deadline: float) -> None:
        import pika

        while missing and time.monotonic() < deadline:
            conn = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
            try:
                for name in list(missing):
                    channel = conn.channel()
                    try:
                        if channel.queue_declare(name, passive=True).method.consumer_count > 0:
                            missing.remove(name)
                    except pika.exceptions.ChannelClosedByBroker:
                        pass
            finally:
                conn.close()
            if missing:
                time.sleep(0.2)


# --- setting up the clients --------------------------------------------------------------------------

def _ok(response: requests.Response, expected: int, what: str) -> dict:
    if response.status_code != expected:
        raise RuntimeError(f"{what} answered {response.status_code}: {response.text[:400]}")
    return response.json() if response.content else {}


def _eventually(fn, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            found = fn()
        except Exception as exc:  # noqa: BLE001 (reported when the time is up)
            found, last = None, exc
        if found:
            return found
        time.sleep(interval)
    raise RuntimeError(f"{what}: not within {timeout:.0f} s ({last!r})")


def prepare_clients(stack: Stack, admin_token: str, clients: list[dict]) -> dict:
    api = stack.urls["gateway"] + "/api/v1"
    staff = {"Authorization": f"Bearer {admin_token}"}
    http = requests.Session()
    started = time.perf_counter()
    _ok(http.patch(f"{api}/staff/settings", headers=staff, json={"online_payments_enabled": True}, timeout=10),
        200, "PATCH /staff/settings")
    code = f"B{uuid.uuid4().hex[:6]}".upper()
    _ok(http.post(f"{api}/staff/service-codes", headers=staff, timeout=10,
                  json={"code": code, "description": "Bench balance", "rate_cents": INVOICE_CENTS}), 201,
        "POST /staff/service-codes")
    year = datetime.now(UTC).year + 2

    def one(client: dict) -> None:
        with requests.Session() as s:
            def invoiced():  # billing learns of the client from client.created
                r = s.post(f"{api}/staff/invoices", headers=staff, timeout=10,
                           json={"client_id": client["client_id"], "lines": [{"service_code": code, "units": 1}]})
                return r.json() if r.status_code == 201 else None

            client["invoice_id"] = _eventually(invoiced, 60, f"invoice for {client['client_id']}", 0.3)["id"]
            card = _ok(s.post(f"{stack.urls['sandbox']}/v1/tokens", timeout=10, json={
                "card_number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": year, "cvc": "123",
                "cardholder_name": "Bench Payer", "postal_code": "04101"}), 201, "POST /v1/tokens")
            client["card_token"] = card["token"]
            method = _ok(s.post(f"{api}/portal/payment-methods", timeout=10,
                                headers={"Authorization": f"Bearer {client['access_token']}"},
                                json={"processor_token": card["token"]}), 201, "POST /portal/payment-methods")
            client["method_id"] = method["id"]

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, clients))
    invoiced_s = time.perf_counter() - started

    # Payments learns each balance from balance.changed: wait until it knows them all.
    import psycopg

    with psycopg.connect(plain_dsn(bench_db_url("payments")), autocommit=True) as conn:
        def known():
            ready = conn.execute("SELECT count(*) FROM accounts WHERE balance_cents >= %s", (INVOICE_CENTS,)).fetchone()
            on = conn.execute("SELECT online_payments_enabled FROM practice WHERE id = 1").fetchone()
            return ready[0] >= len(clients) and on and on[0]

        _eventually(known, 60, "payments knows every balance and that online payments are on")
        # The raw charge charges what Pay Now charges: the saved card's payment method at the processor, with its
        # customer (the token the card was saved from is spent: tokens are single-use).
        for client in clients:
            client["processor_method"], client["processor_customer"] = conn.execute(
                "SELECT processor_payment_method_id, processor_customer_id FROM payment_methods WHERE id = %s",
                (client["method_id"],)).fetchone()
    http.close()
    return {"clients": len(clients), "service_code": code, "setup_s": round(time.perf_counter() - started, 1),
            "invoices_and_cards_s": round(invoiced_s, 1)}


# --- measuring ---------------------------------------------------------------------------------------

def _counts(payments_dsn: str, billing_dsn: str) -> dict:
    import psycopg

    with psycopg.connect(payments_dsn, autocommit=True) as conn:
        rows = dict(conn.execute("SELECT status, count(*) FROM payments GROUP BY status").fetchall())
        rows["unposted"] = conn.execute("SELECT count(*) FROM payments WHERE status = 'succeeded' "
                                        "AND posted_at IS NULL").fetchone()[0]
    with psycopg.connect(billing_dsn, autocommit=True) as conn:
        rows["on_ledger"] = conn.execute("SELECT count(*) FROM ledger_entries WHERE kind = 'payment'").fetchone()[0]
    return rows


def _delta(before: dict, after: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in ("succeeded", "failed", "processing", "pending")
            if after.get(k, 0) - before.get(k, 0)}


def drain(payments_dsn: str, billing_dsn: str, timeout: float = 90.0) -> dict:
    """Waits until billing's ledger has every succeeded payment and payments has seen every payment.posted."""
    started = time.perf_counter()
    counts = _counts(payments_dsn, billing_dsn)
    while time.perf_counter() - started < timeout:
        counts = _counts(payments_dsn, billing_dsn)
        if counts["on_ledger"] >= counts.get("succeeded", 0) and counts["unposted"] == 0:
            return {"drained": True, "seconds": round(time.perf_counter() - started, 2), **counts}
        time.sleep(0.1)
    return {"drained": False, "seconds": round(time.perf_counter() - started, 2), **counts}


def wrk_run(url: str, script, groups: dict[str, int], dsns: tuple[str, str], *, connections: int, threads: int,
            duration: float, warmup: float, events: bool) -> dict:
    """A measured wrk run; for Pay Now, then the wait until its events have reached billing's ledger, and the
    payments it made (warm-up included) by status."""
    before = _counts(*dsns)
    result = measured(url, script, groups, connections=connections, threads=threads, duration=duration,
                      warmup=warmup, drop=("bench",))
    if events:
        result["drain"] = drain(*dsns)
    result["payments"] = _delta(before, _counts(*dsns))
    return result


class _Load:
    """CPU use of the process groups (and of everything else) between construction and stop()."""

    def __init__(self, groups: dict[str, int]):
        self.groups = groups
        self.cpu, self.machine = cpu_snapshot(groups), machine_ticks()

    def stop(self, requests_done: int) -> dict:
        cpu, machine = cpu_delta(self.cpu, cpu_snapshot(self.groups)), machine_ticks()
        capacity = (machine[1] - self.machine[1]) or 1.0
        busy = machine[0] - self.machine[0]
        return {"machine_busy": round(busy / capacity, 2),
                "other_cpu_share": round(max(0.0, busy - sum(cpu.values())) / capacity, 2),
                "cpu_ms_per_req": {k: round(v * 1000 / max(1, requests_done), 3) for k, v in cpu.items() if v > 0}}


def ledger_lag(stack: Stack, clients: list[dict], rate: float, seconds: float, billing_dsn: str,
               workers: int = 32) -> dict:
    """Pay Now paced at `rate` per second for `seconds` (round robin over the clients, from a thread pool),
    and for each payment the time from its 201 answer until billing's ledger has its entry (polled on a
    connection of its own every 5 ms)."""
    import psycopg

    url = stack.urls["gateway"] + PAY_PATH
    local = threading.local()
    lock = threading.Lock()
    answered: dict[str, tuple[float, float]] = {}  # payment id -> (sent, answered), epoch s
    seen: dict[str, tuple[float, float]] = {}  # payment id -> (seen by the poller, entry's occurred_at), epoch s
    refused: list[str] = []
    waiting: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    problems: list[BaseException] = []

    def pay(i: int) -> None:
        client = clients[i % len(clients)]
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        sent = time.time()
        try:
            r = session.post(url, timeout=30, json={"amount_cents": PAYMENT_CENTS, "payment_method_id":
                                                    client["method_id"]},
                             headers={"Authorization": f"Bearer {client['access_token']}",
                                      "Idempotency-Key": str(uuid.uuid4())})
        except requests.RequestException as exc:
            with lock:
                refused.append(type(exc).__name__)
            return
        done = time.time()
        body = r.json() if r.status_code == 201 else {}
        if r.status_code != 201 or body.get("status") != "succeeded":
            with lock:
                refused.append(f"{r.status_code} {body.get('status', r.text[:80])}")
            return
        with lock:
            answered[body["id"]] = (sent, done)
        waiting.put(body["id"])

    def poll() -> None:
        try:
            pending: set[str] = set()
            with psycopg.connect(billing_dsn, autocommit=True) as conn:
                while not (stop.is_set() and not pending):
                    while True:
                        try:
                            pending.add(waiting.get_nowait())
                        except queue.Empty:
                            break
                    if pending:
                        rows = conn.execute("SELECT payment_id, extract(epoch FROM occurred_at)::float FROM "
                                            "ledger_entries WHERE kind = 'payment' AND payment_id = ANY(%s)",
                                            (list(pending),)).fetchall()
                        now = time.time()
                        with lock:
                            for payment_id, occurred in rows:
                                seen[payment_id] = (now, occurred)
                        pending.difference_update(r[0] for r in rows)
                    time.sleep(0.005)
        except BaseException as exc:  # noqa: BLE001 (reported by the caller)
            problems.append(exc)

    poller = threading.Thread(target=poll, name="bench-ledger-poller", daemon=True)
    poller.start()
    load = _Load(stack.groups)
    interval = 1 / rate
    free = threading.Semaphore(workers)
    behind = 0  # slots that found every worker busy: the machine is not keeping up with the rate

    def paced(i: int) -> None:
        try:
            pay(i)
        finally:
            free.release()

    log(f"payments: ledger lag, Pay Now paced at {rate:g}/s for {seconds:.0f} s")
    count = 0
    with ThreadPoolExecutor(workers, thread_name_prefix="bench-pay") as pool:
        started = time.perf_counter()
        while True:
            due = started + count * interval
            if due - started >= seconds:
                break
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            if not free.acquire(blocking=False):
                behind += 1
                free.acquire()  # sent late; the run still ends on time, with fewer payments
                if time.perf_counter() - started >= seconds:
                    free.release()
                    break
            pool.submit(paced, count)
            count += 1
        produce_s = time.perf_counter() - started
    answered_s = time.perf_counter() - started
    load_values = load.stop(len(answered))
    # The tail: every answered payment reaches the ledger within 15 s, or it counts as late.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with lock:
            if all(p in seen for p in answered):
                break
        time.sleep(0.05)
    stop.set()
    poller.join(timeout=20)
    if problems:
        raise RuntimeError(f"the ledger poller failed: {problems[0]!r}") from problems[0]
    with lock:
        lags = [(seen[p][0] - a[1]) * 1000 for p, a in answered.items() if p in seen]
        to_entry = [(seen[p][1] - a[1]) * 1000 for p, a in answered.items() if p in seen]
        latency = [(a[1] - a[0]) * 1000 for a in answered.values()]
        late = [p for p in answered if p not in seen]
    return {
        "rate_target": rate, "seconds": round(seconds, 1), "sent": count, "sent_late": behind,
        "answered": len(answered), "wall_s": round(answered_s, 1),
        "refused": len(refused), "refusals": sorted(set(refused))[:5], "on_ledger": len(lags), "late": len(late),
        "send_rate": round(count / produce_s, 1) if produce_s else None,
        "achieved_rate": round(len(answered) / answered_s, 1) if answered_s else None,
        "lag_p50_ms": _r(percentile(lags, 50)), "lag_p90_ms": _r(percentile(lags, 90)),
        "lag_p99_ms": _r(percentile(lags, 99)), "lag_max_ms": _r(max(lags, default=None)),
        "entry_p50_ms": _r(percentile(to_entry, 50)), "entry_p99_ms": _r(percentile(to_entry, 99)),
        "pay_p50_ms": _r(percentile(latency, 50)), "pay_p99_ms": _r(percentile(latency, 99)),
        "pay_max_ms": _r(max(latency, default=None)), **load_values,
    }


def paced_latency(stack: Stack, clients: list[dict], kind: str, rate: float, seconds: float) -> dict:
    """Open loop: requests sent at a fixed rate, well below capacity (from a thread pool, a requests.Session per
    thread), each one's latency measured. Unlike wrk -c1, which sends the next payment the moment the last is
    answered, the stack has finished each payment's events before the next arrives: what is measured is the
    answer's own path, not the queue behind a saturated machine. `kind`: "charge" (the sandbox, raw) or "paynow"
    (through the gateway)."""
    local = threading.local()
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        client = clients[i % len(clients)]
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        if kind == "paynow":
            url, headers = stack.urls["gateway"] + PAY_PATH, {"Authorization": f"Bearer {client['access_token']}",
                                                             "Idempotency-Key": str(uuid.uuid4())}
            body = {"amount_cents": PAYMENT_CENTS, "payment_method_id": client["method_id"]}
        else:
            url, headers = stack.urls["sandbox"] + CHARGE_PATH, {"Authorization": f"Bearer {PROCESSOR_KEY}"}
            body = {"payment_method": client["processor_method"], "customer": client["processor_customer"],
                    "amount_cents": PAYMENT_CENTS, "currency": "USD",
                    "reference": str(uuid.uuid4()), "description": "Client portal payment"}
        started = time.perf_counter()
        r = session.post(url, json=body, headers=headers, timeout=30)
        elapsed = (time.perf_counter() - started) * 1000
        ok = r.status_code in (200, 201) and r.json().get("status") == "succeeded"
        with lock:
            (latencies.append(elapsed) if ok else failures.append(f"{r.status_code} {r.text[:80]}"))

    count = int(rate * seconds)
    with ThreadPoolExecutor(8, thread_name_prefix=f"bench-{kind}") as pool:
        started = time.perf_counter()
        for i in range(count):
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            pool.submit(one, i)
    return {"kind": kind, "rate": rate, "seconds": seconds, "n": len(latencies), "failed": len(failures),
            "failures": sorted(set(failures))[:3], "p50_ms": _r(percentile(latencies, 50)),
            "p90_ms": _r(percentile(latencies, 90)), "p99_ms": _r(percentile(latencies, 99))}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


REVOCATION_LOGOUTS = 20


def revocation_lag(stack: Stack, email: str, n: int) -> dict:
    """How long a logout takes to hold everywhere: from the logout's 204 to the last place's first 401 for the
    access token of the session it ended (the gateway, and each service asked directly), over `n` logouts. Each
    process polls identity's list of ended sessions every REVOCATION_REFRESH_SECONDS (2 s): about 2 s at most."""
    from bench.common import CLIENT_PASSWORD

    places = {"gateway": stack.urls["gateway"] + "/api/v1/portal/me",
              "identity": stack.urls["identity"] + "/api/v1/portal/me",
              "billing": stack.urls["billing"] + "/api/v1/portal/account",
              "payments": stack.urls["payments"] + "/api/v1/portal/payment-methods"}
    http = requests.Session()
    took = []
    for _ in range(n):
        tokens = http.post(stack.urls["gateway"] + "/api/v1/auth/login", timeout=30,
                           json={"email": email, "password": CLIENT_PASSWORD}).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        if any(http.get(url, headers=auth, timeout=10).status_code != 200 for url in places.values()):
            raise RuntimeError("a signed-in request was refused before the logout")
        logout = http.post(stack.urls["gateway"] + "/api/v1/auth/logout", timeout=30,
                           json={"refresh_token": tokens["refresh_token"]})
        if logout.status_code != 204:
            raise RuntimeError(f"logout answered {logout.status_code}")
        ended, waiting = time.monotonic(), dict(places)
        deadline = ended + 30
        while waiting and time.monotonic() < deadline:
            for name, url in list(waiting.items()):
                if http.get(url, headers=auth, timeout=10).status_code == 401:
                    del waiting[name]
            if waiting:
                time.sleep(0.02)  # polling the places: a measurement, not a test
        if waiting:
            raise RuntimeError(f"still let through 30 s after the logout: {sorted(waiting)}")
        took.append(time.monotonic() - ended)
    return {"n": n, "p50_s": round(percentile(took, 50), 2), "max_s": round(max(took), 2)}


def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    from bench.events_part import BenchBroker
    from shared.config import env as setting

    fixture = prepare_identity(workspace)
    n_clients = settings.get("payments_clients", 64)
    concurrency = settings.get("payments_concurrency", 16)
    out: dict = {"clients": n_clients, "concurrency": concurrency}
    billing_url, payments_url = bench_db_url("billing"), bench_db_url("payments")
    dsns = (plain_dsn(payments_url), plain_dsn(billing_url))
    broker = BenchBroker(setting("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    try:
        if not broker.vhost_mode:
            raise RuntimeError("the payments part needs its own RabbitMQ vhost (rabbitmqctl on this machine): its "
                               "relays and consumers would share the configured vhost with the developer's stack")
        for name, url in (("billing", billing_url), ("payments", payments_url)):
            log(f"payments: recreating {url.rsplit('/', 1)[-1]}")
            recreate_database(name, url)
        log(f"payments: registering {n_clients} clients")
        clients = registered_clients(workspace, n_clients, uuid.uuid4().hex[:8])
        stack = Stack(procs, workspace, broker.url)
        log("payments: starting the stack (sandbox, identity, billing, payments, gateway, events processes)")
        stack.start()
        out["setup"] = prepare_clients(stack, fixture["admin_token"], clients)
        log(f"payments: {n_clients} clients invoiced {INVOICE_CENTS} cents each with a saved card "
            f"({out['setup']['setup_s']} s)")

        # One payment per client: everything is connected, and every client can pay.
        with ThreadPoolExecutor(8) as pool:
            def first(client: dict) -> str:
                r = requests.post(stack.urls["gateway"] + PAY_PATH, timeout=30,
                                  json={"amount_cents": PAYMENT_CENTS, "payment_method_id": client["method_id"]},
                                  headers={"Authorization": f"Bearer {client['access_token']}",
                                           "Idempotency-Key": str(uuid.uuid4())})
                return "succeeded" if r.status_code == 201 and r.json()["status"] == "succeeded" else \
                    f"{r.status_code} {r.text[:200]}"

            answers = list(pool.map(first, clients))
        if any(a != "succeeded" for a in answers):
            raise RuntimeError(f"a first payment failed: {next(a for a in answers if a != 'succeeded')}")
        out["first_payments_drain"] = drain(*dsns)

        c1_duration, duration = settings["c1_duration"], settings["duration"]
        pay_duration, warmup = settings.get("payments_duration", 20.0), settings["warmup"]
        sandbox, gateway = stack.urls["sandbox"] + CHARGE_PATH, stack.urls["gateway"] + PAY_PATH
        runs = [("raw charge", "c1", sandbox, "charge", 1, 1, c1_duration, 1),
                ("Pay Now", "c1", gateway, "paynow", 1, 1, c1_duration, 1),
                ("raw charge", f"c{concurrency}", sandbox, "charge", concurrency, 2, duration, warmup),
                ("Pay Now", f"c{concurrency}", gateway, "paynow", concurrency, 2, pay_duration, warmup)]
        out["runs"] = {}
        for name, label, url, kind, connections, threads, seconds, warm in runs:
            script = _script(workspace, kind, clients, threads)
            log(f"payments: {name} {label}: {seconds:.0f} s")
            result = wrk_run(url, script, stack.groups, dsns, connections=connections, threads=threads,
                             duration=seconds, warmup=warm, events=kind == "paynow")
            out["runs"][f"{name} {label}"] = result
            log(f"payments: {name} {label}: {result['rps']}/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
                f"errors {result['non_2xx_3xx'] + result['socket_errors']}, payments {result['payments']}"
                + (f"; on the ledger {result['drain']['seconds']} s after the run" if "drain" in result else ""))

        # The aim's rate; and, when this machine cannot keep it up, half the rate Pay Now reached at c16 (the
        # lag of the event path itself, without a queue of payments in front of it).
        target = settings.get("lag_rate", 50.0)
        rates = [target]
        capacity = out["runs"][f"Pay Now c{concurrency}"]["rps"]
        if capacity < 1.2 * target:
            rates.append(max(1.0, float(round(capacity / 2))))
        out["lag"], out["lag_runs"] = None, []
        for rate in rates:
            lag = ledger_lag(stack, clients, rate, settings.get("lag_seconds", 20.0), dsns[1])
            out["lag_runs"].append(lag)
            log(f"payments: ledger lag at {rate:g}/s: p50 {lag['lag_p50_ms']} ms, p99 {lag['lag_p99_ms']} ms, max "
                f"{lag['lag_max_ms']} ms ({lag['answered']} payments, {lag['achieved_rate']}/s answered; "
                f"{lag['late']} late, {lag['refused']} refused)")
            lag["drain"] = drain(*dsns, timeout=60)
        out["lag"] = out["lag_runs"][0]
        out["final"] = drain(*dsns, timeout=30)

        # What the service adds to the processor call, each request on a machine that is not busy with the
        # ones before it: both paced at the same low rate.
        paced_rate, paced_seconds = settings.get("paced_rate", 10.0), settings.get("paced_seconds", 15.0)
        out["paced"] = {}
        for kind, name in (("charge", "raw charge"), ("paynow", "Pay Now")):
            log(f"payments: {name} paced at {paced_rate:g}/s for {paced_seconds:.0f} s")
            result = paced_latency(stack, clients, kind, paced_rate, paced_seconds)
            out["paced"][name] = result
            log(f"payments: {name} paced: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms "
                f"({result['n']} answered, {result['failed']} failed)")
        out["paced"]["drain"] = drain(*dsns, timeout=30)

        log(f"payments: revocation lag over {REVOCATION_LOGOUTS} logouts")
        out["revocation"] = revocation_lag(stack, clients[0]["email"], REVOCATION_LOGOUTS)
        log(f"payments: revocation lag p50 {out['revocation']['p50_s']} s, max {out['revocation']['max_s']} s")
    finally:
        procs.stop_all()
        broker.cleanup()
        dispose_engines()
        drop_bench_database(billing_url)
        drop_bench_database(payments_url)
    return out
