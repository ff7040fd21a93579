#!/usr/bin/env bash
# e2e/run.sh RELOADD_BINARY [CASE...]
#
# Runs the end-to-end cases (e2e/cases/NN-*.sh) against the cluster in the
# environment (tools/cluster env: KUBECONFIG, RELOADD_CONTROLLER_KUBECONFIG,
# kubectl on PATH). Each case runs in its own process with e2e/lib.sh loaded
# and its own namespaces; a case fails when any of its checks fails. A case
# that cannot run on this platform (e2e_needs in e2e/lib.sh: it exits 77 and
# leaves its reason in $E2E_ARTIFACTS/CASE/skip) is skipped, not failed.
#
# A case whose header holds the line "# e2e-lane: background" spends most of
# its time waiting on a clock of its own (a restart budget's period, a
# maintenance window's opening, a health gate's timeout) and checks counts,
# not timings: when the whole suite runs, those cases run one after another
# in a second lane, beside the others, and their output is printed when the
# lane is done. The lane is waited for before a case that stops the API
# server (e2e_needs api-restart) and at the end. E2E_LANE=0 runs every case
# in order, in one lane.
#
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
mkdir -p "$E2E_ARTIFACTS"

cases=("$@")
lane=()
if [ ${#cases[@]} -eq 0 ]; then
    for c in "$here"/cases/[0-9]*.sh; do
        if [ "${E2E_LANE:-1}" != 0 ] && grep -qx '# e2e-lane: background' "$c"; then
            lane+=("$c")
        else
            cases+=("$c")
        fi
    done
fi
skip_code=77    # E2E_SKIP_CODE of e2e/lib.sh
results=$E2E_ARTIFACTS/results  # "ok|FAIL|skip NAME" lines, from both lanes
: >"$results"

run_case() { # case.sh: runs it, prints its output and its result line
    local c=$1 name start rc
    name=$(basename "$c" .sh)
    start=$SECONDS
    echo "--- e2e $name ($(date -u +%H:%M:%S))"
    mkdir -p "$E2E_ARTIFACTS/$name"
    bash -c 'set -euo pipefail; . "$1/lib.sh"; e2e_case_begin "$2"; . "$3"; e2e_case_end' _ \
        "$here" "$name" "$c" 2>&1 | sed "s/^/    /" | tee "$E2E_ARTIFACTS/$name/output"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then
        echo "--- ok   $name ($((SECONDS - start)) s)"
        echo "ok $name" >>"$results"
    elif [ "$rc" -eq $skip_code ] && [ -s "$E2E_ARTIFACTS/$name/skip" ]; then
        echo "--- skip $name: $(head -1 "$E2E_ARTIFACTS/$name/skip")"
        echo "skip $name" >>"$results"
    else
        echo "--- FAIL $name ($((SECONDS - start)) s); logs in $E2E_ARTIFACTS/$name"
        echo "FAIL $name" >>"$results"
        if [ -n "${E2E_WHY:-}" ]; then
            { echo "-- e2e $name (last lines; all in $E2E_ARTIFACTS/$name/output):"
              tail -n 15 "$E2E_ARTIFACTS/$name/output"; } >>"$E2E_WHY"
        fi
    fi
}

lane_pid=
lane_join() {
    [ -n "$lane_pid" ] || return 0
    wait "$lane_pid"
    lane_pid=
    echo "--- the background lane (${lane[*]##*/}), done:"
    cat "$E2E_ARTIFACTS/lane.out"
}
if [ ${#lane[@]} -gt 0 ]; then
    (for c in "${lane[@]}"; do run_case "$c"; done) >"$E2E_ARTIFACTS/lane.out" 2>&1 &
    lane_pid=$!
    echo "--- background lane started: ${lane[*]##*/}"
fi
for c in "${cases[@]}"; do
    grep -q '^e2e_needs .*\bapi-restart\b' "$c" && lane_join
    run_case "$c"
done
lane_join

pass=$(grep -c '^ok ' "$results")
fail=$(grep -c '^FAIL ' "$results")
skip=$(grep -c '^skip ' "$results")
echo
[ "$skip" -eq 0 ] || echo "e2e skipped: $(sed -n 's/^skip //p' "$results" | tr '\n' ' ')"
[ "$fail" -eq 0 ] || echo "e2e failed: $(sed -n 's/^FAIL //p' "$results" | tr '\n' ' ')"
echo "e2e: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
