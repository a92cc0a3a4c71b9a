#!/usr/bin/env bash
# The packaging checks scripts/test.sh runs (each a step there), on the one release build that
# scripts/package.sh makes. Each check prints what it proved; any failure exits non-zero with the reason.
#
#   scripts/package-check.sh release   static Swift runtime, ldd, split debug info, starts with the toolchain's
#                                      libraries hidden, --version's commit; prints the stripped size
#   scripts/package-check.sh man       sidecar(8) and sidecar.cfg(5) render without warnings (mandoc, groff)
#   scripts/package-check.sh install   make install into a DESTDIR, example configurations never overwritten,
#                                      make uninstall leaves no file, make install without a build fails
#   scripts/package-check.sh deb       dpkg-buildpackage, lintian, dpkg -c; install in a throwaway container
#                                      (overlay of / in systemd-nspawn): user created, units not enabled, a
#                                      second install keeps an edited configuration, purge
#   scripts/package-check.sh rpm       rpmspec -P, rpmbuild -bb, rpm -qlp file lists and scriptlets
#
# Needs root: the checks mount (in private mount namespaces, which take their mounts with them). Each
# command that could hang is bounded with timeout.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dist=$root/.build/dist

# Temporary directories, removed on exit whatever happens.
temporaries=()
trap 'rm -rf "${temporaries[@]}"' EXIT
scratch() { # VARIABLE: a new temporary directory's path into VARIABLE
    local d
    d=$(mktemp -d "${TMPDIR:-/tmp}/sidecar-package-check.XXXXXX")
    temporaries+=("$d")
    printf -v "$1" '%s' "$d"
}

# `COMMAND | contains [GREP OPTIONS] PATTERN`: grep -q that reads all its input first, so that under
# pipefail the writer never dies of SIGPIPE when the match comes early (which would read as "no match").
contains() {
    local input
    input=$(cat)
    grep -q "$@" <<<"$input"
}

say() { printf 'package-check: %s\n' "$*"; }
fail() { printf 'package-check: FAILED: %s\n' "$*" >&2; exit 1; }

# What a distribution provides: libc and its parts, the dynamic loader, libgcc/libstdc++ (which the Swift
# runtime needs), OpenSSL 3, libsystemd and the libraries libsystemd itself links.
allowed_libraries='^(linux-vdso|libc|libm|libdl|libpthread|librt|libutil|ld-linux-x86-64|ld-linux-aarch64|libgcc_s|libstdc\+\+|libssl|libcrypto|libsystemd|libcap|libgcrypt|libgpg-error|liblzma|libzstd|liblz4|libz)\.so'

