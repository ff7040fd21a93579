"""The `summary` and `plotdata` commands: medians per (label, scale,
scenario) as Markdown tables, and data files for tools/bench/plot.sh."""

import json
import os
import statistics
import sys

from .plan import SCALES


def load_lines(files):
    """Result lines of each file; FILE@TAG appends @TAG to every label of FILE."""
    out = []
    for arg in files:
        fn, _, tag = arg.partition("@") if not os.path.exists(arg) else (arg, "", "")
        with open(fn) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    d = json.loads(line)
                except ValueError:
                    print("%s: skipping a bad line" % fn, file=sys.stderr)
                    continue
                if tag:
                    d["label"] = "%s@%s" % (d.get("label"), tag)
                out.append(d)
    return out


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def get(d, path):
    for k in path.split("."):
        if isinstance(d, list) and k.isdigit():
            d = d[int(k)] if int(k) < len(d) else None
        elif isinstance(d, dict):
            d = d.get(k)
        else:
            return None
    return d


SUMMARY = {
    "GEN": [("objects", "counts.objects"), ("workloads", "counts.workloads"),
            ("gen s", "generation.seconds"), ("objects/s", "generation.objects_per_second"),
            ("MiB sent", "generation.bytes")],
    "S1": [("ready s", "ready_s"), ("synced s (metric)", "synced_s_metric"),
           ("synced s (audit)", "synced_s_audit"), ("baseline writes", "workload_writes"),
           ("state writes", "state_writes"), ("rollouts", "rollouts"), ("RSS MiB", "rss_bytes"), ("cached objects", "_cached"),
           ("B/cached obj", "bytes_per_cached_object"),
           ("B/cached obj beyond empty", "bytes_per_cached_object_beyond_base"), ("CPU s", "cpu_s"),
           ("reads", "api_audit.reads"), ("load 1m", "loadavg.0")],
    "S2": [("updates", "updates"), ("p50 ms", "latency_ms.p50"), ("p90 ms", "latency_ms.p90"),
           ("p99 ms", "latency_ms.p99"), ("max ms", "latency_ms.max"),
           ("p99 − window ms", "p99_beyond_window_ms"), ("≤ window+50ms", "_within50"),
           ("missed", "missed"),
           ("rollouts/change", "rollouts_per_change"), ("reads/change", "api_reads_per_change"),
           ("writes", "api_audit.writes"), ("RSS max MiB", "rss_max_bytes"), ("CPU s", "cpu_s"),
           ("server p99 ms", "server_ms.updates.p99"),
           ("watch delivery p99 ms", "harness_watch_delivery_ms.p99"),
           ("p99 after delivery ms", "latency_after_harness_delivery_ms.p99"),
           ("runqueue wait s", "runqueue_wait_s"), ("load 1m", "loadavg.0")],
    "S3": [("fan-out", "fanout"), ("first s", "first_write_s"), ("p50 s", "p50_s"),
           ("all s", "all_written_s"), ("writes/s", "writes_per_second"),
           ("rollouts", "rollouts"), ("reads", "api_audit.reads")],
    "S4": [("ready s", "ready_s"), ("synced s (metric)", "synced_s_metric"),
           ("rollouts", "rollouts"), ("writes", "workload_writes"), ("reads", "api_audit.reads"),
           ("lists", "api_audit.by_verb.list"), ("RSS MiB", "rss_bytes"), ("CPU s", "cpu_s"),
           ("runqueue wait s", "runqueue_wait_s"), ("load 1m", "loadavg.0")],
    "S5": [("replicas ready s", "_ready_max"), ("graceful: old leader exit s", "graceful.old_leader_exit_s"),
           ("graceful acquire s", "graceful.acquire_s"),
           ("graceful first write s", "graceful.first_write_s"),
           ("crash acquire s", "crash.acquire_s"), ("crash first write s", "crash.first_write_s"),
           ("rollouts", "rollouts"), ("expected", "rollouts_expected")],
}


