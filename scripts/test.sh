#!/usr/bin/env bash
# The test suite, from a fresh Debian 12 with Swift installed: installs what the tests need (apt), builds,
# and runs every test target. Run as root or as a user with sudo. Safe with no terminal (CI=true, no stdin).
#
#   ./scripts/test.sh
#
# The steps are the functions named in STEPS below, run in order; a failing step stops the run and its exit
# status is the script's. To add a step (swift format lint, the SELinux module build), write a step_* function
# and list it in STEPS.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

STEPS=(
    step_install_packages
    step_format
    step_selinux
    step_benchmark_tools
    step_build
    step_test
)

# Debian packages the build and the tests need, each as "package:probe": the probe is a command that the
# package provides, or empty to ask dpkg whether the package itself is installed.
PACKAGES=(
    "libssl-dev:"           # OpenSSL 3 headers (the COpenSSL module)
    "libsystemd-dev:"       # sd_listen_fds, sd_notify (the CSystemd module)
    "pkg-config:pkg-config" # finds both
    "openssl:openssl"       # s_client / s_server in the end-to-end tests
    "dbus:"                 # the D-Bus system (pulls in the daemon and tools below)
    "dbus-daemon:dbus-daemon"
    "dbus-bin:dbus-send"    # libdbus client
    "systemd:busctl"        # sd-bus client
    "libglib2.0-bin:gdbus"  # GDBus client
    "socat:socat"           # runtime API clients in the end-to-end tests, as with HAProxy
    "netcat-openbsd:"
    "haproxy:haproxy"       # the other side of the tunnel in interoperability tests
    "python3:python3"       # the MemoryDenyWriteExecute check (prctl) in the end-to-end tests
    "python3-prometheus-client:" # the reference parser /metrics is checked with (/usr/bin/python3)
    "python3-gi:"           # the GDBus peers of the D-Bus end-to-end tests (a BlueChi controller stand-in, a client)
    "gir1.2-glib-2.0:"      # Gio's typelib for python3-gi
    "python3-dbus:"         # the libdbus client of the D-Bus end-to-end tests
    "gcc:cc"                # the benchmarks' C tools (step_benchmark_tools); the sd-bus peer of the D-Bus tests
)

say() { printf '==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# shellcheck source=scripts/packages.sh
source "scripts/packages.sh"

step_install_packages() {
    say "packages"
    install_packages
}

step_format() {
    # swift-format ships with the toolchain; .swift-format holds the style (4 spaces, 120 columns).
    say "swift format lint --strict"
    swift format lint --strict --recursive Sources Tests Package.swift </dev/null
}

step_selinux() {
    # Builds selinux/sidecar.pp with Debian's refpolicy headers (installs selinux-policy-dev if missing);
    # any warning fails the build.
    say "SELinux policy module"
    scripts/selinux-build.sh </dev/null || die "SELinux module build failed"
}

step_benchmark_tools() {
    # The benchmarks' C tools are not run here (speed is measured by Benchmarks/, never by tests), but they
    # must keep compiling cleanly against the system OpenSSL.
    say "benchmark tools compile"
    local tool
    for tool in Benchmarks/openssl-floor.c Benchmarks/c-relay.c Benchmarks/dbus-load.c; do
        cc -O2 -Wall -Wextra -Wno-unused-parameter -Werror -fsyntax-only "$tool" </dev/null || die "$tool does not compile"
    done
    python3 -c 'import ast, sys; [ast.parse(open(f).read(), f) for f in sys.argv[1:]]' Benchmarks/*.py ||
        die "a benchmark script does not parse"
    for tool in Benchmarks/*.sh; do bash -n "$tool" || die "$tool does not parse"; done
}

step_build() {
    say "swift build --build-tests"
    swift build --build-tests </dev/null
}

step_test() {
    # Every test target; swift test prints its own summary lines (XCTest's and Swift Testing's).
    # One test at a time: several suites assert timeouts and "prompt" closes, and on a 2-core CI machine
    # parallel suites (and the processes they start) delay each other's timers past those margins. Serial,
    # the whole suite still runs in under a minute.
    say "swift test --no-parallel"
    swift test --no-parallel </dev/null
}

for step in "${STEPS[@]}"; do
    "$step"
done
say "all steps passed"
