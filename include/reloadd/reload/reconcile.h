/*
 * reconcile.h - the reconcile contract: one workload, from the cache
 *
 * rl_reconcile(W), level-triggered and idempotent (docs/reconcile.md):
 *
 *   for each source S that may trigger W (references, records, matching
 *   named-reload patterns), decided by rl_decide() exactly as Reloader:
 *     desired = h(S) from the store (absent if S does not exist)
 *     record  = our "<prefix>/applied" entry, and the marker in W's pod
 *               template (env var or last-reloaded-from), either of which
 *               may hold the delete marker after a rollout for a delete
 *   Events count by resourceVersion (etcd's order, whatever order the
 *   watches deliver them in), against W's template_rv (its pods started
 *   from this template) and inputs_rv (its annotations took this form):
 *     record or marker == desired                   -> nothing
 *     no record: S changed (or was created, with --reload-on-create)
 *                after W's template and annotations -> roll
 *                otherwise                          -> baseline (record)
 *     stale record: S changed (created, with --reload-on-create) after
 *                W's template                       -> roll
 *                W's template is newer than what we listed at start
 *                (a new or edited workload)         -> baseline
 *                --sync-after-restart               -> roll
 *                otherwise                          -> adopt (record)
 *     S absent, record holds the delete marker (our record first:
 *                a marker may outlive a re-create)  -> nothing
 *     S absent, a record, deleted after W's template, --reload-on-delete
 *                (or deleted while no reloadd ran, with
 *                --sync-after-restart as well)      -> roll (delete marker)
 *                otherwise                          -> drop it from the record
 *     S absent, no record, deleted after W appeared, --reload-on-delete
 *                                                   -> roll (delete marker)
 *   then at most ONE write: a rollout carrying the markers of every stale
 *   source and the whole record, or a metadata-only record patch, or none.
 *
 * Nothing rolls unless a source really changed since W's pods were rolled,
 * so startup sync, failover catch-up and retries are all this one call.
 * Reads come from the store only (no API GET), except for the kinds whose
 * write needs the whole object: CronJob (a Job is created from it), Job
 * (recreated) and Argo Rollout with the update strategy.
 *
 * Maintenance window (window.h): a rollout due while W's window is closed
 * is held; the first reconcile that holds it writes the record as it
 * stands with a pending mark (one record-only write), and asks
 * hooks->requeue_after() for the opening, when W rolls once with the
 * latest values (the mark leaves the record in the same write). The mark
 * makes a restarted or new leader roll the stale sources at the opening.
 *
 * Pause period (pause.h, docs/reloader.md §10): a rollout of a Deployment
 * whose metadata carries the pause-period annotation also pauses it, in
 * the same patch; a reconcile of a Deployment paused by reloadd resumes it
 * once the window is over, and otherwise asks hooks->requeue_after() for
 * the time left. The state is the Deployment's own annotations, so a
 * restart or a failover (whose startup pass reconciles every workload)
 * resumes on time.
 *
 * Every write is preceded by hooks->may_write() (leadership and fencing);
 * a refusal returns RL_ENOTLEADER and writes nothing. --dry-run logs each
 * write instead of making it.
 *
 * Threads: rl_reconcile() runs on any number of worker threads at once,
 * for different keys (the workqueue guarantees one worker per key).
 */
#ifndef RL_RECONCILE_H
#define RL_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/reload/marker.h"
#include "reloadd/reload/workload.h"

struct rl_store;
struct rl_kube;
struct rl_policy;
struct rl_regex_cache;
struct rl_clock;
struct rl_reconciler;

enum rl_reconcile_action {
    RL_ACTION_NONE,                 /* everything up to date */
    RL_ACTION_RECORD,               /* metadata-only: baselines or adoption */
    RL_ACTION_ROLLOUT,              /* pods rolled (or a Job created) */
};

