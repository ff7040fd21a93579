/*
 * test_state.c - the workload state (state.h) and the store's use of it
 *
 * The codec: shards, data keys both ways (and the keys that cannot be
 * one), values both ways (and the ones that are not). The table: pending
 * wins over observed until the informer shows it written; a batch sends
 * only differences and removes what the caller no longer keeps; a shard
 * not yet created is created with its entries only. The store: a workload
 * without a record takes its state entry whichever arrives first, only
 * for its uid; its own annotation wins; the leader's decision is taken at
 * once and written by the next batch; the entries of workloads deleted,
 * re-created or rolled are removed by a batch; and once written, a batch
 * has nothing more to send. The writer: its batches take only spare API
 * budget, so writes of the workers (rollouts) never wait behind them.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/err.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/config/policy.h"
#include "http_sink.h"
#include "testutil.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/state.h"
#include "reloadd/reload/statewriter.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"

#define H1 "1111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222"
#define REC1 "{\"configmap/a\":\"" H1 "\"}"
#define REC2 "{\"configmap/a\":\"" H2 "\"}"
/* REC1 inside a JSON string, as a printed batch shows it. */
#define REC1_IN_JSON "{\\\"configmap/a\\\":\\\"" H1 "\\\"}"

/* ---- codec ----------------------------------------------------------------- */

Test(state_codec, data_keys_both_ways)
{
    char d[RL_STATE_KEY_MAX + 1], w[RL_STATE_KEY_MAX + 1], big[400];

    cr_assert(rl_state_data_key("deployment/ns/app", d, sizeof(d)));
    cr_assert(eq(str, d, "deployment_ns_app"));
    cr_assert(rl_state_wkey(d, w, sizeof(w)));
    cr_assert(eq(str, w, "deployment/ns/app"));
    cr_assert(rl_state_data_key("rollout.argoproj.io/my-ns/a.b-c", d, sizeof(d)));
    cr_assert(rl_state_wkey(d, w, sizeof(w)));
    cr_assert(eq(str, w, "rollout.argoproj.io/my-ns/a.b-c"));

    /* Not a data key: a '_' already there, a character a key may not hold, too long. */
    cr_assert_not(rl_state_data_key("deployment/ns/a_b", d, sizeof(d)));
    cr_assert_not(rl_state_data_key("deployment/ns/a b", d, sizeof(d)));
    cr_assert_not(rl_state_data_key("deployment/ns", d, sizeof(d)));
    cr_assert_not(rl_state_data_key("deployment//x", d, sizeof(d)));
    cr_assert_not(rl_state_data_key("deployment/ns/a/b", d, sizeof(d)));
    memset(big, 'a', sizeof(big));
    memcpy(big, "deployment/ns/", 14);
    big[RL_STATE_KEY_MAX + 1] = '\0';
    cr_assert_not(rl_state_data_key(big, d, sizeof(d)));
    big[RL_STATE_KEY_MAX] = '\0';
    cr_assert(rl_state_data_key(big, d, sizeof(d)));
    cr_assert_not(rl_state_wkey("deployment_ns", w, sizeof(w)));
    cr_assert_not(rl_state_wkey("deployment_ns_a_b", w, sizeof(w)));
}

Test(state_codec, shards_and_their_names)
{
    char name[RL_STATE_NAME_MAX];
    unsigned s, hits[RL_STATE_SHARDS] = { 0 }, empty = 0;

    cr_assert(rl_state_shard_name(7, name, sizeof(name)));
    cr_assert(eq(str, name, "reloadd-state-07"));
    cr_assert(rl_state_shard_parse(name, &s));
    cr_assert(eq(u32, s, 7));
    cr_assert_not(rl_state_shard_name(RL_STATE_SHARDS, name, sizeof(name)));
    cr_assert_not(rl_state_shard_parse("reloadd-state-7", &s));
    cr_assert_not(rl_state_shard_parse("reloadd-state-99", &s));
    cr_assert_not(rl_state_shard_parse("reloadd-state-0a", &s));
    cr_assert_not(rl_state_shard_parse("other-07", &s));
    /* The same key, the same shard; many keys spread over every shard. */
    cr_assert(eq(u32, rl_state_shard_of("deployment/ns/app"), rl_state_shard_of("deployment/ns/app")));
    for (int i = 0; i < 6400; i++) {
        char k[64];

        snprintf(k, sizeof(k), "deployment/ns-%d/app-%d", i % 100, i);
        hits[rl_state_shard_of(k)]++;
    }
    for (unsigned i = 0; i < RL_STATE_SHARDS; i++)
        empty += hits[i] == 0;
    cr_assert(eq(u32, empty, 0));
}

