/* report.c - what the operators are told about what reloadd does */
#include "reloadd/ops/report.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/redact.h"
#include "reloadd/config/policy.h"
#include "reloadd/ops/alerts.h"
#include "reloadd/ops/events.h"
#include "reloadd/ops/metrics.h"
#include "reloadd/reload/reconcile.h"
#include "reloadd/base/banned.h"

struct rl_report {
    struct rl_report_opts o;
    _Atomic uint64_t acquired_ms;       /* mono ms of the latest acquisition; 0: reported */
};

struct rl_report *rl_report_new(const struct rl_report_opts *o)
{
    struct rl_report *r = RL_NEW(struct rl_report);

    r->o = *o;
    return r;
}

void rl_report_free(struct rl_report *r)
{
    free(r);
}

void rl_report_leading(struct rl_report *r, uint64_t now_ms)
{
    atomic_store(&r->acquired_ms, now_ms ? now_ms : 1);
}

/* Whether this replica counts what only Reloader's leader would (report.h). */
static bool counts(const struct rl_report *r)
{
    return !r->o.counts || r->o.counts(r->o.ctx);
}

/* "reloader-configmaps", as Reloader's per-resource recorders name themselves. */
static const char *component_of(enum rl_source_type t)
{
    return t == RL_SOURCE_SECRET ? "reloader-secrets" : "reloader-configmaps";
}

static void post_event(struct rl_report *r, const struct rl_reconcile_result *res)
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
    rl_events_post(r->o.events, &ev);
    rl_buf_release(&msg);
}

static void post_alert(struct rl_report *r, const struct rl_reconcile_result *res)
{
    struct rl_buf msg;
    char what[400];

    rl_buf_init(&msg, 0);
    rl_alert_message(&msg, r->o.alert_additional_info, res->first_name,
                     rl_source_type_upper(res->first_type), res->ns, res->name,
                     rl_kind_name(res->kind));
    snprintf(what, sizeof(what), "%s/%s/%s", rl_kind_name(res->kind), res->ns, res->name);
    rl_alerts_post(r->o.alerts, msg.buf, what);
    rl_buf_release(&msg);
}

/* The first successful write after an acquisition: how long the new leader took. */
static void first_write(struct rl_report *r)
{
    uint64_t acquired = atomic_exchange(&r->acquired_ms, 0);
    double s;
    char v[32];

    if (!acquired)
        return;
    s = (double)(rl_mono_ms() - acquired) / 1000.0;
    rl_metrics_first_write_after_acquire(r->o.metrics, s);
    snprintf(v, sizeof(v), "%.3f", s);
    rl_log_kv(RL_LOG_INFO, "first reconcile as leader", "seconds_after_acquire", v, NULL);
}

void rl_report_result(void *report, const struct rl_reconcile_result *res)
{
    struct rl_report *r = report;
    bool ok = res->err == 0;

    if (res->err == RL_ENOTLEADER)
        return;
    if (ok && !res->dry_run)
        first_write(r);
    if (res->action != RL_ACTION_ROLLOUT)
        return;
    rl_metrics_reload_executed(r->o.metrics, ok, res->ns);
    rl_metrics_action(r->o.metrics, rl_kind_metric_name(res->kind), ok, res->seconds);
    if (ok)
        rl_metrics_workloads_matched(r->o.metrics, rl_kind_metric_name(res->kind), 1);
    if (ok && res->since_event_s >= 0)
        rl_metrics_reconcile_latency(r->o.metrics, res->since_event_s);
    if (res->dry_run)
        return;
    if (r->o.events)
        post_event(r, res);
    if (ok && r->o.alerts)
        post_alert(r, res);
}

void rl_report_reconciled(void *report, enum rl_kind kind, int err, double seconds,
                          double queued_s)
{
    struct rl_report *r = report;

    (void)kind;
    if (!counts(r))
        return;
    if (queued_s >= 0)
        rl_metrics_workqueue_latency(r->o.metrics, queued_s);
    /* A failed attempt is an error as Reloader's failed Handle() is; successes count per event. */
    if (err != 0 && err != RL_ENOTLEADER) {
        rl_metrics_reconcile(r->o.metrics, RL_METRICS_ERROR, seconds);
        rl_metrics_error(r->o.metrics, RL_METRICS_ERR_HANDLER);
        rl_metrics_retry(r->o.metrics);
    }
}

void rl_report_enqueued(void *report)
{
    struct rl_report *r = report;

    if (counts(r))
        rl_metrics_workqueue_add(r->o.metrics);
}

/* Whether Reloader's worker would handle the event at all (report.h). */
static bool handled(const struct rl_policy *p, const struct rl_source_event *ev)
{
    /* A SecretProviderClassPodStatus counts on update only (docs/reloader.md §5.5). */
    if (ev->source == RL_SOURCE_SPC)
        return ev->type == RL_SOURCE_EVENT_UPDATE;
    return ev->type == RL_SOURCE_EVENT_UPDATE ||
           (ev->type == RL_SOURCE_EVENT_ADD && p->reload_on_create) ||
           (ev->type == RL_SOURCE_EVENT_DELETE && p->reload_on_delete);
}

