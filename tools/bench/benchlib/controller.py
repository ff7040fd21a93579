"""The controller under test: its process (started from the command
template, one identity each), its /metrics, its /proc figures (memory,
CPU, run-queue wait) and its binary."""

import hashlib
import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.request


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
