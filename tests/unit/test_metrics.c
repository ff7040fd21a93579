#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "promparse.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/procstat.h"
#include "reloadd/ops/metrics.h"

/* Exposes m and parses the text strictly; fails the test if it does not parse. */
static void scrape(struct rl_metrics *m, struct rl_buf *text, struct prom_doc *doc)
{
    char err[256];

    rl_buf_init(text, 0);
    cr_assert(eq(int, rl_metrics_expose(m, text), 0));
    cr_assert(eq(int, prom_parse(text->buf, text->len, doc, err, sizeof(err)), 0),
              "exposition rejected: %s\n%s", err, text->buf);
}

static double value_of(const struct prom_doc *doc, const struct prom_sample *s)
{
    (void)doc;
    cr_assert(s != NULL, "sample not found");
    return s->value;
}

static struct rl_metrics *new_reloadd(bool by_ns, bool process)
{
    struct rl_metrics_opts opts = { .count_by_namespace = by_ns, .process = process,
                                    .api_host = "10.96.0.1:443" };

    return rl_metrics_new(&opts);
}

/* ---- concurrency ---- */

#define THREADS 8
#define ROUNDS 100000

struct worker {
    struct rl_metric *counter;
    struct rl_metric *hist;
    struct rl_metric *gauge;
    int id;
};

static void *hammer(void *arg)
{
    struct worker *w = arg;
    char own[16];
    const char *shared[] = { "shared" };

    snprintf(own, sizeof(own), "w%d", w->id);
    for (int i = 0; i < ROUNDS; i++) {
        const char *mine[] = { own };
        char key[16];
        const char *k[] = { key };

        rl_series_inc(rl_metric_series(w->counter, shared, 1));
        rl_series_add(rl_metric_series(w->counter, mine, 1), 2);
        rl_series_observe(rl_metric_series(w->hist, NULL, 0), (double)(i % 4));
        rl_series_add(rl_metric_series(w->gauge, NULL, 0), (i & 1) ? -1.0 : 1.0);
        /* Every thread races to create the same 64 series. */
        snprintf(key, sizeof(key), "k%d", i % 64);
        rl_series_inc(rl_metric_series(w->counter, k, 1));
    }
    return NULL;
}

Test(metrics, concurrent_updates_from_8_threads_are_exact)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc c = { "t_ops_total", "ops", RL_METRIC_COUNTER,
                                RL_METRIC_LABELS("who"), RL_METRIC_NO_BUCKETS };
    struct rl_metric_desc h = { "t_size", "sizes", RL_METRIC_HISTOGRAM, RL_METRIC_NO_LABELS,
                                RL_METRIC_BUCKETS(0, 1, 2) };
    struct rl_metric_desc g = { "t_level", "level", RL_METRIC_GAUGE, RL_METRIC_NO_LABELS,
                                RL_METRIC_NO_BUCKETS };
    struct worker w[THREADS];
    pthread_t t[THREADS];
    struct rl_buf text;
    struct prom_doc doc;
    struct rl_metric *cf, *hf, *gf;

    cr_assert(eq(int, rl_metrics_register(m, &c, &cf), 0));
    cr_assert(eq(int, rl_metrics_register(m, &h, &hf), 0));
    cr_assert(eq(int, rl_metrics_register(m, &g, &gf), 0));
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){ cf, hf, gf, i };
        pthread_create(&t[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);

    scrape(m, &text, &doc);
    cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_ops_total", "who", "shared", NULL)),
                 (double)THREADS * ROUNDS));
    for (int i = 0; i < THREADS; i++) {
        char own[16];

        snprintf(own, sizeof(own), "w%d", i);
        cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_ops_total", "who", own, NULL)),
                     2.0 * ROUNDS));
    }
    for (int k = 0; k < 64; k++) {
        char key[16];
        double per = (double)THREADS * (ROUNDS / 64 + (k < ROUNDS % 64 ? 1 : 0));

        snprintf(key, sizeof(key), "k%d", k);
        cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_ops_total", "who", key, NULL)),
                     per));
    }
    /* 1 shared + 8 own + 64 raced: no duplicates from the creation race. */
    cr_assert(eq(sz, prom_family(&doc, "t_ops_total")->nsamples, 1 + THREADS + 64));
    cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_size_count", NULL)),
                 (double)THREADS * ROUNDS));
    /* Values 0,1,2,3 in turn: each bucket gets a quarter more. */
    cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_size_bucket", "le", "0", NULL)),
                 THREADS * ROUNDS / 4.0));
    cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_size_bucket", "le", "2", NULL)),
                 THREADS * ROUNDS * 3 / 4.0));
    cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_size_sum", NULL)),
                 THREADS * (ROUNDS / 4.0) * 6));
    cr_assert(eq(dbl, value_of(&doc, prom_sample(&doc, "t_level", NULL)), 0.0));

    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

/* ---- histograms ---- */

