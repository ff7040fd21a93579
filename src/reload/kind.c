/* kind.c - the table of kind.h */
#include "reloadd/reload/kind.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/policy.h"
#include "reloadd/kube/discovery.h"
#include "reloadd/kube/kube.h"
#include "reloadd/base/banned.h"

static const struct rl_kind_info kinds[RL_KIND_COUNT] = {
    [RL_KIND_DEPLOYMENT] = {
        .name = "Deployment", .key = "deployment", .plural = "deployments",
        .short_name = "deploy", .api_version = "apps/v1", .api_prefix = "/apis/apps/v1",
        .template_path = "spec.template", .writer = RL_WRITER_PATCH_TEMPLATE,
        .gate = RL_GATE_ALWAYS, .pausable = true,
    },
    [RL_KIND_DAEMONSET] = {
        .name = "DaemonSet", .key = "daemonset", .plural = "daemonsets",
        .short_name = "ds", .api_version = "apps/v1", .api_prefix = "/apis/apps/v1",
        .template_path = "spec.template", .writer = RL_WRITER_PATCH_TEMPLATE,
        .gate = RL_GATE_ALWAYS,
    },
    [RL_KIND_STATEFULSET] = {
        .name = "StatefulSet", .key = "statefulset", .plural = "statefulsets",
        .short_name = "sts", .api_version = "apps/v1", .api_prefix = "/apis/apps/v1",
        .template_path = "spec.template", .writer = RL_WRITER_PATCH_TEMPLATE,
        .gate = RL_GATE_ALWAYS,
    },
    [RL_KIND_CRONJOB] = {
        .name = "CronJob", .key = "cronjob", .plural = "cronjobs",
        .short_name = "cj", .api_version = "batch/v1", .api_prefix = "/apis/batch/v1",
        .template_path = "spec.jobTemplate.spec.template", .writer = RL_WRITER_CRONJOB,
        .gate = RL_GATE_UNLESS_IGNORED_CRONJOBS,
    },
    [RL_KIND_JOB] = {
        .name = "Job", .key = "job", .plural = "jobs",
        .short_name = NULL, .api_version = "batch/v1", .api_prefix = "/apis/batch/v1",
        .template_path = "spec.template", .writer = RL_WRITER_RECREATE_JOB,
        .gate = RL_GATE_UNLESS_IGNORED_JOBS,
    },
    [RL_KIND_ROLLOUT] = {
        .name = "Rollout", .key = "rollout", .plural = "rollouts",
        .short_name = "ro", .api_version = "argoproj.io/v1alpha1",
        .api_prefix = "/apis/argoproj.io/v1alpha1",
        .template_path = "spec.template", .writer = RL_WRITER_ARGO_ROLLOUT,
        .gate = RL_GATE_ARGO,
    },
};

static const struct rl_kind_info unknown = {
    .name = "Unknown", .key = "unknown", .plural = "unknown", .api_version = "v1",
    .api_prefix = "/", .template_path = "spec.template", .writer = RL_WRITER_PATCH_TEMPLATE,
    .gate = RL_GATE_ALWAYS,
};

/*
 * The declared kinds (rl_kind_declare()), after the built-ins, and the
 * strings they point to. Written before any thread starts, read-only after.
 */
#define ROW_STRS 10                     /* the strings of a row: keep()'s slots */
static struct rl_kind_info declared[RL_KIND_DECLARED_MAX];
static char *declared_strs[RL_KIND_DECLARED_MAX][ROW_STRS];
static size_t n_declared;

const struct rl_kind_info *rl_kind_info(enum rl_kind k)
{
    if ((unsigned)k < RL_KIND_COUNT)
        return &kinds[k];
    if ((unsigned)k - RL_KIND_COUNT < n_declared)
        return &declared[(unsigned)k - RL_KIND_COUNT];
    return &unknown;
}

int rl_kind_count(void)
{
    return RL_KIND_COUNT + (int)n_declared;
}

bool rl_kind_valid(enum rl_kind k)
{
    return (unsigned)k < (unsigned)rl_kind_count();
}

bool rl_kind_is_declared(enum rl_kind k)
{
    return rl_kind_valid(k) && (unsigned)k >= RL_KIND_COUNT;
}

