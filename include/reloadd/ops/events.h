/*
 * events.h - Kubernetes Events on reloaded workloads, off the hot path
 *
 * After a rollout reconcile records, as Reloader does
 * (docs/reloader.md §5.4 and §11.1), a core/v1 Event on the workload:
 * Normal "Reloaded" ("Changes detected in '<res>' of type '<TYPE>' in
 * namespace '<ns>', Updated '<wl>' of type '<Kind>' in namespace '<ns>'")
 * or Warning "ReloadFail" ("Update for '<wl>' of type '<Kind>' in
 * namespace '<ns>' failed with error <err>"), with source.component and
 * reportingComponent "reloader-<resource>" (reloader-configmaps,
 * reloader-secrets). Argo Rollouts get theirs too (Reloader drops them,
 * docs/reloader.md §15.27).
 *
 * The Event is created with a POST to /api/v1/namespaces/<ns>/events, named
 * "<workload>.<hex unix nanoseconds>" as client-go's recorder names them.
 * Posting happens on a thread of its own from a bounded queue, so a worker
 * never waits on it; when the queue is full the OLDEST Event is dropped,
 * logged (once a minute at most) and counted. The poster's requests are
 * background requests (kube.h): they spend only the API budget rollouts
 * leave over, so an Event never delays a rollout under --kube-api-qps; an
 * Event that found no spare budget for a few seconds is dropped, and the
 * ones queued at stop are sent only if the budget allows at once. A failed POST that may succeed later (transport,
 * 429, 5xx) is retried a few times with backoff; other failures are logged
 * once. Each rl_events_post() yields at most one Event, and a Warning is
 * recorded at most once per warning_interval_ms for the same workload and
 * reason (a write retried with backoff fails many times in a row; the
 * log has every attempt, the Events stay readable).
 *
 * Ownership: everything posted is copied. Threads: new/start/stop/free from
 * one owner thread; post and stats from any thread.
 */
#ifndef RL_EVENTS_H
#define RL_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "reloadd/reload/workload.h"

struct rl_buf;
struct rl_kube;
struct rl_clock;
struct rl_events;

struct rl_event {
    enum rl_kind kind;              /* the involved workload */
    const char *ns;
    const char *name;
    const char *uid;                /* may be NULL */
    const char *type;               /* "Normal" or "Warning" */
    const char *reason;             /* "Reloaded", "ReloadFail" */
    const char *message;
    const char *component;          /* "reloader-configmaps" */
};


/* The core/v1 Event JSON for ev at wall time now_us. */
int rl_event_body(struct rl_buf *out, const struct rl_event *ev, int64_t now_us);

/*
 * Reloader's messages. res/type name the source ("cm", "CONFIGMAP"),
 * wl/kind the workload ("app", "Deployment"); err is the error text.
 */
int rl_event_reloaded_message(struct rl_buf *out, const char *res, const char *type,
                              const char *ns, const char *wl, const char *kind);
int rl_event_failed_message(struct rl_buf *out, const char *wl, const char *kind,
                            const char *ns, const char *err);

struct rl_events_opts {
    size_t queue_max;               /* 0: 1024 */
    unsigned max_attempts;          /* 0: 3 */
    uint64_t backoff_ms;            /* first retry delay, doubled; 0: 200 */
    uint64_t warning_interval_ms;   /* 0: 60000 */
};

struct rl_events_stats {
    uint64_t posted, created, failed, dropped;
    uint64_t suppressed;            /* repeated Warnings not recorded */
    size_t queued;
};

/* Borrows kube and clock (wall time for timestamps); they must outlive e. */
struct rl_events *rl_events_new(struct rl_kube *kube, const struct rl_clock *clock,
                                const struct rl_events_opts *opts);
void rl_events_start(struct rl_events *e);
/* Posts what is queued for up to drain_ms, drops the rest, joins. Idempotent. */
void rl_events_stop(struct rl_events *e, uint64_t drain_ms);
void rl_events_free(struct rl_events *e);

/* Queues one Event (copied); never blocks. */
void rl_events_post(struct rl_events *e, const struct rl_event *ev);
void rl_events_stats(struct rl_events *e, struct rl_events_stats *out);

#endif /* RL_EVENTS_H */
