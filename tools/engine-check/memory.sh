#!/usr/bin/env bash
# tools/engine-check/memory.sh - what reloadd's caches cost, per object
#
# Acceptance of issue 4: with 10k ConfigMaps (1 KiB of data each), 10k
# Secrets and 5k Deployments (each referencing 1-3 of them through envFrom
# or volumes, annotated reloader.stakater.com/auto: "true"), measure the
# process RSS and the bytes per cached object. Targets: <= 300 B per
# ConfigMap/Secret, <= 1 KiB per workload beyond a fixed base, RSS <= 64 MiB.
#
# Each run starts reloadd (controller identity, --metrics-addr on a free
# port), waits for /readyz and for the startup pass
# (reloader_startup_sync_seconds > 0), lets it settle, then reads VmRSS and
# VmHWM from /proc/PID/status, process_resident_memory_bytes and
# reloader_cached_objects from /metrics, and (gdb) glibc's malloc_stats():
# bytes in use vs bytes taken from the system.
#   base      --namespaces=<an empty namespace>: the fixed cost
#   prime     cluster-wide with a high --kube-api-qps: the first start over
#             the data set records 5k baselines (metadata-only writes)
#   all       cluster-wide, the measurement
#   no-cm     cluster-wide, --resources-to-ignore=configmaps
#   no-secret cluster-wide, --resources-to-ignore=secrets
#   all-a1    as `all` with MALLOC_ARENA_MAX=1 (one malloc arena)
# After each reading, gdb calls malloc_trim(0) in the process and VmRSS is
# read again: what glibc holds in free chunks after the LISTs.
# Per ConfigMap = (all - no-cm) / configmaps cached, per Secret likewise,
# per workload = (all - base - configmaps - secrets) / workloads cached.
#
# Exits 0 if every target holds, 1 if one does not, 2 if it could not run.
#   eval "$(tools/cluster up)"; RELOADD_BIN=build/reloadd tools/engine-check/memory.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ec_need_cluster
NS=${NS:-eng-scale}
ec_ensure_dataset "$NS"
empty=$(ec_ns eng-empty)
results=$EC_TMP/results
: >"$results"

