#!/usr/bin/env python3
"""bench.py - reloadd's benchmark harness (Python 3 standard library only).

    bench.py run --scale small|medium|large|xlarge --controller 'CMD {kubeconfig} {port} ...'
                 [--replicas 3] [--runs 3] [--scenarios S1,S2,S3,S4,S5] [--label NAME]
    bench.py summary FILE.jsonl...      medians per (label, scale, scenario) as Markdown
    bench.py plotdata DIR FILE.jsonl... data files for tools/bench/plot.sh

`run` generates a cluster at the chosen scale on the local control plane
(tools/cluster) and runs the scenarios against the controller command. Each
scenario prints ONE JSON line of figures and appends it to the results file.

Where the figures come from:
  * the API server's audit log (always): every request of the controller's
    identities, with requestReceivedTimestamp and stageTimestamp. The
    harness mints one client certificate per controller process (group
    reloadd:controllers, which tools/cluster's audit policy records at
    Metadata level), so requests are attributed per process and scenario.
    Source updates are made by a writer identity "bench-writer" in the
    groups reloadd:controllers and system:masters: the same policy records
    its PATCHes, whose stageTimestamp (ResponseComplete, after the write
    reached etcd) is the server-side time of each change;
  * the cluster (always): .metadata.generation of every workload before and
    after a scenario counts rollouts (a metadata-only write does not bump it);
  * /proc/PID/status (always): VmRSS, VmHWM; /proc/PID/stat: CPU time;
  * the controller's /metrics (optional, null when absent):
    reloader_startup_sync_seconds, reloader_cached_objects,
    reloader_api_requests_total, rest_client_requests_total.

Controller template placeholders: {kubeconfig} {port} {identity}
{pod_namespace} {namespaces} (comma-separated bench namespaces). Leading
VAR=value words set environment variables. POD_NAME={identity} and
POD_NAMESPACE are always set in the environment.
"""

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import http.client
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PART_OF = "app.kubernetes.io/part-of"
PART_OF_VAL = "reloadd-bench"
WORKLOAD_RESOURCES = ("deployments", "statefulsets", "daemonsets", "cronjobs", "jobs", "rollouts")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
READ_VERBS = ("get", "list")

# Objects counted at each scale are ConfigMaps + Secrets + workloads
# (namespaces are not counted). fanout = workloads sharing the S3 source.
SCALES = {
    "small": {"objects": 1000, "namespaces": 10, "fanout": 50},
    "medium": {"objects": 10000, "namespaces": 50, "fanout": 1000},
    "large": {"objects": 50000, "namespaces": 100, "fanout": 1000},
    # Issue 18's scale: 100k ConfigMaps and Secrets, 20k workloads, 1,000 namespaces.
    "xlarge": {"objects": 120000, "workloads": 20000, "namespaces": 1000, "fanout": 1000},
}


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# API access (HTTPS with a client certificate, one keep-alive connection per
# thread).