Test(state_codec, values_both_ways)
{
    struct rl_state_entry e;
    char *v = rl_state_value("u-1", 42, REC1);

    cr_assert(eq(str, v, "u-1 42 " REC1));
    cr_assert(rl_state_value_parse(v, &e));
    cr_assert(eq(str, e.uid, "u-1"));
    cr_assert(eq(u64, e.rv, 42));
    cr_assert(eq(str, e.record, REC1));
    free(v);
    cr_assert_null(rl_state_value("", 1, "{}"));
    cr_assert_null(rl_state_value("a b", 1, "{}"));
    cr_assert_not(rl_state_value_parse("", &e));
    cr_assert_not(rl_state_value_parse("u-1", &e));
    cr_assert_not(rl_state_value_parse("u-1 42", &e));
    cr_assert_not(rl_state_value_parse("u-1 x2 {}", &e));
    cr_assert_not(rl_state_value_parse("u-1  {}", &e));
    cr_assert_not(rl_state_value_parse("u-1 42 []", &e));
    cr_assert_not(rl_state_value_parse(" 42 {}", &e));
    cr_assert_not(rl_state_value_parse("u-1 99999999999999999999999 {}", &e));
}

/* ---- the table ------------------------------------------------------------- */

static char told[1024];

static void tell(void *ctx, const char *wkey)
{
    (void)ctx;
    if (told[0])
        strlcat(told, " ", sizeof(told));
    strlcat(told, wkey, sizeof(told));
}

static bool keep_all(void *ctx, const char *wkey, const char *value)
{
    (void)ctx;
    (void)wkey;
    (void)value;
    return true;
}

/* The shard of W's data as its ConfigMap would show it: pairs of data key, value. */
static cJSON *shard_data(const char *k1, const char *v1, const char *k2, const char *v2)
{
    cJSON *d = cJSON_CreateObject();

    if (k1)
        cJSON_AddStringToObject(d, k1, v1);
    if (k2)
        cJSON_AddStringToObject(d, k2, v2);
    return d;
}

static char *print_batch(struct rl_state *st, unsigned shard, rl_state_keep_fn *keep,
                         bool *create)
{
    cJSON *d = NULL;
    char *s;

    if (!rl_state_take_batch(st, shard, keep, NULL, &d, create))
        return NULL;
    s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return s;
}

Test(state_table, pending_wins_until_written_and_a_batch_sends_only_differences)
{
    struct rl_state *st = rl_state_new();
    unsigned sh = rl_state_shard_of("deployment/ns/a");
    struct rl_state_counts c;
    bool create;
    char *b;
    cJSON *d;

    /* Nothing dirty: nothing to send. */
    cr_assert_null(print_batch(st, sh, keep_all, &create));
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a", "u 1 " REC1), 0));
    cr_assert(eq(str, (char *)rl_state_get(st, "deployment/ns/a"), "u 1 " REC1));
    /* Its shard does not exist yet: created with the entry. */
    b = print_batch(st, sh, keep_all, &create);
    cr_assert(eq(str, b, "{\"deployment_ns_a\":\"u 1 " REC1_IN_JSON "\"}"));
    cr_assert(create);
    free(b);
    /* Clean now; still pending until the informer shows it. */
    cr_assert_null(print_batch(st, sh, keep_all, &create));
    rl_state_counts(st, &c);
    cr_assert(eq(sz, c.pending, 1));
    /* An older snapshot of the shard does not take it back. */
    told[0] = '\0';
    d = shard_data(NULL, NULL, NULL, NULL);
    rl_state_observe(st, sh, d, tell, NULL);
    cJSON_Delete(d);
    cr_assert(eq(str, told, ""));
    cr_assert(eq(str, (char *)rl_state_get(st, "deployment/ns/a"), "u 1 " REC1));
    /* Written: pending goes, nothing told (the effective value did not move). */
    d = shard_data("deployment_ns_a", "u 1 " REC1, NULL, NULL);
    rl_state_observe(st, sh, d, tell, NULL);
    cJSON_Delete(d);
    cr_assert(eq(str, told, ""));
    rl_state_counts(st, &c);
    cr_assert(eq(sz, c.pending, 0));
    cr_assert(eq(sz, c.entries, 1));
    /* The same value again: nothing to send even when dirty. */
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a", "u 1 " REC1), 0));
    cr_assert_null(print_batch(st, sh, keep_all, &create));
    /* Another leader's write is told. */
    d = shard_data("deployment_ns_a", "u 2 " REC2, NULL, NULL);
    rl_state_observe(st, sh, d, tell, NULL);
    cJSON_Delete(d);
    cr_assert(eq(str, told, "deployment/ns/a"));
    /* A removal is a null member of a patch. */
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a", NULL), 0));
    cr_assert_null(rl_state_get(st, "deployment/ns/a"));
    b = print_batch(st, sh, keep_all, &create);
    cr_assert(eq(str, b, "{\"deployment_ns_a\":null}"));
    cr_assert_not(create);
    free(b);
    rl_state_free(st);
}

