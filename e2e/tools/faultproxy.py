#!/usr/bin/env python3
"""faultproxy.py - a TLS-terminating HTTP/1.1 proxy in front of the API
server that injects faults on command (e2e case 64-chaos; loopback only,
Python 3 standard library only).

    faultproxy.py --listen PORT --control PORT --upstream https://127.0.0.1:N
                  --ca CA.crt --cert SERVING.crt --key SERVING.key
                  --client-cert CLIENT.crt --client-key CLIENT.key
                  [--write-log FILE] [--name NAME]

One proxy serves one client (one reloadd replica): it listens on
127.0.0.1:PORT with a serving certificate for 127.0.0.1 signed by the
cluster CA (so the replica's kubeconfig keeps its certificate-authority;
only its server URL changes), and forwards every request upstream over
TLS with the client certificate of that replica, so the API server (and
its audit log) sees the replica's own identity. It offers only
http/1.1 in ALPN: clients that prefer HTTP/2 fall back. Each client
connection gets one upstream connection; responses are relayed as they
arrive, so chunked watch streams flow event by event.

Faults, by a line on the control port (127.0.0.1 only; one reply line,
"ok ..." or "error ..."):

    storm PCT SECONDS [RETRY_AFTER]
        for SECONDS, answer PCT% of the requests (watches too) with
        429 Too Many Requests, Retry-After: RETRY_AFTER (default 1) and a
        Status body, without forwarding them.
    cut
        close every open watch at once, mid-stream (both sides' TCP), as
        a dropped connection or a proxy reset looks to the client.
    cut clean
        end every open watch the way a server ends it (the last chunk),
        early.
    silent
        go silent: nothing more is forwarded either way on any
        connection, old or new; connections are held open (a
        partition). "heal" closes every held connection and resumes.
    hold N REGEX
        forward the next N writes (not GET, HEAD or a watch) whose path
        matches REGEX (Python re.search), then hold every later one: never
        forwarded, its connection kept open without an answer, so a test
        that kills the client then knows exactly which writes the server
        applied (e2e case 65: a crash at every step). "heal" closes the
        held connections and ends the hold.
    heal
        end a storm, a silence and a hold now.
    stats
        one JSON line of counters.

Signals do the same for scripts without a socket: SIGUSR1 = cut,
SIGUSR2 = storm 100 5. SIGTERM stops the proxy.

--write-log FILE: one JSON line per request that is not a read (not GET,
HEAD or a watch): time sent, time answered, method, path, status (0: the
upstream connection ended before an answer, -429: refused by a storm
here, never forwarded; "sent": false when the request never left the
proxy, the upstream being unreachable), the request body and the response body (gzip
decoded, each cut at 256 KiB; "client_gone": true when the client gave
up before the answer: the answer is still read to its end and logged,
since the server may well have applied the write). A test reconstructs from it exactly what
the client wrote and what the server made of it.
"""
import argparse
import asyncio
import gzip
import json
import random
import re
import signal
import ssl
import sys
import time
import zlib
from urllib.parse import urlsplit

BODY_LOG_MAX = 256 << 10


class Closed(Exception):
    pass


