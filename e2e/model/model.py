"""The reference model: which workloads must roll, per batch of operations.

It knows reloadd's contract, not its code: Reloader's decision of which
workload reacts to which source (docs/reloader.md §2.4, with the rules for
references of §5.2 and §5.3 of the same file), the docs/reloader.md §4.1
hash, and the rules of docs/reconcile.md (a workload first seen never
rolls; a data change rolls what reacts; create and delete roll only with
their flags; several triggers in one batch roll once; a marker already
holding the new hash rolls nothing; restarts with and without
--sync-after-restart; failover changes nothing).

Sources are keyed ("configmap"|"secret", name). A workload is a dict made by
the generator (see gen.py): kind, meta and tmpl annotations, refs, markers.
"""
import hashlib
import os
import re

AUTO = "reloader.stakater.com/auto"
SEARCH = "reloader.stakater.com/search"
MATCH = "reloader.stakater.com/match"
IGNORE = "reloader.stakater.com/ignore"
LRF = "reloader.stakater.com/last-reloaded-from"
TYPED = {
    "configmap": {"reload": "configmap.reloader.stakater.com/reload",
                  "auto": "configmap.reloader.stakater.com/auto",
                  "exclude": "configmaps.exclude.reloader.stakater.com/reload",
                  "TYPE": "CONFIGMAP"},
    "secret": {"reload": "secret.reloader.stakater.com/reload",
               "auto": "secret.reloader.stakater.com/auto",
               "exclude": "secrets.exclude.reloader.stakater.com/reload",
               "TYPE": "SECRET"},
}
DELETED = "deleted"   # what a workload is "at" after it rolled for a delete
ABSENT = "absent"     # what a workload is "at" for a source that never existed


def sha1(s):
    return hashlib.sha1(s.encode()).hexdigest()


def source_hash(data):
    """docs/reloader.md §4.1: sorted "k=v" strings joined by ";" (ConfigMap data and Secret
    data hash alike here: the test keeps values printable)."""
    return sha1(";".join(sorted(f"{k}={v}" for k, v in data.items())))


def env_var_name(name, stype):
    """docs/reloader.md §3.1 ConvertToEnvVarName."""
    out, prev_kept = [], False
    for ch in name.upper():
        if ("A" <= ch <= "Z") or ("0" <= ch <= "9"):
            out.append(ch)
            prev_kept = True
        else:
            if prev_kept:
                out.append("_")
            prev_kept = False
    return "STAKATER_" + "".join(out) + "_" + TYPED[stype]["TYPE"]


def parse_bool(v):
    """Go strconv.ParseBool; anything else is false."""
    return v in ("1", "t", "T", "TRUE", "true", "True")


def references(w, skey):
    """docs/reloader.md §5.2: a container references the source by env/envFrom, or mounts a
    volume of it (the generator mounts every volume it makes)."""
    return any((r["type"], r["name"]) == skey for r in w["refs"])


def reacts(flags, w, skey, sann):
    """docs/reloader.md §2.4 ShouldReload for workload w and source skey with annotations sann."""
    stype, sname = skey
    t = TYPED[stype]
    if sann.get(IGNORE) == "true":
        return False
    meta, tmpl = w["meta"], w["tmpl"]
    if any(k in meta for k in (t["reload"], AUTO, t["auto"], SEARCH)):
        src = meta
    else:
        src = tmpl
    if t["exclude"] in meta and sname in [x.strip() for x in meta[t["exclude"]].split(",")]:
        return False
    if t["reload"] in src:
        for item in src[t["reload"]].split(","):
            try:
                if re.search("^" + item.strip() + "$", sname):
                    return True      # explicit: no reference needed
            except re.error:
                pass
    ref = references(w, skey)
    if src.get(SEARCH) == "true" and sann.get(MATCH) == "true" and ref:
        return True
    a, ta = src.get(AUTO, ""), src.get(t["auto"], "")
    if (parse_bool(a) or parse_bool(ta) or (a == "" and ta == "" and flags["auto_all"])) and ref:
        return True
    return False


