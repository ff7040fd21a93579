"""Source updates: the writer identity "bench-writer", whose PATCHes the
audit log records, one at a time or paced at a rate."""

import base64
import json
import threading
import time

from .api import Api, api_path
from .common import BenchError


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
