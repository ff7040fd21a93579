/*
 * test_outbox.c - the bounded FIFO and its one thread shared by Events and
 * alerts: order, drop-oldest, refusal after stop, the stop's drain deadline
 * and abort hook, and every item released exactly once
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/engine/outbox.h"

TestSuite(outbox, .timeout = 60);

/* An item owns heap memory, so an item never released leaks under ASan. */
struct item {
    int n;
    char *payload;                  /* "<n>" */
};

/* What the callbacks saw, and how deliver behaves. */
struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct rl_outbox *ob;
    int delivered[64];
    int ndelivered;
    int released;
    bool use_gate;                  /* deliver waits for gate_open */
    bool gate_open;
    int entered;                    /* deliver calls begun */
    uint64_t block_ms;              /* deliver then takes this long, unless aborted */
    bool backoff;                   /* ... waiting with rl_outbox_backoff_wait() instead */
    bool backoff_ok;                /* what that wait returned */
    atomic_bool abort_now;
    atomic_int stops, aborts, inits, finis;
    atomic_bool hooks_on_thread;    /* init and fini ran on the outbox's thread */
    pthread_t outbox_thread;
};

static struct rec *rec_new(void)
{
    struct rec *r = RL_NEW(struct rec);

    rl_mutex_init(&r->mu);
    rl_cond_init(&r->cv);
    atomic_init(&r->abort_now, false);
    atomic_init(&r->hooks_on_thread, true);
    return r;
}

static void rec_free(struct rec *r)
{
    rl_cond_destroy(&r->cv);
    rl_mutex_destroy(&r->mu);
    free(r);
}

static void nap_ms(long ms)
{
    struct timespec ts = { 0, ms * 1000000L };

    nanosleep(&ts, NULL);
}

static void deliver(void *ctx, void *it)
{
    struct rec *r = ctx;
    struct item *i = it;
    uint64_t until;

    cr_assert(eq(int, (int)strtol(i->payload, NULL, 10), i->n));
    rl_mutex_lock(&r->mu);
    r->entered++;
    rl_cond_broadcast(&r->cv);
    while (r->use_gate && !r->gate_open)
        rl_cond_wait(&r->cv, &r->mu);
    rl_mutex_unlock(&r->mu);
    if (r->backoff) {
        bool ok = rl_outbox_backoff_wait(r->ob, r->block_ms);

        rl_mutex_lock(&r->mu);
        r->backoff_ok = ok;
        rl_mutex_unlock(&r->mu);
    } else {
        until = rl_mono_ms() + r->block_ms;
        while (rl_mono_ms() < until && !atomic_load(&r->abort_now))
            nap_ms(2);
    }
    rl_mutex_lock(&r->mu);
    if (r->ndelivered < 64)
        r->delivered[r->ndelivered] = i->n;
    r->ndelivered++;
    rl_cond_broadcast(&r->cv);
    rl_mutex_unlock(&r->mu);
}

static void release(void *ctx, void *it)
{
    struct rec *r = ctx;
    struct item *i = it;

    free(i->payload);
    i->payload = NULL;
    rl_mutex_lock(&r->mu);
    r->released++;
    rl_mutex_unlock(&r->mu);
}

static void on_stop(void *ctx)
{
    atomic_fetch_add(&((struct rec *)ctx)->stops, 1);
}

/* As alerts do: cut the delivery in flight short (and open a closed gate). */
static void on_abort(void *ctx)
{
    struct rec *r = ctx;

    atomic_fetch_add(&r->aborts, 1);
    atomic_store(&r->abort_now, true);
    rl_mutex_lock(&r->mu);
    r->gate_open = true;
    rl_cond_broadcast(&r->cv);
    rl_mutex_unlock(&r->mu);
}

static void thread_init(void *ctx)
{
    struct rec *r = ctx;

    atomic_fetch_add(&r->inits, 1);
    r->outbox_thread = pthread_self();
}

static void thread_fini(void *ctx)
{
    struct rec *r = ctx;

    atomic_fetch_add(&r->finis, 1);
    if (!pthread_equal(r->outbox_thread, pthread_self()))
        atomic_store(&r->hooks_on_thread, false);
}

static const struct rl_outbox_ops ops = {
    .deliver = deliver,
    .release = release,
    .thread_init = thread_init,
    .thread_fini = thread_fini,
    .on_stop = on_stop,
    .on_abort = on_abort,
};

