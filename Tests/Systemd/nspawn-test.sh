#!/usr/bin/env bash
# sidecar under a real systemd: boots systemd as PID 1 in a systemd-nspawn container and runs both units there
# as an operator would (README, "systemd" and the BlueChi guide).
#
#   Tests/Systemd/nspawn-test.sh PACKAGE.deb       installs the Debian package (scripts/package.sh deb)
#   Tests/Systemd/nspawn-test.sh [SIDECAR-BINARY]  copies the binary and the repository's files as the README's
#                                                  table says; default: the debug build
#
# The container's root is an overlayfs: this machine's / as the read-only lower layer, a tmpfs as the upper
# layer; its network is private (loopback only); so nothing inside touches the host. Inside: install sidecar
# (install_sidecar), certificates from `sidecar certs`, the shipped BlueChi-style configurations, a dbus-daemon
# standing in for bluechi-controller on /run/bluechi/bluechi.sock, then `systemctl enable --now
# sidecar-reverse.socket sidecar.socket` and checks: socket activation of both services by one busctl call,
# no libdispatch thread, a live connection kept across `systemctl reload`, STATUS= in `systemctl status`,
# connection lines in the journal, a draining `systemctl stop`, no service killed by a signal (SIGSYS from
# SystemCallFilter=), and the `systemd-analyze security` exposure of both services. Prints PASS/FAIL per
# check; exit status 1 if any check failed or the container could not boot. The container, the mounts and
# the temporary directory are removed on every exit. Needs root, systemd-container and python3-dbus.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SIDECAR="${1:-$(swift build --show-bin-path)/sidecar}" # a binary, or a .deb holding one

WORK=""        # temporary directory: console.log, and the mount points layers/ (tmpfs) and root/ (overlay)
NSPAWN_PID=""  # systemd-nspawn, our child
LEADER=""      # the container's PID 1 (systemd), as this machine's PID
CLIENT_PID=""  # the held D-Bus client (coproc)
PASSED=0
FAILED=0
STARTED_AT=$SECONDS
STAGE=/var/lib/sidecar-nspawn-test # inside the container: test files (on the overlay, visible from here)
PATH_INSIDE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# pass CHECK...: a passed check (the words joined by spaces).
pass() {
    PASSED=$((PASSED + 1))
    printf 'PASS  %s\n' "$*"
}

# fail CHECK [DETAIL...]: a failed check; the details are indented below it.
fail() {
    FAILED=$((FAILED + 1))
    printf 'FAIL  %s\n' "$1"
    shift
    local line
    for line in "$@"; do printf '%s\n' "$line" | sed 's/^/      /'; done
}

# fatal CHECK [DETAIL...]: a failed check the rest depends on; shows the units' state and stops.
fatal() {
    fail "$@"
    [[ -n "$LEADER" ]] && show_units
    exit 1
}

note() { printf '      %s\n' "$*"; }

# inside COMMAND...: runs COMMAND in the container (all its namespaces) with a clean environment.
inside() {
    nsenter -t "$LEADER" -a -- /usr/bin/env -i PATH="$PATH_INSIDE" LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 \
        "$@"
}

# service_verdicts: one line per service saying how it ended, naming SIGSYS (SystemCallFilter=) when that was it.
service_verdicts() {
    local service result killed
    for service in sidecar.service sidecar-reverse.service; do
        result="$(inside systemctl show -P Result "$service")"
        killed="$(inside journalctl --no-pager -b -o cat -u "$service" | grep -m1 'code=killed' || true)"
        if [[ "$killed" == *status=31/SYS* ]]; then
            printf '%s: killed by SIGSYS, a system call its SystemCallFilter= forbids (%s; result %s)\n' \
                "$service" "$killed" "$result"
        else
            printf '%s: %s, result %s%s\n' "$service" "$(inside systemctl is-active "$service")" "$result" \
                "${killed:+ ($killed)}"
        fi
    done
}

show_units() {
    printf -- '--- inside the container: units and journal\n'
    inside systemctl --no-pager --full status sidecar.socket sidecar.service sidecar-reverse.socket \
        sidecar-reverse.service 2>&1 | sed 's/^/    /' || true
    inside journalctl --no-pager -b -o short-monotonic -n 60 \
        -u sidecar.service -u sidecar-reverse.service -u sidecar.socket -u sidecar-reverse.socket 2>&1 |
        sed 's/^/    /' || true
}