/* A keep that refuses one workload key. */
static const char *refused;

static bool keep_but_refused(void *ctx, const char *wkey, const char *value)
{
    (void)ctx;
    (void)value;
    return strcmp(wkey, refused) != 0;
}

Test(state_table, entries_refused_are_removed_and_pending_refused_never_sent)
{
    struct rl_state *st = rl_state_new();
    unsigned sh = rl_state_shard_of("deployment/ns/a");
    struct rl_state_counts c;
    bool create;
    char *p;
    cJSON *d = shard_data("deployment_ns_a", "u 1 " REC1, NULL, NULL);

    rl_state_observe(st, sh, d, tell, NULL);
    cJSON_Delete(d);
    refused = "deployment/ns/a";
    rl_state_touch_all(st);
    p = print_batch(st, sh, keep_but_refused, &create);
    cr_assert(eq(str, p, "{\"deployment_ns_a\":null}"));
    free(p);
    /* A pending entry refused before its batch is dropped, unsent. */
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a", "u 2 " REC2), 0));
    p = print_batch(st, sh, keep_but_refused, &create);
    cr_assert(eq(str, p, "{\"deployment_ns_a\":null}"));
    free(p);
    rl_state_counts(st, &c);
    cr_assert(eq(sz, c.pending, 0));
    rl_state_free(st);
}

Test(state_table, a_full_shard_takes_no_more)
{
    struct rl_state *st = rl_state_new();
    char *big = rl_xmalloc(RL_STATE_SHARD_MAX_BYTES);

    memset(big, 'x', RL_STATE_SHARD_MAX_BYTES - 1);
    big[RL_STATE_SHARD_MAX_BYTES - 1] = '\0';
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a", big), RL_ETOOBIG));
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a_b", "u 1 {}"), RL_EINVAL));
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a", "u 1 {}"), 0));
    free(big);
    rl_state_free(st);
}

Test(state_table, forgetting_pending_tells_what_moves_back)
{
    struct rl_state *st = rl_state_new();
    unsigned sh = rl_state_shard_of("deployment/ns/a");
    cJSON *d = shard_data("deployment_ns_a", "u 1 " REC1, NULL, NULL);

    rl_state_observe(st, sh, d, tell, NULL);
    cJSON_Delete(d);
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/a", "u 2 " REC2), 0));
    cr_assert(eq(int, rl_state_put(st, "deployment/ns/c", "u 1 {}"), 0));
    told[0] = '\0';
    rl_state_forget_pending(st, tell, NULL);
    cr_assert(eq(str, (char *)rl_state_get(st, "deployment/ns/a"), "u 1 " REC1));
    cr_assert_null(rl_state_get(st, "deployment/ns/c"));
    cr_assert(strstr(told, "deployment/ns/a") && strstr(told, "deployment/ns/c"), "%s", told);
    rl_state_free(st);
}

/* ---- the store ------------------------------------------------------------- */

static struct rl_policy *pol;
static struct rl_workload_keys keys;
static struct rl_regex_cache *rc;
static struct rl_store *store;
static uint64_t rv = 100;

static void setup(void)
{
    pol = test_policy(NULL);
    rl_workload_keys_init(&keys, pol);
    rc = rl_regex_cache_new(64);
    store = rl_store_new(pol, rc);
    rl_store_enable_state(store);
}

static void teardown(void)
{
    rl_store_free(store);
    rl_regex_cache_free(rc);
    rl_policy_free(pol);
}

TestSuite(state_store, .init = setup, .fini = teardown);

