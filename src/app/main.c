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
#include "reloadd/reload/reconcile.h"
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
    struct rl_metric *notifications;    /* reloader_notifications_total */

    atomic_bool publish_pending;        /* the meta-info ConfigMap is due */
    _Atomic uint64_t acquired_ms;       /* mono ms of the latest acquisition; 0: reported */
};

static const struct rl_metric_desc notifications_desc = {
    .name = "reloader_notifications_total",
    .help = "Kubernetes Events, alerts and --webhook-url posts, by kind and outcome.",
    .type = RL_METRIC_COUNTER,
    .labels = RL_METRIC_LABELS("kind", "result"),
};

/* --- glue: metrics, probes, explain, leadership ---------------------------- */

static void observe_api(void *ctx, const char *verb, const char *resource, long status,
                        double seconds)
{
    rl_metrics_api_request(ctx, verb, resource, (int)status, seconds);
}

/* "reloader-configmaps", as Reloader's per-resource recorders name themselves. */
static const char *component_of(enum rl_source_type t)
{
    return t == RL_SOURCE_SECRET ? "reloader-secrets" : "reloader-configmaps";
}

static void record_event(struct app *a, const struct rl_reconcile_result *res)
{
    struct rl_buf msg;
    struct rl_event ev = {
        .kind = res->kind,
        .ns = res->ns,
        .name = res->name,
        .uid = res->uid,
        .component = component_of(res->first_type),
    };

    rl_buf_init(&msg, 0);
    if (res->err) {
        ev.type = "Warning";
        ev.reason = "ReloadFail";
        rl_event_failed_message(&msg, res->name, rl_kind_name(res->kind), res->ns,
                                rl_strerror(res->err));
    } else {
        ev.type = "Normal";
        ev.reason = "Reloaded";
        rl_event_reloaded_message(&msg, res->first_name, rl_source_type_upper(res->first_type),
                                  res->ns, res->name, rl_kind_name(res->kind));
    }
    ev.message = msg.buf;
    rl_events_post(a->events, &ev);
    rl_buf_release(&msg);
}

/*
 * A workload whose annotations cannot be honoured (a bad regex, a reload
 * list over the caps, ...) gets a Warning "ReloadFail" Event in Reloader's
 * words, once per change of its problems: its owner sees why it will not
 * roll with kubectl describe, without access to our log.
 */
static void on_problem(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                       const char *uid, const char *problems)
{
    struct app *a = ctx;
    struct rl_buf msg;
    char err[600];
    struct rl_event ev = {
        .kind = kind, .ns = ns, .name = name, .uid = uid,
        .type = "Warning", .reason = "ReloadFail", .component = "reloader-configmaps",
    };

    if (!a->events)
        return;
    snprintf(err, sizeof(err), "its annotations need attention: %.500s%s", problems,
             strlen(problems) > 500 ? "..." : "");
    rl_buf_init(&msg, 0);
    rl_event_failed_message(&msg, name, rl_kind_name(kind), ns, err);
    ev.message = msg.buf;
    rl_events_post(a->events, &ev);
    rl_buf_release(&msg);
}

/*
 * A rollout held by the workload's restart budget: a Warning "ReloadHeld"
 * Event on it, an alert, and the counter, once per hold.
 */
static void on_held(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                    const char *uid, unsigned used, unsigned max, int64_t period_s,
                    int64_t held_until_s)
{
    struct app *a = ctx;
    char msg[600], until[32], what[400];
    struct rl_event ev = {
        .kind = kind, .ns = ns, .name = name, .uid = uid,
        .type = "Warning", .reason = "ReloadHeld", .component = "reloader-configmaps",
    };

    rl_metrics_restart_budget_held(a->metrics, rl_kind_name(kind));
    rl_format_rfc3339(held_until_s * 1000000, until);
    snprintf(msg, sizeof(msg), "Rollout of '%s' of type '%s' in namespace '%s' held: %u of its "
             "restart budget of %u per %llds used; it rolls once, with the latest changes, "
             "at %s", name, rl_kind_name(kind), ns, used, max, (long long)period_s, until);
    if (a->events) {
        ev.message = msg;
        rl_events_post(a->events, &ev);
    }
    if (a->alerts) {
        snprintf(what, sizeof(what), "%s/%s/%s", rl_kind_name(kind), ns, name);
        rl_alerts_post(a->alerts, msg, what);
    }
}

static void send_alert(struct app *a, const struct rl_reconcile_result *res)
{
    struct rl_buf msg;
    char what[400];

    rl_buf_init(&msg, 0);
    rl_alert_message(&msg, a->opts.alert_additional_info, res->first_name,
                     rl_source_type_upper(res->first_type), res->ns, res->name,
                     rl_kind_name(res->kind));
    snprintf(what, sizeof(what), "%s/%s/%s", rl_kind_name(res->kind), res->ns, res->name);
    rl_alerts_post(a->alerts, msg.buf, what);
    rl_buf_release(&msg);
}

