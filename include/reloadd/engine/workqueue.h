/*
 * workqueue.h - sharded, deduplicating, delaying, rate-limited queue of keys
 *
 * A key is a string, "kind/namespace/name" for reloadd. The queue promises
 * what client-go's workqueue does:
 *
 *  - a key waits in the queue at most once, however often it is added;
 *  - a key is held by at most one worker: adding a key that is being
 *    processed marks it dirty, and rl_workqueue_done() queues it again;
 *  - rl_workqueue_add_after() delays a key on a timer heap; if the key is
 *    already waiting, the earlier of the two due times wins;
 *  - rl_workqueue_add_rate_limited() delays a key by the larger of its own
 *    exponential backoff (base * 2^failures, capped) and the queue-wide
 *    token bucket; rl_workqueue_forget() resets the key's failures;
 *
 * and two things of its own:
 *
 *  - coalescing: rl_workqueue_add() holds a key coalesce_ms from its FIRST
 *    add before it becomes ready, so a burst of adds within the window
 *    yields one get(). Later adds never extend the wait, so the latency of
 *    an add is bounded by the window. The window starts again only once a
 *    worker has taken the key (an add while it is processed opens one that
 *    runs while it is processed: done() queues it when the window is over);
 *  - bulk adds: rl_workqueue_add_bulk() is add() for a pass over every
 *    key (the startup reconcile). A key that only bulk adds want is served
 *    after every other ready key of its shard, and any other add of it
 *    moves it to the front class, so a live change never waits behind a
 *    pass over 10,000 workloads;
 *  - sharding: keys are spread over opts.shards shards by a hash of the key.
 *    A key always maps to the same shard, and each shard has its own lock,
 *    ready list and timer heap. rl_workqueue_get(wq, shard, ...) serves one
 *    shard: one worker per shard makes the shards independent.
 *
 * Time: every due time is read from the clock given to rl_workqueue_new().
 * Blocking calls wait on a real condition variable, at most
 * RL_WORKQUEUE_POLL_MS at a time, so a fake clock moved by another thread is
 * noticed. Tests on a fake clock use the non-blocking
 * rl_workqueue_try_get() and rl_workqueue_next_due_ms() instead.
 *
 * Ownership: keys are copied in; the key lent by get()/try_get() stays
 * valid until the matching rl_workqueue_done().
 *
 * Threads: any function, any thread, except rl_workqueue_free(). Nothing
 * calls out while holding a lock.
 *
 * Shutdown: after rl_workqueue_shut_down(), get() returns RL_ESHUTDOWN at
 * once, adds are refused, and keys waiting in the queue are dropped (the
 * next leader reconciles everything from its cache). Keys being processed
 * stay lent until done().
 */
#ifndef RL_WORKQUEUE_H
#define RL_WORKQUEUE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloadd/base/err.h"

struct rl_clock;
struct rl_workqueue;

/* Returned by rl_workqueue_try_get() when no key of the shard is ready. */
#define RL_WORKQUEUE_EMPTY RL_EAGAIN

#define RL_WORKQUEUE_MAX_SHARDS 1024u
#define RL_WORKQUEUE_KEY_MAX 1024u      /* longest key accepted, in bytes */
#define RL_WORKQUEUE_POLL_MS 100u       /* longest real wait between clock reads */

struct rl_workqueue_opts {
    unsigned shards;            /* 1..RL_WORKQUEUE_MAX_SHARDS (--workers) */
    uint64_t coalesce_ms;       /* hold an added key this long; 0: off */
    uint64_t base_delay_ms;     /* first retry delay, doubled per failure */
    uint64_t max_delay_ms;      /* cap on one key's backoff */
    double qps;                 /* queue-wide retry token rate; <= 0: unlimited */
    double burst;               /* queue-wide bucket size */
};

/* client-go's controller defaults (5 ms .. 1000 s, 10 qps, burst 100), 1 s window. */
#define RL_WORKQUEUE_OPTS_INIT { 1, 1000, 5, 1000000, 10.0, 100.0 }

/* Counters and gauges, for one shard or summed over all. */
struct rl_workqueue_stats {
    uint64_t adds;              /* adds that made a key pending */
    uint64_t merged;            /* adds absorbed by a key already pending */
    uint64_t retries;           /* rl_workqueue_add_rate_limited() calls */
    uint64_t dropped;           /* pending keys discarded by shutdown */
    size_t depth;               /* keys ready, waiting for a worker */
    size_t delayed;             /* keys waiting for their due time */
    size_t processing;          /* keys lent to workers */
    uint64_t longest_running_ms;/* age of the oldest lent key; 0 if none */
    uint64_t latency_count;     /* gets so far ... */
    uint64_t latency_sum_ms;    /* ... their total time from ready to get */
    uint64_t latency_max_ms;    /* ... and the longest */
};

