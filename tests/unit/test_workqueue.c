#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_clock.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/engine/workqueue.h"


#define T0 1000000u     /* fake clocks start away from zero */

static struct fake_clock fc;

/* A one-shard queue on the fake clock; no window, no retry limits unless set. */
static struct rl_workqueue *new_wq(uint64_t coalesce_ms, uint64_t base_ms, uint64_t max_ms,
                                   double qps, double burst)
{
    struct rl_workqueue_opts opts = RL_WORKQUEUE_OPTS_INIT;
    struct rl_workqueue *wq;

    fake_clock_init(&fc, T0, 0);
    opts.coalesce_ms = coalesce_ms;
    opts.base_delay_ms = base_ms;
    opts.max_delay_ms = max_ms;
    opts.qps = qps;
    opts.burst = burst;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, &fc.clock), 0));
    return wq;
}

static void assert_empty(struct rl_workqueue *wq)
{
    const char *key = NULL;

    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), RL_WORKQUEUE_EMPTY),
              "unexpected key '%s'", key ? key : "");
}

static void assert_gets(struct rl_workqueue *wq, const char *want)
{
    const char *key = NULL;

    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0), "expected '%s'", want);
    cr_assert(eq(str, (char *)key, (char *)want));
}

/* Takes want, then marks it done. */
static void assert_runs(struct rl_workqueue *wq, const char *want)
{
    const char *key = NULL;

    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0), "expected '%s'", want);
    cr_assert(eq(str, (char *)key, (char *)want));
    rl_workqueue_done(wq, key);
}

static uint64_t now(void)
{
    return atomic_load(&fc.mono_ms);
}

Test(workqueue, key_waits_at_most_once)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct rl_workqueue_stats st;

    for (int i = 0; i < 5; i++)
        cr_assert(eq(int, rl_workqueue_add(wq, "deployment/ns/a"), 0));
    rl_workqueue_add(wq, "deployment/ns/b");
    rl_workqueue_add(wq, "deployment/ns/a");
    rl_workqueue_stats(wq, 0, &st);
    cr_assert(eq(sz, st.depth, 2));
    cr_assert(eq(u64, st.adds, 2));
    cr_assert(eq(u64, st.merged, 5));

    assert_runs(wq, "deployment/ns/a");         /* first added, first out */
    assert_runs(wq, "deployment/ns/b");
    assert_empty(wq);
    rl_workqueue_free(wq);
}

Test(workqueue, dirty_key_requeued_on_done)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    const char *key;

    rl_workqueue_add(wq, "k");
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0));
    rl_workqueue_add(wq, "k");                  /* while processing: dirty */
    rl_workqueue_add(wq, "k");
    assert_empty(wq);
    rl_workqueue_done(wq, key);
    assert_runs(wq, "k");                       /* once, however many adds */
    assert_empty(wq);
    rl_workqueue_free(wq);
}

Test(workqueue, key_held_by_one_worker_at_a_time)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct rl_workqueue_stats st;
    const char *key;

    rl_workqueue_add(wq, "k");
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0));

    /* Every kind of add, due or not: none hands the key out a second time. */
    rl_workqueue_add(wq, "k");
    rl_workqueue_add_after(wq, "k", 0);
    rl_workqueue_add_rate_limited(wq, "k");
    fake_clock_advance(&fc, 60000);
    assert_empty(wq);
    rl_workqueue_stats(wq, 0, &st);
    cr_assert(eq(sz, st.processing, 1));
    cr_assert(eq(sz, st.depth, 0));
    cr_assert(eq(sz, st.delayed, 0));

    rl_workqueue_done(wq, key);
    assert_runs(wq, "k");
    assert_empty(wq);
    rl_workqueue_free(wq);
}

Test(workqueue, add_after_waits_for_its_due_time)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);

    rl_workqueue_add_after(wq, "late", 300);
    rl_workqueue_add_after(wq, "soon", 100);
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), T0 + 100));
    fake_clock_advance(&fc, 99);
    assert_empty(wq);
    fake_clock_advance(&fc, 1);
    assert_runs(wq, "soon");
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), T0 + 300));
    fake_clock_advance(&fc, 199);
    assert_empty(wq);
    fake_clock_advance(&fc, 1);
    assert_runs(wq, "late");
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), UINT64_MAX));
    rl_workqueue_free(wq);
}

