"""API access: HTTPS with a client certificate, one keep-alive connection per
thread; api_path() names an object's URL path."""

import http.client
import json
import ssl
import threading
import time
import urllib.parse

from .common import BenchError


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


def api_path(resource, ns, name=None):
    base = "/api/v1" if resource in ("configmaps", "secrets", "namespaces") else "/apis/apps/v1"
    p = "%s/namespaces/%s/%s" % (base, ns, resource)
    return p + ("/" + name if name else "")
