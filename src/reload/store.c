/* store.c - compact caches of sources and workloads, and the reverse index */
#include "reloadd/reload/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/log.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/config/policy.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/state.h"
#include "reloadd/base/banned.h"

#define KEY_MAX RL_STORE_KEY_MAX

/*
 * A set of keys; the strings belong to the workloads map (index, named), or
 * to the sources map (by_ns: there each source's ns_slot is its place).
 */
struct keyset {
    const char **keys;
    uint32_t n, cap;
};

struct wentry {
    struct rl_workload *w;
    uint32_t epoch;
};

/* The workloads of one namespace, by kind (what Reloader would list per event). */
struct ns_count {
    size_t kinds[RL_KIND_MAX];
    size_t total;
};

/* A source deleted while we watched. */
struct tomb {
    uint64_t rv;                    /* of the deletion */
    uint64_t seq;                   /* order of deletion, for eviction */
    bool ignore, match;             /* its annotations when it went */
};

struct rl_store {
    pthread_rwlock_t lock;
    /* Guarded by lock. */
    struct rl_map sources;          /* "configmap/ns/name" -> struct rl_source */
    struct rl_map by_ns;            /* "configmap/ns" -> struct keyset of those sources' keys */
    size_t nsources[RL_SOURCE_COUNT];
    struct rl_map tombs;            /* "configmap/ns/name" -> struct tomb */
    uint64_t tomb_seq;
    uint64_t max_rv;                /* the highest resourceVersion applied */
    struct rl_map workloads;        /* "deployment/ns/name" -> struct wentry */
    struct rl_map index;            /* source key -> struct keyset */
    struct rl_map named;            /* namespace -> struct keyset */
    struct rl_map per_ns;           /* namespace -> struct ns_count: workloads by kind */
    size_t edges;
    size_t workload_bytes;
    struct rl_state *state;         /* the workload state (state.h); NULL: off */
    /* Immutable. */
    const struct rl_policy *policy;
    struct rl_regex_cache *rc;
};

void rl_store_source_key(char *out, size_t len, enum rl_source_type t, const char *ns,
                         const char *name)
{
    snprintf(out, len, "%s/%s/%s", rl_source_type_lower(t), ns, name);
}

void rl_store_workload_key(char *out, size_t len, enum rl_kind k, const char *ns,
                           const char *name)
{
    snprintf(out, len, "%s/%s/%s", rl_kind_key(k), ns, name);
}

bool rl_store_parse_workload_key(const char *key, enum rl_kind *k, const char **ns,
                                 size_t *ns_len, const char **name)
{
    const char *s1 = strchr(key, '/'), *s2;

    if (!s1)
        return false;
    s2 = strchr(s1 + 1, '/');
    if (!s2 || !s2[1])
        return false;
    for (int i = 0; i < rl_kind_count(); i++) {
        const char *kk = rl_kind_key((enum rl_kind)i);

        if (strlen(kk) == (size_t)(s1 - key) && strncmp(kk, key, (size_t)(s1 - key)) == 0) {
            *k = (enum rl_kind)i;
            *ns = s1 + 1;
            *ns_len = (size_t)(s2 - s1 - 1);
            *name = s2 + 1;
            return true;
        }
    }
    return false;
}

/* Appends key, known to be absent; returns its place. */
static uint32_t keyset_push(struct keyset *ks, const char *key)
{
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? ks->cap * 2 : 2;
        ks->keys = rl_xreallocarray(ks->keys, ks->cap, sizeof(*ks->keys));
    }
    ks->keys[ks->n] = key;
    return ks->n++;
}

static void keyset_add(struct keyset *ks, const char *key)
{
    for (uint32_t i = 0; i < ks->n; i++)
        if (ks->keys[i] == key)
            return;
    keyset_push(ks, key);
}

static bool keyset_del(struct keyset *ks, const char *key)
{
    for (uint32_t i = 0; i < ks->n; i++) {
        if (ks->keys[i] == key) {
            ks->keys[i] = ks->keys[--ks->n];
            return true;
        }
    }
    return false;
}

static void keyset_free(void *p)
{
    struct keyset *ks = p;

    if (ks) {
        free(ks->keys);
        free(ks);
    }
}

