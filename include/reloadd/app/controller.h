/*
 * controller.h - informers, store, workqueue and workers wired together
 *
 * The controller watches ConfigMaps, Secrets and every enabled workload
 * kind (cluster-wide, or per watched namespace), keeps them in the compact
 * store, and turns each change into workload keys on the sharded
 * workqueue, where --workers threads run rl_reconcile().
 *
 * Every replica runs the informers (followers stay warm); writes happen
 * only while rl_controller_set_leader(true) holds and the may_write hook
 * (fencing) agrees. On becoming leader, and once the caches have synced,
 * every workload is reconciled from the cache: no LIST, and by the
 * reconcile contract only what really changed rolls.
 *
 * With --webhook-url no workload is watched or written: the controller
 * only reports source changes (hooks->on_source_event), for main to post.
 *
 * Timing for metrics: the controller remembers, per workload key, when it
 * was first added since a worker last took it, and when the first source
 * event that made it stale happened; rl_reconcile_result.since_event_s and
 * hooks->on_reconciled() report them.
 *
 * Hooks run on the informer thread (on_source_event, on_watch) or on the
 * worker threads (the others); they must not block.
 *
 * Threads: new/start/stop/free from main; the rest from any thread.
 */
#ifndef RL_CONTROLLER_H
#define RL_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/ops/report.h"          /* struct rl_source_event */
#include "reloadd/base/buf.h"
#include "reloadd/kube/informer.h"
#include "reloadd/reload/reconcile.h"

struct rl_options;
struct rl_policy;
struct rl_kube;
struct rl_clock;
struct rl_controller;
struct rl_store;

struct rl_controller_hooks {
    bool (*may_write)(void *fence_ctx);   /* fencing; NULL: always (no HA) */
    /*
     * Milliseconds the fence has left (0: may not write), asked by the
     * API client before every send of a write (kube.h, rl_kube_thread_fence);
     * NULL: may_write alone decides.
     */
    uint64_t (*fence_left_ms)(void *ctx);
    void *fence_ctx;                /* the ctx of may_write and fence_left_ms */
    /* After each write reconcile wanted; since_event_s filled in. */
    void (*on_result)(void *ctx, const struct rl_reconcile_result *res);
    void (*on_skip)(void *ctx, const char *reason);
    void (*on_watch)(void *ctx, const char *resource, bool relist);
    void (*on_source_event)(void *ctx, const struct rl_source_event *ev);
    /*
     * One reconcile finished (err 0, RL_ENOTLEADER or the error to retry):
     * seconds it took, queued_s from its first add to a worker taking it
     * (< 0 if unknown, e.g. a delayed re-queue).
     */
    void (*on_reconciled)(void *ctx, enum rl_kind kind, int err, double seconds,
                          double queued_s);
    void (*on_enqueue)(void *ctx);  /* a key was added to the queue */
    /* W's annotations need attention (reconcile.h); the leader only. */
    void (*on_problem)(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                       const char *uid, const char *problems);
    /* W's rollout is held by its restart budget (reconcile.h); the leader only. */
    void (*on_held)(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                    const char *uid, unsigned used, unsigned max, int64_t period_s,
                    int64_t held_until_s);
    /* ... held until its maintenance window opens (reconcile.h); the leader only. */
    void (*on_window_held)(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                           const char *uid, const char *window, int64_t opens_at_s);
    /* ... held by the health gate (reconcile.h); the leader only. */
    void (*on_gated)(void *ctx, const struct rl_gate_hold *h);
    void *ctx;
};

struct rl_controller *rl_controller_new(const struct rl_options *o, const struct rl_policy *pol,
                                        struct rl_kube *kube,
                                        const struct rl_clock *clock,
                                        const struct rl_controller_hooks *hooks);