Test(metrics, histogram_buckets_are_cumulative_and_le_inclusive)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc d = { "lat_seconds", "latency", RL_METRIC_HISTOGRAM,
                                RL_METRIC_LABELS("op"), RL_METRIC_BUCKETS(0.1, 0.5, 1) };
    const double obs[] = { 0.05, 0.1, 0.2, 0.5, 0.7, 1.0, 3.0, INFINITY, NAN };
    struct rl_metric *f;
    struct rl_series *s;
    struct rl_buf text;
    struct prom_doc doc;

    cr_assert(eq(int, rl_metrics_register(m, &d, &f), 0));
    s = rl_metric_series(f, (const char *const[]){ "get" }, 1);
    for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++)
        rl_series_observe(s, obs[i]);
    cr_assert(eq(u64, rl_series_count(s), 8), "NaN is not counted");

    scrape(m, &text, &doc);
    cr_assert(eq(dbl, prom_sample(&doc, "lat_seconds_bucket", "op", "get", "le", "0.1", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "lat_seconds_bucket", "op", "get", "le", "0.5", NULL)->value, 4));
    cr_assert(eq(dbl, prom_sample(&doc, "lat_seconds_bucket", "op", "get", "le", "1", NULL)->value, 6));
    cr_assert(eq(dbl, prom_sample(&doc, "lat_seconds_bucket", "op", "get", "le", "+Inf", NULL)->value, 8));
    cr_assert(eq(dbl, prom_sample(&doc, "lat_seconds_count", "op", "get", NULL)->value, 8));
    cr_assert(isinf(prom_sample(&doc, "lat_seconds_sum", "op", "get", NULL)->value));
    cr_assert(eq(int, prom_family(&doc, "lat_seconds")->type, PROM_HISTOGRAM));
    cr_assert(eq(str, prom_family(&doc, "lat_seconds")->help, "latency"));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

/* ---- escaping and order ---- */

Test(metrics, label_values_and_help_are_escaped)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc d = { "esc_total", "a \\ backslash\nand a newline \"quoted\"",
                                RL_METRIC_COUNTER, RL_METRIC_LABELS("v"), RL_METRIC_NO_BUCKETS };
    const char *nasty = "back\\slash \"quote\"\nnew line, {brace}=";
    struct rl_metric *f;
    struct rl_buf text;
    struct prom_doc doc;

    cr_assert(eq(int, rl_metrics_register(m, &d, &f), 0));
    rl_series_inc(rl_metric_series(f, &nasty, 1));
    scrape(m, &text, &doc);
    cr_assert(strstr(text.buf, "# HELP esc_total a \\\\ backslash\\nand a newline \"quoted\"\n") != NULL,
              "%s", text.buf);
    cr_assert(strstr(text.buf,
                     "esc_total{v=\"back\\\\slash \\\"quote\\\"\\nnew line, {brace}=\"} 1\n") != NULL,
              "%s", text.buf);
    /* The parser gets the original strings back. */
    cr_assert(eq(str, prom_family(&doc, "esc_total")->help, (char *)d.help));
    cr_assert(eq(dbl, prom_sample(&doc, "esc_total", "v", nasty, NULL)->value, 1));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, invalid_utf8_label_value_is_repaired_to_one_series)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc d = { "u_total", "u", RL_METRIC_COUNTER, RL_METRIC_LABELS("v"),
                                RL_METRIC_NO_BUCKETS };
    const char *bad = "ab\xff\xc0z";
    struct rl_metric *f;
    struct rl_buf text;
    struct prom_doc doc;

    cr_assert(eq(int, rl_metrics_register(m, &d, &f), 0));
    rl_series_inc(rl_metric_series(f, &bad, 1));
    rl_series_inc(rl_metric_series(f, &bad, 1));
    scrape(m, &text, &doc);
    cr_assert(eq(dbl, prom_sample(&doc, "u_total", "v", "ab\xef\xbf\xbd\xef\xbf\xbdz", NULL)->value, 2));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, families_and_series_come_out_sorted)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc z = { "zeta", "z", RL_METRIC_GAUGE, RL_METRIC_LABELS("a", "b"),
                                RL_METRIC_NO_BUCKETS };
    struct rl_metric_desc a = { "alpha", "a", RL_METRIC_GAUGE, RL_METRIC_NO_LABELS,
                                RL_METRIC_NO_BUCKETS };
    struct rl_metric_desc e = { "empty", "never used", RL_METRIC_GAUGE, RL_METRIC_LABELS("x"),
                                RL_METRIC_NO_BUCKETS };
    struct rl_metric *zf;
    struct rl_buf text;

    cr_assert(eq(int, rl_metrics_register(m, &z, &zf), 0));
    cr_assert(eq(int, rl_metrics_register(m, &a, NULL), 0));
    cr_assert(eq(int, rl_metrics_register(m, &e, NULL), 0));
    rl_series_set(rl_metric_series(zf, (const char *const[]){ "y", "2" }, 2), 3);
    rl_series_set(rl_metric_series(zf, (const char *const[]){ "x", "9" }, 2), 1.5);
    rl_series_set(rl_metric_series(zf, (const char *const[]){ "y", "1" }, 2), -2);
    rl_series_set(rl_metric_series(zf, (const char *const[]){ NULL, "0" }, 2), 1e-7);

    rl_buf_init(&text, 0);
    cr_assert(eq(int, rl_metrics_expose(m, &text), 0));
    cr_assert(eq(str, text.buf,
                 "# HELP alpha a\n"
                 "# TYPE alpha gauge\n"
                 "alpha 0\n"
                 "# HELP zeta z\n"
                 "# TYPE zeta gauge\n"
                 "zeta{a=\"\",b=\"0\"} 1e-07\n"
                 "zeta{a=\"x\",b=\"9\"} 1.5\n"
                 "zeta{a=\"y\",b=\"1\"} -2\n"
                 "zeta{a=\"y\",b=\"2\"} 3\n"));
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, expose_reports_a_full_buffer)
{
    struct rl_metrics *m = new_reloadd(false, false);
    struct rl_buf text;

    rl_buf_init(&text, 100);
    cr_assert(eq(int, rl_metrics_expose(m, &text), RL_ETOOBIG));
    rl_buf_release(&text);
    rl_metrics_free(m);
}

