"""The `run` command: per run, a cluster (the environment's or a fresh one),
the plan generated on it, then the scenarios; machine() describes the host."""

import os
import shlex
import tempfile
import time

from .cluster import Cluster
from .common import ROOT, BenchError, log
from .controller import controller_binary
from .plan import SCALES, delete_bench_namespaces, generate, make_plan
from .scenarios import Bench, secs
from .watch import Rollouts


def machine():
    mem = 0
    model = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) // 1024
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "mem_mib": mem, "cpu": model, "kernel": os.uname().release}


def cmd_run(args):
    if args.scale not in SCALES:
        raise BenchError("unknown scale %r (%s)" % (args.scale, ", ".join(SCALES)))
    scen = [s.strip().upper() for s in args.scenarios.split(",") if s.strip()]
    for s in scen:
        if s not in ("S1", "S2", "S3", "S4", "S5"):
            raise BenchError("unknown scenario %r (S1..S5)" % s)
    if not args.controller:
        raise BenchError("--controller is required")
    try:
        probe = shlex.split(args.controller)
        [w.format(kubeconfig="k", port="1", identity="i", pod_namespace="n", namespaces="x")
         for w in probe]
    except (ValueError, KeyError, IndexError) as e:
        raise BenchError("bad --controller template: %s" % e)
    if args.results is None:
        args.results = os.path.join(ROOT, "docs", "bench", "results", "%s.jsonl" % args.scale)
    if args.results:
        os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
    art = args.artifacts or tempfile.mkdtemp(prefix="reloadd-bench.")
    os.makedirs(art, exist_ok=True)
    log("artifacts in", art)
    env_cluster = Cluster.from_env()
    failed = False
    mach = machine()
    for run in range(1, args.runs + 1):
        cluster = env_cluster
        if cluster is None:
            log("run %d: starting a fresh control plane" % run)
            cluster = Cluster.up()
        args.artifacts_run = os.path.join(art, "run%d" % run)
        os.makedirs(args.artifacts_run, exist_ok=True)
        bench = None
        try:
            if not cluster.owned:
                delete_bench_namespaces(cluster)
            t = time.time()
            plan = make_plan(args.scale, args.seed)
            tplan = time.time() - t
            bench = Bench(args, cluster, plan, run, args.results)
            base = bench.base_rss() if args.base_rss else None
            log("run %d: generating %d objects (%d workloads) in %d namespaces"
                % (run, plan.counts["objects"], plan.counts["workloads"], len(plan.namespaces)))
            t = time.time()
            gen = generate(cluster, plan, args.threads)
            gen["plan_seconds"] = round(tplan, 2)
            log("run %d: generated in %.1f s (%.0f objects/s)" % (run, gen["seconds"],
                                                                  gen["objects_per_second"]))
            bench.base = base
            bench.emit("GEN", {"counts": plan.counts, "generation": gen, "machine": mach,
                               "cluster_up_s": secs(cluster.up_seconds),
                               "fresh_cluster": cluster.owned, "controller_empty_cluster": base,
                               "controller_binary": controller_binary(args.controller)},
                       True, t)
            bench.rollouts = Rollouts(cluster)
            for s in scen:
                log("run %d: %s" % (run, s))
                getattr(bench, s.lower())()
        except BenchError as e:
            log("run %d failed: %s" % (run, e))
            failed = True
        finally:
            if bench is not None:
                bench.stop_all()
                if bench.rollouts:
                    bench.rollouts.stop()
                failed = failed or bench.failed
            if cluster.owned and not args.keep_cluster:
                cluster.down()
            elif not cluster.owned and not args.keep_objects:
                try:
                    delete_bench_namespaces(cluster, wait=False)
                except BenchError as e:
                    log("cleanup:", e)
    return 1 if failed else 0