Test(workqueue, earlier_deadline_wins)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);

    rl_workqueue_add_after(wq, "k", 1000);
    rl_workqueue_add_after(wq, "k", 200);       /* earlier: replaces */
    rl_workqueue_add_after(wq, "k", 5000);      /* later: ignored */
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), T0 + 200));
    fake_clock_advance(&fc, 200);
    assert_runs(wq, "k");
    fake_clock_advance(&fc, 10000);             /* nothing left behind */
    assert_empty(wq);

    /* A due add makes a delayed key ready at once. */
    rl_workqueue_add_after(wq, "k", 1000);
    rl_workqueue_add_after(wq, "k", 0);
    assert_runs(wq, "k");
    fake_clock_advance(&fc, 1000);
    assert_empty(wq);
    rl_workqueue_free(wq);
}

Test(workqueue, equal_due_times_come_out_in_add_order)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    char key[32];

    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%02d", i);
        rl_workqueue_add_after(wq, key, 50);
    }
    fake_clock_advance(&fc, 50);
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%02d", i);
        assert_runs(wq, key);
    }
    rl_workqueue_free(wq);
}

Test(workqueue, backoff_doubles_per_failure_up_to_the_cap)
{
    static const uint64_t want[] = { 10, 20, 40, 80, 100, 100, 100 };
    struct rl_workqueue *wq = new_wq(0, 10, 100, 0, 1);

    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        uint64_t start = now();

        cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), i));
        cr_assert(eq(int, rl_workqueue_add_rate_limited(wq, "k"), 0));
        cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), i + 1));
        cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), start + want[i]), "failure %u", i);
        fake_clock_advance(&fc, want[i] - 1);
        assert_empty(wq);
        fake_clock_advance(&fc, 1);
        assert_runs(wq, "k");
    }
    rl_workqueue_free(wq);
}

Test(workqueue, forget_resets_backoff)
{
    struct rl_workqueue *wq = new_wq(0, 10, 1000, 0, 1);

    for (int i = 0; i < 3; i++) {
        rl_workqueue_add_rate_limited(wq, "k");
        fake_clock_advance(&fc, 1000);
        assert_runs(wq, "k");
    }
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), 3));
    rl_workqueue_forget(wq, "k");
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), 0));
    rl_workqueue_add_rate_limited(wq, "k");
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), now() + 10));

    /* Other keys keep their own count. */
    rl_workqueue_add_rate_limited(wq, "other");
    rl_workqueue_add_rate_limited(wq, "other");
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "other"), 2));
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "k"), 1));
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "never-added"), 0));
    rl_workqueue_free(wq);
}

Test(workqueue, bucket_spaces_retries_queue_wide)
{
    /* No per-key backoff: 10 qps with a burst of 2 decides alone. */
    struct rl_workqueue *wq = new_wq(0, 0, 0, 10.0, 2.0);
    static const uint64_t want[] = { 0, 0, 100, 200, 300 };
    char key[8];

    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        rl_workqueue_add_rate_limited(wq, key);
    }
    for (int i = 0; i < 5; i++) {
        uint64_t target = T0 + want[i];

        if (now() < target)
            fake_clock_advance(&fc, target - now());
        snprintf(key, sizeof(key), "k%d", i);
        assert_runs(wq, key);
        if (i == 4 || want[i + 1] > want[i])
            assert_empty(wq);
    }
    rl_workqueue_free(wq);
}

Test(workqueue, retry_waits_for_the_larger_of_backoff_and_bucket)
{
    struct rl_workqueue *wq = new_wq(0, 50, 10000, 10.0, 1.0);

    rl_workqueue_add_rate_limited(wq, "a");     /* token: 0; backoff 50 */
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), T0 + 50));
    fake_clock_advance(&fc, 50);
    assert_runs(wq, "a");
    rl_workqueue_add_rate_limited(wq, "b");     /* token: wait 50; backoff 50 */
    rl_workqueue_add_rate_limited(wq, "c");     /* token: wait 150 > backoff 50 */
    fake_clock_advance(&fc, 50);
    assert_runs(wq, "b");
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), T0 + 200));
    fake_clock_advance(&fc, 99);
    assert_empty(wq);
    fake_clock_advance(&fc, 1);
    assert_runs(wq, "c");

    /* Later, a's backoff (50 * 2^3 = 400) outweighs a refilled bucket. */
    fake_clock_advance(&fc, 10000);
    rl_workqueue_add_rate_limited(wq, "a");     /* failure 2: 100 */
    rl_workqueue_forget(wq, "a");
    for (int i = 0; i < 3; i++)
        rl_workqueue_add_rate_limited(wq, "a"); /* merged; counts failures */
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, "a"), 3));
    fake_clock_advance(&fc, 10000);
    assert_runs(wq, "a");
    rl_workqueue_add_rate_limited(wq, "a");
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), now() + 400));
    rl_workqueue_free(wq);
}