static void forget_declared(void)
{
    for (size_t i = 0; i < n_declared; i++)
        for (size_t j = 0; j < ROW_STRS; j++) {
            free(declared_strs[i][j]);
            declared_strs[i][j] = NULL;
        }
    memset(declared, 0, sizeof(declared));
    n_declared = 0;
}

/* A copy of s kept with row i (NULL stays NULL). */
static const char *keep(size_t i, size_t slot, const char *s)
{
    declared_strs[i][slot] = s ? rl_xstrdup(s) : NULL;
    return declared_strs[i][slot];
}

int rl_kind_declare(const struct rl_kind_info *rows, size_t n)
{
    if (n > RL_KIND_DECLARED_MAX)
        return RL_ETOOBIG;
    forget_declared();
    for (size_t i = 0; i < n; i++) {
        struct rl_kind_info *d = &declared[i];
        size_t s = 0;

        *d = rows[i];
        d->name = keep(i, s++, rows[i].name);
        d->key = keep(i, s++, rows[i].key);
        d->plural = keep(i, s++, rows[i].plural);
        d->api_version = keep(i, s++, rows[i].api_version);
        d->api_prefix = keep(i, s++, rows[i].api_prefix);
        d->template_path = keep(i, s++, rows[i].template_path);
        d->group = keep(i, s++, rows[i].group);
        d->field_path = keep(i, s++, rows[i].field_path);
        d->metric_name = keep(i, s++, rows[i].metric_name);
        d->metric_plural = keep(i, s++, rows[i].metric_plural);
        d->short_name = NULL;
        d->gate = RL_GATE_DECLARED;
        d->pausable = false;
    }
    n_declared = n;
    return 0;
}

const char *rl_kind_declared_names(char *out, size_t len)
{
    size_t at = 0;

    if (len)
        out[0] = '\0';
    for (size_t i = 0; i < n_declared && at < len; i++) {
        int n = snprintf(out + at, len - at, "%s%s.%s", i ? ", " : "", declared[i].name,
                         declared[i].group);

        if (n < 0)
            break;
        at += (size_t)n;
    }
    return out;
}

const char *rl_kind_metric_name(enum rl_kind k)
{
    const struct rl_kind_info *i = rl_kind_info(k);

    return i->metric_name ? i->metric_name : i->name;
}

const char *rl_kind_metric_plural(enum rl_kind k)
{
    const struct rl_kind_info *i = rl_kind_info(k);

    return i->metric_plural ? i->metric_plural : i->plural;
}

/* s is "<name>.<group>" for one of the names of a declared kind. */
static bool qualified_is(const char *s, const char *name, const char *group)
{
    size_t n = strlen(name);

    return strncasecmp(s, name, n) == 0 && s[n] == '.' && strcasecmp(s + n + 1, group) == 0;
}

bool rl_kind_parse(const char *s, enum rl_kind *out)
{
    int n = rl_kind_count();

    /* Bare names first (built-ins before declared kinds), then the qualified ones. */
    for (int pass = 0; s && pass < 2; pass++) {
        for (int k = 0; k < n; k++) {
            const struct rl_kind_info *i = rl_kind_info((enum rl_kind)k);
            bool hit;

            if (pass == 0)
                hit = strcasecmp(s, i->name) == 0 || strcasecmp(s, i->plural) == 0 ||
                      (i->short_name && strcasecmp(s, i->short_name) == 0);
            else
                hit = i->group && (qualified_is(s, i->name, i->group) ||
                                   qualified_is(s, i->plural, i->group));   /* the key */
            if (hit) {
                *out = (enum rl_kind)k;
                return true;
            }
        }
    }
    return false;
}

char *rl_kind_object_path(enum rl_kind k, const char *ns, const char *name)
{
    const struct rl_kind_info *i = rl_kind_info(k);

    return rl_xasprintf("%s/namespaces/%s/%s/%s", i->api_prefix, ns, i->plural, name);
}

