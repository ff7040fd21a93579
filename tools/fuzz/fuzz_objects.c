/*
 * fuzz_objects.c - what the informers hand to the store, for every kind
 *
 * Input: one option byte (modulo OPTS: namespaces to ignore, annotation
 * names; bit 3: workers have compiled each workload's reload lists, so the
 * store's fan-out matches them rather than handing every named-reload
 * workload over), then lines, each a watch event or a LIST page of any kind:
 *
 *   {"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{"kind":...}}
 *   {"kind":"ConfigMapList","metadata":{"resourceVersion":..,"continue":..},
 *    "items":[...]}
 *
 * A line's feed (ConfigMaps, Secrets, or one workload kind) is its object's
 * "kind" (a list's, without "List"); a line without a known kind goes to
 * the previous line's feed. Each feed is an informer: its own watch stream
 * (the real framer, rl_watch_feed; an ERROR or a bad line ends the stream
 * and the next line starts a new one), its relists (begin: a new epoch;
 * pages until one has no "continue"; end: the sweep), its resourceVersion.
 * Events go through the controller's informer handlers (src/app/controller.c
 * upsert()/removed(), static there, so restated here with the same public
 * calls): ConfigMaps and Secrets are hashed (rl_hash_configmap/_secret)
 * and put with their ignore/match annotations, workloads decoded
 * (rl_workload_decode, with an interning namespace) and put, deletions
 * and sweeps applied, all on one rl_store.
 *
 * rl_kube_list()'s page loop (src/kube/kube.c) cannot run on a buffer: it reads
 * pages from the API server. Its rules (an "items" that is neither an
 * array nor null fails the list; null is an empty page; "continue" asks for
 * the next page; the last page's resourceVersion is the list's) are
 * restated here instead.
 *
 * The API server validates names: a line whose object has a name over 253
 * bytes, a namespace over 63, or a '/' in either, is dropped as it could
 * never arrive (store keys are "<kind>/<ns>/<name>").
 *
 * Oracles, beyond ASan/UBSan and leaks, against a model of what the store
 * must hold (present keys, hashes, annotations, epochs):
 *  - the hash of a source is deterministic and independent of the order
 *    of its data keys;
 *  - after every line, the store holds exactly the model's sources (hash,
 *    ignore, match) and workloads; rl_store_counts() agrees (sources and
 *    workloads per kind, named workloads, workload bytes, index edges);
 *    every source a workload references lists it among its dependents;
 *  - revisions: a source or workload first seen live carries its event's
 *    resourceVersion, one seen by the first list 0; a deleted source
 *    leaves a tombstone with the deletion's resourceVersion, gone when it
 *    comes back;
 *  - enqueues name present workloads; a new or changed source enqueues
 *    every workload of its namespace that references or records it, and
 *    every one whose reload list matches it or is not compiled yet; a new
 *    workload is enqueued.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/kube/watch.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"

#include "fuzz_policy.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPTS 3
#define NFEEDS (2 + RL_KIND_COUNT)
#define KEYLEN 600
#define MAX_LINES 64

static const char *const opt_args[OPTS][4] = {
    { NULL },
    { "--namespaces-to-ignore=kube-system,ignored", "--reload-strategy=annotations", NULL },
    { "--ignore-annotation=example.com/ignore", "--search-match-annotation=example.com/match",
      "--annotation-prefix=x.example.com", NULL },
};

static struct rl_policy *opts[OPTS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    rl_json_init_hooks();
    for (int i = 0; i < OPTS; i++) {
        opts[i] = fuzz_policy(opt_args[i]);
    }
    return 0;
}

/* ---- the world: a store, its model, the feeds --------------------------- */

struct msrc {                   /* a source as the model holds it */
    char hex[RL_HASH_HEX_SIZE];
    bool ignore, match;
    uint32_t epoch;
};

struct mwl {                    /* a workload as the model holds it */
    uint32_t epoch;
};

struct world;

