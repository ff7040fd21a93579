/*
 * metrics.h - Prometheus metrics: a registry, reloadd's families, exposition
 *
 * Two layers. The registry holds *families* (a name, a help text, a type,
 * fixed label names and, for histograms, fixed bucket bounds); a family
 * holds *series*, one per tuple of label values, created on first use.
 * rl_metrics_expose() renders everything in the Prometheus text format
 * 0.0.4: families sorted by name, series sorted by label values, HELP and
 * TYPE for each family, label values and help texts escaped. A family
 * without any series is left out, as client_golang does.
 *
 * On top of it, RL_METRICS_FAMILIES below is the complete list of what
 * reloadd exports, registered in one place by rl_metrics_new(), and the
 * rl_metrics_<event>() helpers are what the rest of the code calls: one per
 * event, so callers never build label tuples. Reloader's families keep
 * their names, labels and buckets (docs/reloader.md §8) without its
 * defects (docs/reloader.md §15.23): reconciles are counted once each, the
 * workqueue depth is the sum over all shards, events_processed carries the
 * real event type, and the by-namespace family is neither registered nor
 * incremented unless METRICS_COUNT_BY_NAMESPACE=enabled.
 *
 * Hot path: a series, once it exists, is found under a per-family read
 * lock without allocating, and its value is updated with atomics. A
 * rl_series pointer stays valid until rl_metrics_free(), so callers may
 * keep it. A family holds at most RL_METRIC_MAX_SERIES series; label tuples
 * beyond that are counted nowhere (and logged once) rather than growing
 * memory without bound.
 *
 * Ownership: names, help texts, label names and bucket arrays given to
 * rl_metrics_register() are copied; label values are copied when a series
 * is created. Every rl_metrics_*() helper accepts m == NULL as "metrics
 * off" and does nothing.
 *
 * Threads: every function may be called from any thread, concurrently,
 * except rl_metrics_free(). Collectors registered with
 * rl_metrics_on_collect() run on the scraping thread, with no registry lock
 * held, possibly concurrently with each other.
 */
#ifndef RL_METRICS_H
#define RL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_buf;
struct rl_metrics;              /* a registry */
struct rl_metric;               /* a family */
struct rl_series;               /* a family's child for one label tuple */

enum rl_metric_type {
    RL_METRIC_COUNTER,
    RL_METRIC_GAUGE,
    RL_METRIC_HISTOGRAM,
};

#define RL_METRIC_MAX_LABELS 4
#define RL_METRIC_MAX_BUCKETS 32
#define RL_METRIC_MAX_SERIES 10000

struct rl_metric_desc {
    const char *name;           /* [a-zA-Z_:][a-zA-Z0-9_:]* */
    const char *help;
    enum rl_metric_type type;
    const char *const *labels;  /* NULL-terminated; [a-zA-Z_][a-zA-Z0-9_]* */
    const double *buckets;      /* histograms: finite, strictly increasing */
    size_t nbuckets;            /* +Inf is implied and not listed */
};

/* Helpers for descriptor tables (file-scope compound literals). */
#define RL_METRIC_LABELS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define RL_METRIC_NO_LABELS ((const char *const[]){NULL})
#define RL_METRIC_BUCKETS(...) \
    (const double[]){__VA_ARGS__}, (sizeof((const double[]){__VA_ARGS__}) / sizeof(double))
#define RL_METRIC_NO_BUCKETS NULL, 0

/*
 * Every family reloadd exports: X(ID, TYPE, name, help, labels, buckets).
 * The first eighteen are Reloader's (docs/reloader.md §8), with its names,
 * labels, buckets and, where the meaning is unchanged, its help texts.
 */