static struct rl_outbox *new_outbox(struct rec *r, size_t cap)
{
    struct rl_outbox *ob = rl_outbox_new("rl-test-outbox", sizeof(struct item), cap, &ops, r);

    cr_assert(ne(ptr, ob, NULL));
    r->ob = ob;
    return ob;
}

static enum rl_outbox_push push(struct rl_outbox *ob, int n, struct item *evicted)
{
    struct item i = { .n = n, .payload = rl_xasprintf("%d", n) };
    struct item spare = { 0 };
    enum rl_outbox_push res = rl_outbox_push(ob, &i, evicted ? evicted : &spare);

    if (res == RL_OUTBOX_REFUSED)
        free(i.payload);            /* still ours */
    if (res == RL_OUTBOX_EVICTED && !evicted)
        free(spare.payload);
    return res;
}

static size_t queued(struct rl_outbox *ob)
{
    struct rl_outbox_stats st;

    rl_outbox_stats(ob, &st);
    return st.queued;
}

static uint64_t dropped_at_stop(struct rl_outbox *ob)
{
    struct rl_outbox_stats st;

    rl_outbox_stats(ob, &st);
    return st.dropped;
}

/* Waits (10 s at most) until deliver has been entered n times. */
static void wait_entered(struct rec *r, int n)
{
    uint64_t until = rl_mono_ms() + 10000;

    rl_mutex_lock(&r->mu);
    while (r->entered < n && rl_mono_ms() < until)
        rl_cond_wait_until_ms(&r->cv, &r->mu, until);
    cr_assert(ge(int, r->entered, n), "deliver entered %d times, not %d", r->entered, n);
    rl_mutex_unlock(&r->mu);
}

static void wait_delivered(struct rec *r, int n)
{
    uint64_t until = rl_mono_ms() + 10000;

    rl_mutex_lock(&r->mu);
    while (r->ndelivered < n && rl_mono_ms() < until)
        rl_cond_wait_until_ms(&r->cv, &r->mu, until);
    cr_assert(ge(int, r->ndelivered, n), "%d delivered, not %d", r->ndelivered, n);
    rl_mutex_unlock(&r->mu);
}

Test(outbox, new_refuses_what_cannot_work)
{
    struct rl_outbox_ops no_release = { .deliver = deliver };

    cr_assert(eq(ptr, rl_outbox_new("x", 0, 4, &ops, NULL), NULL));
    cr_assert(eq(ptr, rl_outbox_new("x", 8, 0, &ops, NULL), NULL));
    cr_assert(eq(ptr, rl_outbox_new("x", 8, 4, &no_release, NULL), NULL));
    cr_assert(eq(ptr, rl_outbox_new("x", 8, 4, NULL, NULL), NULL));
    rl_outbox_free(NULL);
    cr_assert(eq(sz, rl_outbox_stop(NULL, 0), 0));
}

Test(outbox, items_are_delivered_in_order_on_the_thread)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 16);

    cr_assert(eq(int, rl_outbox_start(ob), 0));
    cr_assert(eq(int, rl_outbox_start(ob), RL_EINVAL));
    for (int n = 1; n <= 10; n++)
        cr_assert(eq(int, push(ob, n, NULL), RL_OUTBOX_QUEUED));
    wait_delivered(r, 10);
    for (int n = 1; n <= 10; n++)
        cr_assert(eq(int, r->delivered[n - 1], n));
    cr_assert(eq(sz, rl_outbox_stop(ob, 1000), 0));
    cr_assert(eq(int, r->released, 10));
    cr_assert(eq(int, atomic_load(&r->inits), 1));
    cr_assert(eq(int, atomic_load(&r->finis), 1));
    cr_assert(atomic_load(&r->hooks_on_thread));
    cr_assert(eq(int, atomic_load(&r->stops), 1));
    cr_assert(eq(int, atomic_load(&r->aborts), 0), "abort with nothing in flight");
    rl_outbox_free(ob);
    rec_free(r);
}