struct feed {
    struct world *wd;
    bool is_source;
    enum rl_source_type type;
    enum rl_kind kind;
    uint32_t epoch;
    bool synced, in_list, spent;
    char *rv;                   /* the informer's resourceVersion */
    char *list_rv;              /* the list's, from its pages */
    struct rl_watch watch;
};

struct world {
    const struct rl_policy *o;
    struct rl_workload_keys keys;
    struct rl_regex_cache *rc;
    struct rl_store *store;
    struct rl_map interned;
    struct rl_map sources;      /* store key -> struct msrc */
    struct rl_map workloads;    /* store key -> struct mwl */
    struct rl_map enqueued;     /* workload keys enqueued by the current call */
    uint32_t next_epoch;
    bool workers;               /* workers compile each workload's reload lists */
    struct feed feeds[NFEEDS];
};

static const char *intern(void *ctx, const char *s)
{
    struct rl_map *m = ctx;

    if (!rl_map_has(m, s))
        rl_map_put(m, s, NULL);
    return rl_map_key(m, s);
}

static void enqueue(void *ctx, const char *wkey)
{
    struct world *wd = ctx;
    enum rl_kind k;
    const char *ns, *name;
    size_t ns_len;

    if (!wkey || !rl_store_parse_workload_key(wkey, &k, &ns, &ns_len, &name))
        abort();
    rl_map_put(&wd->enqueued, wkey, NULL);
}

/* The API server's validation of object names, as far as store keys care. */
static bool name_valid(const char *ns, const char *name)
{
    return strlen(ns) <= 63 && strlen(name) <= 253 && !strchr(ns, '/') && !strchr(name, '/');
}

/* ---- checks ------------------------------------------------------------- */

/* The hash as hex, "" on an error (whose digest must be all zero). */
static int hash_hex(const cJSON *obj, enum rl_source_type t, char out[RL_HASH_HEX_SIZE])
{
    static const struct rl_sha1 zero;
    struct rl_sha1 h;
    int err = t == RL_SOURCE_SECRET ? rl_hash_secret(obj, &h) : rl_hash_configmap(obj, &h);

    if (err && !rl_sha1_eq(&h, &zero))
        abort();
    if (err)
        out[0] = '\0';
    else
        rl_sha1_hex(&h, out);
    return err;
}

/* The hash, twice, and once more with the data keys in reverse order. */
static int hash_source(const cJSON *obj, enum rl_source_type t, char out[RL_HASH_HEX_SIZE])
{
    char again[RL_HASH_HEX_SIZE];
    int err = hash_hex(obj, t, out);
    int err2 = hash_hex(obj, t, again);
    cJSON *rev;

    if (err != err2 || strcmp(out, again) != 0 || (err == 0) != rl_hash_is_hex(out) ||
        (err && out[0]))
        abort();
    rev = cJSON_Duplicate(obj, true);
    for (int f = 0; f < 2 && rev; f++) {
        cJSON *d = cJSON_GetObjectItemCaseSensitive(rev, f ? "binaryData" : "data");
        cJSON *c = d ? d->child : NULL, *prev = NULL;

        /* Reverse the sibling list in place. */
        while (c) {
            cJSON *next = c->next;

            c->next = prev;
            c->prev = next;
            prev = c;
            c = next;
        }
        if (d && prev) {
            d->child = prev;
            /* cJSON keeps the head's prev pointing at the tail. */
            for (c = prev; c->next; c = c->next)
                ;
            prev->prev = c;
        }
    }
    err2 = hash_hex(rev, t, again);
    if (rev && (err != err2 || strcmp(out, again) != 0))
        abort();
    cJSON_Delete(rev);
    return err;
}

struct refcheck {
    struct world *wd;
    const char *wkey;
    const char *ns;
    size_t edges;
    bool long_names;
    bool found;
    const char *want;
};

static void find_key(void *ctx, const char *wkey)
{
    struct refcheck *rc = ctx;

    if (strcmp(wkey, rc->want) == 0)
        rc->found = true;
}

