#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_clock.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/engine/pool.h"
#include "reloadd/engine/workqueue.h"


#define T0 1000000u

static struct fake_clock fc;

static struct rl_workqueue *new_wq(const struct rl_clock *clock, unsigned shards,
                                   uint64_t coalesce_ms, uint64_t base_ms, uint64_t max_ms)
{
    struct rl_workqueue_opts opts = RL_WORKQUEUE_OPTS_INIT;
    struct rl_workqueue *wq;

    opts.shards = shards;
    opts.coalesce_ms = coalesce_ms;
    opts.base_delay_ms = base_ms;
    opts.max_delay_ms = max_ms;
    opts.qps = 0;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, clock), 0));
    return wq;
}

/* Sleeps a little real time, for tests that poll another thread's progress. */
static void nap(void)
{
    struct timespec ts = { 0, 1000000 };

    nanosleep(&ts, NULL);
}

/* A test's view of what its fn saw. */
struct recorder {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_open;             /* fn returns only once this is true */
    bool use_gate;
    atomic_int calls;
    atomic_int entered;
    int fail_first;             /* the first n calls fail */
    int give_ups;
    int give_up_err;
    char give_up_key[64];
};

static void recorder_init(struct recorder *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

static void recorder_release(struct recorder *r)
{
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

static void open_gate(struct recorder *r)
{
    pthread_mutex_lock(&r->mu);
    r->gate_open = true;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static int record_fn(void *ctx, unsigned shard, const char *key)
{
    struct recorder *r = ctx;
    int n = atomic_fetch_add(&r->calls, 1);

    atomic_fetch_add(&r->entered, 1);
    pthread_mutex_lock(&r->mu);
    while (r->use_gate && !r->gate_open)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    return n < r->fail_first ? RL_ESERVER : 0;
}

static void record_give_up(void *ctx, const char *key, int err)
{
    struct recorder *r = ctx;

    pthread_mutex_lock(&r->mu);
    r->give_ups++;
    r->give_up_err = err;
    snprintf(r->give_up_key, sizeof(r->give_up_key), "%s", key);
    pthread_mutex_unlock(&r->mu);
}

/* Moves the fake clock to the queue's next due time. */
static void advance_to_next_due(struct rl_workqueue *wq, uint64_t *waited)
{
    uint64_t due = rl_workqueue_next_due_ms(wq, 0);
    uint64_t now = atomic_load(&fc.mono_ms);

    cr_assert(ne(u64, due, UINT64_MAX), "nothing delayed");
    *waited = due > now ? due - now : 0;
    fake_clock_advance(&fc, *waited);
}

Test(pool, gives_up_after_the_retry_budget)
{
    struct rl_pool_opts opts = { .max_retries = 3, .on_give_up = record_give_up };
    static const uint64_t backoff[] = { 10, 20, 40 };
    struct rl_pool_stats st;
    struct rl_workqueue *wq;
    struct recorder r;
    struct rl_pool *pool;
    uint64_t waited;

    recorder_init(&r);
    r.fail_first = 1000;
    fake_clock_init(&fc, T0, 0);
    wq = new_wq(&fc.clock, 1, 0, 10, 1000);
    pool = rl_pool_new(wq, record_fn, &r, &opts);
    cr_assert(not(eq(ptr, pool, NULL)));

    rl_workqueue_add(wq, "deployment/ns/app");
    cr_assert(eq(int, rl_pool_run_once(pool, 0), 0));
    for (int i = 0; i < 3; i++) {               /* three retries, backing off */
        cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "deployment/ns/app"), (unsigned)i + 1));
        cr_assert(eq(int, rl_pool_run_once(pool, 0), RL_WORKQUEUE_EMPTY));
        advance_to_next_due(wq, &waited);
        cr_assert(eq(u64, waited, backoff[i]));
        cr_assert(eq(int, rl_pool_run_once(pool, 0), 0));
    }
    cr_assert(eq(int, atomic_load(&r.calls), 4));
    cr_assert(eq(int, r.give_ups, 1));
    cr_assert(eq(int, r.give_up_err, RL_ESERVER));
    cr_assert(eq(str, r.give_up_key, "deployment/ns/app"));
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "deployment/ns/app"), 0));
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), UINT64_MAX));
    fake_clock_advance(&fc, 1000000);
    cr_assert(eq(int, rl_pool_run_once(pool, 0), RL_WORKQUEUE_EMPTY));
    rl_pool_stats(pool, &st);
    cr_assert(eq(u64, st.processed, 4));
    cr_assert(eq(u64, st.failed, 4));
    cr_assert(eq(u64, st.given_up, 1));

    /* The next change of the key brings it back, with a fresh budget. */
    rl_workqueue_add(wq, "deployment/ns/app");
    cr_assert(eq(int, rl_pool_run_once(pool, 0), 0));
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "deployment/ns/app"), 1));
    cr_assert(eq(int, r.give_ups, 1));

    rl_pool_free(pool);
    rl_workqueue_free(wq);
    recorder_release(&r);
}

