/*
 * workqueue.c - sharded, deduplicating, delaying, rate-limited queue of keys
 *
 * Each shard keeps one struct item per key it knows, in a map that owns
 * them. An item is in exactly one state, and the state says which list or
 * heap holds it, so "queued at most once" and "held by at most one worker"
 * are properties of the data structure rather than checks:
 *
 *   IDLE        in no list; kept only while it has failures to remember
 *   DELAYED     in `delayed`, ready at due_ms
 *   QUEUED      in `ready`, or in `ready_bulk` if only bulk adds want it
 *   PROCESSING  in `lent`
 *   DIRTY       in `lent`, and pending again from due_ms on
 *
 * Every add is "the key is wanted from due_ms on": schedule() merges it
 * into whatever the item already promises, keeping the earlier due time.
 * That single rule gives deduplication, earlier-deadline-wins, and the
 * coalescing window (an add is due coalesce_ms after it is made, so later
 * adds of a waiting key are due later and change nothing). An item's `bulk`
 * flag follows the same merge: any non-bulk add clears it, so a key wanted
 * by a live change is never served as bulk.
 *
 * Locks: one mutex per shard guards everything of the shard; the bucket
 * has its own mutex. No path holds two locks at once.
 */
#include "reloadd/engine/workqueue.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/heap.h"
#include "reloadd/base/list.h"
#include "reloadd/base/log.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/ratelimit.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/banned.h"

enum item_state {
    ITEM_IDLE,
    ITEM_DELAYED,
    ITEM_QUEUED,
    ITEM_PROCESSING,
    ITEM_DIRTY,
};

struct item {
    const char *key;            /* the map's copy; lives as long as the item */
    enum item_state state;
    unsigned failures;          /* rate-limited adds since the last forget */
    bool bulk;                  /* DELAYED, QUEUED, DIRTY: only bulk adds want it */
    uint64_t due_ms;            /* DELAYED, DIRTY: pending from then on */
    uint64_t seq;               /* DELAYED: FIFO order among equal due times */
    size_t heap_idx;            /* DELAYED: index in `delayed` */
    uint64_t since_ms;          /* QUEUED: ready since; PROCESSING, DIRTY: lent since */
    struct rl_list_node node;   /* QUEUED: in `ready`; PROCESSING, DIRTY: in `lent` */
};

#define ITEM(n) rl_list_entry(n, struct item, node)

struct shard {
    pthread_mutex_t mu;
    pthread_cond_t more;        /* a ready list grew, the next due time moved earlier, or shutdown */
    pthread_cond_t idle;        /* `lent` became empty */

    /* Protected by `mu`. */
    struct rl_map items;        /* key -> struct item; owns the items */
    struct rl_list ready;       /* QUEUED, oldest first */
    struct rl_list ready_bulk;  /* QUEUED by bulk adds only, served when `ready` is empty */
    struct rl_list lent;        /* PROCESSING and DIRTY, lent longest first */
    struct rl_heap delayed;     /* DELAYED, soonest first */
    uint64_t seq;
    bool shutting_down;
    uint64_t adds, merged, retries, dropped;
    uint64_t latency_count, latency_sum_ms, latency_max_ms;
};

struct rl_workqueue {
    struct shard *shards;
    unsigned nshards;

    pthread_mutex_t bucket_mu;
    struct rl_bucket bucket;    /* protected by bucket_mu */

    atomic_bool shutting_down;  /* a hint for lock-free early returns */
    atomic_bool flushing;       /* rl_workqueue_flush() runs: windows are closed */

    /* Immutable after rl_workqueue_new(). */
    struct rl_workqueue_opts opts;
    const struct rl_clock *clock;
};

static bool item_less(const void *a, const void *b)
{
    const struct item *x = a, *y = b;

    if (x->due_ms != y->due_ms)
        return x->due_ms < y->due_ms;
    return x->seq < y->seq;
}

