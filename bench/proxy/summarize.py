#!/usr/bin/env python3
"""Reads the wrk outputs of one `bench/proxy/run` and prints the summary (Markdown).

For each target and body: the median over runs of requests/s, p50 and p99 latency
(each median taken on its own), the server's CPU time per request (µs; the upstream's
excluded), MiB/s for the 20 MiB body, and the count of non-2xx answers and socket
errors over all runs. Then the ablation ladder: each rung's requests/s, p99, CPU µs and
allocations per request, and what the rung adds to the one below. Then the targets
from the issue, each said to be met or not met. Then the rows users ask about, those
that ran: TLS termination (keep-alive, a new connection per request, full handshakes),
HTTP/2 (h2load: over TLS and h2c) and many keep-alive connections (RSS per connection).

usage: summarize.py OUT_DIR
"""

import glob
import os
import re
import statistics
import sys

TARGETS = ["direct", "nginx", "nginx-auth", "passthrough", "scimgate"]
RUNGS = ["route", "jwt", "directory", "policy", "identity", "revocation", "metrics", "audit"]
RUNG_LABEL = {
    "route": "route match only",
    "jwt": "+ bearer JWT (cache hit)",
    "directory": "+ directory lookup",
    "policy": "+ 200-rule policy",
    "identity": "+ identity headers, assertion",
    "revocation": "+ revocation tracking",
    "metrics": "+ metrics",
    "audit": "+ decision audit (all of scimgate)",
}
VARIANTS = ["sampled", "deny", "shadow", "rate-limit"]
VARIANT_LABEL = {
    "sampled": "audit.decisions: sampled",
    "deny": "audit.decisions: deny",
    "shadow": "+ a shadow set of the same 200 rules",
    "rate-limit": "+ a per-user rate limit, never reached",
}
BODIES = [("small.txt", "256 B"), ("64k.bin", "64 KiB"), ("20m.bin", "20 MiB")]
BODY_BYTES = {"small.txt": 256, "64k.bin": 64 * 1024, "20m.bin": 20 * 1024 * 1024}
UNIT_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"latency {text!r}")
    return float(m.group(1)) * UNIT_MS[m.group(2)]


def parse(path: str) -> dict:
    text = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        sum(int(x) for x in sock.groups()) if sock else 0
    )
    return {"rps": rps, "p50": p50, "p99": p99, "errors": errors}


def cpu_us(out: str, target: str, body: str, run_file: str, requests: float):
    """µs of server CPU per request for one run, if its CPU file is there."""
    path = os.path.join(out, os.path.basename(run_file).replace("wrk-", "cpu-", 1))
    if not os.path.exists(path) or not requests:
        return None
    m = re.search(r"ticks (\d+) clk_tck (\d+)", open(path).read())
    return int(m.group(1)) / int(m.group(2)) * 1e6 / requests


def allocs(run_file: str, requests: float):
    """Allocations per request for one run, if the server counted them."""
    path = run_file.replace("wrk-", "alloc-", 1)
    if not os.path.exists(path) or not requests:
        return None
    n = [int(x) for x in re.findall(r"allocations (\d+)", open(path).read())]
    return (n[1] - n[0]) / requests


def requests_of(run_file: str) -> float:
    m = re.search(r"(\d+) requests in", open(run_file).read())
    return float(m.group(1)) if m else 0.0


def fmt_opt(v, spec: str) -> str:
    return "–" if v is None else format(v, spec)


def fmt_ms(v: float) -> str:
    return f"{v * 1000:.0f} µs" if v < 1 else f"{v:.2f} ms"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def medians(runs: list, body: str):
    """The median of each figure over a target's runs (None without runs)."""
    if not runs:
        return None
    m = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
    for k in ("cpu", "allocs"):
        vals = [r.get(k) for r in runs if r.get(k) is not None]
        m[k] = statistics.median(vals) if vals else None
    m["errors"] = sum(r["errors"] for r in runs)
    m["mibs"] = m["rps"] * BODY_BYTES[body] / (1024 * 1024)
    m["runs"] = len(runs)
    m["all_rps"] = [r["rps"] for r in runs]
    return m


