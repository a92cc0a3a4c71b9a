#!/usr/bin/env python3
"""Benchmarks/tooldiff.py: the steady-state cost of one unit (a round trip, a connection) from two runs of a
proxy pair under strace -c -f or callgrind, one with FIRST and one with SECOND units: (second - first) / (SECOND -
FIRST), per side, so that start-up, handshakes and shutdown cancel out. permessage.sh, perconnection.sh and
nio-floor.sh call it on the files they leave in WORK (RUN-SIDE.strace or RUN-SIDE.callgrind).

    tooldiff.py WORK strace|callgrind UNIT "LABELS" FIRST SECOND

Prints one line per side: LABELS side=fwd|rev syscalls_per_UNIT=N name=N... or instructions_per_UNIT=N.
"""

import collections
import sys


def strace_calls(path):
    calls = collections.Counter()
    for line in open(path):
        fields = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


def instructions(path):
    for line in open(path):
        if line.startswith("totals:") or line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {path}")


def main():
    work, tool, unit, labels, first, second = sys.argv[1:7]
    delta = int(second) - int(first)
    for side in ("fwd", "rev"):
        if tool == "strace":
            a, b = strace_calls(f"{work}/{first}-{side}.strace"), strace_calls(f"{work}/{second}-{side}.strace")
            per = {name: (b[name] - a[name]) / delta for name in set(a) | set(b)}
            detail = " ".join(f"{name}={value:.2f}" for name, value in sorted(per.items(), key=lambda kv: (-kv[1], kv[0]))
                              if abs(value) >= 0.005)
            print(f"{labels} side={side} syscalls_per_{unit}={sum(per.values()):.2f} {detail}")
        else:
            a, b = instructions(f"{work}/{first}-{side}.callgrind"), instructions(f"{work}/{second}-{side}.callgrind")
            print(f"{labels} side={side} instructions_per_{unit}={(b - a) / delta:,.0f}")


if __name__ == "__main__":
    main()
