#!/usr/bin/env bash
# Benchmarks/perconnection.sh: what one new tunnel (a Unix connection to the forward side, a TCP connection and
# a mutual TLS 1.3 handshake to the reverse side, a Unix connection to the backend, a 32-byte round trip and the
# close) costs each proxy, in figures that do not depend on how busy the machine is: system calls (`strace -c
# -f`) and instructions in user space (`valgrind --tool=callgrind`), for sidecar, HAProxy (nbthread 1) and
# Benchmarks/c-relay.c, forward and reverse.
#
#   Benchmarks/perconnection.sh strace sidecar                 # system calls per connection, resumed handshakes
#   MODE=full Benchmarks/perconnection.sh callgrind haproxy    # instructions per connection, full handshakes
#   COUNTS="100 300" Benchmarks/perconnection.sh callgrind c-relay
#   SIDECAR=/path/to/sidecar Benchmarks/perconnection.sh callgrind sidecar
#   KEEP=1 ...                                                 # keep the callgrind files (see below)
#
# Each pair is started twice, under the tool, and opens COUNTS (default "50 250") connections one after another
# (the harness's `tunnelbench connrate --parallel 1 --size 32`). Start-up, the first full handshake (no ticket
# yet) and shutdown are the same in both runs, so (second − first) ÷ (difference in connections) is what one
# more connection costs. MODE=resumed (default) leaves resumption on; MODE=full turns it off on the forward
# side (sidecar --no-ssl-reuse, HAProxy no-ssl-reuse, c-relay NO_RESUME=1), so every handshake is a full one.
# Prints one line per process and figure. With KEEP=1 the work directory stays: feed both runs' callgrind files
# to `callgrind_annotate --inclusive=yes` and subtract (Benchmarks/callgrind-diff.py does that per function).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/perconnection.sh
TOOL=${1:?usage: perconnection.sh strace|callgrind sidecar|haproxy|c-relay}
SYSTEM=${2:?usage: perconnection.sh strace|callgrind sidecar|haproxy|c-relay}
require_tools Benchmarks/perconnection.sh "haproxy strace valgrind gcc libssl-dev" haproxy strace valgrind cc
MODE=${MODE:-resumed}
[[ $MODE == resumed || $MODE == full ]] || { echo "MODE must be resumed or full, not $MODE" >&2; exit 2; }
read -r -a COUNTS <<<"${COUNTS:-50 250}"
SIDECAR=${SIDECAR:-$ROOT/.build/release/sidecar}
bench_work perconnection
case $SYSTEM in
    sidecar)
        [[ -x $SIDECAR ]] || { echo "no sidecar at $SIDECAR (build it, or set SIDECAR=)" >&2; exit 2; }
        if [[ $TOOL == callgrind ]]; then
            # Valgrind 3.19 cannot read the DWARF 5 Swift writes (it gives up); the symbol table is enough.
            objcopy --strip-debug "$SIDECAR" "$WORK/sidecar"
            SIDECAR=$WORK/sidecar
        fi
        ;;
    c-relay) cc -O2 -o "$WORK/c-relay" "$ROOT/Benchmarks/c-relay.c" -lssl -lcrypto ;;
    haproxy) ;;
    *) echo "unknown system $SYSTEM (sidecar, haproxy or c-relay)" >&2; exit 2 ;;
esac
bash "$BENCH/certs.sh" "$WORK/certs" >/dev/null 2>&1
CERTS=$WORK/certs
NO_REUSE_FLAG=() HAPROXY_NO_REUSE="" RELAY_NO_RESUME=0
if [[ $MODE == full ]]; then NO_REUSE_FLAG=(--no-ssl-reuse) HAPROXY_NO_REUSE=" no-ssl-reuse" RELAY_NO_RESUME=1; fi

start() { # start RUN: the echo server and both proxies
    local run=$1 dir=$WORK/$1 port
    mkdir -p "$dir"
    port=$((20000 + RANDOM % 12000))
    "$WORK/tunnelbench" server --unix "$dir/echo.sock" --max-seconds 900 >"$dir/server.log" 2>&1 &
    PIDS+=($!)
    case $SYSTEM in
        sidecar)
            $(tool_wrap rev "$run") "$SIDECAR" reverse --listen "127.0.0.1:$port" --connect "unix:$dir/echo.sock" \
                --cert "$CERTS/server.crt" --key "$CERTS/server.key" --ca "$CERTS/ca.crt" --threads 1 \
                --log-level warning >"$dir/rev.log" 2>&1 &
            REV=$!
            $(tool_wrap fwd "$run") "$SIDECAR" forward --listen "unix:$dir/fwd.sock" --connect "127.0.0.1:$port" \
                --cert "$CERTS/client.crt" --key "$CERTS/client.key" --ca "$CERTS/ca.crt" --server-name localhost \
                --threads 1 --log-level warning "${NO_REUSE_FLAG[@]}" >"$dir/fwd.log" 2>&1 &
            FWD=$!
            ;;
        c-relay)
            $(tool_wrap rev "$run") "$WORK/c-relay" reverse 127.0.0.1 "$port" "$dir/echo.sock" "$CERTS/server.crt" \
                "$CERTS/server.key" "$CERTS/ca.crt" >"$dir/rev.log" 2>&1 &
            REV=$!
            NO_RESUME=$RELAY_NO_RESUME $(tool_wrap fwd "$run") "$WORK/c-relay" forward "$dir/fwd.sock" 127.0.0.1 "$port" \
                "$CERTS/client.crt" "$CERTS/client.key" "$CERTS/ca.crt" localhost >"$dir/fwd.log" 2>&1 &
            FWD=$!
            ;;
        haproxy)
            haproxy_pair_configs "$dir" "$port" "$CERTS" "$HAPROXY_NO_REUSE"
            $(tool_wrap rev "$run") haproxy -db -f "$dir/rev.cfg" >"$dir/rev.log" 2>&1 &
            REV=$!
            $(tool_wrap fwd "$run") haproxy -db -f "$dir/fwd.cfg" >"$dir/fwd.log" 2>&1 &
            FWD=$!
            ;;
    esac
    PIDS+=("$REV" "$FWD")
    wait_for_pair "$dir" "$port" "$SYSTEM"
}


for run in "${COUNTS[@]}"; do
    start "$run"
    timeout 900 "$WORK/tunnelbench" connrate --unix "$WORK/$run/fwd.sock" --count "$run" --parallel 1 --size 32 \
        --timeout 890 >"$WORK/$run/connrate.txt" || { cat "$WORK/$run/connrate.txt" >&2; exit 1; }
    grep -q ' errors=0 ' "$WORK/$run/connrate.txt" || { cat "$WORK/$run/connrate.txt" >&2; exit 1; }
    # The client has closed its last connection; give the proxies time to close theirs (both runs alike).
    sleep 1
    stop_pair
done

python3 "$ROOT/Benchmarks/tooldiff.py" "$WORK" "$TOOL" conn "system=$SYSTEM mode=$MODE" "${COUNTS[@]}"
echo "files: $WORK"
trap - EXIT
bench_cleanup
if [[ ${KEEP:-0} != 1 ]]; then rm -rf "$WORK"; fi