static void wentry_free(void *p)
{
    struct wentry *e = p;

    if (e) {
        rl_workload_free(e->w);
        free(e);
    }
}

struct rl_store *rl_store_new(const struct rl_policy *pol, struct rl_regex_cache *rc)
{
    struct rl_store *s = RL_NEW(struct rl_store);

    rl_rwlock_init(&s->lock);
    rl_map_init(&s->sources);
    rl_map_init(&s->by_ns);
    rl_map_init(&s->tombs);
    rl_map_init(&s->workloads);
    rl_map_init(&s->index);
    rl_map_init(&s->named);
    rl_map_init(&s->per_ns);
    s->policy = pol;
    s->rc = rc;
    return s;
}

void rl_store_free(struct rl_store *s)
{
    if (!s)
        return;
    rl_map_release(&s->index, keyset_free);
    rl_map_release(&s->named, keyset_free);
    rl_map_release(&s->per_ns, free);
    rl_map_release(&s->workloads, wentry_free);
    rl_map_release(&s->by_ns, keyset_free);
    rl_map_release(&s->sources, free);
    rl_map_release(&s->tombs, free);
    rl_state_free(s->state);
    rl_rwlock_destroy(&s->lock);
    free(s);
}

/*
 * The named-reload workloads of ns whose list for t matches name, or whose
 * list no worker has compiled yet: this thread never compiles a user's
 * patterns (decide.h); the worker's decision settles it.
 */
static void enqueue_named(struct rl_store *s, enum rl_source_type t, const char *ns,
                          const char *name, rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct keyset *ks = rl_map_get(&s->named, ns);

    for (uint32_t i = 0; ks && i < ks->n; i++) {
        struct wentry *e = rl_map_get(&s->workloads, ks->keys[i]);
        const char *list = e ? rl_decide_reload_list(e->w, t, s->policy) : NULL;

        if (list && rl_decide_list_matches_cached(s->rc, list, name) != 0)
            enqueue(ctx, ks->keys[i]);
    }
}

static void enqueue_dependents(struct rl_store *s, enum rl_source_type t, const char *ns,
                               const char *name, const char *skey,
                               rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct keyset *ks = rl_map_get(&s->index, skey);

    if (!enqueue)
        return;
    for (uint32_t i = 0; ks && i < ks->n; i++)
        enqueue(ctx, ks->keys[i]);
    enqueue_named(s, t, ns, name, enqueue, ctx);
}

uint64_t rl_store_parse_rv(const char *rv)
{
    uint64_t v = 0;

    if (!rv || !*rv)
        return RL_STORE_RV_UNKNOWN;
    for (; *rv; rv++) {
        if (*rv < '0' || *rv > '9' || v > (UINT64_MAX - 10) / 10)
            return RL_STORE_RV_UNKNOWN;
        v = v * 10 + (uint64_t)(*rv - '0');
    }
    return v ? v : RL_STORE_RV_UNKNOWN;
}

/* A live revision as stored: unknown ones are the latest seen. Lock held. */
static uint64_t stamp(struct rl_store *s, uint64_t rv)
{
    if (rv == RL_STORE_RV_UNKNOWN || rv == 0)
        return s->max_rv ? s->max_rv : 1;
    if (rv > s->max_rv)
        s->max_rv = rv;
    return rv;
}

static void bury(struct rl_store *s, const char *key, const struct rl_source *src, uint64_t rv)
{
    struct tomb *t = rl_map_get(&s->tombs, key);

    if (!t) {
        t = RL_NEW(struct tomb);
        rl_map_put(&s->tombs, key, t);
    }
    t->rv = rv;
    t->ignore = src->ignore;
    t->match = src->match;
    t->seq = ++s->tomb_seq;
    if (s->tombs.len <= RL_STORE_MAX_TOMBSTONES)
        return;
    /* Forget the older half at once: an O(n) walk per n/2 deletions. */
    {
        uint64_t keep_from = s->tomb_seq - RL_STORE_MAX_TOMBSTONES / 2;
        char **old = rl_xcalloc(s->tombs.len, sizeof(*old));
        size_t n = 0;
        const char *k;
        void *v;

        for (size_t it = 0; rl_map_next(&s->tombs, &it, &k, &v);)
            if (((struct tomb *)v)->seq <= keep_from)
                old[n++] = rl_xstrdup(k);
        for (size_t i = 0; i < n; i++) {
            free(rl_map_del(&s->tombs, old[i]));
            free(old[i]);
        }
        free(old);
    }
}

