#!/usr/bin/env bash
# scripts/test.sh all|unit|integration|e2e|sanitizers|deploy
#
# Builds and runs reloadd's tests. `all` (what `make test` and CI run):
#   1. the normal build (-Werror), the lint (scripts/lint.py), unit tests,
#      stress programs, and the planner's mutation test;
#   2. an ASan+UBSan build: unit tests and stress programs;
#   3. a TSan build: unit tests and stress programs (Criterion runs under
#      TSan thanks to tests/support/tsan/criterion_arena.c), and a short run
#      of every libFuzzer target (tools/fuzz, ASan+UBSan);
#   4. one local control plane (tools/cluster up) for the rest of the run;
#   5. integration tests in the normal, ASan+UBSan and TSan builds;
#   6. the e2e suite with the normal build's reloadd binary, then its
#      concurrency-heavy cases again with the TSan build's binary;
#   7. the dashboard and alert rules (tests/deploy/monitoring.sh, run beside
#      everything else from the start), the container image (scripts/image.sh,
#      no Docker daemon needed, built beside the e2e cases), the
#      manifests and Helm chart checks, and the image's own binary run as a
#      pod would run it (in-cluster configuration) against the cluster.
# Exits non-zero if anything failed; prints each runner's summary.
set -uo pipefail
# Run from make, the sub-builds would inherit its flags and chatter.
unset MAKEFLAGS MAKELEVEL MFLAGS
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
what=${1:-all}
jobs=$(nproc 2>/dev/null || echo 2)
failed=()
t0=$SECONDS

step() { echo; echo "==== $* ($(date -u +%H:%M:%S), +$((SECONDS - t0))s)"; }

build() { # dir extra-cmake-args...
    local dir=$1; shift
    cmake -S . -B "$dir" -DRL_WERROR=ON "$@" >/dev/null || return 1
    local rc
    cmake --build "$dir" -j"$jobs" >"$dir/build.log" 2>&1
    rc=$?
    grep -Ev '^\[ *[0-9]+%\]|^-- |Consolidate compiler|^gmake' "$dir/build.log"
    return $rc
}

# A failing ctest run's output can be long and a log reader may keep only its
# ends: the lines that say what failed are kept and printed again at the end.
why_log=$(mktemp)
ctest_label() { # dir label name
    local dir=$1 label=$2 name=$3 log="$1/ctest-$2.log"
    step "$name"
    if ! (cd "$dir" && ctest -L "^$label\$" --output-on-failure --timeout 1200) 2>&1 | tee "$log"; then
        failed+=("$name")
        { echo "-- $name ($log):"
          grep -E -A4 'Assertion Failed|\[FAIL\]|^\[(WARN|ERR )\]|crashed|Timed out|Synthesis|Sanitizer|runtime error:|\*\*\*(Failed|Timeout|Exception)' "$log" |
              head -n 80
        } >>"$why_log"
    fi
}

cluster_up() {
    step "local control plane"
    local env
    env=$(tools/cluster up) || { failed+=("cluster up"); return 1; }
    eval "$env"
    trap 'tools/cluster down "$RELOADD_CLUSTER_DIR" >/dev/null 2>&1 || true' EXIT
    echo "cluster ready in $(cat "$RELOADD_CLUSTER_DIR/up-seconds") s ($RELOADD_CLUSTER_DIR)"
}

# Sanitizer options: fail on the first report, keep stacks readable.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

want() { [ "$what" = all ] || [ "$what" = "$1" ]; }
need_asan_tsan() { [ "$what" = all ] || [ "$what" = sanitizers ]; }

step "build (normal, -Werror)"
build build || { echo "build failed"; exit 1; }
# The dashboard and alert rules (tests/deploy/monitoring.sh) need no cluster;
# their first run builds promtool (minutes, cached), so it runs beside the rest.
if [ "$what" = all ] || [ "$what" = deploy ]; then
    tests/deploy/monitoring.sh >build/monitoring.log 2>&1 &
    monitoring_pid=$!
fi
if want unit; then
    step "lint (layers, banned functions, citations: scripts/lint.py)"
    { python3 scripts/lint.py && python3 scripts/lint.py --self-test; } || failed+=("lint")
