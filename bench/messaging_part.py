"""Messaging (issue 13): an event to the bell, the inbox and the thread lists with 10,000 threads, and a 10 MB
attachment up and down.

Aims: an event published to RabbitMQ is on the client's bell (`GET /api/v1/portal/notifications/unread-count`
counts it) within 100 ms p99 at 100 events/s; the practice inbox (`GET /api/v1/staff/messages/threads`, first
page and `?unread=true`) and a client's own list (`GET /api/v1/portal/messages/threads`, a client with 1,000
threads) under 20 ms p99 at the service on 1 connection (4 connections reported beside it); a 10 MB file goes up
and comes down streamed: neither messaging's worker nor the gateway's grows by as much as the file while it
passes (peak RSS, /proc/<pid>/status VmHWM after resetting it through /proc/<pid>/clear_refs).

A fresh `portal_bench_messaging` (migrated as `python -m shared.manage migrate messaging` does) holds the
practice's row (its e-mail set, AutoPay on), three staff members (the bench admin among them) and 300 clients
(the bench client of bench.fixture with a default Visa 4242 and AutoPay on), as messaging's consumer would have
copied them. Messaging runs under gunicorn (deploy/gunicorn.conf.py, gthread 2x8) with identity beside it for the
JWKS and the list of ended sessions, and its real events process (`python -m services.messaging.worker events`:
relay and consumer) on the bench vhost of RabbitMQ (`portal_bench`, made and deleted with rabbitmqctl), whose
exchange is `portal.events` as in the suite.

1. The bell: payment.succeeded and invoice.generated in turn (the catalogue's examples, for the bench client,
   fresh ids), published by this process as shared.relay publishes (routing key = type, persistent, mandatory, a
   confirm each) at a fixed rate; one thread asks the unread count every 5 ms over one keep-alive connection.
   Event i is on the bell at the first answer that counts the warm-up's events and i + 1 of the run's (one queue,
   one consumer: they are handled in the order published, each batch in one transaction); the database says
   afterwards when the consumer's transaction that took each one began (processed_events.processed_at) and that
   each has its client notice.
2. The lists: 10,000 threads of 1 to 5 messages (30,000 or so) seeded by COPY, then VACUUM ANALYZE: 1,000 of the
   bench client's, the rest spread over the other 299 clients; a third assigned; the practice has not read the
   client's last message in 12 % of them, the client the practice's in 8 %. wrk -t1 -c1, then -t2 -c4.
3. The file: 10 MiB (a PDF header and random bytes, the largest a message takes) sent as multipart/form-data to
   `POST /api/v1/portal/messages/threads` (the body built once, before the clock starts) and downloaded from
   `GET /api/v1/portal/messages/attachments/{id}` (read 1 MiB at a time, its SHA-256 checked), five times each, at
   messaging directly and then through the gateway (gunicorn, gthread 2x8, started for this). Memory: each
   gunicorn worker's peak RSS is reset before each request; its peak afterwards minus its RSS before, the largest
   over the workers, is what the request cost.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from statistics import median

import pika
import requests

from bench.common import (
    ADMIN_EMAIL,
    CLIENT_EMAIL,
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

MESSAGING_APP = "services.messaging.app:create_app()"
EXCHANGE = "portal.events"  # the suite's name, inside the bench vhost
QUEUE = "messaging.events"  # shared.consumer: "<service>.events"
UNREAD = "/api/v1/portal/notifications/unread-count"
NOTIFICATIONS = "/api/v1/portal/notifications"
STAFF_THREADS = "/api/v1/staff/messages/threads"
PORTAL_THREADS = "/api/v1/portal/messages/threads"
ATTACHMENT = "/api/v1/portal/messages/attachments/{}"
BELL_TYPES = ("payment.succeeded", "invoice.generated")
BELL_AIM_MS = 100.0
LIST_AIM_MS = 20.0
POLL_PAUSE_S = 0.005
WARM_EVENTS = 20
NOISY = 0.25
CLIENTS = 300
FILE_BYTES = 10 * 1024 * 1024  # services.messaging.domain.messages.MAX_ATTACHMENT_BYTES: the largest taken
MIB = 1024 * 1024
PRACTICE_NAME = "Harbor Light Counseling"
SUBJECTS = ("Question about my invoice", "Rescheduling next week", "Superbill for my insurance", "Thank you",
            "Forms before the first visit", "Change of address", "Receipt for my records", "Running late today")
BODIES = ("Could you tell me whether the session on the 14th was billed to my insurance or to me?",
          "Thanks for getting back to me so quickly. That works, see you then.",
          "I attached the letter from my insurer; they need the diagnosis code and the dates of service.",
          "Of course. I have moved you to Thursday at 4 pm; reply here if that does not suit you.")


# --- the seed ----------------------------------------------------------------------------------------

def _directory(fixture: dict, rng: random.Random) -> dict:
    """The rows messaging's consumer would have copied: practice, staff, clients, the bench client's card."""
    staff = [(fixture["admin_id"], "Bench", "Admin", ADMIN_EMAIL, "admin"),
             (str(uuid.uuid4()), "Jordan", "Lee", "jordan.lee@bench.local", "staff"),
             (str(uuid.uuid4()), "Priya", "Nair", "priya.nair@bench.local", "staff")]
    clients = [(fixture["client_id"], "Casey", "Benchmark", "Case", CLIENT_EMAIL)]
    clients += [(str(uuid.uuid4()), f"Client{i:03d}", "Benchmark", None, f"client{i:03d}@bench.local")
                for i in range(1, CLIENTS)]
    return {"staff": staff, "clients": clients, "card": str(uuid.uuid4()), "rng": rng}


def seed_directory(url: str, d: dict) -> None:
    from services.messaging.models import Card, Client, Practice, StaffMember
    from shared.db import session_factory, unit_of_work

    with unit_of_work(session_factory(url)) as session:
        session.add(Practice(id=1, practice_name=PRACTICE_NAME, currency="USD", timezone="America/New_York",
                             phone="(217) 555-0142", email="frontdesk@harborlight.example", address={},
                             online_payments_enabled=True, autopay_enabled=True, client_email_delay_minutes=10))
        session.add_all(StaffMember(user_id=u, first_name=f, last_name=la, email=e, role=r, active=True)
                        for u, f, la, e, r in d["staff"])
        session.add_all(Client(client_id=c, first_name=f, last_name=la, preferred_name=p, email=e,
                               autopay_enabled=False) for c, f, la, p, e in d["clients"])
        session.flush()
        bench = session.get(Client, d["clients"][0][0])
        session.add(Card(payment_method_id=d["card"], client_id=bench.client_id, brand="visa", last4="4242"))
        bench.default_payment_method_id, bench.autopay_enabled = d["card"], True


def build_threads(d: dict, now: datetime, *, threads: int, mine: int) -> dict:
    """`threads` threads of 1 to 5 messages, `mine` of them the bench client's; the unread ones as the module says."""
    rng = d["rng"]
    bench_id = d["clients"][0][0]
    others = [c for c in d["clients"][1:]]
    names = {c[0]: f"{c[3] or c[1]} {c[2]}" for c in d["clients"]}
    staff = d["staff"]
    owners = [d["clients"][0]] * mine + [rng.choice(others) for _ in range(threads - mine)]
    rng.shuffle(owners)
    thread_rows, message_rows = [], []
    staff_unread = client_unread = 0
    for owner in owners:
        client_id = owner[0]
        thread_id = str(uuid.uuid4())
        started = now - timedelta(days=720) * rng.random() - timedelta(hours=2)
        n = rng.randint(1, 5)
        first = "client" if rng.random() < 0.7 else "staff"
        roll = rng.random()
        # Who has not read the last message: the practice (a client's, 12 %), the client (the practice's, 8 %).
        last_side = "client" if roll < 0.12 else "staff" if roll < 0.20 else None
        sides = [first if k % 2 == 0 else ("staff" if first == "client" else "client") for k in range(n)]
        if last_side and sides[-1] != last_side:
            sides.append(last_side)
        assignee = rng.choice(staff) if rng.random() < 0.33 else None
        times = [started]
        for _ in sides[1:]:
            times.append(times[-1] + timedelta(minutes=rng.randint(10, 2000)))
        late = times[-1] - (now - timedelta(minutes=1))
        if late > timedelta(0):  # a recent thread's replies would be in the future: the whole thread earlier
            times = [t - late for t in times]
        member = assignee or staff[0]
        for k, (side, sent) in enumerate(zip(sides, times, strict=True)):
            sender_id = client_id if side == "client" else member[0]
            sender = names[client_id] if side == "client" else f"{member[1]} {member[2]}"
            unread = last_side is not None and k == len(sides) - 1
            read_at = None if unread else min(now, sent + timedelta(minutes=rng.randint(5, 600)))
            message_rows.append((str(uuid.uuid4()), thread_id, client_id, side, sender_id, sender,
                                 rng.choice(BODIES), sent, read_at))
        staff_unread += last_side == "client"
        client_unread += last_side == "staff" and client_id == bench_id
        thread_rows.append((thread_id, client_id, rng.choice(SUBJECTS), first, assignee[0] if assignee else None,
                            times[0], times[-1]))
    return {"threads": thread_rows, "messages": message_rows, "staff_unread_threads": staff_unread,
            "bench_unread_threads": client_unread, "bench_threads": mine}


