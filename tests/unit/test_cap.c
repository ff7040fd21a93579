/* test_cap.c - the rollout cap: slots, the FIFO of waiting keys, coalescing, expiry, recovery */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_clock.h"
#include "reloadd/reload/cap.h"
#include "reloadd/reload/workload.h"

#define T0 1000000u                     /* fake clocks start away from zero */

static uint64_t now(struct fake_clock *fc)
{
    return rl_clock_mono_ms(&fc->clock);
}

/* The next ready key must be `want` (NULL: none). */
static void next_is(struct rl_cap *c, uint64_t at, const char *want)
{
    char *got = rl_cap_next_ready(c, at);

    if (!want)
        cr_assert(got == NULL, "next ready: %s, none expected", got);
    else
        cr_assert(got && strcmp(got, want) == 0, "next ready: %s, %s expected",
                  got ? got : "(none)", want);
    free(got);
}

Test(cap, no_cap_rolls_everything_and_keeps_nothing)
{
    struct rl_cap *c = rl_cap_new(0, 1000);
    struct rl_cap_counts n;

    for (int i = 0; i < 100; i++)
        cr_assert(eq(int, rl_cap_admit(c, "deployment/ns/a", T0), RL_CAP_ROLL));
    rl_cap_counts(c, T0, &n);
    cr_assert(eq(sz, n.in_flight + n.waiting, 0));
    next_is(c, T0, NULL);
    cr_assert(not(rl_cap_finish(c, "deployment/ns/a")));
    rl_cap_free(c);
    rl_cap_free(NULL);
}

Test(cap, fifo_order_past_the_cap)
{
    struct rl_cap *c = rl_cap_new(2, 0);
    struct rl_cap_counts n;

    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0), RL_CAP_ROLL));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0 + 1), RL_CAP_ROLL));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/c", T0 + 2), RL_CAP_WAIT));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/d", T0 + 3), RL_CAP_WAIT));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/e", T0 + 4), RL_CAP_WAIT));
    next_is(c, T0 + 5, NULL);                   /* no slot free */
    rl_cap_counts(c, T0 + 12, &n);
    cr_assert(eq(sz, n.in_flight, 2));
    cr_assert(eq(sz, n.waiting, 3));
    cr_assert(eq(u64, n.oldest_wait_ms, 10), "c has waited since T0+2");

    cr_assert(rl_cap_finish(c, "d/ns/b"));
    cr_assert(not(rl_cap_finish(c, "d/ns/b")), "a slot is freed once");
    next_is(c, T0 + 20, "d/ns/c");
    next_is(c, T0 + 20, NULL);
    /* The key handed out holds its slot: its reconcile's admission rolls. */
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/c", T0 + 21), RL_CAP_ROLL));
    cr_assert(rl_cap_finish(c, "d/ns/a"));
    cr_assert(rl_cap_finish(c, "d/ns/c"));
    next_is(c, T0 + 30, "d/ns/d");
    next_is(c, T0 + 30, "d/ns/e");
    next_is(c, T0 + 30, NULL);
    rl_cap_counts(c, T0 + 30, &n);
    cr_assert(eq(sz, n.in_flight, 2));
    cr_assert(eq(sz, n.waiting, 0));
    cr_assert(eq(u64, n.admitted_total, 5));
    cr_assert(eq(u64, n.queued_total, 3));
    rl_cap_free(c);
}

Test(cap, a_newcomer_queues_behind_those_waiting_even_with_a_free_slot)
{
    struct rl_cap *c = rl_cap_new(1, 0);

    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0), RL_CAP_ROLL));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0), RL_CAP_WAIT));
    cr_assert(rl_cap_finish(c, "d/ns/a"));
    /* A slot is free but b was first: z waits behind it. */
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/z", T0 + 1), RL_CAP_WAIT));
    next_is(c, T0 + 2, "d/ns/b");
    next_is(c, T0 + 2, NULL);
    rl_cap_free(c);
}

Test(cap, coalescing_keeps_the_place_in_the_queue)
{
    struct rl_cap *c = rl_cap_new(1, 0);
    struct rl_cap_counts n;

    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0), RL_CAP_ROLL));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0 + 1), RL_CAP_WAIT));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/c", T0 + 2), RL_CAP_WAIT));
    /* b changes again twice: it keeps its place, once in the queue. */
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0 + 3), RL_CAP_WAIT));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0 + 4), RL_CAP_WAIT));
    rl_cap_counts(c, T0 + 4, &n);
    cr_assert(eq(sz, n.waiting, 2));
    cr_assert(eq(u64, n.coalesced_total, 2));
    cr_assert(eq(u64, n.oldest_wait_ms, 3), "b's wait counts from its first arrival");
    /* a, in flight, changes again: it rolls again in its own slot. */
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0 + 5), RL_CAP_ROLL));
    rl_cap_counts(c, T0 + 5, &n);
    cr_assert(eq(sz, n.in_flight, 1));
    cr_assert(rl_cap_finish(c, "d/ns/a"));
    next_is(c, T0 + 6, "d/ns/b");
    cr_assert(rl_cap_finish(c, "d/ns/b"));
    next_is(c, T0 + 7, "d/ns/c");
    rl_cap_free(c);
}

