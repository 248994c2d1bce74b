"""The Markdown table of a bench run (what README keeps)."""

from __future__ import annotations

from bench import messaging_part, scheduling_part, web_part


def _f(value, digits: int = 1, suffix: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}{suffix}"
    return f"{value:,}{suffix}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def _cpu(result: dict) -> str:
    per = result.get("cpu_ms_per_req") or {}
    order = ["gateway", "floor", "ceiling", "identity", "postgres", "wrk"]
    parts = [f"{k} {per[k]:.2f}" for k in order if per.get(k)]
    return ", ".join(parts) or "–"


def _cpu_of(result: dict, order: list[str]) -> str:
    """CPU ms per request of each process group, in `order`, then any other group the run used."""
    per = result.get("cpu_ms_per_req") or {}
    names = [k for k in order if per.get(k)] + sorted(k for k in per if k not in order and per[k] >= 0.005)
    return ", ".join(f"{k} {per[k]:.2f}" for k in names) or "–"


def _cpu_total(result: dict) -> float:
    """CPU ms all the processes of a run spent per request: on saturated shared cores, req/s ∝ 1 / this."""
    return sum((result.get("cpu_ms_per_req") or {}).values())


def _errors(result: dict) -> str:
    bad = result.get("non_2xx_3xx", 0) + result.get("socket_errors", 0)
    return str(bad)


NOISY = 0.25


def _noisy(*results: dict | None) -> str:
    """' (noisy)' when someone else's work took more than a quarter of the cores during one of the runs."""
    shares = [r.get("other_cpu_share") or 0 for r in results if r]
    return " (noisy)" if shares and max(shares) > NOISY else ""