Test(pool, success_forgets_failures)
{
    struct rl_pool_opts opts = { .max_retries = 5 };
    struct rl_workqueue *wq;
    struct recorder r;
    struct rl_pool *pool;
    uint64_t waited;

    recorder_init(&r);
    r.fail_first = 2;
    fake_clock_init(&fc, T0, 0);
    wq = new_wq(&fc.clock, 1, 0, 10, 1000);
    pool = rl_pool_new(wq, record_fn, &r, &opts);

    rl_workqueue_add(wq, "k");
    cr_assert(eq(int, rl_pool_run_once(pool, 0), 0));
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), 1));
    advance_to_next_due(wq, &waited);
    cr_assert(eq(int, rl_pool_run_once(pool, 0), 0));
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), 2));
    advance_to_next_due(wq, &waited);
    cr_assert(eq(int, rl_pool_run_once(pool, 0), 0));       /* succeeds */
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), 0));
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), UINT64_MAX));
    cr_assert(eq(int, rl_pool_run_once(pool, 0), RL_WORKQUEUE_EMPTY));

    rl_pool_free(pool);
    rl_workqueue_free(wq);
    recorder_release(&r);
}

Test(pool, bad_arguments_are_refused)
{
    struct rl_workqueue *wq;
    struct recorder r;
    struct rl_pool *pool;

    recorder_init(&r);
    fake_clock_init(&fc, T0, 0);
    wq = new_wq(&fc.clock, 2, 0, 10, 1000);
    cr_assert(eq(ptr, rl_pool_new(NULL, record_fn, &r, NULL), NULL));
    cr_assert(eq(ptr, rl_pool_new(wq, NULL, &r, NULL), NULL));
    pool = rl_pool_new(wq, record_fn, &r, NULL);
    cr_assert(eq(u32, rl_pool_workers(pool), 2));
    cr_assert(eq(int, rl_pool_run_once(pool, 2), RL_EINVAL));
    cr_assert(eq(int, rl_pool_start(pool), 0));
    cr_assert(eq(int, rl_pool_start(pool), RL_EINVAL));
    cr_assert(eq(int, rl_pool_stop(pool, 0), 0));
    cr_assert(eq(int, rl_pool_stop(pool, 0), 0));           /* idempotent */
    cr_assert(eq(int, rl_pool_start(pool), RL_EINVAL));     /* no restart */
    cr_assert(eq(int, rl_pool_run_once(pool, 0), RL_ESHUTDOWN));
    rl_pool_free(pool);
    rl_pool_free(NULL);
    rl_workqueue_free(wq);
    recorder_release(&r);
}

