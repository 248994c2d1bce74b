"""Billing (issue 3): a client with 50,000 ledger entries and 5,000 invoices.

Aims: the account-history page (50 rows) and the balance answer in under 20 ms p99 at the service, and a
statement PDF of one year in under 1 s.

A fresh `portal_bench_billing` (migrated as `python -m shared.manage migrate billing` does) is seeded in
bulk (COPY) with one account: 5,000 invoices of one line each, their charges, and 45,000 payments and
adjustments over about three years, in time order (seq order = time order), with the running balance
computed here and allocations that pay the invoices oldest first, so every invoice balance agrees with
the ledger. Billing then runs under gunicorn (deploy/gunicorn.conf.py, 2 workers x 8 threads) with
identity beside it for the JWKS, and wrk measures it directly on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import random
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import requests

from bench.common import (
    Procs,
    Workspace,
    bench_db_url,
    dispose_engines,
    drop_bench_database,
    gunicorn,
    log,
    plain_dsn,
    recreate_database,
    wrk_script,
)
from bench.fixture import prepare_identity
from bench.http_part import IDENTITY_APP, measured

BILLING_APP = "services.billing.app:create_app()"
TIMEZONE = "America/New_York"
HISTORY = "/api/v1/portal/account/history"
ACCOUNT = "/api/v1/portal/account"
AIM_MS = 20.0
PDF_AIM_S = 1.0
_SERVICES = [("90837", "Psychotherapy, 60 minutes", 18000), ("90834", "Psychotherapy, 45 minutes", 14000),
             ("90791", "Psychiatric diagnostic evaluation", 22000), ("90853", "Group psychotherapy", 6000),
             ("90847", "Family psychotherapy with patient present", 16000)]
_REASONS = ["Sliding-scale discount agreed at intake", "Small balance written off", "Courtesy discount",
            "Insurance contractual adjustment"]


# --- the seed ----------------------------------------------------------------------------------------

def _split(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` cents in `parts` positive amounts, multiples of 50 cents where they can be."""
    units = total // 50
    if parts <= 1 or units < parts:
        return [total] if parts <= 1 else [total - (parts - 1)] + [1] * (parts - 1)
    cuts = sorted(rng.sample(range(1, units), parts - 1))
    amounts = [(b - a) * 50 for a, b in zip([0, *cuts], [*cuts, units], strict=True)]
    amounts[-1] += total - units * 50
    return amounts


def _gaps(invoices: int, credits: int, rng: random.Random) -> list[int]:
    """How many payments and adjustments follow each invoice (5 to 13, adding up to `credits`)."""
    gaps = [rng.randint(5, 13) for _ in range(invoices)]
    diff = credits - sum(gaps)
    while diff:
        i = rng.randrange(invoices)
        step = 1 if diff > 0 else -1
        if 1 <= gaps[i] + step <= 30:
            gaps[i] += step
            diff -= step
    return gaps


