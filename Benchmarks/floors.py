#!/usr/bin/env python3
"""Prints Benchmarks/floors.sh's floors beside the performance goals.

usage: floors.py FLOORS_TXT HAPROXY_FROM CORES
FLOORS_TXT has key=value lines (one per round); HAPROXY_FROM is either a harness results.md (the baseline) or the
summary.txt of a Benchmarks/run.sh session, from which HAProxy's medians are taken.
"""
import collections
import re
import statistics
import sys

import summary

TPUT_GB = 2**31 / 1e9  # floors.sh runs the relay with TPUT_BYTES=2G


def floors(path):
    values = collections.defaultdict(list)
    for line in open(path):
        key, _, value = line.strip().partition("=")
        if value:
            values[key].append(float(value))
    return {key: statistics.median(data) for key, data in values.items()}


def haproxy_figures(path):
    """HAProxy's medians by (system, metric), from a results.md table or a summary.txt."""
    figures = {}
    header = None
    for line in open(path):
        if line.startswith("| metric |"):
            header = [re.sub(r" \(n=\d+\)$", "", cell.strip()) for cell in line.strip().strip("|").split("|")]
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if header and len(cells) == len(header) and re.fullmatch(r"[a-z0-9_]+", cells[0]):
            for system, cell in zip(header[1:], cells[1:]):
                number = re.match(r"([0-9][0-9,.]*)", cell)
                if number:
                    figures[(system, cells[0])] = float(number.group(1).replace(",", ""))
    for key, data in summary.read(path).items():
        figures[key] = statistics.median(data)
    return figures


def main():
    floor = floors(sys.argv[1])
    haproxy = haproxy_figures(sys.argv[2])
    cores = int(sys.argv[3])

    def summed(system, *metrics):
        return sum(haproxy[(system, metric)] for metric in metrics)

    aes = sum(1e9 / (floor[key] * 1000) for key in ("aes_encrypt_kbytes_per_s", "aes_decrypt_kbytes_per_s"))
    relay = floor["relay_tput_c1_cpu_s_per_gb_fwd"] + floor["relay_tput_c1_cpu_s_per_gb_rev"]
    ends = floor["relay_tput_c1_cpu_s_per_gb_server"] + floor["relay_tput_c1_client_cpu_s"] / TPUT_GB
    relay_rt = floor["relay_lat_c16_cpu_us_per_rt_fwd"] + floor["relay_lat_c16_cpu_us_per_rt_rev"]
    relay_conn = floor["relay_connrate_cpu_us_per_conn_fwd"] + floor["relay_connrate_cpu_us_per_conn_rev"]
    rows = [
        ("CPU-s per GB streamed, 1 connection", "≤", 0.5 * summed("haproxy", "tput_c1_cpu_s_per_gb_fwd", "tput_c1_cpu_s_per_gb_rev"),
         aes + relay, f"AES-256-GCM encrypt+decrypt {aes:.2f} + a plain relay's {relay:.2f}"),
        ("throughput MB/s, 1 connection", "≥", 2 * haproxy[("haproxy", "tput_c1_mb_per_s")],
         1000 * cores / (aes + relay + ends),
         f"{cores} cores / (AES {aes:.2f} + plain relay {relay:.2f} + load client and server {ends:.2f} CPU-s per GB)"),
        ("CPU µs per 256 B round trip, 16 connections", "≤",
         0.8 * summed("haproxy", "lat_c16_cpu_us_per_rt_fwd", "lat_c16_cpu_us_per_rt_rev"),
         relay_rt, "a plain relay's round trip, without any TLS"),
        ("CPU µs per new connection, full handshake", "≤",
         0.5 * summed("haproxy-noresume", "connrate_cpu_us_per_conn_fwd", "connrate_cpu_us_per_conn_rev"),
         floor["full_cpu_us_per_pair"] + relay_conn,
         f"OpenSSL's two handshakes in memory {floor['full_cpu_us_per_pair']:.0f} + a plain relay's connection {relay_conn:.0f}"),
        ("CPU µs per new connection, with resumption", "≤",
         0.5 * summed("haproxy", "connrate_cpu_us_per_conn_fwd", "connrate_cpu_us_per_conn_rev"),
         floor["resumed_cpu_us_per_pair"] + relay_conn,
         f"OpenSSL's two resumed handshakes {floor['resumed_cpu_us_per_pair']:.0f} + a plain relay's connection {relay_conn:.0f}"),
        ("RSS KiB per idle connection", "≤",
         0.5 * summed("haproxy", "idle_rss_kb_per_conn_fwd", "idle_rss_kb_per_conn_rev"),
         floor["resumed_bytes_per_pair"] / 1024,
         f"bytes OpenSSL keeps per resumed pair, before allocator overhead (RSS: {floor['resumed_rss_kib_per_pair']:.1f}; "
         f"full handshake: {floor['full_bytes_per_pair'] / 1024:.1f})"),
    ]
    print(f"Floors on this machine (median of the rounds) against the goals, HAProxy's figures from {sys.argv[2]}:")
    print()
    print("| goal | goal's bound | floor | floor within the goal | floor made of |")
    print("|---|---|---|---|---|")
    for label, direction, bound, value, made_of in rows:
        within = value <= bound if direction == "≤" else value >= bound
        print(f"| {label} | {direction} {summary.number(bound)} | {summary.number(value)} | {'yes' if within else 'no'} | {made_of} |")
    print()
    print("A floor outside the goal's bound means no proxy on OpenSSL 3 and this kernel can meet that goal: each floor "
          "is a part of the work that every such proxy does, and leaves the rest out.")


main()
