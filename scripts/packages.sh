# Sourced by scripts/demo.sh and scripts/test.sh: install the Debian packages a script needs, only those
# missing. Before sourcing, set PACKAGES to "package:probe" entries (probe: a command the package provides,
# or empty to ask dpkg about the package itself) and define `die MESSAGE`.

is_installed() { # package probe
    if [[ -n "$2" ]]; then
        command -v "$2" >/dev/null 2>&1 || [[ -x "/usr/sbin/$2" || -x "/sbin/$2" ]]
    else
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
    fi
}

# Installs the missing ones with apt-get (as root, or through sudo; never waits for a password without a
# terminal). `apt-get update` runs only when something is missing.
install_packages() {
    local entry missing=()
    for entry in "${PACKAGES[@]}"; do
        is_installed "${entry%%:*}" "${entry#*:}" || missing+=("${entry%%:*}")
    done
    if ((${#missing[@]} == 0)); then
        echo "packages: all present"
        return
    fi
    command -v apt-get >/dev/null || die "missing packages ${missing[*]} and no apt-get: install them by hand"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "missing packages ${missing[*]}: run as root, or install sudo"
        sudo=(sudo)
        [[ -t 0 ]] || sudo=(sudo -n) # no terminal (CI): fail instead of waiting for a password
    fi
    echo "installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" </dev/null
}