/*
 * A source's namespace list (by_ns): named-reload lists match the sources of
 * one namespace, and a scan of every source per such workload made a full
 * pass O(named workloads x sources) (BENCHMARKS.md, xlarge). Appended on
 * creation, removed by swapping the last one into its place.
 */
/* "configmap/ns": the by_ns key; the list's keys are it, '/', the name. */
static size_t ns_list_key(char *out, size_t len, enum rl_source_type t, const char *ns)
{
    return (size_t)snprintf(out, len, "%s/%s", rl_source_type_lower(t), ns);
}

static void ns_list_add(struct rl_store *s, enum rl_source_type t, const char *ns,
                        const char *skey, struct rl_source *src)
{
    char lk[KEY_MAX];
    struct keyset *ks;

    ns_list_key(lk, sizeof(lk), t, ns);
    ks = rl_map_get(&s->by_ns, lk);
    if (!ks) {
        ks = RL_NEW(struct keyset);
        rl_map_put(&s->by_ns, lk, ks);
    }
    src->ns_slot = keyset_push(ks, rl_map_key(&s->sources, skey));
}

/* Before the source leaves the sources map (the last one's slot is looked up there). */
static void ns_list_del(struct rl_store *s, enum rl_source_type t, const char *ns,
                        const char *skey, const struct rl_source *src)
{
    char lk[KEY_MAX];
    struct keyset *ks;
    uint32_t i = src->ns_slot;

    ns_list_key(lk, sizeof(lk), t, ns);
    ks = rl_map_get(&s->by_ns, lk);
    RL_ASSERT(ks && i < ks->n && strcmp(ks->keys[i], skey) == 0);
    if (i != --ks->n) {
        struct rl_source *moved = rl_map_get(&s->sources, ks->keys[ks->n]);

        ks->keys[i] = ks->keys[ks->n];
        moved->ns_slot = i;
    }
    if (ks->n == 0) {
        keyset_free(rl_map_del(&s->by_ns, lk));
    } else if (ks->cap > 16 && ks->n < ks->cap / 4) {
        ks->cap /= 2;                       /* a namespace emptied: give the room back */
        ks->keys = rl_xreallocarray(ks->keys, ks->cap, sizeof(*ks->keys));
    }
}

void rl_store_put_source(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, const struct rl_sha1 *sha1, bool ignore, bool match,
                         uint64_t live_rv, uint32_t epoch, rl_store_enqueue_fn *enqueue,
                         void *ctx)
{
    char key[KEY_MAX];
    struct rl_source *src;
    bool changed;

    rl_store_source_key(key, sizeof(key), t, ns, name);
    rl_rwlock_wrlock(&s->lock);
    if (live_rv)
        live_rv = stamp(s, live_rv);
    src = rl_map_get(&s->sources, key);
    if (!src) {
        src = RL_NEW(struct rl_source);
        rl_map_put(&s->sources, key, src);
        ns_list_add(s, t, ns, key, src);
        s->nsources[t]++;
        free(rl_map_del(&s->tombs, key));
        src->created_rv = live_rv;
        changed = true;
    } else {
        bool new_data = !rl_sha1_eq(&src->sha1, sha1);

        if (new_data && live_rv)
            src->changed_rv = live_rv;
        changed = new_data || src->ignore != ignore || src->match != match;
    }
    src->sha1 = *sha1;
    src->ignore = ignore;
    src->match = match;
    src->epoch = epoch;
    if (changed)
        enqueue_dependents(s, t, ns, name, key, enqueue, ctx);
    rl_rwlock_unlock(&s->lock);
}

static void del_source_locked(struct rl_store *s, enum rl_source_type t, const char *ns,
                              const char *name, const char *key, uint64_t rv,
                              rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct rl_source *src = rl_map_get(&s->sources, key);

    if (!src)
        return;
    ns_list_del(s, t, ns, key, src);
    rl_map_del(&s->sources, key);
    s->nsources[t]--;
    bury(s, key, src, stamp(s, rv));
    free(src);
    enqueue_dependents(s, t, ns, name, key, enqueue, ctx);
}

