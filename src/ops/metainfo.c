/* metainfo.c - the reloader-meta-info ConfigMap */
#include "reloadd/ops/metainfo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/options.h"
#include "reloadd/kube/kube.h"
#include "reloadd/reload/workload.h"
#include "reloadd/version.h"
#include "reloadd/base/banned.h"

/* Go's time.Duration.String() for whole milliseconds: "15s", "1m30s", "500ms". */
static void go_duration(char *out, size_t len, uint64_t ms)
{
    uint64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, rest = ms % 1000;
    size_t n = 0;

    if (ms == 0) {
        snprintf(out, len, "0s");
        return;
    }
    if (ms < 1000) {
        snprintf(out, len, "%llums", (unsigned long long)ms);
        return;
    }
    out[0] = '\0';
    if (h)
        n += (size_t)snprintf(out + n, len - n, "%lluh", (unsigned long long)h);
    if (h || m)
        n += (size_t)snprintf(out + n, len - n, "%llum", (unsigned long long)m);
    if (rest)
        snprintf(out + n, len - n, "%llu.%03llus", (unsigned long long)s,
                 (unsigned long long)rest);
    else
        snprintf(out + n, len - n, "%llus", (unsigned long long)s);
}

static void add_list(cJSON *obj, const char *key, const struct rl_strlist *l)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);

    for (size_t i = 0; i < l->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
}

static void add_str(cJSON *obj, const char *key, const char *v)
{
    cJSON_AddStringToObject(obj, key, v ? v : "");
}

static cJSON *reloader_options(const struct rl_options *o)
{
    cJSON *r = cJSON_CreateObject();
    char d[32];

    cJSON_AddBoolToObject(r, "autoReloadAll", o->auto_reload_all);
    add_str(r, "configmapUpdateOnChangeAnnotation", o->configmap_annotation);
    add_str(r, "secretUpdateOnChangeAnnotation", o->secret_annotation);
    add_str(r, "secretProviderClassUpdateOnChangeAnnotation", RL_ANN_SPC_RELOAD);
    add_str(r, "reloaderAutoAnnotation", o->auto_annotation);
    add_str(r, "ignoreResourceAnnotation", o->ignore_annotation);
    add_str(r, "configmapReloaderAutoAnnotation", o->configmap_auto_annotation);
    add_str(r, "secretReloaderAutoAnnotation", o->secret_auto_annotation);
    add_str(r, "secretProviderClassReloaderAutoAnnotation", RL_ANN_SPC_AUTO);
    add_str(r, "configmapExcludeReloaderAnnotation", RL_ANN_CM_EXCLUDE);
    add_str(r, "secretExcludeReloaderAnnotation", RL_ANN_SECRET_EXCLUDE);
    add_str(r, "secretProviderClassExcludeReloaderAnnotation", RL_ANN_SPC_EXCLUDE);
    add_str(r, "autoSearchAnnotation", o->auto_search_annotation);
    add_str(r, "searchMatchAnnotation", o->search_match_annotation);
    add_str(r, "rolloutStrategyAnnotation", RL_ANN_ROLLOUT_STRATEGY);
    add_str(r, "lastReloadedFromAnnotation", RL_ANN_LAST_RELOADED_FROM);
    add_str(r, "pauseDeploymentAnnotation", o->pause_deployment_annotation);
    add_str(r, "pauseDeploymentTimeAnnotation", o->pause_deployment_time_annotation);
    add_str(r, "logFormat", o->log_format);
    add_str(r, "logLevel", o->log_level);
    cJSON_AddBoolToObject(r, "isArgoRollouts", o->argo_rollouts);
    add_str(r, "reloadStrategy", o->reload_strategy);
    cJSON_AddBoolToObject(r, "reloadOnCreate", o->reload_on_create_enabled);
    cJSON_AddBoolToObject(r, "reloadOnDelete", o->reload_on_delete_enabled);
    cJSON_AddBoolToObject(r, "syncAfterRestart", o->sync_after_restart);
    cJSON_AddBoolToObject(r, "enableHA", o->enable_ha);
    go_duration(d, sizeof(d), o->lease_duration_ms);
    add_str(r, "leaderElectionLeaseDuration", d);
    go_duration(d, sizeof(d), o->renew_deadline_ms);
    add_str(r, "leaderElectionRenewDeadline", d);
    go_duration(d, sizeof(d), o->retry_period_ms);
    add_str(r, "leaderElectionRetryPeriod", d);
    cJSON_AddBoolToObject(r, "enableCSIIntegration", o->enable_csi_integration);
    add_str(r, "webhookUrl", o->webhook_url);
    add_list(r, "resourcesToIgnore", &o->resources_to_ignore);
    add_list(r, "workloadTypesToIgnore", &o->ignored_workload_types);
    add_list(r, "namespaceSelectors", &o->namespace_selector);
    add_list(r, "resourceSelectors", &o->resource_label_selector);
    add_list(r, "namespacesToIgnore", &o->namespaces_to_ignore);
    cJSON_AddBoolToObject(r, "enablePProf", o->enable_pprof);
    add_str(r, "pprofAddr", o->pprof_addr);
    return r;
}

