#!/usr/bin/env bash
# tools/fuzz/run.sh - build the libFuzzer targets and run each for a bounded time
#
#   tools/fuzz/run.sh [SECONDS] [TARGET...]     (default 120 s; all targets)
#
# Builds with clang, -fsanitize=fuzzer,address,undefined in build-fuzz/
# (outside the normal build), keeps each target's corpus in
# build-fuzz/corpus/<target> (seeded from tools/fuzz/seeds/) and writes
# crashes to build-fuzz/crashes/. Exits non-zero on any finding.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-120}
shift || true
targets=${*:-fuzz_watch fuzz_kubeconfig fuzz_decode fuzz_httpd fuzz_workload fuzz_objects fuzz_kindfile}
out=${RL_FUZZ_BUILD:-$root/build-fuzz}

CC=clang cmake -S "$root" -B "$out" -DRL_FUZZ=ON -DRL_TESTS=OFF \
    -DRL_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# shellcheck disable=SC2086
cmake --build "$out" -j"$(nproc)" --target $targets >/dev/null

rc=0
for t in $targets; do
    seed=$root/tools/fuzz/seeds/${t#fuzz_}
    corpus=$out/corpus/$t
    mkdir -p "$corpus" "$out/crashes"
    log=$out/$t.log
    echo "fuzz: $t for ${secs}s" >&2
    if ! "$out/tools/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$out/crashes/$t-" "$corpus" "$seed" >"$log" 2>&1; then
        echo "fuzz: $t FOUND A PROBLEM; see $log and $out/crashes/" >&2
        tail -30 "$log" >&2
        rc=1
    fi
    { grep -E '^#[0-9]+.*(DONE|pulse)' "$log" | tail -1
      grep -E 'Done [0-9]+ runs' "$log" | tail -1; } | sed "s/^/fuzz: $t: /" >&2 || true
done
exit $rc