int rl_controller_start(struct rl_controller *c);
/* The rollout cap's counts (cap.h); all zero without --max-concurrent-rollouts. */
struct rl_cap_counts;
void rl_controller_cap_counts(struct rl_controller *c, struct rl_cap_counts *out);
/*
 * Before a stop: serves the changes still in their coalescing window (and
 * any seen meanwhile) while this replica still holds the Lease, waiting up
 * to within_ms: a SIGTERM neither drops a reload nor a workload's first
 * record (see rl_workqueue_flush()). 0 or RL_ETIMEOUT.
 */
int rl_controller_flush(struct rl_controller *c, uint64_t within_ms);
/* Stops the informers, then the workers (waiting up to drain_ms). */
void rl_controller_stop(struct rl_controller *c, uint64_t drain_ms);
void rl_controller_free(struct rl_controller *c);

/*
 * Before start: also watch the Lease ns/name on the informers' thread and
 * hand every version of it (NULL when deleted) to fn, so followers see a
 * released Lease at once.
 */
typedef void rl_controller_lease_fn(void *ctx, const cJSON *lease);
void rl_controller_watch_lease(struct rl_controller *c, const char *ns, const char *name,
                               rl_controller_lease_fn *fn, void *ctx);

/* A takeover from a holder that did not release: see rl_reconciler_assume_missed(). */
void rl_controller_assume_missed(struct rl_controller *c);

/* Leadership changed. Becoming leader reconciles every workload. */
void rl_controller_set_leader(struct rl_controller *c, bool leader);
/* Leader and not fenced: writes (and webhook posts) are ours to make now. */
bool rl_controller_may_write(struct rl_controller *c);

/* Every informer has listed once. */
bool rl_controller_synced(struct rl_controller *c);
/* Makes every informer list again (tests; recovery). Any thread. */
void rl_controller_relist(struct rl_controller *c);
/* Mono ms when every workload had been reconciled after start; 0 if not yet. */
uint64_t rl_controller_startup_done_ms(struct rl_controller *c);
/* Watches alive and workers not stuck; otherwise false with why. */
bool rl_controller_live(struct rl_controller *c, struct rl_buf *why);
/*
 * Ready: the caches have synced and every informer made progress (a
 * successful list, a watch event or bookmark, a watch ended by the
 * server's timeout) within max_silence_ms, so a replica cut off from the
 * API server stops being ready (leader and follower alike) and is ready
 * again once it hears from it. Otherwise false with why.
 */
bool rl_controller_ready(struct rl_controller *c, uint64_t max_silence_ms, struct rl_buf *why);
/* /explain: JSON for kind (e.g. "deployment"), namespace, name; NULL if unknown. */
cJSON *rl_controller_explain(struct rl_controller *c, const char *kind, const char *ns,
                             const char *name);

struct rl_controller_stats {
    size_t queue_depth;
    size_t sources[RL_SOURCE_COUNT];    /* cached, by type */
    size_t workloads[RL_KIND_MAX];    /* cached, by kind */
    size_t index_edges;
    size_t csi_statuses;                /* SecretProviderClassPodStatuses tracked (csi.h) */
    bool csi;                           /* --enable-csi-integration */
    uint64_t reconciles;
    uint64_t watch_events;
    uint64_t relists;
    uint64_t watch_restarts;
};
void rl_controller_stats(struct rl_controller *c, struct rl_controller_stats *out);
/* The workloads of each kind cached in namespace ns. */
void rl_controller_workloads_in(struct rl_controller *c, const char *ns,
                                size_t out[RL_KIND_MAX]);
/* Per watched resource, the mono ms of its watch's last progress (informer.h). */
void rl_controller_watch_progress(struct rl_controller *c, rl_informers_progress_fn *fn,
                                  void *ctx);
/* The workload state (reload/state.h): false, all 0, when it is off. */
struct rl_controller_state_stats {
    size_t entries, pending;
    uint64_t writes, failures, deferred;
};
bool rl_controller_state_stats(struct rl_controller *c, struct rl_controller_state_stats *out);
struct rl_workqueue *rl_controller_queue(struct rl_controller *c);
struct rl_store *rl_controller_store(struct rl_controller *c);

#endif /* RL_CONTROLLER_H */