/* ---- registration ---- */

Test(metrics, register_rejects_bad_descriptors)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc ok = { "h", "h", RL_METRIC_HISTOGRAM, RL_METRIC_NO_LABELS,
                                 RL_METRIC_BUCKETS(1, 2) };
    struct rl_metric_desc bad[] = {
        { "", "x", RL_METRIC_COUNTER, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS },
        { "9lives", "x", RL_METRIC_COUNTER, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS },
        { "has-dash", "x", RL_METRIC_COUNTER, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS },
        { "nohelp", NULL, RL_METRIC_COUNTER, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS },
        { "l1", "x", RL_METRIC_COUNTER, RL_METRIC_LABELS("__reserved"), RL_METRIC_NO_BUCKETS },
        { "l2", "x", RL_METRIC_COUNTER, RL_METRIC_LABELS("a:b"), RL_METRIC_NO_BUCKETS },
        { "l3", "x", RL_METRIC_COUNTER, RL_METRIC_LABELS("a", "a"), RL_METRIC_NO_BUCKETS },
        { "l4", "x", RL_METRIC_COUNTER, RL_METRIC_LABELS("a", "b", "c", "d", "e"),
          RL_METRIC_NO_BUCKETS },
        { "l5", "x", RL_METRIC_HISTOGRAM, RL_METRIC_LABELS("le"), RL_METRIC_BUCKETS(1) },
        { "b1", "x", RL_METRIC_HISTOGRAM, RL_METRIC_NO_LABELS, RL_METRIC_BUCKETS(2, 1) },
        { "b2", "x", RL_METRIC_HISTOGRAM, RL_METRIC_NO_LABELS, RL_METRIC_BUCKETS(1, 1) },
        { "b3", "x", RL_METRIC_HISTOGRAM, RL_METRIC_NO_LABELS, RL_METRIC_BUCKETS(1, NAN) },
        { "b4", "x", RL_METRIC_HISTOGRAM, RL_METRIC_NO_LABELS, RL_METRIC_BUCKETS(1, INFINITY) },
        { "b5", "x", RL_METRIC_COUNTER, RL_METRIC_NO_LABELS, RL_METRIC_BUCKETS(1) },
        /* Clashes with the histogram "h" registered first. */
        { "h", "x", RL_METRIC_GAUGE, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS },
        { "h_count", "x", RL_METRIC_GAUGE, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS },
        { "h_bucket", "x", RL_METRIC_COUNTER, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS },
    };

    cr_assert(eq(int, rl_metrics_register(m, &ok, NULL), 0));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(eq(int, rl_metrics_register(m, &bad[i], NULL), RL_EINVAL),
                  "descriptor %zu (%s) accepted", i, bad[i].name);
    /* And the reverse clash: a gauge "g_sum" blocks a histogram "g". */
    cr_assert(eq(int, rl_metrics_register(m, &(struct rl_metric_desc){ "g_sum", "x",
                  RL_METRIC_GAUGE, RL_METRIC_NO_LABELS, RL_METRIC_NO_BUCKETS }, NULL), 0));
    cr_assert(eq(int, rl_metrics_register(m, &(struct rl_metric_desc){ "g", "x",
                  RL_METRIC_HISTOGRAM, RL_METRIC_NO_LABELS, RL_METRIC_BUCKETS(1) }, NULL),
                 RL_EINVAL));
    rl_metrics_free(m);
}