class Proxy:
    def __init__(self, args):
        self.args = args
        up = urlsplit(args.upstream)
        self.up_host, self.up_port = up.hostname, up.port or 443
        self.storm_pct = 0
        self.storm_until = 0.0
        self.retry_after = 1
        self.silent = False
        self.silence = asyncio.Event()      # set while NOT silent
        self.silence.set()
        self.watches = set()                # Conn objects streaming a watch now
        self.conns = set()
        self.stats = {"requests": 0, "watches": 0, "refused429": 0, "storms": 0,
                      "cuts": 0, "watches_cut": 0, "silences": 0, "upstream_errors": 0,
                      "held": 0, "hold_forwarded": 0}
        self.hold_re = None                 # "hold": writes matching it are counted
        self.hold_left = 0                  # ... and forwarded while this is > 0
        self.unhold = asyncio.Event()
        self.wlog = open(args.write_log, "a", buffering=1) if args.write_log else None

        self.server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.server_ctx.load_cert_chain(args.cert, args.key)
        self.server_ctx.set_alpn_protocols(["http/1.1"])
        self.client_ctx = ssl.create_default_context(cafile=args.ca)
        self.client_ctx.load_cert_chain(args.client_cert, args.client_key)
        self.client_ctx.set_alpn_protocols(["http/1.1"])

    def log(self, msg):
        print(f"{time.strftime('%H:%M:%S')} faultproxy {self.args.name}: {msg}", flush=True)

    # ---- faults ----------------------------------------------------------
    def storming(self):
        if self.storm_pct and time.time() < self.storm_until:
            return random.uniform(0, 100) < self.storm_pct
        return False

    def cut(self, clean=False):
        n = len(self.watches)
        self.stats["cuts"] += 1
        self.stats["watches_cut"] += n
        for c in list(self.watches):
            c.cut(clean)
        self.log(f"cut {n} watches{' cleanly' if clean else ''}")
        return n

    def set_silent(self, on):
        if on and not self.silent:
            self.stats["silences"] += 1
            self.silence.clear()
        self.silent = on
        if not on:
            self.silence.set()

    def holds(self, method, target, is_watch):
        """Whether this request is held (the "hold" fault)."""
        if self.hold_re is None or method in ("GET", "HEAD") or is_watch:
            return False
        if not self.hold_re.search(target):
            return False
        if self.hold_left > 0:
            self.hold_left -= 1
            self.stats["hold_forwarded"] += 1
            return False
        self.stats["held"] += 1
        return True

    def heal(self):
        if self.hold_re is not None:
            self.hold_re = None
            self.unhold.set()
            self.unhold = asyncio.Event()
        self.storm_pct = 0
        if self.silent:
            self.set_silent(False)
            for c in list(self.conns):
                c.close()
        self.log("healed")

    def command(self, line):
        w = line.split()
        if not w:
            return "error empty command"
        if w[0] == "storm" and len(w) in (3, 4):
            self.storm_pct = max(0, min(100, int(w[1])))
            self.storm_until = time.time() + float(w[2])
            self.retry_after = int(w[3]) if len(w) == 4 else 1
            self.stats["storms"] += 1
            self.log(f"429 storm: {self.storm_pct}% for {w[2]} s, Retry-After {self.retry_after}")
            return f"ok storm {self.storm_pct}% {w[2]}s"
        if w[0] == "cut":
            return f"ok cut {self.cut(len(w) > 1 and w[1] == 'clean')}"
        if w[0] == "silent":
            self.set_silent(True)
            self.log("silent")
            return "ok silent"
        if w[0] == "hold" and len(w) == 3:
            self.hold_left = max(0, int(w[1]))
            self.hold_re = re.compile(w[2])
            self.stats["held"] = self.stats["hold_forwarded"] = 0
            self.log(f"hold: writes matching {w[2]!r} held after {self.hold_left}")
            return f"ok hold after {self.hold_left}"
        if w[0] == "heal":
            self.heal()
            return "ok healed"
        if w[0] == "stats":
            return "ok " + json.dumps(dict(self.stats, open_watches=len(self.watches),
                                           connections=len(self.conns)))
        return f"error unknown command {line.strip()!r}"

    async def control(self, r, w):
        try:
            while True:
                line = await r.readline()
                if not line:
                    break
                w.write((self.command(line.decode(errors="replace")) + "\n").encode())
                await w.drain()
        except (ConnectionError, ValueError) as e:
            try:
                w.write(f"error {e}\n".encode())
            except Exception:
                pass
        finally:
            w.close()

    def write_log(self, rec):
        if self.wlog:
            self.wlog.write(json.dumps(rec, separators=(",", ":")) + "\n")

    async def serve(self, r, w):
        c = Conn(self, r, w)
        self.conns.add(c)
        try:
            await c.run()
        finally:
            self.conns.discard(c)
            self.watches.discard(c)
            c.close()


async def read_head(r):
    """Reads a request/status line and headers; returns (line, [(k, v)])."""
    raw = await r.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    headers = []
    for h in lines[1:]:
        if not h:
            continue
        k, _, v = h.partition(":")
        headers.append((k.strip(), v.strip()))
    return lines[0], headers


def hget(headers, name):
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def hdrop(headers, *names):
    names = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in names]


