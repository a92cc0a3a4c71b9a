#!/usr/bin/env bash
# Benchmarks/stack-floor.sh: what sidecar's stack costs before any of sidecar's code: the smallest program
# with the Swift runtime linked in, one SwiftNIO event loop with a Unix listener and an OpenSSL 3 client
# context (stack-floor), and the same with the one FoundationEssentials use swift-argument-parser makes
# (stack-floor-foundation); Benchmarks/stack-floor/, built with the release flags of `make`
# (`make -s print-release-flags`).
#
#   Benchmarks/stack-floor.sh          # builds it (the first time SwiftNIO compiles: minutes), rests 2 s
#
# Prints the harness's summary lines for system=stack-floor and stack-floor-foundation: atrest_rss_kb (VmRSS after SETTLE_SECONDS,
# default 2), atrest_threads, binary_stripped_kb; compare with Benchmarks/atrest.sh's for sidecar.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PKG=$ROOT/Benchmarks/stack-floor
SCRATCH=${SCRATCH:-$ROOT/.build-stack-floor}
SETTLE_SECONDS=${SETTLE_SECONDS:-2}
read -r -a RELEASE_FLAGS <<<"$(make -s -C "$ROOT" print-release-flags)"
echo "==> swift build -c release (Benchmarks/stack-floor)" >&2
swift build --package-path "$PKG" -c release --scratch-path "$SCRATCH" "${RELEASE_FLAGS[@]}" >&2
WORK=$(mktemp -d /tmp/stack-floor.XXXXXX)
PID=
cleanup() {
    [[ -n $PID ]] && kill "$PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
for program in stack-floor stack-floor-foundation; do
    binary=$SCRATCH/release/$program
    "$binary" "$WORK/$program.sock" &
    PID=$!
    for _ in $(seq 1 100); do [[ -S $WORK/$program.sock ]] && break; sleep 0.1; done
    [[ -S $WORK/$program.sock ]] || { echo "$program did not listen" >&2; exit 1; }
    sleep "$SETTLE_SECONDS"
    status() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$PID/status"; }
    strip -o "$WORK/$program.stripped" "$binary"
    echo "system=$program run=atrest metric=atrest_rss_kb value=$(status VmRSS)"
    echo "system=$program run=atrest metric=atrest_rss_anon_kb value=$(status RssAnon)"
    echo "system=$program run=atrest metric=atrest_threads value=$(status Threads)"
    echo "system=$program run=atrest metric=binary_stripped_kb value=$(($(stat -c %s "$WORK/$program.stripped") / 1024))"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
done