Test(metrics, family_stops_growing_at_the_series_cap)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc d = { "many_total", "x", RL_METRIC_COUNTER, RL_METRIC_LABELS("i"),
                                RL_METRIC_NO_BUCKETS };
    struct rl_metric *f;
    struct rl_series *first, *sink, *again;
    struct rl_buf text;
    struct prom_doc doc;
    char v[16];
    const char *vv[] = { v };

    cr_assert(eq(int, rl_metrics_register(m, &d, &f), 0));
    for (int i = 0; i < RL_METRIC_MAX_SERIES; i++) {
        snprintf(v, sizeof(v), "%d", i);
        rl_series_inc(rl_metric_series(f, vv, 1));
    }
    snprintf(v, sizeof(v), "0");
    first = rl_metric_series(f, vv, 1);
    snprintf(v, sizeof(v), "overflow");
    sink = rl_metric_series(f, vv, 1);
    rl_series_inc(sink);
    snprintf(v, sizeof(v), "overflow2");
    again = rl_metric_series(f, vv, 1);
    cr_assert(eq(ptr, sink, again), "past the cap, every new tuple shares the sink");
    cr_assert(ne(ptr, first, sink));

    scrape(m, &text, &doc);
    cr_assert(eq(sz, prom_family(&doc, "many_total")->nsamples, RL_METRIC_MAX_SERIES));
    cr_assert(prom_sample(&doc, "many_total", "i", "overflow", NULL) == NULL);
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, counters_ignore_negative_and_nan_adds)
{
    struct rl_metrics *m = rl_metrics_new_empty();
    struct rl_metric_desc d = { "c_total", "c", RL_METRIC_COUNTER, RL_METRIC_NO_LABELS,
                                RL_METRIC_NO_BUCKETS };
    struct rl_metric *f;
    struct rl_series *s;

    cr_assert(eq(int, rl_metrics_register(m, &d, &f), 0));
    s = rl_metric_series(f, NULL, 0);
    rl_series_add(s, 2.5);
    rl_series_add(s, -1);
    rl_series_add(s, NAN);
    cr_assert(eq(dbl, rl_series_value(s), 2.5));
    rl_metrics_free(m);
}

/* ---- reloadd's families ---- */

Test(metrics, every_reloadd_family_is_registered_with_its_descriptor)
{
    struct rl_metrics *m = new_reloadd(true, true);

    for (int id = 0; id < RL_M__COUNT; id++) {
        const struct rl_metric_desc *d = rl_metrics_desc((enum rl_metric_id)id);

        cr_assert(d != NULL);
        cr_assert(rl_metrics_get(m, (enum rl_metric_id)id) != NULL, "%s missing", d->name);
        cr_assert(eq(ptr, rl_metrics_find(m, d->name), rl_metrics_get(m, (enum rl_metric_id)id)));
        cr_assert(d->type == RL_METRIC_HISTOGRAM ? d->nbuckets > 0 : d->nbuckets == 0);
    }
    cr_assert(rl_metrics_desc(RL_M__COUNT) == NULL);
    rl_metrics_free(m);
}

Test(metrics, reloader_names_labels_and_buckets_match_section_8)
{
    static const struct {
        enum rl_metric_id id;
        const char *name;
        const char *labels;
        const char *buckets;
    } want[] = {
        { RL_M_RELOAD_EXECUTED, "reloader_reload_executed_total", "success", "" },
        { RL_M_RELOAD_EXECUTED_BY_NS, "reloader_reload_executed_total_by_namespace",
          "success,namespace", "" },
        { RL_M_RECONCILE_TOTAL, "reloader_reconcile_total", "result", "" },
        { RL_M_RECONCILE_DURATION, "reloader_reconcile_duration_seconds", "result",
          "0.001,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10" },
        { RL_M_ACTION_TOTAL, "reloader_action_total", "workload_kind,result", "" },
        { RL_M_ACTION_LATENCY, "reloader_action_latency_seconds", "workload_kind",
          "0.01,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60" },
        { RL_M_SKIPPED, "reloader_skipped_total", "reason", "" },
        { RL_M_WORKQUEUE_DEPTH, "reloader_workqueue_depth", "", "" },
        { RL_M_WORKQUEUE_ADDS, "reloader_workqueue_adds_total", "", "" },
        { RL_M_WORKQUEUE_LATENCY, "reloader_workqueue_latency_seconds", "",
          "0.001,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5" },
        { RL_M_ERRORS, "reloader_errors_total", "type", "" },
        { RL_M_RETRIES, "reloader_retries_total", "", "" },
        { RL_M_EVENTS_RECEIVED, "reloader_events_received_total", "event_type,resource_type", "" },
        { RL_M_EVENTS_PROCESSED, "reloader_events_processed_total",
          "event_type,resource_type,result", "" },
        { RL_M_WORKLOADS_SCANNED, "reloader_workloads_scanned_total", "kind", "" },
        { RL_M_WORKLOADS_MATCHED, "reloader_workloads_matched_total", "kind", "" },
        { RL_M_REST_CLIENT_REQUESTS, "rest_client_requests_total", "code,method,host", "" },
        { RL_M_REST_CLIENT_DURATION, "rest_client_request_duration_seconds", "verb,host",
          "0.001,0.01,0.05,0.1,0.5,1,5,10,30" },
    };

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct rl_metric_desc *d = rl_metrics_desc(want[i].id);
        char labels[128] = "", buckets[256] = "";

        for (size_t j = 0; d->labels[j]; j++)
            snprintf(labels + strlen(labels), sizeof(labels) - strlen(labels), "%s%s",
                     j ? "," : "", d->labels[j]);
        for (size_t j = 0; j < d->nbuckets; j++)
            snprintf(buckets + strlen(buckets), sizeof(buckets) - strlen(buckets), "%s%g",
                     j ? "," : "", d->buckets[j]);
        cr_assert(eq(str, (char *)d->name, (char *)want[i].name));
        cr_assert(eq(str, labels, (char *)want[i].labels), "%s", d->name);
        cr_assert(eq(str, buckets, (char *)want[i].buckets), "%s", d->name);
    }
}

