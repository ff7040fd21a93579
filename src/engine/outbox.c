/*
 * outbox.c - a bounded FIFO of items sent one at a time by a thread of its own
 *
 * One mutex guards the ring and the stop state; one condition variable
 * wakes the thread (an item, the stop), a backoff wait (the stop) and the
 * stopper (the thread's end). Items move in and out of the ring by memcpy;
 * the thread delivers from its own copy (cur) with no lock held.
 */
#include "reloadd/engine/outbox.h"

#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/banned.h"

struct rl_outbox {
    char name[16];
    size_t item_size, cap;
    struct rl_outbox_ops ops;
    void *ctx;
    unsigned char *cur;             /* the item being delivered; the thread's, then the stopper's */
    pthread_t thread;

    pthread_mutex_t mu;             /* guards what follows */
    pthread_cond_t cv;
    unsigned char *ring;
    size_t head, len;
    bool started;
    bool stop_begun;                /* stop() was called: on_stop, then stopping */
    bool stopping;                  /* pushes refused; the deadline holds */
    bool ended;                     /* the thread has left its loop */
    uint64_t deadline_ms;           /* rl_mono_ms() after which no item is taken */
    uint64_t dropped;               /* released unsent by stop */
};

struct rl_outbox *rl_outbox_new(const char *thread_name, size_t item_size, size_t cap,
                                const struct rl_outbox_ops *ops, void *ctx)
{
    struct rl_outbox *ob;

    if (!item_size || !cap || !ops || !ops->deliver || !ops->release)
        return NULL;
    ob = RL_NEW(struct rl_outbox);
    strlcpy(ob->name, thread_name ? thread_name : "rl-outbox", sizeof(ob->name));
    ob->item_size = item_size;
    ob->cap = cap;
    ob->ops = *ops;
    ob->ctx = ctx;
    ob->cur = rl_xcalloc(1, item_size);
    ob->ring = rl_xcalloc(cap, item_size);
    rl_mutex_init(&ob->mu);
    rl_cond_init(&ob->cv);
    return ob;
}

/* Under ob->mu, with len > 0: moves the oldest item to out. */
static void pop(struct rl_outbox *ob, void *out)
{
    unsigned char *slot = ob->ring + ob->head * ob->item_size;

    memcpy(out, slot, ob->item_size);
    memset(slot, 0, ob->item_size);
    ob->head = (ob->head + 1) % ob->cap;
    ob->len--;
}

static void *outbox_main(void *arg)
{
    struct rl_outbox *ob = arg;

    if (ob->ops.thread_init)
        ob->ops.thread_init(ob->ctx);
    for (;;) {
        rl_mutex_lock(&ob->mu);
        while (ob->len == 0 && !ob->stopping)
            rl_cond_wait(&ob->cv, &ob->mu);
        if (ob->len == 0 || (ob->stopping && rl_mono_ms() >= ob->deadline_ms)) {
            rl_mutex_unlock(&ob->mu);
            break;
        }
        pop(ob, ob->cur);
        rl_mutex_unlock(&ob->mu);
        ob->ops.deliver(ob->ctx, ob->cur);
        ob->ops.release(ob->ctx, ob->cur);
        memset(ob->cur, 0, ob->item_size);
    }
    if (ob->ops.thread_fini)
        ob->ops.thread_fini(ob->ctx);
    rl_mutex_lock(&ob->mu);
    ob->ended = true;
    rl_cond_broadcast(&ob->cv);
    rl_mutex_unlock(&ob->mu);
    return NULL;
}

int rl_outbox_start(struct rl_outbox *ob)
{
    rl_mutex_lock(&ob->mu);
    if (ob->started || ob->stop_begun) {
        rl_mutex_unlock(&ob->mu);
        return RL_EINVAL;
    }
    ob->started = true;
    rl_mutex_unlock(&ob->mu);
    rl_thread_start(&ob->thread, ob->name, outbox_main, ob);
    return 0;
}

size_t rl_outbox_stop(struct rl_outbox *ob, uint64_t drain_ms)
{
    bool running, late;
    size_t n = 0;

    if (!ob)
        return 0;
    rl_mutex_lock(&ob->mu);
    if (ob->stop_begun) {
        rl_mutex_unlock(&ob->mu);
        return 0;
    }
    ob->stop_begun = true;
    running = ob->started;
    rl_mutex_unlock(&ob->mu);

    if (running && ob->ops.on_stop)
        ob->ops.on_stop(ob->ctx);
    rl_mutex_lock(&ob->mu);
    ob->stopping = true;
    ob->deadline_ms = rl_mono_ms() + drain_ms;
    rl_cond_broadcast(&ob->cv);
    while (running && !ob->ended && rl_mono_ms() < ob->deadline_ms)
        rl_cond_wait_until_ms(&ob->cv, &ob->mu, ob->deadline_ms);
    late = running && !ob->ended;
    rl_mutex_unlock(&ob->mu);
    if (late && ob->ops.on_abort)
        ob->ops.on_abort(ob->ctx);
    if (running)
        rl_thread_join(ob->thread);

    /* No thread now, and pushes are refused: what is left is ours to drop. */
    for (;;) {
        rl_mutex_lock(&ob->mu);
        if (ob->len == 0) {
            rl_mutex_unlock(&ob->mu);
            break;
        }
        pop(ob, ob->cur);
        ob->dropped++;
        rl_mutex_unlock(&ob->mu);
        ob->ops.release(ob->ctx, ob->cur);
        n++;
    }
    return n;
}

void rl_outbox_free(struct rl_outbox *ob)
{
    if (!ob)
        return;
    rl_outbox_stop(ob, 0);
    free(ob->ring);
    free(ob->cur);
    rl_cond_destroy(&ob->cv);
    rl_mutex_destroy(&ob->mu);
    free(ob);
}

enum rl_outbox_push rl_outbox_push(struct rl_outbox *ob, const void *item, void *evicted)
{
    enum rl_outbox_push res = RL_OUTBOX_QUEUED;

    rl_mutex_lock(&ob->mu);
    if (ob->stopping) {
        rl_mutex_unlock(&ob->mu);
        return RL_OUTBOX_REFUSED;
    }
    if (ob->len == ob->cap) {
        pop(ob, evicted);
        res = RL_OUTBOX_EVICTED;
    }
    memcpy(ob->ring + (ob->head + ob->len) % ob->cap * ob->item_size, item, ob->item_size);
    ob->len++;
    rl_cond_signal(&ob->cv);
    rl_mutex_unlock(&ob->mu);
    return res;
}

void rl_outbox_stats(struct rl_outbox *ob, struct rl_outbox_stats *out)
{
    rl_mutex_lock(&ob->mu);
    out->queued = ob->len;
    out->dropped = ob->dropped;
    rl_mutex_unlock(&ob->mu);
}

bool rl_outbox_backoff_wait(struct rl_outbox *ob, uint64_t delay_ms)
{
    uint64_t until = rl_mono_ms() + delay_ms;
    bool go_on = true;

    rl_mutex_lock(&ob->mu);
    while (rl_mono_ms() < until) {
        if (ob->stopping && rl_mono_ms() >= ob->deadline_ms) {
            go_on = false;
            break;
        }
        rl_cond_wait_until_ms(&ob->cv, &ob->mu,
                              ob->stopping && ob->deadline_ms < until ? ob->deadline_ms : until);
    }
    rl_mutex_unlock(&ob->mu);
    return go_on;
}