/* What one reconcile did, for metrics, Events, alerts and logs. */
struct rl_reconcile_result {
    const char *wkey;
    enum rl_kind kind;
    const char *ns, *name;
    const char *uid;                /* the workload's metadata.uid, may be NULL */
    enum rl_reconcile_action action;
    int err;                        /* 0, or why the write failed */
    unsigned n_rolled;              /* sources whose change rolled W */
    enum rl_source_type first_type; /* the first of them (Events, alerts) */
    const char *first_name;
    const char *first_hash;
    bool deleted;                   /* ... rolled because it was deleted */
    double seconds;                 /* time spent in the write */
    bool dry_run;
    bool paused;                    /* the rollout also paused the Deployment */
    /* Seconds since the source event that made W stale; < 0 if unknown (controller). */
    double since_event_s;
};

/* A rollout held by the health gate (gate.h), for Events, alerts and metrics. */
struct rl_gate_hold {
    enum rl_kind kind;
    const char *ns, *name, *uid;
    enum rl_source_type type;       /* the source whose version is held */
    const char *source;
    const char *version;            /* its hash */
    unsigned batch;                 /* --health-gate-batch */
    unsigned members, failed, timed_out;    /* of that version's first batch */
};

struct rl_reconcile_hooks {
    /* Right before each write; false: not the (fenced) leader. NULL: always. */
    bool (*may_write)(void *ctx);
    /* After each reconcile that wanted a write (done, refused or failed). */
    void (*on_result)(void *ctx, const struct rl_reconcile_result *res);
    /* Skips worth counting: reason is Reloader's skipped_total reason. */
    void (*on_skip)(void *ctx, const char *reason);
    /* Reconcile wkey again in delay_ms (a pause window ends). NULL: never. */
    void (*requeue_after)(void *ctx, const char *wkey, uint64_t delay_ms);
    /*
     * W's annotations need attention (a bad regex, a reload list over the
     * caps, a value that is not a boolean, a source no container takes):
     * called with the problems once per change of them, by the replica that
     * may write (the leader), after the warning is logged. NULL: log only.
     */
    void (*on_problem)(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                       const char *uid, const char *problems);
    /*
     * A rollout of W is due but its restart budget (budget.h) is spent:
     * `used` rollouts in the last period_s, held until held_until_s (unix).
     * Once per hold, by the replica that may write. NULL: log only.
     */
    void (*on_held)(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                    const char *uid, unsigned used, unsigned max, int64_t period_s,
                    int64_t held_until_s);
    /*
     * A rollout of W is due but its maintenance window (window.h) is
     * closed: held until opens_at_s (unix), pending on W. Once per hold,
     * by the replica that may write. NULL: log only.
     */
    void (*on_window_held)(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                           const char *uid, const char *window, int64_t opens_at_s);
    /*
     * A rollout of W is due but the health gate holds the source version
     * (its first batch failed or timed out). Once per (W, held versions),
     * by the replica that may write. NULL: log only.
     */
    void (*on_gated)(void *ctx, const struct rl_gate_hold *h);
    void *ctx;
};

struct rl_reconciler *rl_reconciler_new(struct rl_store *store, struct rl_kube *kube,
                                        const struct rl_policy *policy,
                                        struct rl_regex_cache *rc, const struct rl_clock *clock,
                                        const struct rl_reconcile_hooks *hooks);
void rl_reconciler_free(struct rl_reconciler *r);

/*
 * From now on, a stale record of a workload listed at start is a change
 * missed, rolled as with --sync-after-restart: this replica took over a
 * Lease whose holder did not release it (a crash, or its own previous
 * process), so reloadd was running while this process did not watch, and
 * its peers saw changes it did not. Any thread.
 */
void rl_reconciler_assume_missed(struct rl_reconciler *r);

/*
 * This replica took over while following (its caches were filled before
 * it led): before the first rollout of each workload, the cache is checked
 * against a GET, and a workload the API server holds newer (the previous
 * leader's last write, not yet watched) waits for the watch instead of
 * rolling again. Any thread.
 */