Test(workqueue, burst_of_adds_yields_one_get_after_the_window)
{
    struct rl_workqueue *wq = new_wq(1000, 5, 1000, 0, 1);
    struct rl_workqueue_stats st;

    rl_workqueue_add(wq, "k");
    for (int i = 0; i < 9; i++) {
        fake_clock_advance(&fc, 100);            /* adds at +100 .. +900 */
        rl_workqueue_add(wq, "k");
        assert_empty(wq);
    }
    /* Still due 1000 ms after the FIRST add: later adds did not extend it. */
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), T0 + 1000));
    fake_clock_advance(&fc, 99);
    assert_empty(wq);
    fake_clock_advance(&fc, 1);
    assert_runs(wq, "k");
    fake_clock_advance(&fc, 5000);
    assert_empty(wq);
    rl_workqueue_stats(wq, 0, &st);
    cr_assert(eq(u64, st.adds, 1));
    cr_assert(eq(u64, st.merged, 9));

    /* Once taken, a new add opens a new window. */
    rl_workqueue_add(wq, "k");
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), now() + 1000));
    rl_workqueue_free(wq);
}

Test(workqueue, window_runs_while_key_is_processed)
{
    struct rl_workqueue *wq = new_wq(1000, 5, 1000, 0, 1);
    const char *key;

    rl_workqueue_add(wq, "k");
    fake_clock_advance(&fc, 1000);
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0));
    fake_clock_advance(&fc, 100);
    rl_workqueue_add(wq, "k");                  /* window: until T0 + 2100 */
    fake_clock_advance(&fc, 100);
    rl_workqueue_add(wq, "k");                  /* does not extend it */
    fake_clock_advance(&fc, 300);
    rl_workqueue_done(wq, key);                 /* T0 + 1500: not due yet */
    assert_empty(wq);
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), T0 + 2100));
    fake_clock_advance(&fc, 600);
    assert_gets(wq, "k");

    /* Window over before done(): ready at once. */
    rl_workqueue_add(wq, "k");
    fake_clock_advance(&fc, 5000);
    rl_workqueue_done(wq, "k");
    assert_runs(wq, "k");
    rl_workqueue_free(wq);
}

Test(workqueue, add_after_is_not_held_by_the_window)
{
    struct rl_workqueue *wq = new_wq(1000, 5, 1000, 0, 1);

    rl_workqueue_add(wq, "k");
    rl_workqueue_add_after(wq, "k", 10);        /* earlier deadline wins */
    fake_clock_advance(&fc, 10);
    assert_runs(wq, "k");
    rl_workqueue_free(wq);
}

Test(workqueue, zero_window_means_ready_at_once)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);

    rl_workqueue_add(wq, "k");
    assert_runs(wq, "k");
    rl_workqueue_free(wq);
}

Test(workqueue, key_always_maps_to_the_same_shard)
{
    struct rl_workqueue_opts opts = RL_WORKQUEUE_OPTS_INIT;
    unsigned per_shard[8] = { 0 };
    struct rl_workqueue *wq;
    char key[64];

    fake_clock_init(&fc, T0, 0);
    opts.shards = 8;
    opts.coalesce_ms = 0;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, &fc.clock), 0));
    cr_assert(eq(u32, rl_workqueue_shards(wq), 8));
    for (int i = 0; i < 2000; i++) {
        unsigned s;

        snprintf(key, sizeof(key), "deployment/ns-%d/app-%d", i % 7, i);
        s = rl_workqueue_shard_of(wq, key);
        cr_assert(lt(u32, s, 8));
        cr_assert(eq(u32, rl_workqueue_shard_of(wq, key), s));
        per_shard[s]++;
    }
    for (int s = 0; s < 8; s++)                 /* 250 each on average */
        cr_assert(gt(u32, per_shard[s], 150), "shard %d has %u keys", s, per_shard[s]);

    /* A key is served by its shard only, whichever add put it there. */
    for (int i = 0; i < 50; i++) {
        unsigned home;
        const char *got;

        snprintf(key, sizeof(key), "secret/ns/s-%d", i);
        home = rl_workqueue_shard_of(wq, key);
        if (i % 2)
            rl_workqueue_add(wq, key);
        else
            rl_workqueue_add_rate_limited(wq, key);
        fake_clock_advance(&fc, 1000);
        for (unsigned s = 0; s < 8; s++) {
            if (s != home)
                cr_assert(eq(int, rl_workqueue_try_get(wq, s, &got), RL_WORKQUEUE_EMPTY));
        }
        cr_assert(eq(int, rl_workqueue_try_get(wq, home, &got), 0));
        cr_assert(eq(str, (char *)got, key));
        rl_workqueue_done(wq, got);
        rl_workqueue_forget(wq, key);
    }
    rl_workqueue_free(wq);
}

