#!/usr/bin/env bash
# Benchmarks/scale.sh: the reverse side under many agents (a benchmark, not a test).
#   1. IDLE (default 10000) concurrent idle mTLS connections held through forward -> reverse: RSS of each.
#   2. A reconnect storm: STORM (default 2000) agents reconnecting, 100 at a time: time until all are relayed,
#      peak RSS.
# Runs sidecar (release build) and HAProxy 2.6 the same way, one after the other, on loopback only, with the
# shared harness's load tool (../shared/bench/tunnelbench.c) and certificates (certs.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/scale.sh
require_tools Benchmarks/scale.sh "gcc haproxy" cc haproxy
IDLE=${IDLE:-10000}
STORM=${STORM:-2000}
# Each proxy holds two descriptors per connection; raise the soft limit as far as the hard one allows.
ulimit -n "$(ulimit -Hn)"
limit=$(ulimit -n)
if ((IDLE * 2 + 100 > limit)); then
    IDLE=$(((limit - 100) / 2))
    echo "note: the open-file limit here is $limit, so IDLE is lowered to $IDLE" >&2
fi
TMP=$(mktemp -d /tmp/sidecar-scale.XXXXXX)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
cc -O2 -pthread -o "$TMP/tunnelbench" "$BENCH/tunnelbench.c"
bash "$BENCH/certs.sh" "$TMP/certs" >/dev/null 2>&1
SCRATCH=${SCRATCH:-$ROOT/.build-release}
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product sidecar >/dev/null)
SIDECAR=$SCRATCH/release/sidecar
"$TMP/tunnelbench" server --unix "$TMP/echo.sock" --threads 1 --max-seconds 900 >"$TMP/server.log" 2>&1 &
PIDS+=($!)

rss() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
hwm() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
wait_for() { for _ in $(seq 1 200); do [[ -S $1 ]] && return 0; sleep 0.05; done; echo "no socket $1" >&2; exit 1; }

start_sidecar() { # port socket
    SIDECAR_THREADS=1 SIDECAR_LOG_LEVEL=warning "$SIDECAR" reverse --listen "127.0.0.1:$1" --connect "unix:$TMP/echo.sock" \
        --cert "$TMP/certs/server.crt" --key "$TMP/certs/server.key" --ca "$TMP/certs/ca.crt" 2>"$TMP/rev.log" &
    REV=$!
    SIDECAR_THREADS=1 SIDECAR_LOG_LEVEL=warning "$SIDECAR" forward --listen "unix:$2" --connect "127.0.0.1:$1" \
        --cert "$TMP/certs/client.crt" --key "$TMP/certs/client.key" --ca "$TMP/certs/ca.crt" --server-name localhost \
        2>"$TMP/fwd.log" &
    FWD=$!
}
# The same global and defaults for both HAProxy processes: one thread, limits within the fd limit.
HAPROXY_COMMON='global
    nbthread 1
    maxconn 9990
defaults
    mode tcp
    maxconn 9990
    timeout connect 5s
    timeout client 300s
    timeout server 300s'
start_haproxy() { # port socket
    cat >"$TMP/rev.cfg" <<CFG
$HAPROXY_COMMON
frontend rev_in
    bind 127.0.0.1:$1 ssl crt $TMP/certs/server.pem ca-file $TMP/certs/ca.crt verify required ssl-min-ver TLSv1.3
    default_backend echo
backend echo
    server s1 $TMP/echo.sock
CFG
    cat >"$TMP/fwd.cfg" <<CFG
$HAPROXY_COMMON
frontend fwd_in
    bind unix@$2
    default_backend rev
backend rev
    server r1 127.0.0.1:$1 ssl crt $TMP/certs/client.pem ca-file $TMP/certs/ca.crt verify required verifyhost localhost sni str(localhost) ssl-min-ver TLSv1.3
CFG
    haproxy -db -f "$TMP/rev.cfg" 2>"$TMP/rev.log" &
    REV=$!
    haproxy -db -f "$TMP/fwd.cfg" 2>"$TMP/fwd.log" &
    FWD=$!
}

port=$((20000 + RANDOM % 10000))
for system in sidecar haproxy; do
    port=$((port + 1))
    sock=$TMP/$system.sock
    "start_$system" "$port" "$sock"
    PIDS+=("$REV" "$FWD")
    wait_for "$sock"
    base_rev=$(rss "$REV"); base_fwd=$(rss "$FWD")
    "$TMP/tunnelbench" idle --unix "$sock" --conns "$IDLE" --hold 4 --timeout 300 >"$TMP/$system-idle.log" 2>&1 &
    LOAD=$!
    for _ in $(seq 1 6000); do grep -q phase=holding "$TMP/$system-idle.log" && break; sleep 0.05; done
    sleep 1
    held_rev=$(rss "$REV"); held_fwd=$(rss "$FWD")
    wait "$LOAD" || true
    setup=$(grep -o 'setup_s=[0-9.]*' "$TMP/$system-idle.log" | head -1)
    alive=$(grep -o 'alive_after_hold=[0-9]*' "$TMP/$system-idle.log" | head -1)
    echo "system=$system idle_conns=$IDLE $setup $alive rev_rss_kb=$held_rev rev_kb_per_conn=$(( (held_rev - base_rev) * 1000 / IDLE ))e-3 fwd_rss_kb=$held_fwd fwd_kb_per_conn=$(( (held_fwd - base_fwd) * 1000 / IDLE ))e-3"
    # Storm: STORM agents reconnecting at once, 100 in flight at a time (new mTLS session each, resumption on):
    # the time until every one has had its round trip relayed.
    start=$(date +%s.%N)
    "$TMP/tunnelbench" connrate --unix "$sock" --count "$STORM" --parallel 100 --timeout 300 >"$TMP/$system-storm.log" 2>&1 || true
    end=$(date +%s.%N)
    errors=$(grep -o 'errors=[0-9]*' "$TMP/$system-storm.log" | head -1)
    echo "system=$system storm_conns=$STORM storm_seconds=$(awk "BEGIN{printf \"%.2f\", $end - $start}") $errors rev_peak_rss_kb=$(hwm "$REV") fwd_peak_rss_kb=$(hwm "$FWD")"
    kill "$REV" "$FWD" 2>/dev/null || true
    wait "$REV" "$FWD" 2>/dev/null || true
done
