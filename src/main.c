/* main.c - parses the command line and wires the modules together */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "reloadd/buf.h"
#include "reloadd/clock.h"
#include "reloadd/controller.h"
#include "reloadd/err.h"
#include "reloadd/httpd.h"
#include "reloadd/json.h"
#include "reloadd/kube.h"
#include "reloadd/kubeconfig.h"
#include "reloadd/leader.h"
#include "reloadd/log.h"
#include "reloadd/mem.h"
#include "reloadd/metrics.h"
#include "reloadd/options.h"
#include "reloadd/reconcile.h"
#include "reloadd/version.h"
#include "reloadd/workload.h"

#define DRAIN_MS 5000

struct app {
    struct rl_options opts;
    struct rl_kube *kube;
    struct rl_metrics *metrics;
    struct rl_controller *ctl;
    struct rl_elector *elector;
    struct rl_httpd *httpd;
};

/* --- glue: metrics, probes, explain, leadership ---------------------------- */

static void observe_api(void *ctx, const char *verb, const char *resource, long status,
                        double seconds)
{
    rl_metrics_api_request(ctx, verb, resource, (int)status, seconds);
}

static void on_result(void *ctx, const struct rl_reconcile_result *res)
{
    struct app *a = ctx;
    bool ok = res->err == 0;

    if (res->action != RL_ACTION_ROLLOUT || res->err == RL_ENOTLEADER)
        return;
    rl_metrics_reload_executed(a->metrics, ok, res->ns);
    rl_metrics_action(a->metrics, rl_kind_name(res->kind), ok, res->seconds);
}

static void on_skip(void *ctx, const char *reason)
{
    struct app *a = ctx;

    (void)reason;
    rl_metrics_skipped(a->metrics, RL_METRICS_SKIP_IGNORED_OR_NOT_SELECTED);
}

static void on_watch(void *ctx, const char *resource, bool relist)
{
    struct app *a = ctx;

    if (relist)
        rl_metrics_relist(a->metrics, resource);
    else
        rl_metrics_watch_restart(a->metrics, resource);
}

static bool may_write(void *ctx)
{
    struct app *a = ctx;

    return !a->elector || rl_elector_may_write(a->elector);
}

static bool probe_live(void *ctx, struct rl_buf *why)
{
    struct app *a = ctx;

    return rl_controller_live(a->ctl, why);
}

static bool probe_ready(void *ctx, struct rl_buf *why)
{
    struct app *a = ctx;

    if (rl_controller_synced(a->ctl))
        return true;
    rl_buf_adds(why, "caches not synced yet");
    return false;
}

static int explain(void *ctx, const char *kind, const char *ns, const char *name,
                   struct rl_buf *json)
{
    struct app *a = ctx;
    enum rl_kind k;
    cJSON *out;
    char *s;

    if (!rl_kind_parse(kind, &k)) {
        rl_buf_addf(json, "{\"error\":\"unknown kind\"}");
        return RL_EINVAL;
    }
    out = rl_controller_explain(a->ctl, kind, ns, name);
    if (!out) {
        rl_buf_addf(json, "{\"error\":\"workload not found in the cache\"}");
        return RL_ENOTFOUND;
    }
    s = cJSON_Print(out);
    rl_buf_adds(json, s);
    free(s);
    cJSON_Delete(out);
    return 0;
}

static void on_collect(struct rl_metrics *m, void *ctx)
{
    struct app *a = ctx;
    struct rl_controller_stats st;
    static const char *const kinds[8] = {
        "configmaps", "secrets", "deployments", "daemonsets", "statefulsets",
        "cronjobs", "jobs", "rollouts",
    };
    uint64_t done;

    rl_controller_stats(a->ctl, &st);
    for (int i = 0; i < 8; i++)
        rl_metrics_cached_objects(m, kinds[i], st.objects[i]);
    rl_metrics_queue_depth(m, 0, st.queue_depth);
    done = rl_controller_startup_done_ms(a->ctl);
    if (done)
        rl_metrics_startup_sync(m, (double)done / 1000.0);
    rl_metrics_leader(m, a->elector ? rl_elector_is_leader(a->elector) : true);
}

static void started_leading(void *ctx)
{
    struct app *a = ctx;

    rl_log_kv(RL_LOG_INFO, "became leader", "identity", a->opts.pod_name, NULL);
    rl_controller_set_leader(a->ctl, true);
}

static void stopped_leading(void *ctx)
{
    struct app *a = ctx;

    rl_log_kv(RL_LOG_WARN, "stopped leading; no more writes", "identity", a->opts.pod_name, NULL);
    rl_controller_set_leader(a->ctl, false);
}

static void lease_seen(void *ctx, const cJSON *lease)
{
    struct app *a = ctx;

    rl_elector_observe(a->elector, lease);
}

/* --- main ----------------------------------------------------------------- */

