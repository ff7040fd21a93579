#!/usr/bin/env bash
# e2e/run.sh RELOADD_BINARY [CASE...]
#
# Runs the end-to-end cases (e2e/cases/NN-*.sh) against the cluster in the
# environment (tools/cluster env: KUBECONFIG, RELOADD_CONTROLLER_KUBECONFIG,
# kubectl on PATH). Each case runs in its own process with e2e/lib.sh loaded
# and its own namespaces; a case fails when any of its checks fails.
# Prints "N passed, N failed" and exits non-zero if any case failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export RELOADD_BIN=${1:?usage: e2e/run.sh RELOADD_BINARY [CASE...]}
shift
[ -n "${KUBECONFIG:-}" ] && [ -n "${RELOADD_CONTROLLER_KUBECONFIG:-}" ] || {
    echo "e2e: no cluster in the environment; run through 'make test-e2e' or eval \"\$(tools/cluster up)\"" >&2
    exit 1
}
export E2E_ARTIFACTS=${E2E_ARTIFACTS:-$(mktemp -d "${TMPDIR:-/tmp}/reloadd-e2e.XXXXXX")}

cases=("$@")
if [ ${#cases[@]} -eq 0 ]; then
    cases=("$here"/cases/[0-9]*.sh)
fi
pass=0 fail=0 failed=()
for c in "${cases[@]}"; do
    name=$(basename "$c" .sh)
    start=$SECONDS
    echo "--- e2e $name"
    if bash -c 'set -euo pipefail; . "$1/lib.sh"; e2e_case_begin "$2"; . "$3"; e2e_case_end' _ \
        "$here" "$name" "$c" 2>&1 | sed "s/^/    /"; [ "${PIPESTATUS[0]}" -eq 0 ]; then
        echo "--- ok   $name ($((SECONDS - start)) s)"
        pass=$((pass + 1))
    else
        echo "--- FAIL $name ($((SECONDS - start)) s); logs in $E2E_ARTIFACTS/$name"
        fail=$((fail + 1))
        failed+=("$name")
    fi
done
echo
[ $fail -eq 0 ] || echo "e2e failed: ${failed[*]}"
echo "e2e: $pass passed, $fail failed"
[ $fail -eq 0 ]