void rl_store_del_source(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, uint64_t rv, rl_store_enqueue_fn *enqueue,
                         void *ctx)
{
    char key[KEY_MAX];

    rl_store_source_key(key, sizeof(key), t, ns, name);
    rl_rwlock_wrlock(&s->lock);
    del_source_locked(s, t, ns, name, key, rv, enqueue, ctx);
    rl_rwlock_unlock(&s->lock);
}

struct link_ctx {
    struct rl_store *s;
    const char *wkey;               /* the workloads map's own key */
    const char *ns;
    bool add;
};

static void link_source(void *arg, enum rl_source_type t, const char *name, unsigned origins)
{
    struct link_ctx *lc = arg;
    struct rl_store *s = lc->s;
    char key[KEY_MAX];
    struct keyset *ks;

    (void)origins;
    rl_store_source_key(key, sizeof(key), t, lc->ns, name);
    ks = rl_map_get(&s->index, key);
    if (lc->add) {
        if (!ks) {
            ks = RL_NEW(struct keyset);
            rl_map_put(&s->index, key, ks);
        }
        uint32_t before = ks->n;
        keyset_add(ks, lc->wkey);
        s->edges += ks->n - before;
    } else if (ks) {
        if (keyset_del(ks, lc->wkey))
            s->edges--;
        if (ks->n == 0)
            keyset_free(rl_map_del(&s->index, key));
    }
}

static bool has_named_list(struct rl_store *s, const struct rl_workload *w)
{
    return rl_decide_reload_list(w, RL_SOURCE_CONFIGMAP, s->policy) ||
           rl_decide_reload_list(w, RL_SOURCE_SECRET, s->policy) ||
           (s->policy->csi && rl_decide_reload_list(w, RL_SOURCE_SPC, s->policy));
}

static void index_workload(struct rl_store *s, const char *wkey, const struct rl_workload *w,
                           bool add)
{
    struct link_ctx lc = { s, wkey, w->ns, add };
    struct keyset *ks;

    rl_workload_each_source(w, link_source, &lc);
    if (!has_named_list(s, w))
        return;
    ks = rl_map_get(&s->named, w->ns);
    if (add) {
        if (!ks) {
            ks = RL_NEW(struct keyset);
            rl_map_put(&s->named, w->ns, ks);
        }
        keyset_add(ks, wkey);
    } else if (ks) {
        keyset_del(ks, wkey);
        if (ks->n == 0)
            keyset_free(rl_map_del(&s->named, w->ns));
    }
}

/* Whether W's own annotations changed, our applied record aside. */
static bool inputs_changed(const struct rl_store *s, const struct rl_workload *old,
                           const struct rl_workload *nw)
{
    const char *skip = s->policy ? s->policy->key.applied : NULL;
    uint16_t i = 0, j = 0;

    for (;;) {
        while (i < old->n_meta_ann && skip && strcmp(old->meta_ann[i].key, skip) == 0)
            i++;
        while (j < nw->n_meta_ann && skip && strcmp(nw->meta_ann[j].key, skip) == 0)
            j++;
        if (i == old->n_meta_ann || j == nw->n_meta_ann)
            return i != old->n_meta_ann || j != nw->n_meta_ann;
        if (strcmp(old->meta_ann[i].key, nw->meta_ann[j].key) != 0 ||
            strcmp(old->meta_ann[i].value, nw->meta_ann[j].value) != 0)
            return true;
        i++;
        j++;
    }
}