def head_bytes(line, headers):
    return (line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n").encode("latin-1")


async def read_body(r, headers):
    """A whole request body (Content-Length or chunked) -> bytes."""
    te = (hget(headers, "Transfer-Encoding") or "").lower()
    if "chunked" in te:
        out = bytearray()
        while True:
            size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while (await r.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(out)
            out += await r.readexactly(size)
            await r.readexactly(2)
    n = int(hget(headers, "Content-Length") or 0)
    return await r.readexactly(n) if n else b""


def decode_body(b, headers):
    enc = (hget(headers, "Content-Encoding") or "").lower()
    try:
        if enc == "gzip":
            b = gzip.decompress(b)
        elif enc == "deflate":
            b = zlib.decompress(b)
    except Exception:
        pass
    b = b[:BODY_LOG_MAX]
    try:
        return json.loads(b)
    except Exception:
        return b.decode("utf-8", errors="replace")


class Conn:
    """One client connection and the upstream connection it uses."""

    def __init__(self, proxy, r, w):
        self.p = proxy
        self.cr, self.cw = r, w
        self.ur = self.uw = None
        self.closed = False
        self.client_gone = False
        self.clean_cut = False
        self.cut_event = asyncio.Event()

    def close(self):
        self.closed = True
        for w in (self.cw, self.uw):
            if w is not None:
                try:
                    w.transport.abort()
                except Exception:
                    pass

    def cut(self, clean):
        if clean:
            self.clean_cut = True
            self.cut_event.set()
        else:
            self.close()

    async def upstream(self):
        if self.uw is None or self.uw.is_closing():
            self.ur, self.uw = await asyncio.open_connection(
                self.p.up_host, self.p.up_port, ssl=self.p.client_ctx,
                server_hostname=self.p.up_host)

    async def gate(self):
        """Blocks while the proxy is silent (forever for this connection)."""
        if self.p.silent:
            await self.p.silence.wait()
            raise Closed()          # healing closes held connections

    async def run(self):
        try:
            while not self.closed:
                try:
                    line, headers = await read_head(self.cr)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                await self.gate()
                method, target, _ = (line.split(" ", 2) + ["", ""])[:3]
                if hget(headers, "Expect"):
                    headers = hdrop(headers, "Expect")
                    self.cw.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                body = await read_body(self.cr, headers)
                await self.gate()
                if not await self.one(method, target, line, headers, body):
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, Closed, OSError):
            return

    async def answer_429(self, method, target, t0, is_watch):
        p = self.p
        p.stats["refused429"] += 1
        body = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": "Too many requests, please try again later (faultproxy storm).",
                           "reason": "TooManyRequests", "details": {"retryAfterSeconds": p.retry_after},
                           "code": 429}).encode()
        self.cw.write(head_bytes("HTTP/1.1 429 Too Many Requests", [
            ("Content-Type", "application/json"), ("Retry-After", str(p.retry_after)),
            ("Content-Length", str(len(body)))]) + body)
        await self.cw.drain()
        if method not in ("GET", "HEAD") and not is_watch:
            p.write_log({"t0": t0, "t1": time.time(), "method": method, "path": target,
                         "status": -429})

    async def one(self, method, target, line, headers, body):
        """Forwards one request and relays its answer; False ends the connection."""
        p = self.p
        p.stats["requests"] += 1
        t0 = time.time()
        is_watch = method == "GET" and ("watch=1" in target or "watch=true" in target)
        logged = method not in ("GET", "HEAD")
        if p.storming():
            await self.answer_429(method, target, t0, is_watch)
            return True
        if p.holds(method, target, is_watch):
            await p.unhold.wait()
            if logged:
                p.write_log({"t0": t0, "t1": time.time(), "method": method, "path": target,
                             "status": 0, "sent": False, "error": "held",
                             "request": decode_body(body, headers)})
            return False            # healing closes a held connection, unanswered
        sent = False
        try:
            await self.upstream()
            headers = hdrop(headers, "Host") + [("Host", f"{p.up_host}:{p.up_port}")]
            if body and "chunked" in (hget(headers, "Transfer-Encoding") or "").lower():
                headers = hdrop(headers, "Transfer-Encoding") + [("Content-Length", str(len(body)))]
            self.uw.write(head_bytes(line, headers) + body)
            sent = True
            await self.uw.drain()
            while True:
                sline, sheaders = await read_head(self.ur)
                status = int(sline.split(" ")[1])
                if 100 <= status < 200:
                    continue        # 100 Continue from upstream: already answered
                break
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError) as e:
            p.stats["upstream_errors"] += 1
            if logged:
                p.write_log({"t0": t0, "t1": time.time(), "method": method, "path": target,
                             "status": 0, "sent": sent, "error": str(e) or type(e).__name__,
                             "request": decode_body(body, headers)})
            return False            # the client sees its connection end
        if is_watch and status == 200:
            p.stats["watches"] += 1
            p.watches.add(self)
        try:
            self.client_gone = False
            rbody = await self.relay_body(method, status, sheaders, keep=logged, watch=is_watch,
                                          head=head_bytes(sline, sheaders))
        except Closed:
            rbody = None
        finally:
            p.watches.discard(self)
        if logged:
            rec = {"t0": t0, "t1": time.time(), "method": method, "path": target, "status": status,
                   "request": decode_body(body, headers)}
            if rbody is not None:
                rec["response"] = decode_body(rbody, sheaders)
            else:
                rec["error"] = "answer cut"
            if self.client_gone:
                rec["client_gone"] = True       # the client gave up before the answer
            p.write_log(rec)
        if rbody is None or self.closed or self.client_gone:
            return False
        conn = (hget(sheaders, "Connection") or "").lower()
        return conn != "close"

    async def relay_body(self, method, status, headers, keep, watch=False, head=b""):
        """Relays the answer (head, then body as it arrives) to the client.
        Returns the body (if keep) or b""; raises Closed if the server's
        side ended early, or the client's during a watch."""
        out = bytearray()
        cw, ur = self.cw, self.ur

        async def up_read(coro):
            # A clean cut ends a chunked stream between two chunks.
            if self.clean_cut:
                coro.close()
                raise Closed()
            t = asyncio.ensure_future(coro)
            cut = asyncio.ensure_future(self.cut_event.wait())
            done, _ = await asyncio.wait({t, cut}, return_when=asyncio.FIRST_COMPLETED)
            if t in done:
                cut.cancel()
                return t.result()
            t.cancel()
            raise Closed()

        async def send(b):
            # A client that went away (it timed out) does not stop the
            # answer to a write being read to its end: the write log must
            # show what the server did with it. A watch just ends.
            await self.gate()
            if self.client_gone:
                return
            try:
                cw.write(b)
                await cw.drain()
            except (ConnectionError, OSError):
                if watch:
                    raise
                self.client_gone = True

        try:
            await send(head)
            if method == "HEAD" or status in (204, 304):
                return b""
            te = (hget(headers, "Transfer-Encoding") or "").lower()
            if "chunked" in te:
                while True:
                    try:
                        size_line = await up_read(ur.readuntil(b"\r\n"))
                    except Closed:
                        if self.clean_cut:
                            self.clean_cut = False
                            self.cut_event.clear()
                            await send(b"0\r\n\r\n")
                            self.uw.transport.abort()   # its watch is still open upstream
                            self.uw = None
                            return bytes(out)
                        raise
                    size = int(size_line.split(b";")[0], 16)
                    if size == 0:
                        trailer = b""
                        while True:
                            t = await ur.readuntil(b"\r\n")
                            trailer += t
                            if t == b"\r\n":
                                break
                        await send(size_line + trailer)
                        return bytes(out)
                    chunk = await ur.readexactly(size + 2)
                    if keep and len(out) < BODY_LOG_MAX:
                        out += chunk[:-2]
                    await send(size_line + chunk)
            n = hget(headers, "Content-Length")
            if n is not None:
                left = int(n)
                while left > 0:
                    b = await ur.read(min(left, 65536))
                    if not b:
                        raise Closed()
                    left -= len(b)
                    if keep and len(out) < BODY_LOG_MAX:
                        out += b
                    await send(b)
                return bytes(out)
            while True:     # no length: until the server closes
                b = await up_read(ur.read(65536))
                if not b:
                    self.closed = True
                    return bytes(out)
                if keep and len(out) < BODY_LOG_MAX:
                    out += b
                await send(b)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, OSError):
            raise Closed()


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--control", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-cert", required=True)
    ap.add_argument("--client-key", required=True)
    ap.add_argument("--write-log")
    ap.add_argument("--name", default="proxy")
    args = ap.parse_args()
    p = Proxy(args)
    loop = asyncio.get_running_loop()

    def on_exception(lp, ctx):     # tasks cancelled at exit are no error
        if not isinstance(ctx.get("exception"), asyncio.CancelledError):
            lp.default_exception_handler(ctx)
    loop.set_exception_handler(on_exception)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, p.cut)
    loop.add_signal_handler(signal.SIGUSR2, p.command, "storm 100 5")
    srv = await asyncio.start_server(p.serve, "127.0.0.1", args.listen, ssl=p.server_ctx,
                                     ssl_handshake_timeout=10)
    ctl = await asyncio.start_server(p.control, "127.0.0.1", args.control)
    p.log(f"127.0.0.1:{args.listen} -> {args.upstream}, control on 127.0.0.1:{args.control}")
    async with srv, ctl:
        await stop.wait()
    p.log("stopping: " + json.dumps(p.stats))
    for c in list(p.conns):
        c.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
