#!/usr/bin/env bash
# The tunnel, end to end, on this machine (Debian 12 with Swift installed; root, or a user with sudo for apt):
#
#   D-Bus client --unix--> sidecar forward --TCP+mTLS--> sidecar reverse --unix--> dbus-daemon
#
# Installs what it needs (apt-get, only if something is missing), builds sidecar (debug, the same build the
# tests use; SIDECAR_DEMO_CONFIGURATION=release for a release build), makes throwaway certificates with
# `sidecar certs` in a temporary directory, starts a private dbus-daemon, a reverse sidecar in front of it on a
# free loopback port and a forward sidecar in front of that on a Unix socket, makes real D-Bus calls through
# the tunnel with busctl (sd-bus) and dbus-send (libdbus), and compares the answer with the daemon's own.
# Stops everything it started on exit. Exit status 0 when the calls came through and the answers match.
#
#   ./scripts/demo.sh              SIDECAR_DEMO_KEEP=1 keeps the temporary directory
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

CONFIGURATION="${SIDECAR_DEMO_CONFIGURATION:-debug}"
PACKAGES=( # "package:probe", the probe being a command the package provides, or empty to ask dpkg
    "libssl-dev:" "libsystemd-dev:" "pkg-config:pkg-config" "openssl:openssl"
    "dbus:" "dbus-daemon:dbus-daemon" "dbus-bin:dbus-send" "systemd:busctl"
)
PIDS=()      # every process this script started, stopped in reverse order on exit
WORK=""

say() { printf '\n==> %s\n' "$*"; }
die() {
    printf '\ndemo.sh: FAILED: %s\n' "$*" >&2
    show_logs >&2
    exit 1
}

show_logs() {
    local name
    for name in dbus-daemon reverse forward; do
        [[ -n "$WORK" && -s "$WORK/$name.log" ]] || continue
        printf -- '--- %s log (%s)\n' "$name" "$WORK/$name.log"
        sed "s/^/[$name] /" "$WORK/$name.log"
    done
}

