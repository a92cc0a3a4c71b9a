# Benchmarks/lib.sh: the checks the benchmark scripts share. Source it after setting ROOT to the repository.

# require_harness SCRIPT: sets SHARED and BENCH, or exits 2 saying where the harness is expected and how to
# get it.
require_harness() {
    SHARED=${SHARED:-$ROOT/../shared}
    BENCH=$SHARED/bench
    [[ -x $BENCH/runall.sh && -x $BENCH/run.sh && -f $BENCH/certs.sh && -f $BENCH/tunnelbench.c ]] && return 0
    echo "$1 needs the benchmark harness at $BENCH (runall.sh, run.sh, certs.sh, tunnelbench.c). It lives in the steering" \
        "repository's shared/ folder: check it out beside this repository, or set SHARED=/path/to/shared" >&2
    exit 2
}

# require_tools SCRIPT "PACKAGES" TOOL...: exits 2 naming the first missing tool and the apt packages to install.
require_tools() {
    local script=$1 packages=$2 tool
    shift 2
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "$script: '$tool' is missing (apt-get install $packages)" >&2; exit 2; }
    done
}

# The pair-under-a-tool helpers of permessage.sh, perconnection.sh and nio-floor.sh. They read the caller's TOOL (strace or
# callgrind), WORK (the run's directory), and FWD and REV (the PIDs of the forward and reverse proxies as
# started, that is the tool's when one wraps them).

# tool_wrap NAME RUN: the command prefix that runs one proxy under TOOL, its report in $WORK/RUN-NAME.TOOL.
tool_wrap() {
    case $TOOL in
        strace) echo "strace -f -c -o $WORK/$2-$1.strace" ;;
        callgrind) echo "valgrind --tool=callgrind --callgrind-out-file=$WORK/$2-$1.callgrind" ;;
        *) echo "unknown tool $TOOL (strace or callgrind)" >&2; exit 2 ;;
    esac
}

# haproxy_pair_configs DIR PORT CERTS [SERVER_OPTIONS]: DIR/rev.cfg (TLS on 127.0.0.1:PORT to DIR/echo.sock) and
# DIR/fwd.cfg (DIR/fwd.sock to PORT, SERVER_OPTIONS appended to its server line) for HAProxy, nbthread 1.
haproxy_pair_configs() {
    local dir=$1 port=$2 certs=$3 options=${4:-} side
    for side in rev fwd; do
        cat >"$dir/$side.cfg" <<CFG
global
    nbthread 1
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 300s
    timeout server 300s
CFG
    done
    cat >>"$dir/rev.cfg" <<CFG
frontend rev_in
    bind 127.0.0.1:$port ssl crt $certs/server.pem ca-file $certs/ca.crt verify required ssl-min-ver TLSv1.3
    default_backend echo
backend echo
    server s1 $dir/echo.sock
CFG
    cat >>"$dir/fwd.cfg" <<CFG
frontend fwd_in
    bind unix@$dir/fwd.sock mode 600
    default_backend rev
backend rev
    server rev1 127.0.0.1:$port ssl crt $certs/client.pem ca-file $certs/ca.crt verify required verifyhost localhost sni str(localhost) ssl-min-ver TLSv1.3$options
CFG
}

# wait_for_pair DIR PORT SYSTEM: returns once DIR/fwd.sock exists and 127.0.0.1:PORT listens (no connection may
# reach a half-started pair: it would cost one run more than the other); exits 1 with the logs after 60 s.
wait_for_pair() {
    local dir=$1 port=$2 system=$3 i
    for i in $(seq 1 600); do
        if [[ -S $dir/fwd.sock ]] && ss -Hltn "sport = :$port" | grep -q .; then return 0; fi
        sleep 0.1
    done
    echo "the $system pair did not start: $(cat "$dir"/*.log)" >&2
    exit 1
}

# traced PID: the proxy's own PID (strace runs it as a child; valgrind runs in its place).
traced() {
    if [[ $TOOL == strace ]]; then pgrep -o -P "$1"; else echo "$1"; fi
}

# stop_pair: SIGTERM to both proxies, then waits for the tool to write its reports.
stop_pair() {
    kill -TERM "$(traced "$FWD")" "$(traced "$REV")"
    wait "$FWD" "$REV" 2>/dev/null || true
}

# bench_work NAME: WORK, a new directory /tmp/NAME.XXXXXX, with the harness's load tool built in it
# ($WORK/tunnelbench); PIDS, the processes bench_cleanup signals on exit (append what you start).
bench_work() {
    WORK=$(mktemp -d "/tmp/$1.XXXXXX")
    PIDS=()
    trap bench_cleanup EXIT
    cc -O2 -pthread -o "$WORK/tunnelbench" "$BENCH/tunnelbench.c"
}

# bench_cleanup: SIGTERM to every PID in PIDS still running, then waits for them.
bench_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
