/*
 * pool.h - the worker threads that drain a workqueue
 *
 * One thread per shard of the queue: thread i serves shard i, so keys of
 * one shard are processed in order and no two threads ever contend for a
 * shard's lock on get(). Each thread loops:
 *
 *     get a key -> fn(ctx, shard, key) holding no lock
 *               -> 0: forget the key's failures
 *               -> error: add it rate-limited, or, once max_retries
 *                  retries of it have failed as well (max_retries + 1
 *                  failures since its last success), give up on it: forget
 *                  it, log a line, count it, call on_give_up(ctx, key, err)
 *               -> done(key)
 *
 * A key given up on is not lost for good: the next add of it (the next
 * change of one of its sources) makes it pending again.
 *
 * Stuck detection: each worker records since when it has been running fn,
 * on the queue's clock; rl_pool_longest_busy_ms() reports the worst (for
 * /live's "workers not stuck").
 *
 * Ownership: the pool borrows the queue, which must outlive it.
 * Threads: rl_pool_new/start/stop/free from one controlling thread; the
 * accessors from any thread. fn and on_give_up run on the worker threads,
 * several at once (one per shard).
 */
#ifndef RL_POOL_H
#define RL_POOL_H

#include <stddef.h>
#include <stdint.h>

struct rl_workqueue;
struct rl_pool;

/* Processes one key; 0 on success, a negative RL_E* to have it retried. */
typedef int rl_pool_fn(void *ctx, unsigned shard, const char *key);
/* Told about a key given up on; key is borrowed for the call. */
typedef void rl_pool_give_up_fn(void *ctx, const char *key, int err);

struct rl_pool_opts {
    unsigned max_retries;           /* retries before giving up; 0: retry forever */
    rl_pool_give_up_fn *on_give_up; /* may be NULL */
};

#define RL_POOL_OPTS_INIT { 15, NULL }

struct rl_pool_stats {
    uint64_t processed;             /* fn calls that returned */
    uint64_t failed;                /* ... of which returned an error */
    uint64_t given_up;              /* keys dropped from retries */
    uint64_t abandoned;             /* keys still running when a stop gave up waiting */
};

/*
 * A pool of rl_workqueue_shards(wq) workers calling fn(ctx, ...); no thread
 * runs yet. NULL if wq or fn is NULL.
 */
struct rl_pool *rl_pool_new(struct rl_workqueue *wq, rl_pool_fn *fn, void *ctx,
                            const struct rl_pool_opts *opts);
/* Starts the threads (once per pool). RL_EINVAL if already started. */
int rl_pool_start(struct rl_pool *pool);
/*
 * Shuts the queue down (pending keys are dropped), waits up to drain_ms on
 * the queue's clock for keys being processed, logs each one it stops
 * waiting for, then joins every thread: a thread still in fn is joined
 * when fn returns, so fn must bound its own work (API timeouts). Returns 0
 * if everything in flight finished within drain_ms, else RL_ETIMEOUT.
 * Idempotent.
 */
int rl_pool_stop(struct rl_pool *pool, uint64_t drain_ms);
/* Stops (with no drain wait) if still running, then frees. NULL: no-op. */
void rl_pool_free(struct rl_pool *pool);

/*
 * Runs one turn of worker `shard` on the calling thread, if a key is ready:
 * 0 if one was processed, RL_WORKQUEUE_EMPTY, RL_ESHUTDOWN or RL_EINVAL.
 * For pools whose threads are not started (tests, single-threaded tools).
 */
int rl_pool_run_once(struct rl_pool *pool, unsigned shard);

unsigned rl_pool_workers(const struct rl_pool *pool);
/*
 * How long the worker busy longest has been running fn (0 if every worker
 * is idle); if key is given, copies that worker's key into it (truncated
 * to keylen, "" if idle).
 */
uint64_t rl_pool_longest_busy_ms(struct rl_pool *pool, char *key, size_t keylen);
void rl_pool_stats(struct rl_pool *pool, struct rl_pool_stats *st);

#endif /* RL_POOL_H */