Test(workqueue, shut_down_refuses_work_and_drops_pending_keys)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct rl_workqueue_stats st;
    const char *key;

    rl_workqueue_add(wq, "lent");
    rl_workqueue_add(wq, "ready");
    rl_workqueue_add_after(wq, "delayed", 100);
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0));
    rl_workqueue_add(wq, "lent");               /* dirty: dropped too */
    cr_assert(not(rl_workqueue_shutting_down(wq)));

    rl_workqueue_shut_down(wq);
    cr_assert(rl_workqueue_shutting_down(wq));
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), RL_ESHUTDOWN));
    cr_assert(eq(int, rl_workqueue_get(wq, 0, &key), RL_ESHUTDOWN));
    cr_assert(eq(int, rl_workqueue_add(wq, "new"), RL_ESHUTDOWN));
    cr_assert(eq(int, rl_workqueue_add_rate_limited(wq, "new"), RL_ESHUTDOWN));
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(u64, st.dropped, 3));
    cr_assert(eq(sz, st.depth, 0));
    cr_assert(eq(sz, st.delayed, 0));
    cr_assert(eq(sz, st.processing, 1));

    rl_workqueue_done(wq, "lent");              /* still allowed; not requeued */
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(sz, st.processing, 0));
    cr_assert(eq(int, rl_workqueue_shut_down_with_drain(wq, 0), 0));
    rl_workqueue_shut_down(wq);                 /* idempotent */
    rl_workqueue_free(wq);
}

struct getter {
    struct rl_workqueue *wq;
    int err;
    char key[64];
    atomic_bool finished;
};

static void *getter_main(void *arg)
{
    struct getter *g = arg;
    const char *key;

    g->err = rl_workqueue_get(g->wq, 0, &key);
    if (g->err == 0)
        snprintf(g->key, sizeof(g->key), "%s", key);
    atomic_store(&g->finished, true);
    return NULL;
}

Test(workqueue, shut_down_wakes_blocked_get)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct getter g = { .wq = wq };
    pthread_t t;

    pthread_create(&t, NULL, getter_main, &g);
    rl_workqueue_shut_down(wq);
    pthread_join(t, NULL);
    cr_assert(eq(int, g.err, RL_ESHUTDOWN));
    rl_workqueue_free(wq);
}

Test(workqueue, blocking_get_notices_a_fake_clock_moved_elsewhere)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct getter g = { .wq = wq };
    pthread_t t;

    rl_workqueue_add_after(wq, "k", 60000);
    pthread_create(&t, NULL, getter_main, &g);
    fake_clock_advance(&fc, 60000);
    pthread_join(t, NULL);                      /* within one poll interval */
    cr_assert(eq(int, g.err, 0));
    cr_assert(eq(str, g.key, "k"));
    rl_workqueue_free(wq);
}

Test(workqueue, blocking_get_takes_a_key_added_later)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct getter g = { .wq = wq };
    pthread_t t;

    pthread_create(&t, NULL, getter_main, &g);
    rl_workqueue_add(wq, "k");
    pthread_join(t, NULL);
    cr_assert(eq(int, g.err, 0));
    cr_assert(eq(str, g.key, "k"));
    rl_workqueue_free(wq);
}

/* A thread that waits in rl_workqueue_shut_down_with_drain() or _flush(). */
struct drainer {
    struct rl_workqueue *wq;
    uint64_t timeout_ms;
    int (*wait)(struct rl_workqueue *wq, uint64_t timeout_ms);
    int err;
    atomic_bool finished;
};