def collect(out: str, target: str, body: str):
    """A target's wrk runs for one body, as medians (None when it did not run)."""
    runs = []
    for f in sorted(glob.glob(os.path.join(out, f"wrk-{target}-{body}-*.txt"))):
        r = parse(f)
        n = requests_of(f)
        r["cpu"] = cpu_us(out, target, body, f, n)
        r["allocs"] = allocs(f, n)
        rss = f.replace("wrk-", "rss-", 1)
        if os.path.exists(rss):
            r["rss_kb"] = int(re.search(r"rss_kb (\d+)", open(rss).read()).group(1))
        runs.append(r)
    m = medians(runs, body)
    if m and any("rss_kb" in r for r in runs):
        m["rss_kb"] = statistics.median(r["rss_kb"] for r in runs if "rss_kb" in r)
    return m


def main() -> None:
    out = sys.argv[1]
    med = {}
    rows = []
    for body, label in BODIES:
        for target in (
            TARGETS + [f"rung-{r}" for r in RUNGS] + [f"variant-{v}" for v in VARIANTS]
        ):
            m = collect(out, target, body)
            if not m:
                continue
            med[(target, body)] = m
            if not target.startswith(("rung-", "variant-")):
                rows.append((label, target, m))

    if rows:
        print_peers(rows)
    for body, label in BODIES:
        ladder = [(r, med[(f"rung-{r}", body)]) for r in RUNGS if (f"rung-{r}", body) in med]
        if ladder:
            print_ladder(med, body, label, ladder)
        print_variants(med, body, label)
    print_targets(med)
    print_rows(out)


def print_peers(rows) -> None:
    print(
        "| body | target | requests/s (median) | runs | p50 | p99 | CPU µs/request "
        "| MiB/s | errors |"
    )
    print("|---|---|---:|---|---:|---:|---:|---:|---:|")
    for label, target, m in rows:
        runs = " / ".join(f"{x:,.0f}" for x in m["all_rps"])
        print(
            f"| {label} | {target} | {m['rps']:,.0f} | {runs} | {fmt_ms(m['p50'])} | "
            f"{fmt_ms(m['p99'])} | {fmt_opt(m['cpu'], '.1f')} | {m['mibs']:,.0f} | "
            f"{m['errors']} |"
        )
    print()


