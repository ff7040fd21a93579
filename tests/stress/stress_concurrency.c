/*
 * stress_concurrency.c - concurrency stress for the TSan build
 *
 * Criterion cannot run under ThreadSanitizer (its test isolation arena
 * fails to map: Snaipe/Criterion#274), so the threaded paths are driven
 * here by a plain program that exits non-zero on any broken promise; TSan
 * itself fails the run on any data race (halt_on_error=1). Also run in the
 * normal and ASan builds.
 *
 *  1. workqueue + pool: 8 producers add random keys while 8 workers drain
 *     them; a key is never held by two workers, and every key added is
 *     processed after its last add.
 *  2. store: one writer replaces sources and workloads while 4 readers
 *     look them up and walk the reverse index.
 *  3. metrics: 8 threads count while another renders the exposition.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/json.h"
#include "reloadd/base/sync.h"
#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"
#include "reloadd/engine/pool.h"
#include "reloadd/engine/workqueue.h"
#include "reloadd/ops/metrics.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "stress: FAILED %s:%d: ", __FILE__, __LINE__);    \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

/* --- 1. workqueue + pool ------------------------------------------------- */

#define NKEYS 200
#define PRODUCERS 8
#define ADDS_PER_PRODUCER 4000

static atomic_int holders[NKEYS];
static _Atomic uint64_t last_add_seq[NKEYS];
static _Atomic uint64_t last_done_seq[NKEYS];
static _Atomic uint64_t seq;
static struct rl_workqueue *wq;

static int key_index(const char *key)
{
    return atoi(key + 4);  /* "key-N" */
}

static int work(void *ctx, unsigned shard, const char *key)
{
    int i = key_index(key);
    uint64_t s = atomic_load(&seq);

    (void)ctx;
    (void)shard;
    CHECK(atomic_fetch_add(&holders[i], 1) == 0, "key %s held by two workers", key);
    for (volatile int spin = 0; spin < 200; spin++)
        ;
    atomic_fetch_sub(&holders[i], 1);
    /* Everything added before we started is covered by this run. */
    uint64_t prev = atomic_load(&last_done_seq[i]);
    while (prev < s && !atomic_compare_exchange_weak(&last_done_seq[i], &prev, s))
        ;
    return (s % 97 == 0) ? -4500 : 0;   /* now and then a failure: retried */
}

static void *producer(void *arg)
{
    unsigned r = (unsigned)(uintptr_t)arg;
    char key[32];

    for (int n = 0; n < ADDS_PER_PRODUCER; n++) {
        int i;

        r = r * 1103515245u + 12345u;
        i = (int)((r >> 8) % NKEYS);
        snprintf(key, sizeof(key), "key-%d", i);
        atomic_store(&last_add_seq[i], atomic_fetch_add(&seq, 1) + 1);
        rl_workqueue_add(wq, key);
    }
    return NULL;
}

static void stress_workqueue(void)
{
    struct rl_workqueue_opts o = RL_WORKQUEUE_OPTS_INIT;
    struct rl_pool_opts po = RL_POOL_OPTS_INIT;
    struct rl_pool *pool;
    pthread_t prod[PRODUCERS];
    uint64_t deadline;
    bool all;

    o.shards = 8;
    o.coalesce_ms = 2;
    o.base_delay_ms = 1;
    o.max_delay_ms = 10;
    o.qps = 0;
    po.max_retries = 0;
    CHECK(rl_workqueue_new(&wq, &o, rl_clock_system()) == 0, "workqueue_new");
    pool = rl_pool_new(wq, work, NULL, &po);
    CHECK(rl_pool_start(pool) == 0, "pool_start");
    for (int i = 0; i < PRODUCERS; i++)
        rl_thread_start(&prod[i], "producer", producer, (void *)(uintptr_t)(i + 1));
    for (int i = 0; i < PRODUCERS; i++)
        rl_thread_join(prod[i]);
    deadline = rl_mono_ms() + 30000;
    do {
        struct timespec ts = { 0, 20 * 1000000L };

        all = true;
        for (int i = 0; i < NKEYS; i++)
            if (atomic_load(&last_add_seq[i]) > atomic_load(&last_done_seq[i]))
                all = false;
        if (!all)
            nanosleep(&ts, NULL);
    } while (!all && rl_mono_ms() < deadline);
    for (int i = 0; i < NKEYS; i++)
        CHECK(atomic_load(&last_add_seq[i]) <= atomic_load(&last_done_seq[i]),
              "key-%d: added at %llu, last processed at %llu", i,
              (unsigned long long)atomic_load(&last_add_seq[i]),
              (unsigned long long)atomic_load(&last_done_seq[i]));
    rl_pool_stop(pool, 2000);
    rl_pool_free(pool);
    rl_workqueue_free(wq);
    printf("stress: workqueue: %d adds by %d producers, %d keys, 8 workers: ok\n",
           PRODUCERS * ADDS_PER_PRODUCER, PRODUCERS, NKEYS);
}

/* --- 2. store ------------------------------------------------------------ */

static struct rl_options opts;
static struct rl_policy *policy;
static struct rl_store *store;
static struct rl_workload_keys wkeys;
static atomic_bool store_done;
static _Atomic uint64_t reads;

static struct rl_workload *make_workload(int i, int gen)
{
    char json[1024];
    cJSON *obj;
    struct rl_workload *w = NULL;