Test(pool, threads_process_every_key_once_and_stop_cleanly)
{
    enum { N = 300 };
    struct rl_pool_stats st;
    struct rl_workqueue *wq;
    struct recorder r;
    struct rl_pool *pool;
    char key[32];

    recorder_init(&r);
    wq = new_wq(rl_clock_system(), 4, 0, 1, 10);
    pool = rl_pool_new(wq, record_fn, &r, NULL);
    cr_assert(eq(int, rl_pool_start(pool), 0));
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "configmap/ns/c-%d", i);
        rl_workqueue_add(wq, key);
    }
    for (int spins = 0; atomic_load(&r.calls) < N && spins < 10000; spins++)
        nap();
    cr_assert(eq(int, rl_pool_stop(pool, 5000), 0));
    rl_pool_stats(pool, &st);
    cr_assert(eq(u64, st.processed, N));
    cr_assert(eq(u64, st.failed, 0));
    cr_assert(eq(int, atomic_load(&r.calls), N));
    rl_pool_free(pool);
    rl_workqueue_free(wq);
    recorder_release(&r);
}

Test(pool, reports_the_worker_busy_longest)
{
    struct rl_workqueue *wq;
    struct recorder r;
    struct rl_pool *pool;
    char key[64];

    recorder_init(&r);
    r.use_gate = true;
    fake_clock_init(&fc, T0, 0);
    wq = new_wq(&fc.clock, 2, 0, 10, 1000);
    pool = rl_pool_new(wq, record_fn, &r, NULL);
    cr_assert(eq(int, rl_pool_start(pool), 0));
    cr_assert(eq(u64, rl_pool_longest_busy_ms(pool, key, sizeof(key)), 0));
    cr_assert(eq(str, key, ""));

    rl_workqueue_add(wq, "deployment/ns/stuck");
    while (atomic_load(&r.entered) < 1)
        nap();
    fake_clock_advance(&fc, 7000);
    cr_assert(eq(u64, rl_pool_longest_busy_ms(pool, key, sizeof(key)), 7000));
    cr_assert(eq(str, key, "deployment/ns/stuck"));
    cr_assert(eq(u64, rl_pool_longest_busy_ms(pool, key, 11), 7000));
    cr_assert(eq(str, key, "deployment"));           /* truncated to keylen */
    cr_assert(eq(u64, rl_pool_longest_busy_ms(pool, NULL, 0), 7000));

    open_gate(&r);
    cr_assert(eq(int, rl_pool_stop(pool, 60000), 0));   /* drains: done() comes */
    cr_assert(eq(u64, rl_pool_longest_busy_ms(pool, key, sizeof(key)), 0));
    rl_pool_free(pool);
    rl_workqueue_free(wq);
    recorder_release(&r);
}

struct stopper {
    struct rl_pool *pool;
    uint64_t drain_ms;
    int err;
    atomic_bool finished;
};

static void *stopper_main(void *arg)
{
    struct stopper *s = arg;

    s->err = rl_pool_stop(s->pool, s->drain_ms);
    atomic_store(&s->finished, true);
    return NULL;
}

Test(pool, stop_waits_for_work_in_flight)
{
    struct rl_pool_stats st;
    struct rl_workqueue *wq;
    struct recorder r;
    struct rl_pool *pool;
    struct stopper s;
    pthread_t t;

    recorder_init(&r);
    r.use_gate = true;
    fake_clock_init(&fc, T0, 0);
    wq = new_wq(&fc.clock, 1, 0, 10, 1000);
    pool = rl_pool_new(wq, record_fn, &r, NULL);
    cr_assert(eq(int, rl_pool_start(pool), 0));
    rl_workqueue_add(wq, "busy");
    rl_workqueue_add(wq, "pending");
    while (atomic_load(&r.entered) < 1)
        nap();

    s = (struct stopper){ .pool = pool, .drain_ms = 60000 };
    pthread_create(&t, NULL, stopper_main, &s);
    while (!rl_workqueue_shutting_down(wq))
        nap();
    fake_clock_advance(&fc, 59999);
    for (int i = 0; i < 50; i++)
        nap();
    cr_assert(not(atomic_load(&s.finished)));
    open_gate(&r);
    pthread_join(t, NULL);
    cr_assert(eq(int, s.err, 0));
    cr_assert(eq(int, atomic_load(&r.calls), 1));       /* "pending" was dropped */
    rl_pool_stats(pool, &st);
    cr_assert(eq(u64, st.abandoned, 0));
    rl_pool_free(pool);
    rl_workqueue_free(wq);
    recorder_release(&r);
}

