#!/usr/bin/env bash
# Benchmarks/permessage.sh: what one relayed 256-byte round trip costs each proxy, in figures that do not
# depend on how busy the machine is: system calls (`strace -c -f`) and instructions (`valgrind
# --tool=callgrind`), for sidecar and HAProxy (nbthread 1), forward and reverse.
#
#   Benchmarks/permessage.sh strace sidecar             # system calls per round trip, 16 connections
#   Benchmarks/permessage.sh callgrind haproxy          # instructions per round trip
#   CONNS=1 COUNTS="500 2500" Benchmarks/permessage.sh strace haproxy
#   SIDECAR=/path/to/sidecar Benchmarks/permessage.sh strace sidecar
#
# Each proxy pair is started twice, under the tool, and relays COUNTS (default "1000 5000") round trips of
# 256 bytes (the harness's `tunnelbench latency`, 16 connections by default, 20 warm-up round trips each).
# Start-up, handshakes and shutdown are the same in both runs, so (second − first) ÷ (difference in round
# trips) is the steady-state cost of one round trip. Prints one line per process and figure.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/permessage.sh
TOOL=${1:?usage: permessage.sh strace|callgrind sidecar|haproxy}
SYSTEM=${2:?usage: permessage.sh strace|callgrind sidecar|haproxy}
require_tools Benchmarks/permessage.sh "haproxy strace valgrind gcc" haproxy strace valgrind cc
CONNS=${CONNS:-16}
read -r -a COUNTS <<<"${COUNTS:-1000 5000}"
SIDECAR=${SIDECAR:-$ROOT/.build/release/sidecar}
bench_work permessage
if [[ $TOOL == callgrind && $SYSTEM == sidecar ]]; then
    # Valgrind 3.19 cannot read the DWARF 5 Swift writes (it gives up); the symbol table is enough.
    objcopy --strip-debug "$SIDECAR" "$WORK/sidecar"
    SIDECAR=$WORK/sidecar
fi
bash "$BENCH/certs.sh" "$WORK/certs" >/dev/null 2>&1
CERTS=$WORK/certs

start() { # start RUN: the echo server and both proxies
    local run=$1 dir=$WORK/$1 port
    mkdir -p "$dir"
    port=$((20000 + RANDOM % 12000))
    "$WORK/tunnelbench" server --unix "$dir/echo.sock" --max-seconds 600 >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    case $SYSTEM in
        sidecar)
            $(tool_wrap rev "$run") "$SIDECAR" reverse --listen "127.0.0.1:$port" --connect "unix:$dir/echo.sock" \
                --cert "$CERTS/server.crt" --key "$CERTS/server.key" --ca "$CERTS/ca.crt" --threads 1 \
                --log-level warning >"$dir/rev.log" 2>&1 &
            REV=$!
            $(tool_wrap fwd "$run") "$SIDECAR" forward --listen "unix:$dir/fwd.sock" --connect "127.0.0.1:$port" \
                --cert "$CERTS/client.crt" --key "$CERTS/client.key" --ca "$CERTS/ca.crt" --server-name localhost \
                --threads 1 --log-level warning >"$dir/fwd.log" 2>&1 &
            FWD=$!
            ;;
        haproxy)
            haproxy_pair_configs "$dir" "$port" "$CERTS"
            $(tool_wrap rev "$run") haproxy -db -f "$dir/rev.cfg" >"$dir/rev.log" 2>&1 &
            REV=$!
            $(tool_wrap fwd "$run") haproxy -db -f "$dir/fwd.cfg" >"$dir/fwd.log" 2>&1 &
            FWD=$!
            ;;
        *) echo "unknown system $SYSTEM (sidecar or haproxy)" >&2; exit 2 ;;
    esac
    PIDS+=("$REV" "$FWD")
    wait_for_pair "$dir" "$port" "$SYSTEM"
}


for run in "${COUNTS[@]}"; do
    start "$run"
    timeout 600 "$WORK/tunnelbench" latency --unix "$WORK/$run/fwd.sock" --size 256 --count "$run" --conns "$CONNS" \
        --timeout 590 >"$WORK/$run/latency.txt"
    grep -q 'verify_errors=0' "$WORK/$run/latency.txt" || { cat "$WORK/$run/latency.txt" >&2; exit 1; }
    stop_pair
done

python3 "$ROOT/Benchmarks/tooldiff.py" "$WORK" "$TOOL" rt "system=$SYSTEM conns=$CONNS" "${COUNTS[@]}"
echo "files: $WORK"
trap - EXIT
bench_cleanup