/* Deployment ns/<name> with uid u-<uid>, referencing ConfigMap a; `record` its own annotation or NULL. */
static void put(const char *name, const char *uid, const char *record)
{
    char buf[2048], ann[512] = "";
    struct rl_workload *w = NULL;
    cJSON *obj, *rec;

    if (record) {
        rec = cJSON_CreateString(record);
        char *s = cJSON_PrintUnformatted(rec);

        snprintf(ann, sizeof(ann), "\"reloadd.io/applied\":%s", s);
        free(s);
        cJSON_Delete(rec);
    }
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"u-%s\","
             "\"resourceVersion\":\"%llu\",\"generation\":1,\"annotations\":{"
             "\"reloader.stakater.com/auto\":\"true\"%s%s}},"
             "\"spec\":{\"template\":{\"metadata\":{},\"spec\":{\"containers\":[{\"name\":\"c\","
             "\"image\":\"i\",\"envFrom\":[{\"configMapRef\":{\"name\":\"a\"}}]}]}}}}",
             name, uid, (unsigned long long)++rv, ann[0] ? "," : "", ann);
    obj = cJSON_Parse(buf);
    cr_assert(obj != NULL, "bad fixture: %s", buf);
    cr_assert(eq(int, rl_workload_decode(obj, RL_KIND_DEPLOYMENT, &keys, &w), 0));
    cJSON_Delete(obj);
    rl_store_put_workload(store, w, rv, 1, NULL, NULL);
}

/* Shard of deployment/ns/<name> as the informer would show it, with W's entry. */
static void observe(const char *name, const char *value)
{
    char wkey[128], dkey[RL_STATE_KEY_MAX + 1];
    cJSON *d = cJSON_CreateObject();

    snprintf(wkey, sizeof(wkey), "deployment/ns/%s", name);
    rl_state_data_key(wkey, dkey, sizeof(dkey));
    if (value)
        cJSON_AddStringToObject(d, dkey, value);
    rl_store_observe_state(store, rl_state_shard_of(wkey), d);
    cJSON_Delete(d);
}

/* What the store holds of W's record: "-" none, "state:<hash>" or "own:<hash>". */
static const char *record_of(const char *name, uint64_t *record_rv)
{
    static char out[128];
    char wkey[128];
    const struct rl_workload *w;
    const char *h;

    snprintf(wkey, sizeof(wkey), "deployment/ns/%s", name);
    rl_store_rdlock(store);
    w = rl_store_workload(store, wkey);
    cr_assert(w != NULL);
    h = rl_workload_applied(w, RL_SOURCE_CONFIGMAP, "a");
    if (!w->has_record)
        strlcpy(out, "-", sizeof(out));
    else
        snprintf(out, sizeof(out), "%s:%.4s", w->record_in_state ? "state" : "own",
                 h ? h : "none");
    if (record_rv)
        *record_rv = w->record_rv;
    rl_store_unlock(store);
    return out;
}

static char *batch_of(const char *name, bool *create)
{
    char wkey[128];
    cJSON *d = NULL;
    char *s;

    snprintf(wkey, sizeof(wkey), "deployment/ns/%s", name);
    if (!rl_store_state_batch(store, rl_state_shard_of(wkey), &d, create))
        return NULL;
    s = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    return s;
}

Test(state_store, an_entry_applies_whichever_arrives_first_and_only_for_its_uid)
{
    uint64_t rrv = 0;

    /* Workload first, then its entry. */
    put("a", "1", NULL);
    cr_assert(eq(str, (char *)record_of("a", NULL), "-"));
    observe("a", "u-1 77 " REC1);
    cr_assert(eq(str, (char *)record_of("a", &rrv), "state:1111"));
    cr_assert(eq(u64, rrv, 77));
    /* Entry first, then the workload. */
    observe("b", "u-1 78 " REC1);
    put("b", "1", NULL);
    cr_assert(eq(str, (char *)record_of("b", &rrv), "state:1111"));
    cr_assert(eq(u64, rrv, 78));
    /* Another uid (deleted and re-created): not its record. */
    observe("c", "u-old 79 " REC1);
    put("c", "1", NULL);
    cr_assert(eq(str, (char *)record_of("c", NULL), "-"));
    /* A value that does not parse: no record. */
    observe("d", "garbage");
    put("d", "1", NULL);
    cr_assert(eq(str, (char *)record_of("d", NULL), "-"));
    /* The entry goes: so does the record. */
    observe("a", NULL);
    cr_assert(eq(str, (char *)record_of("a", NULL), "-"));
    /* A later version of the workload keeps taking its entry. */
    observe("b", "u-1 78 " REC2);
    put("b", "1", NULL);
    cr_assert(eq(str, (char *)record_of("b", NULL), "state:2222"));
}

