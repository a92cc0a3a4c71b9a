#!/usr/bin/env python3
"""Benchmarks/callgrind-diff.py: per function, what one more unit of work costs, from two callgrind runs that
differ only in how much work they did (Benchmarks/perconnection.sh and permessage.sh with KEEP=1).

    Benchmarks/callgrind-diff.py FIRST.callgrind SECOND.callgrind DELTA [--self] [--top N] [--match TEXT]

Runs `callgrind_annotate` (inclusive costs, or self costs with --self) on both files and prints, for the TOP
functions (default 60) with the largest difference, (second − first) ÷ DELTA, e.g. instructions per connection.
"""
import re
import subprocess
import sys

LINE = re.compile(r"^\s*([\d,]+)(?:\s+\(\s*[\d.]+%\))?\s+(.+?)\s*$")


def costs(path, inclusive):
    out = subprocess.run(
        ["callgrind_annotate", f"--inclusive={'yes' if inclusive else 'no'}", "--threshold=100", path],
        check=True, capture_output=True, text=True).stdout
    table, started = {}, False
    for line in out.splitlines():
        if "file:function" in line:
            started = True
            continue
        if not started:
            continue
        m = LINE.match(line)
        if m:
            name = m.group(2)
            table[name] = table.get(name, 0) + int(m.group(1).replace(",", ""))
    return table


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    inclusive = "--self" not in argv
    top = int(argv[argv.index("--top") + 1]) if "--top" in argv else 60
    match = argv[argv.index("--match") + 1] if "--match" in argv else None
    if "--top" in argv:
        args.remove(str(top))
    if match:
        args.remove(match)
    first, second, delta = args[0], args[1], float(args[2])
    a, b = costs(first, inclusive), costs(second, inclusive)
    rows = [((b.get(k, 0) - a.get(k, 0)) / delta, k) for k in set(a) | set(b)]
    rows = [r for r in rows if match is None or match in r[1]]
    rows.sort(key=lambda r: -abs(r[0]))
    for value, name in rows[:top]:
        name = re.sub(r"^\?\?\?:", "", name)
        print(f"{value:14,.0f}  {name[:220]}")


if __name__ == "__main__":
    main(sys.argv[1:])
