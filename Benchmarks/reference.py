#!/usr/bin/env python3
"""Prints Benchmarks/reference.sh's table: HAProxy, sidecar and c-relay, medians [min-max], forward and reverse
summed, and each one's ratio to HAProxy."""
import sys

import summary

values = summary.read(sys.argv[1])

SYSTEMS = ["haproxy", "sidecar", "c-relay"]
ROWS = [
    ("CPU-s per GB streamed, 1 connection", ["tput_c1_cpu_s_per_gb_fwd", "tput_c1_cpu_s_per_gb_rev"]),
    ("throughput MB/s, 1 connection", ["tput_c1_mb_per_s"]),
    ("CPU µs per 256 B round trip, 16 connections", ["lat_c16_cpu_us_per_rt_fwd", "lat_c16_cpu_us_per_rt_rev"]),
    ("latency µs, 1 connection, p50", ["lat_c1_p50_us"]),
    ("CPU µs per new connection, with resumption", ["connrate_cpu_us_per_conn_fwd", "connrate_cpu_us_per_conn_rev"]),
    ("new connections/s (4 in parallel)", ["connrate_conn_per_s"]),
    ("RSS KiB per idle connection", ["idle_rss_kb_per_conn_fwd", "idle_rss_kb_per_conn_rev"]),
]


print("| figure | " + " | ".join(SYSTEMS) + " | sidecar / HAProxy | c-relay / HAProxy |")
print("|---|" + "---|" * (len(SYSTEMS) + 2))
for label, metrics in ROWS:
    cells = [summary.summed(values, system, metrics) for system in SYSTEMS]
    text = ["–" if c is None else f"{summary.number(c[0])} [{summary.number(c[1])}–{summary.number(c[2])}]" for c in cells]
    ratios = ["–" if c is None or cells[0] is None else f"{c[0] / cells[0][0]:.2f}×" for c in cells[1:]]
    print(f"| {label} | " + " | ".join(text + ratios) + " |")
