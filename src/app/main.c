/* main.c - parses the command line and wires the modules together */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "reloadd/app/controller.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/redact.h"
#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"
#include "reloadd/engine/workqueue.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"
#include "reloadd/kube/leader.h"
#include "reloadd/ops/alerts.h"
#include "reloadd/ops/events.h"
#include "reloadd/ops/explain.h"
#include "reloadd/ops/httpd.h"
#include "reloadd/ops/metainfo.h"
#include "reloadd/ops/metrics.h"
#include "reloadd/ops/report.h"
#include "reloadd/reload/cap.h"
#include "reloadd/reload/kindfile.h"
#include "reloadd/reload/reconcile.h"
#include "reloadd/reload/window.h"
#include "reloadd/reload/workload.h"
#include "reloadd/version.h"
#include "reloadd/base/banned.h"

#define FLUSH_MS 5000                   /* changes in their window, served before the Lease goes */
#define DRAIN_MS 5000
#define NOTIFY_DRAIN_MS 2000
#define STOP_REQUESTS_MS 10000          /* the Lease's release and last Events, at most */
#define WEBHOOK_ATTEMPTS 6      /* Reloader: the first try and 5 re-queues */

struct app {
    struct rl_options opts;
    struct rl_policy *policy;           /* resolved once from opts */
    struct rl_kube *kube;
    struct rl_kube *elector_kube;   /* the elector's own client (HA only) */
    struct rl_metrics *metrics;
    struct rl_controller *ctl;
    struct rl_elector *elector;
    struct rl_httpd *httpd;
    struct rl_httpd *explain_httpd;     /* --explain-addr; NULL: none */
    struct rl_events *events;
    struct rl_alerts *alerts;           /* ALERT_ON_RELOAD */
    struct rl_alerts *webhook;          /* --webhook-url mode */
    struct rl_report *report;           /* metrics, Events, alerts, webhook posts */

    atomic_bool publish_pending;        /* the meta-info ConfigMap is due */
};

/* --- glue: probes, explain, leadership, the API client's metrics ------------ */

static void observe_api(void *ctx, const char *verb, const char *resource, long status,
                        double seconds)
{
    rl_metrics_api_request(ctx, verb, resource, (int)status, seconds);
}

/* With HA only the leader counts Reloader's event and reconcile families (report.h). */
static bool counts(void *ctx)
{
    struct app *a = ctx;

    return !a->elector || rl_elector_is_leader(a->elector);
}

static void workloads_in(void *ctx, const char *ns, size_t n[RL_KIND_MAX])
{
    struct app *a = ctx;

    rl_controller_workloads_in(a->ctl, ns, n);
}

static bool may_write(void *ctx)
{
    struct app *a = ctx;

    return !a->elector || rl_elector_may_write(a->elector);
}

/* A --webhook-url post is a write: the leader's, while its Lease is fresh. */
static bool webhook_may_write(void *ctx)
{
    struct app *a = ctx;

    return rl_controller_may_write(a->ctl);
}

static uint64_t fence_left_ms(void *ctx)
{
    struct app *a = ctx;

    return a->elector ? rl_elector_fence_left_ms(a->elector) : UINT64_MAX;
}

static bool probe_live(void *ctx, struct rl_buf *why)
{
    struct app *a = ctx;

    return rl_controller_live(a->ctl, why);
}

static bool probe_ready(void *ctx, struct rl_buf *why)
{
    struct app *a = ctx;

    return rl_controller_ready(a->ctl, a->opts.ready_progress_timeout_ms, why);
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
    out = rl_controller_explain(a->ctl, rl_kind_key(k), ns, name);
    if (!out) {
        rl_buf_addf(json, "{\"error\":\"workload not found in the cache\"}");
        return RL_ENOTFOUND;
    }
    rl_explain_redact(out);
    s = cJSON_Print(out);
    rl_buf_adds(json, s);
    free(s);
    cJSON_Delete(out);
    return 0;
}

/* A mono-ms progress stamp as unix seconds for reloader_watch_last_progress_timestamp_seconds. */
static void collect_progress(void *ctx, const char *resource, uint64_t last_ms)
{
    uint64_t now = rl_mono_ms();
    double unix_s = 0;

    if (last_ms && last_ms <= now)
        unix_s = (double)rl_clock_wall_us(rl_clock_system()) / 1e6 - (double)(now - last_ms) / 1e3;
    rl_metrics_watch_progress(ctx, resource, unix_s);
}

