#!/usr/bin/env bash
# Regenerates scripts/sidecar.order: the functions a release `sidecar forward` runs from exec until it rests
# with no connections, in the order they first run. `make` hands the file to the linker
# (--symbol-ordering-file), which places those functions next to each other at the start of .text.
#
#   scripts/startup-order.sh                      # uses .build/release/sidecar (build it with `make` first)
#   SIDECAR=/path/to/sidecar scripts/startup-order.sh
#
# Why: the kernel maps a file's pages around each page fault (64 KiB of fault-around), so a process's resident
# code is every 64 KiB block that holds one function it ran. Spread over the 12.5 MiB of .text, the 835 KiB that
# start-up runs made 8.7 MiB resident; ordered, 4.8 MiB (README, "Performance": the Swift compiler puts a file's
# internal functions in one section, and the linker can only move whole sections).
# The file only orders: a name that no longer exists is skipped (the Makefile passes
# --no-warn-symbol-ordering), a function missing from it stays where it was. Regenerate it when start-up
# changes much; a stale file costs memory at rest, never correctness.
# Needs valgrind (callgrind counts which functions ran; it reads the symbol table, not the debug information).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sidecar=${SIDECAR:-$root/.build/release/sidecar}
command -v valgrind >/dev/null || { echo "startup-order.sh: valgrind is missing (apt-get install valgrind)" >&2; exit 2; }
[[ -x $sidecar ]] || { echo "startup-order.sh: no $sidecar: run make first" >&2; exit 2; }
work=$(mktemp -d /tmp/startup-order.XXXXXX)
pid=
cleanup() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A forward proxy as the at-rest benchmark runs it (Benchmarks/atrest.sh): certificates, a Unix listener, an
# mTLS backend that is never dialled.
"$sidecar" certs ca --out "$work" >/dev/null
"$sidecar" certs leaf --ca-cert "$work/ca.pem" --ca-key "$work/ca.key" --cn node1 --out "$work" >/dev/null
# Valgrind 3.19 cannot read the DWARF 5 Swift writes; the symbol table is what it needs.
objcopy --strip-debug "$sidecar" "$work/sidecar"
valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$work/callgrind.out" \
    "$work/sidecar" forward --listen "unix:$work/s.sock" --connect 127.0.0.1:9 --cert "$work/node1.pem" \
    --key "$work/node1.key" --ca "$work/ca.pem" --server-name localhost --threads 1 --log-level warning \
    >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
    [[ -S $work/s.sock ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.1
done
[[ -S $work/s.sock ]] || { echo "startup-order.sh: sidecar did not listen within 60 s" >&2; exit 1; }
sleep 2
kill -INT "$pid"
wait "$pid" || true
pid=

# A name that more than one object defines (the compiler's local helpers: merged value witnesses, outlined
# copies) would pull every section holding one to the front, most of them not run at start-up: left out.
nm --defined-only "$work/sidecar" | awk '{ print $3 }' | sort | uniq -d >"$work/ambiguous"
# Callgrind names each object (ob=) and function (fn=) once, as "(id) name", and by "(id)" after that; keep the
# functions of sidecar's own binary, in the order they first appear, without the unnamed ones (0x...).
awk -v target="$work/sidecar" '
    match($0, /^(c?ob|c?fn)=\([0-9]+\)/) {
        kind = substr($0, 1, index($0, "=") - 1)
        id = substr($0, index($0, "(") + 1, index($0, ")") - index($0, "(") - 1)
        name = substr($0, index($0, ")") + 2)
        if (kind ~ /ob$/) {
            if (name != "") ob[id] = name
            if (kind == "ob") current = ob[id]
        } else {
            if (name != "") fn[id] = name
            if (kind == "fn" && current == target && !(fn[id] in seen) && fn[id] !~ /^0x/) {
                seen[fn[id]] = 1
                print fn[id]
            }
        }
    }' "$work/callgrind.out" | grep -vxF -f "$work/ambiguous" >"$root/scripts/sidecar.order.tmp"
[[ -s $root/scripts/sidecar.order.tmp ]] || { echo "startup-order.sh: callgrind named no functions" >&2; exit 1; }
mv "$root/scripts/sidecar.order.tmp" "$root/scripts/sidecar.order"
echo "scripts/sidecar.order: $(wc -l <"$root/scripts/sidecar.order") functions"