Test(pool, stop_abandons_work_that_outlives_the_drain)
{
    struct rl_pool_stats st;
    struct rl_workqueue *wq;
    struct recorder r;
    struct rl_pool *pool;
    struct stopper s;
    pthread_t t;

    recorder_init(&r);
    r.use_gate = true;
    fake_clock_init(&fc, T0, 0);
    wq = new_wq(&fc.clock, 3, 0, 10, 1000);
    pool = rl_pool_new(wq, record_fn, &r, NULL);
    cr_assert(eq(int, rl_pool_start(pool), 0));
    rl_workqueue_add(wq, "deployment/ns/slow");
    while (atomic_load(&r.entered) < 1)
        nap();

    s = (struct stopper){ .pool = pool, .drain_ms = 2000 };
    pthread_create(&t, NULL, stopper_main, &s);
    while (!rl_workqueue_shutting_down(wq))
        nap();
    fake_clock_advance(&fc, 2000);
    /* The stop logs and counts the key it gives up on, then joins. */
    do {
        nap();
        rl_pool_stats(pool, &st);
    } while (st.abandoned == 0);
    cr_assert(eq(u64, st.abandoned, 1));
    cr_assert(not(atomic_load(&s.finished)));           /* still joining */
    open_gate(&r);
    pthread_join(t, NULL);
    cr_assert(eq(int, s.err, RL_ETIMEOUT));
    rl_pool_free(pool);
    rl_workqueue_free(wq);
    recorder_release(&r);
}


