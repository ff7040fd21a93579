#!/usr/bin/env python3
"""bench.py - reloadd's benchmark harness (Python 3 standard library only).

    bench.py run --scale small|medium|large|xlarge --controller 'CMD {kubeconfig} {port} ...'
                 [--replicas 3] [--runs 3] [--scenarios S1,S2,S3,S4,S5] [--label NAME]
    bench.py summary FILE.jsonl...      medians per (label, scale, scenario) as Markdown
    bench.py plotdata DIR FILE.jsonl... data files for tools/bench/plot.sh

`run` generates a cluster at the chosen scale on the local control plane
(tools/cluster) and runs the scenarios against the controller command. Each
scenario prints ONE JSON line of figures and appends it to the results file.

Where the figures come from:
  * the API server's audit log (always): every request of the controller's
    identities, with requestReceivedTimestamp and stageTimestamp. The
    harness mints one client certificate per controller process (group
    reloadd:controllers, which tools/cluster's audit policy records at
    Metadata level), so requests are attributed per process and scenario.
    Source updates are made by a writer identity "bench-writer" in the
    groups reloadd:controllers and system:masters: the same policy records
    its PATCHes, whose stageTimestamp (ResponseComplete, after the write
    reached etcd) is the server-side time of each change;
  * the cluster (always): .metadata.generation of every workload before and
    after a scenario counts rollouts (a metadata-only write does not bump it);
  * /proc/PID/status (always): VmRSS, VmHWM; /proc/PID/stat: CPU time;
  * the controller's /metrics (optional, null when absent):
    reloader_startup_sync_seconds, reloader_cached_objects,
    reloader_api_requests_total, rest_client_requests_total.

Controller template placeholders: {kubeconfig} {port} {identity}
{pod_namespace} {namespaces} (comma-separated bench namespaces). Leading
VAR=value words set environment variables. POD_NAME={identity} and
POD_NAMESPACE are always set in the environment.
"""

import argparse
import signal
import sys

from benchlib.common import BenchError
from benchlib.report import cmd_plotdata, cmd_summary
from benchlib.run import cmd_run


def main():
    ap = argparse.ArgumentParser(prog="bench.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="generate a cluster and run scenarios")
    r.add_argument("--scale", required=True)
    r.add_argument("--controller", required=True, help="command template of the controller")
    r.add_argument("--label", default="reloadd", help="configuration name in the results")
    r.add_argument("--replicas", type=int, default=3)
    r.add_argument("--runs", type=int, default=1)
    r.add_argument("--scenarios", default="S1,S2,S3,S4,S5")
    r.add_argument("--results", default=None, help="JSONL file to append to ('' for none)")
    r.add_argument("--artifacts", default=None, help="directory for logs and identities")
    r.add_argument("--seed", type=int, default=42)
    r.add_argument("--threads", type=int, default=12, help="parallel creates")
    r.add_argument("--rate", type=float, default=20.0, help="S2 updates per second")
    r.add_argument("--churn-seconds", type=float, default=60.0, help="S2 duration")
    r.add_argument("--window", type=float, default=1.0,
                   help="the controller's coalescing window in s (for p99 beyond it)")
    r.add_argument("--ready-path", default="/readyz")
    r.add_argument("--ready-timeout", type=float, default=300)
    r.add_argument("--sync-timeout", type=float, default=3600)
    r.add_argument("--settle-timeout", type=float, default=900)
    r.add_argument("--failover-timeout", type=float, default=300)
    r.add_argument("--quiet", type=float, default=5.0,
                   help="seconds without workload writes that mean 'settled'")
    r.add_argument("--no-expect-baselines", dest="expect_baselines", action="store_false",
                   help="S1: do not wait for a write on every managed workload (controllers "
                        "that record no baseline)")
    r.add_argument("--restart-flags", default="--sync-after-restart")
    r.add_argument("--ha-flags", default="--enable-ha")
    r.add_argument("--pod-namespace", default="reloadd")
    r.add_argument("--lease-name", default="stakater-reloader-lock")
    r.add_argument("--no-base-rss", dest="base_rss", action="store_false",
                   help="skip measuring the controller on the cluster before generation")
    r.add_argument("--keep-cluster", action="store_true")
    r.add_argument("--keep-objects", action="store_true")
    s = sub.add_parser("summary", help="Markdown tables of medians")
    s.add_argument("files", nargs="+")
    p = sub.add_parser("plotdata", help="data files for plot.sh")
    p.add_argument("dir")
    p.add_argument("files", nargs="+")
    args = ap.parse_args()

    def on_term(signum, frame):
        raise KeyboardInterrupt  # unwinds through the finally blocks that stop what we started

    signal.signal(signal.SIGTERM, on_term)
    try:
        if args.cmd == "run":
            return cmd_run(args)
        if args.cmd == "summary":
            return cmd_summary(args)
        if args.cmd == "plotdata":
            return cmd_plotdata(args)
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
