#!/usr/bin/env bash
# e2e/run.sh RELOADD_BINARY [CASE...]
#
# Runs the end-to-end cases (e2e/cases/NN-*.sh) against the cluster in the
# environment (tools/cluster env: KUBECONFIG, RELOADD_CONTROLLER_KUBECONFIG,
# kubectl on PATH). Each case runs in its own process with e2e/lib.sh loaded
# and its own namespaces; a case fails when any of its checks fails. A case
# that cannot run on this platform (e2e_needs in e2e/lib.sh: it exits 77 and
# leaves its reason in $E2E_ARTIFACTS/CASE/skip) is skipped, not failed.
# Prints "N passed, N failed, N skipped" and exits non-zero if any case failed.
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
skip_code=77    # E2E_SKIP_CODE of e2e/lib.sh
pass=0 fail=0 skip=0 failed=() skipped=()
for c in "${cases[@]}"; do
    name=$(basename "$c" .sh)
    start=$SECONDS
    echo "--- e2e $name"
    bash -c 'set -euo pipefail; . "$1/lib.sh"; e2e_case_begin "$2"; . "$3"; e2e_case_end' _ \
        "$here" "$name" "$c" 2>&1 | sed "s/^/    /"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then
        echo "--- ok   $name ($((SECONDS - start)) s)"
        pass=$((pass + 1))
    elif [ "$rc" -eq $skip_code ] && [ -s "$E2E_ARTIFACTS/$name/skip" ]; then
        echo "--- skip $name: $(head -1 "$E2E_ARTIFACTS/$name/skip")"
        skip=$((skip + 1))
        skipped+=("$name")
    else
        echo "--- FAIL $name ($((SECONDS - start)) s); logs in $E2E_ARTIFACTS/$name"
        fail=$((fail + 1))
        failed+=("$name")
    fi
done
echo
[ $skip -eq 0 ] || echo "e2e skipped: ${skipped[*]}"
[ $fail -eq 0 ] || echo "e2e failed: ${failed[*]}"
echo "e2e: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