struct collected {
    char keys[8][32];
    size_t n;
};

static void collect(void *ctx, const char *key)
{
    struct collected *col = ctx;

    snprintf(col->keys[col->n++], sizeof(col->keys[0]), "%s", key);
}

Test(cap, slots_expire_after_the_timeout_on_a_fake_clock)
{
    struct fake_clock fc;
    struct rl_cap *c = rl_cap_new(2, 60000);
    struct collected col = { .n = 0 };
    struct rl_cap_counts n;

    fake_clock_init(&fc, T0, 0);
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", now(&fc)), RL_CAP_ROLL));
    fake_clock_advance(&fc, 10000);
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", now(&fc)), RL_CAP_ROLL));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/c", now(&fc)), RL_CAP_WAIT));

    fake_clock_advance(&fc, 49999);             /* a at 59.999 s */
    cr_assert(eq(sz, rl_cap_expire(c, now(&fc), collect, &col), 0));
    fake_clock_advance(&fc, 1);                 /* a at 60 s: expires */
    cr_assert(eq(sz, rl_cap_expire(c, now(&fc), collect, &col), 1));
    cr_assert(eq(sz, col.n, 1));
    cr_assert(eq(str, col.keys[0], "d/ns/a"));
    next_is(c, now(&fc), "d/ns/c");
    cr_assert(not(rl_cap_finish(c, "d/ns/a")), "an expired slot is gone");

    /* b re-admitted restarts its clock: it does not expire at its old time. */
    fake_clock_advance(&fc, 5000);
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", now(&fc)), RL_CAP_ROLL));
    fake_clock_advance(&fc, 50000);             /* b's first admission is 105 s old */
    col.n = 0;
    cr_assert(eq(sz, rl_cap_expire(c, now(&fc), collect, &col), 0), "%zu: %s", col.n,
              col.keys[0]);
    fake_clock_advance(&fc, 10000);             /* c 65 s, b 60 s since re-admission */
    cr_assert(eq(sz, rl_cap_expire(c, now(&fc), collect, &col), 2));
    cr_assert(eq(str, col.keys[0], "d/ns/c"), "oldest first");
    cr_assert(eq(str, col.keys[1], "d/ns/b"));
    rl_cap_counts(c, now(&fc), &n);
    cr_assert(eq(u64, n.expired_total, 3));
    cr_assert(eq(sz, n.in_flight, 0));
    /* No timeout: nothing expires. */
    rl_cap_free(c);
    c = rl_cap_new(1, 0);
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0), RL_CAP_ROLL));
    cr_assert(eq(sz, rl_cap_expire(c, UINT64_MAX, NULL, NULL), 0));
    rl_cap_free(c);
}

static void readmit_from_callback(void *ctx, const char *key)
{
    struct rl_cap *c = ctx;

    /* The lock is not held: calling back in must not deadlock. */
    cr_assert(eq(int, rl_cap_admit(c, key, T0 + 100000), RL_CAP_ROLL));
}

Test(cap, expire_calls_back_without_the_lock)
{
    struct rl_cap *c = rl_cap_new(1, 10);

    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0), RL_CAP_ROLL));
    cr_assert(eq(sz, rl_cap_expire(c, T0 + 10, readmit_from_callback, c), 1));
    cr_assert(rl_cap_finish(c, "d/ns/a"), "re-admitted by the callback");
    rl_cap_free(c);
}

Test(cap, a_deleted_workload_leaves_the_queue_and_frees_its_slot)
{
    struct rl_cap *c = rl_cap_new(1, 0);
    struct rl_cap_counts n;

    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0), RL_CAP_ROLL));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0), RL_CAP_WAIT));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/c", T0), RL_CAP_WAIT));
    cr_assert(not(rl_cap_remove(c, "d/ns/b")), "b held no slot");
    cr_assert(not(rl_cap_remove(c, "d/ns/nope")));
    cr_assert(rl_cap_remove(c, "d/ns/a"), "a held one");
    next_is(c, T0, "d/ns/c");
    next_is(c, T0, NULL);
    rl_cap_counts(c, T0, &n);
    cr_assert(eq(sz, n.waiting, 0));
    cr_assert(eq(sz, n.in_flight, 1));
    /* A deleted key that comes back starts over at the back. */
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0), RL_CAP_WAIT));
    rl_cap_free(c);
}

