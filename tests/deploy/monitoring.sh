#!/usr/bin/env bash
# tests/deploy/monitoring.sh - checks the Grafana dashboard and the alerting rules
#
#   1. rules.yaml and prometheusrule.yaml hold the same groups;
#      `promtool check rules` and `promtool test rules deploy/monitoring/rules_test.yaml`
#      (alerts fire and stay silent as meant, on reloadd's and Reloader's series);
#   2. every metric name in the rules, the dashboard and the rule tests' input
#      series is one reloadd exports (its family table in the source, and, when a
#      cluster and a reloadd binary are at hand, a real /metrics scrape, which
#      must hold no family the table lacks); for the group "reloader" and the
#      panels not marked "(reloadd only)", also one Stakater Reloader exports
#      (facts below); label names used exist on the families; reloadd's 18
#      Reloader families have Reloader's types, labels and buckets;
#   3. the dashboard: datasource variable, job and namespace variables used by
#      every selector, histogram_quantile over _bucket series by le, unique panel
#      ids, and every query valid PromQL (promtool check rules on them);
#   4. `kubectl kustomize deploy/kubernetes/monitoring` ships the dashboard as a
#      ConfigMap labelled grafana_dashboard and the PrometheusRule, unchanged,
#      with the ServiceMonitor still first (tests/deploy/check.sh reads it so).
#
# promtool (github.com/prometheus/prometheus/cmd/promtool) is built once into
# ${RELOADD_CACHE:-~/.cache/reloadd}/promtool-<version>/, in the background
# while the other checks run; PROMTOOL=/path/to/promtool uses that one instead.
# Prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
mon=deploy/monitoring
PROMTOOL_VERSION=v0.316.0
pass=0 fail=0 skip=0
work=$(mktemp -d "${TMPDIR:-/tmp}/reloadd-monitoring.XXXXXX")
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
skipped() { skip=$((skip + 1)); echo "skip $*"; }
check() { # DESCRIPTION CMD...
    local what=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$what"; else bad "$what"; [ -z "$out" ] || sed 's/^/       /' <<<"$out" | head -30; fi
}

# ------------------------------------------------------------ promtool ---
# Built in the background; wait_promtool collects it.
promtool_dir=${RELOADD_CACHE:-$HOME/.cache/reloadd}/promtool-$PROMTOOL_VERSION
build_promtool() {
    if [ -n "${PROMTOOL:-}" ]; then echo "$PROMTOOL"; return 0; fi
    if [ -x "$promtool_dir/promtool" ] && [ -f "$promtool_dir/.complete" ]; then
        echo "$promtool_dir/promtool"; return 0
    fi
    if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
        export PATH=/usr/local/go/bin:$PATH
    fi
    command -v go >/dev/null || { echo "monitoring: go is not installed (needed to build promtool)" >&2; return 1; }
    local start=$SECONDS
    mkdir -p "$promtool_dir" || return 1
    echo "monitoring: building promtool $PROMTOOL_VERSION into $promtool_dir (cold: several minutes)" >&2
    # go install verifies the module against the checksum database.
    GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$promtool_dir/.tmp" GOFLAGS=-buildvcs=false \
        go install -trimpath -ldflags "-s -w" \
        "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION" >&2 || return 1
    mv "$promtool_dir/.tmp/promtool" "$promtool_dir/promtool" && rmdir "$promtool_dir/.tmp" || return 1
    touch "$promtool_dir/.complete"
    echo "monitoring: promtool built in $((SECONDS - start)) s" >&2
    echo "$promtool_dir/promtool"
}
build_promtool >"$work/promtool.path" 2>"$work/promtool.log" &
promtool_pid=$!
pids+=("$promtool_pid")
promtool=""
wait_promtool() {
    [ -n "$promtool" ] && return 0
    if wait "$promtool_pid" && promtool=$(cat "$work/promtool.path") && [ -x "$promtool" ]; then
        sed 's/^/       /' "$work/promtool.log" | grep -v 'go: downloading' | tail -5
        return 0
    fi
    bad "promtool $PROMTOOL_VERSION could not be built"
    grep -v 'go: downloading' "$work/promtool.log" | sed 's/^/       /' | tail -20
    promtool=""
    return 1
}

