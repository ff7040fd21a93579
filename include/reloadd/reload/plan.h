/*
 * plan.h - the planner: what one reconcile of a workload is to do
 *
 * rl_plan_make() reads the store (under its read lock) and decides, for
 * workload W, the verdict of every source that may trigger it and the one
 * action that follows (nothing, a record, or a rollout) - the reconcile
 * contract of docs/reconcile.md, with no API call and no clock of its own:
 * everything it needs is in struct rl_plan_inputs. reconcile.c carries the
 * plan out (its writers), and /explain shows it. tests/unit/test_reconcile.c
 * holds every rule of the contract, and tests/mutation/planner.sh checks
 * that breaking any one of them fails that test.
 *
 * Ownership: a plan owns its strings; rl_plan_release() frees them.
 * Threads: pure apart from the store's lock; any thread.
 */
#ifndef RL_PLAN_H
#define RL_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloadd/base/hash.h"
#include "reloadd/reload/budget.h"
#include "reloadd/reload/reconcile.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/window.h"
#include "reloadd/reload/workload.h"

#define RL_PLAN_MAX_SOURCES 256
#define RL_PLAN_UID_MAX 64                  /* a Kubernetes uid is 36 characters */

struct rl_regex_cache;

enum rl_verdict {
    RL_VERDICT_SKIP,                         /* decision says no, or no container */
    RL_VERDICT_OK,                           /* recorded == desired */
    RL_VERDICT_BASELINE,                     /* no record yet: record, no rollout */
    RL_VERDICT_ADOPT,                        /* stale from before we watched: record */
    RL_VERDICT_ROLL,                         /* stale: roll */
    RL_VERDICT_ROLL_DELETED,                 /* deleted, --reload-on-delete: roll */
    RL_VERDICT_GONE,                         /* deleted, no rollout: drop from record */
    RL_VERDICT_KEEP,                         /* type ignored: its record entry kept as is */
};

/* "skip", "up-to-date", "baseline", ... (/explain). */
const char *rl_verdict_name(enum rl_verdict v);

struct rl_plan_item {
    enum rl_source_type type;
    char *name;
    char *container;                /* chosen container, or NULL */
    char desired[RL_HASH_HEX_SIZE]; /* "" if the source does not exist */
    char recorded[RL_HASH_HEX_SIZE];/* "" if none */
    char record[RL_HASH_HEX_SIZE];  /* what the applied record is to hold; "" none */
    enum rl_recorded_from from;
    enum rl_verdict verdict;
    char problem[256];              /* worth a warning: bad regex, no container */
    bool regex;                     /* ... the problem is its reload list's */
    char reason[384];
};

struct rl_plan {
    enum rl_kind kind;
    char *ns, *name;
    char *uid;
    uint64_t rv;                    /* W's resourceVersion in the cache */
    int64_t generation;             /* W's metadata.generation in the cache */
    char *pause_period;             /* Deployments: the annotations, or NULL */
    char *paused_at;
    enum rl_reload_strategy strategy;
    bool argo_restart;              /* Rollout with rollout-strategy: restart */
    struct rl_plan_item items[RL_PLAN_MAX_SOURCES];
    size_t n;
    bool truncated;
    bool record_differs;            /* computed record != the stored one */
    bool record_on_workload;        /* W holds its record itself (not the state, state.h) */
    enum rl_reconcile_action action;
    /* The restart budget (budget.h): W's own or the default, and its history. */
    struct rl_budget budget;
    char *history;                  /* from the record, or NULL */
    char budget_problem[200];       /* W's budget annotation did not parse */
    int64_t held_until_s;           /* a rollout is due but the budget holds it; 0: not */
    /*
     * The maintenance window (window.h): W's own or the default. A rollout
     * due while it is closed is held (action stays ROLLOUT) until it opens;
     * rl_plan_record() is then the record as it stands, without the rolls.
     */
    bool windowed;                  /* a window applies (else always open) */
    char window_value[RL_WINDOW_MAX_LEN + 1];
    bool window_open;               /* rl_window_state() at now_s */
    int64_t window_opens_s, window_closes_s;
    char window_problem[300];       /* W's window annotation did not parse */
    int64_t window_opens_at_s;      /* a rollout is due but the window is closed; 0: not */
    int64_t pending_since_s;        /* the record's pending mark; 0: none */
    /*
     * The health gate (gate.h): whether W's rollouts for a source version
     * wait for that version's first batch (--health-gate, or W's
     * <prefix>/health-gate "true"/"false"). reconcile.c asks the gate.
     */
    bool gated;
    char gate_problem[200];         /* W's health-gate annotation is not a boolean */
    /* Filled by reconcile.c's writers: what the API server answered our last write. */
    uint64_t wrote_rv;
    char wrote_uid[RL_PLAN_UID_MAX];
    bool replaced;                  /* a Job recreated: the cached uid is the old one */
};


struct rl_plan_inputs {
    struct rl_store *store;
    const struct rl_policy *policy;
    struct rl_regex_cache *rc;
    /* Judge listed workloads as --sync-after-restart does (the flag, or a missed takeover). */
    bool sync;
    struct rl_budget budget;                /* the default restart budget */
    int64_t now_s;                          /* unix seconds: the budget, the window */
    struct rl_window_cache *windows;        /* NULL: no windows */
};

/* Plans W (a store key); RL_ENOENT if the store does not hold it. */
int rl_plan_make(const struct rl_plan_inputs *in, const char *wkey, struct rl_plan *p);
void rl_plan_release(struct rl_plan *p);
/*
 * The record the plan stores: every judged source with a hash, sorted as
 * marker.h wants; while a window holds the rollout, the sources to roll keep
 * what W records now.
 */
size_t rl_plan_record(const struct rl_plan *p, struct rl_applied_entry *out);
/* The record as it stands while something else holds the rollout (the health gate). */
size_t rl_plan_record_held(const struct rl_plan *p, struct rl_applied_entry *out);

#endif /* RL_PLAN_H */
