"""The cluster: a local control plane brought up by tools/cluster (or the one
of the environment), and the client identities minted on it."""

import base64
import os
import re
import subprocess
import sys
import tempfile
import time

from .api import Api
from .common import ROOT, BenchError, log


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