/*
 * A queue reading time from clock (borrowed; it must outlive the queue).
 * RL_EINVAL if opts are out of range: no shards or too many, max_delay_ms
 * below base_delay_ms, a NaN rate.
 */
int rl_workqueue_new(struct rl_workqueue **out, const struct rl_workqueue_opts *opts,
                     const struct rl_clock *clock);
/* Frees the queue and every key; no thread may use it any more. NULL: no-op. */
void rl_workqueue_free(struct rl_workqueue *wq);

unsigned rl_workqueue_shards(const struct rl_workqueue *wq);
/* The shard that serves key, always the same for the same key. */
unsigned rl_workqueue_shard_of(const struct rl_workqueue *wq, const char *key);
/* The clock the queue was made with. */
const struct rl_clock *rl_workqueue_clock(const struct rl_workqueue *wq);

/*
 * The adds return 0, RL_EINVAL for a NULL, empty or over-long key, or
 * RL_ESHUTDOWN once the queue is shut down (the key is ignored).
 *
 * rl_workqueue_add(): ready after the coalescing window.
 * rl_workqueue_add_bulk(): the same, served after the other ready keys.
 * rl_workqueue_add_after(): ready after delay_ms (no window).
 * rl_workqueue_add_rate_limited(): counts a failure of the key and makes it
 * ready after max(backoff, bucket wait); the bucket is spent even if the
 * key is already pending.
 */
int rl_workqueue_add(struct rl_workqueue *wq, const char *key);
int rl_workqueue_add_bulk(struct rl_workqueue *wq, const char *key);
int rl_workqueue_add_after(struct rl_workqueue *wq, const char *key, uint64_t delay_ms);
int rl_workqueue_add_rate_limited(struct rl_workqueue *wq, const char *key);
/* Resets the key's failures (its next backoff is base_delay_ms again). */
void rl_workqueue_forget(struct rl_workqueue *wq, const char *key);
/* How many rate-limited adds the key has had since it was last forgotten. */
unsigned rl_workqueue_num_requeues(struct rl_workqueue *wq, const char *key);

/*
 * Lends the oldest ready key of shard: blocks until one is ready. Returns 0
 * and sets *key, RL_ESHUTDOWN, or RL_EINVAL for a shard out of range.
 */
int rl_workqueue_get(struct rl_workqueue *wq, unsigned shard, const char **key);
/* As get(), but returns RL_WORKQUEUE_EMPTY at once if no key is ready. */
int rl_workqueue_try_get(struct rl_workqueue *wq, unsigned shard, const char **key);
/*
 * Ends the processing of a lent key: queues it again if it was added
 * meanwhile, else forgets where it was (its failures are kept). A key not
 * lent is logged and ignored.
 */
void rl_workqueue_done(struct rl_workqueue *wq, const char *key);

/* When the shard's next delayed key falls due (clock ms); UINT64_MAX: none. */
uint64_t rl_workqueue_next_due_ms(struct rl_workqueue *wq, unsigned shard);

/*
 * Serves what is pending before a stop: every key in its coalescing window
 * (or due within one window) becomes ready now, later rl_workqueue_add()s
 * are ready at once, and get() serves no bulk key any more. Waits until no
 * key is ready or lent, or timeout_ms has passed: 0, RL_ETIMEOUT, or
 * RL_ESHUTDOWN. Holds, long backoffs and the bulk pass stay where they are
 * (the next leader's pass covers them). One-way: the queue stays flushing.
 */
int rl_workqueue_flush(struct rl_workqueue *wq, uint64_t timeout_ms);

/* Wakes every get() with RL_ESHUTDOWN and drops waiting keys. Idempotent. */
void rl_workqueue_shut_down(struct rl_workqueue *wq);
/*
 * Shuts down, then waits until every lent key is done or timeout_ms (on the
 * queue's clock) has passed: 0 if drained, RL_ETIMEOUT if keys are still
 * lent (rl_workqueue_stats() counts them).
 */
int rl_workqueue_shut_down_with_drain(struct rl_workqueue *wq, uint64_t timeout_ms);
bool rl_workqueue_shutting_down(struct rl_workqueue *wq);

/* Fills *st for shard, or summed over every shard if shard is -1. */
void rl_workqueue_stats(struct rl_workqueue *wq, int shard, struct rl_workqueue_stats *st);

#endif /* RL_WORKQUEUE_H */
