#!/usr/bin/env python3
"""Reads the harness's summary.txt (with Benchmarks/atrest.sh's lines appended) and prints issue 18's goals:
sidecar/HAProxy ratios of the medians, and the at-rest figures that have a goal of their own."""
import sys

import summary

values = summary.read(sys.argv[1])


def summed(system, metrics):
    return summary.summed(values, system, metrics)


CONNRATE = ["connrate_cpu_us_per_conn_fwd", "connrate_cpu_us_per_conn_rev"]
# (label, metrics summed, direction, goal[, system suffix]): a ratio goal, sidecar ÷ HAProxy; the suffix picks
# the harness's NO_RESUME runs.
GOALS = [
    ("CPU µs per 256 B round trip, 16 connections (fwd+rev)", ["lat_c16_cpu_us_per_rt_fwd", "lat_c16_cpu_us_per_rt_rev"], "le", 1.0),
    ("CPU µs per new connection, with resumption (fwd+rev)", CONNRATE, "le", 0.5),
    ("CPU µs per new connection, full handshake (fwd+rev)", CONNRATE, "le", 0.8, "-noresume"),
    ("RSS KiB per idle connection (fwd+rev)", ["idle_rss_kb_per_conn_fwd", "idle_rss_kb_per_conn_rev"], "le", 0.7),
    ("CPU-s per GB streamed, 1 connection (fwd+rev)", ["tput_c1_cpu_s_per_gb_fwd", "tput_c1_cpu_s_per_gb_rev"], "le", 0.65),
    ("throughput MB/s, 1 connection", ["tput_c1_mb_per_s"], "ge", 1.6),
    ("at rest, one forward process, no connections: RSS KiB", ["atrest_rss_kb"], "le", 1.0),
]
# (label, metrics summed): a ratio shown beside the goals, with no goal of its own.
INFORMATION = [
    ("at rest: private memory (`RssAnon`; the rest of RSS is shared, clean file pages), KiB", ["atrest_rss_anon_kb"]),
]
# (label, metric, goal, unit): a goal on sidecar's own figure, HAProxy's shown beside it.
ABSOLUTE = [
    ("at rest: threads (sidecar --threads 1, HAProxy nbthread 1)", "atrest_threads", 2, ""),
    ("at rest: wake-ups (context switches) with no traffic", "atrest_wakeups", 0, ""),
    ("stripped binary, Swift runtime linked in (KiB)", "binary_stripped_kb", 16 * 1024, ""),
]


def fmt(triple):
    if triple is None:
        return "–"
    med, low, high = triple
    def number(value):  # counts (threads, wake-ups) as counts
        return f"{value:,.0f}" if value == int(value) else summary.number(value)

    return number(med) if low == high else f"{number(med)} [{number(low)}–{number(high)}]"


print("| figure | HAProxy 2.6 | sidecar | ratio | goal | met |")
print("|---|---|---|---|---|---|")
for label, metrics, direction, goal, *suffix in GOALS:
    suffix = suffix[0] if suffix else ""
    haproxy, sidecar = summed("haproxy" + suffix, metrics), summed("sidecar" + suffix, metrics)
    ratio = sidecar[0] / haproxy[0] if haproxy and sidecar and haproxy[0] else None
    met = "–" if ratio is None else ("yes" if (ratio <= goal if direction == "le" else ratio >= goal) else "no")
    goal_text = ("≤ " if direction == "le" else "≥ ") + f"{goal}×"
    print(f"| {label} | {fmt(haproxy)} | {fmt(sidecar)} | {'–' if ratio is None else f'{ratio:.2f}×'} | {goal_text} | {met} |")
for label, metrics in INFORMATION:
    haproxy, sidecar = summed("haproxy", metrics), summed("sidecar", metrics)
    ratio = sidecar[0] / haproxy[0] if haproxy and sidecar and haproxy[0] else None
    print(f"| {label} | {fmt(haproxy)} | {fmt(sidecar)} | {'–' if ratio is None else f'{ratio:.2f}×'} | – | – |")
seconds = summed("sidecar", ["atrest_seconds"])
for label, metric, goal, _ in ABSOLUTE:
    haproxy, sidecar = summed("haproxy", [metric]), summed("sidecar", [metric])
    if metric == "atrest_wakeups" and seconds:
        label += f" in {seconds[0]:.0f} s"
    met = "–" if sidecar is None else ("yes" if sidecar[0] <= goal else "no")
    print(f"| {label} | {fmt(haproxy)} | {fmt(sidecar)} | | ≤ {goal:,} | {met} |")
rate = [(system, summed(system, ["connrate_conn_per_s"])) for system in ("haproxy", "sidecar", "haproxy-noresume", "sidecar-noresume")]
print()
print("New connections per second (P=4): " + ", ".join(f"{system} {fmt(value)}" for system, value in rate))
print("Against the floors (goal ≤ 1.15× floor per GB and per round trip): see Benchmarks/floors.sh below.")