static void *drainer_main(void *arg)
{
    struct drainer *d = arg;

    d->err = (d->wait ? d->wait : rl_workqueue_shut_down_with_drain)(d->wq, d->timeout_ms);
    atomic_store(&d->finished, true);
    return NULL;
}

Test(workqueue, drain_waits_for_lent_keys)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct drainer d = { .wq = wq, .timeout_ms = 10000 };
    const char *key;
    pthread_t t;

    rl_workqueue_add(wq, "k");
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0));
    pthread_create(&t, NULL, drainer_main, &d);
    while (!rl_workqueue_shutting_down(wq))
        sched_yield();
    fake_clock_advance(&fc, 9999);
    cr_assert(not(atomic_load(&d.finished)));
    rl_workqueue_done(wq, key);
    pthread_join(t, NULL);
    cr_assert(eq(int, d.err, 0));
    rl_workqueue_free(wq);
}

Test(workqueue, drain_gives_up_after_its_timeout)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct drainer d = { .wq = wq, .timeout_ms = 5000 };
    struct rl_workqueue_stats st;
    const char *key;
    pthread_t t;

    rl_workqueue_add(wq, "k");
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), 0));
    pthread_create(&t, NULL, drainer_main, &d);
    while (!rl_workqueue_shutting_down(wq))
        sched_yield();
    fake_clock_advance(&fc, 5000);
    pthread_join(t, NULL);
    cr_assert(eq(int, d.err, RL_ETIMEOUT));
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(sz, st.processing, 1));
    rl_workqueue_done(wq, key);
    rl_workqueue_free(wq);
}

Test(workqueue, stats_report_latency_and_longest_running)
{
    struct rl_workqueue_opts opts = RL_WORKQUEUE_OPTS_INIT;
    struct rl_workqueue_stats st;
    struct rl_workqueue *wq;
    const char *a, *b;
    unsigned sa, sb;

    fake_clock_init(&fc, T0, 0);
    opts.shards = 4;
    opts.coalesce_ms = 0;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, &fc.clock), 0));
    sa = rl_workqueue_shard_of(wq, "a");
    sb = rl_workqueue_shard_of(wq, "b");

    rl_workqueue_add(wq, "a");
    rl_workqueue_add_after(wq, "b", 100);
    rl_workqueue_stats(wq, (int)sa, &st);
    cr_assert(eq(sz, st.depth, 1));
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(sz, st.depth, 1));
    cr_assert(eq(sz, st.delayed, 1));
    cr_assert(eq(u64, st.longest_running_ms, 0));

    fake_clock_advance(&fc, 250);               /* a waited 250, b 150 */
    cr_assert(eq(int, rl_workqueue_try_get(wq, sa, &a), 0));
    cr_assert(eq(int, rl_workqueue_try_get(wq, sb, &b), 0));
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(u64, st.latency_count, 2));
    cr_assert(eq(u64, st.latency_sum_ms, 400));
    cr_assert(eq(u64, st.latency_max_ms, 250));
    cr_assert(eq(sz, st.processing, 2));

    fake_clock_advance(&fc, 400);
    rl_workqueue_done(wq, b);
    fake_clock_advance(&fc, 100);
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(u64, st.longest_running_ms, 500));
    rl_workqueue_done(wq, a);
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(u64, st.longest_running_ms, 0));
    cr_assert(eq(sz, st.processing, 0));
    rl_workqueue_free(wq);
}