check_release() {
    local binary
    binary=$(scripts/package.sh release | tail -1)
    [[ -x $binary ]] || fail "scripts/package.sh release gave no binary ($binary)"

    # Only distribution C libraries, none from the Swift toolchain.
    local libs unexpected
    libs=$(ldd "$binary" | awk '{print $1}' | xargs -n1 basename)
    unexpected=$(grep -Ev "$allowed_libraries" <<<"$libs" || true)
    [[ -z $unexpected ]] || fail "the release binary links libraries a distribution does not provide: $unexpected"
    ldd "$binary" | contains '/opt/swift\|libswift\|libFoundation' && fail "the release binary links the Swift runtime"
    say "ldd: only $(tr '\n' ' ' <<<"$libs")"

    readelf -d "$binary" | contains 'BIND_NOW' || fail "the release binary is not linked with -z now (full RELRO)"
    readelf -h "$binary" | contains 'DYN (Position-Independent Executable' || fail "the release binary is not PIE"

    # The size and start-up flags of the Makefile's RELEASE_FLAGS took: no symbol of its own exported (the
    # Swift driver's -export-dynamic made 13,900), relative relocations packed where glibc reads DT_RELR.
    local exported
    exported=$(readelf --dyn-syms -W "$binary" | awk 'NR > 3 && $7 != "UND"' | wc -l)
    ((exported < 50)) || fail "the release binary exports $exported symbols (--no-export-dynamic did not take)"
    if [[ $(make -s print-release-flags) == *pack-relative-relocs* ]]; then
        readelf -d "$binary" | contains '(RELR)' || fail "the release binary has no DT_RELR (-z pack-relative-relocs)"
    fi
    say "exports $exported symbols; $(readelf -d "$binary" | grep -c '(RELR)') DT_RELR table"

    # The start-up order took: every function scripts/sidecar.order names lies in the first 6 MiB of .text
    # (ordered, the sections holding them fill 4.9 MiB; unordered, 900 of the 2,800 lie beyond). sidecar.debug
    # keeps the symbol table the stripped binary lost.
    local text_start far
    text_start=$(readelf -SW "$dist/sidecar.debug" 2>/dev/null | awk '$2 == ".text" { print "0x" $4 }')
    far=$(nm -t d --defined-only "$dist/sidecar.debug" | awk -v start=$((text_start)) '
        NR == FNR { want[$0] = 1; next }
        ($3 in want) && !($3 in seen) { seen[$3] = 1; if ($1 - start > 6291456) far++ }
        END { print far + 0 }' scripts/sidecar.order -)
    ((far == 0)) || fail "$far start-up functions lie beyond 6 MiB into .text: the order file did not take" \
        "(or start-up outgrew it: see scripts/startup-order.sh)"
    say "start-up functions (scripts/sidecar.order) at the start of .text"

    # Debug information: in sidecar.debug, which the stripped binary names.
    [[ -s $dist/sidecar.debug ]] || fail "no $dist/sidecar.debug"
    readelf -S "$binary" | contains '\.debug_info' && fail "the release binary still has .debug_info"
    { readelf -S "$dist/sidecar.debug" 2>/dev/null || true; } | contains "\.debug_info" || fail "sidecar.debug has no .debug_info"
    readelf -x .gnu_debuglink "$binary" | contains 'sidecar.debug' || fail "no .gnu_debuglink to sidecar.debug"
    say "debug information split: sidecar.debug ($(du -h "$dist/sidecar.debug" | cut -f1)), .gnu_debuglink set"

    # Starts with the toolchain's runtime libraries hidden: an empty tmpfs over their directory, in a private
    # mount namespace (the mount disappears with it).
    local swiftlib work
    swiftlib=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")/lib/swift/linux
    [[ -d $swiftlib ]] || fail "no Swift runtime directory at $swiftlib"
    scratch work
    cp conf.d/forward/bluechi-agent.cfg "$work/agent.cfg"
    "$binary" certs ca --out "$work" >/dev/null
    "$binary" certs leaf --ca-cert "$work/ca.pem" --ca-key "$work/ca.key" --cn node1 --out "$work" >/dev/null
    sed -i -e "s|/etc/sidecar/certs/ca.pem|$work/ca.pem|g" -e "s|/etc/sidecar/certs/[a-z0-9-]*\.pem|$work/node1.pem|g" \
        -e "s|/run/sidecar/|$work/|g" -e "s| manager.example.com:2021 | 127.0.0.1:2021 |" "$work/agent.cfg"
    timeout 60 unshare -m sh -c "mount -t tmpfs -o size=1m empty '$swiftlib' && test -z \"\$(ls '$swiftlib')\" &&
        '$binary' --version > '$work/version' && '$binary' check -f '$work/agent.cfg' --mode forward > '$work/check' 2>&1" ||
        fail "the release binary does not run with $swiftlib hidden: $(cat "$work/check" 2>/dev/null)"
    # The control: in the same namespace a Swift program linked to the toolchain's runtime (swift-help, from
    # the toolchain) cannot start, so the hiding is real.
    local control
    control=$(dirname "$(readlink -f "$(command -v swift)")")/swift-help
    ldd "$control" | contains "lib/swift/linux/libswiftCore" || fail "$control does not link $swiftlib/libswiftCore.so"
    timeout 60 unshare -m sh -c "mount -t tmpfs -o size=1m empty '$swiftlib' && '$control' --help" \
        >/dev/null 2>&1 && fail "a dynamically linked Swift program ran with $swiftlib hidden: the check proves nothing"
    say "runs with $swiftlib hidden (where a dynamically linked Swift program fails): --version and check -f succeed"

    # --version names this commit (make passes it), the compiler and the running OpenSSL.
    local commit
    commit=$(git rev-parse --short=12 HEAD)
    grep -q "^commit: $commit" "$work/version" || fail "--version does not name commit $commit: $(cat "$work/version")"
    grep -q "^compiler: $(swift --version 2>/dev/null | grep -m1 -o 'Swift version [0-9.]*')" "$work/version" ||
        fail "--version does not name the compiler: $(cat "$work/version")"
    # `openssl version` (the same libssl3) says "OpenSSL 3.0.19 27 Jan 2026 (Library: ...)".
    local running
    running=$(openssl version | sed 's/ (Library:.*//')
    grep -qF "OpenSSL: $running" "$work/version" || fail "--version does not name $running: $(cat "$work/version")"
    say "--version: $(tr '\n' ';' <"$work/version")"

    # From a release tarball (no .git), make passes no commit and the binary says "unknown" (the fallback
    # the debug build's --version test sees); the make variables are enough to show it, without a second
    # build.
    mkdir "$work/tarball"
    git archive HEAD | tar -x -C "$work/tarball"
    local stamp
    stamp=$(cd "$work/tarball" && make -n -p 2>/dev/null | grep '^SIDECAR_GIT_COMMIT :=' || true)
    [[ $stamp == "SIDECAR_GIT_COMMIT := " ]] || fail "in a tarball, make passes a commit: '$stamp'"
    say "from a tarball without .git, make passes no commit (--version: commit: unknown)"

    say "stripped size: $(stat -c %s "$binary") bytes ($(du -h --apparent-size "$binary" | cut -f1))"
}

check_man() {
    scripts/package.sh release >/dev/null
    local page out
    for page in "$dist/sidecar.8" man/sidecar.cfg.5; do
        [[ -s $page ]] || fail "no $page"
        out=$(mandoc -T lint -W warning "$page" 2>&1) || true
        [[ -z $out ]] || fail "mandoc -T lint $page: $out"
        out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings=w -l "$page" 2>&1 >/dev/null) || true
        [[ -z $out ]] || fail "man --warnings -l $page: $out"
    done
    # sidecar(8) comes from the argument parser: every subcommand and every long option the binary's help
    # lists is in it.
    local subcommands command option count=0
    subcommands=$("$dist/sidecar" --help | sed -n '/^SUBCOMMANDS:/,/^$/p' | awk '/^  [a-z]/ { print $1 }')
    [[ -n $subcommands ]] || fail "sidecar --help lists no subcommands"
    for command in "" $subcommands "certs ca" "certs leaf"; do
        [[ -z $command ]] || grep -q "^\.It Em ${command##* }\$" "$dist/sidecar.8" ||
            fail "sidecar.8 does not document 'sidecar $command'"
        # shellcheck disable=SC2086 # the words of "certs ca" are two arguments
        for option in $("$dist/sidecar" $command --help | sed -n '/^OPTIONS:/,$p' | grep -o -- '--[a-z][a-z-]*' | sort -u); do
            grep -Eq -- "(Fl|,) -${option#--}( |\$)" "$dist/sidecar.8" || fail "sidecar.8 lacks $option of 'sidecar $command'"
            count=$((count + 1))
        done
    done
    grep -q '^\.Dt SIDECAR 8' "$dist/sidecar.8" || fail "sidecar.8 is not in section 8"
    say "sidecar.8 has every subcommand ($(wc -w <<<"$subcommands")) and long option ($count, counted per" \
        "subcommand); it and sidecar.cfg.5 pass mandoc -T lint and man --warnings with no message"
}

