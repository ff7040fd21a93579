/* csi.c - SecretProviderClasses as sources, from their pod status objects (csi.h) */
#include "reloadd/reload/csi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/reload/workload.h"
#include "reloadd/base/banned.h"

/* One (namespace, SecretProviderClass): map key "<ns>/<name>". */
struct cls {
    const char *key;                /* the map's key */
    size_t ns_len;
    size_t n_status;                /* status objects naming it */
    uint64_t hash_rv;               /* first list: rv of the status that gave the hash */
    uint32_t epoch;                 /* of the class list that saw it */
    bool seen;                      /* the SecretProviderClass object exists */
    bool ignore, match;             /* its annotations */
};

/* One status object: map key "<ns>/<name>"; only what the decision needs. */
struct status {
    struct cls *cls;
    struct rl_sha1 sha1;
    uint32_t epoch;
    bool has_objects;
};

struct rl_csi {
    pthread_mutex_t mu;
    struct rl_map classes;          /* "<ns>/<spc>" -> struct cls */
    struct rl_map statuses;         /* "<ns>/<status>" -> struct status */
    struct rl_store *store;
};

int rl_csi_status_decode(const cJSON *obj, struct rl_csi_status *out)
{
    const cJSON *meta = rl_json_obj(obj, "metadata");
    const cJSON *status = rl_json_obj(obj, "status");
    const cJSON *objects = rl_json_get(status, "objects");

    memset(out, 0, sizeof(*out));
    out->ns = rl_json_str_or(meta, "namespace", "");
    out->name = rl_json_str(meta, "name");
    out->spc = rl_json_str(status, "secretProviderClassName");
    out->pod = rl_json_str_or(status, "podName", "");
    out->rv = rl_store_parse_rv(rl_json_str(meta, "resourceVersion"));
    out->has_objects = cJSON_IsArray(objects);
    if (!out->name || !out->spc || !*out->spc)
        return RL_EPARSE;
    return rl_hash_spc_pod_status(obj, &out->sha1);
}

struct rl_csi *rl_csi_new(struct rl_store *store)
{
    struct rl_csi *c = RL_NEW(struct rl_csi);

    rl_mutex_init(&c->mu);
    rl_map_init(&c->classes);
    rl_map_init(&c->statuses);
    c->store = store;
    return c;
}

void rl_csi_free(struct rl_csi *c)
{
    if (!c)
        return;
    rl_map_release(&c->statuses, free);
    rl_map_release(&c->classes, free);
    rl_mutex_destroy(&c->mu);
    free(c);
}

static struct cls *cls_get(struct rl_csi *c, const char *ns, const char *name, bool create)
{
    char key[RL_STORE_KEY_MAX];
    struct cls *k;

    snprintf(key, sizeof(key), "%s/%s", ns, name);
    k = rl_map_get(&c->classes, key);
    if (k || !create)
        return k;
    k = RL_NEW(struct cls);
    rl_map_put(&c->classes, key, k);
    k->key = rl_map_key(&c->classes, key);
    k->ns_len = strlen(ns);
    return k;
}

/* The class's namespace and name, split from its key. */
static void cls_names(const struct cls *k, char *ns, size_t len, const char **name)
{
    snprintf(ns, len, "%.*s", (int)k->ns_len, k->key);
    *name = k->key + k->ns_len + 1;
}

/* The store's source for k: its hash copied out; false if none. */
static bool source_hash(struct rl_csi *c, const char *ns, const char *name, struct rl_sha1 *out)
{
    const struct rl_source *src;
    bool found;

    rl_store_rdlock(c->store);
    src = rl_store_source(c->store, RL_SOURCE_SPC, ns, name);
    found = src != NULL;
    if (src)
        *out = src->sha1;
    rl_store_unlock(c->store);
    return found;
}