static bool same_or_null(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* What W holds in memory, its version before an edit included. */
static size_t workload_bytes(const struct rl_workload *w)
{
    return w->mem_bytes + (w->before_edit ? w->before_edit->mem_bytes : 0);
}

/* Our applied record, as decoded (workload.h), differs between two versions of W. */
static bool record_changed(const struct rl_workload *old, const struct rl_workload *nw)
{
    if (old->has_record != nw->has_record || old->applied_invalid != nw->applied_invalid ||
        old->n_applied != nw->n_applied || !same_or_null(old->rollouts, nw->rollouts))
        return true;
    for (uint16_t i = 0; i < nw->n_applied; i++) {
        const struct rl_applied *a = &old->applied[i], *b = &nw->applied[i];

        if (a->type != b->type || strcmp(a->name, b->name) != 0 || strcmp(a->hash, b->hash) != 0)
            return true;
    }
    return false;
}

/* Under the write lock: ns holds one workload of kind k more (+1) or fewer (-1). */
static void count_in_ns(struct rl_store *s, const char *ns, enum rl_kind k, int delta)
{
    struct ns_count *c = rl_map_get(&s->per_ns, ns);

    if (!c) {
        if (delta < 0)
            return;
        c = RL_NEW(struct ns_count);
        rl_map_put(&s->per_ns, ns, c);
    }
    c->kinds[k] = delta > 0 ? c->kinds[k] + 1 : c->kinds[k] - (c->kinds[k] > 0);
    c->total = delta > 0 ? c->total + 1 : c->total - (c->total > 0);
    if (c->total == 0)
        free(rl_map_del(&s->per_ns, ns));
}

/*
 * W as the store keeps it: with the workload state's record when W has none
 * of its own and the state holds one for W's uid (state.h); *rv the
 * record's age. An entry W does not use (W has an annotation record, or
 * another uid) is marked for the next batch, which removes it.
 */
static struct rl_workload *with_state(struct rl_store *s, const char *wkey,
                                      struct rl_workload *w, uint64_t *rv)
{
    const char *v = rl_state_get(s->state, wkey);
    struct rl_state_entry se;
    struct rl_workload *nw;

    if (!v)
        return w;
    if (w->has_record || !rl_state_value_parse(v, &se) ||
        strcmp(se.uid, w->uid ? w->uid : "") != 0) {
        rl_state_touch(s->state, wkey);
        return w;
    }
    if (rl_workload_with_record(w, se.record, &nw) != 0)
        return w;
    *rv = se.rv;
    rl_workload_free(w);
    return nw;
}

/* Under the write lock: W's state entry changed; W takes it (or loses it). */
static void state_changed(void *ctx, const char *wkey)
{
    struct rl_store *s = ctx;
    struct wentry *e = rl_map_get(&s->workloads, wkey);
    const char *key = rl_map_key(&s->workloads, wkey);
    struct rl_workload *old, *bare = NULL, *nw;
    uint64_t rv = 0;
    size_t old_bytes;

    if (!e || (e->w->has_record && !e->w->record_in_state))
        return;                             /* unknown yet, or its own record wins */
    old = e->w;
    old_bytes = workload_bytes(old);
    if (rl_workload_with_record(old, NULL, &bare) != 0)
        return;
    nw = with_state(s, key, bare, &rv);
    if (!nw->record_in_state && !old->record_in_state) {
        rl_workload_free(nw);               /* nothing it takes, and nothing it had */
        return;
    }
    nw->record_rv = nw->record_in_state ? rv : 0;
    nw->before_edit = old->before_edit;
    old->before_edit = NULL;
    index_workload(s, key, old, false);
    s->workload_bytes -= old_bytes;
    e->w = nw;
    s->workload_bytes += workload_bytes(nw);
    index_workload(s, key, nw, true);
    rl_workload_free(old);
}

void rl_store_put_workload(struct rl_store *s, struct rl_workload *w, uint64_t live_rv,
                           uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx)
{
    char key[KEY_MAX];
    struct wentry *e;
    const char *wkey;
    struct rl_workload *old = NULL;
    bool relevant, keep_old = false;
    size_t old_bytes = 0;
    uint64_t state_rv = 0;

    rl_store_workload_key(key, sizeof(key), w->kind, w->ns, w->name);
    rl_rwlock_wrlock(&s->lock);
    if (s->state) {
        rl_state_alive(s->state, key);
        w = with_state(s, key, w, &state_rv);
    }
    e = rl_map_get(&s->workloads, key);
    if (!e) {
        e = RL_NEW(struct wentry);
        rl_map_put(&s->workloads, key, e);
        count_in_ns(s, w->ns, w->kind, +1);
    } else {
        old = e->w;
        old_bytes = workload_bytes(old);    /* before its before_edit moves to w */
    }
    wkey = rl_map_key(&s->workloads, key);
    if (live_rv)
        live_rv = stamp(s, live_rv);
    if (!old || strcmp(old->uid ? old->uid : "", w->uid ? w->uid : "") != 0) {
        w->template_rv = w->inputs_rv = w->record_rv = live_rv;
    } else {
        w->template_rv = old->template_digest != w->template_digest && live_rv
                             ? live_rv : old->template_rv;
        w->record_rv = live_rv && record_changed(old, w) ? live_rv : old->record_rv;
        if (live_rv && inputs_changed(s, old, w)) {
            w->inputs_rv = live_rv;
            keep_old = true;            /* becomes w->before_edit below */
        } else {
            w->inputs_rv = old->inputs_rv;
            w->before_edit = old->before_edit;
            old->before_edit = NULL;
        }
    }
    if (w->record_in_state)
        w->record_rv = state_rv;            /* the record is as old as its decision */
    if (old) {
        index_workload(s, wkey, old, false);
        s->workload_bytes -= old_bytes;
    }
    if (keep_old) {
        rl_workload_free(old->before_edit);
        old->before_edit = NULL;
        w->before_edit = old;
    }
    e->w = w;
    e->epoch = epoch;
    s->workload_bytes += workload_bytes(w);
    index_workload(s, wkey, w, true);
    relevant = !old || !rl_workload_decides_alike(old, w);
    if (relevant && enqueue)
        enqueue(ctx, wkey);
    rl_rwlock_unlock(&s->lock);
    if (!keep_old)
        rl_workload_free(old);
}

static void del_workload_locked(struct rl_store *s, const char *key)
{
    const char *wkey = rl_map_key(&s->workloads, key);
    struct wentry *e;

    if (!wkey)
        return;
    e = rl_map_get(&s->workloads, key);
    if (s->state)
        rl_state_gone(s->state, wkey);      /* its entry goes with the next batch */
    count_in_ns(s, e->w->ns, e->w->kind, -1);
    index_workload(s, wkey, e->w, false);
    s->workload_bytes -= workload_bytes(e->w);
    wentry_free(rl_map_del(&s->workloads, key));
}

void rl_store_del_workload(struct rl_store *s, enum rl_kind k, const char *ns, const char *name,
                           rl_store_enqueue_fn *enqueue, void *ctx)
{
    char key[KEY_MAX];

    (void)enqueue;
    (void)ctx;
    rl_store_workload_key(key, sizeof(key), k, ns, name);
    rl_rwlock_wrlock(&s->lock);
    del_workload_locked(s, key);
    rl_rwlock_unlock(&s->lock);
}

/* "<prefix>/<ns>/" matches key, or "<prefix>/" when ns is NULL. */
static bool in_scope(const char *key, const char *prefix, const char *ns)
{
    size_t pl = strlen(prefix);

    if (strncmp(key, prefix, pl) != 0 || key[pl] != '/')
        return false;
    if (!ns || !*ns)
        return true;
    key += pl + 1;
    pl = strlen(ns);
    return strncmp(key, ns, pl) == 0 && key[pl] == '/';
}

struct doomed {
    char **keys;
    size_t n, cap;
};

static void doomed_add(struct doomed *d, const char *key)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->keys = rl_xreallocarray(d->keys, d->cap, sizeof(*d->keys));
    }
    d->keys[d->n++] = rl_xstrdup(key);
}