/* xorshift32: a cheap per-thread random stream for the stress tests. */
static unsigned next_rand(unsigned *s)
{
    unsigned x = *s ? *s : 1;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/*
 * Stress: 8 producers add random keys in every way while 8 workers (one per
 * shard) process them, failing one call in ten so retries are in the mix.
 * Checks that no key is ever held by two workers at once, that each key is
 * served by its own shard, and that every key is processed successfully
 * after its last add.
 */
enum { NKEYS = 2000, NPRODUCERS = 8, ADDS_PER_PRODUCER = 25000 };

struct stress {
    struct rl_workqueue *wq;
    atomic_int holders[NKEYS];
    atomic_uint adds[NKEYS];            /* bumped before each add */
    atomic_uint done_gen[NKEYS];        /* adds[k] as read by the last success */
    atomic_int violations;
    atomic_int wrong_shard;
    atomic_uint calls;
};

static int key_index(const char *key)
{
    const char *dash = strrchr(key, '-');

    return dash ? (int)strtol(dash + 1, NULL, 10) : -1;
}

static int stress_fn(void *ctx, unsigned shard, const char *key)
{
    static _Thread_local unsigned seed;
    struct stress *s = ctx;
    int k = key_index(key);
    unsigned gen;
    bool fail;

    if (!seed)
        seed = (unsigned)(uintptr_t)&seed;
    if (k < 0 || k >= NKEYS) {            /* no cr_assert off the main thread */
        atomic_fetch_add(&s->violations, 1);
        return 0;
    }
    if (rl_workqueue_shard_of(s->wq, key) != shard)
        atomic_fetch_add(&s->wrong_shard, 1);
    if (atomic_fetch_add(&s->holders[k], 1) != 0)
        atomic_fetch_add(&s->violations, 1);
    gen = atomic_load(&s->adds[k]);
    atomic_fetch_add(&s->calls, 1);
    if (next_rand(&seed) % 8 == 0)
        sched_yield();                  /* widen the window for a second holder */
    fail = next_rand(&seed) % 10 == 0;
    atomic_fetch_sub(&s->holders[k], 1);
    if (!fail && gen > atomic_load(&s->done_gen[k]))
        atomic_store(&s->done_gen[k], gen);
    return fail ? RL_EUNAVAILABLE : 0;
}

struct producer {
    struct stress *s;
    unsigned seed;
};

static void *producer_main(void *arg)
{
    struct producer *p = arg;
    char key[48];

    for (int i = 0; i < ADDS_PER_PRODUCER; i++) {
        int k = next_rand(&p->seed) % NKEYS;
        int op = next_rand(&p->seed) % 10;

        snprintf(key, sizeof(key), "deployment/ns-%d/app-%d", k % 13, k);
        atomic_fetch_add(&p->s->adds[k], 1);
        if (op < 7)
            rl_workqueue_add(p->s->wq, key);
        else if (op < 9)
            rl_workqueue_add_after(p->s->wq, key, (uint64_t)(next_rand(&p->seed) % 3));
        else
            rl_workqueue_add_rate_limited(p->s->wq, key);
        if (i % 512 == 0)
            sched_yield();
    }
    return NULL;
}

static int lagging_keys(struct stress *s)
{
    int n = 0;

    for (int k = 0; k < NKEYS; k++)
        n += atomic_load(&s->done_gen[k]) != atomic_load(&s->adds[k]);
    return n;
}

Test(pool, stress_eight_producers_eight_workers)
{
    struct rl_workqueue_opts opts = RL_WORKQUEUE_OPTS_INIT;
    struct rl_pool_opts popts = { .max_retries = 0 };  /* retry until success */
    struct producer producers[NPRODUCERS];
    pthread_t threads[NPRODUCERS];
    struct rl_workqueue_stats wst;
    struct rl_pool_stats pst;
    struct rl_pool *pool;
    struct stress *s;
    uint64_t deadline;
    int lagging;

    s = calloc(1, sizeof(*s));
    opts.shards = 8;
    opts.coalesce_ms = 1;
    opts.base_delay_ms = 1;
    opts.max_delay_ms = 4;
    opts.qps = 100000;
    opts.burst = 100;
    cr_assert(eq(int, rl_workqueue_new(&s->wq, &opts, rl_clock_system()), 0));
    pool = rl_pool_new(s->wq, stress_fn, s, &popts);
    cr_assert(eq(int, rl_pool_start(pool), 0));

    for (int i = 0; i < NPRODUCERS; i++) {
        producers[i] = (struct producer){ .s = s, .seed = 7919u * (unsigned)(i + 1) };
        pthread_create(&threads[i], NULL, producer_main, &producers[i]);
    }
    for (int i = 0; i < NPRODUCERS; i++)
        pthread_join(threads[i], NULL);

    /* Every key must catch up with its last add, retries included. */
    deadline = rl_mono_ms() + 20000;
    while ((lagging = lagging_keys(s)) > 0 && rl_mono_ms() < deadline)
        nap();
    cr_assert(eq(int, lagging, 0), "%d keys not processed after their last add", lagging);
    cr_assert(eq(int, rl_pool_stop(pool, 5000), 0));

    cr_assert(eq(int, atomic_load(&s->violations), 0), "a key was held twice");
    cr_assert(eq(int, atomic_load(&s->wrong_shard), 0));
    rl_pool_stats(pool, &pst);
    rl_workqueue_stats(s->wq, -1, &wst);
    cr_assert(eq(u64, pst.processed, atomic_load(&s->calls)));
    cr_assert(gt(u64, pst.failed, 0));
    cr_assert(eq(u64, pst.given_up, 0));
    /* Each producer add and each retry was accepted (retries racing the stop may not be). */
    cr_assert(ge(u64, wst.adds + wst.merged, (uint64_t)NPRODUCERS * ADDS_PER_PRODUCER));
    cr_assert(le(u64, wst.adds + wst.merged, (uint64_t)NPRODUCERS * ADDS_PER_PRODUCER + pst.failed));
    cr_assert(eq(sz, wst.processing, 0));
    cr_log_info("stress: %u calls, %" PRIu64 " failed, %" PRIu64 " merged adds",
                atomic_load(&s->calls), pst.failed, wst.merged);

    rl_pool_free(pool);
    rl_workqueue_free(s->wq);
    free(s);
}
