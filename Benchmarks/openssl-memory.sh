#!/usr/bin/env bash
# Benchmarks/openssl-memory.sh: OpenSSL's own memory per established TLS 1.3 connection with sidecar's settings
# (see openssl-memory.c), on the harness's certificates. Needs gcc and libssl-dev.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=${SHARED:-$ROOT/../shared}/bench
[[ -f $BENCH/certs.sh ]] || { echo "needs the harness at $BENCH (check out shared/ beside this repository, or set SHARED)" >&2; exit 2; }
TMP=$(mktemp -d /tmp/openssl-memory.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
bash "$BENCH/certs.sh" "$TMP/certs" >/dev/null 2>&1
cc -O2 -o "$TMP/openssl-memory" "$ROOT/Benchmarks/openssl-memory.c" -lssl -lcrypto
"$TMP/openssl-memory" "$TMP/certs" "${1:-1000}"
