"""Web (issue 11): the portal's pages rendered through the web layer, against the API calls they make.

Aims, at 8 connections: the Dashboard, My Account and Account history (one client with a 50,000-entry ledger)
each under 50 ms p99, and each page within 1.5 times the time of the API calls it makes (measured in the same
run: the slowest of its concurrent calls, by mean latency); each page under 100 KB with its assets (htmx
included), and nothing render-blocking but one stylesheet.

Identity, billing, payments and the gateway run under gunicorn (deploy/gunicorn.conf.py, 2 workers x 8 threads
each) on fresh `portal_bench_*` databases: billing seeded as the billing part seeds it (bench.billing_part:
5,000 invoices, 50,000 ledger entries, by COPY), payments with one card on file for the client (a row, as if
saved). Browser sessions live in the Redis the gateway is configured with, under a prefix of this run's own
(deleted afterwards). The bench signs in the way a browser does (GET /signin for the pre-session cookie and the
form's CSRF token, POST /signin for the `portal_session` cookie) and wrk requests each page with that cookie;
each API call is requested through the gateway with a bearer token from POST /api/v1/auth/login. Every
answer's status is counted (a Lua response hook): a page that answered anything but 2xx (a 302 to Sign in
after the session ended, say) fails its row.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import time
import uuid
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from bench.common import (
    CLIENT_EMAIL,
    CLIENT_PASSWORD,
    Procs,
    Workspace,
    bench_db_url,
    have_wrk,
    log,
    lua_string,
    wrk_lua,
)

AIM_P99_MS = 50.0
AIM_RATIO = 1.5
AIM_WEIGHT_KB = 100.0
CONNECTIONS = 8
HISTORY = "/api/v1/portal/account/history"

# Each page and the API calls its view makes (gateway/web/portal/home.py and account.py), side by side.
PAGES: dict[str, dict] = {
    "Dashboard": {"path": "/dashboard", "calls": {
        "me": "/api/v1/portal/me",
        "account": "/api/v1/portal/account",
        "upcoming appointments": "/api/v1/portal/appointments?scope=upcoming",
    }},
    "My Account": {"path": "/account", "calls": {
        "account": "/api/v1/portal/account",
        "unpaid invoices": "/api/v1/portal/invoices?status=unpaid&limit=50",
        "history (10)": f"{HISTORY}?limit=10",
        "cards": "/api/v1/portal/payment-methods",
    }},
    "Account history": {"path": "/account/history", "calls": {
        "history (25)": f"{HISTORY}?limit=25",
    }},
}

# Counts every answer's status in each wrk thread; done() (after the JSON line of bench.common) writes the
# totals of the run to a file.
_STATUS_HOOK = """
local bench_threads = {}
function setup(thread)
  table.insert(bench_threads, thread)
end
function init(args)
  ok, redirected, refused = 0, 0, 0
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1
  elseif status >= 300 and status < 400 then redirected = redirected + 1
  else refused = refused + 1 end
end
"""
_STATUS_DONE = """
local bench_json_done = done
done = function(summary, latency, requests)
  bench_json_done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, t in ipairs(bench_threads) do
    a = a + (t:get("ok") or 0)
    b = b + (t:get("redirected") or 0)
    c = c + (t:get("refused") or 0)
  end
  local f = io.open(%(path)s, "w")
  f:write(string.format('{"2xx":%%d,"3xx":%%d,"other":%%d}', a, b, c))
  f:close()
