#!/usr/bin/env bash
# Installs what reloadd's build, tests and tools need, and nothing twice:
# Debian packages through apt-get (with `apt-get update` only when something
# is missing). Idempotent; used by `make run` and `make test`.
set -euo pipefail

pkgs=(
    build-essential cmake pkg-config git ca-certificates
    libcurl4-openssl-dev libcjson-dev libssl-dev libbsd-dev libcriterion-dev
    libyaml-dev libmicrohttpd-dev libpcre2-dev
    clang clang-format llvm libclang-rt-dev valgrind gdb openssl curl jq iproute2 procps python3-yaml
    bc tzdata
)
missing=()
for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go builds only the test control plane (tools/k8s-local); it is not packaged
# by Debian at a recent enough version, so it must come with the machine.
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
    export PATH=/usr/local/go/bin:$PATH
fi
if ! command -v go >/dev/null; then
    echo "deps: warning: go not found; the local control plane (tools/k8s-local) cannot be built" >&2
fi
exit 0
