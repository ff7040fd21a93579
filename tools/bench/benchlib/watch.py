"""The harness's own watches (admin identity, not audited): Rollouts counts
template changes of the bench workloads, SourceWatch records when each
source change reached a watcher."""

import http.client
import json
import socket
import threading
import time
import urllib.parse

from .common import PART_OF, PART_OF_VAL, BenchError, log


class Rollouts:
    """Counts rollouts: changes of .spec.template of every bench workload,
    seen by a LIST then a WATCH per kind (admin identity, not audited).
    .metadata.generation cannot serve: a Deployment's generation also moves
    when only its annotations change (a metadata-only record)."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.lock = threading.Lock()
        self.hash = {}          # (resource, ns, name) -> template hash
        self.count = {}         # (resource, ns, name) -> template changes seen
        self.relists = 0
        self.stopping = False
        self.synced = {r: threading.Event() for r in ("deployments", "statefulsets")}
        self.threads = [threading.Thread(target=self._run, args=(r,), daemon=True)
                        for r in self.synced]
        for t in self.threads:
            t.start()
        for e in self.synced.values():
            if not e.wait(600):
                raise BenchError("could not list workloads for the rollout counter")

    @staticmethod
    def _thash(obj):
        t = (obj.get("spec") or {}).get("template") or {}
        return hash(json.dumps(t, sort_keys=True, separators=(",", ":")))

    def _see(self, res, obj, initial):
        m = obj["metadata"]
        k = (res, m["namespace"], m["name"])
        h = self._thash(obj)
        with self.lock:
            old = self.hash.get(k)
            self.hash[k] = h
            if old is not None and old != h and not initial:
                self.count[k] = self.count.get(k, 0) + 1

    def _run(self, res):
        api = self.cluster.admin
        sel = "labelSelector=%s%%3D%s" % (PART_OF, PART_OF_VAL)
        rv = None
        while not self.stopping:
            try:
                if rv is None:
                    cont, initial = "", not self.synced[res].is_set()
                    while True:
                        path = "/apis/apps/v1/%s?%s&limit=1000" % (res, sel)
                        if cont:
                            path += "&continue=" + urllib.parse.quote(cont)
                        d = api.json("GET", path)
                        for it in d.get("items", []):
                            self._see(res, it, initial)
                        cont = d["metadata"].get("continue", "")
                        if not cont:
                            rv = d["metadata"]["resourceVersion"]
                            break
                    self.synced[res].set()
                rv = self._watch(res, sel, rv)
            except (BenchError, OSError, http.client.HTTPException, ValueError) as e:
                if self.stopping:
                    return
                log("rollout counter (%s): %s; relisting" % (res, e))
                rv = None
                with self.lock:
                    self.relists += 1
                time.sleep(1)

    def _watch(self, res, sel, rv):
        u = urllib.parse.urlparse(self.cluster.server)
        ctx = self.cluster.admin.ctx
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=3600)
        try:
            c.request("GET", "/apis/apps/v1/%s?%s&watch=1&allowWatchBookmarks=true&resourceVersion=%s"
                      "&timeoutSeconds=1800" % (res, sel, rv), headers={"Accept": "application/json"})
            r = c.getresponse()
            if r.status != 200:
                raise BenchError("watch %s: HTTP %d" % (res, r.status))
            while not self.stopping:
                line = r.readline()
                if not line:
                    return rv  # the server ended the watch: resume from rv
                ev = json.loads(line)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    return None  # 410 Gone and friends: relist
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if ev.get("type") in ("ADDED", "MODIFIED"):
                    self._see(res, obj, False)
            return rv
        finally:
            c.close()

    def snapshot(self):
        with self.lock:
            return dict(self.count)

    def wait_current(self, timeout=10):
        """Lets the watch catch up with writes made before now."""
        time.sleep(1.0)

    def stop(self):
        self.stopping = True


class SourceWatch:
    """A watch of the bench ConfigMaps and Secrets by the harness itself
    (admin, not audited): when each change reached a watcher. Comparing it
    with the controller's write time tells the API server's delivery delay
    apart from the controller's own."""

    def __init__(self, cluster):
        self.cluster = cluster
        self.arrivals = {}      # (resource, ns, name) -> [arrival times]
        self.lock = threading.Lock()
        self.stopping = False
        self.conns = []
        self.threads = []
        for res in ("configmaps", "secrets"):
            d = cluster.admin.json("GET", "/api/v1/%s?labelSelector=%s%%3D%s&limit=1"
                                   % (res, PART_OF, PART_OF_VAL))
            t = threading.Thread(target=self._run, args=(res, d["metadata"]["resourceVersion"]),
                                 daemon=True)
            self.threads.append(t)
            t.start()

    def _run(self, res, rv):
        u = urllib.parse.urlparse(self.cluster.server)
        sel = "labelSelector=%s%%3D%s" % (PART_OF, PART_OF_VAL)
        if res == "secrets":
            sel += "&fieldSelector=type%21%3Dhelm.sh%2Frelease.v1"
        c = http.client.HTTPSConnection(u.hostname, u.port, context=self.cluster.admin.ctx,
                                        timeout=3600)
        self.conns.append(c)
        try:
            c.request("GET", "/api/v1/%s?%s&watch=1&resourceVersion=%s" % (res, sel, rv),
                      headers={"Accept": "application/json"})
            r = c.getresponse()
            while not self.stopping:
                line = r.readline()
                if not line:
                    return
                t = time.time()
                ev = json.loads(line)
                if ev.get("type") != "MODIFIED":
                    continue
                m = ev["object"]["metadata"]
                with self.lock:
                    self.arrivals.setdefault((res, m["namespace"], m["name"]), []).append(t)
        except (OSError, http.client.HTTPException, ValueError):
            return

    def stop(self):
        self.stopping = True
        for c in self.conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass


def rollouts_between(c0, c1, only=None):
    n = 0
    for k, v in c1.items():
        if only is not None and k not in only:
            continue
        n += v - c0.get(k, 0)
    return n