void rl_store_sweep_sources(struct rl_store *s, enum rl_source_type t, const char *ns,
                            uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct doomed d = { 0 };
    const char *key;
    void *v;

    rl_rwlock_wrlock(&s->lock);
    for (size_t it = 0; rl_map_next(&s->sources, &it, &key, &v);)
        if (((struct rl_source *)v)->epoch != epoch &&
            in_scope(key, rl_source_type_lower(t), ns))
            doomed_add(&d, key);
    for (size_t i = 0; i < d.n; i++) {
        /* key is "<type>/<ns>/<name>": split it for the dependents' lookup. */
        char *k = d.keys[i], *sns = strchr(k, '/') + 1, *sname = strchr(sns, '/');
        char full[KEY_MAX];

        strlcpy(full, k, sizeof(full));
        *sname++ = '\0';
        del_source_locked(s, t, sns, sname, full, 0, enqueue, ctx);
        free(k);
    }
    rl_rwlock_unlock(&s->lock);
    free(d.keys);
}

void rl_store_sweep_workloads(struct rl_store *s, enum rl_kind k, const char *ns,
                              uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct doomed d = { 0 };
    const char *key;
    void *v;

    (void)enqueue;
    (void)ctx;
    rl_rwlock_wrlock(&s->lock);
    for (size_t it = 0; rl_map_next(&s->workloads, &it, &key, &v);)
        if (((struct wentry *)v)->epoch != epoch && in_scope(key, rl_kind_key(k), ns))
            doomed_add(&d, key);
    for (size_t i = 0; i < d.n; i++) {
        del_workload_locked(s, d.keys[i]);
        free(d.keys[i]);
    }
    rl_rwlock_unlock(&s->lock);
    free(d.keys);
}