cleanup() {
    local status=$?
    set +e
    trap '' INT TERM # a second signal must not cut the teardown short
    ((status == 130 || status == 143)) && fail "interrupted by a signal; tearing down"
    if [[ -n "$CLIENT_PID" ]]; then kill "$CLIENT_PID" 2>/dev/null; wait "$CLIENT_PID" 2>/dev/null; fi
    # Killing the container's PID 1 ends every process in its PID namespace; nspawn then exits.
    [[ -n "$LEADER" ]] && kill -KILL "$LEADER" 2>/dev/null
    if [[ -n "$NSPAWN_PID" ]]; then
        for _ in {1..100}; do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
        wait "$NSPAWN_PID" 2>/dev/null
    fi
    if [[ -n "$WORK" ]]; then
        if ((status != 0)) && [[ -s "$WORK/console.log" ]]; then
            printf -- '--- container console (last 30 lines)\n'
            tail -n 30 "$WORK/console.log" | sed 's/^/    /'
        fi
        umount "$WORK/root" 2>/dev/null || umount -l "$WORK/root"
        umount "$WORK/layers" 2>/dev/null || umount -l "$WORK/layers"
        rm -rf "$WORK"
    fi
    printf '%d passed, %d failed, %d s\n' "$PASSED" "$FAILED" "$((SECONDS - STARTED_AT))"
    ((FAILED == 0)) || status=1
    exit "$status"
}
trap cleanup EXIT
# set -e ends the script at an unexpected error: say where, so that it is never a silent stop.
trap 'fail "the test script itself failed at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# --- preconditions -----------------------------------------------------------------------------------------
((EUID == 0)) || fatal "preconditions" "needs root (mount, systemd-nspawn, nsenter)"
if [[ "$SIDECAR" == *.deb ]]; then
    [[ -f "$SIDECAR" ]] || fatal "preconditions" "no package at $SIDECAR (scripts/package.sh deb builds it)"
else
    [[ -x "$SIDECAR" ]] || fatal "preconditions" "no sidecar binary at $SIDECAR (swift build first)"
fi
command -v systemd-nspawn >/dev/null ||
    fatal "preconditions" "systemd-nspawn missing: apt-get install systemd-container"
/usr/bin/python3 -c 'import dbus' 2>/dev/null ||
    fatal "preconditions" "python3-dbus missing: apt-get install python3-dbus"

# --- the container -----------------------------------------------------------------------------------------
WORK="$(mktemp -d /tmp/sidecar-nspawn-XXXXXX)"
MACHINE="sidecar-test-$$"
mkdir "$WORK/layers" "$WORK/root"
mount -t tmpfs -o mode=0755 sidecar-nspawn "$WORK/layers" || fatal "container" "cannot mount a tmpfs on $WORK/layers"
mkdir "$WORK/layers/upper" "$WORK/layers/work"
mount -t overlay sidecar-nspawn -o "lowerdir=/,upperdir=$WORK/layers/upper,workdir=$WORK/layers/work" "$WORK/root" ||
    fatal "container" "cannot mount the overlay (lowerdir=/, upper on tmpfs) on $WORK/root"

# This machine's own machine-id would make the container's journal share its directory name; a fresh one.
rm -f "$WORK/root/etc/machine-id"
systemd-machine-id-setup --root="$WORK/root" >/dev/null 2>&1 || true

boot_started=$SECONDS
# A private network (loopback only): port 2021 and whatever else the boot starts stay off this machine's.
systemd-nspawn --register=no --keep-unit --quiet --private-network --machine="$MACHINE" -D "$WORK/root" --boot \
    </dev/null >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!

# The container's PID 1 is the child of nspawn whose PID in its own namespace is 1.
for _ in {1..200}; do
    for child in $(pgrep -P "$NSPAWN_PID" 2>/dev/null); do
        if [[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$child/status" 2>/dev/null)" == 1 ]]; then
            LEADER=$child
        fi
    done
    [[ -n "$LEADER" ]] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null ||
        fatal "container boots" "systemd-nspawn exited: $(tail -n 5 "$WORK/console.log")"
    sleep 0.05
done
[[ -n "$LEADER" ]] || fatal "container boots" "no PID 1 in the container after 10 s"

state=""
for _ in {1..300}; do
    state="$(inside systemctl is-system-running 2>/dev/null)" || true
    [[ "$state" == running || "$state" == degraded ]] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || fatal "container boots" "systemd-nspawn exited during boot (state '$state')"
    sleep 0.1