# --------------------------------------------------------------- tools ---
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "monitoring: installing python3-yaml (apt-get)" >&2
    s=""; [ "$(id -u)" -eq 0 ] || s=sudo
    $s apt-get update -qq && DEBIAN_FRONTEND=noninteractive $s apt-get install -y -qq --no-install-recommends python3-yaml >/dev/null
fi

# ------------------------------------------- what each one exports ---
# reloadd: the family table (RL_METRICS_FAMILIES) and every other
# `struct rl_metric_desc` in the sources, as JSON {name: {type, labels, buckets}}.
families_of_reloadd() {
    python3 - "$@" <<'PY'
import json, re, subprocess, sys
files = subprocess.run(["grep", "-rlE", r"define RL_METRICS_FAMILIES|struct rl_metric_desc [a-z_]+ = \{",
                        "include", "src"], capture_output=True, text=True).stdout.split()
fams = {}
def labels_of(t):
    m = re.search(r"RL_METRIC_LABELS\(([^)]*)\)|RL_METRIC_NO_LABELS", t)
    if not m:
        raise SystemExit("no labels in: " + t[:80])
    return re.findall(r'"([^"]*)"', m.group(1) or "")
def buckets_of(t):
    m = re.search(r"RL_METRIC_BUCKETS\(([^)]*)\)", t)
    return [float(x) for x in m.group(1).split(",")] if m else []
for f in files:
    src = open(f).read().replace("\\\n", "\n")
    m = re.search(r"#define RL_METRICS_FAMILIES\(X\)(.*?)\n\s*\n", src, re.S)
    if m:
        body = m.group(1)
        starts = [x.start() for x in re.finditer(r"\bX\(\s*\w+\s*,", body)]
        for i, s in enumerate(starts):
            e = body[s:starts[i + 1] if i + 1 < len(starts) else len(body)]
            h = re.match(r'X\(\s*(\w+)\s*,\s*(COUNTER|GAUGE|HISTOGRAM)\s*,\s*"([^"]+)"', e)
            if not h:
                raise SystemExit(f"{f}: cannot read table entry: {e[:80]}")
            fams[h.group(3)] = {"type": h.group(2).lower(), "labels": labels_of(e), "buckets": buckets_of(e), "from": f}
    for d in re.finditer(r"struct rl_metric_desc [a-z_]+ = \{(.*?)\};", src, re.S):
        t = d.group(1)
        n = re.search(r'\.name\s*=\s*"([^"]+)"', t)
        ty = re.search(r"\.type\s*=\s*RL_METRIC_(COUNTER|GAUGE|HISTOGRAM)", t)
        if n and ty:
            fams[n.group(1)] = {"type": ty.group(1).lower(), "labels": labels_of(t) if "RL_METRIC_" in t.split(".labels", 1)[-1] else [],
                                "buckets": buckets_of(t), "from": f}
json.dump(fams, sys.stdout, indent=1, sort_keys=True)
PY
}