/* Drops k once nothing names it any more: its source goes too (a tombstone). */
static void cls_release(struct rl_csi *c, struct cls *k, uint64_t rv, rl_store_enqueue_fn *enqueue,
                        void *ctx)
{
    char ns[RL_STORE_KEY_MAX], key[RL_STORE_KEY_MAX];
    const char *name;

    if (k->n_status || k->seen)
        return;
    cls_names(k, ns, sizeof(ns), &name);
    rl_store_del_source(c->store, RL_SOURCE_SPC, ns, name, rv, enqueue, ctx);
    strlcpy(key, k->key, sizeof(key));
    free(rl_map_del(&c->classes, key));
}

enum rl_csi_event rl_csi_put_status(struct rl_csi *c, const struct rl_csi_status *st, bool live,
                                    uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx)
{
    char key[RL_STORE_KEY_MAX];
    struct rl_sha1 cur;
    struct status *s;
    struct cls *k;
    bool existed, changed;

    snprintf(key, sizeof(key), "%s/%s", st->ns, st->name);
    rl_mutex_lock(&c->mu);
    s = rl_map_get(&c->statuses, key);
    existed = s != NULL;
    k = cls_get(c, st->ns, st->spc, true);
    if (s && s->cls != k) {
        /* It names another class now (the driver never does so): moved. */
        struct cls *was = s->cls;

        was->n_status--;
        s->cls = k;
        k->n_status++;
        s->has_objects = false;
        cls_release(c, was, 0, enqueue, ctx);
    } else if (!s) {
        s = RL_NEW(struct status);
        rl_map_put(&c->statuses, key, s);
        s->cls = k;
        k->n_status++;
    }
    /* docs/reloader.md §4.2: the first objects of a status are a change too. */
    changed = existed && st->has_objects && (!s->has_objects || !rl_sha1_eq(&s->sha1, &st->sha1));
    s->sha1 = st->sha1;
    s->has_objects = st->has_objects;
    s->epoch = epoch;
    if (st->has_objects) {
        if (!source_hash(c, st->ns, st->spc, &cur)) {
            /* Its first version: the source appears, as no change (adds never count). */
            rl_store_put_source(c->store, RL_SOURCE_SPC, st->ns, st->spc, &st->sha1, k->ignore,
                                k->match, 0, epoch, enqueue, ctx);
            k->hash_rv = st->rv;
        } else if (live && changed) {
            rl_store_put_source(c->store, RL_SOURCE_SPC, st->ns, st->spc, &st->sha1, k->ignore,
                                k->match, st->rv ? st->rv : RL_STORE_RV_UNKNOWN, epoch, enqueue,
                                ctx);
        } else if (!live && st->rv != RL_STORE_RV_UNKNOWN && st->rv > k->hash_rv) {
            /* The first list: the newest status object tells the class's version. */
            rl_store_put_source(c->store, RL_SOURCE_SPC, st->ns, st->spc, &st->sha1, k->ignore,
                                k->match, 0, epoch, enqueue, ctx);
            k->hash_rv = st->rv;
        }
    }
    rl_mutex_unlock(&c->mu);
    return !existed ? RL_CSI_ADDED : changed ? RL_CSI_CHANGED : RL_CSI_SAME;
}

static void del_status_locked(struct rl_csi *c, const char *key, uint64_t rv,
                              rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct status *s = rl_map_del(&c->statuses, key);

    if (!s)
        return;
    s->cls->n_status--;
    cls_release(c, s->cls, rv, enqueue, ctx);
    free(s);
}

void rl_csi_del_status(struct rl_csi *c, const char *ns, const char *name, uint64_t rv,
                       rl_store_enqueue_fn *enqueue, void *ctx)
{
    char key[RL_STORE_KEY_MAX];

    snprintf(key, sizeof(key), "%s/%s", ns, name);
    rl_mutex_lock(&c->mu);
    del_status_locked(c, key, rv, enqueue, ctx);
    rl_mutex_unlock(&c->mu);
}

