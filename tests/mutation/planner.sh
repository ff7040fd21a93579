#!/usr/bin/env bash
# tests/mutation/planner.sh - does the planner's unit test notice a broken rule?
#
# Copies the tree to a temporary directory, breaks one rule of the reconcile
# contract at a time in src/reload/plan.c (each mutation below: a rule
# of docs/reconcile.md and the one-line change that breaks it), rebuilds
# tests/unit/test_reconcile.c and expects it to FAIL. A mutation the test
# survives is a rule the test does not hold, and fails this script. The
# unmutated copy must pass first.
#   tests/mutation/planner.sh            (what make test runs)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jobs=$(nproc 2>/dev/null || echo 2)
file=src/reload/plan.c

# name | rule | perl substitution applied to $file (must change it)
mutations=(
"markers-read|Reloader's marker holding the current version means up to date|s/if \(same\(applied, it->desired\) \|\| same\(marker, it->desired\)\)/if (same(applied, it->desired))/"
"baseline|a source without a record is a baseline, not a rollout|s/verdict\(it, RL_VERDICT_BASELINE, it->desired, \"no record yet\", why\)/verdict(it, RL_VERDICT_ROLL, it->desired, \"no record yet\", why)/"
"stale|a change after the template rolls|s/src->changed_rv > counts_after \|\|/src->changed_rv > counts_after + 1000000 ||/"
"adopt|a stale record from before reloadd watched is adopted without --sync-after-restart|s/verdict\(it, RL_VERDICT_ADOPT, it->desired,/verdict(it, RL_VERDICT_ROLL, it->desired,/"
"created|a created source rolls only with --reload-on-create|s/bool on_create = pol->reload_on_create && /bool on_create = /"
"deleted|a deleted source rolls only with --reload-on-delete|s/if \(roll && delete_rolls\)/if (roll)/"
"deleted-env-vars|under env-vars a delete with no env var to remove rolls nothing|s/\(pol->strategy != RL_STRATEGY_ENV_VARS \|\| marker\)/true/"
"one-write|several stale sources are one rollout, whichever is judged last|s/roll \|= p->items\[i\].verdict == RL_VERDICT_ROLL \|\|/roll = p->items[i].verdict == RL_VERDICT_ROLL ||/"
"window|a rollout due while the window is closed is held until it opens|s/if \(!p->window_open\)/if (false)/"
"pending-ignored|a pending mark rolls the stale sources at the opening, even after a restart|s/judge_source\(pol, in->sync \|\| w->pending_since_s, w, src,/judge_source(pol, in->sync, w, src,/"
"nothing|an up-to-date workload gets no write|s/else if \(p->record_differs && \(nrec > 0 \|\| w_had_entries\)\)/else if (nrec > 0 || w_had_entries)/"
"gate-flag|--health-gate gates every workload without the annotation|s/p->gated = in->policy->health_gate;/p->gated = false;/"
"gate-annotation|the workload's health-gate annotation opts it in or out|s/p->gated = on;/p->gated = true;/"
"gate-held-record|a held workload's pending mark keeps the record as it stands|s/return plan_record\(p, true, out\);/return plan_record(p, false, out);/"
)

mkdir -p "$tmp/src"
(cd "$root" && git ls-files -z src include tests tools cmake CMakeLists.txt VERSION |
    xargs -0 cp --parents -t "$tmp/src") || exit 1
b=$tmp/build
build() {
    cmake --build "$b" --target unit_test_reconcile -j"$jobs" >"$tmp/build.log" 2>&1
}
run() { "$b/tests/unit_test_reconcile" --jobs=2 --ascii >"$tmp/run.log" 2>&1; }

cmake -S "$tmp/src" -B "$b" -DRL_VERSION=mutation >/dev/null || exit 1
cp "$tmp/src/$file" "$tmp/orig.c"
if ! build || ! run; then
    echo "mutation: the unmutated planner does not pass its test"; tail -n 20 "$tmp/build.log" "$tmp/run.log"
    exit 1
fi
killed=0 survived=()
for m in "${mutations[@]}"; do
    IFS='|' read -r name rule subst <<<"$m"
    cp "$tmp/orig.c" "$tmp/src/$file"
    perl -0pi -e "$subst" "$tmp/src/$file"
    if cmp -s "$tmp/orig.c" "$tmp/src/$file"; then
        echo "mutation $name: its pattern matches nothing in $file (update this script)"
        survived+=("$name"); continue
    fi
    if ! build; then
        echo "mutation $name: does not compile"; survived+=("$name"); continue
    fi
    if run; then
        echo "mutation $name SURVIVED: the test does not hold \"$rule\""
        survived+=("$name")
    else
        failing=$(grep -c '\[FAIL\]' "$tmp/run.log")
        echo "mutation $name killed ($failing failing assertions): $rule"
        killed=$((killed + 1))
    fi
done
echo "planner mutations: ${#mutations[@]}, killed $killed, survived ${#survived[@]}"
[ ${#survived[@]} -eq 0 ]
