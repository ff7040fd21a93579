/*
 * pool.c - the worker threads that drain a workqueue
 *
 * A worker never holds a lock of ours while fn runs: its own mutex guards
 * only the record of what it is doing, which the /live probe reads. The key
 * it records is the one lent by the queue, valid until done(); the worker
 * clears the record before calling done(), so a reader that copies it under
 * the mutex never sees a freed key.
 */
#include "reloadd/engine/pool.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <bsd/string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/engine/workqueue.h"
#include "reloadd/base/banned.h"

struct worker {
    struct rl_pool *pool;
    unsigned shard;
    pthread_t thread;
    pthread_mutex_t mu;

    /* Protected by `mu`. */
    const char *key;            /* the key fn is running on; NULL: idle */
    uint64_t busy_since_ms;     /* queue clock, valid while key is set */
};

struct rl_pool {
    struct rl_workqueue *wq;
    rl_pool_fn *fn;
    void *ctx;
    struct rl_pool_opts opts;
    unsigned nworkers;
    struct worker *workers;

    /* Used by the controlling thread only. */
    bool started;
    bool stopped;
    int stop_result;

    atomic_uint_fast64_t processed, failed, given_up, abandoned;
};

static void set_busy(struct worker *w, const char *key)
{
    uint64_t now = rl_clock_mono_ms(rl_workqueue_clock(w->pool->wq));

    rl_mutex_lock(&w->mu);
    w->key = key;
    w->busy_since_ms = now;
    rl_mutex_unlock(&w->mu);
}

static void process(struct rl_pool *pool, struct worker *w, const char *key)
{
    unsigned retries;
    int err;

    set_busy(w, key);
    err = pool->fn(pool->ctx, w->shard, key);
    set_busy(w, NULL);
    atomic_fetch_add(&pool->processed, 1);

    if (err == 0) {
        rl_workqueue_forget(pool->wq, key);
        goto out;
    }
    atomic_fetch_add(&pool->failed, 1);
    retries = rl_workqueue_num_requeues(pool->wq, key);
    if (pool->opts.max_retries == 0 || retries < pool->opts.max_retries) {
        /* Refused only once the queue is shut down: nothing to retry then. */
        rl_workqueue_add_rate_limited(pool->wq, key);
        goto out;
    }
    rl_workqueue_forget(pool->wq, key);
    atomic_fetch_add(&pool->given_up, 1);
    rl_warn("giving up on '%s' after %u retries: %s", key, retries, rl_strerror(err));
    if (pool->opts.on_give_up)
        pool->opts.on_give_up(pool->ctx, key, err);
out:
    rl_workqueue_done(pool->wq, key);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const char *key;

    while (rl_workqueue_get(w->pool->wq, w->shard, &key) == 0)
        process(w->pool, w, key);
    return NULL;
}

struct rl_pool *rl_pool_new(struct rl_workqueue *wq, rl_pool_fn *fn, void *ctx,
                            const struct rl_pool_opts *opts)
{
    static const struct rl_pool_opts defaults = RL_POOL_OPTS_INIT;
    struct rl_pool *pool;

    if (!wq || !fn)
        return NULL;
    pool = RL_NEW(struct rl_pool);
    pool->wq = wq;
    pool->fn = fn;
    pool->ctx = ctx;
    pool->opts = opts ? *opts : defaults;
    pool->nworkers = rl_workqueue_shards(wq);
    pool->workers = rl_xcalloc(pool->nworkers, sizeof(*pool->workers));
    for (unsigned i = 0; i < pool->nworkers; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].shard = i;
        rl_mutex_init(&pool->workers[i].mu);
    }
    atomic_init(&pool->processed, 0);
    atomic_init(&pool->failed, 0);
    atomic_init(&pool->given_up, 0);
    atomic_init(&pool->abandoned, 0);
    return pool;
}

