#!/usr/bin/env python3
"""chaos_check.py - the oracle of e2e case 64-chaos (Python 3 stdlib only).

    chaos_check.py missed DIR     exit 0 once every workload's pods have
                                  the final version of each source and
                                  every record says so (for the wait)
    chaos_check.py rollouts DIR   missed + duplicate rollouts + figures
    chaos_check.py readyz DIR     /readyz during and after API server outages

DIR is the case's artifact directory, holding:
  workloads.tsv    "deployment<TAB>source,source" (source: configmap/NAME
                   or secret/NAME), every workload of the case
  deploy0.json     `kubectl get deploy -o json` once every baseline was
                   recorded, before the first change
  deploy.json, rs.json, cm.json, secret.json   the same at the end
  state0.json, state.json   the workload state's ConfigMaps (reloadd-state-NN:
                   the records of workloads that never rolled) with
                   deploy0.json and deploy.json; optional
  writes-*.jsonl   faultproxy.py --write-log of each replica's proxy
  changes          "epoch_ms source version resourceVersion" per change
                   the writer made (the revision its PATCH was answered with)
  faults           "start_ms end_ms kind detail" per fault injected
  readyz.log       "epoch_ms replica http_code" per probe

Every source holds one key, v, whose value is its version (0 at the
start, +1 per change); its hash (reloadd's and Reloader's: sha1 of the
sorted "k=v" pairs joined by ";") names the version.

Revisions order everything: a rollout is a write whose answer carries a
new pod template, at revision R; the pods it starts read every source as
it was at R. So a workload "has" version V of a source when its last
rollout came after V was written (its marker may name an older version:
a rollout for another source, or one decided just before V, carries V
too; reloadd then records V without rolling again, docs/reconcile.md).

Rollouts are read from the proxies' write logs: every successful write
reloadd made to a Deployment, with the object the API server answered,
ordered by resourceVersion after the baseline snapshot.
  missed     a workload whose pods (last rollout) have an older version of
             a source than its final one; or a record-only write that
             recorded a version newer than the pods have (reloadd decided
             a change needs no rollout: adopted, never rolled for, even if
             a later rollout happened to bring it)
  duplicate  a rollout that brought no source to a newer version than the
             pods had (a rollout that changed nothing, or rolled again for
             a version already delivered)
The write logs must account for the final template and for every
ReplicaSet's template, or the analysis says so and fails.
"""
import base64
import bisect
import glob
import hashlib
import json
import os
import sys
from collections import Counter, defaultdict


def source_hash(data):
    return hashlib.sha1(";".join(sorted(f"{k}={v}" for k, v in data.items())).encode()).hexdigest()


def version_hash(v):
    return source_hash({"v": str(v)})


def hash_table(maxv):
    return {version_hash(v): v for v in range(maxv)}


def env_name(kind, name):
    out, prev = [], False
    for ch in name.upper():
        if "A" <= ch <= "Z" or "0" <= ch <= "9":
            out.append(ch)
            prev = True
        else:
            if prev:
                out.append("_")
            prev = False
    return "STAKATER_" + "".join(out) + "_" + ("CONFIGMAP" if kind == "configmap" else "SECRET")


def load(d, f):
    with open(os.path.join(d, f)) as fh:
        return json.load(fh)


def workloads(d):
    out = {}
    with open(os.path.join(d, "workloads.tsv")) as fh:
        for line in fh:
            name, srcs = line.split()
            out[name] = srcs.split(",")
    return out


def final_versions(items):
    vers = {}
    for item in items:
        v = (item.get("data") or {}).get("v")
        if v is None:
            continue
        if item["kind"] == "Secret":
            vers["secret/" + item["metadata"]["name"]] = int(base64.b64decode(v).decode())
        else:
            vers["configmap/" + item["metadata"]["name"]] = int(v)
    return vers


def markers(template, srcs, hash_to_version):
    """{source: version, None (no marker) or "?" (a hash of no version)}."""
    env = {}
    for c in template.get("spec", {}).get("containers", []):
        if c.get("name") == "app":
            env = {e["name"]: e.get("value") for e in c.get("env", []) or []}
    out = {}
    for s in srcs:
        kind, name = s.split("/", 1)
        h = env.get(env_name(kind, name))
        out[s] = None if h is None else hash_to_version.get(h, "?")
    return out


def canon(template):
    t = json.loads(json.dumps(template))
    t.get("metadata", {}).get("labels", {}).pop("pod-template-hash", None)
    return json.dumps(t, sort_keys=True)