cleanup() {
    local status=$? index pid
    for ((index = ${#PIDS[@]} - 1; index >= 0; index--)); do
        pid="${PIDS[index]}"
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in {1..100}; do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n "$WORK" ]]; then
        if [[ "${SIDECAR_DEMO_KEEP:-0}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=scripts/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/packages.sh"

# wait_for DESCRIPTION PID COMMAND...: polls COMMAND every 50 ms for up to 15 s; fails at once if PID exits.
wait_for() {
    local description="$1" pid="$2"
    shift 2
    for _ in {1..300}; do
        "$@" && return 0
        kill -0 "$pid" 2>/dev/null || die "$description: the process (pid $pid) exited"
        sleep 0.05
    done
    die "$description: not within 15 s"
}

logged_ready() { grep -q ' info ready ' "$1"; }
port_taken() { (: <"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

say "1/7 packages"
install_packages

say "2/7 build ($CONFIGURATION): swift build -c $CONFIGURATION"
swift build -c "$CONFIGURATION" </dev/null
SIDECAR="$(swift build -c "$CONFIGURATION" --show-bin-path)/sidecar"
[[ -x "$SIDECAR" ]] || die "no binary at $SIDECAR after the build"

WORK="$(mktemp -d /tmp/sidecar-demo-XXXXXX)"
PKI="$WORK/pki"
BUS="$WORK/bus.sock"
FORWARD="$WORK/forward.sock"

say "3/7 throwaway certificates in $PKI"
"$SIDECAR" certs ca --out "$PKI" --cn "sidecar demo CA" --days 90
"$SIDECAR" certs leaf --ca-cert "$PKI/ca.pem" --ca-key "$PKI/ca.key" --days 90 --out "$PKI" --server \
    --cn manager --dns localhost --ip 127.0.0.1
"$SIDECAR" certs leaf --ca-cert "$PKI/ca.pem" --ca-key "$PKI/ca.key" --days 90 --out "$PKI" --cn node1

say "4/7 dbus-daemon on $BUS"
# Anyone may connect (EXTERNAL or ANONYMOUS, any uid): the reverse sidecar may run as another user than
# the client at the far end of the tunnel (DESIGN.md §10).
cat >"$WORK/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=$BUS</listen>
  <auth>EXTERNAL</auth>
  <auth>ANONYMOUS</auth>
  <allow_anonymous/>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$WORK/bus.conf" --nofork --nopidfile --nosyslog >"$WORK/dbus-daemon.log" 2>&1 &
PIDS+=($!)
wait_for "dbus-daemon creates $BUS" "${PIDS[-1]}" test -S "$BUS"

say "5/7 sidecar reverse: 127.0.0.1:PORT (TLS, client certificate required) -> $BUS"
PORT=""
for _ in {1..5}; do
    candidate=$((20000 + RANDOM % 40000))
    port_taken "$candidate" && continue
    "$SIDECAR" reverse --listen "127.0.0.1:$candidate" --connect "unix:$BUS" \
        --cert "$PKI/manager.pem" --key "$PKI/manager.key" --ca "$PKI/ca.pem" 2>"$WORK/reverse.log" &
    pid=$!
    for _ in {1..300}; do
        logged_ready "$WORK/reverse.log" && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if logged_ready "$WORK/reverse.log"; then
        PIDS+=("$pid")
        PORT="$candidate"
        break
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    grep -q 'in use' "$WORK/reverse.log" || die "sidecar reverse did not start"
done
[[ -n "$PORT" ]] || die "sidecar reverse found no free port"
echo "listening on 127.0.0.1:$PORT"

say "6/7 sidecar forward: $FORWARD -> 127.0.0.1:$PORT (TLS, checks the name localhost)"
"$SIDECAR" forward --listen "unix:$FORWARD" --listen-mode 0660 --connect "127.0.0.1:$PORT" \
    --cert "$PKI/node1.pem" --key "$PKI/node1.key" --ca "$PKI/ca.pem" --server-name localhost \
    2>"$WORK/forward.log" &
PIDS+=($!)
wait_for "sidecar forward says ready" "${PIDS[-1]}" logged_ready "$WORK/forward.log"
wait_for "sidecar forward creates $FORWARD" "${PIDS[-1]}" test -S "$FORWARD"

say "7/7 D-Bus calls through the tunnel"
echo "\$ busctl --address=unix:path=$FORWARD call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListNames"
names="$(timeout 20 busctl --address="unix:path=$FORWARD" call \
    org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus ListNames 2>&1)" ||
    die "busctl ListNames through the tunnel failed: $names"
echo "$names"

get_id() { # ADDRESS: the bus id as dbus-send prints it. --bus= registers with Hello, as a bus client must.
    timeout 20 dbus-send --bus="unix:path=$1" --print-reply --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.GetId 2>&1
}
echo
echo "\$ dbus-send --bus=unix:path=$FORWARD --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.GetId"
tunnelled="$(get_id "$FORWARD")" || die "dbus-send GetId through the tunnel failed: $tunnelled"
echo "$tunnelled"
echo
echo "\$ dbus-send --bus=unix:path=$BUS ... GetId   (directly on the daemon)"
direct="$(get_id "$BUS")" || die "dbus-send GetId directly on the daemon failed: $direct"
echo "$direct"

tunnelled_id="$(grep -o '[0-9a-f]\{32\}' <<<"$tunnelled" || true)"
direct_id="$(grep -o '[0-9a-f]\{32\}' <<<"$direct" || true)"
[[ -n "$direct_id" && "$tunnelled_id" == "$direct_id" ]] ||
    die "bus ids differ: through the tunnel '$tunnelled_id', directly '$direct_id'"

# The sidecars log each connection when it ends; wait for the three calls' lines before showing the logs.
count_closed() { [[ "$(grep -c "connection closed" "$WORK/$1.log")" -ge 2 ]]; }
wait_for "sidecar reverse logs the connections" "${PIDS[1]}" count_closed reverse
wait_for "sidecar forward logs the connections" "${PIDS[2]}" count_closed forward

say "sidecar logs"
show_logs
say "OK: the bus id through the tunnel ($tunnelled_id) is the daemon's own; stopping everything"