fi
if need_asan_tsan; then
    step "build (ASan+UBSan)"
    build build-asan -DRL_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug || failed+=("asan build")
    step "build (TSan)"
    build build-tsan -DRL_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug || failed+=("tsan build")
fi

if want unit; then
    ctest_label build unit "unit tests"
    ctest_label build stress "stress programs"
    step "planner mutations (tests/mutation/planner.sh: each broken rule must fail its test)"
    tests/mutation/planner.sh || failed+=("planner mutations")
fi
if need_asan_tsan; then
    # What an attacker controls (watch streams, kubeconfigs, workloads and their
    # annotations) under ASan+UBSan; `make fuzz` runs them as long as asked.
    step "fuzzing (${RL_FUZZ_SECONDS:-30} s per target)"
    tools/fuzz/run.sh "${RL_FUZZ_SECONDS:-30}" || failed+=("fuzz")
fi
if need_asan_tsan; then
    ctest_label build-asan unit "unit tests (ASan+UBSan)"
    ctest_label build-asan stress "stress programs (ASan+UBSan)"
    ctest_label build-tsan unit "unit tests (TSan)"
    ctest_label build-tsan stress "stress programs (TSan)"
fi

if want integration || want e2e || [ "$what" = sanitizers ] || [ "$what" = deploy ]; then
    if cluster_up; then
        if want integration; then
            ctest_label build integration "integration tests"
        fi
        if need_asan_tsan; then
            ctest_label build-asan integration "integration tests (ASan+UBSan)"
            ctest_label build-tsan integration "integration tests (TSan)"
        fi
        # The image build (scripts/image.sh) needs no cluster and the e2e cases
        # mostly wait on the cluster: it runs beside them.
        if [ "$what" = all ] || [ "$what" = deploy ]; then
            scripts/image.sh >build/image.log 2>&1 &
            image_pid=$!
        fi
        if want e2e; then
            step "e2e"
            E2E_WHY=$why_log e2e/run.sh "$root/build/reloadd" || failed+=("e2e")
        fi
        if want e2e; then
            step "no Secret byte in a core dump of reloadd"
            tools/engine-check/secret-core.sh "$root/build/reloadd" || failed+=("secret core check")
        fi
        if want e2e; then
            step "benchmark, small scale (figures in BENCHMARKS.md; fails on S4 rollouts)"
            RELOADD_BIN="$root/build/reloadd" tools/bench/ci-small.sh || failed+=("bench small")
        fi
        if [ "$what" = all ] || [ "$what" = deploy ]; then
            step "container image (built beside the e2e cases, scripts/image.sh)"
            wait "$image_pid"
            image_rc=$?
            cat build/image.log
            if [ "$image_rc" -eq 0 ]; then
                step "manifests and Helm chart"
                tests/deploy/check.sh || failed+=("deploy checks")
                step "image in-cluster smoke test"
                tests/deploy/incluster.sh || failed+=("in-cluster smoke")
            else
                failed+=("image build")
            fi
        fi
        if [ "$what" = all ] || [ "$what" = sanitizers ]; then
            step "e2e with the TSan build of reloadd"
            E2E_WHY=$why_log E2E_ROLL_TIMEOUT=15 e2e/run.sh "$root/build-tsan/reloadd" e2e/cases/30-*.sh ||
                failed+=("e2e (TSan)")
        fi
    fi
fi

if [ -n "${monitoring_pid:-}" ]; then
    step "dashboard and alert rules (tests/deploy/monitoring.sh, started at the beginning)"
    wait "$monitoring_pid" || failed+=("monitoring")
    cat build/monitoring.log
fi

step "done in $((SECONDS - t0)) s"
if [ ${#failed[@]} -gt 0 ]; then
    if [ -s "$why_log" ]; then
        echo "==== what failed, again (the ctest and e2e logs' key lines)"
        cat "$why_log"
    fi
    rm -f "$why_log"
    echo "FAILED: ${failed[*]}"
    exit 1
fi
rm -f "$why_log"
echo "all test steps passed"