check_install() {
    scripts/package.sh release >/dev/null
    local dest
    scratch dest

    # Without a build, make install names the command that builds it.
    local message
    message=$(make -s install SCRATCH="$dest/no-build" DESTDIR="$dest/stage" 2>&1) &&
        fail "make install without a build succeeded"
    grep -q "build it first with 'make'" <<<"$message" || fail "make install without a build said: $message"
    [[ ! -e $dest/stage ]] || fail "make install without a build created files"
    say "make install without a build fails: $(head -1 <<<"$message")"

    # An existing configuration is kept.
    mkdir -p "$dest/stage/etc/sidecar/conf.d"
    echo "# the operator's" >"$dest/stage/etc/sidecar/conf.d/bluechi-agent.cfg"
    make -s install DESTDIR="$dest/stage" PREFIX=/usr >/dev/null
    local expected=(
        usr/bin/sidecar
        usr/lib/systemd/system/sidecar.service usr/lib/systemd/system/sidecar.socket
        usr/lib/systemd/system/sidecar-reverse.service usr/lib/systemd/system/sidecar-reverse.socket
        usr/lib/sysusers.d/sidecar.conf usr/lib/tmpfiles.d/sidecar.conf
        etc/sidecar/conf.d/bluechi-agent.cfg etc/sidecar/reverse.d/bluechi-controller.cfg
        usr/share/selinux/packages/sidecar.pp usr/share/selinux/packages/sidecar.if
        usr/share/man/man8/sidecar.8 usr/share/man/man5/sidecar.cfg.5
        usr/share/bash-completion/completions/sidecar usr/share/zsh/site-functions/_sidecar
        usr/share/fish/vendor_completions.d/sidecar.fish usr/share/doc/sidecar/README.md
    )
    local file listed
    for file in "${expected[@]}"; do [[ -f $dest/stage/$file ]] || fail "make install did not install /$file"; done
    listed=$(cd "$dest/stage" && find . -type f | sed 's|^\./||' | sort)
    [[ $listed == "$(printf '%s\n' "${expected[@]}" | sort)" ]] ||
        fail "make install installed other files: $(comm -13 <(printf '%s\n' "${expected[@]}" | sort) <<<"$listed")"
    grep -q "the operator's" "$dest/stage/etc/sidecar/conf.d/bluechi-agent.cfg" ||
        fail "make install overwrote an existing configuration"
    grep -q '^ExecStart=/usr/bin/sidecar forward -f /etc/sidecar/conf.d$' "$dest/stage/usr/lib/systemd/system/sidecar.service" ||
        fail "the installed sidecar.service does not run /usr/bin/sidecar"
    bash -n "$dest/stage/usr/share/bash-completion/completions/sidecar" || fail "the bash completion does not parse"
    say "make install: ${#expected[@]} files, the existing bluechi-agent.cfg kept"

    # PREFIX=/usr/local: the units run /usr/local/bin/sidecar.
    make -s install DESTDIR="$dest/local" >/dev/null
    grep -q '^ExecStart=/usr/local/bin/sidecar forward' "$dest/local/usr/local/lib/systemd/system/sidecar.service" ||
        fail "with PREFIX=/usr/local the unit does not run /usr/local/bin/sidecar"
    make -s uninstall DESTDIR="$dest/local" >/dev/null
    [[ -z $(find "$dest/local" -not -type d) ]] || fail "make uninstall left $(find "$dest/local" -not -type d)"

    # uninstall removes everything it installed, but not the operator's configuration.
    make -s uninstall DESTDIR="$dest/stage" PREFIX=/usr >/dev/null
    listed=$(cd "$dest/stage" && find . -not -type d | sed 's|^\./||')
    [[ $listed == etc/sidecar/conf.d/bluechi-agent.cfg ]] || fail "make uninstall left: $listed"
    say "make uninstall: removes every installed file, keeps the operator's configuration"
}