end
"""


def _status_script(workspace: Workspace, name: str, headers: dict[str, str]):
    """A GET with `headers`, counting statuses; answers (script, the file its counts land in)."""
    counts = workspace.path("wrk", f"{name}.status.json")
    lines = ['wrk.method = "GET"'] + [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()]
    script = wrk_lua(workspace, name, "\n".join(lines) + "\n" + _STATUS_HOOK)
    script.write_text(script.read_text() + _STATUS_DONE % {"path": lua_string(str(counts))})
    return script, counts


def _measure(url: str, workspace: Workspace, name: str, headers: dict[str, str], groups: dict[str, int], *,
             connections: int, threads: int, duration: float, warmup: float) -> dict:
    from bench.http_part import measured

    script, counts = _status_script(workspace, name, headers)
    counts.unlink(missing_ok=True)
    result = measured(url, script, groups, connections=connections, threads=threads, duration=duration,
                      warmup=warmup)
    statuses = json.loads(counts.read_text())
    result["statuses"] = statuses
    result["not_2xx"] = statuses["3xx"] + statuses["other"]
    return result


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- page weight and render-blocking resources ----------------------------------------------------

class _Head(HTMLParser):
    """The resources a page references: stylesheets, scripts, icons (and, in <head>, what blocks rendering)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.in_head = False
        self.assets: list[tuple[str, str]] = []  # (kind, href)
        self.blocking_styles: list[str] = []
        self.blocking_scripts: list[str] = []
        self._inline_script: bool = False

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if tag == "head":
            self.in_head = True
        elif tag == "body":
            self.in_head = False
        elif tag == "link":
            rel = a.get("rel", "").lower().split()
            if "stylesheet" in rel and a.get("href"):
                self.assets.append(("stylesheet", a["href"]))
                if self.in_head and a.get("media", "all").lower() != "print":
                    self.blocking_styles.append(a["href"])
            elif "icon" in rel and a.get("href"):
                self.assets.append(("icon", a["href"]))
        elif tag == "style" and self.in_head:
            self.blocking_styles.append("<style> inline")
        elif tag == "script":
            kind = a.get("type", "").lower()
            classic = kind in ("", "text/javascript", "application/javascript")
            if a.get("src"):
                self.assets.append(("script", a["src"]))
            if self.in_head and classic and "defer" not in a and "async" not in a:
                self.blocking_scripts.append(a.get("src") or "<script> inline")

    def handle_endtag(self, tag):
        if tag == "head":
            self.in_head = False


_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def page_weight(http, base: str, path: str, cookie: dict[str, str]) -> dict:
    """The page's HTML and every asset it references (stylesheets, scripts, icons, and what the stylesheets
    reference in url()), each fetched once: bytes as served, uncompressed, and gzip-compressed (level 6, for
    information: what a compressing proxy in front would send)."""
    response = http.get(base + path, cookies=cookie, allow_redirects=False, timeout=10)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code} (expected 200 with the session cookie)")
    html = response.content
    head = _Head()
    head.feed(html.decode("utf-8", errors="replace"))
    files = [{"kind": "html", "url": path, "bytes": len(html), "gzip_bytes": len(gzip.compress(html, 6)),
              "served_encoding": response.headers.get("Content-Encoding", "identity")}]
    queue = [(kind, urljoin(base + path, href)) for kind, href in head.assets]
    seen: set[str] = set()
    while queue:
        kind, url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        if urlsplit(url).netloc != urlsplit(base).netloc:
            files.append({"kind": kind, "url": url, "bytes": None, "gzip_bytes": None, "note": "another origin"})
            continue
        asset = http.get(url, timeout=10)
        if asset.status_code != 200:
            raise RuntimeError(f"{path}: asset {url} answered {asset.status_code}")
        body = asset.content
        files.append({"kind": kind, "url": urlsplit(url).path, "bytes": len(body),
                      "gzip_bytes": len(gzip.compress(body, 6)),
                      "served_encoding": asset.headers.get("Content-Encoding", "identity"),
                      "cache_control": asset.headers.get("Cache-Control", "")})
        if kind == "stylesheet":
            queue += [("css url", urljoin(url, ref)) for ref in _CSS_URL.findall(body.decode(errors="replace"))
                      if not ref.startswith("data:")]
    total = sum(f["bytes"] or 0 for f in files)
    return {"files": files, "html_bytes": len(html), "total_bytes": total,
            "total_gzip_bytes": sum(f["gzip_bytes"] or 0 for f in files),
            "blocking_stylesheets": head.blocking_styles, "blocking_scripts": head.blocking_scripts}


# --- the stack and the client --------------------------------------------------------------------

def _seed_card(payments_url: str, client_id: str) -> None:
    """One card on file for the client, as Save would leave it (no processor is running: reads only)."""
    import psycopg

    from bench.common import plain_dsn

    with psycopg.connect(plain_dsn(payments_url)) as conn:
        conn.execute("INSERT INTO payment_methods (id, client_id, processor_customer_id, processor_payment_method_id, "
                     "brand, last4, exp_month, exp_year, cardholder_name, fingerprint, is_default) VALUES "
                     "(%s, %s, 'cus_bench', 'pm_bench', 'visa', '4242', 12, %s, 'Casey Benchmark', 'fp_bench', true)",
                     (str(uuid.uuid4()), client_id, time.gmtime().tm_year + 3))