Test(cap, finish_of_a_waiting_key_keeps_it_waiting)
{
    struct rl_cap *c = rl_cap_new(1, 0);

    cr_assert(eq(int, rl_cap_admit(c, "d/ns/a", T0), RL_CAP_ROLL));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/b", T0), RL_CAP_WAIT));
    cr_assert(not(rl_cap_finish(c, "d/ns/b")));
    cr_assert(rl_cap_finish(c, "d/ns/a"));
    next_is(c, T0, "d/ns/b");
    rl_cap_free(c);
}

Test(cap, adoption_after_a_failover)
{
    struct rl_cap *c = rl_cap_new(2, 60000);
    struct collected col = { .n = 0 };
    struct rl_cap_counts n;

    /* Three rollouts were in flight (the cap was larger before): all adopted. */
    rl_cap_adopt(c, "d/ns/young", 1000, T0);
    rl_cap_adopt(c, "d/ns/old", 50000, T0);
    rl_cap_adopt(c, "d/ns/mid", 20000, T0);
    rl_cap_counts(c, T0, &n);
    cr_assert(eq(sz, n.in_flight, 3));
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/new", T0), RL_CAP_WAIT));
    cr_assert(rl_cap_finish(c, "d/ns/young"));
    next_is(c, T0, NULL);                       /* 2 in flight, the cap is 2 */
    /* Their ages count: old expires 10 s later, mid 40 s later. */
    cr_assert(eq(sz, rl_cap_expire(c, T0 + 10000, collect, &col), 1));
    cr_assert(eq(str, col.keys[0], "d/ns/old"));
    next_is(c, T0 + 10000, "d/ns/new");
    /* Adopting a waiting key moves it in flight. */
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/w", T0), RL_CAP_WAIT));
    rl_cap_adopt(c, "d/ns/w", 0, T0 + 10000);
    rl_cap_counts(c, T0 + 10000, &n);
    cr_assert(eq(sz, n.waiting, 0));
    cr_assert(eq(sz, n.in_flight, 3));
    rl_cap_free(c);
}

Test(cap, adopted_slots_expire_oldest_first)
{
    struct rl_cap *c = rl_cap_new(5, 60000);
    struct collected col = { .n = 0 };

    rl_cap_adopt(c, "d/ns/young", 1000, T0);
    rl_cap_adopt(c, "d/ns/old", 50000, T0);
    rl_cap_adopt(c, "d/ns/mid", 20000, T0);
    cr_assert(eq(int, rl_cap_admit(c, "d/ns/new", T0), RL_CAP_ROLL));
    cr_assert(eq(sz, rl_cap_expire(c, T0 + 1000000, collect, &col), 4));
    cr_assert(eq(str, col.keys[0], "d/ns/old"));
    cr_assert(eq(str, col.keys[1], "d/ns/mid"));
    cr_assert(eq(str, col.keys[2], "d/ns/young"));
    cr_assert(eq(str, col.keys[3], "d/ns/new"));
    rl_cap_free(c);
}

Test(cap, in_rollout_contract)
{
    struct rl_workload w;
    uint64_t age = 99;
    const int64_t now_s = 1733350000;

    memset(&w, 0, sizeof(w));
    w.has_record = true;
    w.rollouts = "1733349000,1733349950";
    cr_assert(rl_cap_in_rollout(&w, RL_PROGRESS_RUNNING, now_s, 600, &age));
    cr_assert(eq(u64, age, 50000), "50 s since the last rollout of the history");
    cr_assert(not(rl_cap_in_rollout(&w, RL_PROGRESS_DONE, now_s, 600, &age)));
    cr_assert(not(rl_cap_in_rollout(&w, RL_PROGRESS_FAILED, now_s, 600, &age)));
    cr_assert(not(rl_cap_in_rollout(&w, RL_PROGRESS_RUNNING, now_s, 50, &age)),
              "the slot would have expired");
    cr_assert(rl_cap_in_rollout(&w, RL_PROGRESS_RUNNING, now_s, 0, &age), "no timeout");
    w.rollouts = "1733350100";
    cr_assert(rl_cap_in_rollout(&w, RL_PROGRESS_RUNNING, now_s, 600, &age));
    cr_assert(eq(u64, age, 0), "a rollout in the future is now");
    /* No history (no budget): RUNNING with our record counts from now. */
    w.rollouts = NULL;
    age = 99;
    cr_assert(rl_cap_in_rollout(&w, RL_PROGRESS_RUNNING, now_s, 600, &age));
    cr_assert(eq(u64, age, 0));
    w.rollouts = "garbage";
    cr_assert(rl_cap_in_rollout(&w, RL_PROGRESS_RUNNING, now_s, 600, &age));
    /* Not ours: never adopted. */
    w.has_record = false;
    w.rollouts = "1733349950";
    cr_assert(not(rl_cap_in_rollout(&w, RL_PROGRESS_RUNNING, now_s, 600, &age)));
}