void rl_store_rdlock(struct rl_store *s)
{
    rl_rwlock_rdlock(&s->lock);
}

void rl_store_unlock(struct rl_store *s)
{
    rl_rwlock_unlock(&s->lock);
}

const struct rl_workload *rl_store_workload(struct rl_store *s, const char *wkey)
{
    struct wentry *e = rl_map_get(&s->workloads, wkey);

    return e ? e->w : NULL;
}

const struct rl_source *rl_store_source(struct rl_store *s, enum rl_source_type t,
                                        const char *ns, const char *name)
{
    char key[KEY_MAX];

    rl_store_source_key(key, sizeof(key), t, ns, name);
    return rl_map_get(&s->sources, key);
}

uint64_t rl_store_tombstone(struct rl_store *s, enum rl_source_type t, const char *ns,
                            const char *name, bool *ignore, bool *match)
{
    char key[KEY_MAX];
    const struct tomb *tb;

    rl_store_source_key(key, sizeof(key), t, ns, name);
    tb = rl_map_get(&s->tombs, key);
    *ignore = tb && tb->ignore;
    *match = tb && tb->match;
    return tb ? tb->rv : 0;
}

void rl_store_each_source_in(struct rl_store *s, enum rl_source_type t, const char *ns,
                             rl_store_source_fn *fn, void *ctx)
{
    char lk[KEY_MAX];
    const struct keyset *ks;
    size_t skip;

    skip = ns_list_key(lk, sizeof(lk), t, ns) + 1;
    ks = rl_map_get(&s->by_ns, lk);
    for (uint32_t i = 0; ks && i < ks->n; i++)
        fn(ctx, ks->keys[i] + skip, rl_map_get(&s->sources, ks->keys[i]));
}

void rl_store_each_tombstone_in(struct rl_store *s, enum rl_source_type t, const char *ns,
                                rl_store_source_fn *fn, void *ctx)
{
    const char *key;
    size_t skip = strlen(rl_source_type_lower(t)) + 1 + strlen(ns) + 1;

    for (size_t it = 0; rl_map_next(&s->tombs, &it, &key, NULL);)
        if (in_scope(key, rl_source_type_lower(t), ns))
            fn(ctx, key + skip, NULL);
}

void rl_store_each_workload(struct rl_store *s, rl_store_enqueue_fn *fn, void *ctx)
{
    const char *key;

    for (size_t it = 0; rl_map_next(&s->workloads, &it, &key, NULL);)
        fn(ctx, key);
}

void rl_store_dependents(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, rl_store_enqueue_fn *fn, void *ctx)
{
    char key[KEY_MAX];

    rl_store_source_key(key, sizeof(key), t, ns, name);
    enqueue_dependents(s, t, ns, name, key, fn, ctx);
}

void rl_store_count_in(struct rl_store *s, const char *ns, size_t out[RL_KIND_MAX])
{
    const struct ns_count *c;

    rl_rwlock_rdlock(&s->lock);
    c = rl_map_get(&s->per_ns, ns);
    for (int k = 0; k < RL_KIND_MAX; k++)
        out[k] = c ? c->kinds[k] : 0;
    rl_rwlock_unlock(&s->lock);
}