# Stakater Reloader (v1.4): the 16 reloader_* and 2 rest_client_* families of its
# metrics package, and the process collector of client_golang's default registry
# (Linux). Written here as facts; its go_* families are not listed (reloadd has none).
cat >"$work/reloader.json" <<'EOF'
{
 "reloader_reload_executed_total":              {"type": "counter",   "labels": ["success"]},
 "reloader_reload_executed_total_by_namespace": {"type": "counter",   "labels": ["success", "namespace"]},
 "reloader_reconcile_total":                    {"type": "counter",   "labels": ["result"]},
 "reloader_reconcile_duration_seconds":         {"type": "histogram", "labels": ["result"],
     "buckets": [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]},
 "reloader_action_total":                       {"type": "counter",   "labels": ["workload_kind", "result"]},
 "reloader_action_latency_seconds":             {"type": "histogram", "labels": ["workload_kind"],
     "buckets": [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]},
 "reloader_skipped_total":                      {"type": "counter",   "labels": ["reason"]},
 "reloader_workqueue_depth":                    {"type": "gauge",     "labels": []},
 "reloader_workqueue_adds_total":               {"type": "counter",   "labels": []},
 "reloader_workqueue_latency_seconds":          {"type": "histogram", "labels": [],
     "buckets": [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]},
 "reloader_errors_total":                       {"type": "counter",   "labels": ["type"]},
 "reloader_retries_total":                      {"type": "counter",   "labels": []},
 "reloader_events_received_total":              {"type": "counter",   "labels": ["event_type", "resource_type"]},
 "reloader_events_processed_total":             {"type": "counter",   "labels": ["event_type", "resource_type", "result"]},
 "reloader_workloads_scanned_total":            {"type": "counter",   "labels": ["kind"]},
 "reloader_workloads_matched_total":            {"type": "counter",   "labels": ["kind"]},
 "rest_client_requests_total":                  {"type": "counter",   "labels": ["code", "method", "host"]},
 "rest_client_request_duration_seconds":        {"type": "histogram", "labels": ["verb", "host"],
     "buckets": [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30]},
 "process_cpu_seconds_total":                   {"type": "counter",   "labels": [], "process": true},
 "process_resident_memory_bytes":               {"type": "gauge",     "labels": [], "process": true},
 "process_virtual_memory_bytes":                {"type": "gauge",     "labels": [], "process": true},
 "process_virtual_memory_max_bytes":            {"type": "gauge",     "labels": [], "process": true},
 "process_open_fds":                            {"type": "gauge",     "labels": [], "process": true},
 "process_max_fds":                             {"type": "gauge",     "labels": [], "process": true},
 "process_start_time_seconds":                  {"type": "gauge",     "labels": [], "process": true}
}
EOF

echo "== what reloadd exports"
if families_of_reloadd >"$work/reloadd.json" 2>"$work/reloadd.err" &&
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$work/reloadd.json") && [ "$n" -ge 30 ]; then
    ok "reloadd's families read from its sources ($n)"
else
    bad "reloadd's families read from its sources"; sed 's/^/       /' "$work/reloadd.err" | head
    echo '{}' >"$work/reloadd.json"
fi
check "reloadd's 18 Reloader families: Reloader's names, types, labels and buckets" python3 - "$work/reloadd.json" "$work/reloader.json" <<'PY'
import json, sys
rd, rl = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
shared = [n for n, f in rl.items() if not f.get("process")]
assert len(shared) == 18, len(shared)
bad = []
for n in shared:
    a, b = rd.get(n), rl[n]
    if a is None:
        bad.append(f"{n}: not exported by reloadd"); continue
    for k in ("type", "labels"):
        if a[k] != b[k]:
            bad.append(f"{n}: {k} {a[k]} != Reloader's {b[k]}")
    if a["buckets"] != b.get("buckets", []):
        bad.append(f"{n}: buckets {a['buckets']} != Reloader's {b.get('buckets', [])}")
if bad:
    sys.exit("\n".join(bad))
PY

# A real scrape (when a cluster and a binary are at hand): every family it
# shows must be in the table read above, with the same type.
bin=${RELOADD_BIN:-$root/build/reloadd}
if [ -n "${KUBECONFIG:-}" ] && [ -x "$bin" ] && command -v curl >/dev/null; then
    port=$((20000 + RANDOM % 30000))
    ns=reloadd-monitoring-$$
    "$bin" --metrics-addr="127.0.0.1:$port" --explain-addr=off --namespaces="$ns" \
        >"$work/reloadd.log" 2>&1 &
    rpid=$!
    pids+=("$rpid")
    for _ in $(seq 1 100); do
        curl -fsS "http://127.0.0.1:$port/metrics" >"$work/scrape.prom" 2>/dev/null &&
            grep -q '^reloader_startup_sync_seconds [1-9]' "$work/scrape.prom" && break
        kill -0 "$rpid" 2>/dev/null || break
        sleep 0.2
    done
    curl -fsS "http://127.0.0.1:$port/metrics" >"$work/scrape.prom" 2>/dev/null
    kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
    check "a real reloadd /metrics scrape holds only families of the table, with their types" \
        python3 - "$work/reloadd.json" "$work/scrape.prom" <<'PY'