/*
 * Concurrent admissions from several threads (TSan runs this): the cap
 * holds, every key rolls exactly once. Each thread admits its own keys and
 * drains whatever is ready, as workers will. Failures are counted, and
 * asserted on the test's thread.
 */
#define THREADS 8
#define KEYS_PER_THREAD 300
#define MAX 3

struct shared {
    struct rl_cap *c;
    atomic_int active;                  /* keys between ROLL and finish */
    atomic_int peak;
    atomic_int rolled[THREADS][KEYS_PER_THREAD];
    atomic_int bad_finish;
};

struct arg {
    struct shared *s;
    int t;
};

static void roll_once(struct shared *s, const char *key)
{
    int a = atomic_fetch_add(&s->active, 1) + 1;
    int p = atomic_load(&s->peak);
    int t, j;

    while (a > p && !atomic_compare_exchange_weak(&s->peak, &p, a))
        ;
    if (sscanf(key, "deployment/t%d/w%d", &t, &j) == 2)
        atomic_fetch_add(&s->rolled[t][j], 1);
    atomic_fetch_sub(&s->active, 1);
    if (!rl_cap_finish(s->c, key))
        atomic_fetch_add(&s->bad_finish, 1);
}

static void drain(struct shared *s)
{
    char *k;

    while ((k = rl_cap_next_ready(s->c, T0))) {
        roll_once(s, k);
        free(k);
    }
}

static void *worker(void *p)
{
    struct arg *a = p;
    char key[64];

    for (int j = 0; j < KEYS_PER_THREAD; j++) {
        snprintf(key, sizeof(key), "deployment/t%d/w%d", a->t, j);
        if (rl_cap_admit(a->s->c, key, T0) == RL_CAP_ROLL)
            roll_once(a->s, key);
        drain(a->s);
    }
    return NULL;
}

Test(cap, concurrent_admissions_hold_the_cap)
{
    static struct shared s;
    struct arg args[THREADS];
    pthread_t th[THREADS];
    struct rl_cap_counts n;

    s.c = rl_cap_new(MAX, 0);
    for (int t = 0; t < THREADS; t++) {
        args[t] = (struct arg){ &s, t };
        cr_assert(eq(int, pthread_create(&th[t], NULL, worker, &args[t]), 0));
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    drain(&s);
    rl_cap_counts(s.c, T0, &n);
    cr_assert(eq(sz, n.waiting, 0));
    cr_assert(eq(sz, n.in_flight, 0));
    cr_assert(eq(int, atomic_load(&s.bad_finish), 0));
    cr_assert(le(int, atomic_load(&s.peak), MAX), "peak %d over the cap", atomic_load(&s.peak));
    for (int t = 0; t < THREADS; t++)
        for (int j = 0; j < KEYS_PER_THREAD; j++)
            cr_assert(eq(int, atomic_load(&s.rolled[t][j]), 1), "t%d/w%d rolled %d times", t, j,
                      atomic_load(&s.rolled[t][j]));
    cr_assert(eq(u64, n.admitted_total, THREADS * KEYS_PER_THREAD));
    rl_cap_free(s.c);
}

/* Many threads admit the same few keys while the cap is full: each waits once, in one place. */
#define SAME_KEYS 5

static void *same_keys(void *p)
{
    struct rl_cap *c = p;
    char key[32];

    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "d/ns/k%d", i % SAME_KEYS);
        (void)rl_cap_admit(c, key, T0 + (uint64_t)i);
    }
    return NULL;
}

Test(cap, concurrent_coalescing)
{
    struct rl_cap *c = rl_cap_new(1, 0);
    pthread_t th[THREADS];
    struct rl_cap_counts n;
    char want[32];
    size_t seen = 0;
    char *k;

    cr_assert(eq(int, rl_cap_admit(c, "d/ns/holder", T0), RL_CAP_ROLL));
    for (int t = 0; t < THREADS; t++)
        cr_assert(eq(int, pthread_create(&th[t], NULL, same_keys, c), 0));
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    rl_cap_counts(c, T0, &n);
    cr_assert(eq(sz, n.waiting, SAME_KEYS));
    cr_assert(eq(u64, n.queued_total, SAME_KEYS));
    cr_assert(eq(u64, n.coalesced_total, THREADS * 1000 - SAME_KEYS));
    /* Each comes out once; each thread admitted k0..k4 in that order, so they queued so. */
    cr_assert(rl_cap_finish(c, "d/ns/holder"));
    while ((k = rl_cap_next_ready(c, T0))) {
        snprintf(want, sizeof(want), "d/ns/k%zu", seen++);
        cr_assert(eq(str, k, want));
        cr_assert(rl_cap_finish(c, k));
        free(k);
    }
    cr_assert(eq(sz, seen, SAME_KEYS));
    rl_cap_free(c);
}
