#!/bin/sh
# Builds the SELinux policy module in selinux/ (sidecar.te, .fc, .if) with the reference policy's
# development Makefile, as a packager would: `make -f /usr/share/selinux/devel/Makefile sidecar.pp`.
# Fails if the build fails or prints any warning. Installs Debian's selinux-policy-dev when the
# Makefile is missing (needs root and apt-get). The build runs in a temporary copy, so selinux/
# stays clean; the temporary directory is removed on exit.
#
# Usage: scripts/selinux-build.sh [OUTPUT.pp]   (OUTPUT.pp: keep the built module there)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
makefile=/usr/share/selinux/devel/Makefile

if [ ! -f "$makefile" ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "selinux-build: $makefile is missing; install the SELinux policy development files" \
            "(Debian: selinux-policy-dev, Fedora: selinux-policy-devel)" >&2
        exit 1
    fi
    echo "selinux-build: installing selinux-policy-dev" >&2
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq selinux-policy-dev >/dev/null 2>&1; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq selinux-policy-dev >/dev/null
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sidecar-selinux.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$root"/selinux/sidecar.te "$root"/selinux/sidecar.fc "$root"/selinux/sidecar.if "$work"/

status=0
(cd "$work" && make -f "$makefile" sidecar.pp) >"$work/build.log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    cat "$work/build.log" >&2
    echo "selinux-build: FAILED: make exited with status $status" >&2
    exit 1
fi
# checkmodule, m4 and the Makefile's own checks print "warning" (any case) for problems that do not
# stop the build: an unknown interface, a duplicate declaration, a bad file context.
if grep -qi "warning" "$work/build.log"; then
    cat "$work/build.log" >&2
    echo "selinux-build: FAILED: the build printed warnings" >&2
    exit 1
fi
if [ ! -s "$work/sidecar.pp" ]; then
    cat "$work/build.log" >&2
    echo "selinux-build: FAILED: no sidecar.pp was produced" >&2
    exit 1
fi
if [ "$#" -ge 1 ]; then
    cp "$work/sidecar.pp" "$1"
fi
echo "selinux-build: sidecar.pp built without warnings"
