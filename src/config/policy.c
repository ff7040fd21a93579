/* policy.c - what reloadd does, resolved once from the options */
#include "reloadd/config/policy.h"

#include <stdlib.h>
#include <string.h>

#include "reloadd/base/mem.h"
#include "reloadd/config/options.h"
#include "reloadd/base/banned.h"

#define HELM_RELEASES_EXCLUDED "type!=helm.sh/release.v1"

/* The public policy and what its pointers point into. */
struct policy {
    struct rl_policy pub;
    char **owned;                       /* every string of pub and below */
    size_t n_owned, cap_owned;
    char **namespaces;                  /* pub.namespaces */
    char **ignored;                     /* --namespaces-to-ignore */
    size_t n_ignored;
};

static const char *own(struct policy *p, const char *s)
{
    char *copy;

    if (!s)
        return NULL;
    if (p->n_owned == p->cap_owned) {
        p->cap_owned = p->cap_owned ? 2 * p->cap_owned : 32;
        p->owned = rl_xreallocarray(p->owned, p->cap_owned, sizeof(*p->owned));
    }
    copy = rl_xstrdup(s);
    p->owned[p->n_owned++] = copy;
    return copy;
}

static char **own_list(struct policy *p, const struct rl_strlist *l)
{
    char **v = rl_xcalloc(l->n ? l->n : 1, sizeof(*v));

    for (size_t i = 0; i < l->n; i++)
        v[i] = (char *)own(p, l->v[i]);
    return v;
}

struct rl_policy *rl_policy_new(const struct rl_options *o)
{
    struct policy *p = rl_xcalloc(1, sizeof(*p));
    struct rl_policy *pub = &p->pub;
    struct rl_policy_keys *k = &pub->key;
    char *budget_key, *window_key, *gate_key;

    k->configmap_reload = own(p, o->configmap_annotation);
    k->secret_reload = own(p, o->secret_annotation);
    k->auto_all = own(p, o->auto_annotation);
    k->configmap_auto = own(p, o->configmap_auto_annotation);
    k->secret_auto = own(p, o->secret_auto_annotation);
    k->search = own(p, o->auto_search_annotation);
    k->match = own(p, o->search_match_annotation);
    k->ignore = own(p, o->ignore_annotation);
    k->pause_period = own(p, o->pause_deployment_annotation);
    k->paused_at = own(p, o->pause_deployment_time_annotation);
    k->prefix = own(p, o->annotation_prefix);
    k->applied = own(p, o->applied_annotation);
    budget_key = rl_xasprintf("%s/restart-budget", o->annotation_prefix);
    k->restart_budget = own(p, budget_key);
    free(budget_key);
    window_key = rl_xasprintf("%s/rollout-window", o->annotation_prefix);
    k->rollout_window = own(p, window_key);
    free(window_key);
    gate_key = rl_xasprintf("%s/health-gate", o->annotation_prefix);
    k->health_gate = own(p, gate_key);
    free(gate_key);

    pub->strategy = o->strategy;
    pub->auto_reload_all = o->auto_reload_all;
    pub->reload_on_create = o->reload_on_create_enabled;
    pub->reload_on_delete = o->reload_on_delete_enabled;
    pub->sync_after_restart = o->sync_after_restart;
    pub->dry_run = o->dry_run;
    pub->cronjob_template = o->cronjob_template;
    pub->restart_budget = o->restart_budget > 0 ? (unsigned)o->restart_budget : 0;
    pub->restart_budget_period_s = (int64_t)(o->restart_budget_period_ms / 1000);
    pub->max_concurrent_rollouts = o->max_concurrent_rollouts > 0
                                   ? (unsigned)o->max_concurrent_rollouts : 0;
    pub->rollout_timeout_ms = o->rollout_timeout_ms;
    pub->rollout_window = own(p, o->rollout_window ? o->rollout_window : "");
    pub->health_gate = o->health_gate;
    pub->health_gate_batch = o->health_gate_batch > 0 ? (unsigned)o->health_gate_batch : 1;
    pub->health_gate_timeout_ms = o->health_gate_timeout_ms;

    pub->webhook_mode = o->webhook_url && *o->webhook_url;
    pub->argo_rollouts = o->argo_rollouts;
    /* Set only from a valid list: one bad entry disables it whole (docs/reloader.md §15.16). */
    pub->ignore_jobs = o->ignore_jobs;
    pub->ignore_cronjobs = o->ignore_cronjobs;

    pub->ignore_configmaps = o->ignore_configmaps;
    pub->ignore_secrets = o->ignore_secrets;
    pub->csi = o->enable_csi_integration;
    pub->resource_selector = own(p, o->resource_selector_str);
    pub->secret_field_selector = o->include_helm_secrets ? NULL : HELM_RELEASES_EXCLUDED;

    pub->watch_mode = o->watch_mode;
    p->namespaces = own_list(p, &o->watch_namespaces);
    pub->namespaces = (const char *const *)p->namespaces;
    pub->n_namespaces = o->watch_namespaces.n;
    pub->namespace_selector = o->watch_mode == RL_WATCH_GLOBAL
                              ? own(p, o->namespace_selector_str) : NULL;
    pub->state_namespace = o->workload_state ? own(p, o->pod_namespace) : NULL;
    p->ignored = own_list(p, &o->namespaces_to_ignore);
    p->n_ignored = o->namespaces_to_ignore.n;
    return pub;
}

void rl_policy_free(struct rl_policy *pub)
{
    struct policy *p = (struct policy *)pub;

    if (!p)
        return;
    for (size_t i = 0; i < p->n_owned; i++)
        free(p->owned[i]);
    free(p->owned);
    free(p->namespaces);
    free(p->ignored);
    free(p);
}

bool rl_policy_namespace_ignored(const struct rl_policy *pub, const char *ns)
{
    const struct policy *p = (const struct policy *)pub;

    if (pub->watch_mode != RL_WATCH_GLOBAL)
        return false;
    for (size_t i = 0; i < p->n_ignored; i++)
        if (strcmp(p->ignored[i], ns) == 0)
            return true;
    return false;
}

bool rl_policy_namespace_watched(const struct rl_policy *pub, const char *ns)
{
    if (rl_policy_namespace_ignored(pub, ns))
        return false;
    if (pub->watch_mode == RL_WATCH_GLOBAL)
        return true;
    for (size_t i = 0; i < pub->n_namespaces; i++)
        if (strcmp(pub->namespaces[i], ns) == 0)
            return true;
    return false;
}