/* Every source the workload references or records names it as a dependent. */
static void check_dependent(void *ctx, enum rl_source_type t, const char *name, unsigned origins)
{
    struct refcheck *rc = ctx;
    struct refcheck f = { .want = rc->wkey };

    (void)origins;
    rc->edges++;
    if (strlen(name) > 400)
        rc->long_names = true;      /* store keys are cut at KEY_MAX: edges may merge */
    rl_store_dependents(rc->wd->store, t, rc->ns, name, find_key, &f);
    if (!f.found)
        abort();
}

static bool has_named_list(const struct world *wd, const struct rl_workload *w)
{
    return rl_decide_reload_list(w, RL_SOURCE_CONFIGMAP, wd->o) ||
           rl_decide_reload_list(w, RL_SOURCE_SECRET, wd->o);
}

/* The store against the model, whole. */
static void check_world(struct world *wd)
{
    struct rl_store_counts sc;
    size_t want_sources[RL_SOURCE_COUNT] = { 0 }, want_wl[RL_KIND_COUNT] = { 0 };
    size_t named = 0, bytes = 0, edges = 0;
    bool long_names = false;
    const char *key;
    void *v;

    rl_store_counts(wd->store, &sc);
    rl_store_rdlock(wd->store);
    for (size_t it = 0; rl_map_next(&wd->sources, &it, &key, &v);) {
        const struct msrc *m = v;
        const char *s1 = strchr(key, '/'), *s2 = strchr(s1 + 1, '/');
        char *ns = rl_xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
        enum rl_source_type t;
        const struct rl_source *src;
        char hex[RL_HASH_HEX_SIZE];
        bool ig, ma;

        if (!rl_source_type_parse_lower(key, (size_t)(s1 - key), &t))
            abort();
        src = rl_store_source(wd->store, t, ns, s2 + 1);
        if (!src)
            abort();
        rl_sha1_hex(&src->sha1, hex);
        if (strcmp(hex, m->hex) != 0 || src->ignore != m->ignore || src->match != m->match)
            abort();
        if (rl_store_tombstone(wd->store, t, ns, s2 + 1, &ig, &ma) != 0)
            abort();
        want_sources[t]++;
        free(ns);
    }
    for (size_t it = 0; rl_map_next(&wd->workloads, &it, &key, NULL);) {
        const struct rl_workload *w = rl_store_workload(wd->store, key);
        struct refcheck rc = { .wd = wd, .wkey = key };
        char k2[KEYLEN];

        if (!w)
            abort();
        rl_store_workload_key(k2, sizeof(k2), w->kind, w->ns, w->name);
        if (strcmp(k2, key) != 0)
            abort();
        rc.ns = w->ns;
        rl_workload_each_source(w, check_dependent, &rc);
        edges += rc.edges;
        long_names |= rc.long_names;
        named += has_named_list(wd, w);
        bytes += w->mem_bytes + (w->before_edit ? w->before_edit->mem_bytes : 0);
        want_wl[w->kind]++;
    }
    rl_store_unlock(wd->store);
    for (int t = 0; t < RL_SOURCE_COUNT; t++)
        if (sc.sources[t] != want_sources[t])
            abort();
    for (int k = 0; k < RL_KIND_COUNT; k++)
        if (sc.workloads[k] != want_wl[k])
            abort();
    if (sc.named_workloads != named || sc.workload_bytes != bytes ||
        sc.tombstones > RL_STORE_MAX_TOMBSTONES || sc.index_edges > edges ||
        (!long_names && sc.index_edges != edges))
        abort();
}

/* Enqueued keys are present workloads. */
static void check_enqueued(struct world *wd)
{
    const char *key;

    rl_store_rdlock(wd->store);
    for (size_t it = 0; rl_map_next(&wd->enqueued, &it, &key, NULL);)
        if (!rl_store_workload(wd->store, key) || !rl_map_has(&wd->workloads, key))
            abort();
    rl_store_unlock(wd->store);
}

