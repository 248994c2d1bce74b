"""Scheduling: a month of availability for a clinician with 5,000 appointments, staff racing for the same slots,
and the throughput of approvals.

Aims: `GET /api/v1/portal/availability` of 31 days for one type and one clinician under 20 ms p99 at the service
(1 connection; 8 connections reported beside it); 8 connections booking the same slots make 0 double bookings
(exactly one appointment per slot, the rest 409); every one of 2,000 pending requests approved (200, never 409)
by 8 connections at once, approvals/s and p99 reported.

A fresh `portal_bench_scheduling` (migrated as `python -m shared.manage migrate scheduling` does) is seeded in
bulk (INSERT for the few setup rows, COPY for the appointments, then VACUUM ANALYZE): the practice row with
self-scheduling on and the default policy (24 hours' notice, a 60-day horizon), one site in America/New_York,
clinicians each with Mon-Sun 08:00-20:00 rules there, a 30-minute type bookable online and a 60-minute one staff
book, 300 clients; the busy clinician's 5,000 holding appointments (30 and 60 minutes, none overlapping, on the
half-hour grid) from 420 days ago to 100 days ahead, so the month asked holds a few hundred of them; and the
pending requests of the approval run on free slots of eight other clinicians. Times are relative to now: the
service's clock is real time.

Scheduling runs under gunicorn (deploy/gunicorn.conf.py, gthread 2x8) with identity beside it for the JWKS and
the list of ended sessions; the client's and the bench admin's tokens are those of bench.fixture. Availability
reads only scheduling's own copy of the practice's settings (identity is asked about self-scheduling on a
client's request, never on availability). wrk measures availability; the races and approvals are Python threads,
each with its own requests.Session (one keep-alive connection), and the database is asked afterwards what they
made.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall
from zoneinfo import ZoneInfo

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
    have_wrk,
    log,
    machine_ticks,
    percentile,
    plain_dsn,
    recreate_database,
    wrk_script,
)
from bench.fixture import prepare_identity
from bench.http_part import IDENTITY_APP, measured
from services.scheduling.models import HOLDING

SCHEDULING_APP = "services.scheduling.app:create_app()"
TIMEZONE = "America/New_York"
AVAILABILITY = "/api/v1/portal/availability"
BOOK = "/api/v1/staff/appointments"
APPROVE = "/api/v1/staff/appointment-requests/{}/approve"
PRIME = "/api/v1/staff/scheduling-settings"  # a cheap staff GET that opens each session's connection first
AIM_MS = 20.0
NOISY = 0.25
OPENS, CLOSES = wall(8), wall(20)
SLOT = timedelta(minutes=30)
SLOTS_PER_DAY = 24  # 08:00-20:00 in half hours
PAST_DAYS, FUTURE_DAYS = 420, 100  # the busy clinician's appointments: from 420 days ago to 100 days ahead
MONTH_OFFSET, MONTH_DAYS = 2, 31  # the month asked: from the day after tomorrow (clear of the 24 h notice), 31 days
CLIENTS = 300
APPROVAL_CLINICIANS = 8
NOTES = ("Evenings suit me best.", "Could we talk about the new job?", None, None, "First visit since the move.")


# --- the seed ----------------------------------------------------------------------------------------

def _day_grid(day: date, tz: ZoneInfo) -> list[datetime]:
    """The half-hour starts of one local day's 08:00-20:00 as UTC instants (the service steps from the window's
    start in absolute time; 08:00-20:00 never contains a clock change in New York)."""
    first = datetime.combine(day, OPENS, tz).astimezone(UTC)
    return [first + k * SLOT for k in range(SLOTS_PER_DAY)]


def _days_grid(first_day: date, count: int, tz: ZoneInfo) -> list[datetime]:
    return [s for i in range(count) for s in _day_grid(first_day + timedelta(days=i), tz)]


def _busy_calendar(n: int, first_day: date, days: int, tz: ZoneInfo, rng: random.Random) -> list[tuple]:
    """`n` appointments (start, end) of 30 or 60 minutes on the half-hour grid of [first_day, first_day + days),
    none overlapping: each day is walked half hour by half hour, an appointment starting at a free one with a
    chance chosen for about 10 % more than `n` in all; a uniform sample of `n` of them is kept."""
    per_day = 1.1 * n / days
    chance = min(0.95, per_day / (SLOTS_PER_DAY - 0.3 * per_day))  # a 60-minute one (30 %) uses two half hours
    while True:
        found = []
        for i in range(days):
            grid, k = _day_grid(first_day + timedelta(days=i), tz), 0
            while k < SLOTS_PER_DAY:
                if rng.random() < chance:
                    length = 2 if k < SLOTS_PER_DAY - 1 and rng.random() < 0.3 else 1
                    found.append((grid[k], grid[k] + length * SLOT))
                    k += length
                else:
                    k += 1
        if len(found) >= n:
            return sorted(rng.sample(found, n))
        if chance >= 0.95:
            raise RuntimeError(f"{n} appointments do not fit in {days} days of 08:00-20:00")
        chance = min(0.95, chance * 1.2)


def build_seed(now: datetime, *, appointments: int = 5_000, race_slots: int = 200, requests_n: int = 2_000,
               seed: int = 20261202) -> dict:
    """Every row, in memory, and what the runs need to know of them."""
    rng = random.Random(seed)
    tz = ZoneInfo(TIMEZONE)
    today = now.astimezone(tz).date()
    site = str(uuid.uuid4())
    short_type, long_type = str(uuid.uuid4()), str(uuid.uuid4())
    busy = str(uuid.uuid4())
    racers = [str(uuid.uuid4()) for _ in range(2)]  # one clinician per race round: same order, then shuffled
    approvers = [str(uuid.uuid4()) for _ in range(APPROVAL_CLINICIANS)]
    clinicians = [(busy, "Sam", "Rivera", "PhD"), (racers[0], "Jordan", "Lee", "LCSW"),
                  (racers[1], "Priya", "Nair", "LPC")]
    clinicians += [(c, "Alex", f"Morgan {i + 1}", "LMFT") for i, c in enumerate(approvers)]
    clients = [(str(uuid.uuid4()), f"Client{i:03d}", "Benchmark", None, f"client{i:03d}@bench.local",
                date(1980 + i % 25, 1 + i % 12, 1 + i % 28)) for i in range(CLIENTS)]
    client_ids = [c[0] for c in clients]

    first_day = today - timedelta(days=PAST_DAYS)
    calendar = _busy_calendar(appointments, first_day, PAST_DAYS + FUTURE_DAYS, tz, rng)
    rows, statuses = [], Counter()
    for start, end in calendar:
        if end <= now:
            status = "completed"
        else:
            status = "confirmed" if rng.random() < 0.3 else "booked"
        statuses[status] += 1
        kind = short_type if end - start == SLOT else long_type
        rows.append((str(uuid.uuid4()), rng.choice(client_ids), busy, kind, site, start, end, status, None,
                     "client" if rng.random() < 0.4 else "staff", None, False, 0))

    month_from = today + timedelta(days=MONTH_OFFSET)
    month_to = month_from + timedelta(days=MONTH_DAYS - 1)
    grid = _days_grid(month_from, MONTH_DAYS, tz)
    held = [(s, e) for s, e in calendar if s < grid[-1] + SLOT and e > grid[0]]
    free = [s for s in grid if not any(hs < s + SLOT and s < he for hs, he in held)]

    # Race slots: from the day after tomorrow, a clean calendar each; request slots from the day after that.
    race_grid = _days_grid(today + timedelta(days=MONTH_OFFSET), -(-race_slots // SLOTS_PER_DAY), tz)[:race_slots]
    per_clinician = -(-requests_n // APPROVAL_CLINICIANS)
    request_grid = _days_grid(today + timedelta(days=MONTH_OFFSET + 1), -(-per_clinician // SLOTS_PER_DAY), tz)
    pending = []
    for i in range(requests_n):
        start = request_grid[i // APPROVAL_CLINICIANS]
        pending.append((str(uuid.uuid4()), rng.choice(client_ids), approvers[i % APPROVAL_CLINICIANS], short_type,
                        site, start, start + SLOT, "requested", rng.choice(NOTES), "client", None, False, 0))
    return {
        "site": site, "short_type": short_type, "long_type": long_type, "busy": busy, "racers": racers,
        "approvers": approvers, "clinicians": clinicians, "clients": clients, "appointments": rows,
        "pending": pending, "statuses": dict(statuses), "first": calendar[0][0], "last": calendar[-1][1],
        "month": (month_from, month_to), "month_held": len(held), "month_grid": len(grid), "month_free": free,
        "race_grid": race_grid, "sixty_minute": sum(1 for s, e in calendar if e - s > SLOT),
    }


_APPOINTMENT_COLUMNS = ("id, client_id, clinician_id, appointment_type_id, site_id, start_at, end_at, status, note, "
                        "booked_by, reason, fee, sequence")


def seed_database(url: str, rows: dict) -> float:
    """The rows into the (freshly migrated) bench database; answers the seconds it took, VACUUM ANALYZE included.
    The exclusion constraint is in place while the appointments are copied: it checks the seed never overlaps."""
    import psycopg

    started = time.perf_counter()
    site, busy = rows["site"], rows["busy"]
    everyone = [c[0] for c in rows["clinicians"]]
    with psycopg.connect(plain_dsn(url)) as conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO practice (id, practice_name, currency, timezone, phone, email, address, "
            "online_payments_enabled, self_scheduling_enabled, billing_documents_enabled, autopay_enabled, "
            "minimum_notice_minutes, horizon_days, max_open_requests, cancellation_window_hours, approval, "
            "reminder_lead_minutes, late_cancel_fee, no_show_fee) VALUES (1, %s, 'USD', %s, %s, %s, %s, true, true, "
            "true, false, 1440, 60, 3, 24, 'staff', '[2880, 1440]', false, false)",
            ("Harbor Light Counseling", TIMEZONE, "(217) 555-0142", "frontdesk@harborlight.example",
             json.dumps({"line1": "1200 Market Street", "city": "Springfield", "state": "IL",
                         "postal_code": "62701"})))
        cur.execute("INSERT INTO sites (id, name, timezone, address, active) VALUES (%s, 'Main office', %s, %s, true)",
                    (site, TIMEZONE, json.dumps({"line1": "1200 Market Street", "line2": "Suite 410",
                                                 "city": "Springfield", "state": "IL"})))
        cur.executemany("INSERT INTO clinicians (id, first_name, last_name, credentials, active) "
                        "VALUES (%s, %s, %s, %s, true)", rows["clinicians"])
        cur.executemany("INSERT INTO clinician_sites (clinician_id, site_id) VALUES (%s, %s)",
                        [(c, site) for c in everyone])
        cur.executemany(
            "INSERT INTO appointment_types (id, name, modality, duration_minutes, bookable_online, service_code, "
            "buffer_before_minutes, buffer_after_minutes, active) VALUES (%s, %s, 'in_person', %s, %s, %s, 0, 0, true)",
            [(rows["short_type"], "Check-in, 30 minutes", 30, True, "90832"),
             (rows["long_type"], "Individual therapy, 60 minutes", 60, False, "90837")])
        cur.executemany("INSERT INTO appointment_type_clinicians (appointment_type_id, clinician_id) VALUES (%s, %s)",
                        [(rows["short_type"], c) for c in everyone] + [(rows["long_type"], busy)])
        cur.executemany("INSERT INTO availability_rules (id, clinician_id, site_id, weekday, start_time, end_time) "
                        "VALUES (%s, %s, %s, %s, %s, %s)",
                        [(str(uuid.uuid4()), c, site, d, OPENS, CLOSES) for c in everyone for d in range(7)])
        cur.executemany("INSERT INTO clients (client_id, first_name, last_name, preferred_name, email, date_of_birth) "
                        "VALUES (%s, %s, %s, %s, %s, %s)", rows["clients"])
        with cur.copy(f"COPY appointments ({_APPOINTMENT_COLUMNS}) FROM STDIN") as copy:
            for row in rows["appointments"] + rows["pending"]:
                copy.write_row(row)
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        for table in ("appointments", "availability_rules", "clients", "clinicians"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


def _holding_in(status_column: str) -> str:
    return f"{status_column} IN (" + ", ".join(f"'{s}'" for s in HOLDING) + ")"


OVERLAPS = ("SELECT count(*) FROM appointments a JOIN appointments b ON a.clinician_id = b.clinician_id "
            "AND a.id < b.id AND tstzrange(a.start_at, a.end_at, '[)') && tstzrange(b.start_at, b.end_at, '[)') "
            f"WHERE {_holding_in('a.status')} AND {_holding_in('b.status')}")


def _overlaps(url: str) -> int:
    """Pairs of holding appointments of one clinician that overlap, across the whole table."""
    import psycopg

    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        return conn.execute(OVERLAPS).fetchone()[0]


def _verify(url: str, rows: dict) -> dict:
    import psycopg

    month_from, month_to = rows["month"]
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        held, first, last = conn.execute(
            f"SELECT count(*), min(start_at), max(end_at) FROM appointments WHERE clinician_id = %s "
            f"AND {_holding_in('status')}", (rows["busy"],)).fetchone()
        pending = conn.execute("SELECT count(*) FROM appointments WHERE status = 'requested'").fetchone()[0]
        on = conn.execute("SELECT self_scheduling_enabled FROM practice WHERE id = 1").fetchone()[0]
    if held != len(rows["appointments"]) or pending != len(rows["pending"]) or not on:
        raise RuntimeError(f"the seed is not what was built: {held} holding appointments, {pending} requests, "
                           f"self-scheduling {on}")
    return {"appointments": held, "pending_requests": pending, "first": first.date().isoformat(),
            "last": last.date().isoformat(), "overlaps": _overlaps(url)}


# --- measuring ---------------------------------------------------------------------------------------

class _Load:
    """CPU use of the process groups, and of everything else on the machine, between construction and stop()."""

    def __init__(self, groups: dict[str, int]):
        self.groups = groups
        self.cpu, self.machine = cpu_snapshot(groups), machine_ticks()

    def stop(self, done: int) -> dict:
        cpu, machine = cpu_delta(self.cpu, cpu_snapshot(self.groups)), machine_ticks()
        capacity = (machine[1] - self.machine[1]) or 1.0
        busy = machine[0] - self.machine[0]
        other = round(max(0.0, busy - sum(cpu.values())) / capacity, 2)
        cpu.pop("rabbitmq", None)  # idle here: the web processes only write outbox rows, no relay runs
        return {"machine_busy": round(busy / capacity, 2), "other_cpu_share": other,
                "cpu_ms_per_req": {k: round(v * 1000 / max(1, done), 3) for k, v in cpu.items() if v > 0}}


def _timings(answers: list[tuple[int, float]], seconds: float) -> dict:
    ms = [m for _, m in answers]
    return {"attempts": len(answers), "seconds": round(seconds, 2), "statuses": dict(Counter(s for s, _ in answers)),
            "attempts_per_s": round(len(answers) / seconds, 1) if seconds else None,
            "p50_ms": _r(percentile(ms, 50)), "p90_ms": _r(percentile(ms, 90)), "p99_ms": _r(percentile(ms, 99)),
            "max_ms": _r(max(ms) if ms else None)}


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _at_once(base: str, token: str, threads: int, work, groups: dict[str, int]) -> tuple[list, float, dict]:
    """`threads` threads, each with its own requests.Session (its connection opened and the token checked by one
    GET first), released together; `work(i, session, answers)` posts and appends (status, ms). Answers every
    (status, ms), the wall seconds from the release to the last answer, and the CPU used meanwhile."""
    barrier = threading.Barrier(threads + 1)
    answers: list[tuple[int, float]] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        mine: list[tuple[int, float]] = []
        try:
            with requests.Session() as session:
                session.headers["Authorization"] = f"Bearer {token}"
                primed = session.get(base + PRIME, timeout=30)
                if primed.status_code != 200:
                    raise RuntimeError(f"GET {PRIME} answered {primed.status_code}: {primed.text[:200]}")
                barrier.wait()
                work(i, session, mine)
        except BaseException as exc:  # noqa: BLE001 (reported below, after the others finish)
            failures.append(exc)
            barrier.abort()
        with lock:
            answers.extend(mine)

    pool = [threading.Thread(target=run, args=(i,), name=f"bench-scheduling-{i}") for i in range(threads)]
    for t in pool:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    load, started = _Load(groups), time.perf_counter()
    for t in pool:
        t.join()
    seconds = time.perf_counter() - started
    cpu = load.stop(len(answers))
    if failures:
        raise RuntimeError(f"a client thread failed: {failures[0]!r}") from failures[0]
    return answers, seconds, cpu


def _post(session: requests.Session, url: str, body: dict | None, answers: list) -> requests.Response:
    started = time.perf_counter()
    response = session.post(url, json=body, timeout=60)
    answers.append((response.status_code, (time.perf_counter() - started) * 1000))
    return response


def race(base: str, url: str, token: str, rows: dict, clinician: str, slots: list[datetime], clients: list[str], *,
         shuffled: bool, groups: dict[str, int]) -> dict:
    """Every thread books every slot of one clinician (thread i for clients[i]), in the same order or each in its
    own shuffled order; then the database says what was made."""
    import psycopg

    threads = len(clients)

    def work(i: int, session: requests.Session, answers: list) -> None:
        order = list(slots)
        if shuffled:
            random.Random(i).shuffle(order)
        for start in order:
            _post(session, base + BOOK, {"client_id": clients[i], "appointment_type_id": rows["short_type"],
                                         "clinician_id": clinician, "start": start.isoformat()}, answers)

    answers, seconds, cpu = _at_once(base, token, threads, work, groups)
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        per_slot = dict(conn.execute(
            f"SELECT start_at, count(*) FROM appointments WHERE clinician_id = %s AND {_holding_in('status')} "
            "GROUP BY start_at", (clinician,)).fetchall())
    result = _timings(answers, seconds)
    booked = result["statuses"].get(201, 0)
    result.update(cpu)
    result.update({
        "order": "shuffled per thread" if shuffled else "the same order", "slots": len(slots), "threads": threads,
        "booked": booked, "refused_409": result["statuses"].get(409, 0),
        "other": sum(n for s, n in result["statuses"].items() if s not in (201, 409)),
        "bookings_per_s": round(booked / seconds, 1) if seconds else None,
        "slots_with_one": sum(1 for s in slots if per_slot.get(s) == 1),
        "holding_rows": sum(per_slot.values()),
        "overlaps": _overlaps(url),
    })
    result["ok"] = (result["overlaps"] == 0 and result["slots_with_one"] == len(slots) == booked
                    and result["holding_rows"] == len(slots) and not result["other"])
    return result


def approvals(base: str, url: str, token: str, rows: dict, *, threads: int, groups: dict[str, int]) -> dict:
    """The pending requests, shuffled (the clinicians interleave), approved by `threads` connections at once, each
    taking the next request not yet taken."""
    import psycopg

    ids = [r[0] for r in rows["pending"]]
    random.Random(7).shuffle(ids)
    queue = iter(ids)
    lock = threading.Lock()

    def work(i: int, session: requests.Session, answers: list) -> None:
        while True:
            with lock:
                appointment_id = next(queue, None)
            if appointment_id is None:
                return
            _post(session, base + APPROVE.format(appointment_id), None, answers)

    answers, seconds, cpu = _at_once(base, token, threads, work, groups)
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM appointments WHERE id = ANY(%s) GROUP BY status",
                                     (ids,)).fetchall())
        planned = conn.execute("SELECT count(*) FROM reminders WHERE appointment_id = ANY(%s)", (ids,)).fetchone()[0]
    result = _timings(answers, seconds)
    approved = result["statuses"].get(200, 0)
    result.update(cpu)
    result.update({"requests": len(ids), "clinicians": APPROVAL_CLINICIANS, "threads": threads, "approved": approved,
                   "refused_409": result["statuses"].get(409, 0),
                   "other": sum(n for s, n in result["statuses"].items() if s not in (200, 409)),
                   "approvals_per_s": round(approved / seconds, 1) if seconds else None,
                   "booked_after": statuses.get("booked", 0), "statuses_after": statuses,
                   "reminders_planned": planned, "overlaps": _overlaps(url)})
    result["ok"] = approved == len(ids) == result["booked_after"] and result["overlaps"] == 0
    return result


def _availability_check(http: requests.Session, url: str, token: str, rows: dict) -> dict:
    """One request before measuring: the month's free slots, exactly as the seed says."""
    response = http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"GET {AVAILABILITY} answered {response.status_code}: {response.text[:300]}")
    items = response.json()["items"]
    got = [datetime.fromisoformat(i["start"]).astimezone(UTC) for i in items]
    if got != rows["month_free"] or any(i["clinician_id"] != rows["busy"] for i in items):
        raise RuntimeError(f"availability answered {len(got)} slots; the seed leaves {len(rows['month_free'])} free")
    return {"slots": len(items), "bytes": len(response.content)}


