#!/usr/bin/env python3
"""Model-based test of reloadd against the real local control plane.

    e2e/model/run.py [--seconds N] [--seed S] [--batches N] [--replay FILE]

Seeded random runs: each run makes a fresh namespace, starts reloadd (one
process, or three HA replicas) with flags the seed chose, and applies
batches of 1-5 operations on ConfigMaps, Secrets and workloads, with
restarts and leader kills between them. After each batch it waits for a
quiescent point and compares with the reference model (model.py): every
predicted rollout happened exactly once, nothing else was written, and
nothing was written in the quiet period. A failing run is shrunk by replay
to the shortest list of operations that still fails the same way.

Needs the cluster environment (tools/cluster env). Runs until --seconds
(E2E_MODEL_SECONDS, default 300) are spent; prints per run the seed, flags,
operations executed, rollouts predicted and seen, and at the end
"model: N passed, N failed". Exits 1 if a run failed.
"""
import argparse
import atexit
import json
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gen import Generator, flags_text, spec_text          # noqa: E402
from harness import Runner, cleanup_all                                # noqa: E402
from model import Model                                     # noqa: E402
from kube import Cluster, Disturbed, workdir                          # noqa: E402
from shrink import Shrinker, items_of, subspec             # noqa: E402

SECONDS_PER_BATCH = 8.0   # measured: window + grace + quiet period + flush


def log(msg):
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}] {msg}", flush=True)


