"""The cluster side of the model test: a fast admin client (http.client over
TLS with the admin client certificate), watches of the workload kinds, a
tail of the API server's audit log, client-certificate identities for
reloadd replicas, and reloadd processes (started and stopped by PID)."""
import base64
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone

import yaml

# Workload kinds: (kind, API path prefix, plural).
KINDS = {
    "Deployment": ("/apis/apps/v1", "deployments"),
    "DaemonSet": ("/apis/apps/v1", "daemonsets"),
    "StatefulSet": ("/apis/apps/v1", "statefulsets"),
    "CronJob": ("/apis/batch/v1", "cronjobs"),
}
WORKLOAD_RESOURCES = {"deployments", "daemonsets", "statefulsets", "cronjobs", "jobs",
                      "rollouts"}
# Also reported: a write to a ConfigMap or Secret (reloadd never needs one here).
WATCHED_RESOURCES = WORKLOAD_RESOURCES | {"configmaps", "secrets"}
WRITE_VERBS = {"patch", "update", "create", "delete"}


class Disturbed(Exception):
    """The API server went away during a batch (someone restarted it): the
    batch says nothing about reloadd, so the run is abandoned."""


class ApiError(Exception):
    def __init__(self, status, body, what):
        super().__init__(f"{what}: HTTP {status}: {body[:300]}")
        self.status = status