Test(metrics, fresh_registry_exposes_preinitialised_series_and_parses)
{
    struct rl_metrics *m = new_reloadd(false, false);
    struct rl_buf text;
    struct prom_doc doc;

    scrape(m, &text, &doc);
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total", "success", "true", NULL)->value, 0));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total", "success", "false", NULL)->value, 0));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_is_leader", NULL)->value, 0));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_workqueue_latency_seconds_count", NULL)->value, 0));
    cr_assert(prom_family(&doc, "reloader_reload_executed_total_by_namespace") == NULL);
    cr_assert(prom_family(&doc, "process_resident_memory_bytes") == NULL);
    /* Labelled families appear once they have a series. */
    cr_assert(prom_family(&doc, "reloader_reconcile_total") == NULL);
    for (size_t i = 0; i < doc.nfamilies; i++) {
        cr_assert(doc.families[i].has_type, "%s has no TYPE", doc.families[i].name);
        cr_assert(doc.families[i].help != NULL, "%s has no HELP", doc.families[i].name);
    }
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, events_move_their_families)
{
    struct rl_metrics *m = new_reloadd(false, false);
    struct rl_buf text;
    struct prom_doc doc;

    for (int i = 0; i < 5; i++)
        rl_metrics_reload_executed(m, true, "ns1");
    rl_metrics_reload_executed(m, false, "ns2");
    for (int i = 0; i < 3; i++)
        rl_metrics_reconcile(m, RL_METRICS_SUCCESS, 0.02);
    rl_metrics_reconcile(m, RL_METRICS_SKIPPED, 0.0005);
    rl_metrics_action(m, "Deployment", true, 0.3);
    rl_metrics_action(m, "StatefulSet", false, 2);
    rl_metrics_skipped(m, RL_METRICS_SKIP_NO_DATA_CHANGE);
    rl_metrics_workqueue_add(m);
    rl_metrics_workqueue_add(m);
    rl_metrics_workqueue_latency(m, 0.004);
    rl_metrics_error(m, RL_METRICS_ERR_INVALID_HANDLER);
    rl_metrics_retry(m);
    rl_metrics_event_received(m, RL_METRICS_EVENT_UPDATE, "configmaps");
    rl_metrics_event_processed(m, RL_METRICS_EVENT_DELETE, "secrets", true);
    rl_metrics_workloads_scanned(m, "Deployment", 7);
    rl_metrics_workloads_matched(m, "Deployment", 2);
    rl_metrics_reconcile_latency(m, 1.2);
    rl_metrics_startup_sync(m, 4.5);
    rl_metrics_watch_restart(m, "configmaps");
    rl_metrics_relist(m, "secrets");
    rl_metrics_cached_objects(m, "ConfigMap", 42);
    rl_metrics_cached_objects(m, "ConfigMap", 40);
    rl_metrics_first_write_after_acquire(m, 0.25);

    scrape(m, &text, &doc);
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total", "success", "true", NULL)->value, 5));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total", "success", "false", NULL)->value, 1));
    /* Counted once per reconcile: Reloader's double count is gone. */
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reconcile_total", "result", "success", NULL)->value, 3));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reconcile_total", "result", "skipped", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reconcile_duration_seconds_count", "result", "success", NULL)->value, 3));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reconcile_duration_seconds_bucket", "result", "skipped", "le", "0.001", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_action_total", "workload_kind", "Deployment", "result", "success", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_action_total", "workload_kind", "StatefulSet", "result", "error", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_action_latency_seconds_bucket", "workload_kind", "StatefulSet", "le", "1", NULL)->value, 0));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_action_latency_seconds_bucket", "workload_kind", "StatefulSet", "le", "2.5", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_skipped_total", "reason", "no_data_change", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_workqueue_adds_total", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_workqueue_latency_seconds_bucket", "le", "0.005", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_errors_total", "type", "invalid_handler_type", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_retries_total", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_events_received_total", "event_type", "update", "resource_type", "configmaps", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_events_processed_total", "event_type", "delete", "resource_type", "secrets", "result", "dropped", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_workloads_scanned_total", "kind", "Deployment", NULL)->value, 7));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_workloads_matched_total", "kind", "Deployment", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reconcile_latency_seconds_bucket", "le", "1.5", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reconcile_latency_seconds_bucket", "le", "1", NULL)->value, 0));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_startup_sync_seconds", NULL)->value, 4.5));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_watch_restarts_total", "resource", "configmaps", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_relists_total", "resource", "secrets", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_cached_objects", "kind", "ConfigMap", NULL)->value, 40));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_first_write_after_acquire_seconds", NULL)->value, 0.25));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, by_namespace_family_only_when_enabled)
{
    struct rl_metrics *off = new_reloadd(false, false);
    struct rl_metrics *on = new_reloadd(true, false);
    struct rl_buf text;
    struct prom_doc doc;

    rl_metrics_reload_executed(off, true, "team-a");
    cr_assert(rl_metrics_get(off, RL_M_RELOAD_EXECUTED_BY_NS) == NULL);
    cr_assert(rl_metrics_find(off, "reloader_reload_executed_total_by_namespace") == NULL);

    rl_metrics_reload_executed(on, true, "team-a");
    rl_metrics_reload_executed(on, true, "team-a");
    rl_metrics_reload_executed(on, false, "team-b");
    scrape(on, &text, &doc);
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total_by_namespace", "success", "true", "namespace", "team-a", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total_by_namespace", "success", "false", "namespace", "team-b", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total", "success", "true", NULL)->value, 2));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(on);
    rl_metrics_free(off);
}