struct expect {
    struct world *wd;
    enum rl_source_type t;
    const char *ns, *name;
};

/* A source change must reach each workload of its namespace that it concerns. */
static void expect_one(void *ctx, const char *wkey)
{
    struct expect *x = ctx;
    const struct rl_workload *w = rl_store_workload(x->wd->store, wkey);
    const char *list;
    bool concerned = rl_workload_applied(w, x->t, x->name) ||
                     rl_workload_references(w, x->t, x->name) ||
                     (w->lrf_valid && w->lrf_type == x->t && strcmp(w->lrf_name, x->name) == 0);

    if (strcmp(w->ns, x->ns) != 0)
        return;
    for (size_t i = 0; !concerned && i < w->n_envrefs; i++)
        concerned = w->envrefs[i].type == x->t && strcmp(w->envrefs[i].name, x->name) == 0;
    list = has_named_list(x->wd, w) ? rl_decide_reload_list(w, x->t, x->wd->o) : NULL;
    if (list && rl_decide_list_matches_cached(x->wd->rc, list, x->name) != 0)
        concerned = true;
    if (concerned && !rl_map_has(&x->wd->enqueued, wkey))
        abort();
}

static void check_source_fanout(struct world *wd, enum rl_source_type t, const char *ns,
                                const char *name)
{
    struct expect x = { wd, t, ns, name };

    rl_store_rdlock(wd->store);
    rl_store_each_workload(wd->store, expect_one, &x);
    rl_store_unlock(wd->store);
}

/* ---- the controller's handlers, restated -------------------------------- */

static bool annotation_true(const cJSON *ann, const char *key)
{
    const char *v = rl_json_str(ann, key);

    return v && strcmp(v, "true") == 0;
}

