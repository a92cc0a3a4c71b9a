#!/usr/bin/env bash
# Benchmarks/nio-floor.sh: the instructions one relayed 256-byte round trip costs the smallest SwiftNIO relay
# (Benchmarks/nio-relay: sidecar's channel options, a glue handler per channel, no TLS, counters, timers or
# logging), per side, measured as Benchmarks/permessage.sh measures sidecar. Add OpenSSL's share of a TLS
# relay (about 15,000 per round trip and side with OpenSSL 3.0) for the floor of a SwiftNIO TLS relay.
#
#   Benchmarks/nio-floor.sh                      # 16 connections, COUNTS="500 2500"
#   CONNS=1 COUNTS="500 2500" Benchmarks/nio-floor.sh
#
# Builds Benchmarks/nio-relay in release (its own .build, with the repository's Package.resolved so that it
# uses the same SwiftNIO), then runs a pair: the load → nio-relay unix:fwd.sock → 127.0.0.1:PORT →
# nio-relay → unix:echo.sock, twice under callgrind, and divides the difference by the difference in round
# trips. Never built by the tests.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/nio-floor.sh
require_tools Benchmarks/nio-floor.sh "valgrind gcc" valgrind cc swift
CONNS=${CONNS:-16}
TOOL=callgrind # what tool_wrap and stop_pair (lib.sh) run the relays under
read -r -a COUNTS <<<"${COUNTS:-500 2500}"
PACKAGE=$ROOT/Benchmarks/nio-relay
[[ -f $ROOT/Package.resolved ]] && cp "$ROOT/Package.resolved" "$PACKAGE/Package.resolved"
# The flags of the shipped sidecar (Makefile): the Swift runtime linked in, full RELRO.
swift build -c release --static-swift-stdlib -Xlinker -z -Xlinker now --package-path "$PACKAGE" --product nio-relay >&2
bench_work nio-floor
# Valgrind 3.19 cannot read the DWARF 5 Swift writes; the symbol table is enough.
objcopy --strip-debug "$PACKAGE/.build/release/nio-relay" "$WORK/nio-relay"

for run in "${COUNTS[@]}"; do
    dir=$WORK/$run
    mkdir -p "$dir"
    port=$((20000 + RANDOM % 12000))
    "$WORK/tunnelbench" server --unix "$dir/echo.sock" --max-seconds 600 >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    $(tool_wrap rev "$run") "$WORK/nio-relay" "127.0.0.1:$port" "unix:$dir/echo.sock" >"$dir/rev.log" 2>&1 &
    REV=$!
    $(tool_wrap fwd "$run") "$WORK/nio-relay" "unix:$dir/fwd.sock" "127.0.0.1:$port" >"$dir/fwd.log" 2>&1 &
    FWD=$!
    PIDS+=("$REV" "$FWD")
    wait_for_pair "$dir" "$port" nio-relay
    timeout 600 "$WORK/tunnelbench" latency --unix "$dir/fwd.sock" --size 256 --count "$run" --conns "$CONNS" \
        --timeout 590 >"$dir/latency.txt"
    grep -q 'verify_errors=0' "$dir/latency.txt" || { cat "$dir/latency.txt" >&2; exit 1; }
    stop_pair
done

python3 "$ROOT/Benchmarks/tooldiff.py" "$WORK" "$TOOL" rt "system=nio-relay conns=$CONNS" "${COUNTS[@]}"
echo "files: $WORK"
trap - EXIT
bench_cleanup
