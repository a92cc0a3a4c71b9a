#!/usr/bin/env bash
# Benchmarks/atrest.sh: one forward proxy with no connections, sidecar (--threads 1) beside HAProxy
# (nbthread 1), the same job: a Unix listener relaying to mTLS on 127.0.0.1, no health checks, no traffic.
#
#   Benchmarks/atrest.sh                      # 60 s of rest
#   REST_SECONDS=10 Benchmarks/atrest.sh      # shorter
#   SIDECAR=/path/to/sidecar Benchmarks/atrest.sh
#
# Prints the harness's summary lines (`system=… run=atrest metric=… value=…`):
#   atrest_rss_kb       VmRSS after SETTLE_SECONDS (default 2)
#   atrest_rss_anon_kb  RssAnon at the same moment: the process's private memory (heap, stacks, relocated
#                       data); the rest of VmRSS is file pages (the executable's and libraries' code and data)
#   atrest_threads      Threads
#   atrest_wakeups      voluntary + nonvoluntary context switches of all the process's threads during
#                       REST_SECONDS: each is the process waking up (or being preempted) with nothing to do
#   binary_stripped_kb  the executable without symbols or debug information (`strip`); sidecar's links the
#                       Swift runtime in, HAProxy's (Debian's) is stripped already and links its libraries
# Both processes rest at the same time; only processes this script started are signalled, by PID.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/atrest.sh
require_tools Benchmarks/atrest.sh "haproxy binutils" haproxy strip
SIDECAR=${SIDECAR:-$ROOT/.build/release/sidecar}
REST_SECONDS=${REST_SECONDS:-60}
SETTLE_SECONDS=${SETTLE_SECONDS:-2}
WORK=$(mktemp -d /tmp/atrest.XXXXXX)
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
bash "$BENCH/certs.sh" "$WORK/certs" >/dev/null 2>&1
CERTS=$WORK/certs
PORT=$((20000 + RANDOM % 12000))

"$SIDECAR" forward --listen "unix:$WORK/sidecar.sock" --connect "127.0.0.1:$PORT" --cert "$CERTS/client.crt" \
    --key "$CERTS/client.key" --ca "$CERTS/ca.crt" --server-name localhost --threads 1 --log-level warning \
    >"$WORK/sidecar.log" 2>&1 &
PIDS+=($!)
SIDECAR_PID=$!
cat >"$WORK/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    maxconn 4096
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend fwd_in
    bind unix@$WORK/haproxy.sock mode 600
    default_backend rev
backend rev
    server rev1 127.0.0.1:$PORT ssl crt $CERTS/client.pem ca-file $CERTS/ca.crt verify required verifyhost localhost sni str(localhost) ssl-min-ver TLSv1.3
EOF
haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
HAPROXY_PID=$!
for _ in $(seq 1 100); do
    [[ -S $WORK/sidecar.sock && -S $WORK/haproxy.sock ]] && break
    sleep 0.1
done
[[ -S $WORK/sidecar.sock && -S $WORK/haproxy.sock ]] || { cat "$WORK"/*.log >&2; exit 1; }
sleep "$SETTLE_SECONDS"

status() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"; }
switches() { # switches PID: context switches of every thread of the process so far
    cat /proc/"$1"/task/*/status | awk '/^(non)?voluntary_ctxt_switches:/ { sum += $2 } END { print sum }'
}
declare -A BEFORE
for system in sidecar haproxy; do
    pid_var=${system^^}_PID
    BEFORE[$system]=$(switches "${!pid_var}")
done
sleep "$REST_SECONDS"
strip -o "$WORK/sidecar.stripped" "$SIDECAR"
for system in sidecar haproxy; do
    pid_var=${system^^}_PID
    pid=${!pid_var}
    kill -0 "$pid" || { echo "$system exited during the rest: $(cat "$WORK/$system.log")" >&2; exit 1; }
    echo "system=$system run=atrest metric=atrest_rss_kb value=$(status "$pid" VmRSS)"
    echo "system=$system run=atrest metric=atrest_rss_anon_kb value=$(status "$pid" RssAnon)"
    echo "system=$system run=atrest metric=atrest_threads value=$(status "$pid" Threads)"
    echo "system=$system run=atrest metric=atrest_wakeups value=$(($(switches "$pid") - BEFORE[$system]))"
    echo "system=$system run=atrest metric=atrest_seconds value=$REST_SECONDS"
done
echo "system=sidecar run=atrest metric=binary_stripped_kb value=$(($(stat -c %s "$WORK/sidecar.stripped") / 1024))"
echo "system=haproxy run=atrest metric=binary_stripped_kb value=$(($(stat -c %s "$(command -v haproxy)") / 1024))"