static void on_result(void *ctx, const struct rl_reconcile_result *res)
{
    struct app *a = ctx;
    bool ok = res->err == 0;
    uint64_t acquired;

    if (res->err == RL_ENOTLEADER)
        return;
    if (ok && !res->dry_run) {
        acquired = atomic_exchange(&a->acquired_ms, 0);
        if (acquired) {
            double s = (double)(rl_mono_ms() - acquired) / 1000.0;
            char v[32];

            rl_metrics_first_write_after_acquire(a->metrics, s);
            snprintf(v, sizeof(v), "%.3f", s);
            rl_log_kv(RL_LOG_INFO, "first reconcile as leader", "seconds_after_acquire", v,
                      NULL);
        }
    }
    if (res->action != RL_ACTION_ROLLOUT)
        return;
    rl_metrics_reload_executed(a->metrics, ok, res->ns);
    rl_metrics_action(a->metrics, rl_kind_name(res->kind), ok, res->seconds);
    if (ok)
        rl_metrics_workloads_matched(a->metrics, rl_kind_name(res->kind), 1);
    if (ok && res->since_event_s >= 0)
        rl_metrics_reconcile_latency(a->metrics, res->since_event_s);
    if (res->dry_run)
        return;
    /* One Event per rollout write, as Reloader records one per upgradeResource(). */
    record_event(a, res);
    if (ok && a->alerts)
        send_alert(a, res);
}

/*
 * Whether this replica counts what only Reloader's leader would: Reloader's
 * followers run no informer, so its event and reconcile families move on
 * the leader alone. reloadd's followers keep warm caches; were they to
 * count too, a sum() over the default two replicas would double every
 * panel and alert written for Reloader. Without HA the one replica counts.
 */
static bool counts(const struct app *a)
{
    return !a->elector || rl_elector_is_leader(a->elector);
}

static void on_reconciled(void *ctx, enum rl_kind kind, int err, double seconds, double queued_s)
{
    struct app *a = ctx;
    enum rl_metrics_result r = err == 0              ? RL_METRICS_SUCCESS
                               : err == RL_ENOTLEADER ? RL_METRICS_SKIPPED
                                                      : RL_METRICS_ERROR;

    (void)kind;
    if (!counts(a))
        return;
    if (queued_s >= 0)
        rl_metrics_workqueue_latency(a->metrics, queued_s);
    /* A failed attempt is an error as Reloader's failed Handle() is; successes count per event. */
    if (r == RL_METRICS_ERROR) {
        rl_metrics_reconcile(a->metrics, r, seconds);
        rl_metrics_error(a->metrics, RL_METRICS_ERR_HANDLER);
        rl_metrics_retry(a->metrics);
    }
}

static void on_enqueue(void *ctx)
{
    struct app *a = ctx;

    if (counts(a))
        rl_metrics_workqueue_add(a->metrics);
}

/*
 * reconcile_total and workloads_scanned_total count what Reloader's worker
 * counts for one queued event: Reloader queues every selected update (one
 * whose data did not change is a "skipped" reconcile), and a create or a
 * delete only with --reload-on-create / --reload-on-delete; for each event
 * it handles it lists every workload of each kind in the source's
 * namespace. reloadd lists nothing (its store answers), but counts the
 * same, so a panel or alert made for Reloader reads the same for the same
 * changes. A failed rollout attempt adds an "error" (on_reconciled).
 */
static void count_handled(struct app *a, const struct rl_source_event *ev)
{
    bool handled = ev->type == RL_SOURCE_EVENT_UPDATE ||
                   (ev->type == RL_SOURCE_EVENT_ADD && a->policy->reload_on_create) ||
                   (ev->type == RL_SOURCE_EVENT_DELETE && a->policy->reload_on_delete);
    size_t n[RL_KIND_COUNT];
    int64_t t0 = rl_clock_wall_us(rl_clock_system()), dt;

    if (!ev->selected || !handled)
        return;
    if (ev->type == RL_SOURCE_EVENT_UPDATE && !ev->data_changed) {
        rl_metrics_reconcile(a->metrics, RL_METRICS_SKIPPED, 0);
        return;
    }
    if (!a->webhook) {              /* webhook mode: Reloader posts and lists nothing */
        rl_controller_workloads_in(a->ctl, ev->ns, n);
        for (int k = 0; k < RL_KIND_COUNT; k++)
            if (rl_kind_enabled(a->policy, k))
                rl_metrics_workloads_scanned(a->metrics, rl_kind_name(k), n[k]);
    }
    dt = rl_clock_wall_us(rl_clock_system()) - t0;
    rl_metrics_reconcile(a->metrics, RL_METRICS_SUCCESS, dt > 0 ? (double)dt / 1e6 : 0);
}

/*
 * A ConfigMap or Secret changed. Counted as Reloader counts its informer
 * events; in --webhook-url mode (docs/reloader.md §9.1) a qualifying change
 * is posted.
 */