import json, sys
rd = json.load(open(sys.argv[1]))
types = {}
for line in open(sys.argv[2]):
    if line.startswith("# TYPE "):
        _, _, name, ty = line.split()
        types[name] = ty
if len(types) < 15:
    sys.exit(f"the scrape shows only {len(types)} families (did reloadd start? see its log)")
bad = [f"{n} ({t}): not in the table" for n, t in types.items() if n not in rd]
bad += [f"{n}: {t} in the scrape, {rd[n]['type']} in the table" for n, t in types.items() if n in rd and rd[n]["type"] != t]
if bad:
    sys.exit("\n".join(bad))
PY
else
    skipped "real /metrics scrape: needs KUBECONFIG and $bin"
fi

# ------------------------------------------- names in rules and panels ---
# Writes $work/exprs.json: [{where, expr, shared}] for every rule, panel query
# and variable query; Grafana's variables replaced by values PromQL accepts.
check "dashboard: valid JSON, datasource and job/namespace variables, unique panel ids" python3 - "$mon/grafana-dashboard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
v = {x["name"]: x for x in d["templating"]["list"]}
assert v["datasource"]["type"] == "datasource" and v["datasource"]["query"] == "prometheus", "no prometheus datasource variable"
for n in ("job", "namespace"):
    assert v[n]["type"] == "query" and v[n]["datasource"]["uid"] == "${datasource}", n
ids = []
def walk(ps):
    for p in ps:
        ids.append(p["id"])
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${datasource}", f"panel {p['title']}: datasource not ${{datasource}}"
            assert p.get("targets"), f"panel {p['title']}: no query"
            for t in p["targets"]:
                assert t["datasource"]["uid"] == "${datasource}", f"panel {p['title']}: query datasource"
        walk(p.get("panels", []))
walk(d["panels"])
assert len(ids) == len(set(ids)), "duplicate panel ids"
assert d.get("uid") and d.get("title"), "uid/title"
PY

python3 - "$mon/grafana-dashboard.json" "$mon/rules.yaml" >"$work/exprs.json" 2>"$work/exprs.err" <<'PY'
import json, re, sys, yaml
out = []
d = json.load(open(sys.argv[1]))
def walk(ps):
    for p in ps:
        if p["type"] != "row":
            only = "(reloadd only)" in p["title"]
            for t in p["targets"]:
                out.append({"where": f"panel '{p['title']}' {t['refId']}", "expr": t["expr"],
                            "shared": not only, "panel": True})
        walk(p.get("panels", []))
walk(d["panels"])
for v in d["templating"]["list"]:
    if v["type"] == "query":
        q = v["definition"]
        m = re.fullmatch(r"label_values\((.*),\s*\w+\)", q)
        out.append({"where": f"variable {v['name']}", "expr": m.group(1), "shared": True, "panel": False})
for g in yaml.safe_load(open(sys.argv[2]))["groups"]:
    for r in g["rules"]:
        out.append({"where": f"rule {g['name']}/{r.get('alert') or r.get('record')}", "expr": r["expr"],
                    "shared": g["name"] != "reloadd-only", "panel": False, "group": g["name"]})
for e in out:
    x = e["expr"]
    for a, b in (("$__rate_interval", "5m"), ("$__range", "1h"), ("$__interval", "1m"),
                 ('"$job"', '".*"'), ('"$namespace"', '".*"')):
        x = x.replace(a, b)
    if "$" in x:
        raise SystemExit(f"{e['where']}: a Grafana variable this test does not know: {x}")
    e["promql"] = x
json.dump(out, sys.stdout, indent=1)
PY
[ -s "$work/exprs.json" ] || { bad "collecting the queries"; cat "$work/exprs.err"; echo '[]' >"$work/exprs.json"; }

check "every metric in the rules and the dashboard is one reloadd exports, with labels it has; shared ones also Reloader's" \
    python3 - "$work/exprs.json" "$work/reloadd.json" "$work/reloader.json" <<'PY'