check_deb() {
    # SIDECAR_DEB: a .deb scripts/package.sh deb made earlier from this same tree (scripts/test.sh's systemd step
    # builds one); otherwise it is built here.
    local deb=${SIDECAR_DEB:-}
    [[ -n $deb ]] || deb=$(scripts/package.sh deb | tail -1)
    [[ -f $deb ]] || fail "no .deb"
    say "built $deb ($(du -h "$deb" | cut -f1)); $(basename "$(dirname "$deb")"/sidecar-dbgsym_*.deb) beside it"

    # lintian: no error and no warning; the informational tags left are the ones README lists.
    local report tags
    report=$(lintian --info --display-info "$deb" 2>/dev/null) || true
    grep -q '^[EW]:' <<<"$report" && fail "lintian: $(grep '^[EW]:' <<<"$report")"
    tags=$(grep -o '^[IN]: sidecar: [^ ]*' <<<"$report" | cut -d' ' -f3 | sort -u | tr '\n' ' ')
    say "lintian: no errors, no warnings; informational tags: ${tags:-none}"

    local contents
    contents=$(dpkg -c "$deb")
    local path
    for path in ./usr/bin/sidecar ./lib/systemd/system/sidecar.service ./lib/systemd/system/sidecar.socket \
        ./lib/systemd/system/sidecar-reverse.service ./lib/systemd/system/sidecar-reverse.socket \
        ./usr/lib/sysusers.d/sidecar.conf ./usr/lib/tmpfiles.d/sidecar.conf \
        ./etc/sidecar/conf.d/bluechi-agent.cfg ./etc/sidecar/reverse.d/bluechi-controller.cfg \
        ./usr/share/man/man8/sidecar.8.gz ./usr/share/man/man5/sidecar.cfg.5.gz ./usr/share/doc/sidecar/README.md \
        ./usr/share/selinux/packages/sidecar.pp; do
        grep -q " $path\$" <<<"$contents" || fail "dpkg -c: no $path"
    done
    dpkg-deb -f "$deb" Depends | contains 'libssl3' || fail "Depends lacks libssl3: $(dpkg-deb -f "$deb" Depends)"
    dpkg-deb -f "$deb" Depends | contains 'libsystemd0' || fail "Depends lacks libsystemd0"
    local unpacked
    scratch unpacked
    dpkg-deb -x "$deb" "$unpacked"
    if readelf -V "$unpacked/usr/bin/sidecar" | contains GLIBC_ABI_DT_RELR; then
        dpkg-deb -f "$deb" Depends | contains 'libc6 (>= 2.36)' ||
            fail "the binary needs GLIBC_ABI_DT_RELR (glibc 2.36) but Depends says $(dpkg-deb -f "$deb" Depends)"
    fi
    dpkg-deb -I "$deb" conffiles | contains '^/etc/sidecar/conf.d/bluechi-agent.cfg$' ||
        fail "bluechi-agent.cfg is not a conffile"
    say "dpkg -c: binary, units, sysusers, tmpfiles, conffiles, man pages; Depends: $(dpkg-deb -f "$deb" Depends)"

    check_deb_in_container "$deb"
}

