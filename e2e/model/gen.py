"""Seeded random runs: flags, batches of operations, restarts and leader
kills; and a readable line for each operation.

Every operation is self-contained (it carries its names, data, annotations
and marker hashes), so any subset of a run can be replayed as it is: the
executor skips an operation the state at that point does not allow (an
update of a source that does not exist, say)."""
import json
import random

from model import (AUTO, IGNORE, MATCH, SEARCH, TYPED, Model, source_hash)

CONFIGMAPS = ["cm-0", "cm-1", "cm-2", "cm-3"]
SECRETS = ["sec-0", "sec-1", "sec-2"]
WORKLOADS = ["w-0", "w-1", "w-2", "w-3", "w-4", "w-5"]
KINDS = ["Deployment"] * 4 + ["DaemonSet"] * 2 + ["StatefulSet"] * 2 + ["CronJob"] * 2
VIAS = ["envFrom", "env", "volume", "projected"]


def all_sources():
    return [("configmap", n) for n in CONFIGMAPS] + [("secret", n) for n in SECRETS]


class Generator:
    def __init__(self, seed):
        self.seed = seed
        self.r = random.Random(seed)
        r = self.r
        self.flags = {
            "strategy": r.choice(["env-vars", "annotations"]),
            "create": r.random() < 0.5,
            "delete": r.random() < 0.5,
            "auto_all": r.random() < 0.3,
        }
        self.ha = r.random() < 0.3
        self.sync = r.random() < 0.5
        self.model = Model(self.flags)
        self.counter = 0
        self.history = {}     # skey -> hashes it had
        self.reserved = {}    # skey -> data its next data-giving op uses

    # ---- values -----------------------------------------------------------

    def fresh(self):
        self.counter += 1
        return f"s{self.seed}-{self.counter}"

    def next_data(self, skey, old=None):
        if skey in self.reserved:
            return self.reserved.pop(skey)
        if old:
            data = dict(old)
            data[self.r.choice(sorted(data))] = self.fresh()
            return data
        if self.r.random() < 0.3:
            return {"a": self.fresh(), "a-b": self.fresh()}   # docs/reloader.md §4.1 sort order
        return {"v": self.fresh()}

    # ---- operations -------------------------------------------------------

    def source_op(self, skey):
        m = self.model
        t, n = skey
        if skey in m.sources:
            if self.r.random() < 0.72:
                data = self.next_data(skey, m.sources[skey]["data"])
                return {"op": "update-source", "type": t, "name": n, "data": data}
            return {"op": "delete-source", "type": t, "name": n}
        ann = {}
        if self.r.random() < 0.08:
            ann[IGNORE] = "true"
        if self.r.random() < 0.3:
            ann[MATCH] = "true"
        return {"op": "create-source", "type": t, "name": n, "data": self.next_data(skey), "ann": ann}

    def annotations(self, refs):
        """A random mix of the annotation forms, on the metadata or on the pod
        template; returns (meta, tmpl)."""
        r = self.r
        meta, tmpl = {}, {}
        where = meta if r.random() < 0.7 else tmpl
        weights = {"auto": 7, "typed": 3, "named": 4, "search": 2, "exclude": 2, "none": 2}
        forms = set(r.choices(list(weights), list(weights.values()), k=r.choice([1, 1, 2])))
        for f in sorted(forms):
            stype = r.choice(["configmap", "secret"])
            names = CONFIGMAPS if stype == "configmap" else SECRETS
            if f == "auto":
                where[AUTO] = r.choice(["true"] * 5 + ["false", "True", "yes"])
            elif f == "typed":
                where[TYPED[stype]["auto"]] = r.choice(["true"] * 3 + ["false"])
            elif f == "named":
                pick = r.sample(names, r.choice([1, 1, 2]))
                if r.random() < 0.2:
                    pick = ["cm-[0-1]" if stype == "configmap" else "sec-.*"]
                where[TYPED[stype]["reload"]] = ",".join(pick)
            elif f == "search":
                where[SEARCH] = "true"
            elif f == "exclude":
                cand = [x["name"] for x in refs if x["type"] == stype] or names
                # On the template it is no exclusion at all (docs/reloader.md §2.1).
                (meta if r.random() < 0.8 else tmpl)[TYPED[stype]["exclude"]] = r.choice(cand)
        return meta, tmpl

    def create_workload(self, name):
        r, m = self.r, self.model
        kind = r.choice(KINDS)
        refs = []
        for skey in r.sample(all_sources(), r.choice([0, 1, 1, 2, 2, 2, 3, 3])):
            refs.append({"type": skey[0], "name": skey[1], "via": r.choice(VIAS)})
        meta, tmpl = self.annotations(refs)
        markers, lrf_used = [], False
        for ref in refs:
            if r.random() > 0.35:
                continue
            skey = (ref["type"], ref["name"])
            form = "env" if lrf_used or r.random() < 0.6 else "lrf"
            lrf_used = lrf_used or form == "lrf"
            if skey in m.sources:
                label = r.choice(["current", "stale", "random", "next", "next"])
            else:
                label = "random"
            if label == "current":
                h = m.sources[skey]["hash"]
            elif label == "stale" and len(self.history.get(skey, [])) > 1:
                h = r.choice(self.history[skey][:-1])
            elif label == "next":
                if skey not in self.reserved:
                    self.reserved[skey] = self.next_data(skey, m.sources[skey]["data"])
                h = source_hash(self.reserved[skey])
            else:
                label, h = "random", "%040x" % r.getrandbits(160)
            markers.append({"type": skey[0], "name": skey[1], "hash": h, "form": form, "label": label})
        return {"op": "create-workload", "name": name, "kind": kind, "replicas": r.choice([0, 0, 1]),
                "meta": meta, "tmpl": tmpl, "refs": refs, "markers": markers}

    def workload_op(self, name):
        m, r = self.model, self.r
        if name not in m.workloads:
            return self.create_workload(name)
        if r.random() < 0.2:
            return {"op": "delete-workload", "name": name}
        meta, tmpl = self.annotations(m.workloads[name]["refs"])
        return {"op": "edit-workload", "name": name, "meta": meta, "tmpl": tmpl}

    def related(self, name):
        w = self.model.workloads.get(name)
        if not w:
            return set()
        out = {(x["type"], x["name"]) for x in w["refs"]}
        for skey in all_sources():
            if self.model.react.get((name, skey)):
                out.add(skey)
        return out

    def batch_ops(self, n):
        r, m = self.r, self.model
        ops, used_s, used_w = [], set(), set()
        for _ in range(n):
            nsrc = len(m.sources)
            nw = len(m.workloads)
            want_source = r.random() < (0.75 if nw >= 3 else 0.45) or nsrc < 2 and r.random() < 0.5
            if want_source:
                cand = [s for s in all_sources() if s not in used_s]
                # Keep sources W was just edited for out of the batch, mostly.
                if r.random() < 0.8:
                    busy = set().union(*[self.related(w) for w in used_w]) if used_w else set()
                    cand = [s for s in cand if s not in busy] or cand
                if not cand:
                    continue
                # Mostly a source some workload reacts to: that is where rollouts are.
                hot = [x for x in cand if any(self.model.react.get((w, x)) for w in m.workloads)]
                skey = r.choice(hot if hot and r.random() < 0.7 else cand)
                op = self.source_op(skey)
                used_s.add(skey)
            else:
                cand = [w for w in WORKLOADS if w not in used_w]
                if not cand:
                    continue
                name = r.choice(cand)
                op = self.workload_op(name)
                if op["op"] == "edit-workload" and r.random() < 0.8 and self.related(name) & used_s:
                    continue
                used_w.add(name)
            ops.append(op)
            m.apply(op)
            if op["op"] in ("create-source", "update-source"):
                self.history.setdefault((op["type"], op["name"]), []).append(source_hash(op["data"]))
        return ops

    def run(self, nbatches=None):
        r = self.r
        n = r.randint(10, 40)
        n = nbatches or n
        batches = []
        for i in range(n):
            ev = None
            x = r.random()
            if i > 1 and x < 0.08:
                ev = {"restart": {"sync": r.random() < 0.5}}
            elif self.ha and i > 1 and x < 0.25:
                ev = {"kill": {"signal": r.choice(["KILL", "TERM"]), "when": r.choice(["before", "after"])}}
            if ev and "restart" in ev:
                self.model.stop()
            ops = self.batch_ops(r.randint(1, 5))
            if ev and "restart" in ev:
                self.model.start(ev["restart"]["sync"])
            self.model.end_batch()
            batches.append({"ops": ops, "event": ev})
        return {"seed": self.seed, "flags": self.flags, "ha": self.ha, "sync": self.sync,
                "batches": batches}


