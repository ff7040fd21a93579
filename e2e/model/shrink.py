"""Delta debugging of a failing run: replays subsets of its operations (each
in a fresh namespace with a fresh reloadd, several at a time) and keeps the
smallest subset that still fails in the same way."""
import concurrent.futures
import copy
import json
import time


def items_of(spec):
    """The units shrinking removes: each operation and each batch event."""
    out = []
    for bi, b in enumerate(spec["batches"]):
        if b.get("event"):
            out.append((bi, "event"))
        for oi in range(len(b["ops"])):
            out.append((bi, oi))
    return out


def subspec(spec, keep, origin=None):
    """The spec with only the kept items; `origin`, if a list, receives the
    original index of each batch kept."""
    keep = set(keep)
    s = copy.deepcopy(spec)
    batches = []
    for bi, b in enumerate(spec["batches"]):
        ops = [op for oi, op in enumerate(b["ops"]) if (bi, oi) in keep]
        ev = b.get("event") if (bi, "event") in keep else None
        if ops or ev:
            batches.append({"ops": ops, "event": ev})
            if origin is not None:
                origin.append(bi)
    s["batches"] = batches
    return s


class Shrinker:
    def __init__(self, replay, signatures, deadline, parallel=3, log=print):
        """replay(spec) -> list of failures; a candidate reproduces when one
        of its failures has a signature of the original ones."""
        self.replay = replay
        self.signatures = set(signatures)
        self.deadline = deadline
        self.parallel = max(1, parallel)
        self.log = log
        self.replays = 0
        self.best_failures = None

    def _test(self, spec):
        self.replays += 1
        fails = self.replay(spec)
        hit = [f for f in fails if f.signature() in self.signatures]
        return (bool(hit), hit)

    def _test_items(self, spec, items):
        """Replays a subset; if it fails, also drops what comes after the
        failing batch (a replay stops there anyway)."""
        origin = []
        ok, hit = self._test(subspec(spec, items, origin))
        if ok:
            last = origin[min(f.batch for f in hit)]
            items = [x for x in items if x[0] <= last]
        return ok, hit, items

    def _first_failing(self, cands, spec):
        """Replays the candidate subsets, `parallel` at a time, in waves;
        returns the first (in order) of the first wave that has one that
        still fails, with its failures."""
        for k in range(0, len(cands), self.parallel):
            if time.time() >= self.deadline:
                break
            wave = cands[k:k + self.parallel]
            with concurrent.futures.ThreadPoolExecutor(len(wave)) as ex:
                results = list(ex.map(lambda c: self._test_items(spec, c), wave))
            for ok, hit, c in results:
                if ok:
                    return c, hit
        return None, None

    def focus(self, spec, items, failures):
        """A first guess: only the operations on the failing workloads and on
        the sources their operations and the failure name, plus every
        restart and kill. Returns the items if that still fails, else None."""
        names = {f.workload for f in failures if f.workload}
        if not names:
            return None
        text = " ".join(f.what for f in failures)
        for b in spec["batches"]:
            for op in b["ops"]:
                if op["op"].endswith("-workload") and op["name"] in names:
                    text += " " + json.dumps(op)
        keep = []
        for bi, oi in items:
            if oi == "event":
                keep.append((bi, oi))
                continue
            op = spec["batches"][bi]["ops"][oi]
            if op["name"] in names or (op["op"].endswith("-source") and op["name"] in text):
                keep.append((bi, oi))
        if len(keep) == len(items):
            return None
        ok, hit, keep = self._test_items(spec, keep)
        self.log(f"  shrink: the {len(keep)} operations on {', '.join(sorted(names))} and their sources "
                 f"{'still fail' if ok else 'do not fail alone'} ({self.replays} replays)")
        if ok:
            self.best_failures = hit
            return keep
        return None

    def ddmin(self, spec, items):
        """Zeller's ddmin, complements first (they fail more often), waves of
        parallel replays. Returns (items, finished within the deadline)."""
        n = min(max(2, self.parallel), len(items))
        while len(items) >= 2 and time.time() < self.deadline:
            size = len(items)
            chunks = [items[size * k // n: size * (k + 1) // n] for k in range(n)]
            chunks = [c for c in chunks if c]
            comps = [[x for x in items if x not in set(c)] for c in chunks]
            cands = (comps if n > 2 else []) + chunks
            found, hit = self._first_failing(cands, spec)
            if found is not None:
                self.best_failures = hit
                self.log(f"  shrink: {len(found)} of {len(items)} units still fail "
                         f"({self.replays} replays)")
                n = max(n - 1, 2) if len(found) > size // n + 1 else 2
                items = found
                continue
            if n >= len(items):
                return items, True
            n = min(n * 2, len(items))
        return items, len(items) < 2