/* reconcile_total and workloads_scanned_total for one event (report.h). */
static void count_handled(struct rl_report *r, const struct rl_source_event *ev)
{
    size_t n[RL_KIND_MAX];
    int64_t t0 = rl_clock_wall_us(rl_clock_system()), dt;

    if (!ev->selected || !handled(r->o.policy, ev))
        return;
    if (ev->type == RL_SOURCE_EVENT_UPDATE && !ev->data_changed) {
        rl_metrics_reconcile(r->o.metrics, RL_METRICS_SKIPPED, 0);
        return;
    }
    if (!r->o.webhook && r->o.workloads_in) {   /* webhook mode: Reloader lists nothing */
        r->o.workloads_in(r->o.ctx, ev->ns, n);
        for (int k = 0; k < rl_kind_count(); k++)
            if (rl_kind_enabled(r->o.policy, k))
                rl_metrics_workloads_scanned(r->o.metrics, rl_kind_metric_name(k), n[k]);
    }
    dt = rl_clock_wall_us(rl_clock_system()) - t0;
    rl_metrics_reconcile(r->o.metrics, RL_METRICS_SUCCESS, dt > 0 ? (double)dt / 1e6 : 0);
}

/* --webhook-url mode (docs/reloader.md §9.1): a qualifying change is posted. */
static void post_webhook(struct rl_report *r, const struct rl_source_event *ev)
{
    char what[400], to[RL_REDACTED_URL_SIZE];

    if (!handled(r->o.policy, ev) || (ev->type == RL_SOURCE_EVENT_UPDATE && !ev->data_changed))
        return;
    if (r->o.may_write && !r->o.may_write(r->o.ctx))
        return;
    /* The URL's path and query are its credentials: name its host only. */
    rl_log(RL_LOG_INFO, "Changes detected in '%s' of type '%s' in namespace '%s', "
           "Sending webhook to '%s'", ev->name, rl_source_type_upper(ev->source), ev->ns,
           rl_redact_url(r->o.webhook_url, to, sizeof(to)));
    snprintf(what, sizeof(what), "%s/%s/%s", rl_source_type_lower(ev->source), ev->ns, ev->name);
    if (r->o.policy->dry_run)
        rl_log_kv(RL_LOG_INFO, "dry-run: would send webhook", "source", what, NULL);
    else
        rl_alerts_post(r->o.webhook, "", what);
}

void rl_report_source_event(void *report, const struct rl_source_event *ev)
{
    struct rl_report *r = report;
    enum rl_metrics_event me = ev->type == RL_SOURCE_EVENT_ADD      ? RL_METRICS_EVENT_ADD
                               : ev->type == RL_SOURCE_EVENT_UPDATE ? RL_METRICS_EVENT_UPDATE
                                                                    : RL_METRICS_EVENT_DELETE;

    if (counts(r)) {
        rl_metrics_event_received(r->o.metrics, me, ev->resource);
        if (!ev->selected)
            rl_metrics_skipped(r->o.metrics, RL_METRICS_SKIP_IGNORED_OR_NOT_SELECTED);
        else if (ev->type == RL_SOURCE_EVENT_UPDATE && !ev->data_changed)
            rl_metrics_skipped(r->o.metrics, RL_METRICS_SKIP_NO_DATA_CHANGE);
        rl_metrics_event_processed(r->o.metrics, me, ev->resource, !ev->selected);
        count_handled(r, ev);
    }
    if (ev->selected && r->o.webhook)
        post_webhook(r, ev);
}

void rl_report_skip(void *report, const char *reason)
{
    struct rl_report *r = report;

    (void)reason;
    if (counts(r))
        rl_metrics_skipped(r->o.metrics, RL_METRICS_SKIP_IGNORED_OR_NOT_SELECTED);
}

void rl_report_watch(void *report, const char *resource, bool relist)
{
    struct rl_report *r = report;

    if (relist)
        rl_metrics_relist(r->o.metrics, resource);
    else
        rl_metrics_watch_restart(r->o.metrics, resource);
}

/*
 * A workload whose annotations cannot be honoured (a bad regex, a reload
 * list over the caps, ...) gets a Warning "ReloadFail" Event in Reloader's
 * words, once per change of its problems: its owner sees why it will not
 * roll with kubectl describe, without access to our log.
 */
void rl_report_problem(void *report, enum rl_kind kind, const char *ns, const char *name,
                       const char *uid, const char *problems)
{
    struct rl_report *r = report;
    struct rl_buf msg;
    char err[600];
    struct rl_event ev = {
        .kind = kind, .ns = ns, .name = name, .uid = uid,
        .type = "Warning", .reason = "ReloadFail", .component = "reloader-configmaps",
    };

    if (!r->o.events)
        return;
    snprintf(err, sizeof(err), "its annotations need attention: %.500s%s", problems,
             strlen(problems) > 500 ? "..." : "");
    rl_buf_init(&msg, 0);
    rl_event_failed_message(&msg, name, rl_kind_name(kind), ns, err);
    ev.message = msg.buf;
    rl_events_post(r->o.events, &ev);
    rl_buf_release(&msg);
}

