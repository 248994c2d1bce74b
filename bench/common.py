"""What every benchmark part uses: the bench environment, child processes, wrk, bench databases."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_PREFIX = "portal_bench_"
ADMIN_EMAIL = "bench-admin@bench.local"
ADMIN_PASSWORD = "Bench admin: copper kettle sings 2026!"
CLIENT_EMAIL = "casey.bench@bench.local"
CLIENT_PASSWORD = "Bench client: quiet harbor lantern 2026!"


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pg_base_url() -> str:
    from shared.config import PG_BASE_URL

    return os.environ.get("PG_BASE_URL") or PG_BASE_URL


def bench_db_url(name: str) -> str:
    """SQLAlchemy URL of a bench database (`portal_bench_<name>`)."""
    return f"{pg_base_url()}/{DB_PREFIX}{name}"


def plain_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


# --- one bench run at a time on a machine -------------------------------------------------------------

LOCK_PATH = Path(tempfile.gettempdir()) / "portal-bench.lock"


def exclusive_run(wait: float = 900.0):
    """Holds the machine's bench lock (a flock on /tmp/portal-bench.lock) for this process's lifetime: two runs
    would drop each other's portal_bench_* databases and vhost, and share the cores besides. A second run
    waits up to `wait` seconds, then gives up. Answers the open lock file (keep it referenced)."""
    import fcntl

    handle = open(LOCK_PATH, "a+")  # noqa: SIM115 (held until the process ends)
    deadline = time.monotonic() + wait
    told = 0.0
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                handle.close()
                raise RuntimeError(f"another bench run holds {LOCK_PATH} (pid {_lock_owner()}) after {wait:.0f} s") \
                    from None
            if time.monotonic() - told > 30:
                log(f"another bench run (pid {_lock_owner()}) is using the bench databases; waiting for it")
                told = time.monotonic()
            time.sleep(1)
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _lock_owner() -> str:
    try:
        return LOCK_PATH.read_text().strip() or "?"
    except OSError:
        return "?"


# --- the workspace: key files, logs, metrics dirs; the environment every process shares ------------

@dataclass
class Workspace:
    tmp: Path
    keep: bool = False

    @classmethod
    def create(cls, keep: bool = False) -> Workspace:
        return cls(Path(tempfile.mkdtemp(prefix="portal-bench-")), keep)

    def path(self, *parts: str) -> Path:
        p = self.tmp.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def env(self) -> dict[str, str]:
        """The settings every bench process (and this one) runs with: bench databases, shared keys."""
        return {
            "DB_PREFIX": DB_PREFIX,
            # Explicit, so an IDENTITY_DATABASE_URL of the developer's own cannot point the bench elsewhere.
            "IDENTITY_DATABASE_URL": bench_db_url("identity"),
            "JWT_PRIVATE_KEY_FILE": str(self.path("keys", "identity-jwt.pem")),
            "IDENTITY_SECRET_KEY_FILE": str(self.path("keys", "identity-secret.key")),
            # No config has a default secret (shared.config.secret): the bench's own, explicit ones.
            "INTERNAL_API_KEY": "bench-internal-key", "PROCESSOR_API_KEY": "sk_test_bench",
            "SANDBOX_API_KEY": "sk_test_bench", "WEB_SECRET_KEY": "bench-web-secret-key-0123456789abcdef",
            "ACCESS_TOKEN_TTL_SECONDS": "3600",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }

    def cleanup(self) -> None:
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)


# --- child processes: each in its own process group, always stopped ---------------------------------

@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log_path: Path
    stop_signal: int = signal.SIGTERM
    url: str | None = None
    extra: dict = field(default_factory=dict)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Procs:
    def __init__(self, workspace: Workspace):
        self.workspace = workspace
        self.running: list[Proc] = []

    def start(self, name: str, argv: list[str], env: dict[str, str], *, stop_signal: int = signal.SIGTERM,
              url: str | None = None) -> Proc:
        log_path = self.workspace.path("logs", f"{name}-{int(time.time() * 1000)}.log")
        with open(log_path, "wb") as out:
            popen = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        proc = Proc(name, popen, log_path, stop_signal, url)
        self.running.append(proc)
        return proc

    def stop(self, proc: Proc, timeout: float = 15.0) -> None:
        if proc in self.running:
            self.running.remove(proc)
        if proc.popen.poll() is None:
            try:
                os.kill(proc.popen.pid, proc.stop_signal)
                proc.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{proc.name} did not stop in {timeout:.0f} s; killing it")
            except ProcessLookupError:
                pass
        # Whatever is left of the group (workers, a hung master) goes now.
        try:
            os.killpg(proc.popen.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log(f"{proc.name} (pid {proc.popen.pid}) is still there after SIGKILL")

    def stop_all(self) -> None:
        for proc in reversed(list(self.running)):
            self.stop(proc, timeout=10)


def gunicorn(procs: Procs, name: str, app: str, env: dict[str, str], *, worker_class: str = "gthread",
             workers: int = 2, threads: int | None = None, ready_path: str = "/readyz",
             ready_timeout: float = 40.0) -> Proc:
    """Starts `app` under gunicorn with deploy/gunicorn.conf.py on a free port and waits until it is ready."""
    port = free_port()
    env = dict(env)
    env.update({
        "WEB_CONCURRENCY": str(workers),
        "GUNICORN_WORKER_CLASS": worker_class,
        "PROMETHEUS_MULTIPROC_DIR": str(procs.workspace.path("prometheus", f"{name}-{port}", "x").parent),
        # One control socket per process: the config's default (/tmp/gunicorn.ctl) is shared by all.
        "GUNICORN_CONTROL_SOCKET": str(procs.workspace.path("ctl", f"{name}-{port}.ctl")),
    })
    env.pop("GUNICORN_THREADS", None)
    if threads is not None:
        env["GUNICORN_THREADS"] = str(threads)
    argv = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}"]
    config = ROOT / "deploy" / "gunicorn.conf.py"
    if config.exists():
        argv += ["-c", str(config)]
    else:  # the shared config is not there yet: the same settings as flags
        argv += ["-w", str(workers), "-k", worker_class, "--threads", str(threads or (8 if worker_class == "gthread"
                                                                                      else 1)),
                 "--keep-alive", "65", "--log-level", "warning"]
    argv.append(app)
    # SIGINT: gunicorn's quick shutdown (SIGTERM would wait up to graceful_timeout for idle keep-alives).
    proc = procs.start(name, argv, env, stop_signal=signal.SIGINT, url=f"http://127.0.0.1:{port}")
    try:
        wait_ready(proc, ready_path, ready_timeout)
    except BaseException:
        procs.stop(proc)
        raise
    return proc


def wait_ready(proc: Proc, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")
        try:
            with urllib.request.urlopen(proc.url + path, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}: {exc.read()[:200]!r}"
        except OSError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} not ready after {timeout:.0f} s ({last}):\n{proc.tail()}")


# --- wrk -------------------------------------------------------------------------------------------

_DONE_HOOK = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,' ..
    '"status":%.0f,"timeout":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,"mean_us":%.1f,"max_us":%.0f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal for ASCII text


def wrk_script(workspace: Workspace, name: str, *, method: str = "GET", headers: dict[str, str] | None = None,
               body: str | None = None) -> Path:
    lines = [f"wrk.method = {lua_string(method)}"]
    for key, value in (headers or {}).items():
        lines.append(f"wrk.headers[{lua_string(key)}] = {lua_string(value)}")
    if body is not None:
        lines.append(f"wrk.body = {lua_string(body)}")
    path = workspace.path("wrk", f"{name}.lua")
    path.write_text("\n".join(lines) + "\n" + _DONE_HOOK)
    return path


def wrk_lua(workspace: Workspace, name: str, lua: str) -> Path:
    """A wrk script of one's own Lua (a request() that varies each request, say) with the JSON done-hook."""
    path = workspace.path("wrk", f"{name}.lua")
    path.write_text(lua.rstrip() + "\n" + _DONE_HOOK)
    return path