bool rl_kind_enabled(const struct rl_policy *pol, enum rl_kind k)
{
    if (pol->webhook_mode)
        return false;
    switch (rl_kind_info(k)->gate) {
    case RL_GATE_ALWAYS:
        return (unsigned)k < RL_KIND_COUNT;
    case RL_GATE_UNLESS_IGNORED_CRONJOBS:
        return !pol->ignore_cronjobs;
    case RL_GATE_UNLESS_IGNORED_JOBS:
        return !pol->ignore_jobs;
    case RL_GATE_ARGO:
        return pol->argo_rollouts;
    case RL_GATE_DECLARED:
        return rl_kind_valid(k);
    }
    return false;
}

/* Discovery: whether the API server serves i's plural in its group/version. */
static bool discovered(struct rl_kube *kube, const struct rl_kind_info *i, int *err)
{
    return rl_kube_serves(kube, i->api_prefix, i->plural, err);
}

bool rl_kind_served(struct rl_kube *kube, enum rl_kind k)
{
    const struct rl_kind_info *i = rl_kind_info(k);
    bool found;
    int err;

    if (i->gate != RL_GATE_ARGO && i->gate != RL_GATE_DECLARED)
        return true;
    found = discovered(kube, i, &err);
    if (!found && i->gate == RL_GATE_ARGO)
        rl_log_kv(RL_LOG_WARN, "--is-Argo-Rollouts is set but the API server does not serve "
                  "argoproj.io/v1alpha1 rollouts (is the CRD installed?); Rollouts are not watched",
                  "error", err ? rl_strerror(err) : NULL, NULL);
    return found;
}

/* SelfSubjectAccessReview (kube.h): 1 allowed, 0 denied, negative: could not ask. */
static int may(struct rl_kube *kube, const struct rl_kind_info *i, const char *verb,
               const char *ns)
{
    return rl_kube_may(kube, i->group, i->plural, verb, ns);
}

bool rl_kind_watchable(struct rl_kube *kube, const struct rl_policy *pol, enum rl_kind k)
{
    static const char *const verbs[] = { "list", "watch", "get", "update", "patch" };
    const struct rl_kind_info *i = rl_kind_info(k);
    bool watch_ok = true, write_ok = true;
    struct rl_buf denied;
    char what[400];
    int err;

    if (i->gate != RL_GATE_DECLARED)
        return rl_kind_served(kube, k);
    snprintf(what, sizeof(what), "%s (%s %s, line %u)", i->name, i->api_version, i->plural,
             i->line);
    if (!discovered(kube, i, &err)) {
        rl_log_kv(RL_LOG_WARN, "declared workload kind is not served by the API server (is its "
                  "CRD installed?); not watched", "kind", what,
                  "error", err ? rl_strerror(err) : NULL, NULL);
        return false;
    }
    rl_buf_init(&denied, 0);
    for (size_t v = 0; v < sizeof(verbs) / sizeof(verbs[0]); v++) {
        for (size_t n = 0; n < pol->n_namespaces; n++) {
            const char *ns = pol->namespaces[n];
            int ok = may(kube, i, verbs[v], ns);

            if (ok == 1)
                continue;
            rl_buf_addf(&denied, "%s%s%s%s%s", denied.len ? ", " : "", verbs[v],
                        *ns ? " in " : " cluster-wide", ns, ok < 0 ? " (not asked: " : "");
            if (ok < 0)
                rl_buf_addf(&denied, "%s)", rl_strerror(ok));
            if (v < 2)
                watch_ok = false;
            else
                write_ok = false;
        }
    }
    if (!watch_ok)
        rl_log_kv(RL_LOG_WARN, "declared workload kind may not be listed or watched (grant it "
                  "in a ClusterRole, see README \"Workload kinds by configuration\"); not watched",
                  "kind", what, "denied", denied.buf, NULL);
    else if (!write_ok)
        rl_log_kv(RL_LOG_WARN, "declared workload kind is watched but its rollouts will fail "
                  "until RBAC grants the verbs denied", "kind", what, "denied", denied.buf, NULL);
    else
        rl_log_kv(RL_LOG_INFO, "declared workload kind is served and allowed; watched",
                  "kind", what, "verbs", "list, watch, get, update, patch", NULL);
    rl_buf_release(&denied);
    return watch_ok;
}