Test(outbox, a_full_queue_hands_the_oldest_back)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 3);
    struct item old = { 0 };

    r->use_gate = true;
    cr_assert(eq(int, rl_outbox_start(ob), 0));
    cr_assert(eq(int, push(ob, 1, NULL), RL_OUTBOX_QUEUED));
    wait_entered(r, 1);                             /* 1 in flight, out of the queue */
    for (int n = 2; n <= 4; n++)
        cr_assert(eq(int, push(ob, n, NULL), RL_OUTBOX_QUEUED));
    cr_assert(eq(sz, queued(ob), 3));
    cr_assert(eq(int, push(ob, 5, &old), RL_OUTBOX_EVICTED));
    cr_assert(eq(int, old.n, 2));
    cr_assert(eq(str, old.payload, "2"));
    free(old.payload);                              /* the caller's now */
    cr_assert(eq(int, push(ob, 6, &old), RL_OUTBOX_EVICTED));
    cr_assert(eq(int, old.n, 3));
    free(old.payload);
    cr_assert(eq(sz, queued(ob), 3));
    rl_mutex_lock(&r->mu);
    r->gate_open = true;
    rl_cond_broadcast(&r->cv);
    rl_mutex_unlock(&r->mu);
    wait_delivered(r, 4);
    cr_assert(eq(int, r->delivered[0], 1));
    cr_assert(eq(int, r->delivered[1], 4));
    cr_assert(eq(int, r->delivered[2], 5));
    cr_assert(eq(int, r->delivered[3], 6));
    cr_assert(eq(sz, rl_outbox_stop(ob, 1000), 0));
    cr_assert(eq(int, r->released, 4), "evicted items are not the outbox's to release");
    cr_assert(eq(u64, dropped_at_stop(ob), 0), "evictions are the caller's to count");
    rl_outbox_free(ob);
    rec_free(r);
}

Test(outbox, pushes_are_refused_once_stop_began)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 4);

    cr_assert(eq(int, rl_outbox_start(ob), 0));
    cr_assert(eq(sz, rl_outbox_stop(ob, 0), 0));
    cr_assert(eq(int, push(ob, 1, NULL), RL_OUTBOX_REFUSED));
    cr_assert(eq(sz, queued(ob), 0));
    cr_assert(eq(sz, rl_outbox_stop(ob, 1000), 0), "a second stop");
    cr_assert(eq(int, atomic_load(&r->stops), 1));
    cr_assert(eq(int, rl_outbox_start(ob), RL_EINVAL), "started again after stop");
    rl_outbox_free(ob);
    cr_assert(eq(int, r->released, 0));
    cr_assert(eq(int, r->ndelivered, 0));
    rec_free(r);
}

Test(outbox, stop_drains_the_queue_within_drain_ms)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 16);
    uint64_t t0, took;

    r->block_ms = 20;
    cr_assert(eq(int, rl_outbox_start(ob), 0));
    for (int n = 1; n <= 5; n++)
        push(ob, n, NULL);
    t0 = rl_mono_ms();
    cr_assert(eq(sz, rl_outbox_stop(ob, 5000), 0));
    took = rl_mono_ms() - t0;
    cr_assert(eq(int, r->ndelivered, 5));
    cr_assert(lt(u64, took, 2000), "stop took %llu ms", (unsigned long long)took);
    cr_assert(eq(int, atomic_load(&r->aborts), 0));
    rl_outbox_free(ob);
    cr_assert(eq(int, r->released, 5));
    rec_free(r);
}

Test(outbox, stop_takes_no_item_after_the_deadline_and_drops_the_rest)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 16);
    uint64_t t0, took;
    size_t dropped;

    r->block_ms = 100;
    cr_assert(eq(int, rl_outbox_start(ob), 0));
    for (int n = 1; n <= 10; n++)
        push(ob, n, NULL);
    wait_entered(r, 1);
    t0 = rl_mono_ms();
    dropped = rl_outbox_stop(ob, 250);
    took = rl_mono_ms() - t0;
    cr_assert(ge(u64, took, 240), "stop returned after %llu ms", (unsigned long long)took);
    cr_assert(lt(u64, took, 2000), "stop took %llu ms", (unsigned long long)took);
    cr_assert(lt(int, r->ndelivered, 10));
    cr_assert(eq(int, (int)dropped + r->ndelivered, 10), "%zu dropped, %d delivered", dropped,
              r->ndelivered);
    cr_assert(eq(int, r->released, 10));
    rl_outbox_free(ob);
    rec_free(r);
}

