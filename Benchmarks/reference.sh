#!/usr/bin/env bash
# Benchmarks/reference.sh: HAProxy 2.6, sidecar and Benchmarks/c-relay.c (the least a double proxy on OpenSSL 3
# can be: one C file, epoll, no features) through the shared harness, interleaved for ROUNDS rounds (default
# 3), then a table of medians [min-max] with each one's ratio to HAProxy. It answers "what would a data path
# outside SwiftNIO buy?" with a measurement rather than an estimate.
#
#   Benchmarks/reference.sh                      # about 6 minutes on 2 cores
#   ROUNDS=1 STEPS="connrate idle" Benchmarks/reference.sh
#
# Needs gcc, libssl-dev, python3, haproxy and the harness at ../shared/bench (or SHARED=/path/to/shared).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/reference.sh
require_tools Benchmarks/reference.sh "gcc libssl-dev haproxy python3" cc haproxy python3
SCRATCH=${SCRATCH:-$ROOT/.build-release}
echo "==> swift build -c release" >&2
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product sidecar >&2)
SESSION=${SESSION:-$ROOT/Benchmarks/results/reference-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$SESSION"
cc -O2 -o "$SESSION/c-relay" "$ROOT/Benchmarks/c-relay.c" -lssl -lcrypto
export STEPS=${STEPS:-"latency throughput connrate idle"}
RELAY=$SESSION/c-relay
for round in $(seq "${ROUNDS:-3}"); do
    for system in haproxy sidecar c-relay; do
        echo "==> round $round: $system" >&2
        case $system in
        haproxy) RUN_TAG=r$round OUTDIR=$SESSION/$system-r$round "$BENCH/run.sh" haproxy ;;
        sidecar)
            SIDECAR=$SCRATCH/release/sidecar SIDECAR_THREADS=1 SIDECAR_LOG_LEVEL=warning RUN_TAG=r$round \
                OUTDIR=$SESSION/$system-r$round "$BENCH/run.sh" sidecar ;;
        c-relay)
            FWD_CMD="$RELAY forward {FWD_SOCK} 127.0.0.1 {REV_PORT} {CERTS}/client.crt {CERTS}/client.key {CERTS}/ca.crt localhost" \
            REV_CMD="$RELAY reverse 127.0.0.1 {REV_PORT} {ECHO_SOCK} {CERTS}/server.crt {CERTS}/server.key {CERTS}/ca.crt" \
                SYSTEM_LABEL=c-relay RUN_TAG=r$round OUTDIR=$SESSION/$system-r$round "$BENCH/run.sh" custom ;;
        esac 2>/dev/null | grep ' metric=' >>"$SESSION/summary.txt" || echo "run.sh $system printed nothing" >&2
    done
done
python3 "$ROOT/Benchmarks/reference.py" "$SESSION/summary.txt" | tee "$SESSION/reference.md"
