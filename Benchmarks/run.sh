#!/usr/bin/env bash
# Benchmarks/run.sh: sidecar beside a direct Unix socket and HAProxy 2.6 on this machine, through the shared
# harness (../shared/bench): builds sidecar in release mode, runs direct, haproxy and sidecar interleaved for
# ROUNDS rounds (default 3) plus full-handshake connection-rate rounds, and writes a markdown table of medians
# [min-max] with the sidecar/HAProxy ratios of the performance goals.
#
#   Benchmarks/run.sh                 # full session, about 8 minutes on 2 cores
#   ROUNDS=1 QUICK=1 Benchmarks/run.sh   # a smaller smoke run
#   NO_FLOORS=1 Benchmarks/run.sh        # without Benchmarks/floors.sh at the end (about 30 s)
#   REST_SECONDS=10 Benchmarks/run.sh    # a shorter at-rest step (Benchmarks/atrest.sh; default 60 s)
#
# Per-core comparison: HAProxy runs with nbthread 1 (the harness's setting), sidecar with SIDECAR_THREADS=1.
# Per-connection logging is off on both (sidecar: SIDECAR_LOG_LEVEL=warning).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/run.sh
require_tools Benchmarks/run.sh "haproxy python3 gcc util-linux" haproxy python3 cc taskset

SCRATCH=${SCRATCH:-$ROOT/.build-release}
echo "==> swift build -c release"
# The release flags of `make` that change the binary (the Makefile's RELEASE_FLAGS: the static Swift runtime,
# the hardening, the linker and the start-up order), so that what is measured is what ships.
read -r -a RELEASE_FLAGS <<<"$(make -s -C "$ROOT" print-release-flags)"
(cd "$ROOT" && swift build -c release --scratch-path "$SCRATCH" --product sidecar "${RELEASE_FLAGS[@]}")
# The harness starts "$SIDECAR forward|reverse ..." and sets NO_RESUME=1 for its full-handshake rounds; this
# wrapper turns that into --no-ssl-reuse on the forward side (exec keeps the PID the harness measures).
WRAPPER=$SCRATCH/sidecar-bench
cat >"$WRAPPER" <<WRAP
#!/usr/bin/env bash
if [[ \${NO_RESUME:-0} == 1 && \$1 == forward ]]; then exec "$SCRATCH/release/sidecar" "\$@" --no-ssl-reuse; fi
exec "$SCRATCH/release/sidecar" "\$@"
WRAP
chmod +x "$WRAPPER"
export SIDECAR=$WRAPPER SIDECAR_THREADS=${SIDECAR_THREADS:-1} SIDECAR_LOG_LEVEL=${SIDECAR_LOG_LEVEL:-warning}
if [[ -n ${QUICK:-} ]]; then
    export LAT_COUNT=5000 TPUT_BYTES=512M CONN_COUNT=600 IDLE_CONNS=300
fi
SESSION=${SESSION:-$ROOT/Benchmarks/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$SESSION"
SYSTEMS="direct haproxy sidecar" NORESUME_SYSTEMS="haproxy sidecar" ROUNDS=${ROUNDS:-3} SESSION=$SESSION \
    "$BENCH/runall.sh"
# At rest: one forward process each, no connections, no health checks (REST_SECONDS, default 60).
SIDECAR=$SCRATCH/release/sidecar "$ROOT/Benchmarks/atrest.sh" | tee -a "$SESSION/summary.txt"
python3 "$ROOT/Benchmarks/ratios.py" "$SESSION/summary.txt" >"$SESSION/ratios.md"
cat "$SESSION/ratios.md"
echo "full table: $SESSION/results.md"
# The floors no OpenSSL-based proxy can go below, against this run's HAProxy figures (Benchmarks/floors.sh).
if [[ -z ${NO_FLOORS:-} ]]; then
    echo
    HAPROXY_FROM=$SESSION/summary.txt SHARED=$SHARED "$ROOT/Benchmarks/floors.sh" | tee "$SESSION/floors.md"
fi