def flags_text(spec):
    f = spec["flags"]
    return (f"--reload-strategy={f['strategy']} --reload-on-create={str(f['create']).lower()} "
            f"--reload-on-delete={str(f['delete']).lower()} --auto-reload-all={str(f['auto_all']).lower()}"
            f"{' --sync-after-restart' if spec['sync'] else ''}{' (3 replicas, HA)' if spec['ha'] else ''}")


def _ann(d):
    return json.dumps(d, sort_keys=True) if d else "{}"


def op_text(op):
    k = op["op"]
    if k == "create-source":
        a = f" annotations={_ann(op['ann'])}" if op["ann"] else ""
        return f"create {op['type']} {op['name']} data={_ann(op['data'])}{a}"
    if k == "update-source":
        return f"update {op['type']} {op['name']} data={_ann(op['data'])}"
    if k == "delete-source":
        return f"delete {op['type']} {op['name']}"
    if k == "create-workload":
        refs = ", ".join(f"{x['via']} {x['type']} {x['name']}" for x in op["refs"]) or "none"
        s = (f"create {op['kind'].lower()} {op['name']} annotations={_ann(op['meta'])}"
             f" template-annotations={_ann(op['tmpl'])} refs=[{refs}]")
        if op["markers"]:
            s += " markers=[" + ", ".join(
                f"{x['form']} {x['type']} {x['name']}={x['label']}:{x['hash'][:8]}" for x in op["markers"]) + "]"
        return s
    if k == "edit-workload":
        return f"edit workload {op['name']} annotations={_ann(op['meta'])} template-annotations={_ann(op['tmpl'])}"
    if k == "delete-workload":
        return f"delete workload {op['name']}"
    return json.dumps(op)


def event_text(ev):
    if not ev:
        return ""
    if "restart" in ev:
        return ("restart: all replicas down, these ops, start again"
                + (" with --sync-after-restart" if ev["restart"]["sync"] else " without --sync-after-restart"))
    k = ev["kill"]
    return f"SIG{k['signal']} the leader {k['when']} these ops"


def spec_text(spec, indent="  "):
    lines = []
    for i, b in enumerate(spec["batches"]):
        ev = event_text(b["event"])
        lines.append(f"{indent}batch {i + 1}" + (f" ({ev})" if ev else "") + ":")
        for op in b["ops"]:
            lines.append(f"{indent}  {op_text(op)}")
    return "\n".join(lines)