static void upsert(struct feed *f, const cJSON *obj, bool from_list)
{
    struct world *wd = f->wd;
    const cJSON *meta = rl_json_obj(obj, "metadata");
    const char *ns = rl_json_str_or(meta, "namespace", "");
    const char *name = rl_json_str(meta, "name");
    bool live = f->synced;
    uint64_t rv = rl_store_parse_rv(rl_json_str(meta, "resourceVersion"));
    uint64_t live_rv = live ? rv : 0;
    char key[KEYLEN];

    if (!name || rl_policy_namespace_ignored(wd->o, ns))
        return;
    rl_map_release(&wd->enqueued, NULL);
    if (f->is_source) {
        char hash[RL_HASH_HEX_SIZE];
        const cJSON *ann = rl_json_obj(meta, "annotations");
        bool ignore = annotation_true(ann, wd->o->key.ignore);
        bool match = annotation_true(ann, wd->o->key.match);
        struct msrc *m;
        const struct rl_source *src;
        uint64_t old_changed = 0;
        bool changed;

        if (hash_source(obj, f->type, hash))
            return;
        rl_store_source_key(key, sizeof(key), f->type, ns, name);
        m = rl_map_get(&wd->sources, key);
        changed = !m || strcmp(m->hex, hash) != 0 || m->ignore != ignore || m->match != match;
        if (m) {
            rl_store_rdlock(wd->store);
            old_changed = rl_store_source(wd->store, f->type, ns, name)->changed_rv;
            rl_store_unlock(wd->store);
        }
        struct rl_sha1 sha1;

        rl_sha1_from_hex(hash, &sha1);
        rl_store_put_source(wd->store, f->type, ns, name, &sha1, ignore, match, live_rv,
                            f->epoch, enqueue, wd);
        rl_store_rdlock(wd->store);
        src = rl_store_source(wd->store, f->type, ns, name);
        if (!src || src->epoch != f->epoch)
            abort();
        /* The revisions: a known live one as is, the first list's 0. */
        if (!m && (live ? (rv != RL_STORE_RV_UNKNOWN && src->created_rv != rv) ||
                              src->created_rv == 0
                        : src->created_rv != 0))
            abort();
        if (m && strcmp(m->hex, hash) != 0 && live && rv != RL_STORE_RV_UNKNOWN &&
            src->changed_rv != rv)
            abort();
        if (m && (strcmp(m->hex, hash) == 0 || !live) && src->changed_rv != old_changed)
            abort();
        rl_store_unlock(wd->store);
        if (!m) {
            m = RL_NEW(struct msrc);
            rl_map_put(&wd->sources, key, m);
        }
        memcpy(m->hex, hash, sizeof(m->hex));
        m->ignore = ignore;
        m->match = match;
        m->epoch = f->epoch;
        if (changed)
            check_source_fanout(wd, f->type, ns, name);
    } else {
        struct rl_workload *w = NULL;
        struct mwl *m;
        const struct rl_workload *old;
        uint64_t old_trv = 0, old_irv = 0, old_digest = 0;
        bool same_uid = false;

        if (rl_workload_decode(obj, f->kind, &wd->keys, &w))
            return;
        rl_store_workload_key(key, sizeof(key), f->kind, ns, name);
        m = rl_map_get(&wd->workloads, key);
        rl_store_rdlock(wd->store);
        old = rl_store_workload(wd->store, key);
        if ((old != NULL) != (m != NULL))
            abort();
        if (old) {
            old_trv = old->template_rv;
            old_irv = old->inputs_rv;
            old_digest = old->template_digest;
            same_uid = strcmp(old->uid, w->uid) == 0;
        }
        rl_store_unlock(wd->store);
        if (wd->workers) {
            /* A worker's decision compiles (and caches) the lists it reads. */
            for (int t = 0; t < RL_SOURCE_COUNT; t++)
                (void)rl_decide_list_matches(wd->rc,
                                             rl_decide_reload_list(w, (enum rl_source_type)t,
                                                                   wd->o), name, NULL, 0);
        }
        rl_store_put_workload(wd->store, w, live_rv, f->epoch, enqueue, wd);
        if (!m) {
            m = RL_NEW(struct mwl);
            rl_map_put(&wd->workloads, key, m);
            if (!rl_map_has(&wd->enqueued, key))
                abort();            /* a new workload is reconciled */
        }
        m->epoch = f->epoch;
        rl_store_rdlock(wd->store);
        if (rl_store_workload(wd->store, key) != w)
            abort();
        if (!same_uid) {
            if (w->template_rv != w->inputs_rv ||
                (live ? (rv != RL_STORE_RV_UNKNOWN && w->template_rv != rv) ||
                            w->template_rv == 0
                      : w->template_rv != 0))
                abort();
        } else if (!live) {
            if (w->template_rv != old_trv || w->inputs_rv != old_irv)
                abort();
        } else {
            if (old_digest == w->template_digest && w->template_rv != old_trv)
                abort();
            if (old_digest != w->template_digest && rv != RL_STORE_RV_UNKNOWN &&
                w->template_rv != rv)
                abort();
        }
        rl_store_unlock(wd->store);
    }
    check_enqueued(wd);
}

static void removed(struct feed *f, const char *ns, const char *name)
{
    struct world *wd = f->wd;
    char key[KEYLEN];

    rl_map_release(&wd->enqueued, NULL);
    if (f->is_source) {
        uint64_t rv = rl_store_parse_rv(f->rv);
        struct msrc *m;
        bool ig, ma;

        rl_store_source_key(key, sizeof(key), f->type, ns, name);
        m = rl_map_del(&wd->sources, key);
        rl_store_del_source(wd->store, f->type, ns, name, rv, enqueue, wd);
        rl_store_rdlock(wd->store);
        if (rl_store_source(wd->store, f->type, ns, name))
            abort();
        if (m) {
            uint64_t t = rl_store_tombstone(wd->store, f->type, ns, name, &ig, &ma);

            if (t == 0 || (rv != RL_STORE_RV_UNKNOWN && t != rv) || ig != m->ignore ||
                ma != m->match)
                abort();
        }
        rl_store_unlock(wd->store);
        if (m)
            check_source_fanout(wd, f->type, ns, name);
        free(m);
    } else {
        rl_store_workload_key(key, sizeof(key), f->kind, ns, name);
        free(rl_map_del(&wd->workloads, key));
        rl_store_del_workload(wd->store, f->kind, ns, name, enqueue, wd);
        rl_store_rdlock(wd->store);
        if (rl_store_workload(wd->store, key))
            abort();
        rl_store_unlock(wd->store);
    }
    check_enqueued(wd);
}

