"""The audit log: an incremental reader of the API server's audit events of
the bench identities, and the request counts and write times drawn from it."""

import datetime
import json
import os

from .common import READ_VERBS, WORKLOAD_RESOURCES, WRITE_VERBS


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