import json, re, sys
exprs = json.load(open(sys.argv[1]))
rd, rl = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
def samples(fams):
    s = {}
    for n, f in fams.items():
        if f["type"] == "histogram":
            s[n + "_bucket"] = f["labels"] + ["le"]; s[n + "_sum"] = f["labels"]; s[n + "_count"] = f["labels"]
        else:
            s[n] = f["labels"]
    return s
RD, RL = samples(rd), samples(rl)
# Labels a scrape adds (Prometheus Operator monitors, relabelling) and the
# exported_ prefix Prometheus gives a family's label that clashes with one.
TARGET = {"job", "namespace", "pod", "instance", "container", "service", "endpoint"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan", "atan2", "le"}
bad = []
for e in exprs:
    # name{matchers}, on the query with its strings; the rest on the query without them.
    sels = re.findall(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{((?:[^}"]|"(?:[^"\\]|\\.)*")*)\}', e["promql"])
    x = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e["promql"])
    grouped = set()
    for m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", x):
        grouped |= {l.strip() for l in m.group(2).split(",") if l.strip()}
    y = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", x)
    y = re.sub(r"\{[^}]*\}", " ", y)
    y = re.sub(r"\[[^\]]*\]", " ", y)
    names = {t for t in re.findall(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", y)
             if t.lower() not in KEYWORDS}
    if not names:
        bad.append(f"{e['where']}: no metric found in {e['expr']!r}")
    known_labels = set(TARGET)
    for n in names:
        if n not in RD:
            bad.append(f"{e['where']}: {n} is not a metric reloadd exports")
            continue
        if e["shared"] and n not in RL:
            bad.append(f"{e['where']}: {n} is not exported by Stakater Reloader (mark the panel "
                       "'(reloadd only)' or move the rule to the group reloadd-only)")
        known_labels |= set(RD[n]) | {"exported_" + l for l in RD[n] if l in TARGET}
    for n, matchers in sels:
        for l in re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", matchers):
            if n in RD and l not in set(RD[n]) | TARGET:
                bad.append(f"{e['where']}: {n} has no label {l}")
    for l in grouped - known_labels:
        bad.append(f"{e['where']}: grouping by {l}, which none of {sorted(names)} has")
    if "histogram_quantile" in x:
        for h in re.findall(r"histogram_quantile\(\s*[0-9.]+\s*,(.*)", x):
            if "_bucket" not in h or not re.search(r"\bby\s*\([^)]*\ble\b", h):
                bad.append(f"{e['where']}: histogram_quantile needs a sum by (..., le) of _bucket series")
    if e.get("panel"):
        for n, matchers in sels:
            if 'job=~".*"' not in matchers:
                bad.append(f"{e['where']}: {n} is not filtered by job=~\"$job\"")
            if 'namespace=~".*"' not in matchers:
                bad.append(f"{e['where']}: {n} is not filtered by namespace=~\"$namespace\"")
if bad:
    sys.exit("\n".join(bad))
PY

check "dashboard: every panel marked (reloadd only) says it shows no data on Stakater Reloader" \
    python3 - "$mon/grafana-dashboard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
bad = [p["title"] for p in d["panels"] if "(reloadd only)" in p["title"] and "no data on Stakater Reloader" not in p.get("description", "")]
if bad:
    sys.exit("no 'no data on Stakater Reloader' in: " + ", ".join(bad))
PY

check "rules_test.yaml: every input series is a sample reloadd exports, with its labels" \
    python3 - "$mon/rules_test.yaml" "$work/reloadd.json" <<'PY'
import json, re, sys, yaml
t = yaml.safe_load(open(sys.argv[1]))
rd = json.load(open(sys.argv[2]))
S = {}
for n, f in rd.items():
    if f["type"] == "histogram":
        S[n + "_bucket"] = f["labels"] + ["le"]; S[n + "_sum"] = f["labels"]; S[n + "_count"] = f["labels"]
    else:
        S[n] = f["labels"]
bad = []
for c in t["tests"]:
    for s in c["input_series"]:
        m = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\}", s["series"])
        name, labels = m.group(1), set(re.findall(r'(\w+)="', m.group(2)))
        if name not in S:
            bad.append(f"{c['name']}: {name} is not a sample reloadd exports"); continue
        missing = set(S[name]) - labels
        extra = labels - set(S[name]) - {"job", "namespace", "pod"}
        if missing or extra:
            bad.append(f"{c['name']}: {s['series']}: missing {sorted(missing)}, unknown {sorted(extra)}")
if bad:
    sys.exit("\n".join(bad))
PY

# ------------------------------------------------------------- the rules ---
check "prometheusrule.yaml: a monitoring.coreos.com/v1 PrometheusRule with rules.yaml's groups" python3 - "$mon/prometheusrule.yaml" "$mon/rules.yaml" <<'PY'
import sys, yaml
pr, rules = yaml.safe_load(open(sys.argv[1])), yaml.safe_load(open(sys.argv[2]))
assert pr["apiVersion"] == "monitoring.coreos.com/v1" and pr["kind"] == "PrometheusRule", "not a PrometheusRule"
assert pr["spec"]["groups"] == rules["groups"], "spec.groups differs from rules.yaml's groups"
names = [g["name"] for g in rules["groups"]]
assert names == ["reloader", "reloadd-only"], names
for g in rules["groups"]:
    for r in g["rules"]:
        assert r["labels"].get("severity") in ("info", "warning", "critical"), r["alert"]
        assert r["annotations"].get("summary") and r["annotations"].get("description"), r["alert"]
PY

# The dashboard's queries as recording rules, for promtool to parse.
python3 - "$work/exprs.json" >"$work/dashboard-rules.yaml" <<'PY'
import json, sys, yaml
exprs = [e for e in json.load(open(sys.argv[1])) if not e["where"].startswith("rule ")]
rules = [{"record": f"dashboard:query_{i}", "expr": e["promql"]} for i, e in enumerate(exprs)]
print(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
PY

if wait_promtool; then
    check "promtool check rules $mon/rules.yaml" "$promtool" check rules "$mon/rules.yaml"
    check "promtool test rules $mon/rules_test.yaml" "$promtool" test rules "$mon/rules_test.yaml"
    check "promtool check rules: every dashboard query is valid PromQL" "$promtool" check rules "$work/dashboard-rules.yaml"
fi

# ------------------------------------------------------------- kustomize ---
echo "== kustomize (deploy/kubernetes/monitoring)"
if ! command -v kubectl >/dev/null; then
    skipped "kustomize: kubectl not on PATH"
elif kubectl kustomize deploy/kubernetes/monitoring >"$work/k.yaml" 2>"$work/k.err"; then
    ok "kubectl kustomize deploy/kubernetes/monitoring"
    check "kustomize: ServiceMonitor first, the PrometheusRule and the dashboard ConfigMap unchanged" \
        python3 - "$work/k.yaml" "$mon/prometheusrule.yaml" "$mon/grafana-dashboard.json" <<'PY'
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
pr, dash = yaml.safe_load(open(sys.argv[2])), open(sys.argv[3]).read()
assert docs[0]["kind"] == "ServiceMonitor", "the ServiceMonitor is not the first document"
rules = [d for d in docs if d["kind"] == "PrometheusRule"]
assert len(rules) == 1 and rules[0]["spec"] == pr["spec"], "PrometheusRule missing or changed"
assert rules[0]["metadata"].get("namespace") == "reloadd", "PrometheusRule not in namespace reloadd"
cms = [d for d in docs if d["kind"] == "ConfigMap" and "grafana_dashboard" in d["metadata"].get("labels", {})]
assert len(cms) == 1, "no ConfigMap labelled grafana_dashboard"
data = cms[0]["data"]
assert list(data) == ["reloadd.json"], f"ConfigMap keys {list(data)}"
assert json.loads(data["reloadd.json"]) == json.loads(dash), "the ConfigMap's dashboard differs from the file"
PY
else
    bad "kubectl kustomize deploy/kubernetes/monitoring"; sed 's/^/       /' "$work/k.err"
fi

echo
echo "monitoring: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