static void begin_relist(struct feed *f)
{
    f->epoch = ++f->wd->next_epoch;
    f->in_list = true;
    free(f->list_rv);
    f->list_rv = NULL;
}

/* What the feed's list did not see is gone, from the store and the model. */
static void end_relist(struct feed *f)
{
    struct world *wd = f->wd;
    struct rl_map *model = f->is_source ? &wd->sources : &wd->workloads;
    const char *prefix = f->is_source ? rl_source_type_lower(f->type) : rl_kind_key(f->kind);
    size_t pl = strlen(prefix), n = 0;
    char **gone = rl_xcalloc(model->len + 1, sizeof(*gone));
    const char *key;
    void *v;

    for (size_t it = 0; rl_map_next(model, &it, &key, &v);) {
        uint32_t epoch = f->is_source ? ((struct msrc *)v)->epoch : ((struct mwl *)v)->epoch;

        if (strncmp(key, prefix, pl) == 0 && key[pl] == '/' && epoch != f->epoch)
            gone[n++] = rl_xstrdup(key);
    }
    rl_map_release(&wd->enqueued, NULL);
    if (f->is_source)
        rl_store_sweep_sources(wd->store, f->type, NULL, f->epoch, enqueue, wd);
    else
        rl_store_sweep_workloads(wd->store, f->kind, NULL, f->epoch, enqueue, wd);
    for (size_t i = 0; i < n; i++) {
        free(rl_map_del(model, gone[i]));
        free(gone[i]);
    }
    free(gone);
    check_enqueued(wd);
    f->in_list = false;
    f->synced = true;
}

static void set_rv(struct feed *f, const char *rv)
{
    if (!rv || !*rv)
        return;
    free(f->rv);
    f->rv = rl_xstrdup(rv);
}

static bool object_ok(const cJSON *obj)
{
    const cJSON *meta = rl_json_obj(obj, "metadata");
    const char *name = rl_json_str(meta, "name");

    return !name || name_valid(rl_json_str_or(meta, "namespace", ""), name);
}

/* informer.c's on_event(). */
static int on_event(void *ctx, const char *type, const cJSON *obj)
{
    struct feed *f = ctx;
    const cJSON *meta = rl_json_obj(obj, "metadata");

    set_rv(f, rl_json_str(meta, "resourceVersion"));
    if (strcmp(type, "BOOKMARK") == 0)
        return 0;
    if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        upsert(f, obj, false);
    } else if (strcmp(type, "DELETED") == 0) {
        const char *name = rl_json_str(meta, "name");

        if (name)
            removed(f, rl_json_str_or(meta, "namespace", ""), name);
    }
    return 0;
}

/* ---- lines -------------------------------------------------------------- */

static int feed_of_kind(const char *kind, size_t len)
{
    static const char *const names[NFEEDS] = {
        "ConfigMap", "Secret", "Deployment", "DaemonSet", "StatefulSet", "CronJob", "Job",
        "Rollout",
    };

    for (int i = 0; kind && i < NFEEDS; i++)
        if (strlen(names[i]) == len && strncmp(kind, names[i], len) == 0)
            return i;
    return -1;
}