def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    fixture = prepare_identity(workspace)
    client_token, staff_token = fixture["access_token"], fixture["admin_token"]
    url = bench_db_url("scheduling")
    n = settings.get("scheduling_appointments", 5_000)
    slots_n = settings.get("scheduling_race_slots", 200)
    requests_n = settings.get("scheduling_requests", 2_000)
    threads = settings.get("scheduling_connections", 8)
    out: dict = {"connections": threads}
    log(f"scheduling: recreating {url.rsplit('/', 1)[-1]}")
    recreate_database("scheduling", url)
    try:
        started = time.perf_counter()
        rows = build_seed(datetime.now(UTC), appointments=n, race_slots=slots_n, requests_n=requests_n)
        build_s = time.perf_counter() - started
        copy_s = seed_database(url, rows)
        month_from, month_to = rows["month"]
        out["seed"] = {**_verify(url, rows), "statuses": rows["statuses"], "sixty_minute": rows["sixty_minute"],
                       "clients": len(rows["clients"]), "month_from": month_from.isoformat(),
                       "month_to": month_to.isoformat(), "month_held": rows["month_held"],
                       "month_grid": rows["month_grid"], "month_free": len(rows["month_free"]),
                       "build_s": round(build_s, 2), "copy_s": round(copy_s, 2),
                       "method": "INSERT for the setup rows, COPY for the appointments, then VACUUM ANALYZE"}
        if out["seed"]["overlaps"]:
            raise RuntimeError(f"the seed overlaps itself ({out['seed']['overlaps']} pairs)")
        log(f"scheduling: seeded {n} appointments ({rows['statuses']}) from {out['seed']['first']} to "
            f"{out['seed']['last']}, {requests_n} requests, in {build_s + copy_s:.1f} s; the month "
            f"{month_from} - {month_to} holds {rows['month_held']} and leaves {len(rows['month_free'])} of "
            f"{rows['month_grid']} slots free")

        env = {**os.environ, **workspace.env(), "SCHEDULING_DATABASE_URL": url}
        identity = gunicorn(procs, "identity", IDENTITY_APP, env)
        env.update({"IDENTITY_URL": identity.url, "JWKS_URL": identity.url + "/.well-known/jwks.json"})
        scheduling = gunicorn(procs, "scheduling", SCHEDULING_APP, env, workers=2, threads=8)
        out["model"] = "gthread 2x8"
        groups = {"scheduling": scheduling.popen.pid, "identity": identity.popen.pid}
        base = scheduling.url

        # 1. A month of availability.
        query = (f"appointment_type_id={rows['short_type']}&clinician_id={rows['busy']}&from={month_from.isoformat()}"
                 f"&to={month_to.isoformat()}")
        target = f"{base}{AVAILABILITY}?{query}"
        with requests.Session() as http:
            out["answer"] = _availability_check(http, target, client_token, rows)
        if have_wrk():
            script = wrk_script(workspace, "scheduling-availability",
                                headers={"Authorization": f"Bearer {client_token}"})
            duration, warmup, c1_duration = settings["duration"], settings["warmup"], settings["c1_duration"]
            log(f"scheduling: availability of {MONTH_DAYS} days: c1 {c1_duration:.0f} s, then c8 {duration:.0f} s")
            c1 = measured(target, script, groups, connections=1, threads=1, duration=c1_duration, warmup=1)
            c8 = measured(target, script, groups, connections=8, threads=2, duration=duration, warmup=warmup)
            out["availability"] = {"path": AVAILABILITY, "query": query, "c1": c1, "c8": c8}
            log(f"scheduling: availability: c1 {c1['rps']} req/s, p50 {c1['p50_ms']} ms, p99 {c1['p99_ms']} ms; "
                f"c8 {c8['rps']} req/s, p50 {c8['p50_ms']} ms, p99 {c8['p99_ms']} ms")
        else:
            out["availability_skipped"] = "wrk is not installed"
            log("scheduling: availability skipped, wrk is not installed")

        # 2. Racing for the same slots: the same order (every thread on one slot at a time), then shuffled.
        out["races"] = []
        for k, (clinician, shuffled) in enumerate(zip(rows["racers"], (False, True), strict=True)):
            log(f"scheduling: {threads} connections booking the same {slots_n} slots, "
                f"{'shuffled' if shuffled else 'in the same order'}")
            clients = [c[0] for c in rows["clients"][k * threads:(k + 1) * threads]]
            r = race(base, url, staff_token, rows, clinician, rows["race_grid"], clients, shuffled=shuffled,
                     groups=groups)
            out["races"].append(r)
            log(f"scheduling: race ({r['order']}): {r['booked']} booked, {r['refused_409']} 409, {r['other']} other "
                f"in {r['seconds']} s ({r['bookings_per_s']} bookings/s); overlaps {r['overlaps']}, slots with "
                f"exactly one {r['slots_with_one']}/{r['slots']}")

        # 3. Approvals.
        log(f"scheduling: approving {requests_n} requests with {threads} connections")
        a = approvals(base, url, staff_token, rows, threads=threads, groups=groups)
        out["approvals"] = a
        log(f"scheduling: approvals: {a['approved']}/{a['requests']} 200, {a['refused_409']} 409, {a['other']} "
            f"other in {a['seconds']} s ({a['approvals_per_s']}/s), p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms")
        procs.stop(scheduling)
        procs.stop(identity)
    finally:
        dispose_engines()
        drop_bench_database(url)
    return out