class Model:
    """State of the namespace as the operations left it, and per (W, S) the
    set of hashes W is "at". apply() runs one operation; end_batch() returns
    the predictions for the batch."""

    def __init__(self, flags):
        self.flags = flags
        self.sources = {}    # skey -> {"hash", "ann", "data"} (present ones only)
        self.workloads = {}  # name -> workload dict (+ "_id": incarnation)
        self.at = {}         # (wname, skey) -> set of hashes
        self.react = {}      # (wname, skey) -> bool as of the last look
        self.markers = {}    # (wname, skey) -> (hand-set marker hash, intact)
        self.incarnation = 0
        # Under env-vars a delete rolls W only if W has the source's STAKATER_
        # variable to remove (Reloader: docs/reloader.md §3.3; reloadd's
        # contract: docs/reconcile.md). E2E_MODEL_ENV_DELETE=always models a
        # delete that rolls every reacting workload. env_var: (wname, skey) ->
        # has it.
        self.env_delete_reloader = os.environ.get("E2E_MODEL_ENV_DELETE") != "always"
        self.env_var = {}
        self.running = True
        self.stats = {"ambiguous": 0}
        self._begin()

    # ---- batches ------------------------------------------------------------

    def _begin(self):
        self.triggers = {}       # wname -> [reasons]
        self.rolled_for = {}     # wname -> sources it rolls for
        self.amb = {}            # wname -> reason it is ambiguous
        self.w_changed = {}      # wname -> workload before the batch (None: created)
        self.s_touched = {}      # skey -> annotations before its op (or after create)
        self.w_deleted = set()
        self.tmpl_edited = set()  # workloads whose pod template the test edited
        self.flipped = {}        # wname -> sources it started/stopped reacting to
        self.record_ok = set()   # workloads allowed a record (metadata-only) patch
        self.down_snapshot = None

    def _key_reacts(self, wname, skey):
        w = self.workloads.get(wname)
        s = self.sources.get(skey)
        return bool(w and s and reacts(self.flags, w, skey, s["ann"]))

    def _judge(self, wname, skey, h, allowed, why):
        """A trigger of W by source skey now at h (allowed: the flag the event
        needs): rolls unless W is at h already. A hand-set marker counts while
        intact; once W rolled (or the source went away) it may or may not
        still be in the template, so a hit on it is ambiguous."""
        at = self.at.get((wname, skey), set())
        m = self.markers.get((wname, skey))
        if not allowed:
            return
        if h in at or (m and m[1] and m[0] == h):
            return
        if h == DELETED and self.env_delete_reloader and self.flags["strategy"] == "env-vars" \
                and not self.env_var.get((wname, skey)):
            return     # Reloader: no STAKATER_ variable to remove, nothing to roll
        if self.workloads[wname]["kind"] != "CronJob":
            # A CronJob's rollout is a Job: its own template never gets the variable,
            # nor loses the one it has (a copied marker rolls each delete, as Reloader).
            self.env_var[(wname, skey)] = h != DELETED
        if m and m[0] == h:
            self.amb.setdefault(wname, f"{why}: hash of a marker a rollout may have overwritten")
        self.triggers.setdefault(wname, []).append(why)
        self.rolled_for.setdefault(wname, set()).add(skey)

    def _after_rollouts(self):
        """A rollout for S overwrites W's marker for S. Under annotations it
        overwrites last-reloaded-from whatever it names (one source only), so
        W's other markers are gone from the template, and whether they still
        count is for the contract to say (a hit on one is ambiguous)."""
        for wname, skeys in self.rolled_for.items():
            for k in [k for k in self.markers if k[0] == wname]:
                if k[1] in skeys:
                    del self.markers[k]
                elif self.flags["strategy"] == "annotations":
                    self.markers[k] = (self.markers[k][0], False)

    def _refresh_reacting(self, wname, reset_new=True):
        """Re-evaluates which sources W reacts to; a source it starts reacting
        to (by its own edit) counts from its present hash on."""
        changed = []
        for skey, s in self.sources.items():
            now = reacts(self.flags, self.workloads[wname], skey, s["ann"])
            before = self.react.get((wname, skey), False)
            if now and not before and reset_new:
                self.at[(wname, skey)] = {s["hash"]}
            if now != before:
                changed.append(skey)
            self.react[(wname, skey)] = now
        return changed

    # ---- operations ---------------------------------------------------------

    def valid(self, op):
        k = op["op"]
        if k in ("create-source",):
            return (op["type"], op["name"]) not in self.sources
        if k in ("update-source", "delete-source"):
            return (op["type"], op["name"]) in self.sources
        if k == "create-workload":
            return op["name"] not in self.workloads
        if k in ("edit-workload", "delete-workload"):
            return op["name"] in self.workloads
        return True

    def apply(self, op):
        name = "_" + op["op"].replace("-", "_")      # create-source -> _create_source
        getattr(self, name)(op)

    def _touch_source(self, skey, ann):
        self.s_touched.setdefault(skey, dict(ann))

    def _create_source(self, op):
        skey = (op["type"], op["name"])
        h = source_hash(op["data"])
        self.sources[skey] = {"hash": h, "ann": dict(op["ann"]), "data": op["data"]}
        self._touch_source(skey, op["ann"])
        for wname in self.workloads:
            r = self._key_reacts(wname, skey)
            self.react[(wname, skey)] = r
            if self.running and (wname, skey) in self.at:
                # W recorded it before it went: dropping that entry (if W no longer
                # reacts, e.g. the new one is ignored) is one metadata-only write.
                self.record_ok.add(wname)
            if not self.running or not r:
                continue
            self.record_ok.add(wname)
            self._judge(wname, skey, h, self.flags["create"], f"create {skey[0]} {skey[1]}")
            self.at[(wname, skey)] = {h}

    def _update_source(self, op):
        skey = (op["type"], op["name"])
        s = self.sources[skey]
        self._touch_source(skey, s["ann"])
        h = source_hash(op["data"])
        s["hash"], s["data"] = h, op["data"]
        for wname in self.workloads:
            if not self.running or not self._key_reacts(wname, skey):
                continue
            self.record_ok.add(wname)
            self._judge(wname, skey, h, True, f"update {skey[0]} {skey[1]}")
            self.at[(wname, skey)] = {h}

    def _delete_source(self, op):
        skey = (op["type"], op["name"])
        s = self.sources[skey]
        self._touch_source(skey, s["ann"])
        for wname in self.workloads:
            r = self._key_reacts(wname, skey)
            self.react[(wname, skey)] = False
            if (wname, skey) in self.markers:
                self.markers[(wname, skey)] = (self.markers[(wname, skey)][0], False)
            if not self.running or not r:
                continue
            self.record_ok.add(wname)
            self._judge(wname, skey, DELETED, self.flags["delete"], f"delete {skey[0]} {skey[1]}")
            if self.flags["delete"]:
                self.at[(wname, skey)] = {DELETED}
        del self.sources[skey]

    def _create_workload(self, op):
        w = {k: v for k, v in op.items() if k not in ("op",)}
        w = dict(w, meta=dict(op["meta"]), tmpl=dict(op["tmpl"]))
        self.incarnation += 1
        w["_id"] = self.incarnation
        self.workloads[op["name"]] = w
        self.w_changed.setdefault(op["name"], None)
        for k in [k for k in self.at if k[0] == op["name"]]:
            del self.at[k]
        for k in [k for k in self.react if k[0] == op["name"]]:
            del self.react[k]
        for k in [k for k in self.markers if k[0] == op["name"]]:
            del self.markers[k]
        # Only the marker the strategy writes is a record: the env var under
        # env-vars, last-reloaded-from under annotations (as Reloader reads them).
        form = "env" if self.flags["strategy"] == "env-vars" else "lrf"
        for k in [k for k in self.env_var if k[0] == op["name"]]:
            del self.env_var[k]
        for m in op.get("markers", []):
            skey = (m["type"], m["name"])
            if m["form"] == "env":
                self.env_var[(op["name"], skey)] = True
            if skey in self.sources and m["form"] == form:
                self.markers[(op["name"], skey)] = (m["hash"], True)
        self._refresh_reacting(op["name"])
        self.record_ok.add(op["name"])

    def _edit_workload(self, op):
        name = op["name"]
        w = self.workloads[name]
        self.w_changed.setdefault(name, {**w, "meta": dict(w["meta"]), "tmpl": dict(w["tmpl"])})
        if w["tmpl"] != op["tmpl"]:
            self.tmpl_edited.add(name)
        w["meta"], w["tmpl"] = dict(op["meta"]), dict(op["tmpl"])
        if self.running:
            self.flipped.setdefault(name, set()).update(self._refresh_reacting(name))
        self.record_ok.add(name)

    def _delete_workload(self, op):
        name = op["name"]
        self.workloads.pop(name)
        self.w_deleted.add(name)
        self.triggers.pop(name, None)
        for d in (self.at, self.react, self.markers):
            for k in [k for k in d if k[0] == name]:
                del d[k]

    # ---- restarts -----------------------------------------------------------

    def stop(self):
        """All replicas are down from here until start()."""
        self.running = False
        self.down_snapshot = {
            "sources": {k: dict(v) for k, v in self.sources.items()},
            "ids": {n: w["_id"] for n, w in self.workloads.items()},
            "react": dict(self.react),
        }

    def start(self, sync):
        """reloadd starts again. With --sync-after-restart, W rolls once iff a
        source it reacted to before and reacts to now is at a hash not in its
        set (a delete counts with --reload-on-delete); without it nothing
        rolls and W is at the present hashes from then on."""
        snap = self.down_snapshot
        self.running = True
        for wname, w in self.workloads.items():
            if snap["ids"].get(wname) != w["_id"]:
                # Created while down: first seen now, never rolls.
                self.react = {k: v for k, v in self.react.items() if k[0] != wname}
                self._refresh_reacting(wname)
                self.record_ok.add(wname)
                continue
            for skey in set(self.sources) | set(snap["sources"]):
                before = snap["react"].get((wname, skey), False)
                now = self._key_reacts(wname, skey)
                self.react[(wname, skey)] = now
                existed = skey in snap["sources"]
                cur = self.sources[skey]["hash"] if skey in self.sources else DELETED
                # (W may also drop the entry of a source it recorded and no longer reacts to.)
                if cur != (snap["sources"][skey]["hash"] if existed else DELETED) and \
                        (before or now or (wname, skey) in self.at):
                    self.record_ok.add(wname)
                    self.s_touched.setdefault(skey, dict(snap["sources"].get(skey, {}).get("ann", {})))
                why = f"{skey[0]} {skey[1]} changed while down"
                if now and before:
                    self._judge(wname, skey, cur, sync, why)
                    self.at[(wname, skey)] = {cur}
                elif now and not existed:
                    # Created while down: a create, or a change if W was at an
                    # older hash of it; the contract does not say which.
                    if sync and (self.flags["create"] or self.at.get((wname, skey), {DELETED}) - {DELETED}):
                        self.amb.setdefault(wname, f"{skey[0]} {skey[1]} created while down")
                    self.at[(wname, skey)] = {cur}
                elif now:
                    self.at[(wname, skey)] = {cur}   # started reacting while down
                elif before and cur == DELETED:
                    self._judge(wname, skey, DELETED, sync and self.flags["delete"], why)
                    self.at[(wname, skey)] = {DELETED}
        self.down_snapshot = None

    # ---- predictions --------------------------------------------------------

    def end_batch(self):
        """Predictions for the batch just applied: {wname: (expected, reasons)}
        with expected 1, 0 or "0-1" (ambiguous), plus the set of workloads
        allowed a metadata-only record patch. Starts the next batch."""
        # The limit of a level-triggered controller: W edited so that it
        # starts or stops reacting to S, and S changed, in one batch; or W's
        # pod template edited (its pods restart anyway) and a source of it
        # changed. Either outcome is accepted.
        for wname, before in self.w_changed.items():
            w = self.workloads.get(wname)
            if w is None or before is None:
                continue
            for skey, ann_before in self.s_touched.items():
                s = self.sources.get(skey)
                anns = [ann_before] + ([s["ann"]] if s else [])
                r = {reacts(self.flags, x, skey, a) for x in (w, before) for a in anns}
                if skey in self.flipped.get(wname, ()) or True in r and (
                        len(r) > 1 or wname in self.tmpl_edited):
                    self.amb.setdefault(wname, f"edited in the batch of a change to {skey[1]}")
        out = {}
        for wname in set(self.triggers) | set(self.amb):
            if wname not in self.workloads:
                continue
            if wname in self.amb:
                out[wname] = ("0-1", [self.amb[wname]] + self.triggers.get(wname, []))
                self.stats["ambiguous"] += 1
            else:
                out[wname] = (1, self.triggers[wname])
        self._after_rollouts()
        rec = {w for w in self.record_ok if w in self.workloads}
        self._begin()
        return out, rec
