#!/usr/bin/env bash
# tools/bench/ci-small.sh - the small benchmark once, quickly, for `make test`
#
# Runs every scenario once at the small scale (1k objects) against the
# cluster of the environment (eval "$(tools/cluster up)"), with a 15 s churn.
# Exits non-zero when any scenario failed or S4 (restart with
# --sync-after-restart, nothing changed) caused a rollout. The JSON lines go
# to stdout and to $CI_BENCH_RESULTS (default: a temp file). Extra arguments
# are passed to run.sh (e.g. --controller '…'). The controller is
# $RELOADD_BIN (default build-bench/reloadd, built when missing).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "${RELOADD_CLUSTER_DIR:-}" ]; then
    echo "ci-small: no cluster in the environment; run: eval \"\$(tools/cluster up)\"" >&2
    exit 2
fi
out=${CI_BENCH_RESULTS:-$(mktemp "${TMPDIR:-/tmp}/ci-bench.XXXXXX.jsonl")}
rc=0
t0=$SECONDS
timeout --signal=TERM --kill-after=30 "${CI_BENCH_TIMEOUT:-290}" \
    "$root/tools/bench/run.sh" --scale small --runs 1 --churn-seconds 15 --label ci-small \
    --results "$out" --no-base-rss "$@" || rc=$?
python3 - "$out" <<'PY' || rc=1
import json, sys
want = {"GEN", "S1", "S2", "S3", "S4", "S5"}
seen, bad = set(), []
for line in open(sys.argv[1]):
    d = json.loads(line)
    seen.add(d["scenario"])
    if not d.get("ok"):
        bad.append("%s failed: %s" % (d["scenario"], json.dumps({k: v for k, v in d.items()
                   if k not in ("latency_series", "controller", "api_audit")})[:600]))
    if d["scenario"] == "S4" and d.get("rollouts") != 0:
        bad.append("S4: %s rollouts after a restart with nothing changed" % d.get("rollouts"))
missing = sorted(want - seen)
if missing:
    bad.append("scenarios without a result: " + ", ".join(missing))
for b in bad:
    print("ci-small: " + b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
echo "ci-small: $([ $rc -eq 0 ] && echo PASS || echo FAIL) in $((SECONDS - t0)) s; results in $out" >&2
exit $rc