static void on_collect(struct rl_metrics *m, void *ctx)
{
    struct app *a = ctx;
    struct rl_controller_stats st;
    uint64_t done;

    rl_controller_stats(a->ctl, &st);
    rl_controller_watch_progress(a->ctl, collect_progress, m);
    rl_metrics_cached_objects(m, "configmaps", st.sources[RL_SOURCE_CONFIGMAP]);
    rl_metrics_cached_objects(m, "secrets", st.sources[RL_SOURCE_SECRET]);
    if (st.csi) {
        /* Per (namespace, class) one source; per status object a hash (csi.h). */
        rl_metrics_cached_objects(m, "secretproviderclasses", st.sources[RL_SOURCE_SPC]);
        rl_metrics_cached_objects(m, "secretproviderclasspodstatuses", st.csi_statuses);
    }
    for (int k = 0; k < rl_kind_count(); k++)
        rl_metrics_cached_objects(m, rl_kind_metric_plural(k), st.workloads[k]);
    {
        struct rl_workqueue *wq = rl_controller_queue(a->ctl);
        unsigned n = rl_workqueue_shards(wq);

        for (unsigned i = 0; i < n; i++) {
            struct rl_workqueue_stats ws;

            rl_workqueue_stats(wq, (int)i, &ws);
            rl_metrics_queue_depth(m, i, ws.depth);
        }
    }
    done = rl_controller_startup_done_ms(a->ctl);
    if (done)
        rl_metrics_startup_sync(m, (double)done / 1000.0);
    rl_metrics_leader(m, a->elector ? rl_elector_is_leader(a->elector) : true);
    {
        struct rl_controller_state_stats ss;

        if (rl_controller_state_stats(a->ctl, &ss))
            rl_metrics_workload_state(m, ss.entries, ss.pending, ss.writes, ss.failures,
                                      ss.deferred);
    }
    rl_report_collect(a->report);
    {
        struct rl_cap_counts cc;

        rl_controller_cap_counts(a->ctl, &cc);
        rl_metrics_rollout_cap(m, cc.in_flight, cc.waiting, cc.expired_total);
    }
}