static void item_moved(void *item, size_t index)
{
    ((struct item *)item)->heap_idx = index;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * The shard map hashes keys with rl_hash_str() and masks the low bits; a
 * shard picked by the same bits would leave every shard's map using a
 * fraction of its slots. Remix (splitmix64's finaliser) before the modulo.
 */
static unsigned shard_index(unsigned nshards, const char *key)
{
    uint64_t h = rl_hash_str(key);

    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (unsigned)(h % nshards);
}

static bool key_ok(const char *key)
{
    return key && *key && strnlen(key, RL_WORKQUEUE_KEY_MAX + 1) <= RL_WORKQUEUE_KEY_MAX;
}

static uint64_t now_ms(const struct rl_workqueue *wq)
{
    return rl_clock_mono_ms(wq->clock);
}

static struct item *item_get_or_new(struct shard *sh, const char *key)
{
    struct item *it = rl_map_get(&sh->items, key);

    if (it)
        return it;
    it = RL_NEW(struct item);
    rl_map_put(&sh->items, key, it);
    it->key = rl_map_key(&sh->items, key);
    it->state = ITEM_IDLE;
    it->heap_idx = RL_HEAP_NONE;
    return it;
}

/* Frees an idle item unless its failures must be remembered. */
static void item_maybe_free(struct shard *sh, struct item *it)
{
    if (it->state != ITEM_IDLE || it->failures)
        return;
    rl_map_del(&sh->items, it->key);    /* frees it->key */
    free(it);
}

static void make_ready(struct shard *sh, struct item *it, uint64_t since_ms)
{
    it->state = ITEM_QUEUED;
    it->since_ms = since_ms;
    rl_list_append(it->bulk ? &sh->ready_bulk : &sh->ready, &it->node);
    rl_cond_signal(&sh->more);
}

static void make_delayed(struct shard *sh, struct item *it, uint64_t due_ms)
{
    it->state = ITEM_DELAYED;
    it->due_ms = due_ms;
    it->seq = sh->seq++;
    rl_heap_push(&sh->delayed, it);
    /* A getter may be sleeping towards a later due time. */
    if (rl_heap_peek(&sh->delayed) == it)
        rl_cond_signal(&sh->more);
}

/*
 * Records that the key is wanted from due_ms on (by a bulk add or not).
 * Returns false if that made the key pending, true if it merged into what
 * the key already promised.
 */
static bool schedule(struct shard *sh, struct item *it, uint64_t due_ms, uint64_t now, bool bulk)
{
    switch (it->state) {
    case ITEM_IDLE:
        it->bulk = bulk;
        if (due_ms <= now)
            make_ready(sh, it, now);
        else
            make_delayed(sh, it, due_ms);
        return false;
    case ITEM_DELAYED:
        it->bulk = it->bulk && bulk;
        if (due_ms >= it->due_ms)
            return true;
        if (due_ms <= now) {
            rl_heap_remove(&sh->delayed, it->heap_idx);
            make_ready(sh, it, now);
            return true;
        }
        it->due_ms = due_ms;
        rl_heap_fix(&sh->delayed, it->heap_idx);
        if (rl_heap_peek(&sh->delayed) == it)
            rl_cond_signal(&sh->more);
        return true;
    case ITEM_QUEUED:
        if (it->bulk && !bulk) {        /* a live change: to the front class */
            rl_list_remove(&sh->ready_bulk, &it->node);
            it->bulk = false;
            rl_list_append(&sh->ready, &it->node);
        }
        return true;
    case ITEM_PROCESSING:
        it->state = ITEM_DIRTY;
        it->due_ms = due_ms;
        it->bulk = bulk;
        return false;
    case ITEM_DIRTY:
        it->bulk = it->bulk && bulk;
        if (due_ms < it->due_ms)
            it->due_ms = due_ms;
        return true;
    }
    RL_BUG("workqueue: bad item state");
}

/* Moves every delayed item that is due by now to `ready`, soonest first. */
static void promote(struct shard *sh, uint64_t now)
{
    struct item *it;

    while ((it = rl_heap_peek(&sh->delayed)) && it->due_ms <= now) {
        rl_heap_pop(&sh->delayed);
        make_ready(sh, it, it->due_ms);
    }
}

/* Lends the oldest ready key, bulk keys only when no other is ready. */
static const char *take(struct shard *sh, uint64_t now)
{
    struct rl_list *from = sh->ready.head ? &sh->ready : &sh->ready_bulk;
    struct item *it = ITEM(from->head);
    uint64_t waited = now > it->since_ms ? now - it->since_ms : 0;

    rl_list_remove(from, &it->node);
    it->bulk = false;
    it->state = ITEM_PROCESSING;
    it->since_ms = now;
    rl_list_append(&sh->lent, &it->node);
    sh->latency_count++;
    sh->latency_sum_ms += waited;
    if (waited > sh->latency_max_ms)
        sh->latency_max_ms = waited;
    return it->key;
}

int rl_workqueue_new(struct rl_workqueue **out, const struct rl_workqueue_opts *opts,
                     const struct rl_clock *clock)
{
    struct rl_workqueue *wq;

    *out = NULL;
    if (!opts || !clock || opts->shards == 0 || opts->shards > RL_WORKQUEUE_MAX_SHARDS ||
        opts->max_delay_ms < opts->base_delay_ms || isnan(opts->qps) || isnan(opts->burst))
        return RL_EINVAL;

    wq = RL_NEW(struct rl_workqueue);
    wq->opts = *opts;
    wq->clock = clock;
    wq->nshards = opts->shards;
    wq->shards = rl_xcalloc(wq->nshards, sizeof(*wq->shards));
    for (unsigned i = 0; i < wq->nshards; i++) {
        struct shard *sh = &wq->shards[i];

        rl_mutex_init(&sh->mu);
        rl_cond_init(&sh->more);
        rl_cond_init(&sh->idle);
        rl_map_init(&sh->items);
        rl_heap_init(&sh->delayed, item_less, item_moved);
    }
    rl_mutex_init(&wq->bucket_mu);
    rl_bucket_init(&wq->bucket, opts->qps, opts->burst, now_ms(wq));
    atomic_init(&wq->shutting_down, false);
    atomic_init(&wq->flushing, false);
    *out = wq;
    return 0;
}

void rl_workqueue_free(struct rl_workqueue *wq)
{
    if (!wq)
        return;
    for (unsigned i = 0; i < wq->nshards; i++) {
        struct shard *sh = &wq->shards[i];

        rl_map_release(&sh->items, free);
        rl_heap_release(&sh->delayed);
        rl_cond_destroy(&sh->idle);
        rl_cond_destroy(&sh->more);
        rl_mutex_destroy(&sh->mu);
    }
    rl_mutex_destroy(&wq->bucket_mu);
    free(wq->shards);
    free(wq);
}

unsigned rl_workqueue_shards(const struct rl_workqueue *wq)
{
    return wq->nshards;
}

unsigned rl_workqueue_shard_of(const struct rl_workqueue *wq, const char *key)
{
    return shard_index(wq->nshards, key);
}

const struct rl_clock *rl_workqueue_clock(const struct rl_workqueue *wq)
{
    return wq->clock;
}

/* Makes key pending delay_ms from now; counts the add as a retry if asked. */
static int add_delayed(struct rl_workqueue *wq, const char *key, uint64_t delay_ms, bool retry,
                       bool bulk)
{
    struct shard *sh;
    uint64_t now, bucket_wait = 0;
    struct item *it;
    int err = 0;

    if (!key_ok(key))
        return RL_EINVAL;
    if (atomic_load(&wq->shutting_down))
        return RL_ESHUTDOWN;
    if (retry) {
        rl_mutex_lock(&wq->bucket_mu);
        bucket_wait = rl_bucket_reserve(&wq->bucket, now_ms(wq));
        rl_mutex_unlock(&wq->bucket_mu);
    }

    sh = &wq->shards[shard_index(wq->nshards, key)];
    rl_mutex_lock(&sh->mu);
    if (sh->shutting_down) {
        err = RL_ESHUTDOWN;
        goto out;
    }
    now = now_ms(wq);
    it = item_get_or_new(sh, key);
    if (retry) {
        uint64_t backoff = rl_backoff_ms(it->failures, wq->opts.base_delay_ms,
                                         wq->opts.max_delay_ms);

        delay_ms = backoff > bucket_wait ? backoff : bucket_wait;
        if (it->failures < UINT32_MAX)
            it->failures++;
        sh->retries++;
    }
    if (schedule(sh, it, add_sat(now, delay_ms), now, bulk))
        sh->merged++;
    else
        sh->adds++;
out:
    rl_mutex_unlock(&sh->mu);
    return err;
}

int rl_workqueue_add(struct rl_workqueue *wq, const char *key)
{
    return add_delayed(wq, key, atomic_load(&wq->flushing) ? 0 : wq->opts.coalesce_ms,
                       false, false);
}

int rl_workqueue_add_bulk(struct rl_workqueue *wq, const char *key)
{
    return add_delayed(wq, key, wq->opts.coalesce_ms, false, true);
}

int rl_workqueue_add_after(struct rl_workqueue *wq, const char *key, uint64_t delay_ms)
{
    return add_delayed(wq, key, delay_ms, false, false);
}

int rl_workqueue_add_rate_limited(struct rl_workqueue *wq, const char *key)
{
    return add_delayed(wq, key, 0, true, false);
}

void rl_workqueue_forget(struct rl_workqueue *wq, const char *key)
{
    struct shard *sh;
    struct item *it;

    if (!key_ok(key))
        return;
    sh = &wq->shards[shard_index(wq->nshards, key)];
    rl_mutex_lock(&sh->mu);
    it = rl_map_get(&sh->items, key);
    if (it) {
        it->failures = 0;
        item_maybe_free(sh, it);
    }
    rl_mutex_unlock(&sh->mu);
}

unsigned rl_workqueue_num_requeues(struct rl_workqueue *wq, const char *key)
{
    struct shard *sh;
    struct item *it;
    unsigned n = 0;

    if (!key_ok(key))
        return 0;
    sh = &wq->shards[shard_index(wq->nshards, key)];
    rl_mutex_lock(&sh->mu);
    it = rl_map_get(&sh->items, key);
    if (it)
        n = it->failures;
    rl_mutex_unlock(&sh->mu);
    return n;
}

static int get(struct rl_workqueue *wq, unsigned shard, const char **key, bool block)
{
    struct shard *sh;
    int err;

    if (shard >= wq->nshards || !key)
        return RL_EINVAL;
    sh = &wq->shards[shard];
    rl_mutex_lock(&sh->mu);
    for (;;) {
        uint64_t now, wait_ms = RL_WORKQUEUE_POLL_MS;
        struct item *next;

        if (sh->shutting_down) {
            err = RL_ESHUTDOWN;
            break;
        }
        now = now_ms(wq);
        promote(sh, now);
        if (sh->ready.head || (sh->ready_bulk.head && !atomic_load(&wq->flushing))) {
            *key = take(sh, now);
            err = 0;
            break;
        }
        if (!block) {
            err = RL_WORKQUEUE_EMPTY;
            break;
        }
        /*
         * Sleep towards the next due time, but never longer than the poll
         * interval: the queue's clock may be a fake one that another thread
         * moves without telling us.
         */
        next = rl_heap_peek(&sh->delayed);
        if (next && next->due_ms - now < wait_ms)
            wait_ms = next->due_ms - now;       /* > 0: promote() left it */
        rl_cond_wait_until_ms(&sh->more, &sh->mu, rl_mono_ms() + wait_ms);
    }
    rl_mutex_unlock(&sh->mu);
    return err;
}

int rl_workqueue_get(struct rl_workqueue *wq, unsigned shard, const char **key)
{
    return get(wq, shard, key, true);
}

int rl_workqueue_try_get(struct rl_workqueue *wq, unsigned shard, const char **key)
{
    return get(wq, shard, key, false);
}

void rl_workqueue_done(struct rl_workqueue *wq, const char *key)
{
    struct shard *sh;
    struct item *it;

    if (!key_ok(key)) {
        rl_warn("workqueue: done() for an invalid key");
        return;
    }
    sh = &wq->shards[shard_index(wq->nshards, key)];
    rl_mutex_lock(&sh->mu);
    it = rl_map_get(&sh->items, key);
    if (!it || (it->state != ITEM_PROCESSING && it->state != ITEM_DIRTY)) {
        rl_mutex_unlock(&sh->mu);
        rl_warn("workqueue: done() for '%s', which is not being processed", key);
        return;
    }
    /* key may be it->key: do not read it past this point. */
    rl_list_remove(&sh->lent, &it->node);
    if (it->state == ITEM_DIRTY && !sh->shutting_down) {
        it->state = ITEM_IDLE;
        schedule(sh, it, it->due_ms, now_ms(wq), it->bulk);
    } else {
        it->state = ITEM_IDLE;
        item_maybe_free(sh, it);
    }
    if (!sh->lent.len)
        rl_cond_broadcast(&sh->idle);
    rl_mutex_unlock(&sh->mu);
}

uint64_t rl_workqueue_next_due_ms(struct rl_workqueue *wq, unsigned shard)
{
    struct shard *sh;
    struct item *it;
    uint64_t due = UINT64_MAX;

    if (shard >= wq->nshards)
        return UINT64_MAX;
    sh = &wq->shards[shard];
    rl_mutex_lock(&sh->mu);
    it = rl_heap_peek(&sh->delayed);
    if (it)
        due = it->due_ms;
    rl_mutex_unlock(&sh->mu);
    return due;
}

void rl_workqueue_shut_down(struct rl_workqueue *wq)
{
    atomic_store(&wq->shutting_down, true);
    for (unsigned i = 0; i < wq->nshards; i++) {
        struct shard *sh = &wq->shards[i];
        struct item *it;

        rl_mutex_lock(&sh->mu);
        sh->shutting_down = true;
        while ((it = sh->ready.head ? ITEM(sh->ready.head)
                                    : rl_list_first_entry(&sh->ready_bulk, struct item, node))) {
            rl_list_remove(it->bulk ? &sh->ready_bulk : &sh->ready, &it->node);
            it->state = ITEM_IDLE;
            item_maybe_free(sh, it);
            sh->dropped++;
        }
        while ((it = rl_heap_pop(&sh->delayed))) {
            it->state = ITEM_IDLE;
            item_maybe_free(sh, it);
            sh->dropped++;
        }
        for (it = rl_list_first_entry(&sh->lent, struct item, node); it;
             it = rl_list_next_entry(&it->node, struct item, node)) {
            if (it->state == ITEM_DIRTY) {
                it->state = ITEM_PROCESSING;
                sh->dropped++;
            }
        }
        rl_cond_broadcast(&sh->more);
        rl_mutex_unlock(&sh->mu);
    }
}

int rl_workqueue_shut_down_with_drain(struct rl_workqueue *wq, uint64_t timeout_ms)
{
    uint64_t deadline = add_sat(now_ms(wq), timeout_ms);
    int err = 0;

    rl_workqueue_shut_down(wq);
    for (unsigned i = 0; i < wq->nshards && !err; i++) {
        struct shard *sh = &wq->shards[i];

        rl_mutex_lock(&sh->mu);
        while (sh->lent.len) {
            uint64_t now = now_ms(wq);
            uint64_t wait_ms = RL_WORKQUEUE_POLL_MS;

            if (now >= deadline) {
                err = RL_ETIMEOUT;
                break;
            }
            if (deadline - now < wait_ms)
                wait_ms = deadline - now;
            rl_cond_wait_until_ms(&sh->idle, &sh->mu, rl_mono_ms() + wait_ms);
        }
        rl_mutex_unlock(&sh->mu);
    }
    return err;
}

/*
 * Makes ready now the shard's delayed keys that are not bulk and fall due
 * within `horizon_ms`: changes in their coalescing window, not holds or
 * long backoffs. The heap has no iteration: pop all, push back the rest.
 */
static void close_windows(struct shard *sh, uint64_t now, uint64_t horizon_ms)
{
    struct rl_heap keep;
    struct item *it;

    rl_heap_init(&keep, item_less, item_moved);
    while ((it = rl_heap_pop(&sh->delayed))) {
        if (!it->bulk && it->due_ms <= add_sat(now, horizon_ms))
            make_ready(sh, it, now);
        else
            rl_heap_push(&keep, it);
    }
    rl_heap_release(&sh->delayed);
    sh->delayed = keep;
    rl_cond_broadcast(&sh->more);
}

/* True if no key of the shard is ready (bulk ones aside) or lent. */
static bool shard_quiet(struct shard *sh)
{
    bool quiet;

    rl_mutex_lock(&sh->mu);
    quiet = !sh->ready.len && !sh->lent.len;
    rl_mutex_unlock(&sh->mu);
    return quiet;
}

int rl_workqueue_flush(struct rl_workqueue *wq, uint64_t timeout_ms)
{
    uint64_t deadline = add_sat(now_ms(wq), timeout_ms);
    unsigned quiet = 0;

    if (atomic_load(&wq->shutting_down))
        return RL_ESHUTDOWN;
    atomic_store(&wq->flushing, true);
    for (unsigned i = 0; i < wq->nshards; i++) {
        struct shard *sh = &wq->shards[i];

        rl_mutex_lock(&sh->mu);
        close_windows(sh, now_ms(wq), wq->opts.coalesce_ms);
        rl_mutex_unlock(&sh->mu);
    }
    /*
     * Done when every shard is quiet in one round: a key served in one shard
     * may add a key to another that was quiet before.
     */
    for (unsigned i = 0; quiet < wq->nshards; i = (i + 1) % wq->nshards) {
        uint64_t now = now_ms(wq);

        if (shard_quiet(&wq->shards[i])) {
            quiet++;
            continue;
        }
        quiet = 0;
        if (now >= deadline)
            return RL_ETIMEOUT;
        rl_mutex_lock(&wq->shards[i].mu);
        rl_cond_wait_until_ms(&wq->shards[i].idle, &wq->shards[i].mu,
                              rl_mono_ms() + (deadline - now < RL_WORKQUEUE_POLL_MS
                                              ? deadline - now : RL_WORKQUEUE_POLL_MS));
        rl_mutex_unlock(&wq->shards[i].mu);
    }
    return 0;
}

bool rl_workqueue_shutting_down(struct rl_workqueue *wq)
{
    return atomic_load(&wq->shutting_down);
}

static void stats_add(struct rl_workqueue_stats *st, const struct shard *sh, uint64_t now)
{
    st->adds += sh->adds;
    st->merged += sh->merged;
    st->retries += sh->retries;
    st->dropped += sh->dropped;
    st->depth += sh->ready.len + sh->ready_bulk.len;
    st->delayed += sh->delayed.len;
    st->processing += sh->lent.len;
    if (sh->lent.head && now > ITEM(sh->lent.head)->since_ms &&
        now - ITEM(sh->lent.head)->since_ms > st->longest_running_ms)
        st->longest_running_ms = now - ITEM(sh->lent.head)->since_ms;
    st->latency_count += sh->latency_count;
    st->latency_sum_ms += sh->latency_sum_ms;
    if (sh->latency_max_ms > st->latency_max_ms)
        st->latency_max_ms = sh->latency_max_ms;
}

void rl_workqueue_stats(struct rl_workqueue *wq, int shard, struct rl_workqueue_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (unsigned i = 0; i < wq->nshards; i++) {
        struct shard *sh = &wq->shards[i];

        if (shard >= 0 && (unsigned)shard != i)
            continue;
        rl_mutex_lock(&sh->mu);
        stats_add(st, sh, now_ms(wq));
        rl_mutex_unlock(&sh->mu);
    }
}
