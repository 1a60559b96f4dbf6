#!/usr/bin/env bash
# The Python helper as a user installs it: `pip install ./python` into a
# fresh virtualenv (no package index: --no-index), then its pytest example
# run against the built binary with real OpenSSH. Exit 77 (skipped) only
# when a tool it needs is missing, with the reason.
#   test_python.sh SSHMOCK_BINARY
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(readlink -f "$1")
py=/usr/bin/python3
for need in "$py -m venv --help" "$py -m pytest --version" "ssh -V"; do
    if ! $need >/dev/null 2>&1; then
        echo "skipped python fixture: '${need%% *} ${need#* }' does not work (scripts/setup.sh installs it)"
        exit 77
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --system-site-packages: pytest comes from Debian's python3-pytest.
$py -m venv --system-site-packages "$tmp/venv"
# A copy, so that pip's build files never land in the checkout.
cp -r "$top/python" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src"/*.egg-info
"$tmp/venv/bin/pip" install --quiet --no-index --no-build-isolation "$tmp/src"
# From another directory, with the binary given only through SSHMOCK_BIN:
# the installed package, not the checkout, is what is imported.
cd "$tmp"
"$tmp/venv/bin/python" -c 'import sshmock, sys; assert "/venv/" in sshmock.__file__, sshmock.__file__'
SSHMOCK_BIN="$bin" "$tmp/venv/bin/python" -m pytest -p no:cacheprovider -v "$top/python/examples"