def lua_table(values: list[str]) -> str:
    """A Lua array literal of strings."""
    return "{" + ", ".join(lua_string(v) for v in values) + "}"


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(url: str, script: Path, *, threads: int, connections: int, duration: float) -> dict:
    """One wrk run; answers req/s, latency percentiles (ms) and error counts."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "5s",
            "-s", str(script), url]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, check=False,
                          start_new_session=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCHJSON ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}")
    raw = json.loads(line[len("BENCHJSON "):])
    seconds = raw["duration_us"] / 1e6
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    return {
        "requests": int(raw["requests"]),
        "seconds": round(seconds, 2),
        "rps": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p90_ms": round(raw["p90_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "mean_ms": round(raw["mean_us"] / 1000, 2),
        "max_ms": round(raw["max_us"] / 1000, 2),
        "non_2xx_3xx": int(raw["status"]),
        "socket_errors": int(errors),
        "connections": connections,
        "threads": threads,
        "wrk_cpu_s": round(wrk_cpu, 3),
    }


def wrk_measure(url: str, script: Path, *, threads: int, connections: int, duration: float,
                warmup: float) -> dict:
    """A warm-up run (discarded), then the measured one."""
    if warmup > 0:
        wrk(url, script, threads=threads, connections=connections, duration=warmup)
    return wrk(url, script, threads=threads, connections=connections, duration=duration)


# --- bench databases -------------------------------------------------------------------------------

def recreate_database(service: str, url: str) -> None:
    """Drops the bench database and creates it again at the newest migration."""
    from shared.migrations import drop_database, upgrade

    if DB_PREFIX not in url.rsplit("/", 1)[-1]:
        raise RuntimeError(f"refusing to drop a database that is not a bench one: {url}")
    drop_database(url)
    upgrade(service, url)


def drop_bench_database(url: str) -> None:
    from shared.migrations import drop_database

    if DB_PREFIX not in url.rsplit("/", 1)[-1]:
        raise RuntimeError(f"refusing to drop a database that is not a bench one: {url}")
    try:
        drop_database(url)
    except Exception as exc:  # cleanup must not hide the real error
        log(f"could not drop {url}: {exc}")


def dispose_engines() -> None:
    """Closes this process's pooled connections (before dropping the databases they point at)."""
    import shared.db

    for engine in list(shared.db._engines.values()):
        engine.dispose()
    shared.db._engines.clear()


