#!/usr/bin/env bash
# Benchmarks/dbus.sh: what `option dbus` costs per D-Bus round trip. A D-Bus-shaped load
# (Benchmarks/dbus-load.c: sd-bus's pipelined SASL, BlueChi's Register once per connection, then method calls
# of 200 bytes answered by method returns of about 200 bytes, one outstanding per connection) runs through
#
#   dbus-load client --unix--> sidecar forward --TLS 1.3, mTLS, 127.0.0.1--> sidecar reverse --unix--> dbus-load server
#
# in two configurations, interleaved round by round (the order alternates):
#   plain  both sidecars relay bytes (no --dbus);
#   dbus   forward --dbus, reverse --dbus-register-name cn (the shipped BlueChi examples' settings: every
#          message's header parsed in both directions on both sides, every call checked against Register).
# For each run it reads utime+stime of both sidecar processes from /proc/PID/stat before and after the measured
# calls and prints CPU µs per round trip (forward + reverse), then the medians [min-max] per configuration and
# their ratio. The goal: dbus costs at most 10 % more than plain.
#
#   Benchmarks/dbus.sh                               # 5 rounds of 200,000 round trips over 16 connections
#   ROUNDS=3 ROUND_TRIPS=100000 Benchmarks/dbus.sh   # a shorter run
#
# Each sidecar gets one event-loop thread (SIDECAR_THREADS=1) and logs warnings only. Loopback only; every
# client run is bounded by RUN_SECONDS (default 60) and by `timeout`. Builds sidecar in release mode like
# Benchmarks/run.sh (SCRATCH, default .build-release). Needs gcc and python3.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_tools Benchmarks/dbus.sh "gcc python3" cc python3 timeout

ROUNDS=${ROUNDS:-5}
ROUND_TRIPS=${ROUND_TRIPS:-200000}
WARMUP=${WARMUP:-20000}
CONNECTIONS=${CONNECTIONS:-16}
RUN_SECONDS=${RUN_SECONDS:-60}
CLK_TCK=$(getconf CLK_TCK)

SCRATCH=${SCRATCH:-$ROOT/.build-release}
if [[ -z ${SIDECAR:-} ]]; then
    echo "==> swift build -c release" >&2
    (cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product sidecar) >&2
    SIDECAR=$SCRATCH/release/sidecar
fi
export SIDECAR_THREADS=${SIDECAR_THREADS:-1} SIDECAR_LOG_LEVEL=${SIDECAR_LOG_LEVEL:-warning}