Test(metrics, opts_from_env_needs_exactly_enabled)
{
    struct rl_metrics_opts o;

    setenv("METRICS_COUNT_BY_NAMESPACE", "enabled", 1);
    rl_metrics_opts_from_env(&o);
    cr_assert(o.count_by_namespace);
    cr_assert(o.process);
    setenv("METRICS_COUNT_BY_NAMESPACE", "Enabled", 1);
    rl_metrics_opts_from_env(&o);
    cr_assert(o.count_by_namespace == false);
    unsetenv("METRICS_COUNT_BY_NAMESPACE");
    rl_metrics_opts_from_env(&o);
    cr_assert(o.count_by_namespace == false);
}

Test(metrics, workqueue_depth_is_the_sum_of_shards)
{
    struct rl_metrics *m = new_reloadd(false, false);
    struct rl_buf text;
    struct prom_doc doc;

    rl_metrics_queue_depth(m, 0, 5);
    rl_metrics_queue_depth(m, 1, 3);
    rl_metrics_queue_depth(m, 0, 2);
    rl_metrics_queue_depth(m, 2, 0);
    scrape(m, &text, &doc);
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_queue_depth", "shard", "0", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_queue_depth", "shard", "1", NULL)->value, 3));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_queue_depth", "shard", "2", NULL)->value, 0));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_workqueue_depth", NULL)->value, 5));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, leader_transitions_count_changes_only)
{
    struct rl_metrics *m = new_reloadd(false, false);
    struct rl_series *is = rl_metric_series(rl_metrics_get(m, RL_M_IS_LEADER), NULL, 0);
    struct rl_series *tr = rl_metric_series(rl_metrics_get(m, RL_M_LEADER_TRANSITIONS), NULL, 0);

    rl_metrics_leader(m, false);
    cr_assert(eq(dbl, rl_series_value(tr), 0));
    rl_metrics_leader(m, true);
    rl_metrics_leader(m, true);
    cr_assert(eq(dbl, rl_series_value(is), 1));
    cr_assert(eq(dbl, rl_series_value(tr), 1));
    rl_metrics_leader(m, false);
    cr_assert(eq(dbl, rl_series_value(is), 0));
    cr_assert(eq(dbl, rl_series_value(tr), 2));
    rl_metrics_free(m);
}