/* A rollout held by its restart budget: a Warning "ReloadHeld" Event, an alert, the counter. */
void rl_report_held(void *report, enum rl_kind kind, const char *ns, const char *name,
                    const char *uid, unsigned used, unsigned max, int64_t period_s,
                    int64_t held_until_s)
{
    struct rl_report *r = report;
    char msg[600], until[32], what[400];
    struct rl_event ev = {
        .kind = kind, .ns = ns, .name = name, .uid = uid,
        .type = "Warning", .reason = "ReloadHeld", .component = "reloader-configmaps",
    };

    rl_metrics_restart_budget_held(r->o.metrics, rl_kind_metric_name(kind));
    rl_format_rfc3339(held_until_s * 1000000, until);
    snprintf(msg, sizeof(msg), "Rollout of '%s' of type '%s' in namespace '%s' held: %u of its "
             "restart budget of %u per %llds used; it rolls once, with the latest changes, "
             "at %s", name, rl_kind_name(kind), ns, used, max, (long long)period_s, until);
    if (r->o.events) {
        ev.message = msg;
        rl_events_post(r->o.events, &ev);
    }
    if (r->o.alerts) {
        snprintf(what, sizeof(what), "%s/%s/%s", rl_kind_name(kind), ns, name);
        rl_alerts_post(r->o.alerts, msg, what);
    }
}

/* A rollout held until its maintenance window opens: a Normal "ReloadDeferred" Event, the counter. */
void rl_report_window_held(void *report, enum rl_kind kind, const char *ns, const char *name,
                           const char *uid, const char *window, int64_t opens_at_s)
{
    struct rl_report *r = report;
    char msg[700], until[32];
    struct rl_event ev = {
        .kind = kind, .ns = ns, .name = name, .uid = uid,
        .type = "Normal", .reason = "ReloadDeferred", .component = "reloader-configmaps",
    };

    rl_metrics_window_held(r->o.metrics, rl_kind_name(kind));
    if (!r->o.events)
        return;
    rl_format_rfc3339(opens_at_s * 1000000, until);
    snprintf(msg, sizeof(msg), "Rollout of '%s' of type '%s' in namespace '%s' deferred until "
             "its maintenance window \"%.260s\" opens at %s; it rolls once, with the latest "
             "changes", name, rl_kind_name(kind), ns, window, until);
    ev.message = msg;
    rl_events_post(r->o.events, &ev);
}

/*
 * A rollout held by the health gate: a Warning "ReloadGated" Event on the
 * held workload, an alert, the counter (once per workload and version).
 */
void rl_report_gated(void *report, const struct rl_gate_hold *h)
{
    struct rl_report *r = report;
    char msg[1200], what[400];
    struct rl_event ev = {
        .kind = h->kind, .ns = h->ns, .name = h->name, .uid = h->uid,
        .type = "Warning", .reason = "ReloadGated", .component = "reloader-configmaps",
    };

    rl_metrics_health_gate_held(r->o.metrics, rl_kind_metric_name(h->kind));
    snprintf(msg, sizeof(msg), "Rollout of '%s' of type '%s' in namespace '%s' held by the "
             "health gate: the first %u workloads rolled for version %.12s of %s '%.253s' "
             "(%u failed, %u not available in time); it rolls no further until %.253s "
             "changes again", h->name, rl_kind_name(h->kind), h->ns, h->batch, h->version,
             rl_source_type_lower(h->type), h->source, h->failed, h->timed_out, h->source);
    if (r->o.events) {
        ev.message = msg;
        rl_events_post(r->o.events, &ev);
    }
    if (r->o.alerts) {
        snprintf(what, sizeof(what), "%s/%s/%s", rl_kind_name(h->kind), h->ns, h->name);
        rl_alerts_post(r->o.alerts, msg, what);
    }
}

void rl_report_collect(struct rl_report *r)
{
    static const char *const result[3] = { "sent", "failed", "dropped" };
    static const char *const kind[3] = { "event", "alert", "webhook" };
    uint64_t v[3][3] = { { 0 } };

    if (r->o.events) {
        struct rl_events_stats es;

        rl_events_stats(r->o.events, &es);
        v[0][0] = es.created, v[0][1] = es.failed, v[0][2] = es.dropped;
    }
    for (int i = 1; i < 3; i++) {
        struct rl_alerts *al = i == 1 ? r->o.alerts : r->o.webhook;
        struct rl_alerts_stats as;

        if (!al)
            continue;
        rl_alerts_stats(al, &as);
        v[i][0] = as.sent, v[i][1] = as.failed, v[i][2] = as.dropped;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            rl_metrics_notifications(r->o.metrics, kind[i], result[j], v[i][j]);
}
