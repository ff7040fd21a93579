/*
 * test_report.c - what a source event, a reconcile and its result add to
 * the metric families (report.h): Reloader's counting, leader-only with
 * HA, the per-event reconcile and scan counts, the first write after an
 * acquisition.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "promparse.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/config/policy.h"
#include "reloadd/ops/metrics.h"
#include "reloadd/ops/report.h"
#include "reloadd/reload/reconcile.h"
#include "testutil.h"

struct fixture {
    struct rl_policy *policy;
    struct rl_metrics *metrics;
    struct rl_report *report;
    bool leader;
    size_t per_kind;                    /* workloads of each kind in any namespace */
};

static bool leader(void *ctx)
{
    return ((struct fixture *)ctx)->leader;
}

static void workloads_in(void *ctx, const char *ns, size_t n[RL_KIND_MAX])
{
    (void)ns;
    for (int k = 0; k < RL_KIND_COUNT; k++)
        n[k] = ((struct fixture *)ctx)->per_kind;
}

static void setup(struct fixture *f, const char *flag)
{
    struct rl_metrics_opts mo = { .api_host = "127.0.0.1:1" };
    struct rl_report_opts ro = { 0 };

    memset(f, 0, sizeof(*f));
    f->policy = test_policy(flag, (char *)NULL);
    f->metrics = rl_metrics_new(&mo);
    f->leader = true;
    f->per_kind = 3;
    ro.policy = f->policy;
    ro.metrics = f->metrics;
    ro.counts = leader;
    ro.workloads_in = workloads_in;
    ro.ctx = f;
    f->report = rl_report_new(&ro);
}

static void teardown(struct fixture *f)
{
    rl_report_free(f->report);
    rl_metrics_free(f->metrics);
    rl_policy_free(f->policy);
}

/* The value of one sample of the exposition, 0 if absent. */
static double sample2(struct fixture *f, const char *name, const char *l1, const char *v1,
                      const char *l2, const char *v2)
{
    struct rl_buf text;
    struct prom_doc doc;
    const struct prom_sample *s;
    char err[256];
    double v;

    rl_buf_init(&text, 0);
    cr_assert(eq(int, rl_metrics_expose(f->metrics, &text), 0));
    cr_assert(eq(int, prom_parse(text.buf, text.len, &doc, err, sizeof(err)), 0), "%s", err);
    s = l2 ? prom_sample(&doc, name, l1, v1, l2, v2, NULL)
           : l1 ? prom_sample(&doc, name, l1, v1, NULL) : prom_sample(&doc, name, NULL);
    v = s ? s->value : 0;
    prom_doc_release(&doc);
    rl_buf_release(&text);
    return v;
}

static double sample(struct fixture *f, const char *name, const char *l1, const char *v1)
{
    return sample2(f, name, l1, v1, NULL, NULL);
}

/* reloader_events_received_total of ConfigMap events of type t. */
static double received(struct fixture *f, const char *t)
{
    return sample2(f, "reloader_events_received_total", "event_type", t, "resource_type",
                   "configmaps");
}

static void event(struct fixture *f, enum rl_source_event_type t, bool selected, bool changed)
{
    struct rl_source_event ev = {
        .type = t, .source = RL_SOURCE_CONFIGMAP, .resource = "configmaps",
        .ns = "ns", .name = "cfg", .selected = selected, .data_changed = changed,
    };

    rl_report_source_event(f->report, &ev);
}

Test(report, an_update_counts_as_reloader_counts_it)
{
    struct fixture f;

    setup(&f, NULL);
    event(&f, RL_SOURCE_EVENT_UPDATE, true, true);
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "success"), 1));
    /* 5 kinds watched by default (no Argo), 3 workloads each in the namespace. */
    cr_assert(eq(dbl, sample(&f, "reloader_workloads_scanned_total", "kind", "Deployment"), 3));
    cr_assert(eq(dbl, sample(&f, "reloader_workloads_scanned_total", "kind", "Rollout"), 0));
    cr_assert(eq(dbl, received(&f, "update"), 1));

    /* Data unchanged: a skipped reconcile, nothing scanned. */
    event(&f, RL_SOURCE_EVENT_UPDATE, true, false);
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "skipped"), 1));
    cr_assert(eq(dbl, sample(&f, "reloader_workloads_scanned_total", "kind", "Deployment"), 3));
    cr_assert(eq(dbl, sample(&f, "reloader_skipped_total", "reason", "no_data_change"), 1));

    /* Not selected (an ignored namespace): received, skipped, not handled. */
    event(&f, RL_SOURCE_EVENT_UPDATE, false, true);
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "success"), 1));
    cr_assert(eq(dbl, received(&f, "update"), 3));

    /* A create or a delete is handled only with its flag. */
    event(&f, RL_SOURCE_EVENT_ADD, true, true);
    event(&f, RL_SOURCE_EVENT_DELETE, true, true);
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "success"), 1));
    teardown(&f);

    setup(&f, "--reload-on-create=true");
    event(&f, RL_SOURCE_EVENT_ADD, true, true);
    event(&f, RL_SOURCE_EVENT_DELETE, true, true);
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "success"), 1));
    teardown(&f);
}