def build_seed(client_id: str, *, entries: int = 50_000, invoices: int = 5_000, years: int = 3,
               seed: int = 20261122) -> dict:
    """The rows, in memory: each invoice's charge is followed by the payments and adjustments that pay it
    (all of it, except the newest invoice, half paid: the balance is what that half leaves)."""
    rng = random.Random(seed)
    tz = ZoneInfo(TIMEZONE)
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=365 * years)
    span = (now - timedelta(hours=1) - start).total_seconds()
    times = sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(entries))
    gaps = _gaps(invoices, entries - invoices, rng)
    invoice_rows, line_rows, entry_rows, allocation_rows = [], [], [], []
    balance, t = 0, 0
    kinds: Counter = Counter()
    for k in range(invoices):
        code, description, rate = rng.choice(_SERVICES)
        invoice_id, issued = str(uuid.uuid4()), times[t]
        local = issued.astimezone(tz).date()
        balance += rate
        entry_rows.append((str(uuid.uuid4()), client_id, "charge", rate, "USD", balance, f"Invoice #{k + 1:06d}",
                           invoice_id, None, None, None, None, None, issued, None))
        kinds["charge"] += 1
        t += 1
        last = k == invoices - 1
        paid_at = None
        for amount in _split(rate // 2 if last else rate, gaps[k], rng):
            at = times[t]
            entry_id = str(uuid.uuid4())
            balance -= amount
            if rng.random() < 0.9:
                entry_rows.append((entry_id, client_id, "payment", -amount, "USD", balance,
                                   "Payment by Visa ending 4242", None, str(uuid.uuid4()), None, None, None,
                                   json.dumps({"brand": "visa", "last4": "4242"}), at, None))
                kinds["payment"] += 1
            else:
                adjustment_kind = rng.choice(("discount", "write_off"))
                reason = rng.choice(_REASONS)
                label = {"write_off": "Write-off", "discount": "Discount"}[adjustment_kind]
                entry_rows.append((entry_id, client_id, "adjustment", -amount, "USD", balance,
                                   f"{label}: {reason}", invoice_id, None, None, adjustment_kind, reason, None,
                                   at, None))
                kinds["adjustment"] += 1
            allocation_rows.append((str(uuid.uuid4()), invoice_id, entry_id, amount, at))
            paid_at = at
            t += 1
        invoice_rows.append((invoice_id, k + 1, client_id, None, local, issued, local + timedelta(days=14), "USD",
                             rate, None, None if last else paid_at, None))
        line_rows.append((str(uuid.uuid4()), invoice_id, 1, code, description, 1, rate, rate, local))
    assert t == entries and len(entry_rows) == entries
    per_year = Counter(e[13].astimezone(tz).year for e in entry_rows)
    return {"invoices": invoice_rows, "lines": line_rows, "entries": entry_rows, "allocations": allocation_rows,
            "balance": balance, "kinds": dict(kinds), "per_year": dict(sorted(per_year.items())),
            "first": times[0], "last": times[-1]}


def seed_database(url: str, client_id: str, rows: dict) -> float:
    """COPY the rows into the (freshly migrated) bench database; answers the seconds it took, VACUUM ANALYZE
    included (a live database has its statistics)."""
    import psycopg

    started = time.perf_counter()
    tables = [
        ("invoices", "id, number, client_id, appointment_id, date_of_service, issued_at, due_date, currency, "
                     "total_cents, note, paid_at, created_by", rows["invoices"]),
        ("invoice_lines", "id, invoice_id, position, service_code, description, units, rate_cents, amount_cents, "
                          "date_of_service", rows["lines"]),
        ("ledger_entries", "id, client_id, kind, amount_cents, currency, balance_after_cents, description, "
                           "invoice_id, payment_id, refund_id, adjustment_kind, reason, method, occurred_at, "
                           "created_by", rows["entries"]),
        ("allocations", "id, invoice_id, entry_id, amount_cents, created_at", rows["allocations"]),
    ]
    with psycopg.connect(plain_dsn(url)) as conn:
        conn.execute(
            "INSERT INTO practice (id, practice_name, currency, timezone, phone, email, address, "
            "online_payments_enabled, billing_documents_enabled, autopay_enabled) VALUES (1, %s, 'USD', %s, %s, "
            "%s, %s, true, true, false)",
            ("Harbor Light Counseling", TIMEZONE, "(217) 555-0142", "billing@harborlight.example",
             json.dumps({"line1": "1200 Market Street", "line2": "Suite 410", "city": "Springfield",
                         "state": "IL", "postal_code": "62701"})))
        conn.execute(
            "INSERT INTO accounts (client_id, first_name, last_name, preferred_name, email, date_of_birth, "
            "autopay_enabled, autopay_failures) VALUES (%s, 'Casey', 'Benchmark', 'Case', %s, %s, false, 0)",
            (client_id, "casey.bench@bench.local", date(1990, 4, 12)))
        for code, description, rate in _SERVICES:
            conn.execute("INSERT INTO service_codes (id, code, description, rate_cents, active) "
                         "VALUES (%s, %s, %s, %s, true)", (str(uuid.uuid4()), code, description, rate))
        with conn.cursor() as cur:
            for table, columns, data in tables:
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # noqa: S608 (constant names)
                    for row in data:
                        copy.write_row(row)
        conn.execute("INSERT INTO counters (name, value) VALUES ('invoice', %s)", (len(rows["invoices"]),))
    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        for table in ("accounts", "invoices", "invoice_lines", "ledger_entries", "allocations"):
            conn.execute(f"VACUUM ANALYZE {table}")  # noqa: S608 (constant names)
    return time.perf_counter() - started


def _verify(url: str, client_id: str, rows: dict) -> dict:
    """The seed agrees with itself: the last running balance is the sum of the amounts, and what the invoices
    still owe (total minus allocations) is that balance."""
    import psycopg

    with psycopg.connect(plain_dsn(url), autocommit=True) as conn:
        count, total, last, ordered = conn.execute(
            "SELECT count(*), sum(amount_cents), (SELECT balance_after_cents FROM ledger_entries "
            "WHERE client_id = %(c)s ORDER BY seq DESC LIMIT 1), "
            "bool_and(occurred_at >= prev) FROM (SELECT amount_cents, occurred_at, lag(occurred_at, 1, "
            "occurred_at) OVER (ORDER BY seq) AS prev FROM ledger_entries WHERE client_id = %(c)s) x",
            {"c": client_id}).fetchone()
        owed = conn.execute(
            "SELECT sum(i.total_cents - coalesce(a.paid, 0)), count(*) FILTER (WHERE i.total_cents > "
            "coalesce(a.paid, 0)) FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount_cents) AS paid "
            "FROM allocations GROUP BY invoice_id) a ON a.invoice_id = i.id WHERE i.client_id = %s",
            (client_id,)).fetchone()
        allocations = conn.execute("SELECT count(*) FROM allocations").fetchone()[0]
    if not (count == len(rows["entries"]) and total == last == rows["balance"] == owed[0] and ordered):
        raise RuntimeError(f"the seed is inconsistent: {count} entries, sum {total}, last balance {last}, "
                           f"owed on invoices {owed[0]}, expected {rows['balance']}, time ordered {ordered}")
    return {"entries": count, "balance_cents": last, "open_invoices": owed[1], "allocations": allocations}


# --- measuring ---------------------------------------------------------------------------------------

def _get(http: requests.Session, url: str, token: str, **params) -> dict:
    response = http.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} {params} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def _statement(http: requests.Session, base: str, token: str, client_id: str, start: date, end: date) -> str:
    response = http.post(base + "/api/v1/staff/statements", headers={"Authorization": f"Bearer {token}"},
                         json={"client_id": client_id, "from": start.isoformat(), "to": end.isoformat()}, timeout=30)
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/v1/staff/statements answered {response.status_code}: {response.text[:300]}")
    return response.json()["id"]