void rl_reconciler_verify_takeover(struct rl_reconciler *r);

/*
 * The rollout cap (--max-concurrent-rollouts, cap.h). A rollout write is
 * admitted by the cap first: beyond it, W waits in order of arrival,
 * marked pending (one record-only write at its first wait, as every hold
 * is: a restart keeps the change), and is queued again when a slot frees. A written rollout holds its slot until the workload shows it
 * done or failed - rl_reconciler_observed(), called by the watch for
 * every new version of a workload, with its judged progress (progress.h)
 * - or until --rollout-timeout; a failed write, or a kind whose rollout
 * is its write (a Job), frees it at once. rl_reconciler_adopt_rollouts():
 * on gaining the lead (and at start), the cap restarts from the cluster:
 * the workloads the store shows in a rollout of reloadd's (rl_cap_in_rollout)
 * hold their slots. Any thread; no-ops without a cap.
 */
void rl_reconciler_observed(struct rl_reconciler *r, const struct rl_workload *w);
/*
 * The health gate (--health-gate, <prefix>/health-gate; gate.h). A
 * rollout of a gated W whose sources changed (not a deletion) asks the
 * gate, after the window, the budget and the cap, for each changed
 * source's new version: the first --health-gate-batch workloads to ask
 * roll; the others WAIT (marked pending once, as every hold is; requeued
 * when the batch's first deadline passes, and when the batch comes out:
 * the source's dependents are queued) until every member is available,
 * then roll; a member that FAILED or was not available within
 * --health-gate-timeout of its write HOLDS the version: no rollout,
 * hooks->on_gated() once per W and held versions, W pending (marked at
 * its first wait or hold), until a new version of the source starts a new
 * batch. Members are judged by
 * rl_reconciler_observed() (the object after our write only: its
 * generation past the one planned from). The gate lives in memory: a new
 * leader (rl_reconciler_adopt_rollouts) starts it afresh; the pending mark
 * makes it roll a held W rather than adopt it, so a held version rolls one
 * more first batch after a restart or a failover.
 * Followers and --dry-run do not ask it.
 */

void rl_reconciler_adopt_rollouts(struct rl_reconciler *r);
struct rl_cap_counts;
void rl_reconciler_cap_counts(struct rl_reconciler *r, struct rl_cap_counts *out);

/* Reconciles the workload "<kind>/<ns>/<name>". 0, or an error to retry. */
int rl_reconcile(struct rl_reconciler *r, const char *wkey);

/*
 * What rl_reconcile() would do now and why, as JSON: the workload, each
 * candidate source with its hash, record, decision and verdict, the
 * planned action, and the last write's outcome. NULL if W is unknown.
 */
cJSON *rl_reconcile_explain(struct rl_reconciler *r, const char *wkey);

/*
 * What rl_reconcile() would write now, without writing (tests, tools):
 * the action and, for a rollout or a record, the markers and the whole
 * record as rl_reconcile() would send them. Strings borrowed from the
 * preview until rl_reconcile_preview_release(). RL_ENOENT if W is unknown.
 */
struct rl_reconcile_preview {
    /* NONE while the budget or a window holds a rollout (RECORD: the window's pending mark) */
    enum rl_reconcile_action action;
    int64_t held_until_s;           /* a rollout held by the restart budget: until (unix s) */
    int64_t window_opens_at_s;      /* a rollout held by a closed window: until (unix s) */
    enum rl_kind kind;
    bool argo_restart;
    struct rl_rollout rollout;
    struct rl_reconcile_preview_priv *_priv;
};
int rl_reconcile_preview(struct rl_reconciler *r, const char *wkey,
                         struct rl_reconcile_preview *out);
void rl_reconcile_preview_release(struct rl_reconcile_preview *pv);

#endif /* RL_RECONCILE_H */