Test(report, a_follower_counts_no_leader_family)
{
    struct fixture f;

    setup(&f, NULL);
    f.leader = false;
    event(&f, RL_SOURCE_EVENT_UPDATE, true, true);
    rl_report_enqueued(f.report);
    rl_report_reconciled(f.report, RL_KIND_DEPLOYMENT, RL_EIO, 0.1, 0.2);
    cr_assert(eq(dbl, received(&f, "update"), 0));
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "success"), 0));
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "error"), 0));
    cr_assert(eq(dbl, sample(&f, "reloader_workqueue_adds_total", NULL, NULL), 0));

    f.leader = true;
    rl_report_enqueued(f.report);
    rl_report_reconciled(f.report, RL_KIND_DEPLOYMENT, RL_EIO, 0.1, 0.2);
    rl_report_reconciled(f.report, RL_KIND_DEPLOYMENT, RL_ENOTLEADER, 0.1, 0.2);
    cr_assert(eq(dbl, sample(&f, "reloader_workqueue_adds_total", NULL, NULL), 1));
    cr_assert(eq(dbl, sample(&f, "reloader_reconcile_total", "result", "error"), 1));
    cr_assert(eq(dbl, sample(&f, "reloader_retries_total", NULL, NULL), 1));
    teardown(&f);
}

Test(report, a_rollout_result_counts_once_and_a_record_not_at_all)
{
    struct fixture f;
    struct rl_reconcile_result res = {
        .kind = RL_KIND_DEPLOYMENT, .ns = "ns", .name = "app", .uid = "u",
        .action = RL_ACTION_ROLLOUT, .first_type = RL_SOURCE_CONFIGMAP, .first_name = "cfg",
        .seconds = 0.05, .since_event_s = 1.2,
    };

    setup(&f, NULL);
    rl_report_leading(f.report, rl_mono_ms());
    rl_report_result(f.report, &res);
    cr_assert(eq(dbl, sample(&f, "reloader_reload_executed_total", "success", "true"), 1));
    cr_assert(eq(dbl, sample(&f, "reloader_workloads_matched_total", "kind", "Deployment"), 1));
    cr_assert(gt(dbl, sample(&f, "reloader_first_write_after_acquire_seconds", NULL, NULL), 0));

    res.action = RL_ACTION_RECORD;
    rl_report_result(f.report, &res);
    res.action = RL_ACTION_ROLLOUT;
    res.err = RL_ENOTLEADER;            /* refused at the fence: nobody rolled */
    rl_report_result(f.report, &res);
    cr_assert(eq(dbl, sample(&f, "reloader_reload_executed_total", "success", "true"), 1));
    cr_assert(eq(dbl, sample(&f, "reloader_reload_executed_total", "success", "false"), 0));

    res.err = RL_EIO;
    rl_report_result(f.report, &res);
    cr_assert(eq(dbl, sample(&f, "reloader_reload_executed_total", "success", "false"), 1));
    cr_assert(eq(dbl, sample(&f, "reloader_workloads_matched_total", "kind", "Deployment"), 1));
    teardown(&f);
}

Test(report, notifications_are_in_the_table)
{
    struct fixture f;

    setup(&f, NULL);
    rl_report_collect(f.report);
    cr_assert(eq(dbl, sample(&f, "reloader_notifications_total", "kind", "event"), 0));
    cr_assert(not(zero(ptr, (void *)rl_metrics_find(f.metrics, "reloader_notifications_total"))));
    teardown(&f);
}

/* A rollout held by the health gate counts once per report, by kind (no Events here: no sink). */
Test(report, a_health_gate_hold_counts)
{
    struct fixture f;
    struct rl_gate_hold h = {
        .kind = RL_KIND_DEPLOYMENT, .ns = "ns", .name = "app", .uid = "u",
        .type = RL_SOURCE_CONFIGMAP, .source = "cfg",
        .version = "1111111111111111111111111111111111111111", .batch = 2, .members = 2,
        .failed = 1, .timed_out = 1,
    };

    setup(&f, NULL);
    rl_report_gated(f.report, &h);
    rl_report_gated(f.report, &h);
    cr_assert(eq(dbl, sample(&f, "reloader_health_gate_held_total", "kind",
                             rl_kind_metric_name(RL_KIND_DEPLOYMENT)), 2));
    teardown(&f);
}