Test(outbox, a_delivery_blocking_past_the_deadline_is_aborted)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 16);
    uint64_t t0, took;

    r->block_ms = 30000;            /* ends only when aborted */
    cr_assert(eq(int, rl_outbox_start(ob), 0));
    push(ob, 1, NULL);
    push(ob, 2, NULL);
    push(ob, 3, NULL);
    wait_entered(r, 1);
    t0 = rl_mono_ms();
    cr_assert(eq(sz, rl_outbox_stop(ob, 200), 2));
    cr_assert(eq(u64, dropped_at_stop(ob), 2));
    took = rl_mono_ms() - t0;
    cr_assert(ge(u64, took, 190), "aborted after %llu ms", (unsigned long long)took);
    cr_assert(lt(u64, took, 2000), "stop took %llu ms", (unsigned long long)took);
    cr_assert(eq(int, atomic_load(&r->aborts), 1));
    cr_assert(eq(int, atomic_load(&r->stops), 1));
    cr_assert(eq(int, r->ndelivered, 1));
    cr_assert(eq(int, r->released, 3));
    cr_assert(eq(int, atomic_load(&r->finis), 1));
    rl_outbox_free(ob);
    rec_free(r);
}

Test(outbox, a_gated_delivery_at_stop_zero_is_aborted_and_the_rest_released)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 8);

    r->use_gate = true;             /* on_abort opens it */
    cr_assert(eq(int, rl_outbox_start(ob), 0));
    for (int n = 1; n <= 5; n++)
        push(ob, n, NULL);
    wait_entered(r, 1);
    cr_assert(eq(sz, rl_outbox_stop(ob, 0), 4));
    cr_assert(eq(int, atomic_load(&r->aborts), 1));
    cr_assert(eq(int, r->ndelivered, 1));
    cr_assert(eq(int, r->released, 5));
    rl_outbox_free(ob);
    rec_free(r);
}

Test(outbox, backoff_waits_its_delay_and_gives_up_at_the_deadline)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 4);
    uint64_t t0, took;

    t0 = rl_mono_ms();
    cr_assert(rl_outbox_backoff_wait(ob, 30));
    cr_assert(ge(u64, rl_mono_ms() - t0, 30));

    r->backoff = true;
    r->block_ms = 30000;
    cr_assert(eq(int, rl_outbox_start(ob), 0));
    push(ob, 1, NULL);
    wait_entered(r, 1);
    t0 = rl_mono_ms();
    cr_assert(eq(sz, rl_outbox_stop(ob, 150), 0));
    took = rl_mono_ms() - t0;
    cr_assert(lt(u64, took, 2000), "stop took %llu ms", (unsigned long long)took);
    cr_assert(eq(int, r->ndelivered, 1));
    cr_assert(eq(int, r->backoff_ok, false), "the backoff went on past the deadline");
    cr_assert(eq(int, r->released, 1));
    rl_outbox_free(ob);
    rec_free(r);
}

Test(outbox, free_without_start_releases_everything_and_calls_no_hook)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 4);
    struct item old = { 0 };

    for (int n = 1; n <= 4; n++)
        push(ob, n, NULL);
    cr_assert(eq(int, push(ob, 5, &old), RL_OUTBOX_EVICTED));
    cr_assert(eq(int, old.n, 1));
    free(old.payload);
    rl_outbox_free(ob);
    cr_assert(eq(int, r->released, 4));
    cr_assert(eq(int, r->ndelivered, 0));
    cr_assert(eq(int, atomic_load(&r->inits) + atomic_load(&r->finis), 0));
    cr_assert(eq(int, atomic_load(&r->stops) + atomic_load(&r->aborts), 0));
    rec_free(r);
}

Test(outbox, stop_without_start_drops_and_counts)
{
    struct rec *r = rec_new();
    struct rl_outbox *ob = new_outbox(r, 4);

    push(ob, 1, NULL);
    push(ob, 2, NULL);
    cr_assert(eq(sz, rl_outbox_stop(ob, 1000), 2));
    cr_assert(eq(u64, dropped_at_stop(ob), 2));
    cr_assert(eq(sz, queued(ob), 0));
    cr_assert(eq(int, r->released, 2));
    cr_assert(eq(int, push(ob, 3, NULL), RL_OUTBOX_REFUSED));
    cr_assert(eq(int, atomic_load(&r->stops), 0));
    rl_outbox_free(ob);
    cr_assert(eq(int, r->released, 2));
    rec_free(r);
}
