"""Generation: the scales, a deterministic plan of namespaces, sources and
workloads (who depends on what, by Reloader's rules), its creation on the
cluster and the removal of the bench namespaces."""

import base64
import concurrent.futures
import json
import random
import threading
import time

from .api import api_path
from .common import PART_OF, PART_OF_VAL, BenchError


# Objects counted at each scale are ConfigMaps + Secrets + workloads
# (namespaces are not counted). fanout = workloads sharing the S3 source.
SCALES = {
    "small": {"objects": 1000, "namespaces": 10, "fanout": 50},
    "medium": {"objects": 10000, "namespaces": 50, "fanout": 1000},
    "large": {"objects": 50000, "namespaces": 100, "fanout": 1000},
    # Issue 18's scale: 100k ConfigMaps and Secrets, 20k workloads, 1,000 namespaces.
    "xlarge": {"objects": 120000, "workloads": 20000, "namespaces": 1000, "fanout": 1000},
}


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