def _met(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def markdown(results: dict) -> str:
    env = results["environment"]
    s = results["settings"]
    lines = [
        "## Benchmarks",
        "",
        f"`make bench` ({env['date']}; {env['cpu']}, {env['cores']} cores; Python {env['python']}, "
        f"gunicorn {env.get('gunicorn', '?')}, PostgreSQL {env.get('postgresql', '?')}, "
        f"RabbitMQ {env.get('rabbitmq', '?')}). wrk, every server, PostgreSQL and RabbitMQ share these cores: "
        "the aims are ratios within this one run, not absolute numbers.",
        "",
    ]
    busy = env.get("busy_before")
    if busy is not None:
        note = f"Cores busy with other work just before the run: {busy:.0%}"
        if env.get("loadavg_before") is not None:
            note += f" (load average {env['loadavg_before']} before, {env.get('loadavg_after', '?')} after)"
        note += f"; run time {results.get('total_s', 0):.0f} s."
        if busy > 0.25:
            note += " **The machine was not idle: these numbers are noisy.**"
        lines += [note, ""]
    aims: list[tuple[str, str, str, bool | None]] = []

    http = results.get("http")
    if http:
        t = http["targets"]
        lines += [
            f"### HTTP: `GET {http['path']}`",
            "",
            f"wrk -t2 -c{s['connections']} for {s['duration']:.0f} s after a {s['warmup']:.0f} s warm-up; "
            f"c1: wrk -t1 -c1 for {s['c1_duration']:.0f} s. CPU ms/req: CPU time each process used per request "
            "during the c32 run.",
            "",
            "| target | gunicorn | req/s | p50 ms | p99 ms | c1 req/s | c1 p50 ms | c1 p99 ms | errors | "
            "CPU ms/req | other load |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for name, row in t.items():
            c32, c1 = row["c32"], row["c1"]
            lines.append(f"| {name} | {row['model']} | {_f(c32['rps'], 0)} | {_f(c32['p50_ms'], 2)} | "
                         f"{_f(c32['p99_ms'], 2)} | {_f(c1['rps'], 0)} | {_f(c1['p50_ms'], 2)} | "
                         f"{_f(c1['p99_ms'], 2)} | {_errors(c32)}/{_errors(c1)} | {_cpu(c32)} | "
                         f"{_pct(c32.get('other_cpu_share'))} |")
        lines += ["", "other load: share of the cores used during the c32 run by processes outside the measurement "
                  "(someone else's work makes the row noisy).", "",
                  f"Gateway worker models, back to back (wrk -c{s['connections']}; identity stays gthread 2x8):", "",
                  "| gateway worker model | req/s | p50 ms | p99 ms | errors | CPU ms/req | other load |",
                  "|---|---:|---:|---:|---:|---|---:|"]
        best = http.get("best_gateway_model")
        for name, r in http["gateway_models"].items():
            label = f"**{name}** (best)" if name == best else name
            lines.append(f"| {label} | {_f(r['rps'], 0)} | {_f(r['p50_ms'], 2)} | {_f(r['p99_ms'], 2)} | "
                         f"{_errors(r)} | {_cpu(r)} | {_pct(r.get('other_cpu_share'))} |")
        if http.get("best_gateway_model_note"):
            lines.append(f"\n{http['best_gateway_model_note']}")
        if http.get("gevent"):
            lines.append(f"\ngevent: {http['gevent']}")
        lines.append("")
        direct, gateway = t.get("identity direct"), t.get("gateway")
        ceiling = t.get("ceiling (bare SELECT app)")
        floor = t.get("floor (naive requests proxy)")
        if direct and gateway:
            ratio = gateway["c32"]["rps"] / direct["c32"]["rps"]
            aims.append(("gateway req/s ÷ identity direct req/s (c32)", "≥ 75 %",
                         _pct(ratio) + _noisy(gateway["c32"], direct["c32"]), ratio >= 0.75))
            if _cpu_total(gateway["c32"]):
                ratio = _cpu_total(direct["c32"]) / _cpu_total(gateway["c32"])
                aims.append(("… the same, predicted from CPU ms/req (cores saturated; less sensitive to other load)",
                             "≥ 75 %", _pct(ratio), None))
            delta = gateway["c1"]["p50_ms"] - direct["c1"]["p50_ms"]
            aims.append(("gateway p50 − identity direct p50 (1 connection)", "≤ 1 ms",
                         f"{delta:+.2f} ms" + _noisy(gateway["c1"], direct["c1"]), delta <= 1.0))
        if direct and ceiling:
            ratio = direct["c32"]["rps"] / ceiling["c32"]["rps"]
            aims.append(("identity direct req/s ÷ ceiling req/s (c32)", "≥ 60 %",
                         _pct(ratio) + _noisy(direct["c32"], ceiling["c32"]), ratio >= 0.60))
        if direct and ceiling and _cpu_total(direct["c32"]):
            ratio = _cpu_total(ceiling["c32"]) / _cpu_total(direct["c32"])
            aims.append(("… the same, predicted from CPU ms/req", "≥ 60 %", _pct(ratio), None))
        if gateway and floor:
            ratio = gateway["c32"]["rps"] / floor["c32"]["rps"]
            aims.append(("gateway req/s ÷ naive proxy (floor) req/s", "> 100 %",
                         _pct(ratio) + _noisy(gateway["c32"], floor["c32"]), ratio > 1.0))
        if best:
            aims.append(("best gateway worker model (req/s, c32)", "by measurement", best, None))

    events = results.get("events")
    if events:
        relay, confirm, noconf = events["relay"], events["raw_confirm_each"], events["raw_no_confirm"]
        lat = events["latency"]
        lines += [
            "### Events",
            "",
            f"Broker: {events['broker']}, topic exchange `{events['exchange']}`, persistent mandatory messages to a "
            "quorum queue bound to `#`.",
            "",
            "| publisher | messages | msg/s | notes |",
            "|---|---:|---:|---|",
            f"| outbox relay (shared.relay, batched confirms) | {_f(relay['n'])} | {_f(relay['rows_per_s'], 0)} | "
            f"first claim to empty outbox: {relay['seconds']} s ({relay['wall_s_with_start']} s with process "
            f"start); rows inserted at {_f(relay['insert_rows_per_s'], 0)}/s; {_f(relay['messages_in_sink'])} "
            f"in the queue; cores busy {_pct(relay.get('machine_busy'))}, other load "
            f"{_pct(relay.get('other_cpu_share'))} |",
            f"| raw pika, a confirm per message | {_f(confirm['n'])} | {_f(confirm['msgs_per_s'], 0)} | "
            "BlockingConnection + confirm_delivery |",
            f"| raw pika, no confirms | {_f(noconf['n'])} | {_f(noconf['msgs_per_s'], 0)} | "
            "until a synchronous round trip after the last |",
            "",
            f"Latency, business commit → consumer handler commit, {lat['rate_target']} events/s for "
            f"{lat['seconds']} s (one event per producer transaction; relay and shared.consumer.EventConsumer "
            f"running; cores busy {_pct(lat.get('machine_busy'))}, other load {_pct(lat.get('other_cpu_share'))}):",
            "",
            "| events | handled | p50 ms | p90 ms | p99 ms | max ms | p50 / p99 ms from envelope occurred_at |",
            "|---:|---:|---:|---:|---:|---:|---|",
            f"| {lat['produced']} | {lat['handled']} | {_f(lat['p50_ms'])} | {_f(lat['p90_ms'])} | "
            f"{_f(lat['p99_ms'])} | {_f(lat['max_ms'])} | {_f(lat['occurred_at_p50_ms'])} / "
            f"{_f(lat['occurred_at_p99_ms'])} |",
            "",
            f"Of which: business commit → relay claims the row p50 {_f(lat.get('relay_claim_p50_ms'))} / p99 "
            f"{_f(lat.get('relay_claim_p99_ms'))} ms; relay claim → handler starts p50 "
            f"{_f(lat.get('claim_to_handler_p50_ms'))} / p99 {_f(lat.get('claim_to_handler_p99_ms'))} ms; handler "
            f"start → its commit p50 {_f(lat.get('handler_p50_ms'))} / p99 {_f(lat.get('handler_p99_ms'))} ms.",
            "",
        ]
        backlog = events.get("consumer_backlog")
        if backlog:
            lines += [f"The consumer drains a backlog of {_f(backlog['n'])} events at "
                      f"{_f(backlog['msgs_per_s'], 0)} events/s (in batches of what the broker has delivered, "
                      "up to the prefetch of 50: one transaction and one ack per batch).", ""]
        ratio = relay["rows_per_s"] / confirm["msgs_per_s"]
        aims.append(("relay rows/s ÷ raw per-message-confirm msg/s", "≥ 100 %", _pct(ratio) + _noisy(relay),
                     ratio >= 1.0))
        if lat["p99_ms"] is not None:
            aims.append(("event latency p99 (commit → handler commit)", "< 50 ms",
                         f"{lat['p99_ms']:.1f} ms" + _noisy(lat), lat["p99_ms"] < 50 and lat["lost_or_late"] == 0))

    login = results.get("login")
    if login:
        a = login["argon2"]
        lines += [
            "### Login",
            "",
            "| measure | value |",
            "|---|---|",
            f"| {a['params']} verify, in-process (N={a['n']}) | {a['cpu_ms_each']} ms CPU each "
            f"({a['ms_each']} ms wall) → at most {_f(a['max_logins_per_s'])} logins/s on {a['cores']} cores "
            f"(measured on {a['cores']} threads at once: {_f(a.get('parallel_verifies_per_s'))}/s) |",
        ]
        g = login.get("through_gateway")
        if g:
            lines.append(f"| `POST /api/v1/auth/login` through the gateway (wrk -t2 -c{s['login_connections']}, "
                         f"{s['duration']:.0f} s) | {_f(g['rps'])} logins/s = {_pct(g['share_of_max'])} of the "
                         f"maximum; p50 {g['p50_ms']} ms, p99 {g['p99_ms']} ms; errors {_errors(g)}; "
                         f"CPU ms/login: {_cpu(g)}; other load {_pct(g.get('other_cpu_share'))} |")
            aims.append(("logins/s through the gateway ÷ argon2 maximum", "report",
                         _pct(g["share_of_max"]) + _noisy(g), None))
        lines.append("")

    billing = results.get("billing")
    if billing:
        lines += _billing(billing, s, aims)
    payments = results.get("payments")
    if payments:
        lines += _payments(payments, s, aims)

    lines += web_part.markdown_rows(results, aims)
    lines += scheduling_part.markdown_rows(results, aims)
    lines += messaging_part.markdown_rows(results, aims)

    if aims:
        lines += ["### Aims", "", "| aim | target | measured | |", "|---|---|---|---|"]
        lines += [f"| {name} | {target} | {value} | {_met(ok)} |" for name, target, value, ok in aims]
        lines.append("")
    for part, error in results.get("errors", {}).items():
        lines.append(f"- {part}: not measured ({error})")
    if results.get("errors"):
        lines.append("")
    return "\n".join(lines)


def _billing(b: dict, s: dict, aims: list) -> list[str]:
    seed = b["seed"]
    kinds = seed["kinds"]
    years = ", ".join(f"{y}: {_f(n)}" for y, n in seed["per_year"].items())
    lines = [
        "### Billing: one client with 50,000 ledger entries",
        "",
        f"Seeded into a fresh `portal_bench_billing` ({seed['method']}, {seed['build_s'] + seed['copy_s']:.1f} s): "
        f"{_f(seed['entries'])} entries ({_f(kinds.get('charge', 0))} charges, {_f(kinds.get('payment', 0))} "
        f"payments, {_f(kinds.get('adjustment', 0))} adjustments) from {seed['first']} to {seed['last']} "
        f"(per year: {years}), {_f(seed['invoices'])} invoices of one line, {_f(seed['allocations'])} allocations; "
        f"balance {_f(seed['balance_cents'])} cents on {seed['open_invoices']} open invoice(s). Billing "
        f"{b.get('billing_model', 'gthread 2x8')} under gunicorn, measured at its own port (no gateway): "
        f"c1 wrk -t1 -c1 for {s['c1_duration']:.0f} s, c8 wrk -t2 -c8 for {s['duration']:.0f} s after a "
        f"{s['warmup']:.0f} s warm-up. CPU ms/req: during the c8 run.",
        "",
        "| request | answer | c1 p50 ms | c1 p99 ms | c1 req/s | c8 req/s | c8 p50 ms | c8 p99 ms | errors | "
        "CPU ms/req (c8) | other load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for name, row in b["endpoints"].items():
        c1, c8 = row["c1"], row["c8"]
        lines.append(f"| {name} | {row['note']} | {_f(c1['p50_ms'], 2)} | {_f(c1['p99_ms'], 2)} | "
                     f"{_f(c1['rps'], 0)} | {_f(c8['rps'], 0)} | {_f(c8['p50_ms'], 2)} | {_f(c8['p99_ms'], 2)} | "
                     f"{_errors(c1)}/{_errors(c8)} | {_cpu_of(c8, ['billing', 'postgres', 'wrk'])} | "
                     f"{_pct(max(c1.get('other_cpu_share') or 0, c8.get('other_cpu_share') or 0))} |")
        aims.append((f"billing `{name}` p99 at the service (1 connection)", "< 20 ms",
                     f"{c1['p99_ms']:.1f} ms" + _noisy(c1), c1["p99_ms"] < 20 and not _errors_n(c1)))
    lines += ["", "Statement PDFs (`GET /api/v1/staff/billing-documents/{id}/pdf` at billing, best of 3; the same "
              "statement in-process split into assembling it from the database and rendering it):", "",
              "| statement | period | entries | pages | end to end s | assemble s | render s | PDF KiB |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, p in b["pdf"].items():
        lines.append(f"| {label} | {p['from']} – {p['to']} | {_f(p['entries'])} | {_f(p['pages'])} | "
                     f"{p['seconds']:.2f} | {p['assemble_s']:.2f} | {p['render_s']:.2f} | {p['bytes'] // 1024:,} |")
    r = b.get("renderer_only")
    if r:
        lines.append(f"| bench/billing_pdf.py, renderer only | synthetic | {_f(r['entries'])} | {_f(r['pages'])} | – | "
                     f"– | {r['seconds']:.2f} | {r['bytes'] // 1024:,} |")
    lines.append("")
    year = next((p for label, p in b["pdf"].items() if label.startswith("year")), None)
    if year:
        aims.append((f"statement PDF of one year ({_f(year['entries'])} entries), end to end", "< 1 s",
                     f"{year['seconds']:.2f} s", year["seconds"] < 1.0))
    return lines


def _errors_n(result: dict) -> int:
    return result.get("non_2xx_3xx", 0) + result.get("socket_errors", 0)


_STACK_ORDER = ["gateway", "payments", "sandbox", "billing", "identity", "postgres", "rabbitmq", "billing-events",
                "payments-events", "identity-events", "wrk", "bench"]


def _payments(p: dict, s: dict, aims: list) -> list[str]:
    runs = p["runs"]
    conc = p["concurrency"]
    setup = p.get("setup", {})
    lines = [
        "### Payments: Pay Now with a saved card",
        "",
        f"The whole stack on fresh bench databases and a bench vhost (gateway, identity, billing and payments "
        f"gthread 2x8, each with its events process (relay and consumer), the sandbox processor gthread 1x16). "
        f"{p['clients']} registered clients, each invoiced and with the 4242 card saved ({setup.get('setup_s', '?')} s "
        f"to set up). Raw charge: `POST /v1/charges` at the sandbox with the API key and a fresh reference. Pay Now: "
        f"`POST /api/v1/portal/payments` through the gateway, `amount_cents` {100} on a saved card, a fresh "
        f"Idempotency-Key, clients round robin. wrk -t1 -c1 for {s['c1_duration']:.0f} s; -t2 -c{conc} for "
        f"{s['duration']:.0f} s (raw) and {s.get('payments_duration', 20):.0f} s (Pay Now) after a "
        f"{s['warmup']:.0f} s warm-up. CPU ms/req: every process of the stack, RabbitMQ and PostgreSQL included "
        "(the events processes work for the run's events, some of them after it).",
        "",
        "| call | connections | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | payments | CPU ms/req | "
        "other load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for name, r in runs.items():
        call, _, label = name.rpartition(" ")
        made = ", ".join(f"{k} {v:,}" for k, v in (r.get("payments") or {}).items()) or "–"
        lines.append(f"| {call} | {r['connections']} | {_f(r['rps'], 1)} | {_f(r['p50_ms'], 2)} | "
                     f"{_f(r['p90_ms'], 2)} | {_f(r['p99_ms'], 2)} | {_f(r['max_ms'], 1)} | {_errors(r)} | {made} | "
                     f"{_cpu_of(r, _STACK_ORDER)} | {_pct(r.get('other_cpu_share'))} |")
    busy = runs.get(f"Pay Now c{conc}")
    if busy and busy.get("drain"):
        d = busy["drain"]
        lines += ["", f"After the c{conc} Pay Now run, billing's ledger had every payment "
                  f"{d['seconds']:.1f} s later" + ("" if d["drained"] else " (**not drained**)") + "."]
    lag = p.get("lag")
    lag_runs = p.get("lag_runs") or ([lag] if lag else [])
    if lag_runs:
        lines += [
            "",
            f"Ledger lag: Pay Now paced at a fixed rate for {lag_runs[0]['seconds']:.0f} s from a pool of 32 threads "
            "(a requests.Session each; a slot that finds all 32 busy waits, so an overloaded machine sends fewer), "
            "clients round robin; for each payment, from its 201 answer until billing's `ledger_entries` has it (a "
            "separate connection polls every 5 ms). A second row, when the first rate was more than this machine "
            "could do, runs at half the rate Pay Now reached at c16: the event path without a queue in front.",
            "",
            "| target/s | sent/s | answered/s | answered | refused | on the ledger | late (> 15 s) | lag p50 ms | "
            "p90 ms | p99 ms | max ms | answer → posting p50 / p99 ms | Pay Now p50 / p99 ms | cores busy | "
            "other load |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|",
        ]
        for r in lag_runs:
            lines.append(
                f"| {r['rate_target']:g} | {_f(r['send_rate'])} | {_f(r['achieved_rate'])} | {_f(r['answered'])} | "
                f"{_f(r['refused'])} | {_f(r['on_ledger'])} | {_f(r['late'])} | {_f(r['lag_p50_ms'])} | "
                f"{_f(r['lag_p90_ms'])} | {_f(r['lag_p99_ms'])} | {_f(r['lag_max_ms'])} | {_f(r['entry_p50_ms'])} / "
                f"{_f(r['entry_p99_ms'])} | {_f(r['pay_p50_ms'])} / {_f(r['pay_p99_ms'])} | "
                f"{_pct(r.get('machine_busy'))} | {_pct(r.get('other_cpu_share'))} |")
        lines += ["", "answer → posting: to the ledger entry's occurred_at (set by billing's consumer as it posts, "
                  "before its commit). CPU ms per payment: "
                  + "; ".join(f"at {r['rate_target']:g}/s: {_cpu_of(r, _STACK_ORDER)}" for r in lag_runs) + "."]
    lines.append("")
    raw1, pay1 = runs.get("raw charge c1"), runs.get("Pay Now c1")
    if raw1 and pay1:
        added = pay1["p50_ms"] - raw1["p50_ms"]
        aims.append(("Pay Now p50 − raw processor charge p50 (1 connection)", "< 15 ms",
                     f"{added:+.1f} ms ({pay1['p50_ms']:.1f} vs {raw1['p50_ms']:.1f})" + _noisy(pay1, raw1),
                     added < 15 and not _errors_n(pay1)))
    paced = p.get("paced") or {}
    raw_p, pay_p = paced.get("raw charge"), paced.get("Pay Now")
    if raw_p and pay_p and raw_p.get("p50_ms") is not None and pay_p.get("p50_ms") is not None:
        lines += ["", f"Paced (open loop): {pay_p['rate']:g} requests/s for {pay_p['seconds']:.0f} s each, from a pool "
                  "of 8 threads with a requests.Session each (the same client for both): each request finds the "
                  "stack done with the previous payment's events, unlike wrk -c1, which sends the next payment the "
                  "moment the last is answered while its events still occupy both cores.", "",
                  "| paced | answered | failed | p50 ms | p90 ms | p99 ms |", "|---|---:|---:|---:|---:|---:|"]
        for name, r in (("raw charge", raw_p), ("Pay Now", pay_p)):
            lines.append(f"| {name} | {_f(r['n'])} | {_f(r['failed'])} | {_f(r['p50_ms'])} | {_f(r['p90_ms'])} | "
                         f"{_f(r['p99_ms'])} |")
        added = pay_p["p50_ms"] - raw_p["p50_ms"]
        aims.append((f"Pay Now p50 − raw processor charge p50 (both paced at {pay_p['rate']:g}/s)", "< 15 ms",
                     f"{added:+.1f} ms ({pay_p['p50_ms']:.1f} vs {raw_p['p50_ms']:.1f})",
                     added < 15 and not pay_p["failed"] and not raw_p["failed"]))
    rawc, payc = runs.get(f"raw charge c{conc}"), runs.get(f"Pay Now c{conc}")
    if rawc and payc:
        aims.append((f"Pay Now at {conc} connections: payments/s, p50, p99 (raw charge alongside)", "report",
                     f"{payc['rps']:.1f}/s, {payc['p50_ms']:.1f} ms, {payc['p99_ms']:.1f} ms (raw {rawc['rps']:.0f}/s, "
                     f"{rawc['p50_ms']:.1f} ms, {rawc['p99_ms']:.1f} ms)" + _noisy(payc, rawc), None))
    revocation = p.get("revocation")
    if revocation:
        aims.append((f"a logout refused everywhere (gateway and each service), p50 / max over {revocation['n']}",
                     "≤ 2.5 s", f"{revocation['p50_s']} s / {revocation['max_s']} s", revocation["max_s"] <= 2.5))
    for i, r in enumerate(lag_runs):
        if r.get("lag_p99_ms") is None:
            continue
        at = r["achieved_rate"] or 0
        kept = at >= 0.95 * r["rate_target"]
        aims.append((f"ledger lag p99 at {r['rate_target']:g} payments/s (answered {at:.1f}/s)",
                     "< 500 ms" if i == 0 else "report", f"{r['lag_p99_ms']:,.0f} ms" + _noisy(r),
                     (r["lag_p99_ms"] < 500 and r["late"] == 0 and kept) if i == 0 else None))
    return lines