def _redis_group() -> dict[str, int]:
    """The Redis server's process group, when it leads one of its own (its CPU counts for the pages)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.find("(") + 1:raw.rfind(")")]
        pgrp = int(raw[raw.rfind(")") + 2:].split()[2])
        if comm == "redis-server" and pgrp == int(entry.name):
            return {"redis": pgrp}
    return {}


def sign_in(http, base: str) -> dict[str, str]:
    """Signs in as a browser does: the form (its pre-session cookie and CSRF token), then POST /signin."""
    form = http.get(base + "/signin", timeout=10)
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if form.status_code != 200 or not match:
        raise RuntimeError(f"GET /signin answered {form.status_code} without a CSRF token")
    answer = http.post(base + "/signin", timeout=30, allow_redirects=False,
                       data={"email": CLIENT_EMAIL, "password": CLIENT_PASSWORD, "csrf_token": match.group(1)})
    session = http.cookies.get("portal_session")
    if answer.status_code not in (302, 303) or not session:
        raise RuntimeError(f"POST /signin answered {answer.status_code} without a session cookie: "
                           f"{answer.text[:300]}")
    return {"portal_session": session}


def _check_page(http, base: str, name: str, path: str, cookie: dict[str, str], expect: str) -> None:
    """One request before measuring: the page itself, whole (no part shown as unavailable)."""
    r = http.get(base + path, cookies=cookie, allow_redirects=False, timeout=10)
    text = r.text
    if r.status_code != 200 or expect not in text or "is unavailable right now" in text:
        raise RuntimeError(f"{name} ({path}) answered {r.status_code} without {expect!r} or with a part "
                           f"unavailable: {text[:400]}")


def _cleanup_redis(redis_url: str, prefix: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=500))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def run(procs: Procs, workspace: Workspace, settings: dict) -> dict:
    import requests

    from bench.billing_part import BILLING_APP, build_seed, seed_database
    from bench.common import dispose_engines, drop_bench_database, gunicorn, recreate_database
    from bench.fixture import prepare_identity
    from bench.http_part import GATEWAY_APP, IDENTITY_APP
    from bench.payments_part import PAYMENTS_APP
    from bench.scheduling_part import SCHEDULING_APP
    from shared.config import env as setting

    if not have_wrk():
        raise RuntimeError("wrk is not installed")
    connections = settings.get("web_connections", CONNECTIONS)
    duration, warmup, c1_duration = settings["duration"], settings["warmup"], settings["c1_duration"]
    fixture = prepare_identity(workspace)
    client_id = fixture["client_id"]
    billing_url, payments_url = bench_db_url("billing"), bench_db_url("payments")
    scheduling_url = bench_db_url("scheduling")
    redis_url = setting("WEB_SESSION_REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"portal-bench:web:{uuid.uuid4().hex[:8]}:"
    out: dict = {"connections": connections, "pages": {}, "calls": {}, "weight": {}}
    try:
        for name, url in (("billing", billing_url), ("payments", payments_url), ("scheduling", scheduling_url)):
            log(f"web: recreating {url.rsplit('/', 1)[-1]}")
            recreate_database(name, url)
        started = time.perf_counter()
        rows = build_seed(client_id, entries=settings.get("billing_entries", 50_000),
                          invoices=settings.get("billing_invoices", 5_000))
        seed_database(billing_url, client_id, rows)
        _seed_card(payments_url, client_id)
        out["seed"] = {"entries": len(rows["entries"]), "invoices": len(rows["invoices"]),
                       "balance_cents": rows["balance"], "cards": 1, "seconds": round(time.perf_counter() - started, 1)}
        log(f"web: seeded {len(rows['entries'])} ledger entries, {len(rows['invoices'])} invoices, one card "
            f"({out['seed']['seconds']} s)")

        env = {**os.environ, **workspace.env(), "BILLING_DATABASE_URL": billing_url,
               "PAYMENTS_DATABASE_URL": payments_url, "SCHEDULING_DATABASE_URL": scheduling_url,
               "WEB_SECRET_KEY": secrets.token_urlsafe(48),
               "WEB_SESSION_REDIS_URL": redis_url, "WEB_SESSION_PREFIX": prefix,
               # No processor runs (the pages read only); this is the origin of the card fields' frame-src.
               "PROCESSOR_URL": "http://127.0.0.1:9", "UPSTREAM_READ_TIMEOUT_MS": "15000"}
        env.pop("METRICS_PORT", None)
        identity = gunicorn(procs, "identity", IDENTITY_APP, env)
        env.update({"IDENTITY_URL": identity.url, "JWKS_URL": identity.url + "/.well-known/jwks.json"})
        billing = gunicorn(procs, "billing", BILLING_APP, env)
        payments = gunicorn(procs, "payments", PAYMENTS_APP, env)
        # Scheduling with no appointments: the Dashboard's upcoming list is empty but asked.
        scheduling = gunicorn(procs, "scheduling", SCHEDULING_APP, env)
        env.update({"BILLING_URL": billing.url, "PAYMENTS_URL": payments.url, "SCHEDULING_URL": scheduling.url})
        gateway = gunicorn(procs, "gateway", GATEWAY_APP, env)
        out["model"] = "gthread 2x8 each (gateway, identity, scheduling, billing, payments)"
        groups = {"gateway": gateway.popen.pid, "identity": identity.popen.pid, "billing": billing.popen.pid,
                  "payments": payments.popen.pid, "scheduling": scheduling.popen.pid, **_redis_group()}
        base = gateway.url

        http = requests.Session()
        cookie = sign_in(http, base)
        http.cookies.clear()  # each request below names its cookie itself
        tokens = http.post(base + "/api/v1/auth/login", timeout=30,
                           json={"email": CLIENT_EMAIL, "password": CLIENT_PASSWORD})
        if tokens.status_code != 200 or not tokens.json().get("access_token"):
            raise RuntimeError(f"POST /api/v1/auth/login answered {tokens.status_code}: {tokens.text[:300]}")
        bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
        account = http.get(base + "/api/v1/portal/account", headers=bearer, timeout=10).json()
        if account.get("balance_cents") != rows["balance"]:
            raise RuntimeError(f"GET /api/v1/portal/account answered {account}, seeded balance {rows['balance']}")
        expect = {"Dashboard": "Welcome, Case", "My Account": "Visa ending 4242",
                  "Account history": "id=\"history-rows\""}
        for name, page in PAGES.items():
            _check_page(http, base, name, page["path"], cookie, expect[name])
            for path in page["calls"].values():
                r = http.get(base + path, headers=bearer, timeout=10)
                if r.status_code != 200:
                    raise RuntimeError(f"GET {path} answered {r.status_code}: {r.text[:300]}")
            out["weight"][name] = page_weight(http, base, page["path"], cookie)

        cookie_header = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookie.items())}
        for name, page in PAGES.items():
            log(f"web: {name} ({page['path']}): c{connections} {duration:.0f} s, c1 {c1_duration:.0f} s, then its "
                f"{len(page['calls'])} API call(s) the same way")
            slug = _slug(name)
            row = {"path": page["path"], "calls": list(page["calls"])}
            row["c8"] = _measure(base + page["path"], workspace, f"web-{slug}", cookie_header, groups,
                                 connections=connections, threads=2, duration=duration, warmup=warmup)
            row["c1"] = _measure(base + page["path"], workspace, f"web-{slug}-c1", cookie_header, groups,
                                 connections=1, threads=1, duration=c1_duration, warmup=1)
            calls = {}
            for call, path in page["calls"].items():
                calls[call] = {"path": path,
                               "c8": _measure(base + path, workspace, f"api-{slug}-{_slug(call)}", bearer, groups,
                                              connections=connections, threads=2, duration=duration, warmup=warmup),
                               "c1": _measure(base + path, workspace, f"api-{slug}-{_slug(call)}-c1", bearer,
                                              groups, connections=1, threads=1, duration=c1_duration, warmup=1)}
            out["calls"][name] = calls
            for label in ("c8", "c1"):
                slowest = max(calls, key=lambda c, label=label: calls[c][label]["mean_ms"])
                api_ms = calls[slowest][label]["mean_ms"]
                row[f"{label}_slowest_call"] = slowest
                row[f"{label}_api_mean_ms"] = api_ms
                row[f"{label}_api_sum_ms"] = round(sum(c[label]["mean_ms"] for c in calls.values()), 2)
                row[f"{label}_ratio"] = round(row[label]["mean_ms"] / api_ms, 2) if api_ms else None
            # The session is still good after the runs: the last answer is the page, not Sign in.
            _check_page(http, base, name, page["path"], cookie, expect[name])
            out["pages"][name] = row
            c8 = row["c8"]
            log(f"web: {name}: {c8['rps']} req/s, p50 {c8['p50_ms']} ms, p99 {c8['p99_ms']} ms, mean "
                f"{c8['mean_ms']} ms vs slowest call {row['c8_api_mean_ms']} ms ({row['c8_slowest_call']}): "
                f"{row['c8_ratio']}x; not 2xx {c8['not_2xx']}")
        http.close()
    finally:
        procs.stop_all()
        try:
            out["redis_keys_removed"] = _cleanup_redis(redis_url, prefix)
        except Exception as exc:  # noqa: BLE001 (cleanup must not hide the real error)
            log(f"web: could not remove the bench's session keys ({prefix}*): {exc}")
        dispose_engines()
        drop_bench_database(billing_url)
        drop_bench_database(payments_url)
        drop_bench_database(scheduling_url)
    return out


# --- the Markdown rows (bench/report.py renders them) ----------------------------------------------

def _f(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _kb(n: int | None) -> str:
    return "–" if n is None else f"{n / 1024:,.1f}"


def _cpu(result: dict) -> str:
    per = result.get("cpu_ms_per_req") or {}
    order = ["gateway", "identity", "billing", "payments", "redis", "postgres", "wrk"]
    return ", ".join(f"{k} {per[k]:.2f}" for k in order if per.get(k)) or "–"


def _errors(result: dict) -> int:
    return result.get("not_2xx", result.get("non_2xx_3xx", 0)) + result.get("socket_errors", 0)


def _cpu_ratio(page: dict, call: dict | None) -> float | None:
    """CPU ms of every process per page ÷ the same per call (wrk's own left out)."""
    if not call:
        return None
    total = lambda r: sum(v for k, v in (r.get("cpu_ms_per_req") or {}).items() if k != "wrk")  # noqa: E731
    return round(total(page) / total(call), 2) if total(call) else None


def markdown_rows(results: dict, aims: list | None = None) -> list[str]:
    """The web part's section of the bench table, in bench/report.py's style ([] when it did not run); its
    aims are appended to `aims` (report.py's list of (aim, target, measured, met))."""
    w = results.get("web")
    if not w:
        return []
    s = results.get("settings", {})
    conn = w.get("connections", CONNECTIONS)
    seed = w.get("seed", {})
    lines = [
        "### Web: the portal's pages through the gateway",
        "",
        f"One client with {_f(seed.get('entries'))} ledger entries and {_f(seed.get('invoices'))} invoices (the "
        f"billing part's seed) and one card on file; {w.get('model', 'gthread 2x8')}, Redis for the browser session. "
        "Pages are requested with the `portal_session` cookie of a real sign-in (GET and POST /signin); each API "
        "call through the gateway with a bearer token. wrk "
        f"-t2 -c{conn} for {s.get('duration', 0):.0f} s after a {s.get('warmup', 0):.0f} s warm-up, then -t1 -c1 for "
        f"{s.get('c1_duration', 0):.0f} s; each page's API calls are measured right after it. "
        "API ms: the mean latency of the page's slowest call (its calls run side by side) and, for honesty, the "
        "sum of their means. page ÷ API: the page's mean over the slowest call's mean; CPU ratio: the CPU all "
        "processes spent per page over the same for the slowest call (on saturated shared cores latency follows "
        "CPU; less sensitive to other load). not 2xx: answers other than 2xx (a 302 to Sign in included) plus "
        "socket errors. (noisy): someone else's work took more than a quarter "
        "of the cores during the page's run or one of its calls' runs.",
        "",
        f"| page | API calls | req/s | p50 ms | p99 ms | mean ms | API ms, slowest / sum | page ÷ API (c{conn}) | "
        "CPU ratio | c1 mean ms | c1 API ms, slowest / sum | page ÷ API (c1) | not 2xx | CPU ms/req | other load |",
        "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---|---:|",
    ]
    for name, row in w.get("pages", {}).items():
        c8, c1 = row["c8"], row["c1"]
        c1_runs = [c1] + [c["c1"] for c in w.get("calls", {}).get(name, {}).values()]
        c1_noisy = " (noisy)" if max((r.get("other_cpu_share") or 0) for r in c1_runs) > 0.25 else ""
        lines.append(
            f"| {name} (`{row['path']}`) | {', '.join(row['calls'])} | {_f(c8['rps'], 0)} | {_f(c8['p50_ms'], 2)} | "
            f"{_f(c8['p99_ms'], 2)} | {_f(c8['mean_ms'], 2)} | {_f(row['c8_api_mean_ms'], 2)} "
            f"({row['c8_slowest_call']}) / {_f(row['c8_api_sum_ms'], 2)} | {_f(row['c8_ratio'], 2)} | "
            f"{_f(_cpu_ratio(c8, w.get('calls', {}).get(name, {}).get(row['c8_slowest_call'], {}).get('c8')), 2)} | "
            f"{_f(c1['mean_ms'], 2)} | {_f(row['c1_api_mean_ms'], 2)} / {_f(row['c1_api_sum_ms'], 2)} | "
            f"{_f(row['c1_ratio'], 2)}{c1_noisy} | {_errors(c8)}/{_errors(c1)} | {_cpu(c8)} | "
            f"{_pct(c8.get('other_cpu_share'))} |")
    lines += ["", f"The API calls, each through the gateway (c{conn}, then c1):", "",
              f"| page | call | req/s | p50 ms | p99 ms | mean ms | c1 mean ms | not 2xx | CPU ms/req (c{conn}) | "
              "other load |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---:|"]
    for name, calls in w.get("calls", {}).items():
        for call, r in calls.items():
            c8, c1 = r["c8"], r["c1"]
            lines.append(f"| {name} | {call}: `{r['path']}` | {_f(c8['rps'], 0)} | {_f(c8['p50_ms'], 2)} | "
                         f"{_f(c8['p99_ms'], 2)} | {_f(c8['mean_ms'], 2)} | {_f(c1['mean_ms'], 2)} | "
                         f"{_errors(c8)}/{_errors(c1)} | {_cpu(c8)} | {_pct(c8.get('other_cpu_share'))} |")
    lines += ["", "Page weight: the HTML and every asset it references (stylesheets, scripts, icons), as served "
              "(uncompressed) and gzip-compressed (level 6, for information); render-blocking: in `<head>`, "
              "stylesheets without `media=print` and scripts without `defer`/`async`/`type=module`.", "",
              "| page | HTML KB | assets | total KB | gzip KB | blocking stylesheets | blocking scripts |",
              "|---|---:|---|---:|---:|---:|---:|"]
    for name, weight in w.get("weight", {}).items():
        assets = ", ".join(f"{f['url'].rsplit('/', 1)[-1]} {_kb(f['bytes'])}" for f in weight["files"]
                           if f["kind"] != "html")
        lines.append(f"| {name} | {_kb(weight['html_bytes'])} | {assets} | {_kb(weight['total_bytes'])} | "
                     f"{_kb(weight['total_gzip_bytes'])} | {len(weight['blocking_stylesheets'])} | "
                     f"{len(weight['blocking_scripts'])} |")
    lines.append("")
    if aims is not None:
        def noisy(*runs: dict) -> str:
            return " (noisy)" if max((r.get("other_cpu_share") or 0) for r in runs) > 0.25 else ""

        for name, row in w.get("pages", {}).items():
            c8 = row["c8"]
            calls = [c["c8"] for c in w.get("calls", {}).get(name, {}).values()]
            bad = _errors(c8) + sum(_errors(c) for c in calls)
            aims.append((f"web {name} p99 at {conn} connections", "< 50 ms",
                         f"{c8['p99_ms']:.1f} ms" + (f", {_errors(c8)} not 2xx" if _errors(c8) else "") + noisy(c8),
                         c8["p99_ms"] < AIM_P99_MS and not _errors(c8)))
            if row.get("c8_ratio") is not None:
                aims.append((f"web {name}: page mean ÷ its slowest API call's mean ({conn} connections)", "≤ 1.5",
                             f"{row['c8_ratio']:.2f} ({c8['mean_ms']:.1f} vs {row['c8_api_mean_ms']:.1f} ms; sum of "
                             f"calls {row['c8_api_sum_ms']:.1f} ms)" + noisy(c8, *calls),
                             row["c8_ratio"] <= AIM_RATIO and not bad))
        for name, weight in w.get("weight", {}).items():
            kb = weight["total_bytes"] / 1024
            aims.append((f"web {name}: page with its assets", "< 100 KB",
                         f"{kb:.1f} KB ({weight['total_gzip_bytes'] / 1024:.1f} KB gzipped)", kb < AIM_WEIGHT_KB))
            styles, scripts = len(weight["blocking_stylesheets"]), len(weight["blocking_scripts"])
            aims.append((f"web {name}: render-blocking resources", "1 stylesheet, 0 scripts",
                         f"{styles} stylesheet(s), {scripts} script(s)", styles == 1 and scripts == 0))
    return lines


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"