# Installs the package twice in a container whose root is an overlay of this machine's / (tmpfs upper layer),
# never on the machine itself. All mounts live in a private mount namespace, so they go when it exits.
check_deb_in_container() {
    local deb=$1 work
    scratch work
    mkdir "$work/mnt"
    cp "$deb" "$work/sidecar.deb"
    cat >"$work/inside.sh" <<'EOF'
set -eu
getent passwd sidecar >/dev/null && userdel sidecar
getent passwd sidecar >/dev/null && { echo "a sidecar user exists before the install"; exit 1; }
dpkg -i /var/tmp/sidecar.deb </dev/null >/var/tmp/dpkg1.log 2>&1 || { cat /var/tmp/dpkg1.log; exit 1; }
getent passwd sidecar >/dev/null || { echo "the install did not create the sidecar user"; exit 1; }
[ "$(stat -c %U:%G /run/sidecar)" = sidecar:sidecar ] || { echo "/run/sidecar not created for sidecar"; exit 1; }
for unit in sidecar.socket sidecar.service sidecar-reverse.socket sidecar-reverse.service; do
    state=$(systemctl is-enabled "$unit" 2>/dev/null || true)
    [ "$state" = disabled ] || { echo "$unit is '$state' after the install, not disabled"; exit 1; }
done
/usr/bin/sidecar --version | grep -q '^sidecar ' || { echo "the installed binary does not run"; exit 1; }
echo "# edited by the operator" >> /etc/sidecar/conf.d/bluechi-agent.cfg
dpkg -i /var/tmp/sidecar.deb </dev/null >/var/tmp/dpkg2.log 2>&1 || { cat /var/tmp/dpkg2.log; exit 1; }
grep -q '^# edited by the operator$' /etc/sidecar/conf.d/bluechi-agent.cfg ||
    { echo "the second install replaced the edited bluechi-agent.cfg"; exit 1; }
dpkg --purge sidecar </dev/null >/var/tmp/dpkg3.log 2>&1 || { cat /var/tmp/dpkg3.log; exit 1; }
[ ! -e /usr/bin/sidecar ] && [ ! -e /etc/sidecar/conf.d/bluechi-agent.cfg ] ||
    { echo "purge left files behind"; exit 1; }
echo ok
EOF
    local output status=0
    output=$(timeout 300 unshare -m sh -c "
        set -e
        mount -t tmpfs -o size=512m overlay-upper '$work/mnt'
        mkdir '$work/mnt/upper' '$work/mnt/work' '$work/mnt/root'
        mount -t overlay overlay -o lowerdir=/,upperdir='$work/mnt/upper',workdir='$work/mnt/work' '$work/mnt/root'
        cp '$work/sidecar.deb' '$work/inside.sh' '$work/mnt/root/var/tmp/'
        systemd-nspawn -q --register=no --keep-unit --link-journal=no --console=pipe -D '$work/mnt/root' sh /var/tmp/inside.sh </dev/null
    " 2>&1) || status=$?
    [[ $status -eq 0 ]] && tr -d "\r" <<<"$output" | contains -x ok || fail "the package in a container (exit status $status): $output"
    say "in a container: dpkg -i created user sidecar and /run/sidecar, left the four units disabled; a second" \
        "dpkg -i kept the edited bluechi-agent.cfg; purge removed the files"
}

check_rpm() {
    rpmspec -P --load scripts/rpm-fallback.macros --define "_sourcedir $root/systemd" sidecar.spec >/dev/null ||
        fail "rpmspec -P cannot parse sidecar.spec"
    local rpms main selinux
    rpms=$(scripts/package.sh rpm)
    main=$(grep -E '/sidecar-[0-9][^/]*\.(x86_64|aarch64)\.rpm$' <<<"$rpms") || fail "no sidecar rpm in: $rpms"
    selinux=$(grep -E '/sidecar-selinux-[^/]*\.noarch\.rpm$' <<<"$rpms") || fail "no sidecar-selinux rpm in: $rpms"
    local list expected
    list=$(rpm -qlp "$main" 2>/dev/null | grep -v '^/usr/lib/\.build-id')
    expected='/etc/sidecar
/etc/sidecar/conf.d
/etc/sidecar/conf.d/bluechi-agent.cfg
/etc/sidecar/reverse.d
/etc/sidecar/reverse.d/bluechi-controller.cfg
/usr/bin/sidecar
/usr/lib/systemd/system/sidecar-reverse.service
/usr/lib/systemd/system/sidecar-reverse.socket
/usr/lib/systemd/system/sidecar.service
/usr/lib/systemd/system/sidecar.socket
/usr/lib/sysusers.d/sidecar.conf
/usr/lib/tmpfiles.d/sidecar.conf
/usr/share/bash-completion/completions/sidecar
/usr/share/doc/sidecar/README.md
/usr/share/fish/vendor_completions.d/sidecar.fish
/usr/share/man/man5/sidecar.cfg.5.gz
/usr/share/man/man8/sidecar.8.gz
/usr/share/zsh/site-functions/_sidecar'
    [[ $list == "$expected" ]] || fail "rpm -qlp $(basename "$main"): $(diff <(echo "$expected") <(echo "$list"))"
    rpm -qp --configfiles "$main" 2>/dev/null | contains '^/etc/sidecar/conf.d/bluechi-agent.cfg$' ||
        fail "bluechi-agent.cfg is not %config"
    list=$(rpm -qlp "$selinux" 2>/dev/null)
    expected='/usr/share/selinux/devel/include/distributed/sidecar.if
/usr/share/selinux/packages/targeted/sidecar.pp.bz2
/var/lib/selinux/targeted/active/modules/200/sidecar'
    [[ $list == "$expected" ]] || fail "rpm -qlp $(basename "$selinux"): $(diff <(echo "$expected") <(echo "$list"))"
    local scripts
    scripts=$(rpm -qp --scripts "$main" 2>/dev/null)
    grep -q 'systemd-sysusers' <<<"$scripts" || fail "no sysusers in the scriptlets"
    grep -q 'preset sidecar.socket' <<<"$scripts" || fail "no %systemd_post in the scriptlets"
    rpm -qp --scripts "$selinux" 2>/dev/null | contains 'semodule .*-i /usr/share/selinux/packages/targeted/sidecar.pp.bz2' ||
        fail "sidecar-selinux does not load the module in %post"
    say "rpmbuild -bb: $(basename "$main") ($(du -h "$main" | cut -f1)), $(basename "$selinux"); file lists and scriptlets as expected"
}

case "${1:-}" in
release) check_release ;;
man) check_man ;;
install) check_install ;;
deb) check_deb ;;
rpm) check_rpm ;;
*) fail "usage: scripts/package-check.sh release|man|install|deb|rpm" ;;
esac
