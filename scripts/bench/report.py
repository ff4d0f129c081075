#!/usr/bin/env python3
"""Turns compare.sh's results.jsonl into a Markdown table of medians (Relay vs sockudo).

  report.py RESULTS.jsonl --command CMD [...]   -> the Markdown section on stdout
  report.py --splice docs/BENCHMARKS.md SECTION -> replaces the measured section of the doc
"""
import argparse
import json
import os
import platform
import statistics
import sys

BEGIN = "<!-- measured:begin (written by scripts/bench/compare.sh) -->"
END = "<!-- measured:end -->"

# (scenario, field path, what, better, target ratio Relay/sockudo)
FIGURES = [
    ("fanout-max", "best_delivered_per_s", "highest delivered msg/s with p99 <= 50 ms, no loss", "high", ">= 2"),
    ("fanout-max", "best_rate", "… its publish rate (msg/s)", "high", ""),
    ("fanout", "cpu_us_per_delivered", "server CPU per delivered message (µs)", "low", "<= 0.5"),
    ("fanout", "latency.p99_ms", "p99 latency at the fixed fan-out rate (ms)", "low", "<= 0.5"),
    ("fanout", "latency.p50_ms", "p50 latency at the fixed fan-out rate (ms)", "low", ""),
    ("idle", "rss_per_conn_bytes", "RSS per idle subscribed connection (bytes)", "low", "<= 0.15"),
    ("idle", "server.rss_end_kb", "server RSS with all idle connections (KiB)", "low", ""),
    ("storm", "cpu_us_per_connect", "server CPU per connect + subscribe (µs)", "low", "<= 0.5"),
    ("storm", "per_s", "connect + subscribe per second", "high", ""),
    ("publish", "requests_per_s", "HTTP publish requests/s (keep-alive)", "high", ">= 2"),
    ("publish", "cpu_us_per_request", "server CPU per publish request (µs)", "low", ""),
    ("publish", "request_latency.p99_ms", "publish request p99 (ms)", "low", ""),
    ("channels", "latency.p99_ms", "many channels: p99 latency (ms)", "low", ""),
    ("channels", "cpu_us_per_delivered", "many channels: server CPU per message (µs)", "low", ""),
    ("presence", "per_s", "presence joins per second", "high", ""),
    ("presence", "cpu_us_per_connect_incl_settle", "server CPU per presence join, member_added included (µs)", "low", ""),
    ("slow", "latency.p99_ms", "slow consumer present: healthy p99 (ms)", "low", ""),
    ("slow", "server_rss_growth_kb", "slow consumer present: server RSS growth (KiB)", "low", ""),
]

# Scenarios that must deliver every message exactly once.
EXACT = ["fanout", "channels", "publish", "slow"]


def get(v, path):
    for part in path.split("."):
        if not isinstance(v, dict):
            return None
        v = v.get(part)
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def fmt(x):
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def meets(ratio, target):
    if ratio is None or not target:
        return ""
    op, bound = target.split()
    ok = ratio >= float(bound) if op == ">=" else ratio <= float(bound)
    return "yes" if ok else "**no**"