static void started_leading(void *ctx)
{
    struct app *a = ctx;

    rl_log_kv(RL_LOG_INFO, "became leader", "identity", a->opts.pod_name, NULL);
    rl_report_leading(a->report, rl_mono_ms());
    atomic_store(&a->publish_pending, true);
    if (rl_elector_took_over(a->elector))
        rl_controller_assume_missed(a->ctl);
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
        .fence_left_ms = fence_left_ms,
        .fence_ctx = a,
        .on_result = rl_report_result,
        .on_skip = rl_report_skip,
        .on_watch = rl_report_watch,
        .on_source_event = rl_report_source_event,
        .on_reconciled = rl_report_reconciled,
        .on_enqueue = rl_report_enqueued,
        .on_problem = rl_report_problem,
        .on_held = rl_report_held,
        .on_window_held = rl_report_window_held,
        .on_gated = rl_report_gated,
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
    };
    struct rl_httpd_opts xo = { .role = RL_HTTPD_EXPLAIN, .explain = explain, .explain_ctx = a };
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
    a->events = rl_events_new(a->kube, rl_clock_system(), NULL);
    if (a->opts.alert_on_reload) {
        struct rl_alerts_opts ao = {
            .url = a->opts.alert_webhook_url,
            .sink = rl_alert_sink_parse(a->opts.alert_sink),
            .proxy = a->opts.alert_webhook_proxy,
        };
        char url[RL_REDACTED_URL_SIZE];

        if (!a->opts.alert_webhook_url || !*a->opts.alert_webhook_url)
            rl_log_kv(RL_LOG_ERROR, "ALERT_ON_RELOAD is true but ALERT_WEBHOOK_URL is not set; "
                      "no alerts", NULL);
        else if (rl_alerts_new(&a->alerts, &ao) != 0)
            rl_log_kv(RL_LOG_ERROR, "ALERT_WEBHOOK_URL is not an http(s) URL; no alerts",
                      "url", rl_redact_url(a->opts.alert_webhook_url, url, sizeof(url)), NULL);
    }
    if (a->policy->webhook_mode) {
        struct rl_alerts_opts wo = {
            .url = a->opts.webhook_url,
            .sink = RL_SINK_WEBHOOK,
            .max_attempts = WEBHOOK_ATTEMPTS,
        };
        char url[RL_REDACTED_URL_SIZE];

        rc = rl_alerts_new(&a->webhook, &wo);
        if (rc) {
            fprintf(stderr, "reloadd: --webhook-url '%s' is not an http(s) URL\n",
                    rl_redact_url(a->opts.webhook_url, url, sizeof(url)));
            return 1;
        }
    }
    rl_kube_set_observer(a->kube, observe_api, a->metrics);
    {
        struct rl_report_opts ro = {
            .policy = a->policy,
            .metrics = a->metrics,
            .events = a->events,
            .alerts = a->alerts,
            .webhook = a->webhook,
            .webhook_url = a->opts.webhook_url,
            .alert_additional_info = a->opts.alert_additional_info,
            .counts = counts,
            .may_write = webhook_may_write,
            .workloads_in = workloads_in,
            .ctx = a,
        };

        a->report = rl_report_new(&ro);
        ch.ctx = a->report;
    }
    a->ctl = rl_controller_new(&a->opts, a->policy, a->kube, rl_clock_system(), &ch);

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

        /*
         * The elector gets a client of its own: the workers' token bucket
         * must not delay a renewal, and a request to an unreachable server
         * must end before the renew deadline, so that a partitioned leader
         * steps down (may_write is already false by then) and logs it.
         */
        struct rl_kube_opts eko = {
            .qps = 0,
            .request_timeout_ms = (long)(a->opts.renew_deadline_ms / 2),
            .connect_timeout_ms = (long)(a->opts.renew_deadline_ms / 2),
            .max_retries = -1,      /* the elector's own loop retries */
        };
        struct rl_kubeconfig *ecfg = NULL;

        rc = rl_kubeconfig_load(&ecfg, a->opts.kubeconfig, a->opts.context, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "reloadd: %s\n", err[0] ? err : rl_strerror(rc));
            return 1;
        }
        a->elector_kube = rl_kube_new(ecfg, &eko, rl_clock_system());
        if (!a->elector_kube) {
            fprintf(stderr, "reloadd: cannot initialise the HTTP client\n");
            return 1;
        }
        rl_kube_set_observer(a->elector_kube, observe_api, a->metrics);
        rc = rl_elector_new(&a->elector, a->elector_kube, rl_clock_system(), &eo, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "reloadd: %s\n", err);
            return 1;
        }
        rl_controller_watch_lease(a->ctl, a->opts.pod_namespace, a->opts.lease_name,
                                  lease_seen, a);
    }

    ho.metrics = a->metrics;
    rc = rl_httpd_new(&a->httpd, a->opts.metrics_addr, &ho);
    if (rc) {
        fprintf(stderr, "reloadd: cannot serve HTTP on '%s': %s\n", a->opts.metrics_addr,
                rl_strerror(rc));
        return 1;
    }
    /* A debugging aid: reloadd runs without it (e.g. several replicas on one host). */
    if (a->opts.explain_addr[0] &&
        rl_httpd_new(&a->explain_httpd, a->opts.explain_addr, &xo) != 0)
        rl_log_kv(RL_LOG_ERROR, "cannot serve /explain; running without it", "addr",
                  a->opts.explain_addr, NULL);

    /* Blocked since main() began: waited for below, in this thread only. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);

    rl_log_kv(RL_LOG_INFO, "starting reloadd", "version", RL_VERSION,
              "server", rl_kube_server(a->kube), "strategy", a->opts.reload_strategy,
              "ha", a->opts.enable_ha ? "true" : "false", NULL);
    rl_events_start(a->events);
    if (a->alerts)
        rl_alerts_start(a->alerts);
    if (a->webhook)
        rl_alerts_start(a->webhook);
    rc = rl_controller_start(a->ctl);
    if (rc) {
        fprintf(stderr, "reloadd: cannot start workers: %s\n", rl_strerror(rc));
        return 1;
    }
    if (a->elector)
        rl_elector_start(a->elector);
    else
        atomic_store(&a->publish_pending, true);

    /* Wait for a signal; meanwhile publish the meta-info when leadership asks for it. */
    for (;;) {
        struct timespec tick = { 1, 0 };

        if (atomic_exchange(&a->publish_pending, false)) {
            if (!a->opts.reloader_namespace || !*a->opts.reloader_namespace)
                rl_log_kv(RL_LOG_WARN, "RELOADER_NAMESPACE is not set, skipping meta info "
                          "configmap creation", NULL);
            else if (a->policy->dry_run)
                rl_log_kv(RL_LOG_INFO, "dry-run: would publish the meta-info configmap", NULL);
            else
                rl_metainfo_publish(a->kube, &a->opts);
        }
        sig = sigtimedwait(&sigs, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT)
            break;
    }
    rl_log_kv(RL_LOG_INFO, "shutting down", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    /* Still leading, with the API budget and backoffs of normal work. */
    if (rl_controller_flush(a->ctl, FLUSH_MS) != 0)
        rl_log_kv(RL_LOG_WARN, "stopping with changes not yet served; the next leader's pass "
                  "will find them", NULL);
    /* The Events of what the flush rolled, while requests still go out. */
    rl_events_stop(a->events, NOTIFY_DRAIN_MS);
    /* No thread waits out a backoff or a Retry-After now: the stop fits a 30 s grace period. */
    rl_kube_shutdown(a->kube, STOP_REQUESTS_MS);
    if (a->elector) {
        /* Stop writing first, then hand the Lease over at once. */
        rl_controller_set_leader(a->ctl, false);
        rc = rl_elector_resign(a->elector);
        if (rc)
            rl_log_kv(RL_LOG_WARN, "could not release the lease; it will expire",
                      "error", rl_strerror(rc), NULL);
        rl_elector_stop(a->elector);
    }
    rl_controller_stop(a->ctl, DRAIN_MS);
    rl_alerts_stop(a->alerts, NOTIFY_DRAIN_MS);
    rl_alerts_stop(a->webhook, NOTIFY_DRAIN_MS);
    rl_httpd_free(a->explain_httpd);
    a->explain_httpd = NULL;
    rl_httpd_free(a->httpd);
    a->httpd = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    struct app a;
    char err[512] = "", names[1024];
    enum rl_log_level level;
    enum rl_log_format format;
    int rc;

    memset(&a, 0, sizeof(a));
    rl_json_init_hooks();
    if (argc > 1 && strcmp(argv[1], "explain") == 0) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            fprintf(stderr, "reloadd: cannot initialise libcurl\n");
            return 1;
        }
        rc = rl_explain_main(argc, argv);
        curl_global_cleanup();
        return rc;
    }
    {
        /*
         * Before any thread exists (libmicrohttpd's, curl's resolver, ours):
         * every thread inherits this mask, so SIGTERM and SIGINT reach only
         * the main thread's sigtimedwait() and a stop always hands the Lease
         * over; a peer closing a socket never kills the process.
         */
        sigset_t stop;

        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);
        signal(SIGPIPE, SIG_IGN);
    }
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
    rl_options_log_start(&a.opts);
    if (a.opts.workload_kinds_file && *a.opts.workload_kinds_file) {
        /* Before any thread: the kind table is immutable once they run. */
        rc = rl_kindfile_load(a.opts.workload_kinds_file, err, sizeof(err));
        if (rc) {
            fprintf(stderr, "reloadd: %s\n", err);
            rl_options_release(&a.opts);
            return 2;
        }
        rl_log_kv(RL_LOG_INFO, "workload kinds declared", "file", a.opts.workload_kinds_file,
                  "kinds", rl_kind_declared_names(names, sizeof(names)), NULL);
    }
    a.policy = rl_policy_new(&a.opts);
    {
        struct rl_window_cache *wc = NULL;

        /* The policy's layer cannot parse a window (window.h is the domain's): checked here. */
        if (rl_window_cache_new(a.policy->rollout_window, NULL, &wc, err, sizeof(err)) != 0) {
            fprintf(stderr, "reloadd: invalid value \"%s\" for flag --rollout-window: %s\n",
                    a.policy->rollout_window, err);
            rl_policy_free(a.policy);
            rl_options_release(&a.opts);
            return 2;
        }
        rl_window_cache_free(wc);
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "reloadd: cannot initialise libcurl\n");
        return 1;
    }

    rc = run(&a);

    rl_elector_free(a.elector);
    rl_controller_free(a.ctl);
    rl_httpd_free(a.explain_httpd);
    rl_httpd_free(a.httpd);
    rl_events_free(a.events);
    rl_alerts_free(a.alerts);
    rl_alerts_free(a.webhook);
    rl_kube_free(a.kube);
    rl_kube_free(a.elector_kube);
    rl_report_free(a.report);
    rl_metrics_free(a.metrics);
    rl_policy_free(a.policy);
    rl_options_release(&a.opts);
    rl_kind_declare(NULL, 0);
    curl_global_cleanup();
    return rc;
}