def _time_pdf(http: requests.Session, base: str, token: str, statement_id: str, runs: int = 3) -> dict:
    from bench.billing_pdf import page_count

    url = f"{base}/api/v1/staff/billing-documents/{statement_id}/pdf"
    seconds, body = [], b""
    for _ in range(runs):
        started = time.perf_counter()
        response = http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        body = response.content
        seconds.append(time.perf_counter() - started)
        if response.status_code != 200 or not body.startswith(b"%PDF"):
            raise RuntimeError(f"GET {url} answered {response.status_code}: {body[:300]!r}")
    return {"seconds": round(min(seconds), 3), "all_seconds": [round(s, 3) for s in seconds],
            "pages": page_count(body), "bytes": len(body)}


def _split_pdf_time(url: str, statement_id: str, runs: int = 3) -> dict:
    """The same statement in-process: assembling it from the database (documents.statement_doc) and rendering
    it (pdf.render_statement), each best of `runs`."""
    from services.billing import pdf
    from services.billing.config import BillingConfig
    from services.billing.models import Statement
    from services.billing.service import BillingService
    from services.billing.usecases import documents
    from shared.db import session_factory, unit_of_work

    service = BillingService(config=BillingConfig(database_url=url), sessions=session_factory(url))
    assemble, render, doc = [], [], None
    for _ in range(runs):
        with unit_of_work(service.sessions) as session:
            statement = session.get(Statement, statement_id)
            started = time.perf_counter()
            doc = documents.statement_doc(service, session, statement)
            assemble.append(time.perf_counter() - started)
        started = time.perf_counter()
        pdf.render_statement(doc)
        render.append(time.perf_counter() - started)
    return {"assemble_s": round(min(assemble), 3), "render_s": round(min(render), 3),
            "entries": len(doc["entries"])}