void rl_store_counts(struct rl_store *s, struct rl_store_counts *out)
{
    void *v;

    memset(out, 0, sizeof(*out));
    rl_rwlock_rdlock(&s->lock);
    memcpy(out->sources, s->nsources, sizeof(out->sources));
    for (size_t it = 0; rl_map_next(&s->workloads, &it, NULL, &v);)
        out->workloads[((struct wentry *)v)->w->kind]++;
    for (size_t it = 0; rl_map_next(&s->named, &it, NULL, &v);)
        out->named_workloads += ((struct keyset *)v)->n;
    out->index_edges = s->edges;
    out->workload_bytes = s->workload_bytes;
    out->tombstones = s->tombs.len;
    rl_rwlock_unlock(&s->lock);
}

/* ---- the workload state (state.h) ------------------------------------------ */

void rl_store_enable_state(struct rl_store *s)
{
    rl_rwlock_wrlock(&s->lock);
    if (!s->state)
        s->state = rl_state_new();
    rl_rwlock_unlock(&s->lock);
}

bool rl_store_state_enabled(struct rl_store *s)
{
    bool on;

    rl_rwlock_rdlock(&s->lock);
    on = s->state != NULL;
    rl_rwlock_unlock(&s->lock);
    return on;
}

void rl_store_observe_state(struct rl_store *s, unsigned shard, const cJSON *data)
{
    rl_rwlock_wrlock(&s->lock);
    if (s->state)
        rl_state_observe(s->state, shard, data, state_changed, s);
    rl_rwlock_unlock(&s->lock);
}

int rl_store_set_state(struct rl_store *s, const char *wkey, const char *uid, uint64_t rv,
                       const char *record)
{
    char *v = rl_state_value(uid, rv, record);
    struct wentry *e;
    int err = RL_EINVAL;

    rl_rwlock_wrlock(&s->lock);
    e = rl_map_get(&s->workloads, wkey);
    if (!e || strcmp(e->w->uid ? e->w->uid : "", uid ? uid : "") != 0) {
        err = RL_ENOENT;                    /* gone or re-created since: its own reconcile comes */
    } else if (s->state && v && (!e->w->has_record || e->w->record_in_state)) {
        /* Only for a workload without a record of its own: the annotation wins. */
        err = rl_state_put(s->state, wkey, v);
        if (!err)
            state_changed(s, wkey);
    }
    rl_rwlock_unlock(&s->lock);
    free(v);
    return err;
}

/* Under the write lock: the batch keeps W's entry while W uses it. */
static bool state_keep(void *ctx, const char *wkey, const char *value)
{
    struct rl_store *s = ctx;
    struct wentry *e = rl_map_get(&s->workloads, wkey);
    struct rl_state_entry se;

    if (!e)
        return true;                        /* another's, or gone (state.h) */
    return (!e->w->has_record || e->w->record_in_state) && rl_state_value_parse(value, &se) &&
           strcmp(se.uid, e->w->uid ? e->w->uid : "") == 0;
}

bool rl_store_state_batch(struct rl_store *s, unsigned shard, cJSON **data, bool *create)
{
    bool any = false;

    *data = NULL;
    *create = false;
    rl_rwlock_wrlock(&s->lock);
    if (s->state)
        any = rl_state_take_batch(s->state, shard, state_keep, s, data, create);
    rl_rwlock_unlock(&s->lock);
    return any;
}

void rl_store_state_touch(struct rl_store *s, unsigned shard)
{
    rl_rwlock_wrlock(&s->lock);
    if (s->state && shard >= RL_STATE_SHARDS) {
        rl_state_touch_all(s->state);
    } else if (s->state) {
        rl_state_touch_shard(s->state, shard);
    }
    rl_rwlock_unlock(&s->lock);
}

void rl_store_state_forget_pending(struct rl_store *s)
{
    rl_rwlock_wrlock(&s->lock);
    if (s->state)
        rl_state_forget_pending(s->state, state_changed, s);
    rl_rwlock_unlock(&s->lock);
}

void rl_store_state_counts(struct rl_store *s, struct rl_state_counts *out)
{
    rl_rwlock_rdlock(&s->lock);
    if (s->state)
        rl_state_counts(s->state, out);
    else
        memset(out, 0, sizeof(*out));
    rl_rwlock_unlock(&s->lock);
}