static void on_source_event(void *ctx, const struct rl_source_event *ev)
{
    struct app *a = ctx;
    enum rl_metrics_event me = ev->type == RL_SOURCE_EVENT_ADD      ? RL_METRICS_EVENT_ADD
                               : ev->type == RL_SOURCE_EVENT_UPDATE ? RL_METRICS_EVENT_UPDATE
                                                                    : RL_METRICS_EVENT_DELETE;
    bool qualifies;

    if (counts(a)) {
        rl_metrics_event_received(a->metrics, me, ev->resource);
        if (!ev->selected)
            rl_metrics_skipped(a->metrics, RL_METRICS_SKIP_IGNORED_OR_NOT_SELECTED);
        else if (ev->type == RL_SOURCE_EVENT_UPDATE && !ev->data_changed)
            rl_metrics_skipped(a->metrics, RL_METRICS_SKIP_NO_DATA_CHANGE);
        rl_metrics_event_processed(a->metrics, me, ev->resource, !ev->selected);
        count_handled(a, ev);
    }
    if (!ev->selected)
        return;
    if (!a->webhook)
        return;
    qualifies = (ev->type == RL_SOURCE_EVENT_ADD && a->policy->reload_on_create) ||
                (ev->type == RL_SOURCE_EVENT_UPDATE && ev->data_changed) ||
                (ev->type == RL_SOURCE_EVENT_DELETE && a->policy->reload_on_delete);
    if (!qualifies || !rl_controller_may_write(a->ctl))
        return;
    {
        char what[400], to[RL_REDACTED_URL_SIZE];

        /* The URL's path and query are its credentials: name its host only. */
        rl_log(RL_LOG_INFO, "Changes detected in '%s' of type '%s' in namespace '%s', "
               "Sending webhook to '%s'", ev->name, rl_source_type_upper(ev->source), ev->ns,
               rl_redact_url(a->opts.webhook_url, to, sizeof(to)));
        snprintf(what, sizeof(what), "%s/%s/%s", rl_source_type_lower(ev->source), ev->ns,
                 ev->name);
        if (a->policy->dry_run)
            rl_log_kv(RL_LOG_INFO, "dry-run: would send webhook", "source", what, NULL);
        else
            rl_alerts_post(a->webhook, "", what);
    }
}

static void on_skip(void *ctx, const char *reason)
{
    struct app *a = ctx;

    (void)reason;
    if (counts(a))
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
    out = rl_controller_explain(a->ctl, rl_kind_name(k), ns, name);
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
    for (int k = 0; k < RL_KIND_COUNT; k++)
        rl_metrics_cached_objects(m, rl_kind_info(k)->plural, st.workloads[k]);
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
    if (a->notifications) {
        static const char *const results[3] = { "sent", "failed", "dropped" };
        static const char *const what[3] = { "event", "alert", "webhook" };
        uint64_t v[3][3] = { { 0 } };

        if (a->events) {
            struct rl_events_stats es;

            rl_events_stats(a->events, &es);
            v[0][0] = es.created, v[0][1] = es.failed, v[0][2] = es.dropped;
        }
        for (int i = 1; i < 3; i++) {
            struct rl_alerts *al = i == 1 ? a->alerts : a->webhook;
            struct rl_alerts_stats as;

            if (!al)
                continue;
            rl_alerts_stats(al, &as);
            v[i][0] = as.sent, v[i][1] = as.failed, v[i][2] = as.dropped;
        }
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                const char *labels[2] = { what[i], results[j] };

                rl_series_set(rl_metric_series(a->notifications, labels, 2), (double)v[i][j]);
            }
    }
}

static void started_leading(void *ctx)
{
    struct app *a = ctx;

    rl_log_kv(RL_LOG_INFO, "became leader", "identity", a->opts.pod_name, NULL);
    atomic_store(&a->acquired_ms, rl_mono_ms());
    atomic_store(&a->publish_pending, true);
    if (rl_elector_took_over(a->elector))
        rl_controller_assume_missed(a->ctl);
    rl_controller_set_leader(a->ctl, true);
}

static void stopped_leading(void *ctx)
{
    struct app *a = ctx;

    rl_log_kv(RL_LOG_WARN, "stopped leading; no more writes", "identity", a->opts.pod_name, NULL);
    atomic_store(&a->acquired_ms, 0);
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
        .on_result = on_result,
        .on_skip = on_skip,
        .on_watch = on_watch,
        .on_source_event = on_source_event,
        .on_reconciled = on_reconciled,
        .on_enqueue = on_enqueue,
        .on_problem = on_problem,
        .on_held = on_held,
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
    if (rl_metrics_register(a->metrics, &notifications_desc, &a->notifications) != 0)
        a->notifications = NULL;
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
    char err[512] = "";
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
    a.policy = rl_policy_new(&a.opts);
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
    rl_metrics_free(a.metrics);
    rl_policy_free(a.policy);
    rl_options_release(&a.opts);
    curl_global_cleanup();
    return rc;
}
