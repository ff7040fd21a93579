"""Runs one spec (flags + batches of operations) against the cluster with a
fresh namespace and fresh reloadd process(es), and compares what happened
with the model at each quiescent point."""
import json
import os
import secrets as _secrets
import signal
import time

from gen import op_text
from kube import (KINDS, AuditTail, Disturbed, Identity, Reloadd, Watcher, audit_writes)
from model import LRF, Model, TYPED, env_var_name

ACTIVE = set()   # runners with processes or a namespace to clean up at exit

MANAGED = sorted({k for t in TYPED.values() for k in (t["reload"], t["auto"], t["exclude"])}
                 | {"reloader.stakater.com/auto", "reloader.stakater.com/search"})


class Failure:
    def __init__(self, category, batch, what, workload=None):
        self.category, self.batch, self.what = category, batch, what
        self.workload = workload
        self.reasons = []

    def __str__(self):
        return f"batch {self.batch + 1}: {self.category}: {self.what}"

    def signature(self):
        """What shrinking keeps failing: the same check, on the same
        workload, for the same kind of trigger (so that it does not drift to
        another bug that happens to share the category)."""
        kinds = frozenset("while down" if "while down" in r else r.split()[0] for r in self.reasons)
        return (self.category, self.workload, kinds)


class Result:
    def __init__(self):
        self.failures = []
        self.ops = 0
        self.batches = 0
        self.predicted = 0
        self.seen = 0
        self.ambiguous = 0
        self.slow = 0
        self.notes = []
        self.namespace = ""


# ---- manifests -------------------------------------------------------------

def _pod_template(op, ns, kind):
    c = {"name": "app", "image": "registry.invalid/app:1"}
    env, env_from, mounts, vols = [], [], [], []
    for i, ref in enumerate(op["refs"]):
        cm = ref["type"] == "configmap"
        n = ref["name"]
        if ref["via"] == "envFrom":
            env_from.append({"configMapRef" if cm else "secretRef": {"name": n, "optional": True}})
        elif ref["via"] == "env":
            key = "configMapKeyRef" if cm else "secretKeyRef"
            env.append({"name": f"REF_{i}", "valueFrom": {key: {"name": n, "key": "v", "optional": True}}})
        else:
            src = ({"configMap": {"name": n, "optional": True}} if cm
                   else {"secret": {"secretName": n, "optional": True}})
            if ref["via"] == "projected":
                src = {"projected": {"sources": [{"configMap" if cm else "secret":
                                                  {"name": n, "optional": True}}]}}
            vols.append(dict({"name": f"v{i}"}, **src))
            mounts.append({"name": f"v{i}", "mountPath": f"/m/{i}"})
    tmpl_ann = dict(op["tmpl"])
    for m in op["markers"]:
        if m["form"] == "env":
            env.append({"name": env_var_name(m["name"], m["type"]), "value": m["hash"]})
        else:
            tmpl_ann[LRF] = json.dumps(
                {"type": TYPED[m["type"]]["TYPE"], "name": m["name"], "namespace": ns, "hash": m["hash"],
                 "containerRefs": ["app"], "observedAt": 1700000000}, separators=(",", ":"))
    for k, v in (("env", env), ("envFrom", env_from), ("volumeMounts", mounts)):
        if v:
            c[k] = v
    spec = {"containers": [c], "terminationGracePeriodSeconds": 0}
    if vols:
        spec["volumes"] = vols
    if kind == "CronJob":
        spec["restartPolicy"] = "Never"
    md = {"labels": {"app": op["name"]}}
    if tmpl_ann:
        md["annotations"] = tmpl_ann
    return {"metadata": md, "spec": spec}


def workload_manifest(op, ns):
    kind, name = op["kind"], op["name"]
    prefix, _ = KINDS[kind]
    tmpl = _pod_template(op, ns, kind)
    sel = {"matchLabels": {"app": name}}
    if kind == "Deployment":
        spec = {"replicas": op["replicas"], "selector": sel, "template": tmpl}
    elif kind == "DaemonSet":
        spec = {"selector": sel, "template": tmpl}
    elif kind == "StatefulSet":
        spec = {"replicas": op["replicas"], "serviceName": name, "selector": sel, "template": tmpl}
    else:
        spec = {"schedule": "0 0 1 1 *", "suspend": True,
                "jobTemplate": {"spec": {"backoffLimit": 0, "template": tmpl}}}
    return {"apiVersion": prefix.split("/apis/")[1], "kind": kind,
            "metadata": {"name": name, "annotations": dict(op["meta"])}, "spec": spec}