int rl_pool_start(struct rl_pool *pool)
{
    if (pool->started || pool->stopped)
        return RL_EINVAL;
    for (unsigned i = 0; i < pool->nworkers; i++) {
        char name[16];

        snprintf(name, sizeof(name), "rl-worker-%u", i % RL_WORKQUEUE_MAX_SHARDS);
        rl_thread_start(&pool->workers[i].thread, name, worker_main, &pool->workers[i]);
    }
    pool->started = true;
    return 0;
}

/* Logs and counts the keys still being processed; the caller stops waiting. */
static void abandon_in_flight(struct rl_pool *pool)
{
    uint64_t now = rl_clock_mono_ms(rl_workqueue_clock(pool->wq));

    for (unsigned i = 0; i < pool->nworkers; i++) {
        struct worker *w = &pool->workers[i];

        rl_mutex_lock(&w->mu);
        if (w->key) {
            rl_warn("abandoning '%s' on worker %u, running for %" PRIu64 " ms: "
                    "stopping without waiting for it", w->key, i,
                    now > w->busy_since_ms ? now - w->busy_since_ms : 0);
            atomic_fetch_add(&pool->abandoned, 1);
        }
        rl_mutex_unlock(&w->mu);
    }
}

int rl_pool_stop(struct rl_pool *pool, uint64_t drain_ms)
{
    struct rl_workqueue_stats st;
    int err;

    if (pool->stopped)
        return pool->stop_result;
    err = rl_workqueue_shut_down_with_drain(pool->wq, drain_ms);
    if (err)
        abandon_in_flight(pool);
    rl_workqueue_stats(pool->wq, -1, &st);
    if (st.dropped)
        rl_info("workqueue shut down: %" PRIu64 " pending keys dropped", st.dropped);
    if (pool->started) {
        for (unsigned i = 0; i < pool->nworkers; i++)
            rl_thread_join(pool->workers[i].thread);
    }
    pool->stopped = true;
    pool->stop_result = err;
    return err;
}

void rl_pool_free(struct rl_pool *pool)
{
    if (!pool)
        return;
    if (pool->started && !pool->stopped)
        rl_pool_stop(pool, 0);
    for (unsigned i = 0; i < pool->nworkers; i++)
        rl_mutex_destroy(&pool->workers[i].mu);
    free(pool->workers);
    free(pool);
}

int rl_pool_run_once(struct rl_pool *pool, unsigned shard)
{
    const char *key;
    int err;

    if (shard >= pool->nworkers)
        return RL_EINVAL;
    err = rl_workqueue_try_get(pool->wq, shard, &key);
    if (err)
        return err;
    process(pool, &pool->workers[shard], key);
    return 0;
}

unsigned rl_pool_workers(const struct rl_pool *pool)
{
    return pool->nworkers;
}

uint64_t rl_pool_longest_busy_ms(struct rl_pool *pool, char *key, size_t keylen)
{
    uint64_t now = rl_clock_mono_ms(rl_workqueue_clock(pool->wq));
    uint64_t longest = 0;
    bool any = false;

    if (key && keylen)
        key[0] = '\0';
    for (unsigned i = 0; i < pool->nworkers; i++) {
        struct worker *w = &pool->workers[i];

        rl_mutex_lock(&w->mu);
        if (w->key) {
            uint64_t busy = now > w->busy_since_ms ? now - w->busy_since_ms : 0;

            if (!any || busy > longest) {
                longest = busy;
                any = true;
                if (key && keylen)
                    strlcpy(key, w->key, keylen);
            }
        }
        rl_mutex_unlock(&w->mu);
    }
    return longest;
}

void rl_pool_stats(struct rl_pool *pool, struct rl_pool_stats *st)
{
    st->processed = atomic_load(&pool->processed);
    st->failed = atomic_load(&pool->failed);
    st->given_up = atomic_load(&pool->given_up);
    st->abandoned = atomic_load(&pool->abandoned);
}
