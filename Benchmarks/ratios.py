#!/usr/bin/env python3
"""Reads the harness's summary.txt and prints the performance goals as sidecar/HAProxy ratios (medians)."""
import sys

import summary

values = summary.read(sys.argv[1])


def summed(system, metrics):
    return summary.summed(values, system, metrics)


CONNRATE = ["connrate_cpu_us_per_conn_fwd", "connrate_cpu_us_per_conn_rev"]
# (label, metrics summed, direction, goal[, system suffix]): the suffix picks the harness's NO_RESUME runs.
GOALS = [
    ("CPU-s per GB streamed, 1 connection (fwd+rev)", ["tput_c1_cpu_s_per_gb_fwd", "tput_c1_cpu_s_per_gb_rev"], "le", 0.5),
    ("CPU µs per 256 B round trip, 16 connections (fwd+rev)", ["lat_c16_cpu_us_per_rt_fwd", "lat_c16_cpu_us_per_rt_rev"], "le", 0.8),
    ("CPU µs per new connection, full handshake (fwd+rev)", CONNRATE, "le", 0.5, "-noresume"),
    ("CPU µs per new connection, with resumption (fwd+rev)", CONNRATE, "le", 0.5),
    ("RSS KiB per idle connection (fwd+rev)", ["idle_rss_kb_per_conn_fwd", "idle_rss_kb_per_conn_rev"], "le", 0.5),
    ("throughput MB/s, 1 connection", ["tput_c1_mb_per_s"], "ge", 2.0),
]


def fmt(triple):
    if triple is None:
        return "–"
    med, low, high = triple
    return f"{med:,.3g} [{low:,.3g}–{high:,.3g}]"


print("| figure | HAProxy 2.6 | sidecar | ratio | goal | met |")
print("|---|---|---|---|---|---|")
for label, metrics, direction, goal, *suffix in GOALS:
    suffix = suffix[0] if suffix else ""
    haproxy, sidecar = summed("haproxy" + suffix, metrics), summed("sidecar" + suffix, metrics)
    ratio = sidecar[0] / haproxy[0] if haproxy and sidecar and haproxy[0] else None
    met = "–" if ratio is None else ("yes" if (ratio <= goal if direction == "le" else ratio >= goal) else "no")
    goal_text = ("≤ " if direction == "le" else "≥ ") + f"{goal}×"
    print(f"| {label} | {fmt(haproxy)} | {fmt(sidecar)} | {'–' if ratio is None else f'{ratio:.2f}×'} | {goal_text} | {met} |")
rate = [(system, summed(system, ["connrate_conn_per_s"])) for system in ("haproxy", "sidecar", "haproxy-noresume", "sidecar-noresume")]
print()
print("New connections per second (P=4): " + ", ".join(f"{system} {fmt(value)}" for system, value in rate))