done
case "$state" in
running) pass "container boots: systemd is PID 1 and 'running' after $((SECONDS - boot_started)) s" ;;
degraded)
    pass "container boots: systemd is PID 1, 'degraded' after $((SECONDS - boot_started)) s (not sidecar's units)"
    note "failed units: $(inside systemctl --failed --plain --no-legend | awk '{ print $1 }' | tr '\n' ' ')"
    ;;
*) fatal "container boots" "systemd state '$state' after 30 s" ;;
esac

# --- install -------------------------------------------------------------------------------------------------

# install_sidecar: puts sidecar into the container as the operator does, binary, units, sysusers and tmpfiles
# files, example configurations, and creates the user and /run/sidecar: `dpkg -i` of the Debian package, or,
# given a bare binary, the files by hand as the README's table lists them.
install_sidecar() {
    local root="$WORK/root" unit
    if [[ "$SIDECAR" == *.deb ]]; then
        mkdir -p "$root$STAGE"
        cp "$SIDECAR" "$root$STAGE/sidecar.deb"
        # man-db's trigger rebuilds the whole manual page index (seconds, on 2 cores); it is not under test.
        echo "man-db man-db/auto-update boolean false" | inside debconf-set-selections
        inside dpkg -i "$STAGE/sidecar.deb" >"$WORK/dpkg.log" 2>&1 || {
            cat "$WORK/dpkg.log"
            return 1
        }
        return 0
    fi
    install -D -m 0755 "$SIDECAR" "$root/usr/bin/sidecar"
    for unit in sidecar.socket sidecar.service sidecar-reverse.socket sidecar-reverse.service; do
        install -D -m 0644 "systemd/$unit" "$root/usr/lib/systemd/system/$unit"
    done
    install -D -m 0644 systemd/sidecar.sysusers "$root/usr/lib/sysusers.d/sidecar.conf"
    install -D -m 0644 systemd/sidecar.tmpfiles "$root/usr/lib/tmpfiles.d/sidecar.conf"
    install -D -m 0644 conf.d/forward/bluechi-agent.cfg "$root/etc/sidecar/conf.d/bluechi-agent.cfg"
    install -D -m 0644 conf.d/reverse/bluechi-controller.cfg "$root/etc/sidecar/reverse.d/bluechi-controller.cfg"
    inside systemd-sysusers /usr/lib/sysusers.d/sidecar.conf >/dev/null 2>&1 &&
        inside systemd-tmpfiles --create /usr/lib/tmpfiles.d/sidecar.conf &&
        inside systemctl daemon-reload
}

how="$([[ "$SIDECAR" == *.deb ]] && echo "dpkg -i $(basename "$SIDECAR")" || echo "files copied by hand")"
install_started=$SECONDS
out="$(install_sidecar 2>&1)" || fatal "install sidecar ($how)" "$out"
how+=", $((SECONDS - install_started)) s"
inside id sidecar >/dev/null 2>&1 || fatal "install sidecar ($how)" "no user 'sidecar' afterwards"
for file in /usr/bin/sidecar /etc/sidecar/conf.d/bluechi-agent.cfg /etc/sidecar/reverse.d/bluechi-controller.cfg; do
    inside test -e "$file" || fatal "install sidecar ($how)" "no $file afterwards"
done
# Installing neither enables nor starts anything: the operator needs certificates first.
enabled="$(inside systemctl is-enabled sidecar.socket sidecar.service sidecar-reverse.socket sidecar-reverse.service |
    sort -u | tr '\n' ' ' || true)"
[[ "$enabled" == "disabled " ]] || fatal "install sidecar ($how)" "units not all disabled afterwards: $enabled"
pass "install sidecar ($how): binary, units, user sidecar, example configurations; nothing enabled"

# Certificates as the BlueChi guide makes them: one CA, the controller's leaf with the name the agents dial,
# one per agent node with its node name as CN. hard-tls may require --server on a server's leaf.
certs=/etc/sidecar/certs
server_flag=()
if inside sidecar certs leaf --help 2>&1 | grep -qE -- '--server([ ,]|$)'; then server_flag=(--server); fi
if inside sidecar certs ca --out "$certs" --cn "nspawn test CA" --days 2 >/dev/null &&
    inside sidecar certs leaf --ca-cert "$certs/ca.pem" --ca-key "$certs/ca.key" --days 2 --out "$certs" \
        --cn controller --dns manager.example.com "${server_flag[@]}" >/dev/null &&
    inside sidecar certs leaf --ca-cert "$certs/ca.pem" --ca-key "$certs/ca.key" --days 2 --out "$certs" \
        --cn node1 >/dev/null &&
    inside sh -ec "rm $certs/ca.key; chown -R root:sidecar $certs; chmod 0750 $certs; chmod 0640 $certs/*"; then
    pass "certificates from 'sidecar certs' (CA, controller${server_flag:+ with --server}, node1)"