Test(metrics, api_requests_feed_ours_and_rest_client)
{
    struct rl_metrics *m = new_reloadd(false, false);
    struct rl_buf text;
    struct prom_doc doc;

    rl_metrics_api_request(m, "patch", "deployments", 200, 0.03);
    rl_metrics_api_request(m, "patch", "deployments", 409, 0.02);
    rl_metrics_api_request(m, "list", "configmaps", 200, 0.2);
    rl_metrics_api_request(m, "watch", "configmaps", 0, 0.001);
    scrape(m, &text, &doc);
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_api_requests_total", "verb", "patch", "resource", "deployments", "code", "409", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_api_requests_total", "verb", "watch", "resource", "configmaps", "code", "<error>", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_api_request_duration_seconds_count", "verb", "patch", "resource", "deployments", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "rest_client_requests_total", "code", "200", "method", "GET", "host", "10.96.0.1:443", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "rest_client_requests_total", "code", "200", "method", "PATCH", "host", "10.96.0.1:443", NULL)->value, 1));
    cr_assert(eq(dbl, prom_sample(&doc, "rest_client_request_duration_seconds_count", "verb", "GET", "host", "10.96.0.1:443", NULL)->value, 2));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(metrics, null_registry_helpers_do_nothing)
{
    rl_metrics_reload_executed(NULL, true, "x");
    rl_metrics_reconcile(NULL, RL_METRICS_ERROR, 1);
    rl_metrics_api_request(NULL, "get", "leases", 200, 0.1);
    rl_metrics_queue_depth(NULL, 1, 1);
    rl_metrics_leader(NULL, true);
    rl_metrics_free(NULL);
    cr_assert(rl_metrics_get(NULL, RL_M_IS_LEADER) == NULL);
}

/* ---- process_* ---- */

Test(metrics, process_families_read_this_process)
{
    struct rl_metrics *m = new_reloadd(false, true);
    struct rl_buf text;
    struct prom_doc doc;
    double now = (double)time(NULL);
    const struct prom_sample *s;

    scrape(m, &text, &doc);
    cr_assert(prom_sample(&doc, "process_resident_memory_bytes", NULL)->value > 1024 * 1024);
    cr_assert(prom_sample(&doc, "process_virtual_memory_bytes", NULL)->value >=
              prom_sample(&doc, "process_resident_memory_bytes", NULL)->value);
    cr_assert(prom_sample(&doc, "process_cpu_seconds_total", NULL)->value >= 0);
    cr_assert(prom_sample(&doc, "process_open_fds", NULL)->value >= 3);
    cr_assert(prom_sample(&doc, "process_max_fds", NULL)->value >=
              prom_sample(&doc, "process_open_fds", NULL)->value);
    s = prom_sample(&doc, "process_start_time_seconds", NULL);
    cr_assert(s->value > now - 3600 && s->value <= now + 2, "start %f now %f", s->value, now);
    cr_assert(prom_sample(&doc, "process_threads", NULL)->value >= 1);
    cr_assert(eq(int, prom_family(&doc, "process_cpu_seconds_total")->type, PROM_COUNTER));
    prom_doc_release(&doc);
    rl_buf_release(&text);
    rl_metrics_free(m);
}

Test(procstat, parses_stat_with_awkward_comm)
{
    /* comm "a) (b c" holds spaces and parentheses. */
    const char *stat =
        "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 7 0 "
        "12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
    struct rl_procstat ps = { 0 };
    double btime = 0;

    cr_assert(eq(int, rl_procstat_parse_btime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocs 9\n",
                                              &btime), 0));
    cr_assert(eq(dbl, btime, 1700000000.0));
    cr_assert(eq(int, rl_procstat_parse_stat(stat, 100, 4096, btime, &ps), 0));
    cr_assert(eq(dbl, ps.cpu_seconds, 4.0));
    cr_assert(eq(u64, ps.threads, 7));
    cr_assert(eq(dbl, ps.start_time_s, 1700000123.45));
    cr_assert(eq(u64, ps.vsize_bytes, 104857600));
    cr_assert(eq(u64, ps.rss_bytes, 2560ull * 4096));
}

Test(procstat, rejects_malformed_input)
{
    struct rl_procstat ps = { 0 };
    double btime;

    cr_assert(eq(int, rl_procstat_parse_stat("", 100, 4096, 0, &ps), RL_EPARSE));
    cr_assert(eq(int, rl_procstat_parse_stat("1 (x S 1 2", 100, 4096, 0, &ps), RL_EPARSE));
    cr_assert(eq(int, rl_procstat_parse_stat("1 (x) S 1 2 3", 100, 4096, 0, &ps), RL_EPARSE));
    cr_assert(eq(int, rl_procstat_parse_stat(
        "1 (x) S 1 1 1 0 -1 0 0 0 0 0 abc 1 0 0 20 0 1 0 1 1 1\n", 100, 4096, 0, &ps), RL_EPARSE));
    cr_assert(eq(int, rl_procstat_parse_stat(
        "1 (x) S 1 1 1 0 -1 0 0 0 0 0 1 1 0 0 20 0 1 0 1 1 -5\n", 100, 4096, 0, &ps), RL_EPARSE));
    cr_assert(eq(int, rl_procstat_parse_stat("1 (x) S", 0, 4096, 0, &ps), RL_EINVAL));
    cr_assert(eq(int, rl_procstat_parse_btime("cpu 1\n", &btime), RL_EPARSE));
    cr_assert(eq(int, rl_procstat_parse_btime("btime x1\n", &btime), RL_EPARSE));
    cr_assert(eq(int, rl_procstat_parse_btime("btime \n", &btime), RL_EPARSE));
}

Test(procstat, reads_this_process)
{
    struct rl_procstat ps;

    cr_assert(eq(int, rl_procstat_read(&ps), 0));
    cr_assert(ps.rss_bytes > 0);
    cr_assert(ps.threads >= 1);
    cr_assert(ps.open_fds >= 3);
}

/* ---- the strict parser itself ---- */

static void expect_reject(const char *text, const char *why)
{
    struct prom_doc doc;
    char err[256];

    cr_expect(eq(int, prom_parse(text, strlen(text), &doc, err, sizeof(err)), -1),
              "accepted (%s):\n%s", why, text);
    cr_expect(err[0] != '\0', "no message for: %s", why);
}

static void expect_accept(const char *text)
{
    struct prom_doc doc;
    char err[256];

    cr_expect(eq(int, prom_parse(text, strlen(text), &doc, err, sizeof(err)), 0),
              "rejected: %s\n%s", err, text);
    prom_doc_release(&doc);
}

