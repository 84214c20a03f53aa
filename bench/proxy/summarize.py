#!/usr/bin/env python3
"""Reads the wrk outputs of one `bench/proxy/run` and prints the summary (Markdown).

For each target and body: the median over runs of requests/s, p50 and p99 latency
(each median taken on its own), the server's CPU time per request (µs; the upstream's
excluded), MiB/s for the 20 MiB body, and the count of non-2xx answers and socket
errors over all runs. Then the ablation ladder: each rung's requests/s, p99, CPU µs and
allocations per request, and what the rung adds to the one below. Then the targets
from the issue, each said to be met or not met.

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


def main() -> None:
    out = sys.argv[1]
    med = {}
    rows = []
    for body, label in BODIES:
        for target in (
            TARGETS + [f"rung-{r}" for r in RUNGS] + [f"variant-{v}" for v in VARIANTS]
        ):
            files = sorted(glob.glob(os.path.join(out, f"wrk-{target}-{body}-*.txt")))
            runs = []
            for f in files:
                r = parse(f)
                n = requests_of(f)
                r["cpu"] = cpu_us(out, target, body, f, n)
                r["allocs"] = allocs(f, n)
                runs.append(r)
            if not runs:
                continue
            m = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
            for k in ("cpu", "allocs"):
                vals = [r[k] for r in runs if r[k] is not None]
                m[k] = statistics.median(vals) if vals else None
            m["errors"] = sum(r["errors"] for r in runs)
            m["mibs"] = m["rps"] * BODY_BYTES[body] / (1024 * 1024)
            m["runs"] = len(runs)
            m["all_rps"] = [r["rps"] for r in runs]
            med[(target, body)] = m
            if not target.startswith(("rung-", "variant-")):
                rows.append((label, target, m))

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

    for body, label in BODIES:
        ladder = [(r, med[(f"rung-{r}", body)]) for r in RUNGS if (f"rung-{r}", body) in med]
        if ladder:
            print_ladder(med, body, label, ladder)
        print_variants(med, body, label)
    print_targets(med)


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

    print("| target | figure | value | verdict |")
    print("|---|---|---|---|")
    for body, label in BODIES[:2]:
        g, n, a = get("scimgate", body), get("nginx", body), get("nginx-auth", body)
        if not (g and n and a):
            continue
        r = g["rps"] / n["rps"]
        print(
            f"| ≥ 1.0× nginx proxy_pass, {label} | scimgate / nginx requests/s | "
            f"{r:.2f}× | {verdict(r >= 1.0)} |"
        )
        print(
            f"| p99 no worse than nginx, {label} | scimgate / nginx p99 | "
            f"{fmt_ms(g['p99'])} vs {fmt_ms(n['p99'])} | {verdict(g['p99'] <= n['p99'])} |"
        )
        r = g["rps"] / a["rps"]
        print(
            f"| ≥ 1.6× nginx + auth_request, {label} | scimgate / nginx-auth requests/s | "
            f"{r:.2f}× | {verdict(r >= 1.6)} |"
        )
    g, d = get("scimgate", "20m.bin"), get("direct", "20m.bin")
    if g and d:
        r = g["mibs"] / d["mibs"]
        print(
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
            print(
                f"| {what} of throughput, 256 B | with / without requests/s | "
                f"{r:.2f}× | {verdict(r >= floor)} |"
            )
    bad = [f"{t} {b}" for (t, b), m in med.items() if m["errors"]]
    if bad:
        print()
        print(f"WARNING: non-2xx answers or socket errors in: {', '.join(bad)}")


if __name__ == "__main__":
    main()
