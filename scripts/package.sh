#!/usr/bin/env bash
# Builds sidecar's release artefacts and prints the path of what was asked for (the last line of stdout);
# the build's own output goes to stderr. One release build (.build/release, Swift runtime linked in) serves
# all three, so after the first the others take seconds.
#
#   scripts/package.sh release   the stripped binary (.build/dist/sidecar; debug info in sidecar.debug)
#   scripts/package.sh deb       the Debian package (.build/deb/sidecar_VERSION_ARCH.deb; -dbgsym .ddeb beside)
#   scripts/package.sh rpm       the RPM packages (.build/rpm/RPMS/ARCH/sidecar-VERSION-1.ARCH.rpm; all printed)
#
# Needs Swift 6 on PATH (e.g. /opt/swift/usr/bin; not a Debian package) or SWIFT=/path/to/swift; deb needs
# dpkg-dev and debhelper, rpm needs Debian's rpm package. Works offline once SwiftPM has the Swift packages
# in its cache (any earlier `swift build` of this checkout).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
scratch=$root/.build

die() { printf 'package.sh: %s\n' "$*" >&2; exit 1; }

if ! command -v "${SWIFT:-swift}" >/dev/null; then
    [[ -x /opt/swift/usr/bin/swift ]] || die "no swift on PATH and no /opt/swift/usr/bin/swift: install Swift 6"
    export PATH=/opt/swift/usr/bin:$PATH
fi

version=$(dpkg-parsechangelog -S Version 2>/dev/null || sed -n '1s/^sidecar (\([^)]*\)).*/\1/p' debian/changelog)

case "${1:-}" in
release)
    make >&2
    echo "$scratch/dist/sidecar"
    ;;
deb)
    command -v dpkg-buildpackage >/dev/null || die "dpkg-buildpackage missing: apt-get install dpkg-dev debhelper"
    out=$scratch/deb
    rm -rf "$out" && mkdir -p "$out"
    arch=$(dpkg --print-architecture)
    # -b: binary only; -us -uc: unsigned. The .deb, .ddeb, .buildinfo and .changes go to $out, not to the
    # parent directory.
    DEB_DESTDIR=$out dpkg-buildpackage -b -us -uc \
        --buildinfo-file="$out/sidecar_${version}_$arch.buildinfo" --buildinfo-option=-u"$out" \
        --changes-file="$out/sidecar_${version}_$arch.changes" --changes-option=-u"$out" >&2
    deb=$out/sidecar_${version}_$arch.deb
    [[ -f $deb ]] || die "dpkg-buildpackage made no $deb"
    echo "$deb"
    ;;
rpm)
    command -v rpmbuild >/dev/null || die "rpmbuild missing: apt-get install rpm"
    out=$scratch/rpm
    rm -rf "$out" && mkdir -p "$out"
    # The sources a Fedora build would take from SOURCES: the tarball (unpacked there; here %prep is
    # skipped by --build-in-place) and the sysusers file %sysusers_create_compat reads.
    mkdir -p "$out/SOURCES"
    git archive --prefix="sidecar-$version/" -o "$out/SOURCES/sidecar-$version.tar.gz" HEAD
    cp systemd/sidecar.sysusers "$out/SOURCES/"
    # --build-in-place: %build runs make in this checkout, reusing the release build. --nodeps: the
    # BuildRequires are Fedora packages, which Debian's rpm database does not list (the Debian packages
    # providing them are in scripts/test.sh's PACKAGES). --load: stand-ins for the Fedora macros Debian's
    # rpm lacks. _topdir keeps everything under .build/rpm.
    rpmbuild -bb --build-in-place --nodeps --load scripts/rpm-fallback.macros --define "_topdir $out" \
        sidecar.spec >&2
    find "$out/RPMS" -name '*.rpm' | sort
    ;;
*)
    die "usage: scripts/package.sh release|deb|rpm"
    ;;
esac