def _kubeconfig(path):
    with open(path) as f:
        kc = yaml.safe_load(f)
    ctx_name = kc.get("current-context")
    ctx = next((c["context"] for c in kc["contexts"] if c["name"] == ctx_name),
               kc["contexts"][0]["context"])
    cluster = next(c["cluster"] for c in kc["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in kc["users"] if u["name"] == ctx["user"])
    return kc, cluster, user


class Cluster:
    """Admin access to the cluster in the environment (tools/cluster env)."""

    def __init__(self, workdir):
        self.dir = os.environ["RELOADD_CLUSTER_DIR"]
        self.audit_path = os.path.join(self.dir, "logs", "audit.log")
        self.controller_kubeconfig = os.environ["RELOADD_CONTROLLER_KUBECONFIG"]
        self.workdir = workdir
        _, cluster, user = _kubeconfig(os.environ["KUBECONFIG"])
        server = cluster["server"]
        assert server.startswith("https://")
        hostport = server[len("https://"):].rstrip("/")
        self.host, port = hostport.rsplit(":", 1)
        self.port = int(port)
        crt = os.path.join(workdir, "admin.crt")
        key = os.path.join(workdir, "admin.key")
        ca = os.path.join(workdir, "ca.crt")
        with open(crt, "wb") as f:
            f.write(base64.b64decode(user["client-certificate-data"]))
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(user["client-key-data"]))
        if "certificate-authority-data" in cluster:
            with open(ca, "wb") as f:
                f.write(base64.b64decode(cluster["certificate-authority-data"]))
        else:
            ca = cluster["certificate-authority"]
        self.ca = ca
        self.ctx = self.tls_context(crt, key)
        self._local = threading.local()
        self.disturbances = 0     # requests that found the API server unreachable

    def tls_context(self, crt, key):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.load_cert_chain(crt, key)
        return ctx

    def connection(self, ctx=None, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=ctx or self.ctx,
                                           timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", ok=(200, 201, 202),
                ctx=None):
        """One request on this thread's keep-alive connection; returns (status, object)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = ctype
        give_up = time.time() + 30     # the API server may be restarting
        while True:
            conn = getattr(self._local, "conn", None) if ctx is None else None
            if conn is None:
                conn = self.connection(ctx)
                if ctx is None:
                    self._local.conn = conn
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                if ctx is not None:
                    conn.close()
                break
            except (http.client.HTTPException, OSError):
                conn.close()
                self._local.conn = None
                self.disturbances += 1
                if time.time() > give_up:
                    raise
                time.sleep(0.2)
        obj = json.loads(raw) if raw else None
        if ok and resp.status not in ok:
            raise ApiError(resp.status, raw.decode(errors="replace"), f"{method} {path}")
        return resp.status, obj

    def create_namespace(self, name):
        self.request("POST", "/api/v1/namespaces",
                     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def delete_namespace(self, name):
        self.request("DELETE", f"/api/v1/namespaces/{name}", ok=None)

    def lease_holder(self, name, namespace="reloadd"):
        st, obj = self.request(
            "GET", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}", ok=None)
        if st != 200:
            return ""
        return (obj.get("spec") or {}).get("holderIdentity") or ""

    def delete_lease(self, name, namespace="reloadd"):
        self.request("DELETE", f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}",
                     ok=None)


def now_utc():
    return datetime.now(timezone.utc)


def parse_ts(s):
    # "2026-12-04T20:10:59.294470Z"
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


class Watcher:
    """Watches the workload kinds and Jobs in one namespace from a thread
    each, and reports what a rollout looks like from outside: a change of
    the pod template of a Deployment, DaemonSet or StatefulSet that the
    test's own writes did not make, or a Job created for a CronJob."""

    def __init__(self, cluster, namespace):
        self.cluster = cluster
        self.ns = namespace
        self.lock = threading.Lock()
        self.mine = set()          # resourceVersions of the test's own writes
        self.template = {}         # (kind, name) -> (uid, pod template JSON)
        self.rollouts = []         # (time, kind, name, detail)
        self.pending = []          # generation bumps not yet attributed
        self.jobs_seen = set()
        self.job_names = set()
        self.stop = threading.Event()
        self.threads = []
        self.errors = []
        self.conns = []

    def start(self):
        specs = [(k, p, r) for k, (p, r) in KINDS.items()] + [("Job", "/apis/batch/v1", "jobs")]
        for kind, prefix, plural in specs:
            st, lst = self.cluster.request("GET", f"{prefix}/namespaces/{self.ns}/{plural}")
            rv = lst["metadata"]["resourceVersion"]
            for it in lst.get("items", []):
                self._seen(kind, it, initial=True)
            t = threading.Thread(target=self._run, args=(kind, prefix, plural, rv), daemon=True)
            t.start()
            self.threads.append(t)

    def close(self):
        self.stop.set()
        with self.lock:
            conns = list(self.conns)
        for c in conns:
            try:
                if c.sock:
                    c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def mark_mine(self, kind, obj):
        """Records a write of the test's own (its response object)."""
        if not obj or "metadata" not in obj:
            return
        with self.lock:
            self.mine.add(obj["metadata"].get("resourceVersion"))

    def _seen(self, kind, obj, initial=False, etype="ADDED"):
        md = obj["metadata"]
        name, rv, uid = md["name"], md.get("resourceVersion"), md.get("uid")
        t = time.time()
        with self.lock:
            if kind == "Job":
                if etype != "ADDED" or uid in self.jobs_seen:
                    return
                self.jobs_seen.add(uid)
                owners = [o["name"] for o in md.get("ownerReferences", []) if o.get("kind") == "CronJob"]
                if name in self.job_names and not initial:
                    # The same name again: a Job deleted and re-created (a Job's rollout).
                    self.rollouts.append((t, "Job", name, f"job {name} re-created"))
                elif owners and not initial:
                    self.rollouts.append((t, "CronJob", owners[0], f"job {name} created"))
                self.job_names.add(name)
                return
            if etype == "DELETED":
                self.template.pop((kind, name), None)
                return
            # A Deployment's generation also moves on annotation changes, so
            # a rollout is a change of the pod template itself.
            tmpl = json.dumps((obj.get("spec") or {}).get("template"), sort_keys=True)
            old = self.template.get((kind, name))
            self.template[(kind, name)] = (uid, tmpl)
            if initial or old is None or old[0] != uid or old[1] == tmpl:
                return
            # Not (yet) known as ours: the response of our write may still
            # be on its way; attributed in take_rollouts after a delay.
            self.pending.append((t, kind, name, rv))

    def take_rollouts(self, settle=0.5):
        """Rollouts seen so far: pod-template changes older than `settle` s
        that are not the test's own writes, and Jobs made for CronJobs."""
        now = time.time()
        with self.lock:
            keep = []
            for p in self.pending:
                t, kind, name, rv = p
                if rv in self.mine:
                    continue
                if now - t >= settle:
                    self.rollouts.append((t, kind, name, f"pod template changed (rv {rv})"))
                else:
                    keep.append(p)
            self.pending = keep
            return list(self.rollouts)

    def _run(self, kind, prefix, plural, rv):
        while not self.stop.is_set():
            conn = self.cluster.connection(timeout=None)
            with self.lock:
                self.conns.append(conn)
            try:
                path = (f"{prefix}/namespaces/{self.ns}/{plural}?watch=1&resourceVersion={rv}"
                        f"&timeoutSeconds=3600&allowWatchBookmarks=true")
                conn.request("GET", path, headers={"Accept": "application/json"})
                resp = conn.getresponse()
                if resp.status != 200:
                    raise ApiError(resp.status, resp.read().decode(errors="replace"), path)
                while not self.stop.is_set():
                    line = resp.readline()
                    if not line:
                        break
                    ev = json.loads(line)
                    obj = ev.get("object") or {}
                    if ev.get("type") == "ERROR":
                        if obj.get("code") == 410:
                            self.errors.append(f"{plural} watch expired at {rv}")
                        raise ApiError(obj.get("code"), json.dumps(obj), path)
                    rv = obj.get("metadata", {}).get("resourceVersion", rv)
                    if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                        self._seen(kind, obj, etype=ev["type"])
            except (OSError, http.client.HTTPException, ApiError, ValueError) as e:
                if self.stop.is_set():
                    break
                self.errors.append(f"{plural} watch: {e}")
                time.sleep(0.2)
            finally:
                conn.close()
                with self.lock:
                    self.conns.remove(conn)


class AuditTail:
    """Reads the audit log incrementally; keeps the writes of the given
    users to workloads (and Jobs) in one namespace."""

    def __init__(self, path):
        self.path = path
        self.f = open(path, "rb")
        self.f.seek(0, os.SEEK_END)
        self.buf = b""
        self.entries = []

    def poll(self):
        chunk = self.f.read()
        if not chunk:
            return
        self.buf += chunk
        lines = self.buf.split(b"\n")
        self.buf = lines.pop()
        for ln in lines:
            try:
                e = json.loads(ln)
            except ValueError:
                continue
            self.entries.append(e)

    def close(self):
        self.f.close()


def audit_writes(entries, namespace, users):
    """Successful writes to workloads, ConfigMaps and Secrets in `namespace`,
    in order; "mine" tells those of `users` (the run's reloadd identities)."""
    out = []
    for e in entries:
        ref = e.get("objectRef") or {}
        if ref.get("namespace") != namespace or e.get("stage") != "ResponseComplete":
            continue
        if e.get("verb") not in WRITE_VERBS or ref.get("resource") not in WATCHED_RESOURCES:
            continue
        if ref.get("subresource"):
            continue
        if (e.get("responseStatus") or {}).get("code", 999) >= 300:
            continue
        out.append({
            "t": parse_ts(e["requestReceivedTimestamp"]).timestamp(),
            "user": e["user"]["username"],
            "verb": e["verb"],
            "resource": ref["resource"],
            "name": ref.get("name", ""),
            "mine": e["user"]["username"] in users,
        })
    return out


class Identity:
    """A controller identity of its own: a client certificate signed by the
    cluster CA (user NAME, group reloadd:controllers), as e2e_identity
    makes it, and a TLS context to speak as it."""

    def __init__(self, cluster, name, workdir):
        self.name = name
        d = os.path.join(workdir, f"id-{name}")
        os.makedirs(d, exist_ok=True)
        pki = os.path.join(cluster.dir, "pki")
        key, csr, crt = (os.path.join(d, n) for n in ("key.pem", "csr.pem", "crt.pem"))
        subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-subj", f"/O=reloadd:controllers/CN={name}",
                        "-keyout", key, "-out", csr], check=True, capture_output=True)
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=clientAuth\n")
        subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(pki, "ca.crt"),
                        "-CAkey", os.path.join(pki, "ca.key"), "-CAcreateserial",
                        "-CAserial", os.path.join(d, "ca.srl"), "-days", "1", "-out", crt,
                        "-extfile", ext], check=True, capture_output=True)
        kc, _, _ = _kubeconfig(cluster.controller_kubeconfig)
        ctx_name = kc.get("current-context") or kc["contexts"][0]["name"]
        ctx = next(c for c in kc["contexts"] if c["name"] == ctx_name)
        cl = next(c for c in kc["clusters"] if c["name"] == ctx["context"]["cluster"])
        with open(crt, "rb") as f:
            crt_b64 = base64.b64encode(f.read()).decode()
        with open(key, "rb") as f:
            key_b64 = base64.b64encode(f.read()).decode()
        out = {"apiVersion": "v1", "kind": "Config", "clusters": [cl],
               "users": [{"name": name, "user": {"client-certificate-data": crt_b64,
                                                 "client-key-data": key_b64}}],
               "contexts": [{"name": name, "context": {"cluster": cl["name"], "user": name}}],
               "current-context": name}
        self.kubeconfig = os.path.join(d, "kubeconfig")
        with open(self.kubeconfig, "w") as f:
            json.dump(out, f)
        self.ctx = cluster.tls_context(crt, key)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Reloadd:
    """One reloadd process with its own identity; stopped by PID only."""

    def __init__(self, binary, identity, args, logpath, ha_lease=None):
        self.identity = identity
        self.port = free_port()
        env = dict(os.environ)
        argv = [binary, f"--kubeconfig={identity.kubeconfig}",
                f"--metrics-addr=127.0.0.1:{self.port}", "--explain-addr=off"] + list(args)
        # As in a pod: its namespace known, so the workload state is on (docs/reconcile.md).
        env["POD_NAME"] = identity.name
        env["POD_NAMESPACE"] = "reloadd"
        if ha_lease:
            argv += ["--enable-ha", f"--lease-name={ha_lease}", "--lease-duration=4s",
                     "--renew-deadline=3s", "--retry-period=500ms"]
        env.pop("KUBECONFIG", None)
        self.log = open(logpath, "ab")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)
        self.argv = argv

    def wait_ready(self, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reloadd exited with {self.proc.returncode} at start")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("reloadd not ready after %ds" % timeout)

    def metrics(self):
        """Its /metrics as {family: sum over labels}; {} if unreachable."""
        out = {}
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=1) as r:
                text = r.read().decode()
        except OSError:
            return out
        for ln in text.splitlines():
            if not ln or ln[0] == "#":
                continue
            name, _, val = ln.rpartition(" ")
            name = name.split("{")[0]
            try:
                out[name] = out.get(name, 0.0) + float(val)
            except ValueError:
                pass
        return out

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops it; returns its exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                self.log.close()
                return None
        self.log.close()
        return self.proc.returncode


def workdir(base=None):
    base = base or os.environ.get("E2E_DIR") or tempfile.gettempdir()
    os.makedirs(base, exist_ok=True)
    return tempfile.mkdtemp(prefix="model-", dir=base)