Test(workqueue, bad_input_is_refused)
{
    struct rl_workqueue_opts opts = RL_WORKQUEUE_OPTS_INIT;
    struct rl_workqueue *wq;
    char long_key[RL_WORKQUEUE_KEY_MAX + 2];
    const char *key;

    fake_clock_init(&fc, T0, 0);
    opts.shards = 0;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, &fc.clock), RL_EINVAL));
    cr_assert(eq(ptr, wq, NULL));
    opts.shards = RL_WORKQUEUE_MAX_SHARDS + 1;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, &fc.clock), RL_EINVAL));
    opts.shards = 1;
    opts.base_delay_ms = 10;
    opts.max_delay_ms = 5;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, &fc.clock), RL_EINVAL));
    opts.max_delay_ms = 10;
    cr_assert(eq(int, rl_workqueue_new(&wq, &opts, NULL), RL_EINVAL));
    cr_assert(eq(int, rl_workqueue_new(&wq, NULL, &fc.clock), RL_EINVAL));

    wq = new_wq(0, 5, 1000, 0, 1);
    memset(long_key, 'x', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    cr_assert(eq(int, rl_workqueue_add(wq, NULL), RL_EINVAL));
    cr_assert(eq(int, rl_workqueue_add(wq, ""), RL_EINVAL));
    cr_assert(eq(int, rl_workqueue_add(wq, long_key), RL_EINVAL));
    cr_assert(eq(int, rl_workqueue_add_after(wq, long_key, 1), RL_EINVAL));
    cr_assert(eq(int, rl_workqueue_add_rate_limited(wq, ""), RL_EINVAL));
    long_key[RL_WORKQUEUE_KEY_MAX] = '\0';      /* exactly the limit is fine */
    cr_assert(eq(int, rl_workqueue_add(wq, long_key), 0));
    cr_assert(eq(int, rl_workqueue_try_get(wq, 1, &key), RL_EINVAL));
    cr_assert(eq(int, rl_workqueue_get(wq, 7, &key), RL_EINVAL));
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 3), UINT64_MAX));
    rl_workqueue_done(wq, "never-lent");        /* logged and ignored */
    rl_workqueue_done(wq, NULL);
    rl_workqueue_forget(wq, NULL);
    cr_assert(eq(u32, rl_workqueue_num_requeues(wq, NULL), 0));
    assert_runs(wq, long_key);
    rl_workqueue_done(wq, long_key);            /* twice: ignored */
    assert_empty(wq);
    rl_workqueue_free(wq);
    rl_workqueue_free(NULL);
}