def value(line, path):
    if path == "_within50":
        xs = [x[1] for x in line.get("latency_series") or []]
        w = (line.get("window_s") or 0) * 1000 + 50
        return sum(1 for x in xs if x <= w) / len(xs) if xs else None
    if path == "_ready_max":
        r = [x for x in line.get("ready_s") or [] if x is not None]
        return max(r) if r else None
    if path == "_cached":
        c = line.get("cached_objects")
        return sum(c.values()) if c else None
    v = get(line, path)
    if path.endswith("bytes") and isinstance(v, (int, float)):
        return v / 1048576.0
    return v


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float):
        if abs(v) >= 100:
            return "%.0f" % v
        if abs(v) >= 10:
            return "%.1f" % v
        return "%.2f" % v
    return str(v)


def cmd_summary(args):
    lines = load_lines(args.files)
    groups = {}
    for ln in lines:
        groups.setdefault((ln.get("label"), ln.get("scale"), ln.get("scenario")), []).append(ln)
    order = {name: i for i, name in enumerate(SCALES)}
    for scen in ("GEN", "S1", "S2", "S3", "S4", "S5"):
        cols = SUMMARY[scen]
        keys = sorted((k for k in groups if k[2] == scen), key=lambda k: (order.get(k[1], 9), k[0] or ""))
        if not keys:
            continue
        print("\n#### %s\n" % scen)
        print("| config | scale | runs | ok | " + " | ".join(c[0] for c in cols) + " |")
        print("|---|---|---|---|" + "---|" * len(cols))
        for k in keys:
            g = groups[k]
            okn = sum(1 for x in g if x.get("ok"))
            row = [fmt(median([value(x, p) for x in g])) for _, p in cols]
            print("| %s | %s | %d | %d | %s |" % (k[0], k[1], len(g), okn, " | ".join(row)))


def cmd_plotdata(args):
    lines = load_lines(args.files)
    os.makedirs(args.dir, exist_ok=True)
    # Latency CDFs: one file per (label, scale), all runs pooled.
    lat = {}
    for ln in lines:
        if ln.get("scenario") == "S2" and ln.get("latency_series"):
            lat.setdefault((ln["label"], ln["scale"]), []).extend(x[1] for x in ln["latency_series"])
    index = []
    for (label, scale), xs in sorted(lat.items()):
        xs.sort()
        fn = os.path.join(args.dir, "lat-%s-%s.dat" % (label, scale))
        with open(fn, "w") as f:
            for i, x in enumerate(xs):
                f.write("%g %g\n" % (x, (i + 1) / len(xs)))
        index.append("%s %s %s" % (fn, label, scale))
    with open(os.path.join(args.dir, "lat.index"), "w") as f:
        f.write("\n".join(index) + "\n")
    # Latency against time: the first S2 of each (label, scale).
    index, done = [], set()
    for ln in lines:
        k = (ln.get("label"), ln.get("scale"))
        if ln.get("scenario") != "S2" or not ln.get("latency_series") or k in done:
            continue
        done.add(k)
        fn = os.path.join(args.dir, "series-%s-%s.dat" % k)
        with open(fn, "w") as f:
            for t, v in ln["latency_series"]:
                f.write("%g %g\n" % (t, max(v, 0.1)))
        index.append("%s %s %s" % (fn, k[0], k[1]))
    with open(os.path.join(args.dir, "series.index"), "w") as f:
        f.write("\n".join(index) + "\n")
    # RSS by scale: median/min/max of S1 RSS and S2 max RSS per label.
    order = {name: cfg["objects"] for name, cfg in SCALES.items()}
    rss = {}
    for ln in lines:
        if ln.get("scenario") == "S1" and ln.get("rss_bytes"):
            c = ln.get("cached_objects") or {}
            rss.setdefault(ln["label"], {}).setdefault(ln["scale"], []).append(
                (ln["rss_bytes"] / 1048576.0, sum(c.values()) if c else 0))
    index = []
    for label, by in sorted(rss.items()):
        fn = os.path.join(args.dir, "rss-%s.dat" % label)
        with open(fn, "w") as f:
            for scale in sorted(by, key=lambda s: order.get(s, 0)):
                v = [x[0] for x in by[scale]]
                f.write("%d %g %g %g %d\n" % (order.get(scale, 0), statistics.median(v), min(v), max(v),
                                             statistics.median([x[1] for x in by[scale]])))
        index.append("%s %s" % (fn, label))
    with open(os.path.join(args.dir, "rss.index"), "w") as f:
        f.write("\n".join(index) + "\n")
