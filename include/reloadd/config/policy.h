/*
 * policy.h - what reloadd does, resolved once from the options
 *
 * The options (options.h) are the flags and variables as given: strings,
 * Reloader's string-typed booleans, lists in their CSV form, a list that a
 * bad entry disables, 60-odd fields. The domain (src/reload/) and the
 * operations that explain it (src/ops/explain.c) need only the decisions
 * those settle: which annotation keys to read, the strategy, which kinds,
 * sources and namespaces are watched, what a create, a delete or a restart
 * does, the restart budget. rl_policy_new() settles them once, in one
 * place; afterwards the policy is immutable and read from any thread
 * without a lock. The domain includes this header, never options.h (a
 * rule scripts/lint.py checks).
 *
 * Every string is owned by the policy (copied from the options, which may
 * be released first) and lives until rl_policy_free().
 */
#ifndef RL_POLICY_H
#define RL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_options;

enum rl_reload_strategy {
    RL_STRATEGY_ENV_VARS,
    RL_STRATEGY_ANNOTATIONS,
};

enum rl_watch_mode {
    RL_WATCH_GLOBAL,        /* all namespaces ("" below) */
    RL_WATCH_NAMESPACE,     /* KUBERNETES_NAMESPACE */
    RL_WATCH_SCOPED,        /* --namespaces */
};

/* The annotation keys reloadd reads and writes (docs/reloader.md §2). */
struct rl_policy_keys {
    const char *configmap_reload;   /* configmap.reloader.stakater.com/reload */
    const char *secret_reload;      /* secret.reloader.stakater.com/reload */
    const char *auto_all;           /* reloader.stakater.com/auto */
    const char *configmap_auto;     /* configmap.reloader.stakater.com/auto */
    const char *secret_auto;        /* secret.reloader.stakater.com/auto */
    const char *search;             /* reloader.stakater.com/search */
    const char *match;              /* reloader.stakater.com/match, on a source */
    const char *ignore;             /* reloader.stakater.com/ignore, on a source */
    const char *pause_period;       /* deployment.reloader.stakater.com/pause-period */
    const char *paused_at;          /* deployment.reloader.stakater.com/paused-at */
    const char *prefix;             /* reloadd.io: reloadd's own keys below */
    const char *applied;            /* <prefix>/applied, the record */
    const char *restart_budget;     /* <prefix>/restart-budget */
    const char *rollout_window;     /* <prefix>/rollout-window */
    const char *health_gate;        /* <prefix>/health-gate */
};

struct rl_policy {
    struct rl_policy_keys key;

    /* What a change does. */
    enum rl_reload_strategy strategy;
    bool auto_reload_all;           /* --auto-reload-all */
    bool reload_on_create;          /* --reload-on-create is exactly "true" */
    bool reload_on_delete;          /* --reload-on-delete is exactly "true" */
    bool sync_after_restart;
    bool dry_run;
    bool cronjob_template;          /* --cronjob-strategy=template */
    unsigned restart_budget;        /* rollouts of one workload per period; 0: none */
    int64_t restart_budget_period_s;
    unsigned max_concurrent_rollouts;   /* cluster-wide; 0: no cap */
    uint64_t rollout_timeout_ms;        /* a rollout holds its slot this long at most */
    const char *rollout_window;         /* the default maintenance window; "": always open */
    bool health_gate;                   /* gate every workload (else those that opt in) */
    unsigned health_gate_batch;         /* the first batch of a source version (>= 1) */
    uint64_t health_gate_timeout_ms;    /* a batch member must be available within this */

    /* Which workloads: none at all in webhook mode (a change is POSTed). */
    bool webhook_mode;
    bool argo_rollouts;             /* --is-Argo-Rollouts is exactly "true" */
    bool ignore_jobs;               /* --ignored-workload-types, when the list is valid */
    bool ignore_cronjobs;

    /* Which sources. */
    bool ignore_configmaps;         /* --resources-to-ignore */
    bool ignore_secrets;
    /*
     * --enable-csi-integration: SecretProviderClasses (CSI) are sources,
     * followed through their SecretProviderClassPodStatus objects (csi.h).
     */
    bool csi;
    const char *resource_selector;  /* label selector of sources; NULL: all */
    const char *secret_field_selector;  /* NULL with --include-helm-secrets */

    /* Where. */
    enum rl_watch_mode watch_mode;
    const char *const *namespaces;  /* {""} in global mode */
    size_t n_namespaces;
    const char *namespace_selector; /* global mode only; NULL: none */
    /* The workload state's namespace (reload/state.h): POD_NAMESPACE; NULL: off. */
    const char *state_namespace;
};

/*
 * Resolves the policy of parsed options o (rl_options_parse() returned 0).
 * Never fails (allocation failure aborts, as rl_xmalloc does).
 */
struct rl_policy *rl_policy_new(const struct rl_options *o);
void rl_policy_free(struct rl_policy *p);

/* --namespaces-to-ignore, which acts in global mode only (docs/reloader.md §1.1). */
bool rl_policy_namespace_ignored(const struct rl_policy *p, const char *ns);

/* Whether a source in namespace ns is watched, the namespace selector aside. */
bool rl_policy_namespace_watched(const struct rl_policy *p, const char *ns);

#endif /* RL_POLICY_H */