else
    fatal "certificates from 'sidecar certs'"
fi
# As the guide says: the agent's crt is the node's own file; the controller's name resolves to it (here).
sed -i 's#/etc/sidecar/certs/node\.pem#/etc/sidecar/certs/node1.pem#' "$WORK/root/etc/sidecar/conf.d/bluechi-agent.cfg"
echo "127.0.0.1 manager.example.com" >>"$WORK/root/etc/hosts"

# The controller's side: a dbus-daemon on BlueChi's socket, /run/bluechi mode 0700 root, as bluechi-controller
# has it. It accepts any uid (EXTERNAL or ANONYMOUS), as the controller does (DESIGN.md §10).
mkdir -p "$WORK/root$STAGE"
cp Tests/Systemd/dbus-client.py "$WORK/root$STAGE/"
cat >"$WORK/root$STAGE/bus.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=/run/bluechi/bluechi.sock</listen>
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
inside systemd-run --quiet --unit=bluechi-stand-in -p RuntimeDirectory=bluechi -p RuntimeDirectoryMode=0700 \
    dbus-daemon --config-file="$STAGE/bus.conf" --nofork --nopidfile --nosyslog ||
    fatal "dbus-daemon on /run/bluechi/bluechi.sock"
for _ in {1..100}; do inside test -S /run/bluechi/bluechi.sock && break; sleep 0.05; done
direct_id="$(inside busctl --address=unix:path=/run/bluechi/bluechi.sock call org.freedesktop.DBus \
    /org/freedesktop/DBus org.freedesktop.DBus GetId 2>&1)" ||
    fatal "dbus-daemon on /run/bluechi/bluechi.sock" "$direct_id"
bus_id="$(sed -E 's/^s "(.*)"$/\1/' <<<"$direct_id")" # busctl prints: s "ID"
pass "dbus-daemon on /run/bluechi/bluechi.sock answers GetId directly: $bus_id"

# --- the units ---------------------------------------------------------------------------------------------
if out="$(inside systemctl enable --now sidecar-reverse.socket sidecar.socket 2>&1)" &&
    [[ "$(inside systemctl is-active sidecar-reverse.socket sidecar.socket | tr '\n' ' ')" == "active active " ]]; then
    pass "systemctl enable --now sidecar-reverse.socket sidecar.socket: both sockets listening"
else
    fatal "systemctl enable --now sidecar-reverse.socket sidecar.socket" "$out"
fi
for service in sidecar.service sidecar-reverse.service; do
    [[ "$(inside systemctl is-active "$service")" == inactive ]] ||
        fail "$service waits for its socket" "already $(inside systemctl is-active "$service") before any connection"
done

# One call through the agent socket starts sidecar.service (its socket), whose TLS connection to port 2021
# starts sidecar-reverse.service (its socket), which hands it to the bus.
call_agent() {
    inside timeout 30 busctl --timeout=20 --address=unix:path=/run/sidecar/agent.sock call org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus GetId 2>&1
}
if tunneled_id="$(call_agent)" && [[ "$tunneled_id" == "$direct_id" ]]; then
    pass "busctl through /run/sidecar/agent.sock gets the bus's own id (socket activation, forward -> TLS -> reverse)"
else
    fatal "busctl through /run/sidecar/agent.sock" "got: $tunneled_id" "want: $direct_id" "$(service_verdicts)"
fi
for service in sidecar.service sidecar-reverse.service; do
    if [[ "$(inside systemctl is-active "$service")" == active ]]; then
        pass "$service started by socket activation (main PID $(inside systemctl show -P MainPID "$service"))"
    else
        fail "$service started by socket activation" "$(inside systemctl is-active "$service")"
    fi
done

