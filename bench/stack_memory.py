"""`python -m bench.stack_memory`: the memory of the whole stack as `make run` starts it (the Procfile), idle.

Starts every Procfile entry under honcho on bench databases (DB_PREFIX bench_mem_) and a bench vhost-free broker
(the local RabbitMQ, whose queues it leaves as make run would), waits until every web process answers /readyz and
every relay and consumer serves its metrics port, lets the stack settle, then sums each entry's processes'
proportional set size (PSS: shared pages split between the processes sharing them, so the sum is what the stack
really holds). Prints one Markdown row per entry and the total, and writes var/bench/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.common import ROOT, log

ENTRY = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def procfile_entries(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text().splitlines():
        match = ENTRY.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            entries[match.group(1)] = match.group(2)
    return entries


def children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants(pid: int, tree: dict[int, list[int]]) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += tree.get(current, [])
    return found


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def is_python(pid: int) -> bool:
    """The suite's own processes (python, gunicorn, celery from the venv), not the shells honcho starts them in."""
    line = command_line(pid)
    return "python" in line.split(" ", 1)[0] or "/.venv/bin/" in line


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def reachable(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 (127.0.0.1 only)
            return answer.status == 200
    except OSError:
        return False


def wait_until_up(entries: dict[str, str], deadline: float) -> None:
    """Every web port answers /readyz, every METRICS_PORT answers /metrics."""
    targets = []
    for command in entries.values():
        bind = re.search(r"-b 127\.0\.0\.1:(\d+)", command)
        if bind:
            targets.append(f"http://127.0.0.1:{bind.group(1)}/" + ("readyz" if "sandbox" not in command else "healthz"))
        metrics = re.search(r"METRICS_PORT=(\d+)", command)
        if metrics:
            targets.append(f"http://127.0.0.1:{metrics.group(1)}/metrics")
    waiting = list(targets)
    while waiting and time.monotonic() < deadline:
        waiting = [url for url in waiting if not reachable(url)]
        if waiting:
            time.sleep(0.5)
    if waiting:
        raise SystemExit(f"not up: {waiting}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stack_memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose Procfile to start")
    parser.add_argument("--settle", type=float, default=15.0, help="seconds idle after everything is up")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    python = str(root / ".venv" / "bin" / "python")
    env = {**os.environ, "DB_PREFIX": "bench_mem_", "PYTHONPATH": str(root)}
    with tempfile.TemporaryDirectory() as scratch:
        secrets = Path(scratch) / "secrets.env"
        subprocess.run([python, "-m", "shared.secrets", str(secrets)], cwd=root, env=env, check=True)
        subprocess.run([str(root / ".venv/bin/honcho"), "run", "-e", str(secrets), python, "-m", "shared.manage",
                        "migrate"], cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)
        for name in ("mail", "prometheus"):
            (root / "var" / name).mkdir(parents=True, exist_ok=True)
        entries = procfile_entries(root / "Procfile")
        honcho = subprocess.Popen([str(root / ".venv/bin/honcho"), "start", "-e", str(secrets), "-f", "Procfile"],
                                  cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            wait_until_up(entries, time.monotonic() + 120)
            log(f"stack up; settling {args.settle:.0f} s")
            time.sleep(args.settle)  # a measurement's settling time, not a wait for an event
            tree = children()
            rows = []
            # each entry's processes: matched by command line
            # (honcho forks a child per entry, which starts it through a shell): the topmost process running it
            started = [(pid, command_line(pid)) for pid in descendants(honcho.pid, tree)]
            for name, command in entries.items():
                program = " ".join(t for t in command.replace('"', "").split() if not re.match(r"^[A-Z_]+=", t))
                pid = next((p for p, line in started if program in line), None)
                pids = [p for p in descendants(pid, tree) if is_python(p)] if pid else []
                rows.append({"entry": name, "processes": len(pids), "pss_mib": sum(map(pss_kib, pids)) / 1024})
        finally:
            os.killpg(honcho.pid, signal.SIGTERM)
            honcho.wait(60)
            subprocess.run([python, "-m", "shared.manage", "drop-databases"], cwd=root, env=env, check=False,
                           stdout=subprocess.DEVNULL)
    total = {"processes": sum(r["processes"] for r in rows), "pss_mib": sum(r["pss_mib"] for r in rows)}
    print("| Procfile entry | processes | PSS MiB |\n|---|---:|---:|")
    for row in rows:
        print(f"| {row['entry']} | {row['processes']} | {row['pss_mib']:.0f} |")
    print(f"| **all** | **{total['processes']}** | **{total['pss_mib']:.0f}** |")
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "memory.json").write_text(json.dumps({"rows": rows, "total": total}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