class Session:
    def __init__(self, args):
        self.args = args
        self.dir = workdir(args.out)
        self.cluster = Cluster(self.dir)
        self.binary = args.binary
        self.lock = threading.Lock()
        self.passed = self.failed = 0
        self.minimal = []
        self.errors = []
        self.abandoned = []

    def runner(self, spec, tag="", quiet=None):
        return Runner(self.cluster, self.binary, spec, self.dir, window=self.args.window,
                      quiet=self.args.quiet if quiet is None else quiet, log=log, tag=tag)

    def one(self, spec, label):
        log(f"run {label}: seed={spec['seed']} flags: {flags_text(spec)}; "
            f"{len(spec['batches'])} batches")
        t0 = time.time()
        r = self.runner(spec, tag=f"run {label}")
        try:
            res = r.run()
        except Disturbed as e:
            log(f"run {label}: seed={spec['seed']}: abandoned, not a verdict on reloadd: {e}")
            self.abandoned.append((spec["seed"], str(e)))
            return None
        except Exception as e:     # the harness or the cluster, not reloadd
            log(f"run {label}: seed={spec['seed']}: HARNESS ERROR (not a verdict on reloadd): "
                f"{type(e).__name__}: {e}")
            self.failed += 1
            self.errors.append((spec["seed"], f"{type(e).__name__}: {e}"))
            return None
        status = "FAILED" if res.failures else "ok"
        log(f"run {label}: seed={spec['seed']} flags: {flags_text(spec)} | ns {res.namespace} | "
            f"batches {res.batches} | ops executed {res.ops} | rollouts predicted {res.predicted} "
            f"(+{res.ambiguous} ambiguous) | rollouts seen {res.seen} | slow batches {res.slow} | "
            f"{time.time() - t0:.0f} s | {status}")
        for n in res.notes:
            log(f"run {label}: note: {n}")
        if res.failures:
            self.failed += 1
            self.shrink(spec, res, label)
        else:
            self.passed += 1
        return res

    def replay(self, spec, full=False):
        try:
            r = Runner(self.cluster, self.binary, spec, self.dir, window=self.args.window,
                       quiet=self.args.quiet, log=lambda m: None, tag="  replay",
                       quiet_early=self.args.quiet if full else 1.5)
            res = r.run()
        except Exception as e:
            log(f"  replay: harness error, counted as not reproducing: {type(e).__name__}: {e}")
            return []
        return res.failures

    def shrink(self, spec, res, label):
        first = res.failures[0]
        cat = first.category
        sigs = [f.signature() for f in res.failures if f.batch == first.batch]
        upto = dict(spec, batches=spec["batches"][:first.batch + 1])
        path = os.path.join(self.dir, f"failing-seed-{spec['seed']}.json")
        with open(path, "w") as f:
            json.dump(upto, f, indent=1)
        log(f"run {label}: failing list saved to {path} (replay: e2e/model/run.py --replay {path})")
        if self.args.no_shrink:
            return
        budget = max(self.deadline - time.time(), self.args.shrink_seconds)
        deadline = time.time() + budget
        sh = Shrinker(self.replay, sigs, deadline, parallel=self.args.parallel, log=log)
        log(f"run {label}: shrinking '{cat}' (up to {budget:.0f} s, {self.args.parallel} replays at a time)")
        ok, hit = sh._test(upto)
        if not ok:
            log(f"run {label}: the failure did not reproduce on a replay of batches 1-{first.batch + 1}; "
                f"not shrunk (timing-dependent?)")
            self.minimal.append((spec, upto, [first], False, sh.replays, "did not reproduce on replay"))
            return
        items = items_of(upto)
        items = sh.focus(upto, items, hit) or items
        items, done = sh.ddmin(upto, items)
        small = subspec(upto, items)
        fails = sh.best_failures or hit
        note = "1-minimal" if done else "shrink budget spent; not minimal"
        # The shortest list once more, with full quiet periods everywhere.
        again = [f for f in self.replay(small, full=True) if f.signature() in set(sigs)]
        note += ", reproduced on a final full replay" if again else ", NOT reproduced on a final full replay"
        fails = again or fails
        self.minimal.append((spec, small, fails, True, sh.replays, note))
        log(f"run {label}: shrunk to {sum(len(b['ops']) for b in small['batches'])} ops "
            f"({note}); listed at the end")
        with open(os.path.join(self.dir, f"minimal-seed-{spec['seed']}.json"), "w") as f:
            json.dump(small, f, indent=1)

    @staticmethod
    def executable(spec):
        """The spec without the operations a replay would skip (an update of
        a source that does not exist at that point, say)."""
        m = Model(spec["flags"])
        out = dict(spec, batches=[])
        for b in spec["batches"]:
            ev = b.get("event") or {}
            if "restart" in ev:
                m.stop()
            ops = [op for op in b["ops"] if m.valid(op) and (m.apply(op) or True)]
            if "restart" in ev:
                m.start(ev["restart"]["sync"])
            m.end_batch()
            if ops or b.get("event"):
                out["batches"].append({"ops": ops, "event": b.get("event")})
        return out

    def print_minimal(self, spec, small, fails, replays, note):
        small = self.executable(small)
        nops = sum(len(b["ops"]) for b in small["batches"])
        print(f"model: shortest failing list for seed {spec['seed']} ({note}; {nops} ops in "
              f"{len(small['batches'])} batches; {replays} replays)", flush=True)
        print(f"  flags: {flags_text(small)}")
        print(spec_text(small, indent="  "))
        for f in fails:
            print(f"  -> {f}")
        sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("E2E_MODEL_SECONDS", 300)))
    ap.add_argument("--seed", type=int, action="append",
                    help="run this seed (repeatable); default: seeds from E2E_MODEL_SEED or random")
    ap.add_argument("--batches", type=int, help="batches per run (default: 10-40 from the seed)")
    ap.add_argument("--replay", help="replay a saved spec (JSON) and shrink it if it fails")
    ap.add_argument("--binary", default=os.environ.get("RELOADD_BIN") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "reloadd"))
    ap.add_argument("--window", type=float, default=float(os.environ.get("E2E_MODEL_WINDOW", 2)))
    ap.add_argument("--quiet", type=float, default=4.0, help="quiet period in seconds (>= 4)")
    ap.add_argument("--parallel", type=int, default=int(os.environ.get("E2E_MODEL_PARALLEL", 3)))
    ap.add_argument("--shrink-seconds", type=float,
                    default=float(os.environ.get("E2E_MODEL_SHRINK_SECONDS", 240)),
                    help="at least this long for shrinking a failure, even past --seconds")
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--out", default=os.environ.get("E2E_DIR"))
    args = ap.parse_args()
    for v in ("KUBECONFIG", "RELOADD_CONTROLLER_KUBECONFIG", "RELOADD_CLUSTER_DIR"):
        if not os.environ.get(v):
            sys.exit(f"model: no cluster in the environment ({v} unset); eval \"$(tools/cluster up)\"")
    atexit.register(cleanup_all)
    def on_signal(n, _):
        # Replays in other threads would keep the exit waiting: stop their
        # processes and namespaces here, then leave at once.
        print(f"model: signal {n}: stopping", flush=True)
        cleanup_all()
        os._exit(128 + n)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    s = Session(args)
    t0 = time.time()
    s.deadline = t0 + args.seconds
    log(f"model: reloadd {os.path.realpath(args.binary)}; {args.seconds:.0f} s; artifacts in {s.dir}")
    if args.replay:
        with open(args.replay) as f:
            spec = json.load(f)
        s.one(spec, "replay")
    else:
        seeds = list(args.seed or [])
        base = int(os.environ.get("E2E_MODEL_SEED", random.SystemRandom().randrange(1, 10**6)))
        k = 0
        while True:
            left = s.deadline - time.time()
            if seeds:
                seed = seeds.pop(0)
            elif args.seed:
                break
            else:
                seed = base + k
            k += 1
            gen = Generator(seed)
            full = gen.run(args.batches)
            n = len(full["batches"])
            if not args.seed:
                fit = int(left / SECONDS_PER_BATCH)
                if fit < 5 and k > 1:
                    break
                n = max(5, min(n, fit))
            spec = dict(full, batches=full["batches"][:n])
            s.one(spec, str(k))
            if not args.seed and time.time() >= s.deadline:
                break
    for spec, small, fails, rep, replays, note in s.minimal:
        if rep:
            s.print_minimal(spec, small, fails, replays, note)
        else:
            print(f"model: seed {spec['seed']}: {fails[0]} (did not reproduce on replay)")
    for seed, e in s.abandoned:
        print(f"model: seed {seed}: abandoned (not counted): {e}")
    for seed, e in s.errors:
        print(f"model: seed {seed}: harness error: {e}")
    print(f"model: {s.passed} passed, {s.failed} failed", flush=True)
    sys.exit(1 if s.failed else 0)


if __name__ == "__main__":
    main()
