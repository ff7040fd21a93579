/* cap.c - at most M workloads in a rollout at once, the others wait in order */
#include "reloadd/reload/cap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/list.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/reload/budget.h"
#include "reloadd/reload/workload.h"
#include "reloadd/base/banned.h"

struct entry {
    struct rl_list_node node;           /* in `waiting` or in `flight` */
    const char *key;                    /* the map's copy */
    uint64_t since_ms;                  /* queued at, or in flight since */
    bool in_flight;
};

#define ENTRY(n) rl_list_entry(n, struct entry, node)

struct rl_cap {
    pthread_mutex_t mu;
    unsigned max;
    uint64_t timeout_ms;
    struct rl_map entries;              /* key -> struct entry */
    struct rl_list waiting;             /* oldest first */
    struct rl_list flight;              /* in flight longest first */
    uint64_t admitted, queued, coalesced, expired;
};

/* Inserts e in flight in order of since_ms (adoptions come with their age). */
static void flight_insert(struct rl_cap *c, struct entry *e)
{
    struct rl_list_node *after = c->flight.tail;

    while (after && ENTRY(after)->since_ms > e->since_ms)
        after = after->prev;
    rl_list_insert_after(&c->flight, after, &e->node);
}

static struct entry *entry_add(struct rl_cap *c, const char *key)
{
    struct entry *e = RL_NEW(struct entry);

    rl_map_put(&c->entries, key, e);
    e->key = rl_map_key(&c->entries, key);
    return e;
}

static void entry_drop(struct rl_cap *c, struct entry *e)
{
    rl_list_remove(e->in_flight ? &c->flight : &c->waiting, &e->node);
    rl_map_del(&c->entries, e->key);            /* frees the key e->key points to */
    free(e);
}

struct rl_cap *rl_cap_new(unsigned max, uint64_t timeout_ms)
{
    struct rl_cap *c = RL_NEW(struct rl_cap);

    rl_mutex_init(&c->mu);
    c->max = max;
    c->timeout_ms = timeout_ms;
    rl_map_init(&c->entries);
    return c;
}

void rl_cap_free(struct rl_cap *c)
{
    if (!c)
        return;
    rl_map_release(&c->entries, free);
    rl_mutex_destroy(&c->mu);
    free(c);
}

void rl_cap_clear(struct rl_cap *c)
{
    rl_mutex_lock(&c->mu);
    while (c->waiting.head)
        entry_drop(c, ENTRY(c->waiting.head));
    while (c->flight.head)
        entry_drop(c, ENTRY(c->flight.head));
    rl_mutex_unlock(&c->mu);
}

enum rl_cap_verdict rl_cap_admit(struct rl_cap *c, const char *key, uint64_t now_ms)
{
    enum rl_cap_verdict v = RL_CAP_ROLL;
    struct entry *e;

    if (!c->max)
        return RL_CAP_ROLL;
    rl_mutex_lock(&c->mu);
    e = rl_map_get(&c->entries, key);
    if (e && e->in_flight) {
        /* Rolls again: the slot stays its own, its clock restarts. */
        rl_list_remove(&c->flight, &e->node);
        e->since_ms = now_ms;
        flight_insert(c, e);
    } else if (e) {
        c->coalesced++;
        v = RL_CAP_WAIT;
    } else if (c->flight.len < c->max && !c->waiting.len) {
        e = entry_add(c, key);
        e->in_flight = true;
        e->since_ms = now_ms;
        flight_insert(c, e);
        c->admitted++;
    } else {
        e = entry_add(c, key);
        e->since_ms = now_ms;
        rl_list_append(&c->waiting, &e->node);
        c->queued++;
        v = RL_CAP_WAIT;
    }
    rl_mutex_unlock(&c->mu);
    return v;
}

/* Drops key's entry if it is in flight (or waiting too, if `waiting`); true if it held a slot. */
static bool drop_key(struct rl_cap *c, const char *key, bool waiting)
{
    struct entry *e;
    bool freed = false;

    if (!c->max)
        return false;
    rl_mutex_lock(&c->mu);
    e = rl_map_get(&c->entries, key);
    if (e && (e->in_flight || waiting)) {
        freed = e->in_flight;
        entry_drop(c, e);
    }
    rl_mutex_unlock(&c->mu);
    return freed;
}

