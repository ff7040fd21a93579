/*
 * informer.h - list then watch, for many resources on one I/O thread
 *
 * An informer keeps a local view of one resource (e.g. "configmaps") in
 * one namespace or cluster-wide: it LISTs (paginated), then WATCHes from
 * the list's resourceVersion with bookmarks, resumes from the last
 * resourceVersion seen when a watch ends, relists after 410 Gone, and
 * backs off with jitter after every failure. It hands each object to its
 * handler as it arrives and keeps nothing itself: decoding into compact
 * form is the handler's business (cache.h).
 *
 * Relists are exact: the handler is told which keys the list held
 * (begin_relist / upsert for each item / end_relist), so it can delete
 * what vanished while the watch was down.
 *
 * All informers of a set share one thread and one curl multi handle
 * (kube.h mux); every handler callback runs on that thread. A LIST runs
 * on that thread too, so other streams pause (their events wait in the
 * socket, nothing is lost) while one informer relists.
 *
 * Threads: rl_informers_add() before _start(); the accessors (synced,
 * counters) from any thread; _stop() joins the thread.
 */
#ifndef RL_INFORMER_H
#define RL_INFORMER_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct rl_kube;
struct rl_informers;
struct rl_informer;

struct rl_informer_handler {
    /* An object was added or changed (from a list or a watch). */
    void (*upsert)(void *ctx, struct rl_informer *inf, const cJSON *obj, bool from_list);
    /* An object was deleted (watch DELETED, or gone from a relist). */
    void (*remove)(void *ctx, struct rl_informer *inf, const char *ns, const char *name);
    /* A (re)list starts: every object the list holds will be upserted. */
    void (*begin_relist)(void *ctx, struct rl_informer *inf);
    /* The list ended; objects not upserted since begin_relist are gone. */
    void (*end_relist)(void *ctx, struct rl_informer *inf);
    /* The informer has listed once; called once. */
    void (*synced)(void *ctx, struct rl_informer *inf);
    void *ctx;
};

struct rl_informer_spec {
    const char *resource;           /* plural, for logs/metrics: "configmaps" */
    const char *group_version;      /* "v1", "apps/v1", "argoproj.io/v1alpha1" */
    const char *namespace_;         /* NULL or "": all namespaces */
    const char *label_selector;     /* may be NULL */
    const char *field_selector;     /* may be NULL */
    int page_size;                  /* LIST limit, default 500 */
    void *user;                     /* for the handler: rl_informer_user() */
};

struct rl_informer_stats {
    uint64_t events;                /* watch events applied */
    uint64_t watch_restarts;        /* watches re-opened (any reason) */
    uint64_t relists;               /* lists after the first */
    uint64_t failures;              /* list or watch errors */
    uint64_t last_event_ms;         /* mono ms of the last event or bookmark */
};

struct rl_informers *rl_informers_new(struct rl_kube *kube);
/* Adds an informer; copies spec. Before rl_informers_start(). */
struct rl_informer *rl_informers_add(struct rl_informers *set, const struct rl_informer_spec *spec,
                                     const struct rl_informer_handler *handler);
void rl_informers_start(struct rl_informers *set);
/* Stops every stream and joins the thread. Idempotent. */
void rl_informers_stop(struct rl_informers *set);
void rl_informers_free(struct rl_informers *set);

/* True once every informer has listed once. */
bool rl_informers_synced(const struct rl_informers *set);
/* Sum of every informer's stats. */
void rl_informers_stats(const struct rl_informers *set, struct rl_informer_stats *out);
/* Mono ms of the oldest "last sign of life" among live informers (for /live). */
uint64_t rl_informers_oldest_activity_ms(const struct rl_informers *set);
/*
 * Calls fn once per resource with the mono ms of its last progress (a list,
 * an event or bookmark, a watch the server took); of several informers of
 * one resource (one per namespace), the oldest; 0 while one has none yet.
 * Any thread.
 */
typedef void rl_informers_progress_fn(void *ctx, const char *resource, uint64_t last_ms);
void rl_informers_progress(const struct rl_informers *set, rl_informers_progress_fn *fn,
                           void *ctx);

const char *rl_informer_resource(const struct rl_informer *inf);
void *rl_informer_user(const struct rl_informer *inf);
bool rl_informer_synced(const struct rl_informer *inf);
/*
 * The resourceVersion the informer has reached: inside a watch event's
 * handler callback, that event's (for DELETED, the deletion's). Informer
 * thread only; valid until the callback returns. NULL before a list.
 */
const char *rl_informer_resource_version(const struct rl_informer *inf);
void rl_informer_stats(const struct rl_informer *inf, struct rl_informer_stats *out);

/* Forces a relist of every informer (tests; recovery). Any thread. */
void rl_informers_relist(struct rl_informers *set);

/* Metrics hook: called on watch restarts and relists (I/O thread). */
typedef void rl_informer_observe_fn(void *ctx, const char *resource, bool relist);
void rl_informers_set_observer(struct rl_informers *set, rl_informer_observe_fn *fn, void *ctx);

#endif /* RL_INFORMER_H */
