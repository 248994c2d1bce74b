"""`python -m bench.run [--only http|events|login|billing|payments|web|scheduling|messaging]`: measures, prints the
Markdown table README keeps, and writes it to var/bench/latest.md (and the raw numbers to var/bench/latest.json).

Every aim is a ratio within one run on one machine: wrk, the gunicorn processes, PostgreSQL and
RabbitMQ all share the same cores, so absolute numbers only compare within the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import time
import traceback
from datetime import UTC, datetime

from bench import report
from bench.common import (
    ROOT,
    Procs,
    Workspace,
    bench_db_url,
    dispose_engines,
    drop_bench_database,
    exclusive_run,
    have_wrk,
    log,
)

PARTS = ("http", "events", "login", "billing", "payments", "web", "scheduling", "messaging")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=PARTS,
                        help="run only this part (repeatable); default: all")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each measured wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk warm-up before each run")
    parser.add_argument("--c1-duration", type=float, default=5.0, help="seconds of each 1-connection run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--login-connections", type=int, default=8)
    parser.add_argument("--events-n", type=int, default=20000, help="outbox rows the relay publishes")
    parser.add_argument("--raw-n", type=int, default=5000, help="messages of each raw pika run")
    parser.add_argument("--latency-rate", type=int, default=100, help="events per second of the latency run")
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--consumer-n", type=int, default=2000, help="backlog the consumer drains")
    parser.add_argument("--argon2-n", type=int, default=50)
    parser.add_argument("--billing-entries", type=int, default=50_000, help="ledger entries of the seeded client")
    parser.add_argument("--billing-invoices", type=int, default=5_000, help="invoices of the seeded client")
    parser.add_argument("--payments-clients", type=int, default=64, help="clients paying, each with a saved card")
    parser.add_argument("--payments-concurrency", type=int, default=16)
    parser.add_argument("--payments-duration", type=float, default=20.0, help="seconds of the concurrent Pay Now run")
    parser.add_argument("--lag-rate", type=float, default=50.0, help="payments per second of the ledger-lag run")
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    parser.add_argument("--paced-rate", type=float, default=10.0,
                        help="requests per second of the open-loop raw charge and Pay Now runs")
    parser.add_argument("--paced-seconds", type=float, default=15.0)
    parser.add_argument("--web-connections", type=int, default=8, help="connections of the web pages' wrk runs")
    parser.add_argument("--scheduling-appointments", type=int, default=5_000,
                        help="holding appointments of the clinician whose month of availability is asked")
    parser.add_argument("--scheduling-race-slots", type=int, default=200, help="slots the racing connections book")
    parser.add_argument("--scheduling-requests", type=int, default=2_000, help="pending requests approved")
    parser.add_argument("--scheduling-connections", type=int, default=8,
                        help="connections racing for the slots and approving the requests")
    parser.add_argument("--messaging-threads", type=int, default=10_000, help="threads seeded for the inbox runs")
    parser.add_argument("--messaging-client-threads", type=int, default=1_000,
                        help="of which the bench client's (its portal list)")
    parser.add_argument("--messaging-connections", type=int, default=4,
                        help="connections of the inbox runs beside the 1-connection one")
    parser.add_argument("--messaging-uploads", type=int, default=5, help="10 MB uploads (and downloads) each way")
    parser.add_argument("--bell-rate", type=float, default=100.0, help="events per second of the bell run")
    parser.add_argument("--bell-seconds", type=float, default=20.0)
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (server logs, wrk scripts)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave var/bench/ alone")
    return parser.parse_args(argv)


def environment() -> dict:
    info = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "cores": os.cpu_count(),
            "python": platform.python_version(), "cpu": _cpu_model()}
    try:
        import gunicorn

        info["gunicorn"] = gunicorn.__version__
    except ImportError:
        pass
    try:
        import psycopg

        from bench.common import pg_base_url, plain_dsn

        with psycopg.connect(plain_dsn(pg_base_url() + "/postgres"), connect_timeout=3) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    except Exception:  # informative only
        info["postgresql"] = "?"
    try:
        import pika

        from shared.config import env

        conn = pika.BlockingConnection(pika.URLParameters(env("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")))
        try:
            version = conn._impl.server_properties.get("version", b"?")
            info["rabbitmq"] = version.decode() if isinstance(version, bytes) else str(version)
        finally:
            conn.close()
    except Exception:  # informative only
        info["rabbitmq"] = "?"
    info["busy_before"] = machine_busy()
    try:
        info["loadavg_before"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def machine_busy(seconds: float = 1.0) -> float | None:
    """Share of all cores busy over `seconds` (before the bench starts anything: other people's work)."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    try:
        total1, idle1 = sample()
        time.sleep(seconds)
        total2, idle2 = sample()
    except OSError:
        return None
    return round(1 - (idle2 - idle1) / max(1, total2 - total1), 2)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts = [p for p in PARTS if not args.only or p in args.only]
    settings = {"duration": args.duration, "warmup": args.warmup, "c1_duration": args.c1_duration,
                "connections": args.connections, "login_connections": args.login_connections,
                "events_n": args.events_n, "raw_n": args.raw_n, "latency_rate": args.latency_rate,
                "latency_seconds": args.latency_seconds, "argon2_n": args.argon2_n,
                "consumer_n": args.consumer_n, "billing_entries": args.billing_entries,
                "billing_invoices": args.billing_invoices, "payments_clients": args.payments_clients,
                "payments_concurrency": args.payments_concurrency, "payments_duration": args.payments_duration,
                "lag_rate": args.lag_rate, "lag_seconds": args.lag_seconds, "paced_rate": args.paced_rate,
                "paced_seconds": args.paced_seconds, "web_connections": args.web_connections,
                "scheduling_appointments": args.scheduling_appointments,
                "scheduling_race_slots": args.scheduling_race_slots, "scheduling_requests": args.scheduling_requests,
                "scheduling_connections": args.scheduling_connections,
                "messaging_threads": args.messaging_threads,
                "messaging_client_threads": args.messaging_client_threads,
                "messaging_connections": args.messaging_connections, "messaging_uploads": args.messaging_uploads,
                "bell_rate": args.bell_rate, "bell_seconds": args.bell_seconds}
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    os.chdir(ROOT)
    lock = exclusive_run()  # noqa: F841 (held until this process ends)

    workspace = Workspace.create(keep=args.keep_tmp)
    os.environ.update(workspace.env())
    procs = Procs(workspace)
    results: dict = {"environment": environment(), "settings": settings, "parts": parts, "errors": {}}
    started = time.monotonic()
    log(f"parts: {', '.join(parts)}; temp dir {workspace.tmp}")
    busy = results["environment"].get("busy_before")
    if busy is not None and busy > 0.25:
        log(f"warning: the machine was {busy:.0%} busy before the bench started; the numbers will be noisy")
    try:
        for part in parts:
            if part in ("http", "login", "billing", "payments") and not have_wrk():
                results["errors"][part] = "wrk is not installed"
                log(f"{part}: skipped, wrk is not installed")
                if part == "login":  # the argon2 cost needs no wrk
                    from bench.login_part import argon2_cost

                    results["login"] = {"argon2": argon2_cost(args.argon2_n)}
                continue
            part_started = time.monotonic()
            try:
                module = __import__(f"bench.{part}_part", fromlist=["run"])
                results[part] = module.run(procs, workspace, settings)
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:
                results["errors"][part] = f"{type(exc).__name__}: {exc}"
                log(f"{part} failed:\n{traceback.format_exc()}")
            finally:
                procs.stop_all()
                log(f"{part}: {time.monotonic() - part_started:.0f} s")
    finally:
        procs.stop_all()
        dispose_engines()
        # The parts drop their own; a kill may have skipped that.
        for name in ("identity", "billing", "payments", "scheduling", "messaging"):
            drop_bench_database(bench_db_url(name))
        workspace.cleanup()
    results["total_s"] = round(time.monotonic() - started, 1)
    try:
        results["environment"]["loadavg_after"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass

    markdown = report.markdown(results)
    print(markdown)
    if not args.no_write:
        out_dir = ROOT / "var" / "bench"
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "latest.md").write_text(markdown)
        (out_dir / "latest.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        log(f"written: {out_dir / 'latest.md'}, {out_dir / 'latest.json'} ({results['total_s']:.0f} s in all)")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
