# --webhook-url mode (docs/reloader.md §9.1): no workload is touched; every qualifying
# source change POSTs {"webhook":"update successful"}; a non-2xx answer is
# an error and is retried (Reloader ignored the status); create and delete
# post only with --reload-on-create / --reload-on-delete.
e2e_needs host-loopback
ns=$(e2e_ns webhook)

cat >"$E2E_DIR/recv.py" <<'PY'
import json, sys, threading, time, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
portfile, logfile, failfile = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with lock:
            status = 200
            try:
                n = int(open(failfile).read() or 0)
            except OSError:
                n = 0
            if n > 0:
                open(failfile, "w").write(str(n - 1))
                status = 500
            with open(logfile, "a") as f:
                f.write(json.dumps({"t": time.time(), "ctype": self.headers.get("Content-Type"),
                                    "body": body, "status": status}) + "\n")
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
log=$E2E_DIR/recv.jsonl fail=$E2E_DIR/fail
: >"$log"; echo 0 >"$fail"
python3 "$E2E_DIR/recv.py" "$E2E_DIR/port" "$log" "$fail" &
E2E_PIDS+=($!)
e2e_wait 10 "receiver" test -s "$E2E_DIR/port"
url="http://127.0.0.1:$(cat "$E2E_DIR/port")/"
posts() { wc -l <"$log"; }

e2e_cm "$ns" cfg v=0
e2e_deploy "$ns" app '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
e2e_start_reloadd --namespaces="$ns" --webhook-url="$url" --reload-on-create=true
gen=$(e2e_generation "$ns" Deployment/app)
sleep 1
[ "$(posts)" = 0 ] || e2e_fail "webhook posted at startup ($(posts))"

e2e_log "an update posts once, exactly Reloader's body"
e2e_cm "$ns" cfg v=1
e2e_wait 10 "a webhook post" bash -c "[ \$(wc -l <'$log') -ge 1 ]"
sleep 1
[ "$(posts)" = 1 ] || e2e_fail "$(posts) posts for one update, want 1"
jq -e '.body == "{\"webhook\":\"update successful\"}" and .ctype == "application/json"' "$log" >/dev/null ||
    e2e_fail "webhook request: $(cat "$log")"

e2e_log "an update without a data change posts nothing"
kubectl label configmap -n "$ns" cfg touched=yes >/dev/null
sleep 2
[ "$(posts)" = 1 ] || e2e_fail "a label change posted a webhook"

e2e_log "a create posts (--reload-on-create); a delete does not (no --reload-on-delete)"
e2e_secret "$ns" new-secret s=1
e2e_wait 10 "webhook for the created Secret" bash -c "[ \$(wc -l <'$log') -ge 2 ]"
kubectl delete secret -n "$ns" new-secret >/dev/null
sleep 2
[ "$(posts)" = 2 ] || e2e_fail "$(posts) posts after create + delete, want 2"

e2e_log "HTTP 500 twice: retried until accepted"
echo 2 >"$fail"
e2e_cm "$ns" cfg v=2
e2e_wait 15 "three attempts" bash -c "[ \$(wc -l <'$log') -ge 5 ]"
sleep 2
[ "$(posts)" = 5 ] || e2e_fail "$(posts) posts, want 5"
[ "$(jq -s '[.[-3:][] | .status] | join(",")' -r "$log")" = "500,500,200" ] || e2e_fail "statuses $(jq -s -c '[.[].status]' "$log")"
grep -q "notification attempt failed; retrying" "$E2E_DIR"/reloadd-*.log || e2e_fail "no retry logged"

[ "$(e2e_generation "$ns" Deployment/app)" = "$gen" ] || e2e_fail "webhook mode touched the Deployment"
kubectl get -n "$ns" deployment/app -o json | jq -e '.metadata.annotations["reloadd.io/applied"] == null' >/dev/null ||
    e2e_fail "webhook mode recorded on the Deployment"
e2e_stop_reloadd "$E2E_RELOADD_PID"
