"""benchlib - the parts of tools/bench/bench.py, reloadd's benchmark harness.

One module a concept (bench.py, the entry point, parses the command line):

    common      the repository root, the bench label, verb and resource lists,
                log(), BenchError
    api         Api: HTTPS with a client certificate; api_path()
    cluster     Cluster: the local control plane (tools/cluster), identities
    plan        SCALES, the deterministic plan of namespaces, sources and
                workloads (make_plan), its creation (generate) and removal
    watch       the harness's own watches: Rollouts (template changes of
                the workloads), SourceWatch (when source changes arrive)
    audit       Audit: incremental reader of the API server's audit log
    controller  Controller: the controller under test; its /metrics, its
                /proc figures, its binary
    writer      Writer: source updates by the writer identity
    scenarios   Bench: the scenarios S1-S5, each emitting one JSON line
    run         the `run` command: clusters, generation, scenarios per run
    report      the `summary` and `plotdata` commands
"""
