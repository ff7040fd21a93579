#!/usr/bin/env bash
# tools/engine-check/secret-core.sh - no Secret byte survives in reloadd's memory
#
# Acceptance of issue 4: "a Secret whose data holds a unique random marker
# is synced; a core dump of the running process (gcore) does not contain
# the marker". Four Secrets, each holding its own random marker, reach a
# running reloadd by every path an informer has:
#   a  exists before start (LIST), then is changed (watch MODIFIED) to
#   c  a new marker;
#   b  is created after start (watch ADDED), 96 KiB large so its event
#      spans many reads (the watch line buffer);
#   d  is created then deleted (watch ADDED, DELETED: the deleted object
#      carries its data too).
# A Deployment references all four; reloadd's record on it holds the hash
# of each, which must equal the docs/reloader.md §4.1 hash computed here
# (so each version really was decoded). Then `gcore` dumps the process and
# the dump is searched for every marker, plain and base64, and for every
# 16-character window of both (a freed string keeps its tail when its head
# is reused).
#
# Exits 0 if nothing is found, 1 if any marker is in the dump (each hit is
# then described by coremap.py: address, mapping, bytes around it), 2 if
# the check could not run.
#
#   eval "$(tools/cluster up)"; RELOADD_BIN=build/reloadd tools/engine-check/secret-core.sh
set -euo pipefail
. "$(dirname "$0")/lib.sh"
ec_need_cluster
command -v gcore >/dev/null || ec_die "gcore not found (Debian package gdb)"

ns=$(ec_ns eng-sec)
marker() { echo "RLMARK$(openssl rand -hex 12)"; }     # 30 bytes: base64 without padding
mA=$(marker) mB=$(marker) mC=$(marker) mD=$(marker)
b64() { printf '%s' "$1" | base64 -w0; }
sha() { printf 'k=%s' "$1" | sha1sum | cut -d' ' -f1; }

# b's value: 96 KiB of printable filler with the marker at an offset that is
# a multiple of 3, so the API's base64 of the value contains b64(mB).
filler=$(head -c 73728 /dev/urandom | base64 -w0)           # 98304 characters
valB=${filler:0:49152}$mB${filler:49152}
printf '%s' "$valB" >"$EC_TMP/b.value"

kubectl -n "$ns" create secret generic a --from-literal=k="$mA" >/dev/null
kubectl -n "$ns" apply -f - >/dev/null <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  annotations: {reloader.stakater.com/auto: "true"}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
      - name: c
        image: busybox
        envFrom:
        - secretRef: {name: a, optional: true}
        - secretRef: {name: b, optional: true}
        - secretRef: {name: d, optional: true}
YAML

ec_start_reloadd "$EC_TMP/reloadd.log" --namespaces="$ns"
ec_wait 30 "reloadd ready" ec_ready

# record_hash NAME: the hash of Secret NAME in reloadd's record on the
# Deployment ("absent" if none). /explain shows only keyed fingerprints of
# Secret hashes; the record (like Reloader's env var marker) holds the hash.
record_hash() {
    kubectl get -n "$ns" deployment/app -o json |
        python3 -c 'import json,sys
d = json.load(sys.stdin)
rec = json.loads(d["metadata"].get("annotations", {}).get("reloadd.io/applied", "{}"))
print(rec.get("secret/" + sys.argv[1], "absent"))' "$1"
}
hash_is() { [ "$(record_hash "$1")" = "$2" ]; }

ec_wait 30 "a (listed) synced" hash_is a "$(sha "$mA")"
kubectl -n "$ns" create secret generic b --from-file=k="$EC_TMP/b.value" >/dev/null
kubectl -n "$ns" patch secret a -p "{\"data\":{\"k\":\"$(b64 "$mC")\"}}" >/dev/null
kubectl -n "$ns" create secret generic d --from-literal=k="$mD" >/dev/null
ec_wait 30 "b (added) synced" hash_is b "$(printf 'k=%s' "$valB" | sha1sum | cut -d' ' -f1)"
ec_wait 30 "a (modified) synced" hash_is a "$(sha "$mC")"
ec_wait 30 "d (added) synced" hash_is d "$(sha "$mD")"
kubectl -n "$ns" delete secret d >/dev/null
ec_wait 30 "d (deleted) synced" hash_is d absent
sleep 2         # let the workers finish with the rollouts the changes caused
ec_log "every version synced; dumping pid $EC_PID"

gcore -o "$EC_TMP/core" "$EC_PID" >"$EC_TMP/gcore.log" 2>&1 || {
    cat "$EC_TMP/gcore.log" >&2; ec_die "gcore failed"; }
core=$(ls "$EC_TMP"/core.*)
ec_log "core: $(du -h "$core" | cut -f1)"

# Every marker plain and base64, and every 16-character window of both.
pats=$EC_TMP/patterns
: >"$pats"
for m in "$mA" "$mB" "$mC" "$mD"; do
    for s in "$m" "$(b64 "$m")"; do
        echo "$s" >>"$pats"
        for ((i = 0; i + 16 <= ${#s}; i++)); do echo "${s:i:16}" >>"$pats"; done
    done
done
found=0
for m in "$mA" "$mB" "$mC" "$mD"; do
    plain=$(LC_ALL=C grep -a -o -F "$m" "$core" | wc -l || true)
    full=$(LC_ALL=C grep -a -o -F "$(b64 "$m")" "$core" | wc -l || true)
    echo "marker $m: plain $plain, base64 $full"
done
windows=$(LC_ALL=C grep -a -c -F -f "$pats" "$core" || true)
echo "lines of the dump holding a 16-character window of any marker: $windows"
if [ "$windows" -gt 0 ]; then
    found=1
    python3 "$(dirname "$0")/coremap.py" "$core" "$EC_PID" "$pats"
fi
rm -f "$core"
if [ $found -ne 0 ]; then
    echo "FAIL: Secret data is in the memory of reloadd"
    exit 1
fi
echo "PASS: no marker in the core dump"