    snprintf(json, sizeof(json),
             "{\"metadata\":{\"name\":\"app-%d\",\"namespace\":\"ns\",\"uid\":\"u%d\","
             "\"resourceVersion\":\"%d\",\"generation\":%d,"
             "\"annotations\":{\"reloader.stakater.com/auto\":\"true\"}},"
             "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\","
             "\"envFrom\":[{\"configMapRef\":{\"name\":\"cm-%d\"}}]}]}}}}",
             i, i, gen, gen, (i + gen) % 20);
    obj = cJSON_Parse(json);
    CHECK(obj && rl_workload_decode(obj, RL_KIND_DEPLOYMENT, &wkeys, &w) == 0, "decode");
    cJSON_Delete(obj);
    return w;
}

static void count_dep(void *ctx, const char *wkey)
{
    (void)wkey;
    (*(size_t *)ctx)++;
}

static void *store_reader(void *arg)
{
    char key[64];

    (void)arg;
    while (!atomic_load(&store_done)) {
        for (int i = 0; i < 50; i++) {
            const struct rl_workload *w;
            size_t deps = 0;

            snprintf(key, sizeof(key), "deployment/ns/app-%d", i);
            rl_store_rdlock(store);
            w = rl_store_workload(store, key);
            if (w)
                CHECK(strcmp(w->name + 4, key + 18) == 0, "workload %s has name %s", key, w->name);
            rl_store_dependents(store, RL_SOURCE_CONFIGMAP, "ns", "cm-3", count_dep, &deps);
            rl_store_unlock(store);
            atomic_fetch_add(&reads, 1);
        }
    }
    return NULL;
}

static void stress_store(void)
{
    char *argv[] = { "stress", NULL };
    char err[256];
    pthread_t readers[4];
    struct rl_regex_cache *rc = rl_regex_cache_new(64);
    char hash[41];

    CHECK(rl_options_parse(&opts, 1, argv, (char *[]){ NULL }, err, sizeof(err)) == 0, "%s", err);
    policy = rl_policy_new(&opts);
    rl_workload_keys_init(&wkeys, policy);
    store = rl_store_new(policy, rc);
    for (int i = 0; i < 4; i++)
        rl_thread_start(&readers[i], "reader", store_reader, NULL);
    for (int gen = 1; gen <= 60; gen++) {
        for (int i = 0; i < 50; i++)
            rl_store_put_workload(store, make_workload(i, gen), (uint64_t)gen, (uint32_t)gen, NULL,
                                  NULL);
        for (int i = 0; i < 20; i++) {
            struct rl_sha1 sha1;

            snprintf(hash, sizeof(hash), "%040d", gen * 100 + i);
            rl_sha1_from_hex(hash, &sha1);
            rl_store_put_source(store, RL_SOURCE_CONFIGMAP, "ns", i % 2 ? "cm-3" : "cm-4", &sha1,
                                false, false, (uint64_t)gen, (uint32_t)gen, NULL, NULL);
        }
        if (gen % 10 == 0)
            rl_store_sweep_workloads(store, RL_KIND_DEPLOYMENT, "ns", (uint32_t)gen, NULL, NULL);
    }
    atomic_store(&store_done, true);
    for (int i = 0; i < 4; i++)
        rl_thread_join(readers[i]);
    CHECK(atomic_load(&reads) > 0, "no reads happened");
    rl_store_free(store);
    rl_regex_cache_free(rc);
    rl_policy_free(policy);
    rl_options_release(&opts);
    printf("stress: store: 1 writer, 4 readers, %llu reads: ok\n",
           (unsigned long long)atomic_load(&reads));
}

/* --- 3. metrics ---------------------------------------------------------- */

static struct rl_metrics *metrics;
static atomic_bool metrics_done;

static void *counter(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        rl_metrics_reload_executed(metrics, i % 3 != 0, "ns");
        rl_metrics_api_request(metrics, "patch", "deployments", 200, 0.001 * (i % 50));
    }
    return NULL;
}

static void *scraper(void *arg)
{
    struct rl_buf b;

    (void)arg;
    rl_buf_init(&b, 0);
    while (!atomic_load(&metrics_done)) {
        rl_buf_reset(&b);
        CHECK(rl_metrics_expose(metrics, &b) == 0, "expose");
    }
    rl_buf_release(&b);
    return NULL;
}

static void stress_metrics(void)
{
    pthread_t t[8], s;
    struct rl_buf b;

    metrics = rl_metrics_new(NULL);
    rl_thread_start(&s, "scraper", scraper, NULL);
    for (int i = 0; i < 8; i++)
        rl_thread_start(&t[i], "counter", counter, NULL);
    for (int i = 0; i < 8; i++)
        rl_thread_join(t[i]);
    atomic_store(&metrics_done, true);
    rl_thread_join(s);
    rl_buf_init(&b, 0);
    rl_metrics_expose(metrics, &b);
    CHECK(strstr(b.buf, "reloader_reload_executed_total{success=\"true\"} 106664") != NULL,
          "reload_executed_total is not exact:\n%s", b.buf);
    rl_buf_release(&b);
    rl_metrics_free(metrics);
    printf("stress: metrics: 8 counters, 1 scraper: exact: ok\n");
}

int main(void)
{
    rl_json_init_hooks();
    stress_workqueue();
    stress_store();
    stress_metrics();
    printf("1 passed, 0 failed\n");
    return 0;
}