static int run(struct app *a)
{
    struct rl_controller_hooks ch = {
        .may_write = may_write,
        .on_result = on_result,
        .on_skip = on_skip,
        .on_watch = on_watch,
        .ctx = a,
    };
    struct rl_kube_opts ko = {
        .qps = a->opts.kube_api_qps,
        .burst = a->opts.kube_api_burst,
    };
    struct rl_httpd_opts ho = {
        .live = probe_live,
        .live_ctx = a,
        .ready = probe_ready,
        .ready_ctx = a,
        .explain = explain,
        .explain_ctx = a,
    };
    struct rl_kubeconfig *cfg = NULL;
    char err[512] = "";
    sigset_t sigs;
    int rc, sig = 0;

    rc = rl_kubeconfig_load(&cfg, a->opts.kubeconfig, a->opts.context, err, sizeof(err));
    if (rc) {
        fprintf(stderr, "reloadd: %s\n", err[0] ? err : rl_strerror(rc));
        return 1;
    }
    a->kube = rl_kube_new(cfg, &ko, rl_clock_system());
    if (!a->kube) {
        fprintf(stderr, "reloadd: cannot initialise the HTTP client\n");
        return 1;
    }
    {
        struct rl_metrics_opts mo;

        rl_metrics_opts_from_env(&mo);
        mo.api_host = rl_kube_server(a->kube);
        a->metrics = rl_metrics_new(&mo);
    }
    rl_metrics_on_collect(a->metrics, on_collect, a);
    rl_kube_set_observer(a->kube, observe_api, a->metrics);
    a->ctl = rl_controller_new(&a->opts, a->kube, rl_clock_system(), &ch);

    if (a->opts.enable_ha) {
        struct rl_elector_opts eo = {
            .namespace_ = a->opts.pod_namespace,
            .name = a->opts.lease_name,
            .identity = a->opts.pod_name,
            .lease_duration_ms = a->opts.lease_duration_ms,
            .renew_deadline_ms = a->opts.renew_deadline_ms,
            .retry_period_ms = a->opts.retry_period_ms,
            .on_started_leading = started_leading,
            .on_stopped_leading = stopped_leading,
            .ctx = a,
        };

        rc = rl_elector_new(&a->elector, a->kube, rl_clock_system(), &eo, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "reloadd: %s\n", err);
            return 1;
        }
        rl_controller_watch_lease(a->ctl, a->opts.pod_namespace, a->opts.lease_name,
                                  lease_seen, a);
    }

    ho.metrics = a->metrics;
    rc = rl_httpd_start(&a->httpd, a->opts.metrics_addr, &ho);
    if (rc) {
        fprintf(stderr, "reloadd: cannot serve HTTP on '%s': %s\n", a->opts.metrics_addr,
                rl_strerror(rc));
        return 1;
    }

    /* Signals go to this thread only: every thread started below inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    rl_log_kv(RL_LOG_INFO, "starting reloadd", "version", RL_VERSION,
              "server", rl_kube_server(a->kube), "strategy", a->opts.reload_strategy,
              "ha", a->opts.enable_ha ? "true" : "false", NULL);
    rc = rl_controller_start(a->ctl);
    if (rc) {
        fprintf(stderr, "reloadd: cannot start workers: %s\n", rl_strerror(rc));
        return 1;
    }
    if (a->elector)
        rl_elector_start(a->elector);

    sigwait(&sigs, &sig);
    rl_log_kv(RL_LOG_INFO, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    if (a->elector) {
        /* Stop writing first, then hand the Lease over at once. */
        rl_controller_set_leader(a->ctl, false);
        rc = rl_elector_release(a->elector);
        if (rc)
            rl_log_kv(RL_LOG_WARN, "could not release the lease; it will expire",
                      "error", rl_strerror(rc), NULL);
        rl_elector_stop(a->elector);
    }
    rl_controller_stop(a->ctl, DRAIN_MS);
    rl_httpd_stop(a->httpd);
    a->httpd = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    struct app a;
    char err[512] = "";
    enum rl_log_level level;
    enum rl_log_format format;
    int rc;

    memset(&a, 0, sizeof(a));
    rl_json_init_hooks();
    rc = rl_options_parse(&a.opts, argc, argv, NULL, err, sizeof(err));
    if (rc == RL_OPTIONS_HELP) {
        rl_options_usage(stdout);
        rl_options_release(&a.opts);
        return 0;
    }
    if (rc == RL_OPTIONS_VERSION) {
        printf("reloadd %s\n", RL_VERSION);
        rl_options_release(&a.opts);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "reloadd: %s\n", err);
        rl_options_release(&a.opts);
        return 2;
    }
    if (rl_options_log_config(&a.opts, &level, &format, err, sizeof(err)) != 0)
        fprintf(stderr, "reloadd: warning: %s\n", err);
    rl_log_setup(level, format);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "reloadd: cannot initialise libcurl\n");
        return 1;
    }

    rc = run(&a);

    rl_elector_free(a.elector);
    rl_controller_free(a.ctl);
    rl_httpd_stop(a.httpd);
    rl_kube_free(a.kube);
    rl_metrics_free(a.metrics);
    rl_options_release(&a.opts);
    curl_global_cleanup();
    return rc;
}