def table(rows, args):
    by = {}
    errors = []
    for r in rows:
        if "error" in r:
            errors.append(r)
            continue
        by.setdefault((r["scenario"], r["label"]), []).append(r)
    out = []
    out.append(f"Command: `{args.command}` ({args.commit}, sockudo {args.sockudo_version}, "
               f"{'quick' if args.quick == '1' else 'full'} sizes, {args.elapsed // 60} min).")
    out.append("")
    out.append(f"Sizes: {args.sizes}.")
    out.append("")
    loads = [r.get("loadavg_before") for r in rows if r.get("loadavg_before") is not None]
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    out.append(f"Machine: {os.cpu_count()} shared cores ({cpu}); server pinned to core 0, load "
               f"generator to core 1. 1-min load average before the runs: "
               f"{fmt(min(loads)) if loads else '?'}–{fmt(max(loads)) if loads else '?'}.")
    out.append("")
    out.append("| scenario | figure | Relay (median) | sockudo (median) | Relay/sockudo | target | met | Relay runs | sockudo runs |")
    out.append("| --- | --- | ---: | ---: | ---: | --- | --- | --- | --- |")
    for scenario, path, what, better, target in FIGURES:
        rv = [get(r, path) for r in by.get((scenario, "relay"), [])]
        sv = [get(r, path) for r in by.get((scenario, "sockudo"), [])]
        rv = [x for x in rv if x is not None]
        sv = [x for x in sv if x is not None]
        if not rv and not sv:
            continue
        rm = statistics.median(rv) if rv else None
        sm = statistics.median(sv) if sv else None
        ratio = rm / sm if rm is not None and sm else None
        out.append(
            f"| {scenario} | {what} ({'higher' if better == 'high' else 'lower'} is better) | {fmt(rm)} | {fmt(sm)} | "
            f"{fmt(ratio) + 'x' if ratio is not None else '–'} | {(target + 'x') if target else ''} | "
            f"{meets(ratio, target)} | {' / '.join(fmt(x) for x in rv)} | {' / '.join(fmt(x) for x in sv)} |")
    floor_runs = by.get(("floor", "floor"), [])
    if floor_runs:
        out.append("")
        out.append("Floor (`relay-bench null-server`: no protocol, one `send` of a ready-made, stamped frame per "
                   "delivery, same subscribers and rate as `fanout`, read by plain TCP readers; no server that "
                   "writes each message to each subscriber does better on this machine):")
        out.append("")
        out.append("| figure | floor (median) | Relay `fanout` (median) | sockudo `fanout` (median) | Relay/floor | floor/sockudo: the best Relay/sockudo possible here | floor runs |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
        for path, what in (("cpu_us_per_delivered", "server CPU per delivered message (µs)"),
                           ("latency.p99_ms", "p99 latency at the fixed fan-out rate (ms)"),
                           ("latency.p50_ms", "p50 latency at the fixed fan-out rate (ms)")):
            fv = [x for x in (get(r, path) for r in floor_runs) if x is not None]
            sv = [x for x in (get(r, path) for r in by.get(("fanout", "sockudo"), [])) if x is not None]
            rv = [x for x in (get(r, path) for r in by.get(("fanout", "relay"), [])) if x is not None]
            if not fv:
                continue
            fm = statistics.median(fv)
            sm = statistics.median(sv) if sv else None
            rm = statistics.median(rv) if rv else None
            best = f"{fmt(fm / sm)}x" if sm else "–"
            above = f"{fmt(rm / fm)}x" if rm else "–"
            out.append(f"| {what} | {fmt(fm)} | {fmt(rm)} | {fmt(sm)} | {above} | {best} | {' / '.join(fmt(x) for x in fv)} |")
    out.append("")
    out.append("Delivery (all runs summed: must be exactly once where not overloaded):")
    out.append("")
    out.append("| scenario | server | runs | expected | delivered | lost | duplicates | disconnected | connect failures |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scenario in EXACT + ["idle", "storm", "presence"]:
        for label in ("relay", "sockudo"):
            rs = by.get((scenario, label), [])
            if not rs:
                continue
            s = lambda k: sum(int(get(r, k) or 0) for r in rs)
            fails = s("connect_failed") + s("failed")
            if scenario in ("idle", "storm", "presence"):
                exp = s("member_added_expected") if scenario == "presence" else s("connections")
                got = s("member_added_received") if scenario == "presence" else s("opened")
                out.append(f"| {scenario} | {label} | {len(rs)} | {exp:,} | {got:,} | {exp - got:,} | – | {s('disconnected')} | {fails} |")
            else:
                out.append(f"| {scenario} | {label} | {len(rs)} | {s('expected'):,} | {s('delivered'):,} | {s('lost'):,} | {s('duplicates'):,} | {s('disconnected')} | {fails} |")
    slow = [r for r in rows if r.get("scenario") == "slow" and "error" not in r]
    if slow:
        out.append("")
        out.append("Never-reading consumer, per run (frames it could still read afterwards; close code if the server dropped it):")
        out.append("")
        for label in ("relay", "sockudo"):
            desc = []
            for r in slow:
                if r["label"] == label:
                    for c in r.get("slow_consumers", []):
                        desc.append(f"{c.get('frames_read_after')} frames, close {c.get('close_code')}")
            if desc:
                out.append(f"- {label}: " + "; ".join(desc))
    fm = [r for r in rows if r.get("scenario") == "fanout-max" and "error" not in r]
    if fm:
        out.append("")
        out.append("fanout-max steps (rate → p99 ms, ok):")
        out.append("")
        for r in fm:
            steps = ", ".join(f"{s['rate']:.0f}→{fmt(s.get('p99_ms'))}{'' if s['ok'] else ' ✗'}" for s in r.get("steps", []))
            out.append(f"- {r['label']} #{r.get('rep')}: {steps}")
    if errors:
        out.append("")
        out.append("Failed runs: " + "; ".join(f"{e['scenario']} {e['label']} #{e.get('rep')}: {e['error']}" for e in errors))
    return "\n".join(out) + "\n"


def splice(doc, section_file):
    with open(section_file) as f:
        section = f.read()
    block = f"{BEGIN}\n{section}{END}\n"
    text = ""
    if os.path.exists(doc):
        with open(doc) as f:
            text = f.read()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = (text or "# Benchmarks\n\n") + "\n## Measured\n\n" + block
    with open(doc, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("results", nargs="?")
    p.add_argument("section", nargs="?")
    p.add_argument("--splice")
    p.add_argument("--command", default="scripts/bench/compare.sh")
    p.add_argument("--sockudo-version", default="?")
    p.add_argument("--elapsed", type=int, default=0)
    p.add_argument("--commit", default="?")
    p.add_argument("--quick", default="0")
    p.add_argument("--sizes", default="")
    args = p.parse_args()
    if args.splice:
        splice(args.splice, args.results)
        return
    rows = []
    with open(args.results) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    sys.stdout.write(table(rows, args))


if __name__ == "__main__":
    main()