Test(promparse, accepts_valid_edge_cases)
{
    expect_accept("");
    expect_accept("# a comment\n\nup 1\n");
    expect_accept("# HELP x_total Some \\\\ text\\n here.\n# TYPE x_total counter\nx_total 3 1700000000000\n");
    expect_accept("# TYPE g gauge\ng{a=\"1\",b=\"\\\"q\\\" \\\\ \\n\",} -Inf\ng{a=\"2\"} NaN\n");
    expect_accept("m{} 1e-07\nm2 +1.5E+3\n");
    expect_accept("# TYPE h histogram\nh_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\n");
    expect_accept("# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 1\n");
    expect_accept("x\t{a=\"\xc3\xa9\"} 1\n");
}

Test(promparse, rejects_malformed_text)
{
    expect_reject("up 1", "no final newline");
    expect_reject("up{a=\"\xff\"} 1\n", "invalid UTF-8");
    expect_reject("9up 1\n", "name starts with a digit");
    expect_reject("up-time 1\n", "dash in name");
    expect_reject("up{9a=\"x\"} 1\n", "label name starts with a digit");
    expect_reject("up{__name__=\"x\"} 1\n", "reserved label name");
    expect_reject("up{a=\"x\",a=\"y\"} 1\n", "duplicate label");
    expect_reject("up{a=x} 1\n", "unquoted label value");
    expect_reject("up{a=\"x} 1\n", "unterminated label value");
    expect_reject("up{a=\"\\t\"} 1\n", "bad escape in label value");
    expect_reject("up{a=\"x\" b=\"y\"} 1\n", "missing comma");
    expect_reject("up{a=\"x\"\n", "missing brace and value");
    expect_reject("up\n", "no value");
    expect_reject("up one\n", "value not a number");
    expect_reject("up 0x10\n", "hex value");
    expect_reject("up inf\n", "lower-case inf");
    expect_reject("up 1 2 3\n", "text after timestamp");
    expect_reject("up 1 1.5\n", "fractional timestamp");
    expect_reject("up{a=\"1\"}1\n", "no blank before value");
    expect_reject("# HELP x a \\t b\n", "bad escape in HELP");
    expect_reject("# HELP x one\n# HELP x two\n", "second HELP");
    expect_reject("# TYPE x counter\n# TYPE x gauge\n", "second TYPE");
    expect_reject("# TYPE x countr\n", "unknown type");
    expect_reject("# TYPE x counter extra\n", "text after type");
    expect_reject("# TYPE\n", "TYPE without name");
    expect_reject("x 1\n# TYPE x gauge\n", "TYPE after samples");
    expect_reject("# TYPE x gauge\nx 1\ny 2\nx 3\n", "family not contiguous");
    expect_reject("# TYPE x gauge\n# TYPE y gauge\n# HELP x late\n", "HELP returns to x");
    expect_reject("x 1\nx 2\n", "duplicate series");
    expect_reject("x{a=\"1\",b=\"2\"} 1\nx{b=\"2\",a=\"1\"} 2\n", "duplicate series, labels reordered");
    expect_reject("# TYPE c counter\nc -1\n", "negative counter");
    expect_reject("# TYPE c counter\nc NaN\n", "NaN counter");
    expect_reject("# TYPE c counter\nc_total 1\nc 1\n", "wrong sample name (c_total is untyped, then c returns)");
    expect_reject("# TYPE h histogram\nh 1\n", "bare sample in histogram");
    expect_reject("# TYPE h histogram\nh_bucket 1\nh_sum 1\nh_count 1\n", "bucket without le");
    expect_reject("# TYPE h histogram\nh_bucket{le=\"abc\"} 1\n", "bad le");
    expect_reject("# TYPE h histogram\nh_sum{le=\"1\"} 1\n", "le on _sum");
    expect_reject("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", "+Inf != _count");
    expect_reject("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n", "no +Inf bucket");
    expect_reject("# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n", "bucket counts decrease");
    expect_reject("# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "le not increasing");
    expect_reject("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "no _sum");
    expect_reject("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\nh_sum 1\nh_count 1.5\n", "fractional count");
    expect_reject("# TYPE h histogram\n# TYPE h_count gauge\n", "h_count belongs to h");
    expect_reject("h_count 1\n# TYPE h histogram\n", "h would own an existing family");
    expect_reject("# TYPE s summary\ns 1\n", "summary without quantile");
}

Test(promparse, rejects_embedded_nul)
{
    const char text[] = "up 1\n\0up 2\n";
    struct prom_doc doc;
    char err[256];

    cr_assert(eq(int, prom_parse(text, sizeof(text) - 1, &doc, err, sizeof(err)), -1));
    cr_assert(strstr(err, "NUL") != NULL, "%s", err);
}

Test(promparse, reports_the_line)
{
    const char *text = "a 1\nb 2\nc{x=\"\\q\"} 3\n";
    struct prom_doc doc;
    char err[256];

    cr_assert(eq(int, prom_parse(text, strlen(text), &doc, err, sizeof(err)), -1));
    cr_assert(strncmp(err, "line 3:", 7) == 0, "%s", err);
}
