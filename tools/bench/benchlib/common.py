"""What every module of the harness shares: the repository root, the label
of bench objects, verb and resource lists, log() and BenchError."""

import os
import sys
import time


# The repository root (this file is tools/bench/benchlib/common.py).
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
PART_OF = "app.kubernetes.io/part-of"
PART_OF_VAL = "reloadd-bench"
WORKLOAD_RESOURCES = ("deployments", "statefulsets", "daemonsets", "cronjobs", "jobs", "rollouts")
WRITE_VERBS = ("create", "update", "patch", "delete", "deletecollection")
READ_VERBS = ("get", "list")


def log(*a):
    print("[bench %s]" % time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


class BenchError(Exception):
    pass
