#!/usr/bin/env bash
# Installs every Debian 12 package sshmock needs: the build dependencies and
# the real SSH clients its tests run. Non-interactive and idempotent; runs as
# root or through sudo.
#
#   scripts/setup.sh            install what is missing
#   scripts/setup.sh --list     print the package list and exit
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config
    libssh-dev libuv1-dev libssl-dev libcmocka-dev libjansson-dev
    # the bundled engine (cmake/engine.cmake): libssh's own build needs
    # zlib's headers, our patches need patch, the download needs curl
    zlib1g-dev patch curl
    # the fuzz targets (scripts/fuzz.sh): clang and its libFuzzer runtime,
    # which clang only recommends (not installed with --no-install-recommends)
    clang libclang-rt-14-dev
    # the real clients the tests run, and their helpers
    openssh-client putty-tools dropbear-bin
    python3 python3-paramiko python3-asyncssh
    # the Python helper (python/): its pytest example, installed into a venv
    python3-pytest python3-venv python3-pip python3-setuptools
    # what a support ticket may hold, for sshmock import's tests
    nmap ssh-audit
    # the peer servers the benchmarks compare against
    openssh-server dropbear-bin
    # tools the test scripts use
    procps iproute2 ca-certificates
    # the twin of a privsep child that cannot chroot (capsh --drop)
    libcap2-bin
)

if [ "${1:-}" = "--list" ]; then
    printf '%s\n' "${packages[@]}" nodejs npm | sort -u
    exit 0
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in $(printf '%s\n' "${packages[@]}" | sort -u); do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

# Node.js and npm (for the ssh2 client) may come from elsewhere than Debian
# (NodeSource's nodejs bundles npm, and Debian's npm conflicts with it):
# only when the commands are missing are Debian's packages installed.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    # --no-install-recommends keeps a fresh machine small; policy-rc.d keeps
    # openssh-server's package from starting a real sshd on port 22.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
        as_root chmod +x /usr/sbin/policy-rc.d
        trap 'as_root rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
else
    echo "setup: all packages present" >&2
fi

here=$(cd "$(dirname "$0")/.." && pwd)

# The bundled engine's source (cmake/engine.cmake), fetched now so that
# builds and tests need no network: the same URL, file name, cache directory
# and SHA-256 as the CMake code, which checks it again on every configure.
engine_url=$(sed -n 's|^set(sshmock_libssh_url \(.*\)/\${sshmock_libssh_file})$|\1|p' "$here/cmake/engine.cmake")
engine_ver=$(sed -n 's|^set(sshmock_libssh_version \(.*\))$|\1|p' "$here/cmake/engine.cmake")
engine_sha=$(sed -n 's|^set(sshmock_libssh_sha256 \([0-9a-f]*\))$|\1|p' "$here/cmake/engine.cmake")
engine_file="libssh_${engine_ver}.orig.tar.xz"
if [ -n "${SSHMOCK_ENGINE_CACHE:-}" ]; then
    engine_cache=$SSHMOCK_ENGINE_CACHE
elif [ -n "${HOME:-}" ]; then
    engine_cache=$HOME/.cache/sshmock
else
    engine_cache=$here/engine/cache
fi
if [ -z "$engine_url" ] || [ -z "$engine_ver" ] || [ -z "$engine_sha" ]; then
    echo "setup: cannot read the engine's URL, version and SHA-256 from cmake/engine.cmake" >&2
    exit 1
fi
if ! echo "$engine_sha  $engine_cache/$engine_file" | sha256sum -c --status 2>/dev/null; then
    echo "setup: downloading the engine's source $engine_url/$engine_file" >&2
    mkdir -p "$engine_cache"
    if ! curl -fsSL --retry 3 -o "$engine_cache/$engine_file.part" "$engine_url/$engine_file" ||
       ! echo "$engine_sha  $engine_cache/$engine_file.part" | sha256sum -c --status; then
        rm -f "$engine_cache/$engine_file.part"
        echo "setup: could not fetch $engine_file with SHA-256 $engine_sha; configure will" \
             "try again, or build with cmake -DSSHMOCK_ENGINE=system" >&2
    else
        mv "$engine_cache/$engine_file.part" "$engine_cache/$engine_file"
    fi
fi

# node's ssh2 client, for the client matrix (from the npm registry).
if [ -f "$here/client-tests/node/package.json" ] && [ ! -d "$here/client-tests/node/node_modules/ssh2" ]; then
    echo "setup: npm install (client-tests/node)" >&2
    (cd "$here/client-tests/node" && npm install --no-audit --no-fund --loglevel=error) \
        || echo "setup: npm install failed; node ssh2 tests will be skipped" >&2
fi
