# Reload alerts (docs/reloader.md §9.2): a loopback receiver gets Reloader's exact payload
# for each ALERT_SINK; a receiver that never answers does not delay
# reloads (reload latency measured with it and without alerts).
e2e_needs host-loopback audit-log
ns=$(e2e_ns alerts)

# A loopback HTTP receiver: records each POST as a JSON line; "hang" never answers.
cat >"$E2E_DIR/recv.py" <<'PY'
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
portfile, logfile, mode = sys.argv[1], sys.argv[2], sys.argv[3]
fails = [int(x) for x in mode.split(":")[1:]] if mode.startswith("fail") else [0, 0]
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8", "replace")
        with lock:
            with open(logfile, "a") as f:
                f.write(json.dumps({"t": time.time(), "path": self.path,
                                    "ctype": self.headers.get("Content-Type"), "body": body}) + "\n")
            status = 200
            if fails[0] > 0:
                fails[0] -= 1
                status = fails[1]
        if mode == "hang":
            time.sleep(3600)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *a):
        pass
ThreadingHTTPServer.daemon_threads = True
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(portfile + ".tmp", portfile)
s.serve_forever()
PY
# start_receiver NAME MODE: sets RECV_URL, RECV_LOG; the receiver is stopped with the case.
start_receiver() {
    RECV_LOG=$E2E_DIR/recv-$1.jsonl
    : >"$RECV_LOG"
    python3 "$E2E_DIR/recv.py" "$E2E_DIR/recv-$1.port" "$RECV_LOG" "$2" &
    E2E_PIDS+=($!)
    e2e_wait 10 "receiver $1" test -s "$E2E_DIR/recv-$1.port"
    RECV_URL="http://127.0.0.1:$(cat "$E2E_DIR/recv-$1.port")"
}
requests() { wc -l <"$RECV_LOG"; }