# --- CPU accounting: where the two cores went during a measured run --------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _proc_stats():
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                raw = f.read().decode(errors="replace")
        except OSError:
            continue
        comm = raw[raw.find("(") + 1:raw.rfind(")")]
        rest = raw[raw.rfind(")") + 2:].split()
        yield int(entry.name), comm, int(rest[2]), (int(rest[11]) + int(rest[12])) / _TICK


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _postgres_is_ours(pid: int) -> bool:
    """A backend serving a bench database, or one of the server's shared processes (WAL writer, ...).

    A backend's title is "postgres: USER DATABASE HOST(PORT) STATE"; the shared ones name no database."""
    title = _cmdline(pid)
    if DB_PREFIX in title:
        return True
    return not re.search(r"\d+\(\d+\)|\[local\]", title)


def cpu_snapshot(groups: dict[str, int]) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far per process, labelled: each named process group, PostgreSQL (bench
    databases and shared processes), RabbitMQ, wrk, this process. Other processes are not listed."""
    by_pgid = {pgid: name for name, pgid in groups.items()}
    me = os.getpid()
    found: dict[int, tuple[str, float]] = {}
    for pid, comm, pgrp, seconds in _proc_stats():
        if pgrp in by_pgid:
            found[pid] = (by_pgid[pgrp], seconds)
        elif comm.startswith("postgres"):
            if _postgres_is_ours(pid):
                found[pid] = ("postgres", seconds)
        elif comm.startswith("beam") or comm in ("erl_child_setup", "epmd"):
            found[pid] = ("rabbitmq", seconds)
        elif comm == "wrk":
            found[pid] = ("wrk", seconds)
        elif pid == me:
            found[pid] = ("bench", seconds)
    return found


def cpu_delta(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per label between two snapshots, process by process (a process that ended in between
    is left out: its last moments are lost, never counted negative)."""
    totals: dict[str, float] = {}
    for pid, (name, seconds) in after.items():
        totals[name] = totals.get(name, 0.0) + seconds - (before[pid][1] if pid in before else 0.0)
    return {name: round(value, 3) for name, value in totals.items()}


def machine_ticks() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])  # guest time is already counted in user
    return (total - idle) / _TICK, total / _TICK


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float | None:
    """Share of all cores busy between two machine_ticks()."""
    total = after[1] - before[1]
    return round((after[0] - before[0]) / total, 2) if total > 0 else None