# Threads: the event loops and the main thread, never a libdispatch worker (com.apple.root.default-qos, "comm"
# keeps its last 15 characters: oot.default-qos), which is what SystemCallFilter= used to kill (setpriority).
for service in sidecar.service sidecar-reverse.service; do
    pid="$(inside systemctl show -P MainPID "$service")"
    names="$(inside sh -c "cat /proc/$pid/task/*/comm" 2>/dev/null | sort | uniq -c |
        awk '{ printf "%s×%s ", $2, $1 }')"
    if [[ "$names" == *qos* ]]; then
        fail "$service starts no libdispatch worker thread" "threads: $names"
    else
        pass "$service starts no libdispatch worker thread (threads: $names)"
    fi
done

# Root-only services trust uid 0 whatever its capabilities: a reverse sidecar running as root could otherwise
# ask systemd (its private socket, or the system bus) to run a command outside its sandbox. The units make
# both sockets inaccessible; connect to each from inside the service's mount namespace, and from the
# container's own (where it must work, so that this check can fail).
connects() { # [nsenter -t PID -m --] PATH: connect(2) to a Unix socket as root
    local path="${*: -1}" prefix=("${@:1:$#-1}")
    inside "${prefix[@]}" python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
        "$path" 2>/dev/null
}
for socket_path in /run/systemd/private /run/dbus/system_bus_socket; do
    if ! connects "$socket_path"; then
        [[ "$socket_path" == /run/dbus/* ]] && continue # no system bus in this container: nothing to check
        fail "$socket_path is reachable outside the services (the check below could not fail)"
        continue
    fi
    for service in sidecar.service sidecar-reverse.service; do
        pid="$(inside systemctl show -P MainPID "$service")"
        if connects nsenter -t "$pid" -m -- "$socket_path"; then
            fail "$service cannot reach $socket_path" "connect(2) succeeded inside its mount namespace"
        else
            pass "$service cannot reach $socket_path (InaccessiblePaths=)"
        fi
    done
done

# --- reload with a live connection --------------------------------------------------------------------------
# The client runs in the container, reading one line per call from its stdin.
coproc CLIENT { inside /usr/bin/python3 "$STAGE/dbus-client.py" unix:path=/run/sidecar/agent.sock 2>&1; }
client_line=""
read_client() { client_line=""; IFS= read -r -t 20 client_line <&"${CLIENT[0]}"; }
if read_client && [[ "$client_line" == connected* ]]; then
    unique_name="$(awk '{ print $2 }' <<<"$client_line")"
    pass "python3-dbus client connected through the tunnel as $unique_name"
else
    fatal "python3-dbus client connects through the tunnel" "$client_line"
fi

if out="$(inside systemctl reload sidecar.service sidecar-reverse.service 2>&1)"; then
    pass "systemctl reload sidecar.service sidecar-reverse.service"
else
    fail "systemctl reload sidecar.service sidecar-reverse.service" "$out"
fi
for service in sidecar.service sidecar-reverse.service; do
    if inside journalctl --no-pager -b -o cat -u "$service" | grep -q ' info reloaded '; then
        pass "$service logged 'reloaded'"
    else
        fail "$service logged 'reloaded'" "$(inside journalctl --no-pager -b -o cat -u "$service" | tail -n 5)"
    fi
done
echo call >&"${CLIENT[1]}"
if read_client && [[ "$client_line" == "ok $unique_name $bus_id" ]]; then
    pass "the connection opened before the reload still works after it (same unique name, GetId answered)"
else
    fail "the connection opened before the reload still works after it" "got: $client_line"
fi
if tunneled_id="$(call_agent)" && [[ "$tunneled_id" == "$direct_id" ]]; then
    pass "a new connection after the reload works"
else
    fail "a new connection after the reload works" "$tunneled_id"
fi

status_line="$(inside systemctl --no-pager status sidecar.service 2>&1 | grep 'Status:' || true)"
if [[ "$status_line" == *'Status: "reloaded: 1 frontend(s)'* ]]; then
    pass "systemctl status shows STATUS=: ${status_line#"${status_line%%[![:space:]]*}"}"
else
    fail "systemctl status shows STATUS=" "got: $status_line"
fi

# Connection lines (option tcplog, HAProxy's format): the forward names its frontend and server, the reverse
# its TLS frontend ("~") and the controller's socket.
agent_log="$(inside journalctl --no-pager -b -o cat -u sidecar.service)"
controller_log="$(inside journalctl --no-pager -b -o cat -u sidecar-reverse.service)"
if grep -q 'bluechi-agent bluechi-agent/manager ' <<<"$agent_log"; then
    pass "journalctl -u sidecar holds the connection lines:" \
        "$(grep -m1 'bluechi-agent bluechi-agent/manager ' <<<"$agent_log")"
else
    fail "journalctl -u sidecar holds the connection lines" "$(tail -n 8 <<<"$agent_log")"
fi
if grep -q 'bluechi-controller~ bluechi-controller/bluechi ' <<<"$controller_log"; then
    pass "journalctl -u sidecar-reverse holds the connection lines:" \
        "$(grep -m1 'bluechi-controller~ ' <<<"$controller_log")"
else
    fail "journalctl -u sidecar-reverse holds the connection lines" "$(tail -n 8 <<<"$controller_log")"
fi

# --- stop: drain -------------------------------------------------------------------------------------------
inside systemctl stop --no-block sidecar.service
stopping=""
for _ in {1..200}; do
    stopping="$(inside journalctl --no-pager -b -o cat -u sidecar.service | grep ' info stopping ' || true)"
    [[ -n "$stopping" ]] && break
    sleep 0.05
done
if [[ "$stopping" == *"connections=1"* && "$(inside systemctl is-active sidecar.service)" == deactivating ]]; then
    pass "systemctl stop sidecar: draining one connection ($stopping)"
else
    fail "systemctl stop sidecar: draining one connection" "log: $stopping" \
        "state: $(inside systemctl is-active sidecar.service)"
fi
echo call >&"${CLIENT[1]}"
if read_client && [[ "$client_line" == "ok $unique_name $bus_id" ]]; then
    pass "the open connection is still relayed during the drain"
else
    fail "the open connection is still relayed during the drain" "got: $client_line"
fi
eval "exec ${CLIENT[1]}>&-"
wait "$CLIENT_PID" 2>/dev/null || true
CLIENT_PID=""
stop_started=$SECONDS
for _ in {1..200}; do
    [[ "$(inside systemctl is-active sidecar.service)" == inactive ]] && break
    sleep 0.05
done
result="$(inside systemctl show -P Result sidecar.service) $(inside systemctl show -P ExecMainStatus sidecar.service)"
if [[ "$(inside systemctl is-active sidecar.service)" == inactive && "$result" == "success 0" ]]; then
    pass "sidecar.service stopped when the client closed, $((SECONDS - stop_started)) s later, exit status 0"
else
    fail "sidecar.service stops when the last connection closes" \
        "state $(inside systemctl is-active sidecar.service), result $result"
fi
if out="$(inside systemctl stop sidecar-reverse.service 2>&1)" &&
    result="$(inside systemctl show -P Result sidecar-reverse.service)" &&
    result+=" $(inside systemctl show -P ExecMainStatus sidecar-reverse.service)" &&
    [[ "$result" == "success 0" ]]; then
    pass "systemctl stop sidecar-reverse: exit status 0"
else
    fail "systemctl stop sidecar-reverse" "$out" "result: ${result:-}"
fi

# Nothing killed by a signal (SIGSYS from SystemCallFilter=), nothing restarted, no syscall refused.
journal="$(inside journalctl --no-pager -b -o cat -u sidecar.service -u sidecar-reverse.service)"
restarts="$(inside systemctl show -P NRestarts sidecar.service)"
restarts+=" $(inside systemctl show -P NRestarts sidecar-reverse.service)"
signs='status=31/SYS|SIGSYS|code=killed|Failed with result|Failed to set thread priority'
if grep -qE "$signs" <<<"$journal" ||
    [[ "$restarts" != "0 0" ]]; then
    fail "no service killed, restarted or refused a system call" "restarts: $restarts" \
        "$(grep -E "$signs" <<<"$journal" | head -n 5)"
else
    pass "no service killed by a signal, restarted, or refused a system call"
fi

# --- systemd-analyze security --------------------------------------------------------------------------------
for service in sidecar.service sidecar-reverse.service; do
    exposure="$(inside systemd-analyze security --no-pager "$service" 2>&1 | grep 'Overall exposure level' || true)"
    level="$(sed -E 's/.*: ([0-9.]+) ([A-Z]+).*/\1 \2/' <<<"$exposure")"
    if [[ "$level" =~ ^[0-9.]+\ (OK|SAFE)$ ]]; then
        pass "systemd-analyze security $service: $level"
    else
        fail "systemd-analyze security $service: 'OK' or better" "${exposure:-no exposure level printed}"
    fi
done
