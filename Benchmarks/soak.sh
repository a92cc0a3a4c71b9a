#!/usr/bin/env bash
# Forward and reverse sidecars under a mixed, hostile load: long-lived connections with integrity checks, churn,
# SIGHUP every 2 s with the server certificate rotated, a broken configuration every 30 s, the backend killed
# every minute, runtime API disable/enable, half-open handshakes and garbage (Benchmarks/soak.py says exactly).
# Loopback only. Not part of CI as a whole; scripts/test.sh runs a 1-minute version (step_soak).
#
#   MINUTES=10 Benchmarks/soak.sh          # default 10 minutes
#   SIDECAR=/path/to/sidecar LONG=200 CHURN=20 Benchmarks/soak.sh
#
# Exits 1 on any corrupted byte, a connection broken outside a backend restart, a refused connect, a sidecar that
# exited, or descriptor growth beyond noise; prints the counts, RSS, descriptors and CPU either way.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v openssl >/dev/null || { echo "soak.sh: openssl is missing (apt-get install openssl)" >&2; exit 2; }
if [[ -z "${SIDECAR:-}" ]]; then
    swift build --product sidecar </dev/null >&2
    SIDECAR="$(swift build --show-bin-path)/sidecar"
fi
exec python3 Benchmarks/soak.py "$SIDECAR" "${MINUTES:-10}"