Test(state_store, its_own_annotation_wins)
{
    bool create;
    char *p;

    observe("a", "u-1 77 " REC1);
    put("a", "1", REC2);
    cr_assert(eq(str, (char *)record_of("a", NULL), "own:2222"));
    /* The leader may not put a state record over it. */
    cr_assert(eq(int, rl_store_set_state(store, "deployment/ns/a", "u-1", 90, REC1), RL_EINVAL));
    /* Its stale entry goes with the next batch. */
    p = batch_of("a", &create);
    cr_assert(eq(str, p, "{\"deployment_ns_a\":null}"));
    cr_assert_not(create);
    free(p);
}

Test(state_store, a_decision_is_taken_at_once_written_once_then_nothing)
{
    struct rl_state_counts c;
    bool create;
    char *p;
    uint64_t rrv;

    put("a", "1", NULL);
    cr_assert(eq(int, rl_store_set_state(store, "deployment/ns/a", "u-1", 101, REC1), 0));
    cr_assert(eq(str, (char *)record_of("a", &rrv), "state:1111"));
    cr_assert(eq(u64, rrv, 101));
    /* Another uid than the cached one, or no such workload: refused (the cache moved on). */
    cr_assert(eq(int, rl_store_set_state(store, "deployment/ns/a", "u-2", 101, REC1), RL_ENOENT));
    cr_assert(eq(int, rl_store_set_state(store, "deployment/ns/zz", "u-1", 101, REC1), RL_ENOENT));
    p = batch_of("a", &create);
    cr_assert(eq(str, p, "{\"deployment_ns_a\":\"u-1 101 " REC1_IN_JSON "\"}"));
    cr_assert(create);
    free(p);
    cr_assert_null(batch_of("a", &create));
    /* The echo: nothing pending, nothing to send, the record unchanged. */
    observe("a", "u-1 101 " REC1);
    rl_store_state_counts(store, &c);
    cr_assert(eq(sz, c.pending, 0));
    cr_assert(eq(sz, c.entries, 1));
    rl_store_state_touch(store, RL_STATE_SHARDS);
    cr_assert_null(batch_of("a", &create));
    cr_assert(eq(str, (char *)record_of("a", NULL), "state:1111"));
}

Test(state_store, entries_of_workloads_deleted_recreated_or_rolled_are_removed)
{
    bool create;
    char *p;

    put("a", "1", NULL);
    observe("a", "u-1 77 " REC1);
    /* Rolled: its own record now. */
    put("a", "1", REC2);
    p = batch_of("a", &create);
    cr_assert(eq(str, p, "{\"deployment_ns_a\":null}"));
    free(p);
    observe("a", NULL);
    cr_assert_null(batch_of("a", &create));

    put("b", "1", NULL);
    observe("b", "u-1 77 " REC1);
    rl_store_del_workload(store, RL_KIND_DEPLOYMENT, "ns", "b", NULL, NULL);
    p = batch_of("b", &create);
    cr_assert(eq(str, p, "{\"deployment_ns_b\":null}"));
    free(p);

    observe("c", "u-1 77 " REC1);
    put("c", "2", NULL);               /* re-created while no reloadd watched */
    p = batch_of("c", &create);
    cr_assert(eq(str, p, "{\"deployment_ns_c\":null}"));
    free(p);
}

Test(state_store, leadership_lost_forgets_what_was_not_written)
{
    put("a", "1", NULL);
    observe("a", "u-1 77 " REC1);
    cr_assert(eq(int, rl_store_set_state(store, "deployment/ns/a", "u-1", 120, REC2), 0));
    cr_assert(eq(str, (char *)record_of("a", NULL), "state:2222"));
    rl_store_state_forget_pending(store);
    cr_assert(eq(str, (char *)record_of("a", NULL), "state:1111"));
}

Test(state_store, off_by_default)
{
    struct rl_store *s2 = rl_store_new(pol, rc);

    cr_assert_not(rl_store_state_enabled(s2));
    cr_assert(eq(int, rl_store_set_state(s2, "deployment/ns/a", "u-1", 1, "{}"), RL_ENOENT));
    rl_store_free(s2);
}