Test(workqueue, far_delays_do_not_overflow)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);

    rl_workqueue_add_after(wq, "k", UINT64_MAX);
    cr_assert(eq(u64, rl_workqueue_next_due_ms(wq, 0), UINT64_MAX));
    fake_clock_advance(&fc, 1000000000);
    assert_empty(wq);
    rl_workqueue_add_after(wq, "k", 1);
    fake_clock_advance(&fc, 1);
    assert_runs(wq, "k");
    rl_workqueue_free(wq);
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
 * Stress: 8 producers add random keys in every way while 8 workers share 2
 * shards (4 getters per shard, so exclusivity is the queue's doing, not the
 * one-worker-per-shard layout's), failing one key in ten. No key may be held
 * twice at once, and every key must be processed successfully after its
 * last add.
 */
enum { NKEYS = 1000, NPRODUCERS = 8, NWORKERS = 8, NSHARDS = 2, ADDS = 20000 };

struct stress {
    struct rl_workqueue *wq;
    atomic_int holders[NKEYS];
    atomic_uint adds[NKEYS];            /* bumped before each add */
    atomic_uint done_gen[NKEYS];        /* adds[k] as read by the last success */
    atomic_int violations;
    atomic_uint calls;
};

struct stress_thread {
    struct stress *s;
    unsigned id;
    unsigned seed;
};

static void *stress_producer(void *arg)
{
    struct stress_thread *p = arg;
    char key[48];

    for (int i = 0; i < ADDS; i++) {
        int k = next_rand(&p->seed) % NKEYS;
        int op = next_rand(&p->seed) % 10;

        snprintf(key, sizeof(key), "deployment/ns/app-%d", k);
        atomic_fetch_add(&p->s->adds[k], 1);
        if (op < 7)
            rl_workqueue_add(p->s->wq, key);
        else if (op < 9)
            rl_workqueue_add_after(p->s->wq, key, (uint64_t)(next_rand(&p->seed) % 3));
        else
            rl_workqueue_add_rate_limited(p->s->wq, key);
        if (i % 256 == 0)
            sched_yield();
    }
    return NULL;
}

static void *stress_worker(void *arg)
{
    struct stress_thread *w = arg;
    struct stress *s = w->s;
    const char *key;

    while (rl_workqueue_get(s->wq, w->id % NSHARDS, &key) == 0) {
        int k = (int)strtol(strrchr(key, '-') + 1, NULL, 10);
        unsigned gen;
        bool fail;

        if (atomic_fetch_add(&s->holders[k], 1) != 0)
            atomic_fetch_add(&s->violations, 1);
        gen = atomic_load(&s->adds[k]);
        atomic_fetch_add(&s->calls, 1);
        if (next_rand(&w->seed) % 4 == 0)
            sched_yield();              /* widen the window for a second holder */
        fail = next_rand(&w->seed) % 10 == 0;
        if (fail) {
            rl_workqueue_add_rate_limited(s->wq, key);
        } else {
            if (gen > atomic_load(&s->done_gen[k]))
                atomic_store(&s->done_gen[k], gen);
            rl_workqueue_forget(s->wq, key);
        }
        /* Held from get() to done(): release just before handing it back. */
        atomic_fetch_sub(&s->holders[k], 1);
        rl_workqueue_done(s->wq, key);
    }
    return NULL;
}

static int stress_lagging(struct stress *s)
{
    int n = 0;

    for (int k = 0; k < NKEYS; k++)
        n += atomic_load(&s->done_gen[k]) != atomic_load(&s->adds[k]);
    return n;
}

Test(workqueue, stress_shared_shards_never_hold_a_key_twice)
{
    struct rl_workqueue_opts opts = RL_WORKQUEUE_OPTS_INIT;
    struct stress_thread producers[NPRODUCERS], workers[NWORKERS];
    pthread_t pt[NPRODUCERS], wt[NWORKERS];
    struct rl_workqueue_stats st;
    struct stress *s = calloc(1, sizeof(*s));
    uint64_t deadline;
    int lagging;

    opts.shards = NSHARDS;
    opts.coalesce_ms = 1;
    opts.base_delay_ms = 1;
    opts.max_delay_ms = 4;
    opts.qps = 100000;
    opts.burst = 100;
    cr_assert(eq(int, rl_workqueue_new(&s->wq, &opts, rl_clock_system()), 0));
    for (unsigned i = 0; i < NWORKERS; i++) {
        workers[i] = (struct stress_thread){ .s = s, .id = i, .seed = 31u * (i + 1) };
        pthread_create(&wt[i], NULL, stress_worker, &workers[i]);
    }
    for (unsigned i = 0; i < NPRODUCERS; i++) {
        producers[i] = (struct stress_thread){ .s = s, .id = i, .seed = 7919u * (i + 1) };
        pthread_create(&pt[i], NULL, stress_producer, &producers[i]);
    }
    for (int i = 0; i < NPRODUCERS; i++)
        pthread_join(pt[i], NULL);

    deadline = rl_mono_ms() + 20000;
    while ((lagging = stress_lagging(s)) > 0 && rl_mono_ms() < deadline)
        sched_yield();
    cr_assert(eq(int, rl_workqueue_shut_down_with_drain(s->wq, 5000), 0));
    for (int i = 0; i < NWORKERS; i++)
        pthread_join(wt[i], NULL);

    cr_assert(eq(int, lagging, 0), "%d keys not processed after their last add", lagging);
    cr_assert(eq(int, atomic_load(&s->violations), 0), "a key was held twice at once");
    rl_workqueue_stats(s->wq, -1, &st);
    cr_assert(eq(sz, st.processing, 0));
    cr_assert(eq(u64, st.latency_count, atomic_load(&s->calls)));
    cr_log_info("stress: %u gets, %" PRIu64 " merged adds, max latency %" PRIu64 " ms",
                atomic_load(&s->calls), st.merged, st.latency_max_ms);
    rl_workqueue_free(s->wq);
    free(s);
}

/* A pass over every key never delays a live change: bulk keys come last. */
Test(workqueue, bulk_keys_are_served_after_live_ones)
{
    struct rl_workqueue *wq = new_wq(0, 5, 1000, 0, 1);
    struct rl_workqueue_stats st;

    rl_workqueue_add_bulk(wq, "b1");
    rl_workqueue_add_bulk(wq, "b2");
    rl_workqueue_add_bulk(wq, "b3");
    rl_workqueue_add(wq, "live");
    rl_workqueue_add_bulk(wq, "live");          /* a bulk add does not demote it */
    rl_workqueue_stats(wq, 0, &st);
    cr_assert(eq(sz, st.depth, 4));
    assert_runs(wq, "live");
    assert_runs(wq, "b1");
    rl_workqueue_add(wq, "b3");                 /* a live change to a bulk key: to the front */
    rl_workqueue_add(wq, "later");
    assert_runs(wq, "b3");
    assert_runs(wq, "later");
    assert_runs(wq, "b2");
    assert_empty(wq);
    rl_workqueue_free(wq);
}

/* The class survives the coalescing window and a dirty requeue, and a live add wins both. */
Test(workqueue, bulk_class_follows_the_key_through_window_and_requeue)
{
    struct rl_workqueue *wq = new_wq(100, 5, 1000, 0, 1);

    rl_workqueue_add_bulk(wq, "b");
    rl_workqueue_add_bulk(wq, "m");
    rl_workqueue_add(wq, "m");                  /* merged in its window: now live */
    fake_clock_advance(&fc, 100);
    assert_runs(wq, "m");                       /* before b, added first */
    assert_gets(wq, "b");
    rl_workqueue_add_bulk(wq, "b");             /* dirty, by a bulk add */
    rl_workqueue_add(wq, "x");
    fake_clock_advance(&fc, 100);
    rl_workqueue_done(wq, "b");
    assert_runs(wq, "x");                       /* b is bulk again */
    assert_gets(wq, "b");
    rl_workqueue_add_bulk(wq, "b");
    rl_workqueue_add(wq, "b");                  /* dirty, and live */
    rl_workqueue_add_bulk(wq, "y");
    fake_clock_advance(&fc, 100);
    rl_workqueue_done(wq, "b");
    assert_runs(wq, "b");
    assert_runs(wq, "y");
    assert_empty(wq);
    rl_workqueue_free(wq);
}

/* Spins until the key is ready without moving the clock, then takes it. */
static const char *await_key(struct rl_workqueue *wq, const char *want)
{
    const char *key = NULL;

    while (rl_workqueue_try_get(wq, 0, &key) == RL_WORKQUEUE_EMPTY)
        sched_yield();
    cr_assert(eq(str, (char *)key, (char *)want));
    return key;
}

Test(workqueue, flush_closes_windows_and_waits_for_live_keys_only)
{
    struct rl_workqueue *wq = new_wq(1000, 5, 1000, 0, 1);
    struct drainer f = { .wq = wq, .timeout_ms = 60000, .wait = rl_workqueue_flush };
    struct rl_workqueue_stats st;
    const char *live, *later, *key;
    pthread_t t;

    rl_workqueue_add(wq, "live");                   /* in its window */
    rl_workqueue_add_after(wq, "hold", 600000);     /* a budget hold: stays */
    rl_workqueue_add_bulk(wq, "bulk");              /* the startup pass: stays */
    assert_empty(wq);
    pthread_create(&t, NULL, drainer_main, &f);
    live = await_key(wq, "live");                   /* the clock never moved */
    rl_workqueue_add(wq, "later");                  /* no window while flushing */
    later = await_key(wq, "later");
    fake_clock_advance(&fc, 1000);                  /* the bulk key is due ... */
    assert_empty(wq);                               /* ... but not served */
    cr_assert(not(atomic_load(&f.finished)));
    rl_workqueue_done(wq, live);
    cr_assert(not(atomic_load(&f.finished)));
    rl_workqueue_done(wq, later);
    pthread_join(t, NULL);
    cr_assert(eq(int, f.err, 0));
    rl_workqueue_stats(wq, -1, &st);
    cr_assert(eq(sz, st.delayed, 1), "the hold is kept");
    cr_assert(eq(sz, st.depth, 1), "the bulk key is kept");
    rl_workqueue_shut_down(wq);
    cr_assert(eq(int, rl_workqueue_try_get(wq, 0, &key), RL_ESHUTDOWN));
    cr_assert(eq(int, rl_workqueue_flush(wq, 0), RL_ESHUTDOWN));
    rl_workqueue_free(wq);
}

Test(workqueue, flush_gives_up_after_its_timeout)
{
    struct rl_workqueue *wq = new_wq(1000, 5, 1000, 0, 1);
    struct drainer f = { .wq = wq, .timeout_ms = 3000, .wait = rl_workqueue_flush };
    const char *key;
    pthread_t t;

    rl_workqueue_add(wq, "stuck");
    pthread_create(&t, NULL, drainer_main, &f);
    key = await_key(wq, "stuck");
    fake_clock_advance(&fc, 2999);
    cr_assert(not(atomic_load(&f.finished)));
    fake_clock_advance(&fc, 1);
    pthread_join(t, NULL);
    cr_assert(eq(int, f.err, RL_ETIMEOUT));
    rl_workqueue_done(wq, key);
    rl_workqueue_free(wq);
}
