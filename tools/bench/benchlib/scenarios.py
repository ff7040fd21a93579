"""The scenarios: class Bench runs S1 (initial sync), S2 (steady churn), S3
(fan-out), S4 (restart, nothing changed) and S5 (failover) and emits one
JSON line of figures each; pct(), ms() and secs() shape the figures."""

import datetime
import json
import os
import random
import shlex
import signal
import statistics
import subprocess
import threading
import time

from .audit import Audit
from .common import WORKLOAD_RESOURCES, WRITE_VERBS, BenchError, log
from .controller import Controller, metric_sum, proc_status, sched_wait, wait_ready_all
from .watch import SourceWatch, rollouts_between
from .writer import Writer


def pct(xs, q):
    if not xs:
        return None
    s = sorted(xs)
    k = (len(s) - 1) * q
    f = int(k)
    c = min(f + 1, len(s) - 1)
    return s[f] + (s[c] - s[f]) * (k - f)


def ms(x):
    return None if x is None else round(x * 1000, 1)


def secs(x):
    return None if x is None else round(x, 3)


class Bench:
    def __init__(self, args, cluster, plan, run, results):
        self.args = args
        self.cluster = cluster
        self.plan = plan
        self.run = run
        self.results = results
        self.runid = "%s%d" % (os.urandom(2).hex(), run)
        self.artifacts = args.artifacts_run
        self.audit = Audit(cluster.audit_path)
        self.writer = None
        self.procs = []
        self.ctl = None          # the single-replica controller of S1-S3
        self.churn_used = set()
        self.failed = False
        self.rollouts = None     # started once the objects exist
        self.base = None

    def rollouts_now(self):
        time.sleep(2)  # the counter's watch trails the writes by milliseconds
        return self.rollouts.snapshot()

    def base_rss(self):
        """RSS of the controller on the cluster before the bench objects exist."""
        c = self.start("base")
        ready = c.wait_ready(60)
        time.sleep(3)
        st = proc_status(c.pid) or {}
        c.stop()
        return {"ready_s": secs(ready), "rss_bytes": st.get("VmRSS", 0) * 1024 if st else None,
                "rss_anon_bytes": st.get("RssAnon", 0) * 1024 if st else None,
                "rss_file_bytes": st.get("RssFile", 0) * 1024 if st else None}

    # -- helpers

    def emit(self, scenario, figures, ok, t0):
        line = {"scenario": scenario, "ok": ok, "scale": self.args.scale, "run": self.run,
                "label": self.args.label, "controller": self.args.controller,
                "time": datetime.datetime.fromtimestamp(t0, datetime.timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                "loadavg": [round(x, 2) for x in os.getloadavg()]}
        line.update(figures)
        s = json.dumps(line, separators=(",", ":"))
        print(s, flush=True)
        if self.results:
            with open(self.results, "a") as f:
                f.write(s + "\n")
        if not ok:
            self.failed = True

    def start(self, role, extra=()):
        c = Controller(self, "bench-%s-%s" % (self.runid, role), extra)
        self.procs.append(c)
        return c

    def stop_all(self):
        for c in self.procs:
            if c.alive():
                c.stop()

    def wait_settled(self, users, want, t0, quiet, timeout, ctl=None, stall=60):
        """Waits until every workload in `want` (when given) has a write by
        `users` after t0, then until no write happened for `quiet` s; gives
        up after `timeout` s, or after `stall` s without any new write.
        Returns (time of the last write or None, number of writes)."""
        end = time.time() + timeout
        last_n = -1
        last_change = time.time()
        while time.time() < end:
            self.audit.poll()
            ws = self.audit.select(users, t0, None, WRITE_VERBS, WORKLOAD_RESOURCES, True)
            if len(ws) != last_n:
                last_n = len(ws)
                last_change = time.time()
            idle = time.time() - last_change
            covered = True
            if want:
                done = {(e["res"], e["ns"], e["name"]) for e in ws}
                covered = want <= done
            if covered and idle >= quiet:
                break
            if not covered and idle >= stall:
                log("no progress for %d s: %d of %d workloads written" % (stall, len(want & done), len(want)))
                break
            if ctl is not None and not ctl.alive():
                break
            time.sleep(0.25)
        ws = self.audit.select(users, t0, None, WRITE_VERBS, WORKLOAD_RESOURCES, True)
        return max((e["recv"] for e in ws), default=None), len(ws)

    def wait_sync(self, c, ready, want):
        """The controller's startup figure when it has one, else the audit
        log's last workload write once writes stopped."""
        synced_metric = None
        end = time.time() + self.args.sync_timeout
        while time.time() < end and c.alive():
            v = metric_sum(c.metrics(), "reloader_startup_sync_seconds")
            if v:
                synced_metric = v
                break
            if v is None and (ready is None or time.time() - c.t_start > ready + 5):
                break  # no such metric: rely on the audit log
            time.sleep(0.2)
        if synced_metric:
            want = None
        last, n = self.wait_settled({c.identity}, want, c.t_start, self.args.quiet,
                                    max(10, end - time.time()), c)
        return synced_metric, last, n

    def wait_idle(self, c, timeout=180):
        """Waits until the controller is idle: its work queue is empty (when it
        exports reloader_workqueue_depth) and it used under 5 % of a CPU over
        the last 2 s. Returns the seconds waited."""
        t0 = time.time()
        prev = proc_status(c.pid)
        while time.time() - t0 < timeout and c.alive():
            time.sleep(2)
            cur = proc_status(c.pid)
            depth = metric_sum(c.metrics(), "reloader_workqueue_depth")
            if prev and cur and cur["cpu_s"] - prev["cpu_s"] < 0.1 and not depth:
                break
            prev = cur
        return round(time.time() - t0, 1)

    def counters(self, m0, m1):
        """Deltas of the controller's reconcile and queue counters (None when absent)."""
        out = {}
        for name in ("reloader_reconcile_total", "reloader_workqueue_adds_total",
                     "reloader_events_received_total"):
            a, b = metric_sum(m0, name), metric_sum(m1, name)
            if b is not None:
                out[name] = int(b - (a or 0))
        return out or None

    def metrics_load(self, m0, m1):
        """Deltas of the controller's own request counters (None when absent)."""
        def by(ms, name, label):
            return metric_sum(ms, name, label) if ms else None
        out = {}
        for name, label in (("reloader_api_requests_total", "verb"),
                            ("rest_client_requests_total", "method")):
            a, b = by(m0, name, label), by(m1, name, label)
            if b is None:
                continue
            a = a or {}
            out[name] = {k: int(v - a.get(k, 0)) for k, v in b.items() if v - a.get(k, 0) > 0}
        return out or None

    def churn_sources(self, n, kinds_ratio=0.7):
        """n private sources (exactly one dependent each), at most one per workload."""
        rng = random.Random(self.args.seed + 1000 + self.run)
        ws = sorted(w for w in self.plan.private if self.plan.private[w] and w[1] != "bench-fanout")
        rng.shuffle(ws)
        out = []
        for w in ws:
            srcs = self.plan.private[w]
            cms = [s for s in srcs if s[0] == "configmaps"]
            sec = [s for s in srcs if s[0] == "secrets"]
            pick = cms if (rng.random() < kinds_ratio and cms) or not sec else sec
            out.append(pick[0])
            if len(out) >= n:
                break
        return out

    # -- S1: initial sync

    def s1(self):
        t0 = time.time()
        g0 = self.rollouts_now()
        self.audit.poll()
        c = self.start("a")
        self.ctl = c
        users = {c.identity}
        ready = c.wait_ready(self.args.ready_timeout)
        want = set(self.plan.managed) if self.args.expect_baselines else None
        synced_metric, last, nwrites = self.wait_sync(c, ready, want)
        time.sleep(1)
        st = proc_status(c.pid) or {}
        m = c.metrics()
        cached = metric_sum(m, "reloader_cached_objects", "kind")
        ncached = sum(cached.values()) if cached else None
        rss = st.get("VmRSS", 0) * 1024 if st else None
        g1 = self.rollouts_now()
        self.audit.poll()
        written = {(e["res"], e["ns"], e["name"]) for e in
                   self.audit.select(users, c.t_start, None, WRITE_VERBS, WORKLOAD_RESOURCES, True)}
        # reloadd's workload state: its batches to the ConfigMaps reloadd-state-NN (docs/reconcile.md).
        state = [e for e in self.audit.select(users, c.t_start, None, WRITE_VERBS, ("configmaps",), True)
                 if (e.get("name") or "").startswith("reloadd-state-")
                 or (not e.get("name") and e.get("ns") == self.args.pod_namespace)]
        fig = {
            "ready_s": secs(ready),
            "synced_s_metric": secs(synced_metric),
            "state_writes": len(state),
            "synced_s_audit": secs(last - c.t_start) if last else None,
            "workload_writes": nwrites,
            "workloads_written": len(written),
            "managed_workloads": len(self.plan.managed),
            "rollouts": rollouts_between(g0, g1),
            "rss_bytes": rss,
            "hwm_bytes": st.get("VmHWM", 0) * 1024 if st else None,
            "rss_anon_bytes": st.get("RssAnon", 0) * 1024 if st else None,
            "rss_file_bytes": st.get("RssFile", 0) * 1024 if st else None,
            "cpu_s": secs(st.get("cpu_s")) if st else None,
            "runqueue_wait_s": secs(sched_wait(c.pid)),
            "threads": st.get("Threads"),
            "cached_objects": cached,
            "bytes_per_cached_object": round(rss / ncached, 1) if rss and ncached else None,
            "bytes_per_cached_object_beyond_base": round((rss - self.base["rss_bytes"]) / ncached, 1)
            if rss and ncached and self.base and self.base.get("rss_bytes") else None,
            "api_audit": self.audit.load(users, c.t_start, time.time()),
            "api_metrics": self.metrics_load(None, m),
        }
        ok = ready is not None and c.alive() and fig["rollouts"] == 0
        if not c.alive():
            fig["error"] = "controller exited: " + "".join(c.tail(5))
        self.emit("S1", fig, ok, t0)

    def ensure_ctl(self):
        if self.ctl is None or not self.ctl.alive():
            self.ctl = self.start("a%d" % len(self.procs))
            self.ctl.wait_ready(self.args.ready_timeout)
            self.wait_settled({self.ctl.identity}, None, self.ctl.t_start, self.args.quiet,
                              self.args.sync_timeout, self.ctl)
        return self.ctl

    # -- S2: steady churn

    def s2(self):
        t0 = time.time()
        c = self.ensure_ctl()
        users = {c.identity}
        n = int(self.args.rate * self.args.churn_seconds)
        pool = self.churn_sources(max(1, min(n, 100000)))
        if not pool:
            self.emit("S2", {"error": "no churn sources in the plan"}, False, t0)
            return
        # Round robin: a source changes at most every len(pool)/rate seconds.
        items = [pool[i % len(pool)] for i in range(n)]
        spacing = len(pool) / self.args.rate
        idle = self.wait_idle(c)
        g0 = self.rollouts_now()
        m0 = c.metrics()
        st0 = proc_status(c.pid) or {}
        sw0 = sched_wait(c.pid)
        self.audit.poll()
        if self.writer is None:
            self.writer = Writer(self.cluster)
        rss_max = [0]
        stop = threading.Event()

        def sampler():
            while not stop.is_set():
                s = proc_status(c.pid)
                if s:
                    rss_max[0] = max(rss_max[0], s["VmRSS"] * 1024)
                stop.wait(0.5)

        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        sw = SourceWatch(self.cluster)
        tw = time.time()
        sent, errors, span = self.writer.paced(items, self.args.rate, "s2-%s" % self.runid)
        want = set()
        for s in items:
            want |= self.plan.dependents.get(s, set())
        # Settle: each dependent written after the writer started, then quiet.
        self.wait_settled(users, want, tw, 3, self.args.settle_timeout, c)
        t_end = time.time()
        stop.set()
        th.join()
        sw.stop()
        self.audit.poll()
        lat, missed, writes_per = self.match_latency(users, tw, t_end, sw.arrivals)
        g1 = self.rollouts_now()
        m1 = c.metrics()
        st1 = proc_status(c.pid) or {}
        sw1 = sched_wait(c.pid)
        rollouts = rollouts_between(g0, g1)
        expected = sum(len(self.plan.dependents.get(s, ())) for s in items)
        load = self.audit.load(users, tw, t_end)
        fig = {
            "rate": self.args.rate, "seconds": self.args.churn_seconds, "updates": n,
            "idle_wait_s": idle, "controller_counters": self.counters(m0, m1),
            "update_errors": len(errors), "writer_span_s": round(span, 2),
            "sources": len(pool), "min_spacing_s": round(spacing, 2),
            "reloads_expected": expected, "reloads_seen": len(lat), "missed": missed,
            "latency_ms": {"p50": ms(pct(lat, 0.5)), "p90": ms(pct(lat, 0.9)),
                           "p99": ms(pct(lat, 0.99)), "max": ms(max(lat) if lat else None),
                           "mean": ms(statistics.mean(lat) if lat else None)},
            "window_s": self.args.window,
            "p99_beyond_window_ms": ms(pct(lat, 0.99) - self.args.window) if lat else None,
            "within_window_50ms": round(sum(1 for x in lat if x <= self.args.window + 0.05) / len(lat), 4)
            if lat else None,
            "rollouts": rollouts, "rollouts_per_change": round(rollouts / n, 3),
            "writes_per_change": round(writes_per, 3) if writes_per is not None else None,
            "api_audit": load,
            "api_reads_per_change": round(load["reads"] / n, 4),
            "api_metrics": self.metrics_load(m0, m1),
            "rss_max_bytes": rss_max[0] or None,
            "cpu_s": secs(st1["cpu_s"] - st0["cpu_s"]) if st0 and st1 else None,
            "runqueue_wait_s": secs(sw1 - sw0) if sw0 is not None and sw1 is not None else None,
            "server_ms": self.server_durations(users, tw, t_end),
            "harness_watch_delivery_ms": {"p50": ms(pct(self.delivery, 0.5)),
                                          "p99": ms(pct(self.delivery, 0.99)),
                                          "max": ms(max(self.delivery) if self.delivery else None),
                                          "n": len(self.delivery)},
            "latency_after_harness_delivery_ms": {
                "p50": ms(pct(self.after_delivery, 0.5)), "p99": ms(pct(self.after_delivery, 0.99)),
                "max": ms(max(self.after_delivery) if self.after_delivery else None)},
            "latency_series": self.series,
        }
        # Every update followed by a write of each dependent, and no more
        # rollouts than changes (fewer when changes waiting in the queue
        # were coalesced into one rollout).
        fig["coalesced"] = expected - rollouts
        ok = missed == 0 and not errors and c.alive() and rollouts <= expected
        self.emit("S2", fig, ok, t0)

    def match_latency(self, users, t0, t1, arrivals=None):
        """For each update by the writer in [t0, t1]: for each dependent, the
        first controller write after the update's server-side time."""
        ups = [e for e in self.audit.select({"bench-writer"}, t0, t1, ("patch",),
                                            ("configmaps", "secrets"), True)]
        ups.sort(key=lambda e: e["done"])
        writes = self.audit.workload_writes(users, t0, None)
        self.series = []
        self.delivery, self.after_delivery = [], []
        seen = {}
        lat, missed = [], 0
        for u in ups:
            src = (u["res"], u["ns"], u["name"])
            k = seen.get(src, 0)
            seen[src] = k + 1
            arr = (arrivals or {}).get(src, [])
            ta = arr[k] if k < len(arr) else None  # the k-th change of src seen by the harness
            if ta is not None:
                self.delivery.append(ta - u["done"])
            for w in self.plan.dependents.get(src, ()):
                ts = writes.get(w, [])
                t = next((x for x in ts if x >= u["done"]), None)
                if t is None:
                    # The write may arrive before ResponseComplete of the
                    # update (the watch event can beat the response).
                    t = next((x for x in ts if x >= u["recv"]), None)
                if t is None:
                    missed += 1
                else:
                    lat.append(max(0.0, t - u["done"]))
                    if ta is not None:
                        self.after_delivery.append(t - ta)
                    self.series.append([round(u["done"] - ups[0]["done"], 3),
                                        round(lat[-1] * 1000, 1)])
        nw = sum(len(v) for v in writes.values())
        return lat, missed, (nw / len(ups) if ups else None)

    def server_durations(self, users, t0, t1):
        """How long the API server took for the writer's updates and the
        controller's writes (requestReceived to ResponseComplete): a slow
        server shows here, not in the controller."""
        out = {}
        for who, us in (("updates", {"bench-writer"}), ("controller_writes", users)):
            d = [e["done"] - e["recv"] for e in self.audit.select(us, t0, t1, WRITE_VERBS, None, True)]
            out[who] = {"p50": ms(pct(d, 0.5)), "p99": ms(pct(d, 0.99)), "max": ms(max(d) if d else None)}
        return out

    # -- S3: fan-out

    def s3(self):
        t0 = time.time()
        c = self.ensure_ctl()
        users = {c.identity}
        fan = set(self.plan.fanout_workloads)
        idle = self.wait_idle(c)
        g0 = self.rollouts_now()
        m0 = c.metrics()
        self.audit.poll()
        if self.writer is None:
            self.writer = Writer(self.cluster)
        tw = time.time()
        self.writer.update(self.plan.fanout_source, "s3-%s" % self.runid)
        self.wait_settled(users, fan, tw, 3, self.args.settle_timeout + len(fan) / 2, c)
        t_end = time.time()
        self.audit.poll()
        up = [e for e in self.audit.select({"bench-writer"}, tw, t_end, ("patch",), ("configmaps",), True)
              if e["name"] == self.plan.fanout_source[2]]
        writes = self.audit.workload_writes(users, tw, None)
        tu = up[0]["done"] if up else tw
        first = [min((x for x in writes.get(w, []) if x >= up[0]["recv"]), default=None) if up else None
                 for w in fan]
        got = [x - tu for x in first if x is not None]
        g1 = self.rollouts_now()
        m1 = c.metrics()
        load = self.audit.load(users, tw, t_end)
        span = (max(got) - min(got)) if len(got) > 1 else None
        fig = {
            "fanout": len(fan), "written": len(got), "idle_wait_s": idle,
            "controller_counters": self.counters(m0, m1),
            "first_write_s": secs(min(got)) if got else None,
            "all_written_s": secs(max(got)) if got else None,
            "p50_s": secs(pct(got, 0.5)),
            "writes_per_second": round((len(got) - 1) / span, 2) if span else None,
            "rollouts": rollouts_between(g0, g1),
            "rollouts_fanout": rollouts_between(g0, g1, fan),
            "api_audit": load, "api_metrics": self.metrics_load(m0, m1),
        }
        ok = len(got) == len(fan) and fig["rollouts"] == len(fan) and c.alive()
        self.emit("S3", fig, ok, t0)

    # -- S4: restart with --sync-after-restart, nothing changed

    def s4(self):
        t0 = time.time()
        old = self.ensure_ctl()
        self.wait_idle(old)
        rc = old.stop(signal.SIGTERM)
        stop_s = old.t_exit
        g0 = self.rollouts_now()
        self.audit.poll()
        c = self.start("b", shlex.split(self.args.restart_flags))
        self.ctl = c
        users = {c.identity}
        ready = c.wait_ready(self.args.ready_timeout)
        synced_metric, last, nwrites = self.wait_sync(c, ready, None)
        g1 = self.rollouts_now()
        st = proc_status(c.pid) or {}
        m = c.metrics()
        self.audit.poll()
        rollouts = rollouts_between(g0, g1)
        fig = {
            "previous_exit_code": rc, "previous_stop_s": secs(stop_s),
            "ready_s": secs(ready), "synced_s_metric": secs(synced_metric),
            "rollouts": rollouts, "workload_writes": nwrites,
            "rss_bytes": st.get("VmRSS", 0) * 1024 if st else None,
            "cpu_s": secs(st.get("cpu_s")) if st else None,
            "runqueue_wait_s": secs(sched_wait(c.pid)),
            "api_audit": self.audit.load(users, c.t_start, time.time()),
            "api_metrics": self.metrics_load(None, m),
        }
        ok = rollouts == 0 and ready is not None and c.alive() and rc == 0
        self.emit("S4", fig, ok, t0)

    # -- S5: failover with N replicas

    def lease(self):
        try:
            return self.cluster.admin.json(
                "GET", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s"
                % (self.args.pod_namespace, self.args.lease_name), ok=(200,))
        except BenchError:
            return None

    def holder(self):
        lz = self.lease()
        return ((lz or {}).get("spec") or {}).get("holderIdentity") or ""

    def wait_startup(self, cs):
        """Waits for each controller's reloader_startup_sync_seconds (when it
        has the metric); returns them."""
        out = []
        for c in cs:
            v = None
            end = time.time() + self.args.sync_timeout
            while time.time() < end and c.alive():
                v = metric_sum(c.metrics(), "reloader_startup_sync_seconds")
                if v is None or v > 0:
                    break
                time.sleep(0.2)
            out.append(secs(v) if v else None)
        return out

    def s5(self):
        t0 = time.time()
        if self.ctl is not None and self.ctl.alive():
            self.ctl.stop()
        self.ctl = None
        self.cluster.admin.req("DELETE", "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s"
                               % (self.args.pod_namespace, self.args.lease_name), ok=(200, 404))
        if self.writer is None:
            self.writer = Writer(self.cluster)
        ha = shlex.split(self.args.ha_flags)
        reps = {}
        for i in range(self.args.replicas + 2):  # mint the identities first
            self.cluster.identity("bench-%s-r%d" % (self.runid, i))
        t_start = time.time()
        for i in range(self.args.replicas):
            c = self.start("r%d" % i, ha)
            reps[c.identity] = c
        ready = wait_ready_all(list(reps.values()), self.args.ready_timeout)
        fig = {"replicas": self.args.replicas,
               "ready_s": [secs(r) for r in ready]}
        end = time.time() + 60
        while time.time() < end and self.holder() not in reps:
            time.sleep(0.2)
        h = self.holder()
        if h not in reps:
            fig["error"] = "no replica became leader (holder %r)" % h
            self.emit("S5", fig, False, t0)
            return
        # Let every replica's startup pass finish (the leader's writes nothing).
        fig["synced_s_metric"] = self.wait_startup(list(reps.values()))
        self.wait_settled(set(reps), None, t_start, self.args.quiet, 120)
        rss = [((proc_status(c.pid) or {}).get("VmRSS", 0)) * 1024 for c in reps.values()]
        fig["rss_bytes"] = rss
        g0 = self.rollouts_now()
        srcs = [s for s in self.churn_sources(50) if s not in self.churn_used][:2]
        self.churn_used.update(srcs)
        expect = set()
        ok = True
        next_i = self.args.replicas
        for mode, sig, src in (("graceful", signal.SIGTERM, srcs[0] if srcs else None),
                               ("crash", signal.SIGKILL, srcs[1] if len(srcs) > 1 else None)):
            leader = self.holder()
            old = reps.get(leader)
            if old is None:
                fig[mode] = {"error": "holder %r is not a replica" % leader}
                ok = False
                continue
            self.audit.poll()
            tk = time.time()
            os.kill(old.pid, sig)
            time.sleep(0.1)
            tu = None
            if src:
                self.writer.update(src, "s5-%s" % mode)
                expect |= self.plan.dependents.get(src, set())
                tu = time.time()
            try:
                old.exit_code = old.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(old.pid, signal.SIGKILL)
                old.exit_code = old.proc.wait()
            t_exit = time.time() - tk
            others = set(reps) - {leader}
            deps = self.plan.dependents.get(src, set()) if src else set()
            end = time.time() + self.args.failover_timeout
            acq = first_write = None
            while time.time() < end:
                self.audit.poll()
                acq = next((e for e in self.audit.select(others, tk, None, ("update", "create"),
                                                         ("leases",), True)
                            if e.get("holder", e["user"]) == e["user"]), None)
                ws = [e for e in self.audit.select(others, tk, None, WRITE_VERBS, WORKLOAD_RESOURCES, True)
                      if (e["res"], e["ns"], e["name"]) in deps]
                first_write = min(ws, key=lambda e: e["recv"]) if ws else None
                if acq and (first_write or not deps):
                    break
                time.sleep(0.2)
            ups = [e for e in self.audit.select({"bench-writer"}, tk, None, ("patch",), None, True)
                   if src and e["name"] == src[2] and e["ns"] == src[1]]
            old_writes = self.audit.select({leader}, tk, None, WRITE_VERBS, WORKLOAD_RESOURCES, True)
            r = {
                "signal": "SIGTERM" if sig == signal.SIGTERM else "SIGKILL",
                "old_leader_exit_s": secs(t_exit), "old_leader_exit_code": old.exit_code,
                "new_leader": acq["user"] if acq else None,
                "acquire_s": secs(acq["done"] - tk) if acq else None,
                "first_write_s": secs(first_write["recv"] - tk) if first_write else None,
                "reload_latency_s": secs(first_write["recv"] - ups[0]["done"])
                if first_write and ups else None,
                "old_leader_writes_after_signal": len(old_writes),
            }
            fig[mode] = r
            if acq is None or (deps and first_write is None):
                ok = False
            if mode == "graceful" and old.exit_code != 0:
                ok = False
            del reps[leader]
            # Back to N replicas before the next failover.
            c = self.start("r%d" % next_i, ha)
            next_i += 1
            reps[c.identity] = c
            c.wait_ready(self.args.ready_timeout)
            self.wait_startup([c])
            self.wait_settled(set(reps), None, time.time(), 2, 30)
        g1 = self.rollouts_now()
        fig["rollouts"] = rollouts_between(g0, g1)
        fig["rollouts_expected"] = len(expect)
        fig["api_audit"] = self.audit.load(set(c.identity for c in self.procs
                                               if c.identity.split("-")[-1].startswith("r")),
                                           t_start, time.time())
        if fig["rollouts"] != len(expect):
            ok = False
        for c in list(reps.values()):
            c.stop()
        self.emit("S5", fig, ok, t0)
