"""Delta debugging of a failing run: replays subsets of its operations (each
in a fresh namespace with a fresh reloadd, several at a time) and keeps the
smallest subset that still fails in the same way."""
import concurrent.futures
import copy
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


def subspec(spec, keep):
    keep = set(keep)
    s = copy.deepcopy(spec)
    batches = []
    for bi, b in enumerate(spec["batches"]):
        ops = [op for oi, op in enumerate(b["ops"]) if (bi, oi) in keep]
        ev = b.get("event") if (bi, "event") in keep else None
        if ops or ev:
            batches.append({"ops": ops, "event": ev})
    s["batches"] = batches
    return s


class Shrinker:
    def __init__(self, replay, category, deadline, parallel=3, log=print):
        """replay(spec) -> list of failures; a candidate reproduces when one
        of its failures has the category of the original one."""
        self.replay = replay
        self.category = category
        self.deadline = deadline
        self.parallel = max(1, parallel)
        self.log = log
        self.replays = 0
        self.best_failures = None

    def _test(self, spec):
        self.replays += 1
        fails = self.replay(spec)
        hit = [f for f in fails if f.category == self.category]
        return (bool(hit), hit)

    def _first_failing(self, cands, spec):
        """Runs candidate subsets concurrently; returns the first (in order)
        that reproduces, with its failures."""
        with concurrent.futures.ThreadPoolExecutor(self.parallel) as ex:
            futs = [ex.submit(self._test, subspec(spec, c)) for c in cands]
            for c, f in zip(cands, futs):
                ok, hit = f.result()
                if ok:
                    for g in futs:
                        g.cancel()
                    return c, hit
        return None, None

    def ddmin(self, spec, items):
        n = 2
        while len(items) >= 2 and time.time() < self.deadline:
            size = len(items)
            chunks = [items[size * k // n: size * (k + 1) // n] for k in range(n)]
            chunks = [c for c in chunks if c]
            comps = [[x for x in items if x not in set(c)] for c in chunks]
            cands = chunks + (comps if n > 2 else [])
            found, hit = self._first_failing(cands, spec)
            if found is not None:
                self.best_failures = hit
                self.log(f"  shrink: {len(found)} of {len(items)} units still fail "
                         f"({self.replays} replays)")
                items = found
                n = max(n - 1, 2) if found in comps else 2
                continue
            if n >= len(items):
                break
            n = min(n * 2, len(items))
        return items, time.time() < self.deadline
