/* kind.c - the table of kind.h */
#include "reloadd/reload/kind.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/policy.h"
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

const struct rl_kind_info *rl_kind_info(enum rl_kind k)
{
    return (unsigned)k < RL_KIND_COUNT ? &kinds[k] : &unknown;
}

bool rl_kind_parse(const char *s, enum rl_kind *out)
{
    for (int k = 0; s && k < RL_KIND_COUNT; k++) {
        const struct rl_kind_info *i = &kinds[k];

        if (strcasecmp(s, i->name) == 0 || strcasecmp(s, i->plural) == 0 ||
            (i->short_name && strcasecmp(s, i->short_name) == 0)) {
            *out = (enum rl_kind)k;
            return true;
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
    }
    return false;
}

bool rl_kind_served(struct rl_kube *kube, enum rl_kind k)
{
    const struct rl_kind_info *i = rl_kind_info(k);
    struct rl_kube_response resp;
    const cJSON *res;
    cJSON *doc = NULL;
    bool found = false;
    int err;

    if (i->gate != RL_GATE_ARGO)
        return true;
    rl_kube_response_init(&resp);
    err = rl_kube_get(kube, i->api_prefix, &resp);
    if (!err)
        doc = rl_kube_response_json(&resp);
    res = rl_json_arr(doc, "resources");
    for (const cJSON *r = res ? res->child : NULL; r && !found; r = r->next)
        found = strcmp(rl_json_str_or(r, "name", ""), i->plural) == 0;
    if (!found)
        rl_log_kv(RL_LOG_WARN, "--is-Argo-Rollouts is set but the API server does not serve "
                  "argoproj.io/v1alpha1 rollouts (is the CRD installed?); Rollouts are not watched",
                  "error", err ? rl_strerror(err) : NULL, NULL);
    cJSON_Delete(doc);
    rl_kube_response_release(&resp);
    return found;
}