# --- the Markdown rows (bench/report.py renders them) ----------------------------------------------

def _f(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def _cpu(result: dict) -> str:
    per = result.get("cpu_ms_per_req") or {}
    order = ["scheduling", "identity", "postgres", "wrk", "bench"]
    return ", ".join(f"{k} {per[k]:.2f}" for k in order if per.get(k)) or "–"


def _errors(result: dict) -> int:
    return result.get("non_2xx_3xx", 0) + result.get("socket_errors", 0)


def _noisy(*runs: dict) -> str:
    return " (noisy)" if max((r.get("other_cpu_share") or 0) for r in runs) > NOISY else ""


def markdown_rows(results: dict, aims: list | None = None) -> list[str]:
    """The scheduling part's section of the bench table ([] when it did not run); its aims are appended to
    `aims` (report.py's list of (aim, target, measured, met))."""
    sc = results.get("scheduling")
    if not sc:
        return []
    s = results.get("settings", {})
    seed, conn = sc["seed"], sc.get("connections", 8)
    statuses = ", ".join(f"{k} {_f(v)}" for k, v in sorted(seed["statuses"].items()))
    lines = [
        "### Scheduling: a month of availability, racing bookings, approvals",
        "",
        f"Seeded into a fresh `portal_bench_scheduling` ({seed['method']}, {seed['build_s'] + seed['copy_s']:.1f} s): "
        f"one site ({TIMEZONE}), clinicians with Mon–Sun 08:00–20:00 rules, a 30-minute type bookable online, "
        f"{_f(seed['clients'])} clients, self-scheduling on; one clinician with {_f(seed['appointments'])} holding "
        f"appointments ({statuses}; {_f(seed['sixty_minute'])} of 60 minutes, the rest 30, none overlapping) from "
        f"{seed['first']} to {seed['last']}. The month asked, {seed['month_from']} – {seed['month_to']} (31 days), "
        f"holds {_f(seed['month_held'])} of them and leaves {_f(seed['month_free'])} of its {_f(seed['month_grid'])} "
        f"half-hour slots free, each answer checked against the seed. Scheduling {sc.get('model', 'gthread 2x8')} "
        "under gunicorn with identity beside it (JWKS, ended sessions), measured at its own port (no gateway).",
        "",
    ]
    av = sc.get("availability")
    if av:
        c1, c8 = av["c1"], av["c8"]
        answer = sc.get("answer", {})
        lines += [
            f"`GET {av['path']}` with the client's token, `from`/`to` dates, one type and one clinician: c1 wrk -t1 "
            f"-c1 for {s.get('c1_duration', 0):.0f} s, c8 wrk -t2 -c8 for {s.get('duration', 0):.0f} s after a "
            f"{s.get('warmup', 0):.0f} s warm-up. CPU ms/req: during the c8 run.",
            "",
            "| request | answer | c1 p50 ms | c1 p99 ms | c1 req/s | c8 req/s | c8 p50 ms | c8 p99 ms | errors | "
            "CPU ms/req (c8) | other load |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
            f"| availability, 31 days | {_f(answer.get('slots'))} slots, {_f(answer.get('bytes', 0) // 1024)} KiB | "
            f"{_f(c1['p50_ms'], 2)} | {_f(c1['p99_ms'], 2)} | {_f(c1['rps'], 0)} | {_f(c8['rps'], 0)} | "
            f"{_f(c8['p50_ms'], 2)} | {_f(c8['p99_ms'], 2)} | {_errors(c1)}/{_errors(c8)} | {_cpu(c8)} | "
            f"{_pct(max(c1.get('other_cpu_share') or 0, c8.get('other_cpu_share') or 0))} |",
            "",
        ]
    elif sc.get("availability_skipped"):
        lines += [f"Availability: not measured ({sc['availability_skipped']}).", ""]
    races = sc.get("races") or []
    if races:
        lines += [
            f"Racing: {conn} threads, each its own HTTP session and client, `POST {BOOK}` for every one of the same "
            "slots of one clinician (a clinician each round); afterwards the database is asked for overlapping "
            "holding appointments across the whole table (a self-join on `tstzrange(start_at, end_at) &&`) and "
            "for the bookings of each slot. bookings/s: appointments made per second of the round; attempts/s "
            "and latency: every answer, 201 and 409 alike. CPU ms: per attempt.",
            "",
            "| order | slots | attempts | booked (201) | 409 | other | bookings/s | attempts/s | p50 ms | p99 ms | "
            "overlapping pairs | slots with exactly one | CPU ms/attempt | other load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for r in races:
            lines.append(f"| {r['order']} | {_f(r['slots'])} | {_f(r['attempts'])} | {_f(r['booked'])} | "
                         f"{_f(r['refused_409'])} | {_f(r['other'])} | {_f(r['bookings_per_s'])} | "
                         f"{_f(r['attempts_per_s'])} | {_f(r['p50_ms'])} | {_f(r['p99_ms'])} | {_f(r['overlaps'])} | "
                         f"{_f(r['slots_with_one'])}/{_f(r['slots'])} | {_cpu(r)} | {_pct(r.get('other_cpu_share'))} |")
        lines.append("")
    a = sc.get("approvals")
    if a:
        lines += [
            f"Approvals: {_f(a['requests'])} pending requests (status requested) on distinct free half-hour slots of "
            f"{a['clinicians']} clinicians, shuffled, approved with `POST {APPROVE.format('{id}')}` by {a['threads']} "
            "threads at once (each its own HTTP session, taking the next request); each approval locks the "
            "request and the clinician, checks the time, plans its reminders and writes its outbox row.",
            "",
            "| requests | 200 | 409 | other | approvals/s | p50 ms | p90 ms | p99 ms | max ms | booked after | "
            "reminders planned | CPU ms/approval | other load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
            f"| {_f(a['requests'])} | {_f(a['approved'])} | {_f(a['refused_409'])} | {_f(a['other'])} | "
            f"{_f(a['approvals_per_s'])} | {_f(a['p50_ms'])} | {_f(a['p90_ms'])} | {_f(a['p99_ms'])} | "
            f"{_f(a['max_ms'])} | {_f(a['booked_after'])} | {_f(a['reminders_planned'])} | {_cpu(a)} | "
            f"{_pct(a.get('other_cpu_share'))} |",
            "",
        ]
    if aims is not None:
        if av:
            c1, c8 = av["c1"], av["c8"]
            aims.append((f"scheduling availability of 31 days ({seed['appointments']:,} appointments), p99 at the "
                         "service, 1 connection", "< 20 ms", f"{c1['p99_ms']:.1f} ms" + _noisy(c1),
                         c1["p99_ms"] < AIM_MS and not _errors(c1)))
            aims.append(("scheduling availability of 31 days, 8 connections: req/s, p50, p99", "report",
                         f"{c8['rps']:.0f}/s, {c8['p50_ms']:.1f} ms, {c8['p99_ms']:.1f} ms" + _noisy(c8), None))
        for r in races:
            aims.append((f"{r['threads']} connections booking the same {r['slots']} slots ({r['order']}): double "
                         "bookings", "0",
                         f"{r['overlaps']} overlapping, {r['slots_with_one']}/{r['slots']} slots with exactly one; "
                         f"{r['refused_409']:,} 409, {r['other']} other; {r['bookings_per_s']:.1f} bookings/s"
                         + _noisy(r), r["ok"]))
        if a:
            aims.append((f"approvals of {a['requests']:,} requests, {a['threads']} connections: every one 200, no 409",
                         "all 200",
                         f"{a['approved']:,} 200, {a['refused_409']} 409, {a['other']} other; "
                         f"{a['approvals_per_s']:.1f}/s, p99 {a['p99_ms']:.1f} ms" + _noisy(a), a["ok"]))
    return lines