def _path(ns, kind, name=None):
    prefix, plural = KINDS[kind]
    return f"{prefix}/namespaces/{ns}/{plural}" + (f"/{name}" if name else "")


def _spath(ns, stype, name=None):
    return f"/api/v1/namespaces/{ns}/{stype}s" + (f"/{name}" if name else "")


# ---- the run ---------------------------------------------------------------

class Runner:
    def __init__(self, cluster, binary, spec, artifacts, window=2.0, quiet=4.0, log=print,
                 stop_at_first_failure=True, tag="", quiet_early=None):
        self.c = cluster
        self.binary = binary
        self.spec = spec
        self.window = window
        self.quiet = quiet
        # Replays while shrinking may keep the early quiet periods short:
        # only the last batch's verdict is what they look for.
        self.quiet_early = quiet if quiet_early is None else quiet_early
        self.last = len(spec["batches"]) - 1
        self.log = log
        self.stop_first = stop_at_first_failure
        self.tag = tag
        self.id = _secrets.token_hex(3)
        self.ns = f"model-{spec['seed'] % 100000}-{self.id}"
        self.dir = os.path.join(artifacts, self.ns)
        os.makedirs(self.dir, exist_ok=True)
        self.lease = f"model-{self.id}"
        self.replicas = []       # Reloadd processes alive
        self.users = set()
        self.nrep = 0
        self.model = Model(spec["flags"])
        self.res = Result()
        self.res.namespace = self.ns
        self.ever_written = set()
        self.flushes = 0
        self.sentinel_id = None

    # ---- reloadd processes --------------------------------------------------

    def _args(self, sync):
        f = self.spec["flags"]
        a = [f"--namespaces={self.ns}", f"--coalesce-window={self.window:g}s",
             f"--reload-strategy={f['strategy']}",
             f"--reload-on-create={'true' if f['create'] else 'false'}",
             f"--reload-on-delete={'true' if f['delete'] else 'false'}",
             f"--auto-reload-all={'true' if f['auto_all'] else 'false'}", "--log-level=debug",
             # The Jobs a CronJob's rollout makes carry its pod template's
             # annotations, so reloadd would treat them as workloads of their
             # own, which the garbage collector removes at its own pace after
             # their CronJob: the model leaves the Job kind out.
             "--ignored-workload-types=jobs"]
        if sync:
            a.append("--sync-after-restart")
        return a

    def _start_one(self, sync):
        name = f"{self.ns}-r{self.nrep}"
        self.nrep += 1
        ident = Identity(self.c, name, self.dir)
        self.users.add(name)
        if self.sentinel_id is None:
            self.sentinel_id = ident
        p = Reloadd(self.binary, ident, self._args(sync), os.path.join(self.dir, f"reloadd-{name}.log"),
                    ha_lease=self.lease if self.spec["ha"] else None)
        self.replicas.append(p)
        return p

    def start_all(self, sync):
        n = 3 if self.spec["ha"] else 1
        ps = [self._start_one(sync) for _ in range(n)]
        for p in ps:
            p.wait_ready()
        if self.spec["ha"]:
            end = time.time() + 20
            while not self.c.lease_holder(self.lease) or self._holder() is None:
                if time.time() > end:
                    raise RuntimeError("no leader among the replicas after 20 s")
                time.sleep(0.1)

    def stop_all(self):
        for p in self.replicas:
            rc = p.stop()
            if rc not in (0, None) and rc != -signal.SIGKILL:
                self.res.notes.append(f"reloadd {p.identity.name} exited with status {rc} after SIGTERM")
        self.replicas = []

    def _holder(self):
        h = self.c.lease_holder(self.lease)
        for p in self.replicas:
            if p.identity.name == h and p.alive():
                return p
        return None

    # ---- operations ---------------------------------------------------------

    def execute(self, op):
        """One operation through the API; returns False if skipped."""
        m, ns, k = self.model, self.ns, op["op"]
        if not m.valid(op):
            return False
        if k in ("create-source", "update-source"):
            stype = op["type"]
            data = op["data"]
            if stype == "secret":
                import base64
                data = {kk: base64.b64encode(v.encode()).decode() for kk, v in data.items()}
            if k == "create-source":
                body = {"apiVersion": "v1", "kind": "ConfigMap" if stype == "configmap" else "Secret",
                        "metadata": {"name": op["name"], "annotations": op["ann"]}, "data": data}
                self.c.request("POST", _spath(ns, stype), body)
            else:
                old = m.sources[(stype, op["name"])]["data"]
                patch = {kk: None for kk in old if kk not in data}
                patch.update(data)
                self.c.request("PATCH", _spath(ns, stype, op["name"]), {"data": patch},
                               ctype="application/merge-patch+json")
        elif k == "delete-source":
            self.c.request("DELETE", _spath(ns, op["type"], op["name"]))
        elif k == "create-workload":
            _, obj = self.c.request("POST", _path(ns, op["kind"]), workload_manifest(op, ns))
            self.watcher.mark_mine(op["kind"], obj)
        elif k == "edit-workload":
            w = m.workloads[op["name"]]
            meta = {kk: op["meta"].get(kk) for kk in MANAGED}
            tann = {kk: op["tmpl"].get(kk) for kk in MANAGED}
            tmd = {"metadata": {"annotations": tann}}
            spec = {"jobTemplate": {"spec": {"template": tmd}}} if w["kind"] == "CronJob" else {"template": tmd}
            _, obj = self.c.request("PATCH", _path(ns, w["kind"], op["name"]),
                                    {"metadata": {"annotations": meta}, "spec": spec},
                                    ctype="application/merge-patch+json")
            self.watcher.mark_mine(w["kind"], obj)
        elif k == "delete-workload":
            w = m.workloads[op["name"]]
            self.c.request("DELETE", _path(ns, w["kind"], op["name"]),
                           {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"})
        m.apply(op)
        return True

    # ---- observation --------------------------------------------------------

    def flush_audit(self, timeout=10.0):
        """A request of a controller identity that the audit log records:
        once it is in the file, so is everything before it."""
        self.flushes += 1
        name = f"model-flush-{self.id}-{self.flushes}"
        self.c.request("GET", _spath(self.ns, "configmap", name), ok=None, ctx=self.sentinel_id.ctx)
        end = time.time() + timeout
        while time.time() < end:
            self.audit.poll()
            for e in reversed(self.audit.entries[-200:]):
                if (e.get("objectRef") or {}).get("name") == name and e.get("stage") == "ResponseComplete":
                    return True
            time.sleep(0.1)
        self.res.notes.append("audit log flush sentinel not seen within 10 s")
        return False

    def _writes(self, lo, hi):
        ws = audit_writes(self.audit.entries, self.ns, self.users)
        return [w for w in ws if lo <= w["t"] < hi]

    def _rollouts(self, lo, hi, settle=0.5):
        return [r for r in self.watcher.take_rollouts(settle) if lo <= r[0] < hi]

    # ---- one batch ----------------------------------------------------------

    def _disturbance(self):
        return self.c.disturbances + len(self.watcher.errors)

    def batch(self, i, b, lo):
        d0 = self._disturbance()
        try:
            return self._batch(i, b, lo)
        finally:
            if self._disturbance() != d0:
                raise Disturbed(f"the API server was unreachable during batch {i + 1} "
                                f"({'; '.join(self.watcher.errors[-2:]) or 'requests retried'})")

    def _batch(self, i, b, lo):
        ev = b.get("event") or {}
        kill = ev.get("kill")
        restart = ev.get("restart")
        extra_wait = 0.0
        if restart:
            self.stop_all()
            self.model.stop()
        if kill and kill["when"] == "before":
            extra_wait = self._kill(kill)
        t_first = time.time()
        executed = 0
        for op in b["ops"]:
            if self.execute(op):
                executed += 1
                self.res.ops += 1
        t_ops = time.time()
        if kill and kill["when"] == "after":
            extra_wait = self._kill(kill)
        t_ref = t_ops
        if kill:
            t_ref = self._wait_new_leader()
        if restart:
            self.start_all(restart["sync"])
            self.model.start(restart["sync"])
            t_ref = time.time()
        preds, rec_ok = self.model.end_batch()
        slow = (not restart) and (t_ops - t_first) > self.window * 0.5
        if slow:
            self.res.slow += 1
            self.log(f"{self.tag}  batch {i + 1}: its {executed} ops took {t_ops - t_first:.2f} s "
                     f"(> half the {self.window:g} s window): judged leniently")
        want = {w for w, (e, _) in preds.items() if e == 1}
        # Wait for the predicted rollouts, the window and a grace period, and
        # until reloadd's writes have stopped for a second.
        deadline = t_ref + self.window + 10 + extra_wait
        min_end = t_ref + self.window + 0.5 + extra_wait
        idle_polls, last_count = 0, None
        while True:
            now = time.time()
            self.audit.poll()
            ro = self._rollouts(lo, now + 1, settle=0.3)
            seen = {r[2] for r in ro}
            ws = self._writes(lo, now + 1)
            last_w = max([w["t"] for w in ws], default=0)
            if now >= deadline:
                break
            # Idle: the leader's queue is empty and it finished no reconcile
            # since the last poll (keys held for the window are in the queue).
            count = self._leader_idle()
            idle_polls = idle_polls + 1 if count is not None and count == last_count else 0
            last_count = count
            if want <= seen and now >= min_end and now - last_w >= 0.5 and idle_polls >= 2:
                break
            time.sleep(0.15)
        t_quiet = time.time()
        time.sleep(self.quiet if i == self.last else min(self.quiet, self.quiet_early))
        hi = time.time()
        dead = [p for p in self.replicas if not p.alive()]
        if dead:
            return [Failure("reloadd exited", i, ", ".join(
                f"{p.identity.name} exited with status {p.proc.returncode}" for p in dead))], hi
        self.flush_audit()
        time.sleep(0.3)
        ro = self._rollouts(lo, hi, settle=0.0)
        ws = self._writes(lo, hi)
        fails = self._judge(i, b, preds, rec_ok, ro, ws, t_quiet, slow)
        self._detail(i, b, executed, t_ops - t_first, preds, rec_ok, ro, ws, t_quiet, fails)
        return fails, hi

    def _detail(self, i, b, executed, took, preds, rec_ok, ro, ws, t_quiet, fails):
        """What each batch did and saw, in the run's own log (artifacts)."""
        ev = b.get("event")
        with open(os.path.join(self.dir, "batches.log"), "a") as f:
            f.write(f"batch {i + 1}: {executed}/{len(b['ops'])} ops in {took * 1000:.0f} ms"
                    f"{' ' + json.dumps(ev) if ev else ''}\n")
            for op in b["ops"]:
                f.write(f"    {op_text(op)}\n")
            for w, (e, why) in sorted(preds.items()):
                f.write(f"  predicted {w}: {e} ({'; '.join(why)})\n")
            f.write(f"  record patches allowed: {sorted(rec_ok)}\n")
            for r in ro:
                f.write(f"  rollout {r[1]} {r[2]} at +{r[0] - self.t0:.2f}: {r[3]}\n")
            for w in ws:
                f.write(f"  write {w['user']} {w['verb']} {w['resource']}/{w['name']} at +{w['t'] - self.t0:.2f}"
                        f"{' (quiet period)' if w['t'] >= t_quiet else ''}\n")
            f.write(f"  quiet period from +{t_quiet - self.t0:.2f}\n")
            for x in fails:
                f.write(f"  FAIL {x}\n")

    def _leader_idle(self):
        """The leader's count of finished reconciles if its workqueue is
        empty, else None."""
        for p in self.replicas:
            m = p.metrics()
            if m.get("reloader_is_leader") == 1.0:
                if m.get("reloader_workqueue_depth", 1) == 0:
                    return m.get("reloader_reconcile_latency_seconds_count", 0)
                return None
        return None

    def _wait_new_leader(self, timeout=20):
        """After a kill: waits until a live replica holds the Lease; the
        batch's clock starts then (a takeover takes up to the lease
        duration, and the new leader's window starts when it takes over)."""
        end = time.time() + timeout
        while time.time() < end:
            if self._holder() is not None:
                return time.time()
            time.sleep(0.1)
        self.res.notes.append(f"no new leader within {timeout} s of a kill")
        return time.time()

    def _kill(self, kill):
        """Kills the Lease holder; returns how much longer a takeover may take."""
        p = self._holder()
        if p is None:
            self.res.notes.append("no lease holder to kill")
            return 0.0
        sig = signal.SIGKILL if kill["signal"] == "KILL" else signal.SIGTERM
        os.kill(p.proc.pid, sig)
        if sig == signal.SIGTERM:
            try:
                p.proc.wait(timeout=10)
            except Exception:
                pass
        self.killed.append(p)
        self.replicas.remove(p)
        return 1.0

    def _judge(self, i, b, preds, rec_ok, ro, ws, t_quiet, slow):
        fails = []
        by_w_roll, by_w_write = {}, {}
        for r in ro:
            by_w_roll.setdefault(r[2], []).append(r)
        for w in ws:
            if w["resource"] == "jobs" and w["verb"] == "create":
                continue    # a CronJob's rollout: counted from the Jobs watch
            by_w_write.setdefault(w["name"], []).append(w)
        for w in ws:
            if w["mine"] and w["resource"] in ("configmaps", "secrets"):
                fails.append(Failure("unexpected write", i, f"reloadd {w['verb']} {w['resource']}/{w['name']}"))
        ws = [w for w in ws if w["resource"] not in ("configmaps", "secrets")]
        alien = [w for w in ws if not w["mine"]]
        if alien:
            self.res.notes.append(f"batch {i + 1}: writes by other identities: "
                                  + ", ".join(f"{w['user']} {w['verb']} {w['name']}" for w in alien[:3]))
        for name in sorted(set(preds) | set(by_w_roll) | set(by_w_write)):
            start = len(fails)
            exp, why = preds.get(name, (0, []))
            nroll = len(by_w_roll.get(name, []))
            mine = [w for w in by_w_write.get(name, []) if w["mine"]]
            kind = self.model.workloads.get(name, {}).get("kind", "workload")
            label = f"{kind} {name}"
            because = f" ({'; '.join(why)})" if why else ""
            if exp == 1:
                self.res.predicted += 1
                hi_ok = len(why) if slow else 1
                if nroll == 0:
                    fails.append(Failure("missed rollout", i, f"{label} did not roll{because}"))
                elif nroll > hi_ok:
                    fails.append(Failure("rolled more than once", i, f"{label} rolled {nroll} times{because}"))
            elif exp == 0 and nroll:
                fails.append(Failure("unexpected rollout", i, f"{label} rolled {nroll} time(s), "
                                     f"no rollout predicted ({', '.join(r[3] for r in by_w_roll[name])})"))
            elif exp == "0-1":
                self.res.ambiguous += 1
                if nroll > 1:
                    fails.append(Failure("rolled more than once", i, f"{label} rolled {nroll} times{because}"))
            self.res.seen += nroll
            records = max(0, len(mine) - nroll)
            first = name not in self.ever_written
            if mine:
                self.ever_written.add(name)
            allowed = (1 if (name in rec_ok or first) else 0) + (1 if slow else 0)
            if records > allowed:
                fails.append(Failure("unexpected write", i, f"{label}: {records} metadata-only write(s) by reloadd "
                                     f"({', '.join(w['verb'] for w in mine)}), "
                                     f"{'none' if not allowed else allowed} allowed"))
            late = [w for w in mine if w["t"] >= t_quiet]
            if late:
                fails.append(Failure("write in quiet period", i, f"{label}: {len(late)} write(s) by reloadd "
                                     f"in the quiet period ({', '.join(w['verb'] for w in late)}): a loop?"))
            for f in fails[start:]:
                f.workload, f.reasons = name, list(why)
        return fails

    # ---- the whole run ------------------------------------------------------

    def run(self, batches=None):
        batches = self.spec["batches"] if batches is None else batches
        self.killed = []
        ACTIVE.add(self)
        self.c.create_namespace(self.ns)
        self.watcher = Watcher(self.c, self.ns)
        self.audit = AuditTail(self.c.audit_path)
        try:
            self.watcher.start()
            self.start_all(self.spec["sync"])
            lo = self.t0 = time.time()
            for i, b in enumerate(batches):
                fails, lo = self.batch(i, b, lo)
                self.res.batches += 1
                for f in fails:
                    self.res.failures.append(f)
                    self.log(f"{self.tag}  FAIL {f}")
                if fails and self.stop_first:
                    break
                if self.spec["ha"]:
                    while len(self.replicas) < 3:
                        self._start_one(self.spec["sync"]).wait_ready()
            for p in self.replicas:
                if not p.alive():
                    self.res.failures.append(Failure("reloadd exited", self.res.batches - 1,
                                                     f"{p.identity.name} exited with {p.proc.returncode}"))
        finally:
            self.cleanup()
        self.res.ambiguous_model = self.model.stats["ambiguous"]
        return self.res

    def cleanup(self):
        """Stops what this run started and deletes its namespace (once)."""
        if self not in ACTIVE:
            return
        ACTIVE.discard(self)
        try:
            self.stop_all()
            for p in self.killed:
                p.stop()
            self.watcher.close()
            self.audit.close()
            if self.watcher.errors:
                self.res.notes.append("watch: " + "; ".join(self.watcher.errors[:3]))
            if self.spec["ha"]:
                self.c.delete_lease(self.lease)
            if os.environ.get("E2E_MODEL_KEEP") != "1":
                self.c.delete_namespace(self.ns)
        except Exception as e:   # cleanup must not hide the result
            self.res.notes.append(f"cleanup: {e}")


def cleanup_all():
    for r in list(ACTIVE):
        r.cleanup()


def describe_ops(batches):
    return [op_text(op) for b in batches for op in b["ops"]]