void rl_csi_put_class(struct rl_csi *c, const char *ns, const char *name, bool ignore,
                      bool match, uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct rl_sha1 cur;
    struct cls *k;

    rl_mutex_lock(&c->mu);
    k = cls_get(c, ns, name, true);
    k->seen = true;
    k->epoch = epoch;
    if (k->ignore != ignore || k->match != match) {
        k->ignore = ignore;
        k->match = match;
        /* The same version under other annotations: the store re-judges its dependents. */
        if (source_hash(c, ns, name, &cur))
            rl_store_put_source(c->store, RL_SOURCE_SPC, ns, name, &cur, ignore, match, 0, epoch,
                                enqueue, ctx);
    }
    rl_mutex_unlock(&c->mu);
}

void rl_csi_del_class(struct rl_csi *c, const char *ns, const char *name, uint64_t rv,
                      rl_store_enqueue_fn *enqueue, void *ctx)
{
    struct cls *k;

    rl_mutex_lock(&c->mu);
    k = cls_get(c, ns, name, false);
    if (k) {
        k->seen = false;
        cls_release(c, k, rv, enqueue, ctx);
    }
    rl_mutex_unlock(&c->mu);
}

/* Whether map key "<ns>/<name>" is in namespace ns (NULL: any). */
static bool in_ns(const char *key, const char *ns)
{
    size_t n;

    if (!ns || !*ns)
        return true;
    n = strlen(ns);
    return strncmp(key, ns, n) == 0 && key[n] == '/';
}

/* The keys of `m` in ns whose epoch differs (the map must not change while iterating). */
static char **stale_keys(const struct rl_map *m, const char *ns, uint32_t epoch, bool classes,
                         size_t *n)
{
    char **out = NULL;
    const char *key;
    void *v;

    *n = 0;
    for (size_t it = 0; rl_map_next(m, &it, &key, &v);) {
        uint32_t e = classes ? ((struct cls *)v)->epoch : ((struct status *)v)->epoch;

        if (classes && !((struct cls *)v)->seen)
            continue;
        if (e != epoch && in_ns(key, ns)) {
            out = rl_xreallocarray(out, *n + 1, sizeof(*out));
            out[(*n)++] = rl_xstrdup(key);
        }
    }
    return out;
}

/* Drops what the list of epoch did not see: status objects, or (classes) class objects. */
static void sweep(struct rl_csi *c, bool classes, const char *ns, uint32_t epoch,
                  rl_store_enqueue_fn *enqueue, void *ctx)
{
    char **keys;
    size_t n;

    rl_mutex_lock(&c->mu);
    keys = stale_keys(classes ? &c->classes : &c->statuses, ns, epoch, classes, &n);
    for (size_t i = 0; i < n; i++) {
        if (classes) {
            struct cls *k = rl_map_get(&c->classes, keys[i]);

            k->seen = false;
            cls_release(c, k, 0, enqueue, ctx);
        } else {
            del_status_locked(c, keys[i], 0, enqueue, ctx);
        }
        free(keys[i]);
    }
    rl_mutex_unlock(&c->mu);
    free(keys);
}

void rl_csi_sweep_statuses(struct rl_csi *c, const char *ns, uint32_t epoch,
                           rl_store_enqueue_fn *enqueue, void *ctx)
{
    sweep(c, false, ns, epoch, enqueue, ctx);
}

void rl_csi_sweep_classes(struct rl_csi *c, const char *ns, uint32_t epoch,
                          rl_store_enqueue_fn *enqueue, void *ctx)
{
    sweep(c, true, ns, epoch, enqueue, ctx);
}

void rl_csi_counts(struct rl_csi *c, struct rl_csi_counts *out)
{
    rl_mutex_lock(&c->mu);
    out->statuses = c->statuses.len;
    out->classes = c->classes.len;
    rl_mutex_unlock(&c->mu);
}
