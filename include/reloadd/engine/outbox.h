/*
 * outbox.h - a bounded FIFO of items sent one at a time by a thread of its own
 *
 * What the Event poster (ops/events) and the alert sender (ops/alerts)
 * share: a caller that must never wait queues an item and returns; one
 * thread takes the items in order and calls deliver(ctx, item) on each,
 * then release(ctx, item). Items are fixed-size values (item_size bytes,
 * copied in and out: a struct whose pointers the item owns).
 *
 *  - Full: rl_outbox_push() makes room by taking out the OLDEST item and
 *    handing it back to the caller, who logs it, counts it and releases it.
 *  - Stopping: from the moment rl_outbox_stop() begins, pushes are refused
 *    (the item stays the caller's).
 *  - Retries: deliver may wait between attempts with
 *    rl_outbox_backoff_wait(), which returns false once a stop's drain
 *    deadline has passed.
 *
 * rl_outbox_stop(ob, drain_ms), the one way an outbox ends:
 *   1. calls on_stop(ctx) at once, before the thread can see the stop (the
 *      Event poster stops waiting for spare API budget), then refuses
 *      pushes; the deadline is drain_ms from then;
 *   2. the thread goes on delivering, in order, until the queue is empty or
 *      the deadline has passed (it takes no item after it); the caller
 *      waits for the thread to end, up to the deadline;
 *   3. if the thread is still delivering at the deadline, calls
 *      on_abort(ctx) (the alert sender aborts its request in flight), then
 *      joins the thread: deliver must end soon after on_abort (or bound its
 *      own work when there is none);
 *   4. releases every item still queued and returns how many there were
 *      (also counted in the stats' dropped).
 * On an outbox never started, stop calls no hook and only does 4. A second
 * stop returns 0. Waits are on real monotonic time (rl_mono_ms()).
 *
 * Ownership: the outbox owns the items queued and the one being delivered;
 * an item handed back by push (evicted) or refused is the caller's. ops and
 * the thread name are copied; ctx is borrowed and must outlive the outbox.
 * No callback is called with a lock of the outbox held.
 *
 * Threads: new/start/stop/free from one owner thread; push and stats from any
 * thread; backoff_wait from deliver only. deliver, release (except at stop
 * and free), thread_init and thread_fini run on the outbox's thread;
 * on_stop, on_abort and release at stop/free run on the thread that stops.
 */
#ifndef RL_OUTBOX_H
#define RL_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_outbox;

typedef void rl_outbox_item_fn(void *ctx, void *item);
typedef void rl_outbox_hook_fn(void *ctx);

struct rl_outbox_ops {
    rl_outbox_item_fn *deliver;     /* required: sends one item */
    rl_outbox_item_fn *release;     /* required: frees what an item owns (delivered or dropped) */
    rl_outbox_hook_fn *thread_init; /* may be NULL: first thing on the thread */
    rl_outbox_hook_fn *thread_fini; /* may be NULL: last thing on the thread */
    rl_outbox_hook_fn *on_stop;     /* may be NULL: stop began (step 1) */
    rl_outbox_hook_fn *on_abort;    /* may be NULL: the deadline passed mid-delivery (step 3) */
};

enum rl_outbox_push {
    RL_OUTBOX_QUEUED,               /* item queued */
    RL_OUTBOX_EVICTED,              /* item queued; the oldest is in *evicted, the caller's */
    RL_OUTBOX_REFUSED,              /* stop began: item not queued, still the caller's */
};

/*
 * An outbox of up to cap items of item_size bytes whose thread will be
 * named thread_name (at most 15 characters); no thread runs yet. NULL if
 * cap or item_size is 0, or deliver or release is missing.
 */
struct rl_outbox *rl_outbox_new(const char *thread_name, size_t item_size, size_t cap,
                                const struct rl_outbox_ops *ops, void *ctx);
/* Starts the thread. RL_EINVAL if started before or once a stop began. */
int rl_outbox_start(struct rl_outbox *ob);
/* See the top of this file. Returns the number of items released unsent. */
size_t rl_outbox_stop(struct rl_outbox *ob, uint64_t drain_ms);
/* Stops with no drain (if not stopped yet), then frees. NULL: no-op. */
void rl_outbox_free(struct rl_outbox *ob);

/*
 * Copies item in; never blocks. On RL_OUTBOX_EVICTED the oldest item is
 * copied to evicted (item_size bytes, the caller's).
 */
enum rl_outbox_push rl_outbox_push(struct rl_outbox *ob, const void *item, void *evicted);
struct rl_outbox_stats {
    size_t queued;                  /* waiting (not counting the one being delivered) */
    uint64_t dropped;               /* released unsent by stop (step 4) */
};

void rl_outbox_stats(struct rl_outbox *ob, struct rl_outbox_stats *out);

/*
 * For deliver, between attempts: sleeps delay_ms, or less if a stop's
 * deadline comes first. False if that deadline has passed: give up.
 */
bool rl_outbox_backoff_wait(struct rl_outbox *ob, uint64_t delay_ms);

#endif /* RL_OUTBOX_H */