TMP=$(mktemp -d /tmp/sidecar-dbus-bench.XXXXXX)
STARTED=()
cleanup() {
    local pid
    for pid in "${STARTED[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${STARTED[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT

cc -O2 -o "$TMP/dbus-load" "$ROOT/Benchmarks/dbus-load.c"
"$SIDECAR" certs ca --out "$TMP/pki" >/dev/null
"$SIDECAR" certs leaf --ca-cert "$TMP/pki/ca.pem" --ca-key "$TMP/pki/ca.key" --server --cn manager --dns localhost \
    --ip 127.0.0.1 --out "$TMP/pki" >/dev/null
"$SIDECAR" certs leaf --ca-cert "$TMP/pki/ca.pem" --ca-key "$TMP/pki/ca.key" --cn node1 --out "$TMP/pki" >/dev/null

"$TMP/dbus-load" server "$TMP/backend.sock" >"$TMP/server.log" 2>&1 &
SERVER=$!
STARTED+=("$SERVER")

wait_for() { # DESCRIPTION PID LOG COMMAND...: polls every 50 ms for at most 10 s while PID runs
    local what=$1 pid=$2 log=$3 i
    shift 3
    for i in $(seq 200); do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || { echo "dbus.sh: exited before $what:" >&2; cat "$log" >&2; exit 1; }
        sleep 0.05
    done
    echo "dbus.sh: timed out waiting for $what" >&2
    exit 1
}
is_socket() { [[ -S $1 ]]; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ticks() { # pid -> utime + stime in clock ticks
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    # shellcheck disable=SC2086
    set -- $stat
    echo $((${12} + ${13}))
}
syscalls() { # pid -> read and write system calls so far (syscr + syscw of /proc/PID/io)
    awk '/^sysc[rw]:/ { n += $2 } END { print n }' "/proc/$1/io"
}
free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }

# run CONFIG ROUND: starts both sidecars, warms up, measures, stops them; appends "CONFIG fwd rev total" (µs per
# round trip) to $TMP/results.
run() {
    local config=$1 round=$2 port forward_args=() reverse_args=() reverse forward before_f before_r out n
    [[ $config == dbus ]] && { forward_args=(--dbus); reverse_args=(--dbus-register-name cn); }
    port=$(free_port)
    "$SIDECAR" reverse --listen "127.0.0.1:$port" --connect "unix:$TMP/backend.sock" --cert "$TMP/pki/manager.pem" \
        --ca "$TMP/pki/ca.pem" "${reverse_args[@]}" >"$TMP/reverse-$config-$round.log" 2>&1 &
    reverse=$!
    STARTED+=("$reverse")
    wait_for "sidecar reverse listens on port $port" "$reverse" "$TMP/reverse-$config-$round.log" listening "$port"
    rm -f "$TMP/forward.sock"
    "$SIDECAR" forward --listen "unix:$TMP/forward.sock" --connect "127.0.0.1:$port" --cert "$TMP/pki/node1.pem" \
        --ca "$TMP/pki/ca.pem" --server-name localhost "${forward_args[@]}" >"$TMP/forward-$config-$round.log" 2>&1 &
    forward=$!
    STARTED+=("$forward")
    wait_for "sidecar forward's socket exists" "$forward" "$TMP/forward-$config-$round.log" \
        is_socket "$TMP/forward.sock"

    timeout -k 5 "$RUN_SECONDS" "$TMP/dbus-load" client "$TMP/forward.sock" "$CONNECTIONS" "$WARMUP" "$RUN_SECONDS" \
        >/dev/null || { echo "dbus.sh: warm-up failed ($config)" >&2; cat "$TMP"/*-"$config"-"$round".log >&2; exit 1; }
    before_f=$(ticks "$forward")
    before_r=$(ticks "$reverse")
    calls_f=$(syscalls "$forward")
    calls_r=$(syscalls "$reverse")
    out=$(timeout -k 5 "$RUN_SECONDS" "$TMP/dbus-load" client "$TMP/forward.sock" "$CONNECTIONS" "$ROUND_TRIPS" \
        "$RUN_SECONDS") || { echo "dbus.sh: run failed ($config): $out" >&2; exit 1; }
    n=$(sed -n 's/.*round_trips=\([0-9]*\).*/\1/p' <<<"$out")
    awk -v c="$config" -v f=$(($(ticks "$forward") - before_f)) -v r=$(($(ticks "$reverse") - before_r)) -v n="$n" \
        -v hz="$CLK_TCK" -v sf=$(($(syscalls "$forward") - calls_f)) -v sr=$(($(syscalls "$reverse") - calls_r)) \
        'BEGIN { fw = f * 1e6 / hz / n; rv = r * 1e6 / hz / n; printf "%s %.2f %.2f %.2f %.2f %.2f\n", c, fw, rv, fw + rv, sf / n, sr / n }' \
        >>"$TMP/results"
    echo "round $round $config: $(tail -1 "$TMP/results" | cut -d' ' -f2-4) µs per round trip (fwd rev total)," \
        "$(tail -1 "$TMP/results" | cut -d' ' -f5-) read+write calls per round trip (fwd rev); $out" >&2
    kill "$forward" "$reverse"
    wait "$forward" "$reverse" 2>/dev/null || true
}

wait_for "the D-Bus load server listens" "$SERVER" "$TMP/server.log" is_socket "$TMP/backend.sock"
: >"$TMP/results"
for round in $(seq "$ROUNDS"); do
    if ((round % 2)); then run plain "$round"; run dbus "$round"; else run dbus "$round"; run plain "$round"; fi
done

python3 - "$TMP/results" "$ROUNDS" "$ROUND_TRIPS" "$CONNECTIONS" <<'PY'
import statistics, sys
rows = [line.split() for line in open(sys.argv[1])]
def figures(config, column):
    return [float(row[column]) for row in rows if row[0] == config]
def cell(values):
    return "%.1f [%.1f–%.1f]" % (statistics.median(values), min(values), max(values))
print("CPU µs per D-Bus round trip (200 B call, ~200 B return), %s connections, %s round trips per run, "
      "median [min–max] of %s interleaved rounds:" % (sys.argv[4], sys.argv[3], sys.argv[2]))
print()
print("| | plain relay | option dbus | dbus / plain |")
print("|---|---|---|---|")
for name, column in (("forward", 1), ("reverse", 2), ("forward + reverse", 3)):
    plain, dbus = figures("plain", column), figures("dbus", column)
    print("| %s | %s | %s | %.2f× |" % (name, cell(plain), cell(dbus), statistics.median(dbus) / statistics.median(plain)))
for name, column in (("read+write calls per round trip, forward", 4), ("read+write calls per round trip, reverse", 5)):
    print("| %s | %.2f | %.2f | |" % (name, statistics.median(figures("plain", column)),
                                     statistics.median(figures("dbus", column))))
PY