def print_ladder(med, body, label, ladder) -> None:
    print(f"Ablation ladder, {label} (each rung adds its part to the ones above it):")
    print()
    print(
        "| rung | requests/s | p99 | CPU µs/request | + µs | allocations/request "
        "| + allocations |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    floor = med.get(("passthrough", body))
    prev = floor
    if floor:
        print(
            f"| minimal hyper pass-through | {floor['rps']:,.0f} | {fmt_ms(floor['p99'])} | "
            f"{fmt_opt(floor['cpu'], '.1f')} | | {fmt_opt(floor['allocs'], '.1f')} | |"
        )
    for r, m in ladder:
        d_cpu = d_alloc = None
        if prev and prev["cpu"] is not None and m["cpu"] is not None:
            d_cpu = m["cpu"] - prev["cpu"]
        if prev and prev["allocs"] is not None and m["allocs"] is not None:
            d_alloc = m["allocs"] - prev["allocs"]
        print(
            f"| {RUNG_LABEL[r]} | {m['rps']:,.0f} | {fmt_ms(m['p99'])} | "
            f"{fmt_opt(m['cpu'], '.1f')} | {fmt_opt(d_cpu, '+.1f')} | "
            f"{fmt_opt(m['allocs'], '.1f')} | {fmt_opt(d_alloc, '+.1f')} |"
        )
        prev = m
    print()


def print_variants(med, body, label) -> None:
    variants = [
        (v, med[(f"variant-{v}", body)]) for v in VARIANTS if (f"variant-{v}", body) in med
    ]
    if not variants:
        return
    full = med.get(("rung-audit", body))
    print(f"Variants of the whole pipeline, {label} (compared with the ladder's last rung):")
    print()
    print(
        "| variant | requests/s | vs all of scimgate | p99 | CPU µs/request | ± µs "
        "| allocations/request |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for v, m in variants:
        ratio = m["rps"] / full["rps"] if full else None
        d_cpu = None
        if full and full["cpu"] is not None and m["cpu"] is not None:
            d_cpu = m["cpu"] - full["cpu"]
        print(
            f"| {VARIANT_LABEL[v]} | {m['rps']:,.0f} | {fmt_opt(ratio, '.2f')}× | "
            f"{fmt_ms(m['p99'])} | {fmt_opt(m['cpu'], '.1f')} | "
            f"{fmt_opt(d_cpu, '+.1f')} | {fmt_opt(m['allocs'], '.1f')} |"
        )
    print()


def print_targets(med) -> None:
    def get(t, b):
        return med.get((t, b))

    lines = []
    for body, label in BODIES[:2]:
        g, n, a = get("scimgate", body), get("nginx", body), get("nginx-auth", body)
        if not (g and n and a):
            continue
        r = g["rps"] / n["rps"]
        lines.append(
            f"| ≥ 1.0× nginx proxy_pass, {label} | scimgate / nginx requests/s | "
            f"{r:.2f}× | {verdict(r >= 1.0)} |"
        )
        lines.append(
            f"| p99 no worse than nginx, {label} | scimgate / nginx p99 | "
            f"{fmt_ms(g['p99'])} vs {fmt_ms(n['p99'])} | {verdict(g['p99'] <= n['p99'])} |"
        )
        r = g["rps"] / a["rps"]
        lines.append(
            f"| ≥ 1.6× nginx + auth_request, {label} | scimgate / nginx-auth requests/s | "
            f"{r:.2f}× | {verdict(r >= 1.6)} |"
        )
    g, d = get("scimgate", "20m.bin"), get("direct", "20m.bin")
    if g and d:
        r = g["mibs"] / d["mibs"]
        lines.append(
            f"| ≥ 0.8× direct-to-upstream throughput, 20 MiB | scimgate / direct MiB/s | "
            f"{g['mibs']:,.0f} vs {d['mibs']:,.0f} MiB/s = {r:.2f}× | {verdict(r >= 0.8)} |"
        )
    full = get("rung-audit", "small.txt")
    for variant, what, floor in [
        ("shadow", "a shadow set of the same size costs ≤ 10 %", 0.9),
        ("rate-limit", "a rate limit not reached costs ≤ 2 %", 0.98),
    ]:
        v = get(f"variant-{variant}", "small.txt")
        if full and v:
            r = v["rps"] / full["rps"]
            lines.append(
                f"| {what} of throughput, 256 B | with / without requests/s | "
                f"{r:.2f}× | {verdict(r >= floor)} |"
            )
    if lines:
        print("| target | figure | value | verdict |")
        print("|---|---|---|---|")
        print("\n".join(lines))
    bad = [f"{t} {b}" for (t, b), m in med.items() if m["errors"]]
    if bad:
        print()
        print(f"WARNING: non-2xx answers or socket errors in: {', '.join(bad)}")


# ---- the rows users ask about (ROWS in bench/proxy/run) ----

SIDES = [("scimgate", "scimgate (rustls)"), ("nginx", "nginx (OpenSSL)")]


def parse_h2load(path: str) -> dict:
    """One h2load run: requests/s, the latency its log gave, errors, requests done."""
    text = open(path).read()
    rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
    req = re.search(
        r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        text,
    )
    done, failed, timeout = int(req.group(1)), int(req.group(3)), int(req.group(5))
    lat = open(path.removesuffix(".txt") + ".latency").read()
    p50 = re.search(r"p50_us (\d+)", lat)
    p99 = re.search(r"p99_us (\d+)", lat)
    return {
        "rps": rps,
        "p50": int(p50.group(1)) / 1000 if p50 else float("nan"),
        "p99": int(p99.group(1)) / 1000 if p99 else float("nan"),
        "errors": failed + timeout,
        "done": done,
    }


def collect_h2(out: str, target: str, body: str):
    runs = []
    for f in sorted(glob.glob(os.path.join(out, f"h2load-{target}-{body}-*.txt"))):
        r = parse_h2load(f)
        cpu = f.replace("h2load-", "cpu-", 1)
        if os.path.exists(cpu) and r["done"]:
            m = re.search(r"ticks (\d+) clk_tck (\d+)", open(cpu).read())
            r["cpu"] = int(m.group(1)) / int(m.group(2)) * 1e6 / r["done"]
        runs.append(r)
    return medians(runs, body)


def read_pairs(path: str, sep: str = " ") -> dict:
    """`name<sep>value` lines of a small file ({} when it is not there)."""
    pairs = {}
    if os.path.exists(path):
        for line in open(path):
            name, _, value = line.strip().partition(sep)
            pairs[name] = value.strip()
    return pairs


def rows_body(out: str):
    """The body the rows ran with: the one their files name."""
    for body, label in BODIES:
        for prefix in ("wrk-tls", "h2load-h2", "idle-conns", "wrk-conns"):
            if glob.glob(os.path.join(out, f"{prefix}*-{body}*")):
                return body, label
    return None, None


def row_line(name: str, what: str, m: dict) -> str:
    runs = " / ".join(f"{x:,.0f}" for x in m["all_rps"])
    return (
        f"| {name} | {what} | {m['rps']:,.0f} | {runs} | {fmt_ms(m['p50'])} | "
        f"{fmt_ms(m['p99'])} | {fmt_opt(m['cpu'], '.1f')} | {m['errors']} |"
    )


ROW_HEAD = (
    "| target | connections | requests/s (median) | runs | p50 | p99 | CPU µs/request "
    "| errors |\n|---|---|---:|---|---:|---:|---:|---:|"
)


def print_rows(out: str) -> None:
    body, label = rows_body(out)
    if not body:
        return
    settings = read_pairs(os.path.join(out, "machine.txt"), ": ").get("rows", "")
    print()
    print(f"The rows users ask about, {label} ({settings}):")
    print()
    bad = []
    print_tls(out, body, label, bad)
    print_h2(out, body, label, bad)
    print_conns(out, body, label, bad)
    if bad:
        print(f"WARNING: non-2xx answers, failed requests or socket errors in: {', '.join(bad)}")


def print_tls(out: str, body: str, label: str, bad: list) -> None:
    ka = {s: collect(out, f"tls-{s}", body) for s, _ in SIDES}
    new = {s: collect(out, f"tlsnew-{s}", body) for s, _ in SIDES}
    if not any(ka.values()):
        return
    cert = " ".join(
        line.strip() for line in open(os.path.join(out, "tls-certificate.txt"))
    ) if os.path.exists(os.path.join(out, "tls-certificate.txt")) else "?"
    print(
        f"TLS termination, {label}: the same certificate and key ({cert}), both proxying "
        "to the upstream over plain HTTP; wrk over HTTP/1.1:"
    )
    print()
    print(ROW_HEAD)
    for s, name in SIDES:
        for what, m in [
            ("keep-alive", ka[s]),
            ("new per request (`Connection: close`, session resumed)", new[s]),
        ]:
            if m:
                print(row_line(name, what, m))
                if m["errors"]:
                    bad.append(f"TLS {s} {what}")
    print()
    for s, name in SIDES:
        p = read_pairs(os.path.join(out, f"tls-params-{s}.txt"), ": ")
        if p:
            print(
                f"- {name} negotiates (`openssl s_client`): {p.get('Protocol version', '?')} "
                f"{p.get('Ciphersuite', '?')}, key exchange "
                f"{p.get('Server Temp Key', '?')}, signature {p.get('Signature type', '?')}; "
                f"a second connection with the first one's session: "
                f"{p.get('Second connection', '?').split(',')[0]}"
            )
    print()
    hs = {}
    for s, _ in SIDES:
        f = read_pairs(os.path.join(out, f"handshakes-{s}.txt"))
        if not f:
            continue
        total = 0
        for c in glob.glob(os.path.join(out, f"stime-{s}-*.txt")):
            m = re.search(r"(\d+) connections in \d+ real seconds", open(c).read())
            total += int(m.group(1)) if m else 0
        wall = int(f["wall_ns"]) / 1e9
        cpu = int(f["ticks"]) / int(f["clk_tck"]) * 1e6 / total if total else None
        busy = None
        if "cpu0" in f:
            b0, i0, b1, i1 = (int(x) for x in f["cpu0"].split())
            busy = 100 * (b1 - b0) / max(1, (b1 - b0) + (i1 - i0))
        hs[s] = (total / wall if wall else 0.0, cpu, total, busy)
    if hs:
        clients = len(glob.glob(os.path.join(out, "stime-scimgate-*.txt")))
        print(
            f"Full handshakes (`openssl s_time -new`, {clients} clients on CPU 0; a TLS "
            "handshake and close, no request; when CPU 0 is saturated the rate is the "
            "clients', and CPU µs per handshake is the server's cost):"
        )
        print()
        print("| target | handshakes/s | handshakes | CPU µs/handshake | client CPU 0 busy |")
        print("|---|---:|---:|---:|---:|")
        for s, name in SIDES:
            if s in hs:
                rate, cpu, total, busy = hs[s]
                print(
                    f"| {name} | {rate:,.0f} | {total:,} | {fmt_opt(cpu, '.1f')} | "
                    f"{'–' if busy is None else f'{busy:.0f} %'} |"
                )
                if not total:
                    bad.append(f"handshakes {s}")
        print()
    g, n = ka.get("scimgate"), ka.get("nginx")
    if g and n:
        r = g["rps"] / n["rps"]
        print("| target | figure | value | verdict |")
        print("|---|---|---|---|")
        print(
            f"| TLS ≥ 1.0× nginx on keep-alive requests/s, {label} | scimgate / nginx "
            f"requests/s | {r:.2f}× | {verdict(r >= 1.0)} |"
        )
        if "scimgate" in hs and "nginx" in hs and hs["nginx"][0]:
            print(
                f"| handshakes/s reported | scimgate / nginx full handshakes/s | "
                f"{hs['scimgate'][0] / hs['nginx'][0]:.2f}× | reported |"
            )
        print()


def print_h2(out: str, body: str, label: str, bad: list) -> None:
    found = [
        (name, what, collect_h2(out, f"{proto}-{s}", body), f"{proto} {s}")
        for proto, what in [("h2", "h2 over TLS (ALPN)"), ("h2c", "h2c (prior knowledge)")]
        for s, name in SIDES
    ]
    found = [x for x in found if x[2]]
    if not found:
        return
    print(
        f"HTTP/2 from the client, {label} (h2load; the latency from its per-request log; "
        "upstream over HTTP/1.1):"
    )
    print()
    print(ROW_HEAD.replace("| connections |", "| protocol |"))
    for name, what, m, tag in found:
        print(row_line(name.split(" ")[0], what, m))
        if m["errors"]:
            bad.append(f"HTTP/2 {tag}")
    print()


def print_conns(out: str, body: str, label: str, bad: list) -> None:
    lines = []
    for s, name in SIDES:
        idle = read_pairs(os.path.join(out, f"idle-conns-{s}-{body}.txt"))
        m = collect(out, f"conns-{s}", body)
        if not idle and not m:
            continue
        n = int(idle.get("connections", 0))
        held = int(idle.get("answered_200", 0))
        before = int(idle.get("rss_before_kb", 0))
        rss_idle = int(idle.get("rss_idle_kb", 0))
        per_idle = (rss_idle - before) / held if held else None
        load = m.get("rss_kb") if m else None
        per_load = (load - before) / n if load is not None and n else None
        if held < n:
            bad.append(f"{s}: {n - held} of {n} idle connections not answered 200")
        if m and m["errors"]:
            bad.append(f"connections {s}")
        lines.append(
            f"| {name.split(' ')[0]} | {held:,} of {n:,} | {before / 1024:,.1f} MiB | "
            f"{rss_idle / 1024:,.1f} MiB | {fmt_opt(per_idle, '.1f')} | "
            + (
                f"{m['rps']:,.0f} | {fmt_ms(m['p99'])} | {fmt_opt(m['cpu'], '.1f')} | "
                if m
                else "– | – | – | "
            )
            + f"{fmt_opt(load and load / 1024, ',.1f')} MiB | {fmt_opt(per_load, '.1f')} | "
            + f"{m['errors'] if m else '–'} |"
        )
    if not lines:
        return
    print(
        f"Many keep-alive connections, {label}: held idle after one request each "
        "(`hold_conns.py`), then wrk over as many connections; RSS is VmRSS (nginx: "
        "master and worker), per connection = (RSS with them − RSS before) / connections:"
    )
    print()
    print(
        "| target | idle connections held | RSS before | RSS with them idle | KiB per idle "
        "connection | requests/s under load | p99 | CPU µs/request | RSS under load "
        "| KiB per connection under load | errors |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(lines))
    print()


if __name__ == "__main__":
    main()