bool rl_cap_finish(struct rl_cap *c, const char *key)
{
    return drop_key(c, key, false);
}

bool rl_cap_remove(struct rl_cap *c, const char *key)
{
    return drop_key(c, key, true);
}

size_t rl_cap_expire(struct rl_cap *c, uint64_t now_ms, rl_cap_key_fn *fn, void *ctx)
{
    char **keys = NULL;
    size_t n = 0;

    if (!c->max || !c->timeout_ms)
        return 0;
    rl_mutex_lock(&c->mu);
    for (struct rl_list_node *node = c->flight.head, *next; node; node = next) {
        struct entry *e = ENTRY(node);

        next = node->next;
        if (e->since_ms > now_ms || now_ms - e->since_ms < c->timeout_ms)
            continue;
        if (fn) {
            keys = rl_xreallocarray(keys, n + 1, sizeof(*keys));
            keys[n] = rl_xstrdup(e->key);
        }
        n++;
        entry_drop(c, e);
    }
    c->expired += n;
    rl_mutex_unlock(&c->mu);
    for (size_t i = 0; fn && i < n; i++) {
        fn(ctx, keys[i]);
        free(keys[i]);
    }
    free(keys);
    return n;
}

char *rl_cap_next_ready(struct rl_cap *c, uint64_t now_ms)
{
    struct entry *e;
    char *key = NULL;

    if (!c->max)
        return NULL;
    rl_mutex_lock(&c->mu);
    e = rl_list_first_entry(&c->waiting, struct entry, node);
    if (e && c->flight.len < c->max) {
        rl_list_remove(&c->waiting, &e->node);
        e->in_flight = true;
        e->since_ms = now_ms;
        flight_insert(c, e);
        c->admitted++;
        key = rl_xstrdup(e->key);
    }
    rl_mutex_unlock(&c->mu);
    return key;
}

void rl_cap_adopt(struct rl_cap *c, const char *key, uint64_t age_ms, uint64_t now_ms)
{
    struct entry *e;

    if (!c->max)
        return;
    rl_mutex_lock(&c->mu);
    e = rl_map_get(&c->entries, key);
    if (e)
        rl_list_remove(e->in_flight ? &c->flight : &c->waiting, &e->node);
    else
        e = entry_add(c, key);
    e->in_flight = true;
    e->since_ms = age_ms < now_ms ? now_ms - age_ms : 0;
    flight_insert(c, e);
    rl_mutex_unlock(&c->mu);
}

/* The last (latest) entry of a rollout history, or -1. */
static int64_t last_rollout(const char *history)
{
    const char *comma, *s;
    char *end;
    long long v;

    if (!history || !rl_rollouts_valid(history))
        return -1;
    comma = strrchr(history, ',');
    s = comma ? comma + 1 : history;
    errno = 0;
    v = strtoll(s, &end, 10);
    return errno || *end ? -1 : v;
}

bool rl_cap_in_rollout(const struct rl_workload *w, enum rl_progress judged, int64_t now_s,
                       int64_t timeout_s, uint64_t *age_ms)
{
    int64_t last;

    *age_ms = 0;
    if (judged != RL_PROGRESS_RUNNING || !w->has_record)
        return false;
    last = last_rollout(w->rollouts);
    if (last < 0)
        return true;
    if (last >= now_s)
        return true;
    if (timeout_s > 0 && now_s - last >= timeout_s)
        return false;
    *age_ms = (uint64_t)(now_s - last) * 1000u;
    return true;
}

void rl_cap_counts(struct rl_cap *c, uint64_t now_ms, struct rl_cap_counts *out)
{
    memset(out, 0, sizeof(*out));
    out->max = c->max;
    rl_mutex_lock(&c->mu);
    out->in_flight = c->flight.len;
    out->waiting = c->waiting.len;
    if (c->waiting.head && now_ms > ENTRY(c->waiting.head)->since_ms)
        out->oldest_wait_ms = now_ms - ENTRY(c->waiting.head)->since_ms;
    out->admitted_total = c->admitted;
    out->queued_total = c->queued;
    out->coalesced_total = c->coalesced;
    out->expired_total = c->expired;
    rl_mutex_unlock(&c->mu);
}