#define RL_METRICS_FAMILIES(X)                                                              \
    X(RELOAD_EXECUTED, COUNTER, "reloader_reload_executed_total",                           \
      "Counter of reloads executed by Reloader.",                                           \
      RL_METRIC_LABELS("success"), RL_METRIC_NO_BUCKETS)                                    \
    X(RELOAD_EXECUTED_BY_NS, COUNTER, "reloader_reload_executed_total_by_namespace",        \
      "Counter of reloads executed by Reloader by namespace.",                              \
      RL_METRIC_LABELS("success", "namespace"), RL_METRIC_NO_BUCKETS)                       \
    X(RECONCILE_TOTAL, COUNTER, "reloader_reconcile_total",                                 \
      "Total number of workload reconciles by result, each counted once.",                  \
      RL_METRIC_LABELS("result"), RL_METRIC_NO_BUCKETS)                                     \
    X(RECONCILE_DURATION, HISTOGRAM, "reloader_reconcile_duration_seconds",                 \
      "Time spent in one workload reconcile in seconds.",                                   \
      RL_METRIC_LABELS("result"),                                                           \
      RL_METRIC_BUCKETS(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))    \
    X(ACTION_TOTAL, COUNTER, "reloader_action_total",                                       \
      "Total number of reload actions by workload kind and result.",                        \
      RL_METRIC_LABELS("workload_kind", "result"), RL_METRIC_NO_BUCKETS)                    \
    X(ACTION_LATENCY, HISTOGRAM, "reloader_action_latency_seconds",                         \
      "Time from the start of a workload's reload to the end of its write in seconds.",     \
      RL_METRIC_LABELS("workload_kind"),                                                    \
      RL_METRIC_BUCKETS(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))                 \
    X(SKIPPED, COUNTER, "reloader_skipped_total",                                           \
      "Total number of skipped operations by reason.",                                      \
      RL_METRIC_LABELS("reason"), RL_METRIC_NO_BUCKETS)                                     \
    X(WORKQUEUE_DEPTH, GAUGE, "reloader_workqueue_depth",                                   \
      "Current depth of the work queue, summed over all shards.",                           \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(WORKQUEUE_ADDS, COUNTER, "reloader_workqueue_adds_total",                             \
      "Total number of items added to the work queue.",                                     \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(WORKQUEUE_LATENCY, HISTOGRAM, "reloader_workqueue_latency_seconds",                   \
      "Time spent in the work queue in seconds.", RL_METRIC_NO_LABELS,                      \
      RL_METRIC_BUCKETS(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))        \
    X(ERRORS, COUNTER, "reloader_errors_total", "Total number of errors by type.",          \
      RL_METRIC_LABELS("type"), RL_METRIC_NO_BUCKETS)                                       \
    X(RETRIES, COUNTER, "reloader_retries_total", "Total number of retry attempts.",        \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(EVENTS_RECEIVED, COUNTER, "reloader_events_received_total",                           \
      "Total number of events received by type and resource.",                              \
      RL_METRIC_LABELS("event_type", "resource_type"), RL_METRIC_NO_BUCKETS)                \
    X(EVENTS_PROCESSED, COUNTER, "reloader_events_processed_total",                         \
      "Total number of events processed by type, resource, and result.",                    \
      RL_METRIC_LABELS("event_type", "resource_type", "result"), RL_METRIC_NO_BUCKETS)      \
    X(WORKLOADS_SCANNED, COUNTER, "reloader_workloads_scanned_total",                       \
      "Total number of workloads scanned by kind.",                                         \
      RL_METRIC_LABELS("kind"), RL_METRIC_NO_BUCKETS)                                       \
    X(WORKLOADS_MATCHED, COUNTER, "reloader_workloads_matched_total",                       \
      "Total number of workloads matched for reload by kind.",                              \
      RL_METRIC_LABELS("kind"), RL_METRIC_NO_BUCKETS)                                       \
    X(REST_CLIENT_REQUESTS, COUNTER, "rest_client_requests_total",                          \
      "Number of HTTP requests, partitioned by status code, method, and host.",             \
      RL_METRIC_LABELS("code", "method", "host"), RL_METRIC_NO_BUCKETS)                     \
    X(REST_CLIENT_DURATION, HISTOGRAM, "rest_client_request_duration_seconds",              \
      "Request latency in seconds. Broken down by verb and host.",                          \
      RL_METRIC_LABELS("verb", "host"),                                                     \
      RL_METRIC_BUCKETS(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30))                         \
    X(RECONCILE_LATENCY, HISTOGRAM, "reloader_reconcile_latency_seconds",                   \
      "Time from the source event that made a workload stale to the write that rolled "     \
      "it in seconds.", RL_METRIC_NO_LABELS,                                                \
      RL_METRIC_BUCKETS(0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60, 120, 300)) \
    X(STARTUP_SYNC, GAUGE, "reloader_startup_sync_seconds",                                 \
      "Seconds from process start until every tracked workload was reconciled once; "       \
      "0 until then.", RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                           \
    X(QUEUE_DEPTH, GAUGE, "reloader_queue_depth",                                           \
      "Current depth of one work queue shard.",                                             \
      RL_METRIC_LABELS("shard"), RL_METRIC_NO_BUCKETS)                                      \
    X(WATCH_RESTARTS, COUNTER, "reloader_watch_restarts_total",                             \
      "Watch streams restarted, by resource.",                                              \
      RL_METRIC_LABELS("resource"), RL_METRIC_NO_BUCKETS)                                   \
    X(RELISTS, COUNTER, "reloader_relists_total",                                           \
      "Full lists of a resource after the first, by resource.",                             \
      RL_METRIC_LABELS("resource"), RL_METRIC_NO_BUCKETS)                                   \
    X(API_REQUESTS, COUNTER, "reloader_api_requests_total",                                 \
      "Kubernetes API requests by verb, resource and HTTP status code.",                    \
      RL_METRIC_LABELS("verb", "resource", "code"), RL_METRIC_NO_BUCKETS)                   \
    X(API_DURATION, HISTOGRAM, "reloader_api_request_duration_seconds",                     \
      "Kubernetes API request latency in seconds, by verb and resource.",                   \
      RL_METRIC_LABELS("verb", "resource"),                                                 \
      RL_METRIC_BUCKETS(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)) \
    X(WATCH_PROGRESS, GAUGE, "reloader_watch_last_progress_timestamp_seconds",              \
      "Unix time of the last progress of a resource's watch (a list, an event or bookmark, " \
      "a watch the server took); 0 before the first. /readyz fails past "                   \
      "--ready-progress-timeout.", RL_METRIC_LABELS("resource"), RL_METRIC_NO_BUCKETS)       \
    X(RESTART_BUDGET_HELD, COUNTER, "reloader_restart_budget_held_total",                   \
      "Rollouts held because the workload's restart budget was spent, by workload kind.",   \
      RL_METRIC_LABELS("kind"), RL_METRIC_NO_BUCKETS)                                       \
    X(WINDOW_HELD, COUNTER, "reloader_window_held_total",                                   \
      "Rollouts held until the workload's maintenance window opens, by workload kind.",     \
      RL_METRIC_LABELS("kind"), RL_METRIC_NO_BUCKETS)                                       \
    X(HEALTH_GATE_HELD, COUNTER, "reloader_health_gate_held_total",                         \
      "Rollouts held by the health gate (a source version whose first batch failed or "     \
      "timed out), once per workload and version, by workload kind.",                        \
      RL_METRIC_LABELS("kind"), RL_METRIC_NO_BUCKETS)                                       \
    X(CACHED_OBJECTS, GAUGE, "reloader_cached_objects",                                     \
      "Objects held in the local cache, by kind.",                                          \
      RL_METRIC_LABELS("kind"), RL_METRIC_NO_BUCKETS)                                       \
    X(IS_LEADER, GAUGE, "reloader_is_leader",                                               \
      "1 while this replica holds the leader lease, else 0.",                               \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(LEADER_TRANSITIONS, COUNTER, "reloader_leader_transitions_total",                     \
      "Times this replica gained or lost the leader lease.",                                \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(FIRST_WRITE_AFTER_ACQUIRE, GAUGE, "reloader_first_write_after_acquire_seconds",       \
      "Seconds from the latest lease acquisition to the first write that followed it.",     \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(ROLLOUTS_IN_FLIGHT, GAUGE, "reloader_rollouts_in_flight",                             \
      "Rollouts counted against --max-concurrent-rollouts: written, not yet available.",    \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(ROLLOUTS_WAITING, GAUGE, "reloader_rollouts_waiting",                                 \
      "Workloads whose rollout waits for a slot under --max-concurrent-rollouts.",          \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(ROLLOUTS_TIMED_OUT, COUNTER, "reloader_rollout_timeouts_total",                       \
      "Rollouts not available within --rollout-timeout, whose slot went to the next.",      \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(STATE_ENTRIES, GAUGE, "reloader_workload_state_entries",                              \
      "Records of workloads that never rolled, kept in the workload state (ConfigMaps "     \
      "reloadd-state-NN) as last seen; pending: decided, not yet seen written.",            \
      RL_METRIC_LABELS("state"), RL_METRIC_NO_BUCKETS)                                      \
    X(STATE_WRITES, COUNTER, "reloader_workload_state_writes_total",                        \
      "Batches written to the workload state (one per changed shard), by result "           \
      "(deferred: no spare API budget, rollouts first; tried again a second later).",       \
      RL_METRIC_LABELS("result"), RL_METRIC_NO_BUCKETS)                                     \
    X(NOTIFICATIONS, COUNTER, "reloader_notifications_total",                               \
      "Kubernetes Events, alerts and --webhook-url posts, by kind and outcome.",            \
      RL_METRIC_LABELS("kind", "result"), RL_METRIC_NO_BUCKETS)                             \
    X(PROCESS_RSS, GAUGE, "process_resident_memory_bytes",                                  \
      "Resident memory size in bytes.", RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)          \
    X(PROCESS_VSIZE, GAUGE, "process_virtual_memory_bytes",                                 \
      "Virtual memory size in bytes.", RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)           \
    X(PROCESS_CPU, COUNTER, "process_cpu_seconds_total",                                    \
      "Total user and system CPU time spent in seconds.",                                   \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(PROCESS_OPEN_FDS, GAUGE, "process_open_fds", "Number of open file descriptors.",      \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(PROCESS_MAX_FDS, GAUGE, "process_max_fds",                                            \
      "Maximum number of open file descriptors.", RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS) \
    X(PROCESS_START_TIME, GAUGE, "process_start_time_seconds",                              \
      "Start time of the process since unix epoch in seconds.",                             \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)                                            \
    X(PROCESS_THREADS, GAUGE, "process_threads", "Number of OS threads in the process.",    \
      RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS)

enum rl_metric_id {
#define RL_X_(id, type, name, help, labels, buckets) RL_M_##id,
    RL_METRICS_FAMILIES(RL_X_)
#undef RL_X_
    RL_M__COUNT
};

/* The descriptor of one of reloadd's families; NULL for an unknown id. */
const struct rl_metric_desc *rl_metrics_desc(enum rl_metric_id id);

/* ---- reloadd's registry ---- */

struct rl_metrics_opts {
    bool count_by_namespace;    /* METRICS_COUNT_BY_NAMESPACE=enabled */
    bool process;               /* process_* from /proc/self at scrape time */
    const char *api_host;       /* host label of rest_client_*; copied */
};

/* Defaults (process on) plus METRICS_COUNT_BY_NAMESPACE, exactly "enabled". */
void rl_metrics_opts_from_env(struct rl_metrics_opts *opts);

/*
 * A registry with every family of RL_METRICS_FAMILIES, except
 * RELOAD_EXECUTED_BY_NS unless opts->count_by_namespace and PROCESS_*
 * unless opts->process. opts NULL: rl_metrics_opts_from_env().
 */
struct rl_metrics *rl_metrics_new(const struct rl_metrics_opts *opts);

/* An empty registry, for rl_metrics_register() alone. */
struct rl_metrics *rl_metrics_new_empty(void);

/* Frees the registry, its families and series; NULL is a no-op. */
void rl_metrics_free(struct rl_metrics *m);

/* ---- events: what the rest of reloadd calls ---- */

enum rl_metrics_result {
    RL_METRICS_SUCCESS,
    RL_METRICS_ERROR,
    RL_METRICS_SKIPPED,
};

enum rl_metrics_skip_reason {
    RL_METRICS_SKIP_IGNORED_OR_NOT_SELECTED,
    RL_METRICS_SKIP_NO_DATA_CHANGE,
    RL_METRICS_SKIP_STRATEGY_NOT_UPDATED,
};

enum rl_metrics_error_type {
    RL_METRICS_ERR_HANDLER,             /* "handler_error" */
    RL_METRICS_ERR_INVALID_HANDLER,     /* "invalid_handler_type" */
};

enum rl_metrics_event {
    RL_METRICS_EVENT_ADD,
    RL_METRICS_EVENT_UPDATE,
    RL_METRICS_EVENT_DELETE,
};

/* A workload write attempt finished (ns: the workload's namespace). */
void rl_metrics_reload_executed(struct rl_metrics *m, bool success, const char *ns);
/* One reconcile of one workload finished; counted once, by the worker. */
void rl_metrics_reconcile(struct rl_metrics *m, enum rl_metrics_result result, double seconds);
/* A reload action on a workload of kind ("Deployment", ...) finished. */
void rl_metrics_action(struct rl_metrics *m, const char *workload_kind, bool success,
                       double seconds);
void rl_metrics_skipped(struct rl_metrics *m, enum rl_metrics_skip_reason reason);
void rl_metrics_workqueue_add(struct rl_metrics *m);
/* A key waited seconds between its add and a worker taking it. */
void rl_metrics_workqueue_latency(struct rl_metrics *m, double seconds);
/* Shard's depth is now depth; reloader_workqueue_depth follows the sum. */
void rl_metrics_queue_depth(struct rl_metrics *m, unsigned shard, size_t depth);
void rl_metrics_error(struct rl_metrics *m, enum rl_metrics_error_type type);
void rl_metrics_retry(struct rl_metrics *m);
/* resource_type: "configmaps", "secrets", "namespaces", ... */
void rl_metrics_event_received(struct rl_metrics *m, enum rl_metrics_event ev,
                               const char *resource_type);
void rl_metrics_event_processed(struct rl_metrics *m, enum rl_metrics_event ev,
                                const char *resource_type, bool dropped);
void rl_metrics_workloads_scanned(struct rl_metrics *m, const char *kind, size_t n);
void rl_metrics_workloads_matched(struct rl_metrics *m, const char *kind, size_t n);
/* Source event to the write that rolled the workload. */
void rl_metrics_reconcile_latency(struct rl_metrics *m, double seconds);
void rl_metrics_startup_sync(struct rl_metrics *m, double seconds);
void rl_metrics_watch_restart(struct rl_metrics *m, const char *resource);
void rl_metrics_relist(struct rl_metrics *m, const char *resource);
/*
 * An API request finished. verb is Kubernetes' ("get", "list", "watch",
 * "create", "update", "patch", "delete"); resource is plural ("leases");
 * code is the HTTP status, or <= 0 when no response came ("<error>", as
 * client-go). Also feeds rest_client_*, whose method/verb labels are the
 * HTTP method. For a watch, seconds is the time to the response headers.
 */
void rl_metrics_api_request(struct rl_metrics *m, const char *verb, const char *resource,
                            int code, double seconds);
void rl_metrics_cached_objects(struct rl_metrics *m, const char *kind, size_t n);
void rl_metrics_restart_budget_held(struct rl_metrics *m, const char *kind);
void rl_metrics_window_held(struct rl_metrics *m, const char *kind);
void rl_metrics_health_gate_held(struct rl_metrics *m, const char *kind);
/* unix_s: wall time of the resource's last watch progress; 0: none yet. */
void rl_metrics_watch_progress(struct rl_metrics *m, const char *resource, double unix_s);
/* Leadership is now is_leader; a change counts one transition. */
void rl_metrics_leader(struct rl_metrics *m, bool is_leader);
void rl_metrics_first_write_after_acquire(struct rl_metrics *m, double seconds);
/* The rollout cap at a scrape: in flight, waiting, and timed out so far. */
void rl_metrics_rollout_cap(struct rl_metrics *m, size_t in_flight, size_t waiting,
                            uint64_t timed_out);
/* kind event|alert|webhook, result sent|failed|dropped: the sender's running count. */
/*
 * The workload state (reload/state.h): entries seen and pending, batches
 * written, failed, and put off for want of spare API budget.
 */
void rl_metrics_workload_state(struct rl_metrics *m, size_t entries, size_t pending,
                               uint64_t writes, uint64_t failures, uint64_t deferred);
void rl_metrics_notifications(struct rl_metrics *m, const char *kind, const char *result,
                              uint64_t n);

/* ---- the generic registry ---- */

/*
 * Registers a family described by d. Returns 0 and the family in *out (if
 * out is not NULL), or RL_EINVAL for a bad name, label name (or "le" on a
 * histogram, or a duplicate), bucket list, or a name that is taken or
 * whose samples would clash with another family's (a histogram "x" owns
 * x_bucket, x_sum and x_count).
 */
int rl_metrics_register(struct rl_metrics *m, const struct rl_metric_desc *d,
                        struct rl_metric **out);

/* One of reloadd's families, or NULL if this registry does not have it. */
struct rl_metric *rl_metrics_get(struct rl_metrics *m, enum rl_metric_id id);
/* A family by name, or NULL. */
struct rl_metric *rl_metrics_find(struct rl_metrics *m, const char *name);

/*
 * The series for a tuple of label values, in the order of the family's
 * label names, created at 0 on first use; a NULL value reads as "". The
 * count must match the family's (a mismatch is a bug). Never NULL: past
 * RL_METRIC_MAX_SERIES it is a sink that is never exposed.
 */
struct rl_series *rl_metric_series(struct rl_metric *f, const char *const *values,
                                   size_t nvalues);

void rl_series_inc(struct rl_series *s);                /* counter or gauge */
/* Counter: v < 0 or NaN is ignored (counters only go up). Gauge: any v. */
void rl_series_add(struct rl_series *s, double v);
/* Gauge; or a counter mirroring a count kept elsewhere (CPU seconds). */
void rl_series_set(struct rl_series *s, double v);
/* Histogram: counts v in the first bucket whose bound is >= v; NaN ignored. */
void rl_series_observe(struct rl_series *s, double v);

double rl_series_value(const struct rl_series *s);     /* counter, gauge */
uint64_t rl_series_count(const struct rl_series *s);    /* histogram */
double rl_series_sum(const struct rl_series *s);        /* histogram */

/* Runs at the start of every rl_metrics_expose(), e.g. to read /proc. */
typedef void rl_metrics_collect_fn(struct rl_metrics *m, void *ctx);
void rl_metrics_on_collect(struct rl_metrics *m, rl_metrics_collect_fn *fn, void *ctx);

/*
 * Appends the text exposition (format 0.0.4) to out. Returns 0, or
 * RL_ETOOBIG if out's cap was reached (out then holds a partial text).
 */
int rl_metrics_expose(struct rl_metrics *m, struct rl_buf *out);

/* The Content-Type of rl_metrics_expose()'s text. */
#define RL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif /* RL_METRICS_H */
