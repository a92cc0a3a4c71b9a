#!/usr/bin/env bash
# Runs one fuzz target under libFuzzer with AddressSanitizer for as long as asked.
#
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer options...]
#   TARGET: config | runtime-api | dbus | tls | pem   (Sources/SidecarFuzz/FuzzTarget.swift)
#   SECONDS: default 60
#
# Builds sidecar-fuzz with ASan and libFuzzer in .build-fuzz (see FUZZ_FLAGS; the first build takes as long as a
# normal one), then fuzzes starting from the seed corpus Fuzz/corpus/TARGET and the regression corpus
# Fuzz/regressions/TARGET. New interesting inputs go to .build-fuzz/corpus/TARGET (not committed; kept
# between runs). A finding (crash, ASan report, leak, input slower than 10 s) stops the run, exits non-zero and
# leaves the input as .build-fuzz/findings/TARGET/crash-*, leak-*, timeout-* or oom-*: fix it, add a test that
# fails before the fix, and move the input to Fuzz/regressions/TARGET, which the normal test suite replays
# (Tests/SidecarFuzzTests). Reproduce one without libFuzzer:
#   SIDECAR_FUZZ_TARGET=TARGET .build/debug/sidecar-fuzz FILE
# FUZZ_JOBS=N runs N processes in parallel (libFuzzer -fork), default 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# One instrumented build serves the fuzzer and scripts/test.sh's ASan test run: ASan everywhere, libFuzzer's
# coverage instrumentation (what swiftc -sanitize=fuzzer would add) everywhere, and libFuzzer itself linked into
# sidecar-fuzz only (SIDECAR_LIBFUZZER=1, Package.swift), since its main() would clash with every other product's.
# The ASan runtime has weak no-op defaults for the coverage callbacks, so the other products link and run as usual.
FUZZ_FLAGS=(--sanitize address -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table)
if [[ "${1:-}" == --print-flags ]]; then echo "${FUZZ_FLAGS[*]}"; exit 0; fi

targets="config runtime-api dbus tls pem"
target="${1:-}"
[[ " $targets " == *" $target "* && -n "$target" ]] || { echo "usage: $0 {${targets// /|}} [SECONDS] [libFuzzer options]" >&2; exit 2; }
seconds="${2:-60}"
shift $(($# >= 2 ? 2 : 1))

scratch=.build-fuzz
# FUZZ_SKIP_BUILD=1 (scripts/test.sh, which built it already): use the binary as it is, without taking SwiftPM's
# lock on the scratch path, which the ASan test run holds meanwhile.
if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
    SIDECAR_LIBFUZZER=1 swift build --scratch-path "$scratch" "${FUZZ_FLAGS[@]}" --product sidecar-fuzz </dev/null >&2
fi
binary="$scratch/debug/sidecar-fuzz"
[[ -x "$binary" ]] || { echo "fuzz.sh: $binary is missing" >&2; exit 2; }

corpus="$scratch/corpus/$target"
findings="$scratch/findings/$target"
mkdir -p "$corpus" "$findings" "Fuzz/regressions/$target"
dictionary=()
if [[ -f "Fuzz/$target.dict" ]]; then dictionary=(-dict="Fuzz/$target.dict"); fi
fork=()
if [[ "${FUZZ_JOBS:-1}" -gt 1 ]]; then fork=(-fork="$FUZZ_JOBS" -ignore_crashes=0); fi
echo "fuzz.sh: $target for ${seconds}s; corpus $corpus; findings $findings" >&2
# detect_leaks: a leak per input is a finding too. max_len: a configuration file or a D-Bus exchange of
# 16 KiB is big enough to reach every state; longer inputs only slow each run.
# SWIFT_BACKTRACE: libFuzzer and ASan print the stack of a finding; Swift's own backtracer would attach to the
# dying process first and, here, kept it (and the run) waiting for minutes.
# Fuzz/lsan.supp says why each suppression is there.
SIDECAR_FUZZ_TARGET="$target" SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}" \
    LSAN_OPTIONS="suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0" \
    "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$findings/" "${dictionary[@]}" "${fork[@]}" "$@" "$corpus" "Fuzz/corpus/$target" "Fuzz/regressions/$target"
