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