e2e_cm "$ns" cfg v=0
e2e_deploy "$ns" app '{reloader.stakater.com/auto: "true"}' "$(e2e_container '        envFrom: [{configMapRef: {name: cfg}}]')"
version=0
msg="Reloader detected changes in *cfg* of type *CONFIGMAP* in namespace *$ns*. Hence reloaded *app* of type *Deployment* in namespace *$ns*"
info='e2e <cluster> & "friends"'
for sink in slack teams gchat webhook; do
    start_receiver "$sink" ok
    ALERT_ON_RELOAD=true ALERT_WEBHOOK_URL="  $RECV_URL/hook  " ALERT_SINK=" ${sink^^} " \
        ALERT_ADDITIONAL_INFO="  $info " e2e_start_reloadd --namespaces="$ns"
    e2e_wait_recorded "$ns" Deployment/app
    version=$((version + 1))
    e2e_cm "$ns" cfg v=$version
    e2e_wait 10 "an alert at the $sink receiver" bash -c "[ -s '$RECV_LOG' ]"
    e2e_settled "$ns" 1
    [ "$(requests)" = 1 ] || e2e_fail "$sink receiver got $(requests) requests, want 1"
    full="$info : $msg"
    case $sink in
    slack) want_ct=application/json
        want=$(jq -cn --arg t "$full" '{attachments: [{author_name: "Reloader", color: "good", text: $t}]}') ;;
    teams|gchat) want_ct=application/json; want=$(jq -cn --arg t "$full" '{text: $t}') ;;
    webhook) want_ct=text/plain; want=${full//\*/} ;;
    esac
    # Go's encoding/json escapes < > & as \u003c \u003e \u0026.
    [ "$want_ct" = application/json ] && want=$(sed 's/</\\u003c/g; s/>/\\u003e/g; s/&/\\u0026/g' <<<"$want")
    got=$(jq -r .body "$RECV_LOG") got_ct=$(jq -r .ctype "$RECV_LOG") path=$(jq -r .path "$RECV_LOG")
    [ "$got" = "$want" ] || e2e_fail "$sink payload:
got  $got
want $want"
    [ "$got_ct" = "$want_ct" ] || e2e_fail "$sink content type $got_ct, want $want_ct"
    [ "$path" = /hook ] || e2e_fail "$sink path $path"
    e2e_log "$sink: exact payload ($got_ct)"
    e2e_stop_reloadd "$E2E_RELOADD_PID"
done

# reload_latencies LABEL: K changes, one every 2 s; prints the ms from each
# apply to the rollout, one per line, into $E2E_DIR/lat-LABEL.
K=6
reload_latencies() {
    local out=$E2E_DIR/lat-$1 i gen t0 t1
    : >"$out"
    for i in $(seq 1 $K); do
        gen=$(e2e_generation "$ns" Deployment/app)
        version=$((version + 1))
        t0=$(date +%s%3N)
        e2e_cm "$ns" cfg v=$version
        until [ "$(e2e_generation "$ns" Deployment/app)" -gt "$gen" ]; do
            (( $(date +%s%3N) - t0 < 15000 )) || e2e_fail "$1: reload $i not within 15 s"
            sleep 0.05
        done
        t1=$(date +%s%3N)
        echo $((t1 - t0)) >>"$out"
        sleep 1
    done
}
stats() { sort -n "$1" | awk '{a[NR]=$1} END {printf "median %d ms, max %d ms", a[int((NR+1)/2)], a[NR]}'; }
# reloadd's own view, source event -> write: "count mean_ms within_1s" from /metrics.
server_latency() {
    curl -fsS "http://127.0.0.1:$E2E_RELOADD_PORT/metrics" | awk '
        /^reloader_reconcile_latency_seconds_sum / {s = $2}
        /^reloader_reconcile_latency_seconds_count / {c = $2}
        /^reloader_reconcile_latency_seconds_bucket\{le="1"\} / {b = $2}
        END {printf "%d %d %d", c, (c ? s / c * 1000 : -1), b}'
}

e2e_log "latency without alerts"
e2e_start_reloadd --namespaces="$ns" --coalesce-window=100ms
reload_latencies none
read -r n_none mean_none fast_none <<<"$(server_latency)"
e2e_stop_reloadd "$E2E_RELOADD_PID"

e2e_log "latency with alerts to a receiver that never answers"
start_receiver hang hang
ALERT_ON_RELOAD=true ALERT_WEBHOOK_URL="$RECV_URL" ALERT_SINK=slack \
    e2e_start_reloadd --namespaces="$ns" --coalesce-window=100ms
reload_latencies hang
read -r n_hang mean_hang fast_hang <<<"$(server_latency)"
[ "$(requests)" -ge 1 ] || e2e_fail "the hanging receiver got no alert"
e2e_log "client side (kubectl apply -> generation seen): without alerts $(stats "$E2E_DIR/lat-none"); hanging receiver $(stats "$E2E_DIR/lat-hang")"
e2e_log "reloadd side (source event -> write): without alerts mean $mean_none ms over $n_none, $fast_none within 1 s; hanging receiver mean $mean_hang ms over $n_hang, $fast_hang within 1 s; the receiver got $(requests) requests and answered none"
[ "$n_none" = $K ] && [ "$n_hang" = $K ] || e2e_fail "want $K reloads each, got $n_none and $n_hang"
[ "$fast_hang" = $K ] || e2e_fail "with a hanging receiver only $fast_hang of $K reloads took under 1 s"
((mean_hang <= mean_none + 250)) || e2e_fail "a hanging alert receiver delayed reloads: mean $mean_hang ms vs $mean_none ms"
t0=$(date +%s%3N)
e2e_stop_reloadd "$E2E_RELOADD_PID"
e2e_log "stop with alerts stuck in a hanging receiver took $(( $(date +%s%3N) - t0 )) ms"
grep -q "error sending alert" "$E2E_DIR"/reloadd-*.log || e2e_fail "no 'error sending alert' log line"
