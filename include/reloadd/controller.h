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
 * Threads: new/start/stop/free from main; the rest from any thread.
 */
#ifndef RL_CONTROLLER_H
#define RL_CONTROLLER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/buf.h"
#include "reloadd/reconcile.h"

struct rl_options;
struct rl_kube;
struct rl_clock;
struct rl_controller;
struct rl_store;

struct rl_controller_hooks {
    bool (*may_write)(void *ctx);   /* fencing; NULL: always (no HA) */
    void (*on_result)(void *ctx, const struct rl_reconcile_result *res);
    void (*on_skip)(void *ctx, const char *reason);
    void (*on_watch)(void *ctx, const char *resource, bool relist);
    void *ctx;
};

struct rl_controller *rl_controller_new(const struct rl_options *o, struct rl_kube *kube,
                                        const struct rl_clock *clock,
                                        const struct rl_controller_hooks *hooks);
int rl_controller_start(struct rl_controller *c);
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

/* Leadership changed. Becoming leader reconciles every workload. */
void rl_controller_set_leader(struct rl_controller *c, bool leader);

/* Every informer has listed once. */
bool rl_controller_synced(struct rl_controller *c);
/* Mono ms when every workload had been reconciled after start; 0 if not yet. */
uint64_t rl_controller_startup_done_ms(struct rl_controller *c);
/* Watches alive and workers not stuck; otherwise false with why. */
bool rl_controller_live(struct rl_controller *c, struct rl_buf *why);
/* /explain: JSON for kind (e.g. "deployment"), namespace, name; NULL if unknown. */
cJSON *rl_controller_explain(struct rl_controller *c, const char *kind, const char *ns,
                             const char *name);

struct rl_controller_stats {
    size_t queue_depth;
    size_t objects[8];              /* configmaps, secrets, then rl_kind order */
    size_t index_edges;
    uint64_t reconciles;
    uint64_t watch_events;
    uint64_t relists;
    uint64_t watch_restarts;
};
void rl_controller_stats(struct rl_controller *c, struct rl_controller_stats *out);
struct rl_workqueue *rl_controller_queue(struct rl_controller *c);
struct rl_store *rl_controller_store(struct rl_controller *c);

#endif /* RL_CONTROLLER_H */