def load_state(d, f):
    """The workload state's entries ("kind_ns_name" -> "uid rv record"), {} if not kept."""
    try:
        items = load(d, f)["items"]
    except (OSError, KeyError, ValueError):
        return {}
    out = {}
    for cm in items:
        out.update(cm.get("data") or {})
    return out


def applied_of(obj, state=None):
    """W's record: its annotation, else its entry in the workload state (for its uid)."""
    try:
        return json.loads(obj["metadata"]["annotations"]["reloadd.io/applied"])
    except (KeyError, TypeError, ValueError):
        pass
    meta = obj.get("metadata", {})
    v = (state or {}).get("deployment_%s_%s" % (meta.get("namespace"), meta.get("name")), "")
    parts = v.split(" ", 2)
    if len(parts) == 3 and parts[0] == meta.get("uid"):
        try:
            return json.loads(parts[2])
        except ValueError:
            pass
    return {}


def analyze(d):
    """The whole oracle; returns (figures, missed, problems, notes)."""
    wl = workloads(d)
    items = []
    for f in ("cm.json", "secret.json"):
        for i in load(d, f)["items"]:
            i.setdefault("kind", "ConfigMap" if f == "cm.json" else "Secret")
            items.append(i)
    vers = final_versions(items)
    final_rv = {("configmap/" if i["kind"] == "ConfigMap" else "secret/") + i["metadata"]["name"]:
                int(i["metadata"]["resourceVersion"]) for i in items}
    h2v = hash_table(max(list(vers.values()) + [0]) + 10)
    missed, problems, notes = [], [], []
    fig = Counter()

    # The history of each source, [(rv, version)], from the writer's log.
    hist = defaultdict(list)
    with open(os.path.join(d, "changes")) as fh:
        for line in fh:
            p = line.split()
            if len(p) == 4:
                hist[p[1]].append((int(p[3]), int(p[2])))
    for src, v in vers.items():
        h = sorted(hist.get(src, []))
        if (h[-1][1] if h else 0) != v:     # applied, but the writer lost the answer
            h.append((final_rv[src], v))
            fig["changes_unlogged"] += 1
        hist[src] = h
    revs = {src: [rv for rv, _ in h] for src, h in hist.items()}

    def at(src, rv):
        """The version of src at revision rv: what pods started then read."""
        i = bisect.bisect_left(revs.get(src, []), rv)
        return hist[src][i - 1][1] if i else 0

    dep0 = {i["metadata"]["name"]: i for i in load(d, "deploy0.json")["items"]}
    state0, stateN = load_state(d, "state0.json"), load_state(d, "state.json")
    depN = {i["metadata"]["name"]: i for i in load(d, "deploy.json")["items"]}

    # Every write reloadd made to a workload, with the object the API server answered.
    writes = defaultdict(list)      # name -> [(rv, object, replica, t0)]
    unanswered = Counter()          # name -> writes sent whose answer was cut
    per_replica = Counter()
    for f in sorted(glob.glob(os.path.join(d, "writes-*.jsonl"))):
        replica = os.path.basename(f)[len("writes-"):-len(".jsonl")]
        with open(f) as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue        # a line being written
                parts = rec["path"].split("?")[0].strip("/").split("/")
                # apis/apps/v1/namespaces/NS/deployments/NAME
                if len(parts) < 7 or parts[5] != "deployments" or parts[6] not in wl:
                    continue
                name = parts[6]
                st = rec.get("status")
                if st == -429:
                    fig["writes_refused_429"] += 1
                    continue
                if st == 0 and not rec.get("sent", True):
                    fig["writes_not_forwarded"] += 1    # the upstream was unreachable
                    continue
                if st == 0 or "error" in rec:
                    fig["writes_unanswered"] += 1
                    unanswered[name] += 1
                    notes.append(f"{replica} {rec['method']} {name} at {rec['t0']:.3f}: "
                                 f"{rec.get('error')} (sent, no answer)")
                    continue
                if not 200 <= st < 300:
                    fig[f"writes_http_{st}"] += 1
                    continue
                obj = rec.get("response")
                if not isinstance(obj, dict) or "spec" not in obj:
                    problems.append(f"{replica} {rec['method']} {name}: no object in the answer")
                    continue
                rv = int(obj["metadata"]["resourceVersion"])
                if rv <= int(dep0[name]["metadata"]["resourceVersion"]):
                    continue        # a baseline write, before the snapshot
                writes[name].append((rv, obj, replica, rec["t0"]))
                per_replica[replica] += 1
                fig["workload_writes"] += 1

    rs_by_dep = defaultdict(list)
    if os.path.exists(os.path.join(d, "rs.json")):
        for rs in load(d, "rs.json")["items"]:
            for o in rs["metadata"].get("ownerReferences", []) or []:
                if o.get("kind") == "Deployment":
                    rs_by_dep[o["name"]].append(rs)

    changes = Counter({src: len(h) for src, h in hist.items()})
    rollouts = dups = adopted = potential = max_roll = 0
    for name, srcs in wl.items():
        cur = canon(dep0[name]["spec"]["template"])
        cur_rv = int(dep0[name]["metadata"]["resourceVersion"])
        seen = {cur}
        eff = {s: at(s, cur_rv) for s in srcs}     # what the pods read
        rec_prev = applied_of(dep0[name], state0)
        n = 0
        for rv, obj, replica, t0 in sorted(writes[name], key=lambda w: w[0]):
            c = canon(obj["spec"]["template"])
            if c != cur:            # a rollout: new pods read every source as of rv
                new = {s: at(s, rv) for s in srcs}
                m = markers(obj["spec"]["template"], srcs, h2v)
                what = ", ".join(f"{s} v{new[s]} (marker v{m[s]})" for s in srcs)
                if not any(new[s] > eff[s] for s in srcs):
                    dups += 1
                    problems.append(f"duplicate: {name} rolled at rv {rv} by {replica} (t={t0:.3f}) "
                                    f"for nothing new: {what}; its pods had {eff}")
                for s in srcs:
                    if m[s] == "?" or (isinstance(m[s], int) and m[s] > new[s]):
                        problems.append(f"{name}: the rollout at rv {rv} carries a marker for {s} of "
                                        f"no version it had then ({m[s]}; it was v{new[s]})")
                cur, cur_rv, eff = c, rv, new
                seen.add(c)
                n += 1
            rec = applied_of(obj)
            for s in srcs:          # a record claiming a version the pods never read
                v = h2v.get(rec.get(s))
                if v is not None and v > eff[s] and rec.get(s) != rec_prev.get(s):
                    adopted += 1
                    missed.append(f"{name}: {replica} recorded {s} v{v} at rv {rv} (t={t0:.3f}) "
                                  f"without a rollout while its pods had v{eff[s]} "
                                  f"(a change adopted, never rolled for)")
            rec_prev = rec
        rollouts += n
        max_roll = max(max_roll, n)
        potential += sum(changes[s] for s in srcs)
        # The current template made by a write whose answer the proxy cut: no
        # log says when it was written, but its markers say at least which
        # versions it was rolled for (what reloadd decided before the write).
        final_t = depN[name]["spec"]["template"]
        if canon(final_t) != cur and unanswered[name]:
            m = markers(final_t, srcs, h2v)
            for s in srcs:
                if isinstance(m[s], int) and m[s] > eff[s]:
                    eff[s] = m[s]
            notes.append(f"{name}: its current template was written by a write whose answer was "
                         f"cut; its markers give what its pods read: {m}")
        for s in srcs:
            if eff[s] < vers[s]:
                fig["missed_final"] += 1
                missed.append(f"{name}: {s} is at v{vers[s]}, its pods at v{eff[s]} "
                              f"(last rollout at rv {cur_rv})")
        rec = applied_of(depN[name], stateN)
        for s in srcs:
            if rec.get(s) != version_hash(vers[s]):
                fig["records_not_final"] += 1
                notes.append(f"{name}: the record holds {s} v{h2v.get(rec.get(s))}, not v{vers[s]}")
        # A write whose answer the proxy cut was applied unseen: as many templates
        # as such writes are explained (and their rollouts not judged), no more.
        unseen = [rs["metadata"]["name"] for rs in rs_by_dep[name]
                  if canon(rs["spec"]["template"]) not in seen]
        if canon(depN[name]["spec"]["template"]) != cur and not unanswered[name]:
            problems.append(f"{name}: the current template is not the last one the write logs "
                            f"show (a write went unobserved)")
        if len(unseen) > unanswered[name]:
            for rs in unseen:
                problems.append(f"{name}: ReplicaSet {rs} has a template the write logs never "
                                f"show (a write went unobserved)")
        elif unseen:
            fig["rollouts_by_unanswered_writes"] += len(unseen)
            notes.append(f"{name}: ReplicaSet(s) {', '.join(unseen)} made by a write whose answer "
                         f"was cut ({unanswered[name]} such write(s)); not judged for duplicates")
        fig["replicasets"] += len(rs_by_dep[name])

    out = {
        "workloads": len(wl),
        "changes": sum(changes.values()),
        "sources_changed": sum(1 for c in changes.values() if c),
        "rollouts": rollouts,
        "rollouts_if_none_coalesced": potential,
        "coalesced": potential - rollouts,
        "max_rollouts_one_workload": max_roll,
        "replicasets": fig["replicasets"],
        "workload_writes": fig["workload_writes"],
        "record_only_writes": fig["workload_writes"] - rollouts,
        "writes_by_replica": dict(per_replica),
        "writes_refused_429": fig["writes_refused_429"],
        "writes_not_forwarded": fig["writes_not_forwarded"],
        "writes_unanswered": fig["writes_unanswered"],
        "rollouts_by_unanswered_writes": fig["rollouts_by_unanswered_writes"],
        "missed": len(missed),
        "missed_final": fig["missed_final"],
        "adopted_without_rollout": adopted,
        "duplicates": dups,
        "records_not_final": fig["records_not_final"],
    }
    out.update({k: v for k, v in fig.items() if k.startswith("writes_http_") or k == "changes_unlogged"})
    return out, missed, problems, notes