def seed_threads(url: str, rows: dict) -> float:
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(plain_dsn(url)) as conn, conn.cursor() as cur:
        with cur.copy("COPY threads (id, client_id, subject, started_by, assigned_staff_id, created_at, "
                      "last_message_at) FROM STDIN") as copy:
            for row in rows["threads"]:
                copy.write_row(row)
        with cur.copy("COPY messages (id, thread_id, client_id, sender_role, sender_id, sender_name, body, sent_at, "
                      "read_at) FROM STDIN") as copy:
            for row in rows["messages"]:
                copy.write_row(row)
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        for table in ("threads", "messages", "clients", "staff_members"):
            conn.execute(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - started


# --- CPU and memory ----------------------------------------------------------------------------------

class _Load:
    """CPU use of the process groups, and of everything else on the machine, between construction and stop()."""

    def __init__(self, groups: dict[str, int]):
        self.groups = groups
        self.cpu, self.machine = cpu_snapshot(groups), machine_ticks()

    def stop(self) -> dict:
        cpu, machine = cpu_delta(self.cpu, cpu_snapshot(self.groups)), machine_ticks()
        capacity = (machine[1] - self.machine[1]) or 1.0
        busy = machine[0] - self.machine[0]
        return {"machine_busy": round(busy / capacity, 2),
                "other_cpu_share": round(max(0.0, busy - sum(cpu.values())) / capacity, 2),
                "cpu_s": {k: v for k, v in cpu.items() if v > 0}}


def _children(pid: int) -> list[int]:
    """A gunicorn master's workers."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        if int(raw[raw.rfind(")") + 2:].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {key} in /proc/{pid}/status")


class PeakRss:
    """The most any of `pids` grew above its RSS at the start, in KiB: the kernel's peak (VmHWM) reset through
    clear_refs at the start, or, where that is refused, VmRSS sampled every 2 ms."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.before = {p: _status_kib(p, "VmRSS") for p in pids}
        self.sampled: dict[int, int] | None = None
        try:
            for p in pids:
                with open(f"/proc/{p}/clear_refs", "w") as f:
                    f.write("5")
            self.before = {p: _status_kib(p, "VmRSS") for p in pids}
        except OSError:
            self.sampled = dict(self.before)
            self._done = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            for p in self.pids:
                self.sampled[p] = max(self.sampled[p], _status_kib(p, "VmRSS"))

    def stop(self) -> dict:
        if self.sampled is None:
            peaks = {p: _status_kib(p, "VmHWM") for p in self.pids}
        else:
            self._done.set()
            self._thread.join()
            peaks = self.sampled
        after = {p: _status_kib(p, "VmRSS") for p in self.pids}
        return {"growth_kib": max(peaks[p] - self.before[p] for p in self.pids),
                "kept_kib": max(after[p] - self.before[p] for p in self.pids),
                "method": "VmHWM after clear_refs" if self.sampled is None else "VmRSS sampled every 2 ms"}


# --- 1. the bell ---------------------------------------------------------------------------------------

def _event_body(event_type: str, client_id: str) -> tuple[str, bytes]:
    from shared.contracts import CATALOGUE
    from shared.events import make_event

    contract = CATALOGUE.get(event_type, 1)
    payload = json.loads(json.dumps(contract.example))
    payload["client_id"] = client_id
    if event_type == "payment.succeeded":
        payload.update(payment_id=str(uuid.uuid4()), invoice_ids=[str(uuid.uuid4())])
    else:
        payload.update(invoice_id=str(uuid.uuid4()), appointment_id=str(uuid.uuid4()))
    contract.check(payload)
    event = make_event(event_type, payload, producer=contract.producer)
    return event.id, json.dumps(event.to_dict()).encode()


def _properties(event_id: str, event_type: str) -> pika.BasicProperties:
    """What shared.relay sends with each event."""
    return pika.BasicProperties(content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent,
                                message_id=event_id, type=event_type, app_id="bench", headers={},
                                correlation_id=None, timestamp=int(time.time()))


def _wait_consumer(broker, events_proc, timeout: float = 40.0) -> None:
    """Until messaging's consumer has declared its queue and bindings and consumes from it."""
    import logging

    quiet = logging.getLogger("pika")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # each "no queue yet" would be a warning on stdout
    try:
        _poll_consumer(broker, events_proc, timeout)
    finally:
        quiet.setLevel(level)


def _poll_consumer(broker, events_proc, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if events_proc.popen.poll() is not None:
            raise RuntimeError(f"messaging's events process exited with {events_proc.popen.returncode}:\n"
                               f"{events_proc.tail()}")
        conn = broker.connection()
        try:
            if conn.channel().queue_declare(QUEUE, passive=True).method.consumer_count >= 1:
                return
        except pika.exceptions.ChannelClosedByBroker:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    raise RuntimeError(f"messaging's consumer is not on {QUEUE} after {timeout:.0f} s:\n{events_proc.tail()}")


def bell(broker, base: str, token: str, client_id: str, db_url: str, *, rate: float, seconds: float,
         groups: dict[str, int]) -> dict:
    import psycopg

    headers = {"Authorization": f"Bearer {token}"}
    polls: list[tuple[float, float, int]] = []  # (asked, answered, count), epoch s
    problems: list[BaseException] = []
    stop = threading.Event()

    def ask(http: requests.Session) -> int:
        answer = http.get(base + UNREAD, headers=headers, timeout=10)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {UNREAD} answered {answer.status_code}: {answer.text[:200]}")
        return answer.json()["unread"]

    def poll() -> None:
        try:
            with requests.Session() as http:
                while not stop.is_set():
                    asked = time.time()
                    count = ask(http)
                    polls.append((asked, time.time(), count))
                    time.sleep(POLL_PAUSE_S)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            problems.append(exc)

    def wait_count(at_least: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if problems:
                raise RuntimeError(f"the bell poller failed: {problems[0]!r}") from problems[0]
            if polls and polls[-1][2] >= at_least:
                return True
            time.sleep(0.01)
        return False

    with requests.Session() as http:
        start_count = ask(http)
    poller = threading.Thread(target=poll, name="bench-bell", daemon=True)
    conn = broker.connection()
    published: list[tuple[str, str, float]] = []  # (event id, type, published), epoch s
    try:
        channel = conn.channel()
        channel.confirm_delivery()

        def send(i: int) -> None:
            event_type = BELL_TYPES[i % len(BELL_TYPES)]
            event_id, body = _event_body(event_type, client_id)
            at = time.time()
            channel.basic_publish(EXCHANGE, event_type, body, properties=_properties(event_id, event_type),
                                  mandatory=True)
            published.append((event_id, event_type, at))

        poller.start()
        for i in range(WARM_EVENTS):  # the consumer's connection and both handlers warm, the poller asking
            send(i)
            time.sleep(1 / rate)
        if not wait_count(start_count + WARM_EVENTS, 30):
            raise RuntimeError(f"the warm-up's {WARM_EVENTS} events did not reach the bell in 30 s")
        warm = len(published)
        first = start_count + WARM_EVENTS
        count = int(rate * seconds)
        log(f"messaging: the bell at {rate:g} events/s for {seconds:.0f} s")
        load = _Load(groups)
        started = time.perf_counter()
        for i in range(count):
            pause = started + i / rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            send(warm + i)
        produce_s = time.perf_counter() - started
        drained = wait_count(first + count, 15)
        cpu = load.stop()
    finally:
        stop.set()
        poller.join(timeout=15)
        conn.close()
    if problems:
        raise RuntimeError(f"the bell poller failed: {problems[0]!r}") from problems[0]

    measured = published[warm:]
    latencies, floor = [], []
    k = 0
    for i, (_, _, at) in enumerate(measured):
        while k < len(polls) and polls[k][2] < first + i + 1:
            k += 1
        if k == len(polls):
            break
        latencies.append((polls[k][1] - at) * 1000)
        floor.append(max(0.0, (polls[k][0] - at) * 1000))
    ids = [e[0] for e in measured]
    with psycopg.connect(plain_dsn(db_url), autocommit=True) as db:
        began = dict(db.execute("SELECT event_id, extract(epoch FROM processed_at)::float FROM processed_events "
                                "WHERE consumer = 'messaging' AND event_id = ANY(%s)", (ids,)).fetchall())
        notices = dict(db.execute("SELECT audience, count(*) FROM notifications WHERE source_event_id = ANY(%s) "
                                  "GROUP BY audience", (ids,)).fetchall())
        mails = db.execute("SELECT count(*) FROM mails WHERE key LIKE ANY(%s)",
                           ([f"{i}:%" for i in ids],)).fetchone()[0]
    to_consumer = [(began[e] - at) * 1000 for e, _, at in measured if e in began]
    batches = Counter(began.values())  # one consumer transaction, one now(): its events share processed_at
    gaps = [(b[1] - a[1]) * 1000 for a, b in zip(polls, polls[1:], strict=False)]
    return {
        "rate_target": rate, "seconds": round(produce_s, 2), "published": len(measured),
        "achieved_rate": round(len(measured) / produce_s, 1) if produce_s else None,
        "on_bell": len(latencies), "drained": drained, "client_notices": notices.get("client", 0),
        "practice_notices": notices.get("practice", 0), "mails": mails, "types": list(BELL_TYPES),
        "p50_ms": _r(percentile(latencies, 50)), "p90_ms": _r(percentile(latencies, 90)),
        "p99_ms": _r(percentile(latencies, 99)), "max_ms": _r(max(latencies, default=None)),
        "asked_p50_ms": _r(percentile(floor, 50)), "asked_p99_ms": _r(percentile(floor, 99)),
        "consumer_p50_ms": _r(percentile(to_consumer, 50)), "consumer_p99_ms": _r(percentile(to_consumer, 99)),
        "batches": len(batches), "batch_mean": _r(len(began) / len(batches)) if batches else None,
        "batch_max": max(batches.values(), default=None),
        "polls": len(polls), "poll_gap_ms": _r(median(gaps) if gaps else None),
        "poll_gap_p99_ms": _r(percentile(gaps, 99)), **cpu,
    }


# --- 2. the lists ----------------------------------------------------------------------------------------

def _check_list(url: str, token: str, *, unread: bool) -> dict:
    """One request before measuring: a full first page (and, filtered, only threads with something unread)."""
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {url} answered {answer.status_code}: {answer.text[:300]}")
    page = answer.json()
    items = page["items"]
    if len(items) != 50 or not page["next_cursor"]:
        raise RuntimeError(f"GET {url} answered {len(items)} threads (next_cursor {page['next_cursor']!r})")
    if unread and not all(t["unread_count"] > 0 for t in items):
        raise RuntimeError(f"GET {url} answered threads with nothing unread")
    stamps = [t["last_message_at"] for t in items]
    if stamps != sorted(stamps, reverse=True):
        raise RuntimeError(f"GET {url} is not the latest first")
    return {"items": len(items), "bytes": len(answer.content), "unread_in_page": sum(t["unread_count"] > 0
                                                                                     for t in items)}


def lists(workspace: Workspace, base: str, tokens: dict[str, str], groups: dict[str, int], settings: dict,
          connections: int) -> dict:
    from bench.http_part import measured

    targets = {"staff inbox, first page": ("staff", STAFF_THREADS, False),
               "staff inbox, unread=true": ("staff", STAFF_THREADS + "?unread=true", True),
               "portal, the client's threads": ("client", PORTAL_THREADS, False)}
    out = {}
    for name, (who, path, unread) in targets.items():
        answer = _check_list(base + path, tokens[who], unread=unread)
        script = wrk_script(workspace, "messaging-" + "".join(c if c.isalnum() else "-" for c in name),
                            headers={"Authorization": f"Bearer {tokens[who]}"})
        c1 = measured(base + path, script, groups, connections=1, threads=1, duration=settings["c1_duration"],
                      warmup=1)
        cn = measured(base + path, script, groups, connections=connections, threads=2,
                      duration=settings["duration"], warmup=settings["warmup"])
        out[name] = {"path": path, "answer": answer, "c1": c1, "cn": cn}
        log(f"messaging: {name}: c1 p50 {c1['p50_ms']} ms, p99 {c1['p99_ms']} ms ({c1['rps']} req/s); "
            f"c{connections} p99 {cn['p99_ms']} ms ({cn['rps']} req/s)")
    return out


# --- 3. the file -------------------------------------------------------------------------------------------

def _file() -> tuple[bytes, str]:
    head, tail = b"%PDF-1.4\n% bench scan\n", b"\n%%EOF\n"
    data = head + os.urandom(FILE_BYTES - len(head) - len(tail)) + tail
    return data, hashlib.sha256(data).hexdigest()


def _multipart(data: bytes) -> tuple[bytes, str]:
    boundary = "bench-" + uuid.uuid4().hex
    fields = {"subject": "Superbill scan", "body": "The scanned superbill my insurer asked for."}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; filename="superbill-scan.pdf"'
                 f'\r\nContent-Type: application/pdf\r\n\r\n'.encode())
    return b"".join(parts) + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _rss_mib(pids: list[int]) -> float:
    return round(sum(_status_kib(p, "VmRSS") for p in pids) / 1024, 1)


def attachments(base: str, token: str, watched: dict[str, int], n: int, data: bytes, digest: str, body: bytes,
                content_type: str, *, earlier: list[str] | None = None) -> dict:
    """`n` uploads and `n` downloads, each one's seconds, the CPU each process group spent on it, and each watched
    master's workers' peak growth. Uploads first, then downloads of what they made; with `earlier` (attachment ids
    uploaded before), downloads of those first, so a freshly started process's first requests are downloads."""
    auth = {"Authorization": f"Bearer {token}"}
    workers = {name: _children(pid) for name, pid in watched.items()}
    rss_before = {name: _rss_mib(pids) for name, pids in workers.items()}
    runs: dict[str, list[dict]] = {"upload": [], "download": []}
    made: list[str] = []

    def measure(what: str, call) -> None:
        peaks = {name: PeakRss(pids) for name, pids in workers.items()}
        cpu = cpu_snapshot(watched)
        started = time.perf_counter()
        call()
        seconds = time.perf_counter() - started
        memory = {name: p.stop() for name, p in peaks.items()}
        spent = cpu_delta(cpu, cpu_snapshot(watched))
        runs[what].append({"seconds": seconds, "memory": memory,
                           "cpu_s": {k: v for k, v in spent.items() if k in watched or k == "postgres"}})

    with requests.Session() as http:
        http.get(base + PORTAL_THREADS + "?limit=1", headers=auth, timeout=10)  # the connection, opened

        def upload() -> None:
            answer = http.post(base + PORTAL_THREADS, data=body, headers={**auth, "Content-Type": content_type},
                               timeout=120)
            if answer.status_code != 201:
                raise RuntimeError(f"POST {PORTAL_THREADS} with {FILE_BYTES} bytes answered {answer.status_code}: "
                                   f"{answer.text[:300]}")
            attachment = answer.json()["messages"][0]["attachments"][0]
            if attachment["size_bytes"] != len(data):
                raise RuntimeError(f"the attachment is {attachment['size_bytes']} bytes, not {len(data)}")
            made.append(attachment["id"])

        def download(attachment_id: str) -> None:
            sha, size = hashlib.sha256(), 0
            with http.get(base + ATTACHMENT.format(attachment_id), headers=auth, timeout=120, stream=True) as answer:
                if answer.status_code != 200:
                    raise RuntimeError(f"GET {ATTACHMENT} answered {answer.status_code}: {answer.text[:300]}")
                for piece in answer.iter_content(MIB):
                    sha.update(piece)
                    size += len(piece)
            if size != len(data) or sha.hexdigest() != digest:
                raise RuntimeError(f"the download is {size} bytes, SHA-256 {sha.hexdigest()[:12]}…, not the file")

        for attachment_id in (earlier or [])[:n]:
            measure("download", lambda a=attachment_id: download(a))
        for _ in range(n):
            measure("upload", upload)
        if not earlier:
            for attachment_id in made:
                measure("download", lambda a=attachment_id: download(a))
    return {"upload": _summarise(runs["upload"], list(watched)), "download": _summarise(runs["download"],
                                                                                       list(watched)),
            "order": "downloads first" if earlier else "uploads first", "ids": made,
            "workers": {name: len(pids) for name, pids in workers.items()},
            "rss_mib": {name: {"before": rss_before[name], "after": _rss_mib(pids)}
                        for name, pids in workers.items()}}


def _summarise(runs: list[dict], names: list[str]) -> dict:
    seconds = [r["seconds"] for r in runs]
    out = {"n": len(runs), "median_s": round(median(seconds), 3), "min_s": round(min(seconds), 3),
           "max_s": round(max(seconds), 3), "mb_per_s": round(FILE_BYTES / MIB / median(seconds), 1),
           "cpu_s": {k: round(median(r["cpu_s"].get(k, 0.0) for r in runs), 3) for k in [*names, "postgres"]}}
    for name in names:
        growth = [r["memory"][name]["growth_kib"] / 1024 for r in runs]
        kept = [r["memory"][name]["kept_kib"] / 1024 for r in runs]
        out[name] = {"growth_median_mib": round(median(growth), 1), "growth_max_mib": round(max(growth), 1),
                     "growth_first_mib": round(growth[0], 1), "kept_max_mib": round(max(kept), 1),
                     "method": runs[0]["memory"][name]["method"]}
    return out


# --- the part ---------------------------------------------------------------------------------------------

def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    from bench.events_part import VHOST, BenchBroker
    from bench.http_part import GATEWAY_APP, IDENTITY_APP
    from shared.config import env as setting

    fixture = prepare_identity(workspace)
    client_id = fixture["client_id"]
    tokens = {"client": fixture["access_token"], "staff": fixture["admin_token"]}
    url = bench_db_url("messaging")
    n_threads = settings.get("messaging_threads", 10_000)
    mine = settings.get("messaging_client_threads", 1_000)
    connections = settings.get("messaging_connections", 4)
    uploads = settings.get("messaging_uploads", 5)
    out: dict = {"connections": connections, "model": "gthread 2x8"}
    log(f"messaging: recreating {url.rsplit('/', 1)[-1]}")
    recreate_database("messaging", url)
    broker = None
    try:
        broker = BenchBroker(setting("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"))
        if not broker.vhost_mode:
            # Outside a vhost of its own, messaging's consumer queue would be the developer's messaging.events.
            raise RuntimeError(f"rabbitmqctl cannot make the bench vhost {VHOST}; the bell is not measured outside it")
        directory = _directory(fixture, random.Random(20261213))
        seed_directory(url, directory)

        env = {**os.environ, **workspace.env(), "MESSAGING_DATABASE_URL": url, "AMQP_URL": broker.url,
               "EVENTS_EXCHANGE": EXCHANGE}
        env.pop("METRICS_PORT", None)
        identity = gunicorn(procs, "identity", IDENTITY_APP, env)
        env.update({"IDENTITY_URL": identity.url, "JWKS_URL": identity.url + "/.well-known/jwks.json"})
        messaging = gunicorn(procs, "messaging", MESSAGING_APP, env, workers=2, threads=8)
        events_env = {k: v for k, v in env.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        events = procs.start("messaging-events", [sys.executable, "-m", "services.messaging.worker", "events"],
                             events_env, stop_signal=signal.SIGTERM)
        groups = {"messaging": messaging.popen.pid, "identity": identity.popen.pid}
        _wait_consumer(broker, events)

        # 1. The bell.
        out["bell"] = bell(broker, messaging.url, tokens["client"], client_id, url,
                           rate=settings.get("bell_rate", 100), seconds=settings.get("bell_seconds", 20.0),
                           groups={**groups, "messaging-events": events.popen.pid})
        b = out["bell"]
        log(f"messaging: the bell: {b['on_bell']}/{b['published']} on the bell, p50 {b['p50_ms']} ms, p99 "
            f"{b['p99_ms']} ms (consumer's transaction began p50 {b['consumer_p50_ms']} / p99 "
            f"{b['consumer_p99_ms']} ms after the publish; a poll every {b['poll_gap_ms']} ms)")

        # 2. The lists.
        started = time.perf_counter()
        rows = build_threads(directory, datetime.now(UTC), threads=n_threads, mine=mine)
        build_s = time.perf_counter() - started
        copy_s = seed_threads(url, rows)
        out["seed"] = {"threads": len(rows["threads"]), "messages": len(rows["messages"]),
                       "clients": len(directory["clients"]), "bench_threads": rows["bench_threads"],
                       "staff_unread_threads": rows["staff_unread_threads"],
                       "bench_unread_threads": rows["bench_unread_threads"],
                       "assigned": sum(1 for t in rows["threads"] if t[4]), "build_s": round(build_s, 2),
                       "copy_s": round(copy_s, 2), "method": "COPY, then VACUUM ANALYZE"}
        log(f"messaging: seeded {len(rows['threads'])} threads, {len(rows['messages'])} messages "
            f"({rows['staff_unread_threads']} threads unread by the practice) in {build_s + copy_s:.1f} s")
        if have_wrk():
            out["lists"] = lists(workspace, messaging.url, tokens, groups, settings, connections)
        else:
            out["lists_skipped"] = "wrk is not installed"
            log("messaging: the lists skipped, wrk is not installed")

        # 3. The file: at messaging, then through the gateway.
        data, digest = _file()
        body, content_type = _multipart(data)
        log(f"messaging: {uploads} uploads and downloads of {FILE_BYTES // MIB} MiB at messaging")
        out["files"] = {"direct": attachments(messaging.url, tokens["client"], {"messaging": messaging.popen.pid},
                                              uploads, data, digest, body, content_type)}
        gateway = gunicorn(procs, "gateway", GATEWAY_APP, {**env, "MESSAGING_URL": messaging.url})
        log(f"messaging: {uploads} uploads and downloads of {FILE_BYTES // MIB} MiB through the gateway")
        out["files"]["gateway"] = attachments(gateway.url, tokens["client"],
                                              {"messaging": messaging.popen.pid, "gateway": gateway.popen.pid},
                                              uploads, data, digest, body, content_type,
                                              earlier=out["files"]["direct"]["ids"])
        for via, f in out["files"].items():
            log(f"messaging: 10 MiB via {via}: up {f['upload']['median_s']} s, down {f['download']['median_s']} s; "
                + "; ".join(f"{name} grows {f['upload'][name]['growth_median_mib']} / "
                            f"{f['download'][name]['growth_median_mib']} MiB" for name in f["workers"]))
        procs.stop(gateway)
        procs.stop(events)
        procs.stop(messaging)
        procs.stop(identity)
    finally:
        if broker is not None:
            broker.cleanup()
        dispose_engines()
        drop_bench_database(url)
    return out


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# --- the Markdown rows (bench/report.py renders them) ----------------------------------------------

def _f(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def _cpu(result: dict) -> str:
    per = result.get("cpu_ms_per_req") or {}
    order = ["messaging", "identity", "postgres", "wrk"]
    return ", ".join(f"{k} {per[k]:.2f}" for k in order if per.get(k)) or "–"


def _errors(result: dict) -> int:
    return result.get("non_2xx_3xx", 0) + result.get("socket_errors", 0)


def _noisy(*runs: dict) -> str:
    return " (noisy)" if max((r.get("other_cpu_share") or 0) for r in runs) > NOISY else ""


def markdown_rows(results: dict, aims: list | None = None) -> list[str]:
    """The messaging part's section of the bench table ([] when it did not run); its aims are appended to `aims`
    (report.py's list of (aim, target, measured, met))."""
    m = results.get("messaging")
    if not m:
        return []
    s = results.get("settings", {})
    conn = m.get("connections", 4)
    lines = ["### Messaging: the bell, the inbox with 10,000 threads, a 10 MB file", "",
             f"A fresh `portal_bench_messaging` with the practice, 3 staff members and {CLIENTS} clients as "
             f"messaging's consumer copies them; messaging {m.get('model', 'gthread 2x8')} under gunicorn with "
             "identity beside it (JWKS, ended sessions) and its events process (relay and consumer) on the bench "
             f"vhost, exchange `{EXCHANGE}`; measured at messaging's own port unless the row says gateway.", ""]
    b = m.get("bell")
    if b:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in sorted(b.get("cpu_s", {}).items(), key=lambda kv: -kv[1])
                        if v >= 0.05)
        lines += [
            f"The bell: {' and '.join(b['types'])} in turn (the catalogue's examples, the bench client's id), "
            f"published to `{EXCHANGE}` as shared.relay publishes (routing key = type, persistent, mandatory, a "
            f"confirm each) at {b['rate_target']:g}/s for {b['seconds']:.0f} s; the client's `GET {UNREAD}` asked "
            f"every {POLL_PAUSE_S * 1000:.0f} ms over one connection. Latency: from just before the publish to the "
            "first answer that counts the event (events are handled in the order published). asked: to when that "
            "request was sent (the answer's own time left out). consumer: to the start of the consumer's "
            "transaction that handled it (processed_events.processed_at).",
            "",
            "| published | sent/s | on the bell | client / practice notices | mails | p50 ms | p90 ms | p99 ms | "
            "max ms | asked p50 / p99 ms | consumer p50 / p99 ms | poll every (median / p99 ms) | cores busy | "
            "other load |",
            "|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|---|---:|---:|",
            f"| {_f(b['published'])} | {_f(b['achieved_rate'])} | {_f(b['on_bell'])} | {_f(b['client_notices'])} / "
            f"{_f(b['practice_notices'])} | {_f(b['mails'])} | {_f(b['p50_ms'])} | {_f(b['p90_ms'])} | "
            f"{_f(b['p99_ms'])} | {_f(b['max_ms'])} | {_f(b['asked_p50_ms'])} / {_f(b['asked_p99_ms'])} | "
            f"{_f(b['consumer_p50_ms'])} / {_f(b['consumer_p99_ms'])} | {_f(b['poll_gap_ms'])} / "
            f"{_f(b['poll_gap_p99_ms'])} | {_pct(b.get('machine_busy'))} | {_pct(b.get('other_cpu_share'))} |",
            "",
            f"The consumer took them in {_f(b.get('batches'))} transactions (batches of {_f(b.get('batch_mean'))} "
            f"events on average, {_f(b.get('batch_max'))} at most; its prefetch is 50). CPU seconds during the run: "
            f"{cpu or '–'}.",
            "",
        ]
    seed = m.get("seed")
    ls = m.get("lists")
    if seed:
        lines += [f"The lists: {_f(seed['threads'])} threads with {_f(seed['messages'])} messages ({seed['method']}, "
                  f"{seed['build_s'] + seed['copy_s']:.1f} s), {_f(seed['bench_threads'])} of them the bench client's, "
                  f"{_f(seed['assigned'])} assigned; {_f(seed['staff_unread_threads'])} with a client's message the "
                  f"practice has not read, {_f(seed['bench_unread_threads'])} of the bench client's with one of the "
                  f"practice's the client has not. wrk -t1 -c1 for {s.get('c1_duration', 0):.0f} s, then -t2 -c{conn} "
                  f"for {s.get('duration', 0):.0f} s after a {s.get('warmup', 0):.0f} s warm-up. CPU ms/req: during "
                  f"the c{conn} run.", ""]
    if ls:
        lines += [f"| request | answer | c1 p50 ms | c1 p99 ms | c1 req/s | c{conn} req/s | c{conn} p50 ms | "
                  f"c{conn} p99 ms | errors | CPU ms/req (c{conn}) | other load |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
        for name, r in ls.items():
            c1, cn, a = r["c1"], r["cn"], r["answer"]
            lines.append(f"| {name}: `GET {r['path']}` | {a['items']} threads, {_f(a['bytes'] // 1024)} KiB | "
                         f"{_f(c1['p50_ms'], 2)} | {_f(c1['p99_ms'], 2)} | {_f(c1['rps'], 0)} | {_f(cn['rps'], 0)} | "
                         f"{_f(cn['p50_ms'], 2)} | {_f(cn['p99_ms'], 2)} | {_errors(c1)}/{_errors(cn)} | {_cpu(cn)} | "
                         f"{_pct(max(c1.get('other_cpu_share') or 0, cn.get('other_cpu_share') or 0))} |")
        lines.append("")
    elif m.get("lists_skipped"):
        lines += [f"The lists: not measured ({m['lists_skipped']}).", ""]
    files = m.get("files")
    if files:
        lines += [f"A {FILE_BYTES // MIB} MiB PDF: `POST {PORTAL_THREADS}` (multipart, one attachment; a new thread "
                  f"each) and `GET {ATTACHMENT.format('{id}')}` (SHA-256 checked), "
                  f"{files['direct']['upload']['n']} times each, at messaging (uploads, then their downloads), then "
                  "through a freshly started gateway (downloads of the same files first, then uploads). Peak RSS "
                  "growth: each gunicorn worker's peak (VmHWM, reset through clear_refs before each request) minus its "
                  "RSS before, the largest over the workers; median / largest of the runs (first run). kept: RSS "
                  "after minus before, the largest. CPU s: median per request, all the group's processes.",
                  "",
                  "| via | request | median s | min – max s | MiB/s | messaging worker peak growth MiB | "
                  "messaging kept MiB | gateway worker peak growth MiB | gateway kept MiB | CPU s messaging / gateway "
                  "/ postgres |",
                  "|---|---|---:|---|---:|---|---:|---|---:|---|"]
        for via, f in files.items():
            for what in ("upload", "download"):
                r = f[what]
                mem = {name: (f"{_f(r[name]['growth_median_mib'])} / {_f(r[name]['growth_max_mib'])} "
                              f"({_f(r[name]['growth_first_mib'])})", _f(r[name]["kept_max_mib"]))
                       for name in f["workers"]}
                cpu = r.get("cpu_s", {})
                lines.append(f"| {via} | {what} | {r['median_s']:.3f} | {r['min_s']:.3f} – {r['max_s']:.3f} | "
                             f"{_f(r['mb_per_s'])} | {mem['messaging'][0]} | {mem['messaging'][1]} | "
                             f"{mem.get('gateway', ('–', '–'))[0]} | {mem.get('gateway', ('–', '–'))[1]} | "
                             f"{_f(cpu.get('messaging'), 3)} / {_f(cpu.get('gateway'), 3)} / "
                             f"{_f(cpu.get('postgres'), 3)} |")
        rss = "; ".join(f"via {via}: " + ", ".join(f"{name} {v['before']:.0f} → {v['after']:.0f} MiB"
                                                   for name, v in f.get("rss_mib", {}).items())
                        for via, f in files.items())
        lines += ["", f"The workers' RSS (all of a master's workers), before and after each series: {rss}.", ""]
    if aims is not None:
        if b and b.get("p99_ms") is not None:
            ok = b["p99_ms"] < BELL_AIM_MS and b["on_bell"] == b["published"] == b["client_notices"]
            aims.append((f"messaging: event published → on the client's bell, p99 at {b['rate_target']:g} events/s",
                         "< 100 ms", f"{b['p99_ms']:.1f} ms (p50 {b['p50_ms']:.1f}; {b['on_bell']:,}/"
                         f"{b['published']:,} seen)" + _noisy(b), ok))
        for name, r in (ls or {}).items():
            c1, cn = r["c1"], r["cn"]
            aims.append((f"messaging {name} ({seed['threads']:,} threads), p99 at the service, 1 connection",
                         "< 20 ms", f"{c1['p99_ms']:.1f} ms" + _noisy(c1), c1["p99_ms"] < LIST_AIM_MS
                         and not _errors(c1)))
            aims.append((f"messaging {name}, {conn} connections: req/s, p50, p99", "report",
                         f"{cn['rps']:.0f}/s, {cn['p50_ms']:.1f} ms, {cn['p99_ms']:.1f} ms" + _noisy(cn), None))
        for via, f in (files or {}).items():
            for name in f["workers"]:
                worst = max(f["upload"][name]["growth_max_mib"], f["download"][name]["growth_max_mib"])
                aims.append((f"messaging 10 MiB file via {via}: {name} worker's peak RSS growth, upload / download "
                             "(largest of the runs)", "< 10 MiB (streamed)",
                             f"{f['upload'][name]['growth_max_mib']:.1f} / {f['download'][name]['growth_max_mib']:.1f}"
                             " MiB", worst < FILE_BYTES / MIB))
            aims.append((f"messaging 10 MiB file via {via}: upload / download, median", "report",
                         f"{f['upload']['median_s']:.2f} s / {f['download']['median_s']:.2f} s", None))
    return lines