# malloc_stats() of the running process, via gdb: "in_use system" in bytes.
malloc_usage() {
    local log=$1 before
    before=$(wc -l <"$log")
    gdb -p "$EC_PID" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || { echo "- -"; return; }
    tail -n +"$((before + 1))" "$log" | awk '
        /Total \(incl/ { total = 1 }
        total && /system bytes/ { sys = $NF }
        total && /in use bytes/ { use = $NF }
        END { if (sys) print use, sys; else print "- -" }'
}

measure() { # LABEL [ENV=VALUE...] -- reloadd ARGS...
    local label=$1 envs=() rss hwm mrss startup cm sec dep mu trimmed t0=$SECONDS
    shift
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    if [ ${#envs[@]} -gt 0 ]; then
        export "${envs[@]}"
    fi
    ec_start_reloadd "$EC_TMP/$label.log" "$@"
    for e in "${envs[@]}"; do unset "${e%%=*}"; done
    ec_wait 600 "$label: /readyz" ec_ready
    ec_wait 900 "$label: startup pass" ec_startup_done
    sleep 5
    rss=$(ec_rss_kib "$EC_PID")
    hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$EC_PID/status")
    mrss=$(ec_metric process_resident_memory_bytes)
    startup=$(ec_metric reloader_startup_sync_seconds)
    cm=$(ec_metric reloader_cached_objects 'kind="configmaps"')
    sec=$(ec_metric reloader_cached_objects 'kind="secrets"')
    dep=$(ec_metric reloader_cached_objects 'kind="deployments"')
    mu=$(malloc_usage "$EC_TMP/$label.log")
    # What glibc would give back: malloc_trim(0) in the process, then VmRSS.
    gdb -p "$EC_PID" -batch -ex 'call (int)malloc_trim(0)' >/dev/null 2>&1 || true
    trimmed=$(ec_rss_kib "$EC_PID")
    ec_stop_reloadd
    printf '%-9s rss_kib=%s metrics_rss=%.0f hwm_kib=%s trimmed_kib=%s startup_s=%.2f cms=%.0f secrets=%.0f deployments=%.0f malloc_in_use=%s malloc_system=%s (%ds)\n' \
        "$label" "$rss" "$mrss" "$hwm" "$trimmed" "$startup" "$cm" "$sec" "$dep" ${mu} $((SECONDS - t0)) |
        tee -a "$results" >&2
}

# Only `prime` writes (baselines on a first start); the others run with
# --dry-run: --resources-to-ignore would otherwise rewrite the applied
# records of every workload referencing the ignored kind.
measure base -- --namespaces="$empty" --dry-run
measure prime -- --kube-api-qps=1000 --kube-api-burst=2000
measure all -- --dry-run
measure no-cm -- --resources-to-ignore=configmaps --dry-run
measure no-secret -- --resources-to-ignore=secrets --dry-run
measure all-a1 MALLOC_ARENA_MAX=1 -- --dry-run

awk '
    function field(line, name,   re) {
        re = name "=[^ ]*"
        if (match(line, re)) return substr(line, RSTART + length(name) + 1, RLENGTH - length(name) - 1)
        return ""
    }
    { rss[$1] = field($0, "rss_kib") * 1024; mrss[$1] = field($0, "metrics_rss")
      trim[$1] = field($0, "trimmed_kib") * 1024
      use[$1] = field($0, "malloc_in_use"); cms[$1] = field($0, "cms")
      secs[$1] = field($0, "secrets"); deps[$1] = field($0, "deployments") }
    END {
        ncm = cms["all"]; nsec = secs["all"]; ndep = deps["all"]
        per_cm = (rss["all"] - rss["no-cm"]) / ncm
        per_sec = (rss["all"] - rss["no-secret"]) / nsec
        per_dep = (rss["all"] - rss["base"] - ncm * per_cm - nsec * per_sec) / ndep
        printf "\nRSS: base %.1f MiB, all %.1f MiB (metrics %.1f MiB), all with one arena %.1f MiB\n",
            rss["base"] / 1048576, rss["all"] / 1048576, mrss["all"] / 1048576, rss["all-a1"] / 1048576
        printf "per ConfigMap %.0f B, per Secret %.0f B, per Deployment %.0f B (RSS deltas)\n",
            per_cm, per_sec, per_dep
        t_cm = (trim["all"] - trim["no-cm"]) / ncm
        t_sec = (trim["all"] - trim["no-secret"]) / nsec
        t_dep = (trim["all"] - trim["base"] - ncm * t_cm - nsec * t_sec) / ndep
        printf "after malloc_trim(0): base %.1f MiB, all %.1f MiB; per ConfigMap %.0f B, per Secret %.0f B, per Deployment %.0f B\n",
            trim["base"] / 1048576, trim["all"] / 1048576, t_cm, t_sec, t_dep
        if (use["all"] != "-" && use["no-cm"] != "-") {
            u_cm = (use["all"] - use["no-cm"]) / ncm
            u_sec = (use["all"] - use["no-secret"]) / nsec
            u_dep = (use["all"] - use["base"] - ncm * u_cm - nsec * u_sec) / ndep
            printf "malloc in use: base %.1f MiB, all %.1f MiB; per ConfigMap %.0f B, per Secret %.0f B, per Deployment %.0f B\n",
                use["base"] / 1048576, use["all"] / 1048576, u_cm, u_sec, u_dep
        }
        ok = per_cm <= 300 && per_sec <= 300 && per_dep <= 1024 && rss["all"] <= 64 * 1048576
        printf "targets (<= 300 B per source, <= 1 KiB per workload, <= 64 MiB): %s\n", ok ? "met" : "NOT met"
        exit !ok
    }' "$results"