def cmd_missed(d):
    """For the wait: converged when nothing is missed and every record is final."""
    out, _, _, _ = analyze(d)
    print(out["missed_final"], out["records_not_final"])
    return 0 if not out["missed_final"] and not out["records_not_final"] else 1


def cmd_rollouts(d):
    out, missed, problems, notes = analyze(d)
    print(json.dumps(out))
    for line in missed:
        print("MISSED " + line)
    for line in problems:
        print("PROBLEM " + line)
    for line in notes:
        print("NOTE " + line)
    return 0 if not missed and not problems else 1


def cmd_readyz(d):
    """Every replica answered 503 at least once between the API server's
    stop and its start, and 200 again within 45 s of the start (a probe
    that got no answer, 000, counts as neither)."""
    samples = defaultdict(list)     # replica -> [(ms, code)]
    with open(os.path.join(d, "readyz.log")) as fh:
        for line in fh:
            p = line.split()
            if len(p) == 3:
                samples[p[1]].append((int(p[0]), p[2]))
    outages = []
    with open(os.path.join(d, "faults")) as fh:
        for line in fh:
            p = line.split(None, 3)
            if p[2] == "apiserver-restart":
                outages.append((int(p[0]), int(p[1])))
    bad = []
    report = []
    for i, (t0, t1) in enumerate(outages, 1):
        row = []
        for r in sorted(samples):
            s = samples[r]
            # only a replica that was probed (answered at all) through the whole outage
            during = [(t, c) for t, c in s if t0 <= t <= t1 and c != "000"]
            before = [c for t, c in s if t0 - 5000 <= t < t0 and c != "000"]
            if not before or not during:
                bad.append(f"outage {i}: {r} was not up throughout (the case kills no replica then)")
                row.append(f"{r}: not up throughout")
                continue
            first503 = next((t for t, c in during if c == "503"), None)
            after = next((t for t, c in s if t1 <= t <= t1 + 45000 and c == "200"), None)
            if first503 is None:
                bad.append(f"outage {i}: {r} never answered 503 while the API server was down "
                           f"({len(during)} probes: {dict(Counter(c for _, c in during))})")
            if after is None:
                bad.append(f"outage {i}: {r} did not answer 200 within 45 s of the API server's return")
            row.append(f"{r}: 503 at +{(first503 - t0) / 1000 if first503 else '-'} s, "
                       f"200 at +{(after - t1) / 1000 if after else '-'} s after the start")
        report.append(f"outage {i} ({(t1 - t0) / 1000:.1f} s): " + "; ".join(row))
    trans = {}
    for r, s in sorted(samples.items()):
        n, prev = 0, None
        for _, c in s:
            if prev is not None and c != prev:
                n += 1
            prev = c
        trans[r] = n
    checked = sum(1 for line in report for _ in range(line.count(" s after the start")))
    print(json.dumps({"outages": len(outages), "replica_outages_checked": checked,
                      "probes": sum(len(s) for s in samples.values()), "transitions": trans}))
    for line in report:
        print("READYZ " + line)
    for line in bad:
        print("PROBLEM " + line)
    if len(outages) and checked == 0:
        print("PROBLEM no replica was probed through an outage")
        return 1
    return 0 if not bad else 1


if __name__ == "__main__":
    cmds = {"missed": cmd_missed, "rollouts": cmd_rollouts, "readyz": cmd_readyz}
    if len(sys.argv) != 3 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    sys.exit(cmds[sys.argv[1]](sys.argv[2]))