/* A LIST page, as rl_kube_list() reads it and informer.c's do_list() applies it. */
static void list_page(struct feed *f, const cJSON *root)
{
    const cJSON *items = rl_json_get(root, "items");
    const cJSON *meta = rl_json_obj(root, "metadata");
    const char *next = rl_json_str(meta, "continue");
    const cJSON *item;

    if (!f->in_list)
        begin_relist(f);
    if (items && !cJSON_IsArray(items) && !cJSON_IsNull(items)) {
        f->in_list = false;         /* "the answer is not a list": the list failed */
        return;
    }
    if (!cJSON_IsArray(items))
        items = NULL;               /* "items": null is an empty page */
    cJSON_ArrayForEach(item, items) {
        if (object_ok(item))
            upsert(f, item, true);
    }
    if (rl_json_str(meta, "resourceVersion")) {
        free(f->list_rv);
        f->list_rv = rl_xstrdup(rl_json_str(meta, "resourceVersion"));
    }
    if (next && *next)
        return;                     /* the next page follows */
    end_relist(f);
    free(f->rv);
    f->rv = f->list_rv;
    f->list_rv = NULL;
}

static void line(struct world *wd, int *cur, const char *s, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(s, len);
    const cJSON *obj = rl_json_obj(root, "object");
    const char *kind = rl_json_str(obj ? obj : root, "kind");
    bool is_list = root && rl_json_get(root, "items");
    size_t klen = kind ? strlen(kind) : 0;
    int fi;
    struct feed *f;

    if (is_list && klen > 4 && strcmp(kind + klen - 4, "List") == 0)
        klen -= 4;
    fi = feed_of_kind(kind, klen);
    if (fi >= 0)
        *cur = fi;
    f = &wd->feeds[*cur];
    if (is_list) {
        list_page(f, root);
    } else if (!obj || object_ok(obj)) {
        if (f->in_list)
            f->in_list = false;     /* the list was cut: the informer lists again later */
        if (!f->synced) {
            /* A watch starts after a list: an empty one. */
            begin_relist(f);
            end_relist(f);
        }
        if (f->spent) {
            rl_watch_release(&f->watch);
            rl_watch_init(&f->watch, 0, on_event, f);
            f->spent = false;
        }
        if (rl_watch_feed(&f->watch, s, len) || rl_watch_feed(&f->watch, "\n", 1))
            f->spent = true;        /* ERROR, or a bad line: a new watch */
    }
    cJSON_Delete(root);
    check_world(wd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct world wd;
    const char *p, *end;
    int cur = 0, lines = 0;

    if (size < 1)
        return 0;
    memset(&wd, 0, sizeof(wd));
    wd.o = opts[data[0] % OPTS];
    wd.workers = data[0] & 0x08;
    rl_workload_keys_init(&wd.keys, wd.o);
    rl_map_init(&wd.interned);
    rl_map_init(&wd.sources);
    rl_map_init(&wd.workloads);
    rl_map_init(&wd.enqueued);
    wd.keys.intern = intern;
    wd.keys.intern_ctx = &wd.interned;
    wd.rc = rl_regex_cache_new(64);
    wd.store = rl_store_new(wd.o, wd.rc);
    for (int i = 0; i < NFEEDS; i++) {
        struct feed *f = &wd.feeds[i];

        f->wd = &wd;
        f->is_source = i < 2;
        f->type = i == 1 ? RL_SOURCE_SECRET : RL_SOURCE_CONFIGMAP;
        f->kind = i < 2 ? RL_KIND_DEPLOYMENT : (enum rl_kind)(i - 2);
        rl_watch_init(&f->watch, 0, on_event, f);
    }

    p = (const char *)data + 1;
    end = (const char *)data + size;
    while (p < end && lines++ < MAX_LINES) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;

        line(&wd, &cur, p, (size_t)(e - p));
        p = e + 1;
    }

    rl_store_free(wd.store);
    rl_regex_cache_free(wd.rc);
    for (int i = 0; i < NFEEDS; i++) {
        rl_watch_release(&wd.feeds[i].watch);
        free(wd.feeds[i].rv);
        free(wd.feeds[i].list_rv);
    }
    rl_map_release(&wd.sources, free);
    rl_map_release(&wd.workloads, free);
    rl_map_release(&wd.enqueued, NULL);
    rl_map_release(&wd.interned, NULL);
    return 0;
}