def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    fixture = prepare_identity(workspace)
    client_id, token, admin = fixture["client_id"], fixture["access_token"], fixture["admin_token"]
    url = bench_db_url("billing")
    n_entries, n_invoices = settings.get("billing_entries", 50_000), settings.get("billing_invoices", 5_000)
    out: dict = {"endpoints": {}, "pdf": {}}
    log(f"billing: recreating {url.rsplit('/', 1)[-1]}")
    recreate_database("billing", url)
    try:
        started = time.perf_counter()
        rows = build_seed(client_id, entries=n_entries, invoices=n_invoices)
        build_s = time.perf_counter() - started
        copy_s = seed_database(url, client_id, rows)
        out["seed"] = {**_verify(url, client_id, rows), "invoices": len(rows["invoices"]), "kinds": rows["kinds"],
                       "per_year": rows["per_year"], "first": rows["first"].date().isoformat(),
                       "last": rows["last"].date().isoformat(), "build_s": round(build_s, 2),
                       "copy_s": round(copy_s, 2), "method": "COPY, then VACUUM ANALYZE"}
        log(f"billing: seeded {out['seed']['entries']} entries, {out['seed']['invoices']} invoices, "
            f"{out['seed']['allocations']} allocations in {build_s + copy_s:.1f} s; per year {rows['per_year']}")

        env = {**os.environ, **workspace.env(), "BILLING_DATABASE_URL": url}
        identity = gunicorn(procs, "identity", IDENTITY_APP, env)
        env.update({"IDENTITY_URL": identity.url, "JWKS_URL": identity.url + "/.well-known/jwks.json"})
        billing = gunicorn(procs, "billing", BILLING_APP, env, workers=2, threads=8)
        groups = {"billing": billing.popen.pid, "identity": identity.popen.pid}
        out["billing_model"] = "gthread 2x8"
        http = requests.Session()

        # The pages: the first, a deep one (the cursor of page 21), one month of the busiest year.
        busiest = max(rows["per_year"], key=rows["per_year"].get)
        first = _get(http, billing.url + HISTORY, token, limit=50)
        if len(first["items"]) != 50 or first["items"][0]["balance_after_cents"] != rows["balance"]:
            raise RuntimeError(f"the first history page is not the seeded ledger: {first['items'][:1]}")
        cursor, page = first["next_cursor"], 1
        while page < 20:
            cursor = _get(http, billing.url + HISTORY, token, limit=50, cursor=cursor)["next_cursor"]
            page += 1
        month = (date(busiest, 6, 1), date(busiest, 6, 30))
        filtered = _get(http, billing.url + HISTORY, token, limit=50, **{"from": month[0].isoformat(),
                                                                        "to": month[1].isoformat()})
        account = _get(http, billing.url + ACCOUNT, token)
        if account["balance_cents"] != rows["balance"]:
            raise RuntimeError(f"GET {ACCOUNT} answered balance {account['balance_cents']}, seeded {rows['balance']}")
        targets = [
            ("history, first page", f"{HISTORY}?limit=50", f"{len(first['items'])} rows"),
            ("history, page 21 (cursor)", f"{HISTORY}?limit=50&cursor={cursor}", "rows 1,001-1,050"),
            (f"history, {month[0]:%B %Y} (from/to)",
             f"{HISTORY}?limit=50&from={month[0].isoformat()}&to={month[1].isoformat()}",
             f"{len(filtered['items'])} rows"),
            ("account (balance)", ACCOUNT, f"balance {account['balance_cents']}, credit {account['credit_cents']}"),
        ]
        script = wrk_script(workspace, "billing-portal", headers={"Authorization": f"Bearer {token}"})
        duration, warmup, c1_duration = settings["duration"], settings["warmup"], settings["c1_duration"]
        for name, path, note in targets:
            log(f"billing: {name}: c1 {c1_duration:.0f} s, then c8 {duration:.0f} s")
            c1 = measured(billing.url + path, script, groups, connections=1, threads=1, duration=c1_duration,
                          warmup=1)
            c8 = measured(billing.url + path, script, groups, connections=8, threads=2, duration=duration,
                          warmup=warmup)
            out["endpoints"][name] = {"path": path.split("?")[0], "query": path.partition("?")[2], "note": note,
                                      "c1": c1, "c8": c8}
            log(f"billing: {name}: c1 p50 {c1['p50_ms']} ms, p99 {c1['p99_ms']} ms; c8 {c8['rps']} req/s, "
                f"p99 {c8['p99_ms']} ms")

        # Statement PDFs: the busiest year, and (next to bench/billing_pdf.py's aim) its first 5,000 entries.
        year = (date(busiest, 1, 1), date(busiest, 12, 31))
        tz = ZoneInfo(TIMEZONE)
        in_year = [e[13].astimezone(tz).date() for e in rows["entries"] if e[13].astimezone(tz).year == busiest]
        five_k = (year[0], in_year[min(len(in_year), 5000) - 1])
        for label, (start, end) in ((f"year {busiest}", year), (f"{busiest}, its first 5,000 entries", five_k)):
            statement_id = _statement(http, billing.url, admin, client_id, start, end)
            log(f"billing: statement PDF {label} ({start} to {end}), best of 3")
            timed = _time_pdf(http, billing.url, admin, statement_id)
            timed.update(_split_pdf_time(url, statement_id))
            timed.update({"from": start.isoformat(), "to": end.isoformat()})
            out["pdf"][label] = timed
            log(f"billing: {label}: {timed['entries']} entries, {timed['pages']} pages, {timed['seconds']} s end to "
                f"end (assemble {timed['assemble_s']} s, render {timed['render_s']} s)")
        http.close()
        procs.stop(billing)
        procs.stop(identity)

        from bench.billing_pdf import bench_statement

        out["renderer_only"] = bench_statement(5000)
        log(f"billing: renderer only, synthetic 5,000 entries: {out['renderer_only']['seconds']} s")
    finally:
        dispose_engines()
        drop_bench_database(url)
    return out