static cJSON *reloadd_options(const struct rl_options *o)
{
    cJSON *r = cJSON_CreateObject();
    char d[32];

    cJSON_AddNumberToObject(r, "workers", o->workers);
    cJSON_AddNumberToObject(r, "kubeApiQps", o->kube_api_qps);
    cJSON_AddNumberToObject(r, "kubeApiBurst", o->kube_api_burst);
    go_duration(d, sizeof(d), o->coalesce_window_ms);
    add_str(r, "coalesceWindow", d);
    add_str(r, "metricsAddr", o->metrics_addr);
    add_str(r, "leaseName", o->lease_name);
    cJSON_AddBoolToObject(r, "dryRun", o->dry_run);
    cJSON_AddBoolToObject(r, "includeHelmSecrets", o->include_helm_secrets);
    add_str(r, "annotationPrefix", o->annotation_prefix);
    add_list(r, "namespaces", &o->namespaces);
    cJSON_AddBoolToObject(r, "alertOnReload", o->alert_on_reload);
    add_str(r, "alertSink", o->alert_sink);
    return r;
}

static void add_json_string(cJSON *data, const char *key, cJSON *value)
{
    char *s = rl_json_print(value);

    cJSON_AddStringToObject(data, key, s);
    free(s);
    cJSON_Delete(value);
}

cJSON *rl_metainfo_configmap(const struct rl_options *o, const char *ns)
{
    cJSON *cm = cJSON_CreateObject(), *meta, *labels, *data, *bi, *di;

    cJSON_AddStringToObject(cm, "apiVersion", "v1");
    cJSON_AddStringToObject(cm, "kind", "ConfigMap");
    meta = cJSON_AddObjectToObject(cm, "metadata");
    cJSON_AddStringToObject(meta, "name", RL_METAINFO_NAME);
    cJSON_AddStringToObject(meta, "namespace", ns);
    labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, RL_METAINFO_LABEL_KEY, RL_METAINFO_LABEL_VALUE);
    data = cJSON_AddObjectToObject(cm, "data");

    bi = cJSON_CreateObject();
#ifdef __VERSION__
    cJSON_AddStringToObject(bi, "goVersion", "C (cc " __VERSION__ ")");
#else
    cJSON_AddStringToObject(bi, "goVersion", "C");
#endif
    cJSON_AddStringToObject(bi, "releaseVersion", RL_VERSION);
    cJSON_AddStringToObject(bi, "commitHash", RL_VERSION);
    /* Go's zero time.Time, as Reloader writes when BuildDate is unset. */
    cJSON_AddStringToObject(bi, "commitTime", "0001-01-01T00:00:00Z");
    cJSON_AddStringToObject(bi, "edition", "reloadd");
    add_json_string(data, "buildInfo", bi);
    add_json_string(data, "reloaderOptions", reloader_options(o));
    add_json_string(data, "reloaddOptions", reloadd_options(o));
    di = cJSON_CreateObject();
    cJSON_AddStringToObject(di, "name", o->reloader_deployment_name ? o->reloader_deployment_name
                                                                    : "");
    cJSON_AddStringToObject(di, "namespace", ns);
    add_json_string(data, "deploymentInfo", di);
    return cm;
}

int rl_metainfo_publish(struct rl_kube *kube, const struct rl_options *o)
{
    const char *ns = o->reloader_namespace;
    struct rl_kube_response resp;
    cJSON *cm = NULL;
    char *body = NULL, *coll = NULL, *path = NULL;
    int err;

    if (!ns || !*ns)
        return RL_EINVAL;
    cm = rl_metainfo_configmap(o, ns);
    body = rl_json_print(cm);
    coll = rl_xasprintf("/api/v1/namespaces/%s/configmaps", ns);
    rl_kube_response_init(&resp);
    err = rl_kube_create(kube, coll, body, &resp);
    if (err == RL_ECONFLICT) {
        path = rl_xasprintf("%s/%s", coll, RL_METAINFO_NAME);
        rl_kube_response_release(&resp);
        rl_kube_response_init(&resp);
        err = rl_kube_update(kube, path, body, &resp);
    }
    if (err)
        rl_log_kv(RL_LOG_WARN, "cannot publish the meta-info configmap", "namespace", ns,
                  "error", rl_strerror(err), "message", resp.message[0] ? resp.message : NULL,
                  NULL);
    else
        rl_log_kv(RL_LOG_INFO, "published the meta-info configmap", "namespace", ns,
                  "name", RL_METAINFO_NAME, NULL);
    rl_kube_response_release(&resp);
    free(path);
    free(coll);
    free(body);
    cJSON_Delete(cm);
    return err;
}
