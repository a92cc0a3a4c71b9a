#!/usr/bin/env bash
# Benchmarks/floors.sh: the lowest cost any OpenSSL-based double proxy can reach on this machine, beside the
# performance goals (half of HAProxy's figures, or twice its throughput). Three floors, none of which runs a TLS
# proxy:
#
#   1. OpenSSL alone (Benchmarks/openssl-floor.c): CPU per full and per resumed handshake pair, and the memory
#      it keeps per established pair, with sidecar's settings, in memory, without sockets.
#   2. AES-256-GCM, the cipher both proxies negotiate: `openssl speed` encrypting and decrypting 16 KiB records,
#      as CPU-seconds per GB (the forward proxy encrypts each byte once, the reverse proxy decrypts it once).
#   3. What the kernel and the least user-space work cost without any TLS: the harness's `custom` system with
#      Benchmarks/c-relay.c in plain mode (epoll, 256 KiB reads) in place of the proxies: CPU per GB, per round
#      trip and per new connection, forward plus reverse.
#
#   Benchmarks/floors.sh                           # 3 rounds; goals from the harness's HAProxy baseline
#   HAPROXY_FROM=Benchmarks/results/X/summary.txt Benchmarks/floors.sh   # goals from a Benchmarks/run.sh session
#
# Needs gcc, libssl-dev, python3 and the harness at ../shared/bench (or SHARED=/path/to/shared).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=Benchmarks/lib.sh
source "$ROOT/Benchmarks/lib.sh"
require_harness Benchmarks/floors.sh
require_tools Benchmarks/floors.sh "gcc libssl-dev openssl python3" cc openssl python3
ROUNDS=${ROUNDS:-3}
TMP=$(mktemp -d /tmp/sidecar-floors.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
bash "$BENCH/certs.sh" "$TMP/certs" >/dev/null 2>&1
cc -O2 -o "$TMP/openssl-floor" "$ROOT/Benchmarks/openssl-floor.c" -lssl -lcrypto
cc -O2 -o "$TMP/c-relay" "$ROOT/Benchmarks/c-relay.c" -lssl -lcrypto

# openssl speed prints "AES-256-GCM  <1000s of bytes per second at each size>"; the last column is 16 KiB.
speed() { openssl speed -evp aes-256-gcm "$@" -bytes 16384 -seconds 2 2>/dev/null | awk '/^AES-256-GCM/ {v=$NF} END {sub(/k$/, "", v); print v}'; }

: >"$TMP/floors.txt"
for round in $(seq "$ROUNDS"); do
    echo "==> round $round of $ROUNDS" >&2
    "$TMP/openssl-floor" "$TMP/certs" 1000 | tr ' ' '\n' | grep -E '_(cpu_us|bytes|rss_kib)_per_pair=' >>"$TMP/floors.txt"
    echo "aes_encrypt_kbytes_per_s=$(speed)" >>"$TMP/floors.txt"
    echo "aes_decrypt_kbytes_per_s=$(speed -decrypt)" >>"$TMP/floors.txt"
    FWD_CMD="$TMP/c-relay forward-plain {FWD_SOCK} 127.0.0.1 {REV_PORT}" \
    REV_CMD="$TMP/c-relay reverse-plain 127.0.0.1 {REV_PORT} {ECHO_SOCK}" \
    SYSTEM_LABEL=plain-relay STEPS="latency throughput connrate" LAT_CONNS=16 TPUT_CONNS=1 TPUT_BYTES=2G \
    OUTDIR=$TMP/plain-relay-$round "$BENCH/run.sh" custom 2>/dev/null |
        sed -n 's/.*metric=\(tput_c1_cpu_s_per_gb_[a-z]*\|tput_c1_client_cpu_s\|tput_c1_mb_per_s\|lat_c16_cpu_us_per_rt_[a-z]*\|connrate_cpu_us_per_conn_[a-z]*\) value=\(.*\)/relay_\1=\2/p' \
            >>"$TMP/floors.txt"
done
python3 "$ROOT/Benchmarks/floors.py" "$TMP/floors.txt" "${HAPROXY_FROM:-$BENCH/baseline/results-20261123.md}" "$(nproc)"