Test(state_store, an_entry_of_a_workload_never_seen_is_anothers_and_kept)
{
    bool create;

    /* Another reloadd in this namespace watching other namespaces wrote it. */
    observe("x", "u-9 77 " REC1);
    rl_store_state_touch(store, RL_STATE_SHARDS);
    cr_assert_null(batch_of("x", &create));
}

Test(state_store, a_workload_back_before_the_batch_keeps_its_entry)
{
    bool create;

    put("a", "1", NULL);
    observe("a", "u-1 77 " REC1);
    rl_store_del_workload(store, RL_KIND_DEPLOYMENT, "ns", "a", NULL, NULL);
    put("a", "1", NULL);                /* a relist that had missed it */
    cr_assert_null(batch_of("a", &create));
    cr_assert(eq(str, (char *)record_of("a", NULL), "state:1111"));
}

/* ---- the writer ------------------------------------------------------------ */

/* A worker: writes to a workload as fast as the token bucket lets it, `n` times. */
struct worker {
    struct rl_kube *k;
    int n;
    atomic_bool done;
    uint64_t done_ms;
};

static void *work(void *arg)
{
    struct worker *wk = arg;
    struct rl_kube_response resp;

    rl_kube_response_init(&resp);
    for (int i = 0; i < wk->n; i++)
        rl_kube_request(wk->k, "PATCH", "/apis/apps/v1/namespaces/ns/deployments/w", "{}",
                        "application/merge-patch+json", &resp);
    rl_kube_response_release(&resp);
    wk->done_ms = rl_mono_ms();
    atomic_store(&wk->done, true);
    return NULL;
}

/* Requests to the state's ConfigMaps among the sink's first n, and when the first came. */
static size_t state_writes(struct http_sink *sink, uint64_t *first_ms)
{
    size_t n = http_sink_count(sink), found = 0;
    struct http_sink_req r;

    for (size_t i = 0; i < n; i++) {
        if (!http_sink_request(sink, i, &r))
            continue;
        if (strstr(r.path, "/namespaces/reloadd/configmaps")) {
            if (!found++ && first_ms)
                *first_ms = r.at_ms;
        }
        http_sink_req_release(&r);
    }
    return found;
}

/*
 * 30 rollouts at 10 QPS (burst 10) hold every token for 2 s: a state batch decided at
 * the start waits for them all (before, it took its turn among them and
 * delayed the rollouts behind it), then goes once, and nothing follows.
 */
Test(state_store, the_writer_takes_only_the_budget_rollouts_leave)
{
    struct http_sink *sink = http_sink_start();
    struct rl_kube_opts o = { .qps = 10, .burst = 10, .max_retries = -1 };
    struct rl_kube *k = http_sink_kube(sink, &o);
    struct rl_state_writer_hooks hooks = { 0 };
    struct rl_state_writer *w;
    struct worker wk = { .k = k, .n = 30 };
    struct rl_state_writer_stats ws;
    uint64_t first = 0;
    pthread_t t;

    put("a", "1", NULL);
    cr_assert(eq(int, rl_store_set_state(store, "deployment/ns/a", "u-1", 101, REC1), 0));
    w = rl_state_writer_new(store, k, "reloadd", 50, &hooks);
    rl_thread_start(&t, "worker", work, &wk);
    http_sink_wait(sink, 10, 5000);         /* the burst is spent: from here on, 10 a second */
    rl_state_writer_start(w);
    while (!atomic_load(&wk.done))
        test_sleep_ms(10);
    rl_thread_join(t);
    cr_assert(eq(sz, state_writes(sink, NULL), 0), "a state write went among the rollouts");
    for (int i = 0; i < 300 && state_writes(sink, NULL) == 0; i++)
        test_sleep_ms(10);
    cr_assert(eq(sz, state_writes(sink, &first), 1));
    cr_assert(ge(u64, first, wk.done_ms));
    /* Written once; nothing more (the informer's echo is not needed to stop it). */
    test_sleep_ms(500);
    cr_assert(eq(sz, state_writes(sink, NULL), 1));
    rl_state_writer_stats(w, &ws);
    cr_assert(eq(u64, ws.writes, 1));
    cr_assert(eq(u64, ws.failures, 0));
    rl_state_writer_stop(w);
    rl_state_writer_free(w);
    rl_kube_free(k);
    http_sink_stop(sink);
}