class Api:
    def __init__(self, server, ca, cert, key):
        u = urllib.parse.urlparse(server)
        self.host, self.port = u.hostname, u.port or 443
        self.ctx = ssl.create_default_context(cafile=ca)
        self.ctx.load_cert_chain(cert, key)
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "c", None)
        if c is None:
            c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=120)
            self.local.c = c
        return c

    def _drop(self):
        c = getattr(self.local, "c", None)
        if c is not None:
            c.close()
        self.local.c = None

    def req(self, method, path, body=None, ctype="application/json", accept="application/json",
            ok=(200, 201)):
        """Returns (status, bytes). Retries transport errors, 429 and 5xx."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        hdr = {"Accept": accept}
        if data is not None:
            hdr["Content-Type"] = ctype
        delay = 0.2
        for attempt in range(8):
            try:
                c = self._conn()
                c.request(method, path, body=data, headers=hdr)
                r = c.getresponse()
                out = r.read()
            except (http.client.HTTPException, OSError) as e:
                self._drop()
                if attempt == 7:
                    raise BenchError("%s %s: %s" % (method, path, e))
                time.sleep(delay)
                delay = min(delay * 2, 5)
                continue
            if r.status == 429 or r.status >= 500:
                time.sleep(float(r.getheader("Retry-After") or delay))
                delay = min(delay * 2, 5)
                continue
            if ok is not None and r.status not in ok:
                raise BenchError("%s %s: HTTP %d %s" % (method, path, r.status, out[:300]))
            return r.status, out
        raise BenchError("%s %s: gave up after retries" % (method, path))

    def json(self, method, path, body=None, **kw):
        _, out = self.req(method, path, body, **kw)
        return json.loads(out) if out else None


# --------------------------------------------------------------------------
# The cluster: tools/cluster, identities.


class Cluster:
    def __init__(self, env, owned):
        self.env = env
        self.owned = owned
        self.dir = env["RELOADD_CLUSTER_DIR"]
        self.server = env["RELOADD_APISERVER_URL"]
        self.ca = env["RELOADD_CLUSTER_CA"]
        pki = os.path.join(self.dir, "pki")
        self.admin = Api(self.server, self.ca, os.path.join(pki, "admin.crt"), os.path.join(pki, "admin.key"))
        self.audit_path = os.path.join(self.dir, "logs", "audit.log")
        self.iddir = tempfile.mkdtemp(prefix="ids.", dir=self.dir)

    @staticmethod
    def up():
        t0 = time.time()
        for attempt in range(3):  # a port picked as free may be taken meanwhile
            p = subprocess.run([os.path.join(ROOT, "tools", "cluster"), "up"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            sys.stderr.write(p.stderr)
            if p.returncode == 0:
                break
            # A failed start may leave components running: stop them by PID.
            for d in sorted(set(re.findall(r"(/\S*/reloadd-cluster\.[A-Za-z0-9]+)", p.stderr))):
                if os.path.exists(os.path.join(d, "cluster.env")):
                    subprocess.run([os.path.join(ROOT, "tools", "cluster"), "down", d],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            log("tools/cluster up failed (exit %d); %s" % (p.returncode,
                                                          "retrying" if attempt < 2 else "giving up"))
        else:
            raise BenchError("could not start a local control plane (tools/cluster up)")
        out = p.stdout
        env = {}
        for line in out.splitlines():
            m = re.match(r"export (\w+)='([^']*)'", line)
            if m:
                env[m.group(1)] = m.group(2)
        c = Cluster(env, True)
        c.up_seconds = time.time() - t0
        return c

    @staticmethod
    def from_env():
        need = ("RELOADD_CLUSTER_DIR", "RELOADD_APISERVER_URL", "RELOADD_CLUSTER_CA")
        if not all(os.environ.get(k) for k in need):
            return None
        c = Cluster({k: os.environ[k] for k in need}, False)
        c.up_seconds = None
        return c

    def down(self):
        if self.owned:
            subprocess.run([os.path.join(ROOT, "tools", "cluster"), "down", self.dir], check=False,
                           stdout=subprocess.DEVNULL)

    def identity(self, name, groups=("reloadd:controllers",)):
        """Mints a client certificate for user `name` and returns (kubeconfig, crt, key)."""
        d = os.path.join(self.iddir, name)
        kc = os.path.join(d, "kubeconfig")
        if os.path.exists(kc):
            return kc, os.path.join(d, "crt.pem"), os.path.join(d, "key.pem")
        os.makedirs(d, exist_ok=True)
        pki = os.path.join(self.dir, "pki")
        subj = "".join("/O=%s" % g for g in groups) + "/CN=%s" % name
        key, csr, crt = (os.path.join(d, f) for f in ("key.pem", "csr.pem", "crt.pem"))
        subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", subj,
                        "-keyout", key, "-out", csr], check=True, stderr=subprocess.DEVNULL)
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=clientAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(pki, "ca.crt"),
                        "-CAkey", os.path.join(pki, "ca.key"), "-CAcreateserial", "-days", "2",
                        "-out", crt, "-extfile", ext], check=True, stderr=subprocess.DEVNULL)
        b64 = lambda p: base64.b64encode(open(p, "rb").read()).decode()
        kc = os.path.join(d, "kubeconfig")
        with open(kc, "w") as f:
            f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n"
                    "    server: %s\n    certificate-authority-data: %s\n"
                    "users:\n- name: %s\n  user:\n    client-certificate-data: %s\n"
                    "    client-key-data: %s\ncontexts:\n- name: local\n"
                    "  context: {cluster: local, user: %s}\ncurrent-context: local\n"
                    % (self.server, b64(self.ca), name, b64(crt), b64(key), name))
        os.chmod(kc, 0o600)
        return kc, crt, key


# --------------------------------------------------------------------------
# Generation: a deterministic plan of namespaces, sources and workloads.


class Plan:
    """What was generated and who depends on what (Reloader's rules)."""

    def __init__(self):
        self.namespaces = []
        self.sources = []          # (kind "configmaps"/"secrets", ns, name, body)
        self.workloads = []        # (resource, ns, name, body)
        self.dependents = {}       # ("configmaps", ns, name) -> set of (resource, ns, name)
        self.managed = set()       # workloads with >= 1 dependency
        self.private = {}          # workload -> [its private sources with exactly it as dependent]
        self.fanout_source = None
        self.fanout_workloads = []
        self.counts = {}


class RandomText:
    """Cheap unique-ish text and bytes from one random pool."""

    def __init__(self, rng):
        self.rng = rng
        self.pool = base64.b64encode(rng.randbytes(1 << 21)).decode()
        self.raw = rng.randbytes(1 << 21)

    def text(self, n):
        n = max(1, min(n, len(self.pool) - 1))
        o = self.rng.randrange(0, len(self.pool) - n)
        return self.pool[o:o + n]

    def bytes(self, n):
        out = b""
        while len(out) < n:
            k = min(n - len(out), len(self.raw) - 1)
            o = self.rng.randrange(0, len(self.raw) - k)
            out += self.raw[o:o + k]
        return out


def lognorm_size(rng, median, sigma, lo, hi):
    return int(max(lo, min(hi, rng.lognormvariate(0, sigma) * median)))


def make_plan(scale, seed):
    cfg = SCALES[scale]
    rng = random.Random(seed)
    rt = RandomText(rng)
    p = Plan()
    total = cfg["objects"]
    n_ns = cfg["namespaces"]
    n_wl = cfg.get("workloads", total * 20 // 100)
    # ConfigMaps are 45 % of the objects and Secrets 35 % (9:7 of the sources).
    n_cm = total * 45 // 100 if "workloads" not in cfg else (total - n_wl) * 9 // 16
    n_sec = total - n_wl - n_cm
    fan = cfg["fanout"]
    labels = {PART_OF: PART_OF_VAL}

    def meta(ns, name, extra_labels=None, ann=None):
        m = {"name": name, "namespace": ns, "labels": dict(labels)}
        if extra_labels:
            m["labels"].update(extra_labels)
        if ann:
            m["annotations"] = ann
        return m

    def cm(ns, name, data):
        p.sources.append(("configmaps", ns, name, {"apiVersion": "v1", "kind": "ConfigMap",
                                                   "metadata": meta(ns, name), "data": data}))

    def secret(ns, name, data, typ="Opaque", extra_labels=None):
        enc = {k: base64.b64encode(v if isinstance(v, bytes) else v.encode()).decode()
               for k, v in data.items()}
        p.sources.append(("secrets", ns, name, {"apiVersion": "v1", "kind": "Secret", "type": typ,
                                                "metadata": meta(ns, name, extra_labels), "data": enc}))

    def app_config(name):
        n = lognorm_size(rng, 1500, 1.0, 200, 64 << 10)
        body = "# %s\nserver:\n  port: 8080\n  name: %s\nfeature: |\n" % (name, name)
        while len(body) < n:
            body += "  %s\n" % rt.text(min(76, n - len(body) + 4))
        return {"application.yaml": body, "LOG_LEVEL": rng.choice(["info", "debug", "warn"])}

    # The S3 fan-out namespace: one ConfigMap, `fan` Deployments.
    fns = "bench-fanout"
    p.namespaces.append(fns)
    cm(fns, "fanout-config", {"FEATURE_FLAGS": "a=1,b=0,c=1", "REGION": "local-1", "id": rt.text(32)})
    p.fanout_source = ("configmaps", fns, "fanout-config")
    p.dependents[p.fanout_source] = set()
    for k in range(fan):
        name = "fan-%04d" % k
        body = workload_body("Deployment", fns, name, labels, {"reloader.stakater.com/auto": "true"}, {},
                             {"containers": [{"name": "app", "image": "registry.invalid/app:1",
                                              "envFrom": [{"configMapRef": {"name": "fanout-config"}}]}]})
        w = ("deployments", fns, name)
        p.workloads.append(w + (body,))
        p.dependents[p.fanout_source].add(w)
        p.fanout_workloads.append(w)
        p.managed.add(w)

    n_cm -= 1
    per_ns_wl = (n_wl - fan) // n_ns
    extra_wl = (n_wl - fan) - per_ns_wl * n_ns
    per_ns_cm, extra_cm = divmod(n_cm, n_ns)
    per_ns_sec, extra_sec = divmod(n_sec, n_ns)
    forms_cm = ["envFrom", "env", "volume", "projected", "init"]
    forms_sec = ["envFrom", "env", "volume", "projected"]
    counts = {"helm_secrets": 0, "tls_secrets": 0, "statefulsets": 0, "deployments": fan,
              "forms": {}, "annotation_classes": {}}
    for i in range(n_ns):
        ns = "bench-%03d" % i
        p.namespaces.append(ns)
        nw = per_ns_wl + (1 if i < extra_wl else 0)
        ncm = per_ns_cm + (1 if i < extra_cm else 0)
        nsec = per_ns_sec + (1 if i < extra_sec else 0)
        nhelm = max(1, nsec // 4)  # a quarter of the Secrets are Helm releases
        shared_cm = "common-env"
        shared_sec = "db-credentials"
        tls = "%s-tls" % ns
        cms = 0
        secs = 0
        cm(ns, shared_cm, {"K%02d" % k: rt.text(rng.randint(4, 40)) for k in range(20)})
        cms += 1
        secret(ns, shared_sec, {"username": "app", "password": rt.text(24), "host": "db.%s.svc" % ns})
        secret(ns, tls, {"tls.crt": "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n"
                         % rt.text(1200), "tls.key": "-----BEGIN PRIVATE KEY-----\n%s\n"
                         "-----END PRIVATE KEY-----\n" % rt.text(1700)}, "kubernetes.io/tls")
        counts["tls_secrets"] += 1
        secret(ns, "regcred", {".dockerconfigjson": json.dumps(
            {"auths": {"registry.invalid": {"auth": rt.text(40)}}})}, "kubernetes.io/dockerconfigjson")
        secs += 3
        for j in range(nw):
            sts = rng.random() < 0.2
            kind = "StatefulSet" if sts else "Deployment"
            res = "statefulsets" if sts else "deployments"
            name = ("db-%03d" if sts else "app-%03d") % j
            counts[res] += 1
            w = (res, ns, name)
            pcm = "%s-config" % name
            cm(ns, pcm, app_config(name))
            cms += 1
            psec = None
            if rng.random() < 0.6 and secs < nsec - nhelm:
                psec = "%s-secret" % name
                secret(ns, psec, {"API_KEY": rt.text(rng.randint(16, 64)),
                                  "token": rt.text(rng.randint(64, 512))})
                secs += 1
            refs = []  # (kind, name, form)
            refs.append(("configmaps", pcm, forms_cm[(i * 7 + j) % len(forms_cm)]))
            if psec:
                refs.append(("secrets", psec, forms_sec[(i * 5 + j) % len(forms_sec)]))
            if rng.random() < 0.3:
                refs.append(("configmaps", shared_cm, "envFrom"))
            if rng.random() < 0.2:
                refs.append(("secrets", shared_sec, "env"))
            if rng.random() < 0.1:
                refs.append(("secrets", tls, "volume"))
            for r in refs:
                counts["forms"][r[2]] = counts["forms"].get(r[2], 0) + 1
            # Annotation classes (Reloader's rules decide the dependents).
            x = rng.random()
            ann, tann = {}, {}
            if x < 0.45:
                cls = "auto"
                ann["reloader.stakater.com/auto"] = "true"
                deps = [(k, n) for k, n, _ in refs]
            elif x < 0.55:
                cls = "auto-on-pod-template"
                tann["reloader.stakater.com/auto"] = "true"
                deps = [(k, n) for k, n, _ in refs]
            elif x < 0.67:
                cls = "configmap-auto"
                ann["configmap.reloader.stakater.com/auto"] = "true"
                deps = [(k, n) for k, n, _ in refs if k == "configmaps"]
            elif x < 0.75:
                cls = "secret-auto"
                ann["secret.reloader.stakater.com/auto"] = "true"
                deps = [(k, n) for k, n, _ in refs if k == "secrets"]
            elif x < 0.90:
                cls = "named"
                ann["configmap.reloader.stakater.com/reload"] = pcm
                deps = [("configmaps", pcm)]
                if psec:
                    ann["secret.reloader.stakater.com/reload"] = psec
                    deps.append(("secrets", psec))
            else:
                cls = "none"
                deps = []
            counts["annotation_classes"][cls] = counts["annotation_classes"].get(cls, 0) + 1
            spec = pod_spec(refs, rng)
            body = workload_body(kind, ns, name, labels, ann, tann, spec)
            p.workloads.append(w + (body,))
            for k, n in deps:
                p.dependents.setdefault((k, ns, n), set()).add(w)
            if deps:
                p.managed.add(w)
                p.private[w] = [(k, ns, n) for k, n in deps if n in (pcm, psec)]
        # Helm releases: a few revisions of a few releases, big.
        for rel in range(nhelm):
            rname = "release-%02d" % (rel // 3)
            rev = rel % 3 + 1
            n = lognorm_size(rng, 20 << 10, 0.8, 4 << 10, 256 << 10)
            payload = base64.b64encode(rt.bytes(n))  # helm stores base64(gzip(json))
            secret(ns, "sh.helm.release.v1.%s.v%d" % (rname, rev), {"release": payload},
                   "helm.sh/release.v1", {"owner": "helm", "name": rname, "status": "superseded"
                                          if rev < 3 else "deployed", "version": str(rev)})
            counts["helm_secrets"] += 1
            secs += 1
        # Unreferenced Secrets (tokens, credentials nobody mounts).
        while secs < nsec:
            secret(ns, "secret-%04d" % secs, {"token": rt.text(rng.randint(32, 256)),
                                               "ca.crt": rt.text(rng.randint(0, 1200))})
            secs += 1
        # Unreferenced ConfigMaps of various sizes (most clusters have many).
        while cms < ncm:
            big = rng.random() < 0.05
            n = lognorm_size(rng, 40 << 10 if big else 1 << 10, 0.7, 64, 200 << 10)
            cm(ns, "cm-%04d" % cms, {"data.txt": rt.text(n)})
            cms += 1
    # Private sources with exactly one dependent (the S2 churn candidates).
    for w, srcs in list(p.private.items()):
        p.private[w] = [s for s in srcs if p.dependents.get(s) == {w}]
    counts["configmaps"] = sum(1 for s in p.sources if s[0] == "configmaps")
    counts["secrets"] = sum(1 for s in p.sources if s[0] == "secrets")
    counts["workloads"] = len(p.workloads)
    counts["objects"] = len(p.sources) + len(p.workloads)
    counts["namespaces"] = len(p.namespaces)
    counts["managed_workloads"] = len(p.managed)
    counts["fanout"] = fan
    p.counts = counts
    return p


def pod_spec(refs, rng):
    env, env_from, mounts, volumes, init_env_from = [], [], [], [], []
    projected = []
    for kind, name, form in refs:
        cmk = kind == "configmaps"
        if form == "envFrom":
            env_from.append({"configMapRef": {"name": name}} if cmk else {"secretRef": {"name": name}})
        elif form == "init":
            init_env_from.append({"configMapRef": {"name": name}})
        elif form == "env":
            key = "LOG_LEVEL" if cmk else ("password" if name == "db-credentials" else "API_KEY")
            if cmk and name == "common-env":
                key = "K00"
            ref = {"configMapKeyRef": {"name": name, "key": key}} if cmk else \
                {"secretKeyRef": {"name": name, "key": key}}
            env.append({"name": "VAL_%d" % len(env), "valueFrom": ref})
        elif form == "volume":
            vname = "v%d" % len(volumes)
            volumes.append({"name": vname, "configMap": {"name": name}} if cmk else
                           {"name": vname, "secret": {"secretName": name}})
            mounts.append({"name": vname, "mountPath": "/etc/%s" % vname, "readOnly": True})
        elif form == "projected":
            projected.append({"configMap": {"name": name}} if cmk else {"secret": {"name": name}})
    if projected:
        volumes.append({"name": "bundle", "projected": {"sources": projected}})
        mounts.append({"name": "bundle", "mountPath": "/etc/bundle", "readOnly": True})
    c = {"name": "app", "image": "registry.invalid/app:%d" % rng.randint(1, 9),
         "ports": [{"containerPort": 8080}],
         "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}
    if env:
        c["env"] = env
    if env_from:
        c["envFrom"] = env_from
    if mounts:
        c["volumeMounts"] = mounts
    spec = {"containers": [c], "imagePullSecrets": [{"name": "regcred"}]}
    if rng.random() < 0.3:
        spec["containers"].append({"name": "sidecar", "image": "registry.invalid/proxy:1"})
    if init_env_from:
        spec["initContainers"] = [{"name": "init", "image": "registry.invalid/init:1",
                                   "envFrom": init_env_from}]
    if volumes:
        spec["volumes"] = volumes
    return spec


def workload_body(kind, ns, name, labels, ann, tann, spec):
    tmeta = {"labels": {"app": name}}
    if tann:
        tmeta["annotations"] = tann
    m = {"name": name, "namespace": ns, "labels": dict(labels, app=name)}
    if ann:
        m["annotations"] = ann
    b = {"apiVersion": "apps/v1", "kind": kind, "metadata": m,
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": tmeta, "spec": spec}}}
    if kind == "StatefulSet":
        b["spec"]["serviceName"] = name
    return b


def api_path(resource, ns, name=None):
    base = "/api/v1" if resource in ("configmaps", "secrets", "namespaces") else "/apis/apps/v1"
    p = "%s/namespaces/%s/%s" % (base, ns, resource)
    return p + ("/" + name if name else "")


def generate(cluster, plan, threads=12):
    """Creates everything in plan. Returns figures."""
    t0 = time.time()
    api = cluster.admin
    for ns in plan.namespaces:
        st, _ = api.req("POST", "/api/v1/namespaces",
                        {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": ns, "labels": {PART_OF: PART_OF_VAL}}}, ok=(201, 409))
    nbytes = [0]
    lock = threading.Lock()

    def create(item):
        res, ns, name, body = item
        data = json.dumps(body, separators=(",", ":")).encode()
        api.req("POST", api_path(res, ns), data, ok=(201, 409))
        with lock:
            nbytes[0] += len(data)

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        t1 = time.time()
        list(ex.map(create, plan.sources, chunksize=16))
        t2 = time.time()
        list(ex.map(create, plan.workloads, chunksize=16))
        t3 = time.time()
    n = len(plan.sources) + len(plan.workloads)
    return {"seconds": round(t3 - t0, 2), "sources_seconds": round(t2 - t1, 2),
            "workloads_seconds": round(t3 - t2, 2), "objects_per_second": round(n / (t3 - t0), 1),
            "bytes": nbytes[0], "threads": threads}


def delete_bench_namespaces(cluster, wait=True):
    api = cluster.admin
    out = api.json("GET", "/api/v1/namespaces?labelSelector=%s%%3D%s" % (PART_OF, PART_OF_VAL))
    names = [i["metadata"]["name"] for i in out.get("items", [])]
    for n in names:
        api.req("DELETE", "/api/v1/namespaces/" + n, ok=(200, 202, 404))
    if wait and names:
        end = time.time() + 900
        while time.time() < end:
            out = api.json("GET", "/api/v1/namespaces?labelSelector=%s%%3D%s" % (PART_OF, PART_OF_VAL))
            if not out.get("items"):
                return
            time.sleep(1)
        raise BenchError("bench namespaces still terminating after 900 s")


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


# --------------------------------------------------------------------------
# The audit log.


def parse_ts(s):
    if not s:
        return None
    s = s.rstrip("Z")
    fmt = "%Y-%m-%dT%H:%M:%S.%f" if "." in s else "%Y-%m-%dT%H:%M:%S"
    return datetime.datetime.strptime(s, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()


class Audit:
    """Incremental reader of the audit log; keeps events of users `prefix*`."""

    def __init__(self, path, prefix="bench-"):
        self.path = path
        self.prefix = prefix
        self.needle = ('"username":"%s' % prefix).encode()
        self.offset = os.path.getsize(path) if os.path.exists(path) else 0
        self.events = []
        self.seen = set()

    def poll(self):
        if not os.path.exists(self.path):
            return
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n")
        if end < 0:
            return
        self.offset += end + 1
        for line in data[:end].split(b"\n"):
            if self.needle not in line:
                continue
            try:
                e = json.loads(line)
            except ValueError:
                continue
            stage = e.get("stage")
            verb = e.get("verb")
            aid = e.get("auditID")
            if stage not in ("ResponseComplete", "ResponseStarted", "Panic"):
                continue
            if verb != "watch" and stage == "ResponseStarted":
                continue
            if aid in self.seen:
                continue  # a watch seen at ResponseStarted, now complete
            self.seen.add(aid)
            o = e.get("objectRef") or {}
            ev = {
                "user": e["user"]["username"], "verb": verb, "res": o.get("resource", ""),
                "ns": o.get("namespace", ""), "name": o.get("name", ""),
                "code": (e.get("responseStatus") or {}).get("code", 0),
                "recv": parse_ts(e.get("requestReceivedTimestamp")),
                "done": parse_ts(e.get("stageTimestamp")), "uri": e.get("requestURI", ""),
            }
            ro = e.get("requestObject")
            if isinstance(ro, dict) and ev["res"] == "leases":
                ev["holder"] = (ro.get("spec") or {}).get("holderIdentity") or ""
            self.events.append(ev)

    def select(self, users=None, t0=None, t1=None, verbs=None, res=None, ok_only=False):
        out = []
        for e in self.events:
            if users is not None and e["user"] not in users:
                continue
            if t0 is not None and e["recv"] < t0:
                continue
            if t1 is not None and e["recv"] > t1:
                continue
            if verbs is not None and e["verb"] not in verbs:
                continue
            if res is not None and e["res"] not in res:
                continue
            if ok_only and not (200 <= e["code"] < 300):
                continue
            out.append(e)
        return out

    def load(self, users, t0, t1):
        """Requests by verb and by verb/resource of `users` in [t0, t1]."""
        by_verb, by_res = {}, {}
        for e in self.select(users, t0, t1):
            by_verb[e["verb"]] = by_verb.get(e["verb"], 0) + 1
            k = "%s %s" % (e["verb"], e["res"])
            by_res[k] = by_res.get(k, 0) + 1
        return {"by_verb": by_verb, "by_verb_resource": by_res,
                "reads": sum(v for k, v in by_verb.items() if k in READ_VERBS),
                "writes": sum(v for k, v in by_verb.items() if k in WRITE_VERBS),
                "total": sum(by_verb.values())}

    def workload_writes(self, users, t0=None, t1=None):
        """(resource, ns, name) -> sorted request times of successful writes."""
        out = {}
        for e in self.select(users, t0, t1, verbs=("patch", "update"), res=WORKLOAD_RESOURCES,
                             ok_only=True):
            out.setdefault((e["res"], e["ns"], e["name"]), []).append(e["recv"])
        for v in out.values():
            v.sort()
        return out


# --------------------------------------------------------------------------
# The controller under test.


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def http_get(url, timeout=2.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, ""
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None, ""


def parse_metrics(text):
    """{name: [(labels dict, value)]}"""
    out = {}
    for line in text.splitlines():
        if not line or line[0] == "#":
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        try:
            v = float(m.group(4))
        except ValueError:
            continue
        out.setdefault(m.group(1), []).append((labels, v))
    return out


def metric_sum(ms, name, by=None):
    if not ms or name not in ms:
        return None
    if by is None:
        return sum(v for _, v in ms[name])
    out = {}
    for lab, v in ms[name]:
        k = lab.get(by, "")
        out[k] = out.get(k, 0) + v
    return out


def proc_status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads", "RssAnon", "RssFile"):
                    out[k] = int(v.split()[0])
        with open("/proc/%d/stat" % pid) as f:
            st = f.read().rsplit(")", 1)[1].split()
        tck = os.sysconf("SC_CLK_TCK")
        out["cpu_s"] = (int(st[11]) + int(st[12])) / tck
    except (OSError, ValueError, IndexError):
        return None
    return out


def wait_ready_all(cs, timeout):
    """Seconds from each controller's start to its first ready answer."""
    out = [None] * len(cs)
    end = time.time() + timeout
    while time.time() < end and any(x is None and c.alive() for x, c in zip(out, cs)):
        for i, c in enumerate(cs):
            if out[i] is None and c.alive() and c.ready():
                out[i] = time.time() - c.t_start
        time.sleep(0.05)
    return out


def sched_wait(pid):
    """Seconds the process's threads spent runnable but waiting for a CPU
    (sum of /proc/PID/task/*/schedstat field 2): CPU starvation."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[1])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return total / 1e9


class Controller:
    def __init__(self, bench, identity, extra_args=(), env_extra=None):
        self.bench = bench
        self.identity = identity
        self.kubeconfig, _, _ = bench.cluster.identity(identity)
        self.port = free_port()
        subst = {"kubeconfig": self.kubeconfig, "port": str(self.port), "identity": identity,
                 "pod_namespace": bench.args.pod_namespace,
                 "namespaces": ",".join(bench.plan.namespaces)}
        words = shlex.split(bench.args.controller)
        words = [w.format(**subst) for w in words]
        env = dict(os.environ)
        env.update({"POD_NAME": identity, "POD_NAMESPACE": bench.args.pod_namespace})
        while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
            k, _, v = words.pop(0).partition("=")
            env[k] = v
        if env_extra:
            env.update(env_extra)
        self.argv = words + list(extra_args)
        self.log = os.path.join(bench.artifacts, "%s.log" % identity)
        self.t_start = time.time()
        self.proc = subprocess.Popen(self.argv, env=env, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.proc.pid
        self.base = "http://127.0.0.1:%d" % self.port
        self.exit_code = None
        self.t_exit = None

    def alive(self):
        return self.proc.poll() is None

    def metrics(self):
        st, body = http_get(self.base + "/metrics")
        return parse_metrics(body) if st == 200 else None

    def ready(self):
        st, _ = http_get(self.base + self.bench.args.ready_path, timeout=1)
        return st == 200

    def wait_ready(self, timeout):
        end = time.time() + timeout
        while time.time() < end:
            if not self.alive():
                return None
            if self.ready():
                return time.time() - self.t_start
            time.sleep(0.05)
        return None

    def stop(self, sig=signal.SIGTERM, wait=15):
        if not self.alive():
            self.exit_code = self.proc.returncode
            return self.exit_code
        t = time.time()
        os.kill(self.pid, sig)
        try:
            self.exit_code = self.proc.wait(wait)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.exit_code = self.proc.wait()
        self.t_exit = time.time() - t
        return self.exit_code

    def tail(self, n=20):
        try:
            with open(self.log, errors="replace") as f:
                return f.readlines()[-n:]
        except OSError:
            return []


# --------------------------------------------------------------------------
# Source updates (the writer identity).


class Writer:
    def __init__(self, cluster):
        _, crt, key = cluster.identity("bench-writer", ("reloadd:controllers", "system:masters"))
        self.api = Api(cluster.server, cluster.ca, crt, key)
        self.n = 0
        self.lock = threading.Lock()

    def update(self, src, tag):
        res, ns, name = src
        with self.lock:
            self.n += 1
            v = "%s-%d-%d" % (tag, self.n, time.time_ns())
        if res == "secrets":
            body = {"data": {"BENCH_VERSION": base64.b64encode(v.encode()).decode()}}
        else:
            body = {"data": {"BENCH_VERSION": v}}
        t0 = time.time()
        self.api.req("PATCH", api_path(res, ns, name), json.dumps(body).encode(),
                     ctype="application/merge-patch+json", ok=(200,))
        return t0, time.time()

    def paced(self, items, rate, tag, threads=4):
        """Updates items[i] at t0 + i/rate. Returns (client send times, achieved rate)."""
        t0 = time.time() + 0.2
        idx = [0]
        lock = threading.Lock()
        sent = [None] * len(items)
        errors = []

        def worker():
            while True:
                with lock:
                    i = idx[0]
                    idx[0] += 1
                if i >= len(items):
                    return
                delay = t0 + i / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
                try:
                    sent[i] = self.update(items[i], tag)
                except BenchError as e:
                    errors.append(str(e))

        th = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        span = time.time() - t0
        return sent, errors, span


# --------------------------------------------------------------------------
# Scenarios.


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


def controller_binary(template):
    """The controller's executable (the first word that is a path to an
    executable file, else the first word), its SHA-256 and `--version`."""
    words = [w for w in shlex.split(template) if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)]
    exe = next((w for w in words if "/" in w and os.access(w, os.X_OK) and os.path.isfile(w)), None)
    if exe is None and words:
        exe = shutil.which(words[0])
    if not exe:
        return None
    out = {"path": exe}
    try:
        with open(exe, "rb") as f:
            out["sha256"] = hashlib.sha256(f.read()).hexdigest()[:16]
        p = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=5)
        out["version"] = p.stdout.strip().splitlines()[0][:200] if p.returncode == 0 and p.stdout else None
    except (OSError, subprocess.SubprocessError, IndexError):
        pass
    return out


def machine():
    mem = 0
    model = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "mem_mib": mem, "cpu": model, "kernel": os.uname().release}


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
        fig = {
            "ready_s": secs(ready),
            "synced_s_metric": secs(synced_metric),
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


# --------------------------------------------------------------------------
# run


def cmd_run(args):
    if args.scale not in SCALES:
        raise BenchError("unknown scale %r (%s)" % (args.scale, ", ".join(SCALES)))
    scen = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    for s in scen:
        if s not in ("S1", "S2", "S3", "S4", "S5"):
            raise BenchError("unknown scenario %r (S1..S5)" % s)
    if not args.controller:
        raise BenchError("--controller is required")
    try:
        probe = shlex.split(args.controller)
        [w.format(kubeconfig="k", port="1", identity="i", pod_namespace="n", namespaces="x")
         for w in probe]
    except (ValueError, KeyError, IndexError) as e:
        raise BenchError("bad --controller template: %s" % e)
    if args.results is None:
        args.results = os.path.join(ROOT, "docs", "bench", "results", "%s.jsonl" % args.scale)
    if args.results:
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    art = args.artifacts or tempfile.mkdtemp(prefix="reloadd-bench.")
    os.makedirs(art, exist_ok=True)
    log("artifacts in", art)
    env_cluster = Cluster.from_env()
    failed = False
    mach = machine()
    for run in range(1, args.runs + 1):
        cluster = env_cluster
        if cluster is None:
            log("run %d: starting a fresh control plane" % run)
            cluster = Cluster.up()
        args.artifacts_run = os.path.join(art, "run%d" % run)
        os.makedirs(args.artifacts_run, exist_ok=True)
        bench = None
        try:
            if not cluster.owned:
                delete_bench_namespaces(cluster)
            t = time.time()
            plan = make_plan(args.scale, args.seed)
            tplan = time.time() - t
            bench = Bench(args, cluster, plan, run, args.results)
            base = bench.base_rss() if args.base_rss else None
            log("run %d: generating %d objects (%d workloads) in %d namespaces"
                % (run, plan.counts["objects"], plan.counts["workloads"], len(plan.namespaces)))
            t = time.time()
            gen = generate(cluster, plan, args.threads)
            gen["plan_seconds"] = round(tplan, 2)
            log("run %d: generated in %.1f s (%.0f objects/s)" % (run, gen["seconds"],
                                                                  gen["objects_per_second"]))
            bench.base = base
            bench.emit("GEN", {"counts": plan.counts, "generation": gen, "machine": mach,
                               "cluster_up_s": secs(cluster.up_seconds),
                               "fresh_cluster": cluster.owned, "controller_empty_cluster": base,
                               "controller_binary": controller_binary(args.controller)},
                       True, t)
            bench.rollouts = Rollouts(cluster)
            for s in scen:
                log("run %d: %s" % (run, s))
                getattr(bench, s.lower())()
        except BenchError as e:
            log("run %d failed: %s" % (run, e))
            failed = True
        finally:
            if bench is not None:
                bench.stop_all()
                if bench.rollouts:
                    bench.rollouts.stop()
                failed = failed or bench.failed
            if cluster.owned and not args.keep_cluster:
                cluster.down()
            elif not cluster.owned and not args.keep_objects:
                try:
                    delete_bench_namespaces(cluster, wait=False)
                except BenchError as e:
                    log("cleanup:", e)
    return 1 if failed else 0


# --------------------------------------------------------------------------
# summary / plot data


def load_lines(files):
    """Result lines of each file; FILE@TAG appends @TAG to every label of FILE."""
    out = []
    for arg in files:
        fn, _, tag = arg.partition("@") if not os.path.exists(arg) else (arg, "", "")
        with open(fn) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    d = json.loads(line)
                except ValueError:
                    print("%s: skipping a bad line" % fn, file=sys.stderr)
                    continue
                if tag:
                    d["label"] = "%s@%s" % (d.get("label"), tag)
                out.append(d)
    return out


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def get(d, path):
    for k in path.split("."):
        if isinstance(d, list) and k.isdigit():
            d = d[int(k)] if int(k) < len(d) else None
        elif isinstance(d, dict):
            d = d.get(k)
        else:
            return None
    return d


SUMMARY = {
    "GEN": [("objects", "counts.objects"), ("workloads", "counts.workloads"),
            ("gen s", "generation.seconds"), ("objects/s", "generation.objects_per_second"),
            ("MiB sent", "generation.bytes")],
    "S1": [("ready s", "ready_s"), ("synced s (metric)", "synced_s_metric"),
           ("synced s (audit)", "synced_s_audit"), ("baseline writes", "workload_writes"),
           ("rollouts", "rollouts"), ("RSS MiB", "rss_bytes"), ("cached objects", "_cached"),
           ("B/cached obj", "bytes_per_cached_object"),
           ("B/cached obj beyond empty", "bytes_per_cached_object_beyond_base"), ("CPU s", "cpu_s"),
           ("reads", "api_audit.reads"), ("load 1m", "loadavg.0")],
    "S2": [("updates", "updates"), ("p50 ms", "latency_ms.p50"), ("p90 ms", "latency_ms.p90"),
           ("p99 ms", "latency_ms.p99"), ("max ms", "latency_ms.max"),
           ("p99 − window ms", "p99_beyond_window_ms"), ("≤ window+50ms", "_within50"),
           ("missed", "missed"),
           ("rollouts/change", "rollouts_per_change"), ("reads/change", "api_reads_per_change"),
           ("writes", "api_audit.writes"), ("RSS max MiB", "rss_max_bytes"), ("CPU s", "cpu_s"),
           ("server p99 ms", "server_ms.updates.p99"),
           ("watch delivery p99 ms", "harness_watch_delivery_ms.p99"),
           ("p99 after delivery ms", "latency_after_harness_delivery_ms.p99"),
           ("runqueue wait s", "runqueue_wait_s"), ("load 1m", "loadavg.0")],
    "S3": [("fan-out", "fanout"), ("first s", "first_write_s"), ("p50 s", "p50_s"),
           ("all s", "all_written_s"), ("writes/s", "writes_per_second"),
           ("rollouts", "rollouts"), ("reads", "api_audit.reads")],
    "S4": [("ready s", "ready_s"), ("synced s (metric)", "synced_s_metric"),
           ("rollouts", "rollouts"), ("writes", "workload_writes"), ("reads", "api_audit.reads"),
           ("lists", "api_audit.by_verb.list"), ("RSS MiB", "rss_bytes"), ("CPU s", "cpu_s"),
           ("runqueue wait s", "runqueue_wait_s"), ("load 1m", "loadavg.0")],
    "S5": [("replicas ready s", "_ready_max"), ("graceful: old leader exit s", "graceful.old_leader_exit_s"),
           ("graceful acquire s", "graceful.acquire_s"),
           ("graceful first write s", "graceful.first_write_s"),
           ("crash acquire s", "crash.acquire_s"), ("crash first write s", "crash.first_write_s"),
           ("rollouts", "rollouts"), ("expected", "rollouts_expected")],
}


def value(line, path):
    if path == "_within50":
        xs = [x[1] for x in line.get("latency_series") or []]
        w = (line.get("window_s") or 0) * 1000 + 50
        return sum(1 for x in xs if x <= w) / len(xs) if xs else None
    if path == "_ready_max":
        r = [x for x in line.get("ready_s") or [] if x is not None]
        return max(r) if r else None
    if path == "_cached":
        c = line.get("cached_objects")
        return sum(c.values()) if c else None
    v = get(line, path)
    if path.endswith("bytes") and isinstance(v, (int, float)):
        return v / 1048576.0
    return v


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.2f" % v
    return str(v)


def cmd_summary(args):
    lines = load_lines(args.files)
    groups = {}
    for ln in lines:
        groups.setdefault((ln.get("label"), ln.get("scale"), ln.get("scenario")), []).append(ln)
    order = {name: i for i, name in enumerate(SCALES)}
    for scen in ("GEN", "S1", "S2", "S3", "S4", "S5"):
        cols = SUMMARY[scen]
        keys = sorted((k for k in groups if k[2] == scen), key=lambda k: (order.get(k[1], 9), k[0] or ""))
        if not keys:
            continue
        print("\n#### %s\n" % scen)
        print("| config | scale | runs | ok | " + " | ".join(c[0] for c in cols) + " |")
        print("|---|---|---|---|" + "---|" * len(cols))
        for k in keys:
            g = groups[k]
            okn = sum(1 for x in g if x.get("ok"))
            row = [fmt(median([value(x, p) for x in g])) for _, p in cols]
            print("| %s | %s | %d | %d | %s |" % (k[0], k[1], len(g), okn, " | ".join(row)))


def cmd_plotdata(args):
    lines = load_lines(args.files)
    os.makedirs(args.dir, exist_ok=True)
    # Latency CDFs: one file per (label, scale), all runs pooled.
    lat = {}
    for ln in lines:
        if ln.get("scenario") == "S2" and ln.get("latency_series"):
            lat.setdefault((ln["label"], ln["scale"]), []).extend(x[1] for x in ln["latency_series"])
    index = []
    for (label, scale), xs in sorted(lat.items()):
        xs.sort()
        fn = os.path.join(args.dir, "lat-%s-%s.dat" % (label, scale))
        with open(fn, "w") as f:
            for i, x in enumerate(xs):
                f.write("%g %g\n" % (x, (i + 1) / len(xs)))
        index.append("%s %s %s" % (fn, label, scale))
    with open(os.path.join(args.dir, "lat.index"), "w") as f:
        f.write("\n".join(index) + "\n")
    # Latency against time: the first S2 of each (label, scale).
    index, done = [], set()
    for ln in lines:
        k = (ln.get("label"), ln.get("scale"))
        if ln.get("scenario") != "S2" or not ln.get("latency_series") or k in done:
            continue
        done.add(k)
        fn = os.path.join(args.dir, "series-%s-%s.dat" % k)
        with open(fn, "w") as f:
            for t, v in ln["latency_series"]:
                f.write("%g %g\n" % (t, max(v, 0.1)))
        index.append("%s %s %s" % (fn, k[0], k[1]))
    with open(os.path.join(args.dir, "series.index"), "w") as f:
        f.write("\n".join(index) + "\n")
    # RSS by scale: median/min/max of S1 RSS and S2 max RSS per label.
    order = {name: cfg["objects"] for name, cfg in SCALES.items()}
    rss = {}
    for ln in lines:
        if ln.get("scenario") == "S1" and ln.get("rss_bytes"):
            c = ln.get("cached_objects") or {}
            rss.setdefault(ln["label"], {}).setdefault(ln["scale"], []).append(
                (ln["rss_bytes"] / 1048576.0, sum(c.values()) if c else 0))
    index = []
    for label, by in sorted(rss.items()):
        fn = os.path.join(args.dir, "rss-%s.dat" % label)
        with open(fn, "w") as f:
            for scale in sorted(by, key=lambda s: order.get(s, 0)):
                v = [x[0] for x in by[scale]]
                f.write("%d %g %g %g %d\n" % (order.get(scale, 0), statistics.median(v), min(v), max(v),
                                             statistics.median([x[1] for x in by[scale]])))
        index.append("%s %s" % (fn, label))
    with open(os.path.join(args.dir, "rss.index"), "w") as f:
        f.write("\n".join(index) + "\n")


def main():
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="generate a cluster and run scenarios")
    r.add_argument("--scale", required=True)
    r.add_argument("--controller", required=True, help="command template of the controller")
    r.add_argument("--label", default="reloadd", help="configuration name in the results")
    r.add_argument("--replicas", type=int, default=3)
    r.add_argument("--runs", type=int, default=1)
    r.add_argument("--scenarios", default="S1,S2,S3,S4,S5")
    r.add_argument("--results", default=None, help="JSONL file to append to ('' for none)")
    r.add_argument("--artifacts", default=None, help="directory for logs and identities")
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--threads", type=int, default=12, help="parallel creates")
    r.add_argument("--rate", type=float, default=20.0, help="S2 updates per second")
    r.add_argument("--churn-seconds", type=float, default=60.0, help="S2 duration")
    r.add_argument("--window", type=float, default=1.0,
                   help="the controller's coalescing window in s (for p99 beyond it)")
    r.add_argument("--ready-path", default="/readyz")
    r.add_argument("--ready-timeout", type=float, default=300)
    r.add_argument("--sync-timeout", type=float, default=3600)
    r.add_argument("--settle-timeout", type=float, default=900)
    r.add_argument("--failover-timeout", type=float, default=300)
    r.add_argument("--quiet", type=float, default=5.0,
                   help="seconds without workload writes that mean 'settled'")
    r.add_argument("--no-expect-baselines", dest="expect_baselines", action="store_false",
                   help="S1: do not wait for a write on every managed workload (controllers "
                        "that record no baseline)")
    r.add_argument("--restart-flags", default="--sync-after-restart")
    r.add_argument("--ha-flags", default="--enable-ha")
    r.add_argument("--pod-namespace", default="reloadd")
    r.add_argument("--lease-name", default="stakater-reloader-lock")
    r.add_argument("--no-base-rss", dest="base_rss", action="store_false",
                   help="skip measuring the controller on the cluster before generation")
    r.add_argument("--keep-cluster", action="store_true")
    r.add_argument("--keep-objects", action="store_true")
    s = sub.add_parser("summary", help="Markdown tables of medians")
    s.add_argument("files", nargs="+")
    p = sub.add_parser("plotdata", help="data files for plot.sh")
    p.add_argument("dir")
    p.add_argument("files", nargs="+")
    args = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt  # unwinds through the finally blocks that stop what we started

    signal.signal(signal.SIGTERM, on_term)
    try:
        if args.cmd == "run":
            return cmd_run(args)
        if args.cmd == "summary":
            return cmd_summary(args)
        if args.cmd == "plotdata":
            return cmd_plotdata(args)
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
