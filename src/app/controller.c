/* controller.c - informers, store, workqueue and workers wired together */
#include "reloadd/app/controller.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"
#include "reloadd/engine/pool.h"
#include "reloadd/engine/workqueue.h"
#include "reloadd/kube/discovery.h"
#include "reloadd/kube/informer.h"
#include "reloadd/kube/kube.h"
#include "reloadd/reload/csi.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/reconcile.h"
#include "reloadd/reload/state.h"
#include "reloadd/reload/statewriter.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"
#include "reloadd/base/banned.h"

#define LIVE_STUCK_MS (5 * 60 * 1000)     /* a worker busy this long is stuck */
#define LIVE_SILENT_MS (30 * 60 * 1000)   /* no event nor bookmark this long: dead watch */
/* --enable-csi-integration without the CSI driver's API: discovery asks again this often. */
#define CSI_DISCOVERY_MS (10 * 1000)

/*
 * What an informer feeds: a source type or a workload kind; or (csi) the
 * CSI tracker (csi.h) with status objects, or (classes) SecretProviderClasses.
 */
struct feed {
    struct rl_controller *c;
    bool is_source;
    bool csi, classes;
    enum rl_source_type type;
    enum rl_kind kind;
    char *ns;                       /* NULL: cluster-wide */
    uint32_t epoch;                 /* of the current (re)list */
};

struct rl_controller {
    const struct rl_options *o;         /* engine settings: workers, window, HA */
    const struct rl_policy *pol;
    struct rl_kube *kube;
    const struct rl_clock *clock;
    struct rl_controller_hooks hooks;

    struct rl_regex_cache *rc;
    struct rl_store *store;
    struct rl_reconciler *rec;
    struct rl_workqueue *wq;
    struct rl_pool *pool;
    struct rl_informers *informers;
    struct rl_workload_keys keys;
    struct feed **feeds;
    size_t n_feeds;
    _Atomic uint32_t next_epoch;    /* the informer threads (the CSI driver's has its own) */

    pthread_mutex_t intern_mu;
    struct rl_map interned;         /* namespace strings shared by workloads */

    /* The workload state (reload/state.h); NULL: off. */
    struct rl_state_writer *state_writer;
    bool state_seen[RL_STATE_SHARDS];   /* the state informer's thread: seen by a relist */
    char *source_selector;          /* ConfigMaps' label selector: the state's excluded */

    atomic_bool leader;
    atomic_bool synced;
    atomic_bool started;
    _Atomic uint64_t start_ms;
    _Atomic uint64_t startup_done_ms;
    _Atomic uint64_t startup_pending;   /* keys of the startup pass not yet done */
    _Atomic uint64_t reconciles;
    struct lease_feed *lease_feed;

    /* --namespace-selector: the namespaces whose labels match. */
    bool ns_selector;
    pthread_mutex_t ns_mu;          /* guards ns_selected */
    struct rl_map ns_selected;
    struct rl_informer *ns_informer;
    pthread_mutex_t startup_mu;     /* guards `startup_keys` */
    struct rl_map startup_keys;

    pthread_mutex_t stamp_mu;       /* guards `stamps` and `owed` */
    struct rl_map stamps;           /* wkey -> struct stamp */
    /*
     * A follower's keys that a source change made stale and that it could
     * not write: wkey -> the change's mono ms. Served first when it leads,
     * before the pass over every workload; dropped once a reconcile finds
     * nothing to do (the leader of the moment wrote it).
     */
    struct rl_map owed;

    /*
     * --enable-csi-integration: the CSI driver's objects, on informers of
     * their own, started when discovery finds the API served (at start, or
     * later by the discovery thread: no restart needed).
     */
    struct rl_csi *csi;
    pthread_mutex_t csi_mu;         /* guards csi_informers, csi_stop */
    pthread_cond_t csi_cv;
    struct rl_informers *csi_informers; /* NULL until the API is found */
    bool csi_at_start;              /* found at start: the first sync waits for it */
    bool csi_denied_logged;
    bool csi_stop;
    bool csi_thread_started;
    pthread_t csi_thread;
};

/* When a key was first added, and first made stale by a source event, since last taken. */
struct stamp {
    uint64_t added_ms;
    uint64_t event_ms;
};

/* The source-event time of the key the calling worker is reconciling (0: none). */
static _Thread_local uint64_t tl_event_ms;

/* --- enqueueing ---------------------------------------------------------- */

static void stamp_key(struct rl_controller *c, const char *wkey, bool source_event)
{
    struct stamp *st;
    uint64_t now = rl_mono_ms();

    rl_mutex_lock(&c->stamp_mu);
    st = rl_map_get(&c->stamps, wkey);
    if (!st) {
        st = RL_NEW(struct stamp);
        rl_map_put(&c->stamps, wkey, st);
    }
    if (!st->added_ms)
        st->added_ms = now;
    if (source_event && !st->event_ms)
        st->event_ms = now;
    rl_mutex_unlock(&c->stamp_mu);
}

/* Takes the key's stamp as a worker takes the key. */
static struct stamp take_stamp(struct rl_controller *c, const char *wkey)
{
    struct stamp out = { 0, 0 }, *st;

    rl_mutex_lock(&c->stamp_mu);
    st = rl_map_del(&c->stamps, wkey);
    rl_mutex_unlock(&c->stamp_mu);
    if (st) {
        out = *st;
        free(st);
    }
    return out;
}

/* A failed reconcile keeps the time of the event it still owes a rollout for. */
static void restore_event(struct rl_controller *c, const char *wkey, uint64_t event_ms)
{
    struct stamp *st;

    if (!event_ms)
        return;
    rl_mutex_lock(&c->stamp_mu);
    st = rl_map_get(&c->stamps, wkey);
    if (!st) {
        st = RL_NEW(struct stamp);
        rl_map_put(&c->stamps, wkey, st);
    }
    if (!st->event_ms || event_ms < st->event_ms)
        st->event_ms = event_ms;
    rl_mutex_unlock(&c->stamp_mu);
}

/* A follower keeps what it could not write: the oldest event per key. */
static void owe(struct rl_controller *c, const char *wkey, uint64_t event_ms)
{
    uintptr_t was;

    rl_mutex_lock(&c->stamp_mu);
    was = (uintptr_t)rl_map_get(&c->owed, wkey);
    if (!was || event_ms < was)
        rl_map_put(&c->owed, wkey, (void *)(uintptr_t)event_ms);
    rl_mutex_unlock(&c->stamp_mu);
}

static void settled(struct rl_controller *c, const char *wkey)
{
    rl_mutex_lock(&c->stamp_mu);
    if (c->owed.len)
        rl_map_del(&c->owed, wkey);
    rl_mutex_unlock(&c->stamp_mu);
}

/*
 * Becoming leader: the owed keys go to the front of the queue, each ready
 * when its change's coalescing window ends (long over after a failover:
 * at once), with the change's time for the latency metric.
 */
static void serve_owed(struct rl_controller *c)
{
    uint64_t now = rl_mono_ms(), window = c->o->coalesce_window_ms;
    struct rl_map owed;
    const char *wkey;
    void *v;
    size_t n = 0;
    char count[24];

    rl_mutex_lock(&c->stamp_mu);
    owed = c->owed;
    rl_map_init(&c->owed);
    rl_mutex_unlock(&c->stamp_mu);
    for (size_t it = 0; rl_map_next(&owed, &it, &wkey, &v);) {
        uint64_t at = (uint64_t)(uintptr_t)v;

        restore_event(c, wkey, at);
        stamp_key(c, wkey, false);
        rl_workqueue_add_after(c->wq, wkey, at + window > now ? at + window - now : 0);
        n++;
    }
    rl_map_release(&owed, NULL);
    snprintf(count, sizeof(count), "%zu", n);
    if (n)
        rl_log_kv(RL_LOG_INFO, "serving first the changes seen while following", "workloads",
                  count, NULL);
}

/* bulk: a pass over every workload, served after the keys of live changes. */
static void add_key(struct rl_controller *c, const char *wkey, bool source_event, bool bulk)
{
    int err;

    stamp_key(c, wkey, source_event);
    err = bulk ? rl_workqueue_add_bulk(c->wq, wkey) : rl_workqueue_add(c->wq, wkey);
    if (err == 0 && c->hooks.on_enqueue)
        c->hooks.on_enqueue(c->hooks.ctx);
}

static void enqueue(void *ctx, const char *wkey)
{
    struct rl_controller *c = ctx;

    /* Before the caches synced, the startup pass will visit every key. */
    if (!atomic_load(&c->synced))
        return;
    add_key(c, wkey, false, false);
}

/* As enqueue(), for keys made stale by a source event. */
static void enqueue_source(void *ctx, const char *wkey)
{
    struct rl_controller *c = ctx;

    if (!atomic_load(&c->synced))
        return;
    add_key(c, wkey, true, false);
}

static void requeue_after(void *ctx, const char *wkey, uint64_t delay_ms)
{
    struct rl_controller *c = ctx;

    rl_workqueue_add_after(c->wq, wkey, delay_ms);
}

static void enqueue_startup(void *ctx, const char *wkey)
{
    struct rl_controller *c = ctx;

    rl_mutex_lock(&c->startup_mu);
    if (!atomic_load(&c->startup_done_ms) && !rl_map_has(&c->startup_keys, wkey)) {
        rl_map_put(&c->startup_keys, wkey, NULL);
        atomic_fetch_add(&c->startup_pending, 1);
    }
    rl_mutex_unlock(&c->startup_mu);
    add_key(c, wkey, false, true);
}

static void startup_key_done(struct rl_controller *c, const char *wkey)
{
    bool last = false;

    if (atomic_load(&c->startup_done_ms))
        return;
    rl_mutex_lock(&c->startup_mu);
    if (rl_map_has(&c->startup_keys, wkey)) {
        rl_map_del(&c->startup_keys, wkey);
        last = atomic_fetch_sub(&c->startup_pending, 1) == 1;
    }
    if (last) {
        uint64_t now = rl_mono_ms();

        atomic_store(&c->startup_done_ms, now);
        rl_map_release(&c->startup_keys, NULL);
        rl_log_kv(RL_LOG_INFO, "startup sync done: every workload reconciled", NULL);
    }
    rl_mutex_unlock(&c->startup_mu);
    if (last)
        rl_mem_give_back();                 /* the startup pass is a burst (mem.h) */
}

/* Reconcile every workload in the cache (startup, becoming leader). */
static void reconcile_all(struct rl_controller *c, const char *why)
{
    struct rl_store_counts counts;
    size_t n = 0;

    rl_store_counts(c->store, &counts);
    for (int k = 0; k < rl_kind_count(); k++)
        n += counts.workloads[k];
    rl_log_kv(RL_LOG_INFO, "reconciling every workload from the cache", "why", why, NULL);
    rl_store_rdlock(c->store);
    rl_store_each_workload(c->store, enqueue_startup, c);
    rl_store_unlock(c->store);
    if (n == 0 && !atomic_load(&c->startup_done_ms))
        atomic_store(&c->startup_done_ms, rl_mono_ms());
}

/* --- informer handlers --------------------------------------------------- */

static bool namespace_wanted(struct rl_controller *c, const char *ns)
{
    bool selected = true;

    if (rl_policy_namespace_ignored(c->pol, ns))
        return false;
    if (c->ns_selector) {
        rl_mutex_lock(&c->ns_mu);
        selected = rl_map_has(&c->ns_selected, ns);
        rl_mutex_unlock(&c->ns_mu);
    }
    return selected;
}

/* Every informer relists, the CSI driver's too. */
static void relist_all(struct rl_controller *c)
{
    rl_informers_relist(c->informers);
    rl_mutex_lock(&c->csi_mu);
    if (c->csi_informers)
        rl_informers_relist(c->csi_informers);
    rl_mutex_unlock(&c->csi_mu);
}

/*
 * Namespaces matching --namespace-selector (listed by label server-side).
 * The namespace informer lists first, so the first lists of the others
 * already see the whole set; a namespace that starts or stops matching
 * later makes every informer relist, which adds or sweeps its objects.
 */
static void ns_upsert(void *ctx, struct rl_informer *inf, const cJSON *obj, bool from_list)
{
    struct rl_controller *c = ctx;
    const char *name = rl_json_str(rl_json_obj(obj, "metadata"), "name");
    bool added = false;

    (void)from_list;
    if (!name)
        return;
    rl_mutex_lock(&c->ns_mu);
    if (!rl_map_has(&c->ns_selected, name)) {
        rl_map_put(&c->ns_selected, name, NULL);
        added = true;
    }
    rl_mutex_unlock(&c->ns_mu);
    if (added && rl_informer_synced(inf)) {
        rl_log_kv(RL_LOG_INFO, "namespace now selected; relisting", "namespace", name, NULL);
        relist_all(c);
    }
}

static void ns_removed(void *ctx, struct rl_informer *inf, const char *ns, const char *name)
{
    struct rl_controller *c = ctx;
    bool gone;

    (void)inf;
    (void)ns;
    rl_mutex_lock(&c->ns_mu);
    gone = rl_map_has(&c->ns_selected, name);
    rl_map_del(&c->ns_selected, name);
    rl_mutex_unlock(&c->ns_mu);
    if (gone) {
        rl_log_kv(RL_LOG_INFO, "namespace no longer selected; relisting", "namespace", name, NULL);
        relist_all(c);
    }
}

static void ns_noop(void *ctx, struct rl_informer *inf)
{
    (void)ctx;
    (void)inf;
}

static bool annotation_true(const cJSON *ann, const char *key)
{
    const char *v = rl_json_str(ann, key);

    return v && strcmp(v, "true") == 0;
}

static void report_source(struct rl_controller *c, enum rl_source_type source,
                          enum rl_source_event_type type, const char *ns, const char *name,
                          bool selected, bool changed)
{
    static const char *const resources[] = {
        [RL_SOURCE_CONFIGMAP] = "configmaps",
        [RL_SOURCE_SECRET] = "secrets",
        [RL_SOURCE_SPC] = RL_CSI_STATUSES,       /* docs/reloader.md §8 */
    };
    struct rl_source_event ev = {
        .type = type,
        .source = source,
        .resource = resources[source],
        .ns = ns,
        .name = name,
        .selected = selected,
        .data_changed = changed,
    };

    if (c->hooks.on_source_event)
        c->hooks.on_source_event(c->hooks.ctx, &ev);
}

/* A CSI driver's object (csi.h): a status object, or a SecretProviderClass. */
static void csi_upsert(struct feed *f, struct rl_informer *inf, const cJSON *obj, bool from_list)
{
    struct rl_controller *c = f->c;
    bool live = rl_informer_synced(inf);
    struct rl_csi_status st;
    enum rl_csi_event ev;

    if (f->classes) {
        const cJSON *meta = rl_json_obj(obj, "metadata");
        const cJSON *ann = rl_json_obj(meta, "annotations");
        const char *ns = rl_json_str_or(meta, "namespace", "");
        const char *name = rl_json_str(meta, "name");

        if (name && namespace_wanted(c, ns))
            rl_csi_put_class(c->csi, ns, name, annotation_true(ann, c->pol->key.ignore),
                             annotation_true(ann, c->pol->key.match), f->epoch, enqueue_source, c);
        return;
    }
    if (rl_csi_status_decode(obj, &st) != 0) {
        rl_log_kv(RL_LOG_DEBUG, "SecretProviderClassPodStatus without a class; ignored", "name",
                  rl_json_str(rl_json_obj(obj, "metadata"), "name"), NULL);
        return;
    }
    if (!namespace_wanted(c, st.ns)) {
        if (live && !from_list)
            report_source(c, RL_SOURCE_SPC, RL_SOURCE_EVENT_UPDATE, st.ns, st.spc, false, false);
        return;
    }
    ev = rl_csi_put_status(c->csi, &st, live, f->epoch, enqueue_source, c);
    /* A relist reports only what it found new or changed. */
    if (live && (!from_list || ev != RL_CSI_SAME))
        report_source(c, RL_SOURCE_SPC, ev == RL_CSI_ADDED ? RL_SOURCE_EVENT_ADD
                                                           : RL_SOURCE_EVENT_UPDATE,
                      st.ns, st.spc, true, ev != RL_CSI_SAME);
    if (ev == RL_CSI_CHANGED)
        rl_log_kv(RL_LOG_DEBUG, "SecretProviderClass version changed", "namespace", st.ns,
                  "class", st.spc, "pod", st.pod, NULL);
}

static void csi_removed(struct feed *f, struct rl_informer *inf, const char *ns,
                        const char *name)
{
    uint64_t rv = rl_store_parse_rv(rl_informer_resource_version(inf));

    if (f->classes) {
        rl_csi_del_class(f->c->csi, ns, name, rv, enqueue_source, f->c);
        return;
    }
    if (rl_informer_synced(inf))
        report_source(f->c, RL_SOURCE_SPC, RL_SOURCE_EVENT_DELETE, ns, name,
                      namespace_wanted(f->c, ns), true);
    rl_csi_del_status(f->c->csi, ns, name, rv, enqueue_source, f->c);
}

static void upsert(void *ctx, struct rl_informer *inf, const cJSON *obj, bool from_list)
{
    struct feed *f = ctx;
    struct rl_controller *c = f->c;
    const cJSON *meta = rl_json_obj(obj, "metadata");
    const char *ns = rl_json_str_or(meta, "namespace", "");
    const char *name = rl_json_str(meta, "name");
    bool live = rl_informer_synced(inf);
    /* What reloadd sees after its first list is live, ordered by revision (store.h). */
    uint64_t live_rv = live ? rl_store_parse_rv(rl_json_str(meta, "resourceVersion")) : 0;
    uint32_t epoch = from_list ? f->epoch : 0;
    int err;

    if (f->csi) {
        csi_upsert(f, inf, obj, from_list);
        return;
    }
    if (!name)
        return;
    if (!namespace_wanted(c, ns)) {
        if (f->is_source && live && !from_list)
            report_source(c, f->type, RL_SOURCE_EVENT_UPDATE, ns, name, false, false);
        return;
    }
    if (!from_list) {
        /* A watch event: keep the entry's epoch of the list that saw it last. */
        epoch = f->epoch;
    }
    if (f->is_source) {
        struct rl_sha1 hash;
        const cJSON *ann = rl_json_obj(meta, "annotations");

        err = f->type == RL_SOURCE_SECRET ? rl_hash_secret(obj, &hash)
                                          : rl_hash_configmap(obj, &hash);
        if (err) {
            rl_log_kv(RL_LOG_WARN, "cannot hash source; ignoring this version",
                      "kind", rl_source_type_lower(f->type), "namespace", ns, "name", name,
                      "error", rl_strerror(err), NULL);
            return;
        }
        if (live) {
            /* Informer thread: the only writer, so what we read stays true until the put. */
            const struct rl_source *old;
            bool existed, changed = true;

            rl_store_rdlock(c->store);
            old = rl_store_source(c->store, f->type, ns, name);
            existed = old != NULL;
            if (old)
                changed = !rl_sha1_eq(&old->sha1, &hash);
            rl_store_unlock(c->store);
            /* A relist reports only what it found new or changed. */
            if (!from_list || !existed || changed)
                report_source(c, f->type, existed ? RL_SOURCE_EVENT_UPDATE : RL_SOURCE_EVENT_ADD,
                              ns, name, true, changed);
        }
        rl_store_put_source(c->store, f->type, ns, name, &hash,
                            annotation_true(ann, c->pol->key.ignore),
                            annotation_true(ann, c->pol->key.match), live_rv,
                            epoch, enqueue_source, c);
    } else {
        struct rl_workload *w = NULL;

        err = rl_workload_decode(obj, f->kind, &c->keys, &w);
        if (err) {
            rl_log_kv(RL_LOG_WARN, "cannot decode workload; ignoring this version",
                      "kind", rl_kind_name(f->kind), "namespace", ns, "name", name,
                      "error", rl_strerror(err), NULL);
            return;
        }
        rl_reconciler_observed(c->rec, w);
        rl_store_put_workload(c->store, w, live_rv, epoch, enqueue, c);
    }
}

static void removed(void *ctx, struct rl_informer *inf, const char *ns, const char *name)
{
    struct feed *f = ctx;

    if (f->csi) {
        csi_removed(f, inf, ns, name);
    } else if (f->is_source) {
        if (rl_informer_synced(inf))
            report_source(f->c, f->type, RL_SOURCE_EVENT_DELETE, ns, name,
                          namespace_wanted(f->c, ns), true);
        rl_store_del_source(f->c->store, f->type, ns, name,
                            rl_store_parse_rv(rl_informer_resource_version(inf)),
                            enqueue_source, f->c);
    } else
        rl_store_del_workload(f->c->store, f->kind, ns, name, enqueue, f->c);
}

static void begin_relist(void *ctx, struct rl_informer *inf)
{
    struct feed *f = ctx;

    (void)inf;
    f->epoch = atomic_fetch_add(&f->c->next_epoch, 1) + 1;
}

static void end_relist(void *ctx, struct rl_informer *inf)
{
    struct feed *f = ctx;

    (void)inf;
    if (f->csi && f->classes)
        rl_csi_sweep_classes(f->c->csi, f->ns, f->epoch, enqueue_source, f->c);
    else if (f->csi)
        rl_csi_sweep_statuses(f->c->csi, f->ns, f->epoch, enqueue_source, f->c);
    else if (f->is_source)
        rl_store_sweep_sources(f->c->store, f->type, f->ns, f->epoch, enqueue_source, f->c);
    else
        rl_store_sweep_workloads(f->c->store, f->kind, f->ns, f->epoch, enqueue, f->c);
}

static void check_synced(struct rl_controller *c)
{
    bool csi_synced = true;

    if (atomic_load(&c->synced) || !rl_informers_synced(c->informers))
        return;
    if (c->csi_at_start) {
        rl_mutex_lock(&c->csi_mu);
        csi_synced = c->csi_informers && rl_informers_synced(c->csi_informers);
        rl_mutex_unlock(&c->csi_mu);
    }
    /* The informer threads may both get here: one takes the startup pass. */
    if (!csi_synced || atomic_exchange(&c->synced, true))
        return;
    rl_log_kv(RL_LOG_INFO, "caches synced", NULL);
    if (atomic_load(&c->leader))
        rl_reconciler_adopt_rollouts(c->rec);
    /*
     * Every replica computes the startup pass; only a leader's workers
     * write, and a follower's reconcile is refused before any write.
     */
    reconcile_all(c, "startup");
}

static void ns_synced(void *ctx, struct rl_informer *inf)
{
    (void)inf;
    check_synced(ctx);
}

static void informer_synced(void *ctx, struct rl_informer *inf)
{
    struct feed *f = ctx;

    rl_log_kv(RL_LOG_DEBUG, "informer synced", "resource", rl_informer_resource(inf),
              "namespace", f->ns ? f->ns : "(all)", NULL);
    check_synced(f->c);
}

static const char *intern(void *ctx, const char *s)
{
    struct rl_controller *c = ctx;
    const char *k;

    rl_mutex_lock(&c->intern_mu);
    k = rl_map_key(&c->interned, s);
    if (!k) {
        rl_map_put(&c->interned, s, NULL);
        k = rl_map_key(&c->interned, s);
    }
    rl_mutex_unlock(&c->intern_mu);
    return k;
}

/* --- workers -------------------------------------------------------------- */

static bool may_write(void *ctx)
{
    struct rl_controller *c = ctx;

    if (!atomic_load(&c->leader))
        return false;
    return !c->hooks.may_write || c->hooks.may_write(c->hooks.fence_ctx);
}

/* The worker threads' write fence (kube.h): judged again before every send. */
static uint64_t fence_left(void *ctx)
{
    struct rl_controller *c = ctx;

    if (!may_write(c))
        return 0;
    return c->hooks.fence_left_ms ? c->hooks.fence_left_ms(c->hooks.fence_ctx) : UINT64_MAX;
}

static int work(void *ctx, unsigned shard, const char *wkey)
{
    struct rl_controller *c = ctx;
    struct stamp st = take_stamp(c, wkey);
    uint64_t t0 = rl_mono_ms();
    double queued_s = st.added_ms ? (double)(t0 - st.added_ms) / 1000.0 : -1.0;
    enum rl_kind kind = RL_KIND_DEPLOYMENT;
    const char *ns, *name;
    size_t ns_len;
    int err;

    (void)shard;
    atomic_fetch_add(&c->reconciles, 1);
    tl_event_ms = st.event_ms;
    rl_kube_thread_fence(fence_left, c);
    err = rl_reconcile(c->rec, wkey);
    rl_kube_thread_fence(NULL, NULL);
    tl_event_ms = 0;
    if (c->hooks.on_reconciled && rl_store_parse_workload_key(wkey, &kind, &ns, &ns_len, &name))
        c->hooks.on_reconciled(c->hooks.ctx, kind, err,
                               (double)(rl_mono_ms() - t0) / 1000.0, queued_s);
    if (err == RL_ENOTLEADER) {
        /*
         * Not ours to write now. A source change's key is kept, to be served
         * first if we lead; the next leader's pass finds the others.
         */
        if (st.event_ms)
            owe(c, wkey, st.event_ms);
        err = 0;
    } else if (!err) {
        settled(c, wkey);
    }
    if (err)
        restore_event(c, wkey, st.event_ms);
    else
        startup_key_done(c, wkey);
    return err;
}

static void give_up(void *ctx, const char *wkey, int err)
{
    struct rl_controller *c = ctx;

    rl_log_kv(RL_LOG_ERROR, "giving up on workload after repeated failures; the next change retries",
              "workload", wkey, "error", rl_strerror(err), NULL);
    startup_key_done(c, wkey);
}

static void on_result(void *ctx, const struct rl_reconcile_result *res)
{
    struct rl_controller *c = ctx;
    struct rl_reconcile_result r = *res;

    r.since_event_s = tl_event_ms ? (double)(rl_mono_ms() - tl_event_ms) / 1000.0 : -1.0;
    if (c->hooks.on_result)
        c->hooks.on_result(c->hooks.ctx, &r);
}

static void on_problem(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                       const char *uid, const char *problems)
{
    struct rl_controller *c = ctx;

    if (c->hooks.on_problem)
        c->hooks.on_problem(c->hooks.ctx, kind, ns, name, uid, problems);
}

static void on_held(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                    const char *uid, unsigned used, unsigned max, int64_t period_s,
                    int64_t held_until_s)
{
    struct rl_controller *c = ctx;

    if (c->hooks.on_held)
        c->hooks.on_held(c->hooks.ctx, kind, ns, name, uid, used, max, period_s, held_until_s);
}

static void on_window_held(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                           const char *uid, const char *window, int64_t opens_at_s)
{
    struct rl_controller *c = ctx;

    if (c->hooks.on_window_held)
        c->hooks.on_window_held(c->hooks.ctx, kind, ns, name, uid, window, opens_at_s);
}

static void on_gated(void *ctx, const struct rl_gate_hold *h)
{
    struct rl_controller *c = ctx;

    if (c->hooks.on_gated)
        c->hooks.on_gated(c->hooks.ctx, h);
}

static void on_skip(void *ctx, const char *reason)
{
    struct rl_controller *c = ctx;

    if (c->hooks.on_skip)
        c->hooks.on_skip(c->hooks.ctx, reason);
}

static void on_watch(void *ctx, const char *resource, bool relist)
{
    struct rl_controller *c = ctx;

    if (c->hooks.on_watch)
        c->hooks.on_watch(c->hooks.ctx, resource, relist);
}

/* --- the Lease ------------------------------------------------------------ */

struct lease_feed {
    struct rl_controller *c;
    rl_controller_lease_fn *fn;
    void *ctx;
};

static void lease_upsert(void *ctx, struct rl_informer *inf, const cJSON *obj, bool from_list)
{
    struct lease_feed *lf = ctx;

    (void)inf;
    (void)from_list;
    lf->fn(lf->ctx, obj);
}

static void lease_removed(void *ctx, struct rl_informer *inf, const char *ns, const char *name)
{
    struct lease_feed *lf = ctx;

    (void)inf;
    (void)ns;
    (void)name;
    lf->fn(lf->ctx, NULL);
}

static void lease_noop(void *ctx, struct rl_informer *inf)
{
    (void)ctx;
    (void)inf;
}

static void lease_synced(void *ctx, struct rl_informer *inf)
{
    (void)inf;
    check_synced(((struct lease_feed *)ctx)->c);
}

void rl_controller_watch_lease(struct rl_controller *c, const char *ns, const char *name,
                               rl_controller_lease_fn *fn, void *ctx)
{
    struct lease_feed *lf = RL_NEW(struct lease_feed);
    char *field = rl_xasprintf("metadata.name=%s", name);
    struct rl_informer_handler h = {
        .upsert = lease_upsert,
        .remove = lease_removed,
        .begin_relist = lease_noop,
        .end_relist = lease_noop,
        .synced = lease_synced,
        .ctx = lf,
    };
    struct rl_informer_spec spec = {
        .resource = "leases",
        .group_version = "coordination.k8s.io/v1",
        .namespace_ = ns,
        .field_selector = field,
    };

    lf->c = c;
    lf->fn = fn;
    lf->ctx = ctx;
    c->lease_feed = lf;
    rl_informers_add(c->informers, &spec, &h);
    free(field);
}

/* --- the workload state (reload/state.h) ------------------------------------ */

static void state_upsert(void *ctx, struct rl_informer *inf, const cJSON *obj, bool from_list)
{
    struct rl_controller *c = ctx;
    const cJSON *data = rl_json_get(obj, "data");
    cJSON *none = NULL;
    unsigned shard;

    (void)inf;
    (void)from_list;
    if (!rl_state_shard_parse(rl_json_str(rl_json_obj(obj, "metadata"), "name"), &shard))
        return;
    c->state_seen[shard] = true;
    if (!cJSON_IsObject(data))
        data = none = cJSON_CreateObject();     /* exists, holds nothing */
    rl_store_observe_state(c->store, shard, data);
    cJSON_Delete(none);
}

static void state_removed(void *ctx, struct rl_informer *inf, const char *ns, const char *name)
{
    struct rl_controller *c = ctx;
    unsigned shard;

    (void)inf;
    (void)ns;
    if (rl_state_shard_parse(name, &shard))
        rl_store_observe_state(c->store, shard, NULL);
}

static void state_begin_relist(void *ctx, struct rl_informer *inf)
{
    struct rl_controller *c = ctx;

    (void)inf;
    memset(c->state_seen, 0, sizeof(c->state_seen));
}

/* A relist that did not see a shard: it was deleted while the watch was down. */
static void state_end_relist(void *ctx, struct rl_informer *inf)
{
    struct rl_controller *c = ctx;

    (void)inf;
    for (unsigned i = 0; i < RL_STATE_SHARDS; i++)
        if (!c->state_seen[i])
            rl_store_observe_state(c->store, i, NULL);
}

static void state_synced(void *ctx, struct rl_informer *inf)
{
    (void)inf;
    check_synced(ctx);
}

static bool state_ready(void *ctx)
{
    return atomic_load(&((struct rl_controller *)ctx)->synced);
}

/*
 * The state is on when POD_NAMESPACE is known (--workload-state) and this
 * identity may keep ConfigMaps there; a denial is said once, and the
 * records go on the workloads, as without it.
 */
static void state_init(struct rl_controller *c)
{
    static const char *const verbs[] = { "list", "watch", "create", "patch" };
    const char *ns = c->pol->state_namespace;
    char denied[128] = "", *sel;
    struct rl_informer_handler h = {
        .upsert = state_upsert,
        .remove = state_removed,
        .begin_relist = state_begin_relist,
        .end_relist = state_end_relist,
        .synced = state_synced,
        .ctx = c,
    };
    struct rl_informer_spec spec = {
        .resource = "configmaps",
        .group_version = "v1",
        .namespace_ = ns,
        .label_selector = RL_STATE_LABEL "=" RL_STATE_LABEL_VALUE,
    };
    struct rl_state_writer_hooks wh = {
        .ready = state_ready,
        .may_write = may_write,
        .fence_left = fence_left,
        .ctx = c,
    };

    if (!ns)
        return;
    /* patch is granted by name (the shards'), so it is asked of one. */
    for (size_t v = 0; v < 4; v++)
        if (rl_kube_may_named(c->kube, "", "configmaps", verbs[v], ns,
                              strcmp(verbs[v], "patch") == 0 ? RL_STATE_NAME_PREFIX "00" : NULL) == 0)
            snprintf(denied + strlen(denied), sizeof(denied) - strlen(denied), "%s%s",
                     denied[0] ? ", " : "", verbs[v]);
    if (denied[0]) {
        rl_log_kv(RL_LOG_WARN, "the workload state is off: this identity may not keep "
                  "ConfigMaps in its namespace (see the chart's Role); records of workloads that "
                  "never rolled are written on the workloads", "namespace", ns,
                  "denied", denied, NULL);
        return;
    }
    rl_store_enable_state(c->store);
    rl_informers_add(c->informers, &spec, &h);
    c->state_writer = rl_state_writer_new(c->store, c->kube, ns, 1000, &wh);
    /* The sources' informers leave the state's ConfigMaps out. */
    sel = c->pol->resource_selector && *c->pol->resource_selector
              ? rl_xasprintf("%s,!%s", c->pol->resource_selector, RL_STATE_LABEL)
              : rl_xasprintf("!%s", RL_STATE_LABEL);
    c->source_selector = sel;
}

/* An informer of set (the controller's, or the CSI driver's) feeding the store. */
static struct feed *add_feed(struct rl_controller *c, struct rl_informers *set,
                             const char *resource, const char *gv, const char *ns, bool is_source,
                             enum rl_source_type t, enum rl_kind k, const char *label_selector,
                             const char *field_selector)
{
    struct feed *f = RL_NEW(struct feed);
    struct rl_informer_handler h = {
        .upsert = upsert,
        .remove = removed,
        .begin_relist = begin_relist,
        .end_relist = end_relist,
        .synced = informer_synced,
        .ctx = f,
    };
    struct rl_informer_spec spec = {
        .resource = resource,
        .group_version = gv,
        .namespace_ = ns,
        .label_selector = label_selector,
        .field_selector = field_selector,
        .user = f,
    };

    f->c = c;
    f->is_source = is_source;
    f->type = t;
    f->kind = k;
    f->ns = ns && *ns ? rl_xstrdup(ns) : NULL;
    c->feeds = rl_xreallocarray(c->feeds, c->n_feeds + 1, sizeof(*c->feeds));
    c->feeds[c->n_feeds++] = f;
    rl_informers_add(set, &spec, &h);
    return f;
}

/* --- the CSI driver's objects (csi.h) --------------------------------------- */

/*
 * Whether the CSI driver's API is served and we may list and watch both
 * resources everywhere we watch. A denial is logged once.
 */
static bool csi_available(struct rl_controller *c)
{
    static const char *const plurals[] = { RL_CSI_STATUSES, RL_CSI_CLASSES };
    static const char *const verbs[] = { "list", "watch" };
    char denied[512] = "";
    int err;

    for (size_t i = 0; i < 2; i++)
        if (!rl_kube_serves(c->kube, RL_CSI_API_PREFIX, plurals[i], &err))
            return false;
    for (size_t i = 0; i < 2; i++)
        for (size_t v = 0; v < 2; v++)
            for (size_t n = 0; n < c->pol->n_namespaces; n++) {
                const char *ns = c->pol->namespaces[n];

                if (rl_kube_may(c->kube, RL_CSI_GROUP, plurals[i], verbs[v], ns) == 1)
                    continue;
                snprintf(denied + strlen(denied), sizeof(denied) - strlen(denied), "%s%s %s%s%s",
                         denied[0] ? ", " : "", verbs[v], plurals[i], *ns ? " in " : "", ns);
            }
    if (denied[0]) {
        if (!c->csi_denied_logged)
            rl_log_kv(RL_LOG_WARN, "--enable-csi-integration: the CSI driver's API is served but "
                      "may not be listed or watched (see the chart's RBAC); not watched until "
                      "it may be", "denied", denied, NULL);
        c->csi_denied_logged = true;
        return false;
    }
    return true;
}

/*
 * The CSI informers, per watched namespace: status objects (under
 * --resource-label-selector, docs/reloader.md §1.1) and SecretProviderClasses.
 */
static struct rl_informers *csi_informers_new(struct rl_controller *c)
{
    struct rl_informers *set = rl_informers_new(c->kube);

    rl_informers_set_observer(set, on_watch, c);
    for (size_t i = 0; i < c->pol->n_namespaces; i++) {
        const char *ns = c->pol->namespaces[i];
        struct feed *f;

        f = add_feed(c, set, RL_CSI_STATUSES, RL_CSI_GROUP_VERSION, ns, true, RL_SOURCE_SPC, 0,
                     c->pol->resource_selector, NULL);
        f->csi = true;
        f = add_feed(c, set, RL_CSI_CLASSES, RL_CSI_GROUP_VERSION, ns, true, RL_SOURCE_SPC, 0,
                     NULL, NULL);
        f->csi = f->classes = true;
    }
    return set;
}

/* Until the CSI driver's API appears (installed after reloadd started): ask again. */
static void *csi_discovery(void *arg)
{
    struct rl_controller *c = arg;

    rl_mutex_lock(&c->csi_mu);
    while (!c->csi_stop) {
        rl_cond_wait_until_ms(&c->csi_cv, &c->csi_mu, rl_mono_ms() + CSI_DISCOVERY_MS);
        if (c->csi_stop)
            break;
        rl_mutex_unlock(&c->csi_mu);
        if (csi_available(c)) {
            struct rl_informers *set = csi_informers_new(c);

            rl_log_kv(RL_LOG_INFO, "the CSI driver's API appeared; watching "
                      "secretproviderclasspodstatuses and secretproviderclasses", NULL);
            rl_mutex_lock(&c->csi_mu);
            if (c->csi_stop) {
                rl_informers_free(set);
                break;
            }
            c->csi_informers = set;
            rl_informers_start(set);
            break;
        }
        rl_mutex_lock(&c->csi_mu);
    }
    rl_mutex_unlock(&c->csi_mu);
    return NULL;
}

/* At start: watch the CSI driver's objects now, or look for its API until it appears. */
static void csi_init(struct rl_controller *c)
{
    rl_mutex_init(&c->csi_mu);
    rl_cond_init(&c->csi_cv);
    if (!c->pol->csi)
        return;
    c->csi = rl_csi_new(c->store);
    if (csi_available(c)) {
        c->csi_informers = csi_informers_new(c);
        c->csi_at_start = true;
        rl_log_kv(RL_LOG_INFO, "--enable-csi-integration: watching "
                  "secretproviderclasspodstatuses and secretproviderclasses", NULL);
    } else if (!c->csi_denied_logged) {
        rl_log_kv(RL_LOG_INFO, "--enable-csi-integration: the API server does not serve "
                  RL_CSI_GROUP_VERSION " (is the Secrets Store CSI driver installed?); "
                  "watched once it appears", NULL);
    }
}

static void csi_start(struct rl_controller *c)
{
    if (c->csi_informers)
        rl_informers_start(c->csi_informers);
    else if (c->csi) {
        c->csi_thread_started = true;
        rl_thread_start(&c->csi_thread, "rl-csi-discover", csi_discovery, c);
    }
}

static void csi_stop(struct rl_controller *c)
{
    struct rl_informers *set;

    rl_mutex_lock(&c->csi_mu);
    c->csi_stop = true;
    rl_cond_broadcast(&c->csi_cv);
    rl_mutex_unlock(&c->csi_mu);
    if (c->csi_thread_started) {
        rl_thread_join(c->csi_thread);
        c->csi_thread_started = false;
    }
    rl_mutex_lock(&c->csi_mu);
    set = c->csi_informers;
    rl_mutex_unlock(&c->csi_mu);
    if (set)
        rl_informers_stop(set);
}

static void csi_free(struct rl_controller *c)
{
    rl_informers_free(c->csi_informers);
    rl_csi_free(c->csi);
    rl_cond_destroy(&c->csi_cv);
    rl_mutex_destroy(&c->csi_mu);
}

/* --- wiring --------------------------------------------------------------- */

struct rl_controller *rl_controller_new(const struct rl_options *o, const struct rl_policy *pol,
                                        struct rl_kube *kube,
                                        const struct rl_clock *clock,
                                        const struct rl_controller_hooks *hooks)
{
    struct rl_controller *c = RL_NEW(struct rl_controller);
    struct rl_workqueue_opts wqo = RL_WORKQUEUE_OPTS_INIT;
    struct rl_pool_opts po = RL_POOL_OPTS_INIT;
    struct rl_reconcile_hooks rh = {
        .may_write = may_write,
        .on_result = on_result,
        .on_skip = on_skip,
        .requeue_after = requeue_after,
        .on_problem = on_problem,
        .on_held = on_held,
        .on_window_held = on_window_held,
        .on_gated = on_gated,
        .ctx = c,
    };
    bool watched[RL_KIND_MAX];

    c->o = o;
    c->pol = pol;
    c->kube = kube;
    c->clock = clock;
    if (hooks)
        c->hooks = *hooks;
    rl_mutex_init(&c->intern_mu);
    rl_mutex_init(&c->startup_mu);
    rl_mutex_init(&c->stamp_mu);
    rl_map_init(&c->stamps);
    rl_map_init(&c->owed);
    rl_map_init(&c->interned);
    rl_map_init(&c->startup_keys);
    atomic_store(&c->leader, !o->enable_ha);

    rl_workload_keys_init(&c->keys, pol);
    c->keys.intern = intern;
    c->keys.intern_ctx = c;
    c->rc = rl_regex_cache_new(4096);
    c->store = rl_store_new(pol, c->rc);
    c->rec = rl_reconciler_new(c->store, kube, pol, c->rc, clock, &rh);

    wqo.shards = (unsigned)o->workers;
    wqo.coalesce_ms = o->coalesce_window_ms;
    if (rl_workqueue_new(&c->wq, &wqo, clock) != 0)
        RL_BUG("workqueue options rejected");
    po.on_give_up = give_up;
    c->pool = rl_pool_new(c->wq, work, c, &po);

    c->informers = rl_informers_new(kube);
    rl_informers_set_observer(c->informers, on_watch, c);
    rl_mutex_init(&c->ns_mu);
    rl_map_init(&c->ns_selected);
    if (pol->namespace_selector) {
        struct rl_informer_handler h = {
            .upsert = ns_upsert,
            .remove = ns_removed,
            .begin_relist = ns_noop,
            .end_relist = ns_noop,
            .synced = ns_synced,
            .ctx = c,
        };
        struct rl_informer_spec spec = {
            .resource = "namespaces",
            .group_version = "v1",
            .label_selector = pol->namespace_selector,
        };

        c->ns_selector = true;
        c->ns_informer = rl_informers_add(c->informers, &spec, &h);
    }
    state_init(c);
    for (int k = 0; k < rl_kind_count(); k++)
        watched[k] = rl_kind_enabled(pol, k) && rl_kind_watchable(kube, pol, k);
    for (size_t i = 0; i < pol->n_namespaces; i++) {
        const char *ns = pol->namespaces[i];

        if (!pol->ignore_configmaps)
            add_feed(c, c->informers, "configmaps", "v1", ns, true, RL_SOURCE_CONFIGMAP, 0,
                     c->source_selector ? c->source_selector : pol->resource_selector, NULL);
        if (!pol->ignore_secrets)
            add_feed(c, c->informers, "secrets", "v1", ns, true, RL_SOURCE_SECRET, 0,
                     pol->resource_selector, pol->secret_field_selector);
        /* No workload kind in --webhook-url mode (rl_kind_enabled). */
        for (int k = 0; k < rl_kind_count(); k++) {
            if (watched[k])
                add_feed(c, c->informers, rl_kind_info(k)->plural,
                         rl_kind_info(k)->api_version, ns, false, 0, (enum rl_kind)k, NULL, NULL);
        }
    }
    csi_init(c);
    return c;
}

int rl_controller_start(struct rl_controller *c)
{
    int err;

    atomic_store(&c->start_ms, rl_mono_ms());
    err = rl_pool_start(c->pool);
    if (err)
        return err;
    rl_informers_start(c->informers);
    csi_start(c);
    if (c->state_writer)
        rl_state_writer_start(c->state_writer);
    atomic_store(&c->started, true);
    return 0;
}

int rl_controller_flush(struct rl_controller *c, uint64_t within_ms)
{
    int err;

    if (!atomic_load(&c->started))
        return 0;
    err = rl_workqueue_flush(c->wq, within_ms);
    /* The records the flush decided, to the workload state while we lead. */
    if (c->state_writer && !rl_state_writer_flush(c->state_writer))
        rl_log_kv(RL_LOG_WARN, "stopping with workload state not written; those workloads are "
                  "judged as first seen after the restart", NULL);
    return err;
}

void rl_controller_stop(struct rl_controller *c, uint64_t drain_ms)
{
    if (!atomic_exchange(&c->started, false))
        return;
    rl_informers_stop(c->informers);
    csi_stop(c);
    rl_pool_stop(c->pool, drain_ms);
    /* After the workers: what they decided last is written while we may still write. */
    rl_state_writer_stop(c->state_writer);
}

void rl_controller_free(struct rl_controller *c)
{
    if (!c)
        return;
    rl_controller_stop(c, 0);
    rl_informers_free(c->informers);
    csi_free(c);
    rl_pool_free(c->pool);
    rl_state_writer_free(c->state_writer);
    free(c->source_selector);
    rl_workqueue_free(c->wq);
    rl_reconciler_free(c->rec);
    rl_store_free(c->store);
    rl_regex_cache_free(c->rc);
    for (size_t i = 0; i < c->n_feeds; i++) {
        free(c->feeds[i]->ns);
        free(c->feeds[i]);
    }
    free(c->feeds);
    free(c->lease_feed);
    rl_map_release(&c->interned, NULL);
    rl_map_release(&c->ns_selected, NULL);
    rl_mutex_destroy(&c->ns_mu);
    rl_map_release(&c->startup_keys, NULL);
    rl_mutex_destroy(&c->intern_mu);
    rl_mutex_destroy(&c->startup_mu);
    rl_map_release(&c->stamps, free);
    rl_map_release(&c->owed, NULL);
    rl_mutex_destroy(&c->stamp_mu);
    free(c);
}

void rl_controller_assume_missed(struct rl_controller *c)
{
    rl_reconciler_assume_missed(c->rec);
}

void rl_controller_set_leader(struct rl_controller *c, bool leader)
{
    bool was = atomic_exchange(&c->leader, leader);

    if (leader && !was && atomic_load(&c->synced)) {
        /* Filled while following: the old leader's last writes may not be in it yet. */
        rl_reconciler_verify_takeover(c->rec);
        rl_reconciler_adopt_rollouts(c->rec);
        serve_owed(c);
        reconcile_all(c, "became leader");
    }
}

void rl_controller_cap_counts(struct rl_controller *c, struct rl_cap_counts *out)
{
    rl_reconciler_cap_counts(c->rec, out);
}

bool rl_controller_may_write(struct rl_controller *c)
{
    return may_write(c);
}

bool rl_controller_synced(struct rl_controller *c)
{
    return atomic_load(&c->synced);
}

uint64_t rl_controller_startup_done_ms(struct rl_controller *c)
{
    uint64_t done = atomic_load(&c->startup_done_ms);

    return done ? done - atomic_load(&c->start_ms) : 0;
}

void rl_controller_relist(struct rl_controller *c)
{
    relist_all(c);
}

bool rl_controller_ready(struct rl_controller *c, uint64_t max_silence_ms, struct rl_buf *why)
{
    uint64_t oldest, now = rl_mono_ms();

    if (!atomic_load(&c->synced)) {
        rl_buf_adds(why, "caches not synced yet");
        return false;
    }
    oldest = rl_informers_oldest_activity_ms(c->informers);
    if (oldest && now > oldest && now - oldest > max_silence_ms) {
        rl_buf_addf(why, "no word from the API server for %llu s (a watch made no progress)",
                    (unsigned long long)((now - oldest) / 1000));
        return false;
    }
    return true;
}

bool rl_controller_live(struct rl_controller *c, struct rl_buf *why)
{
    char key[256] = "";
    uint64_t busy = rl_pool_longest_busy_ms(c->pool, key, sizeof(key));
    uint64_t oldest = rl_informers_oldest_activity_ms(c->informers);

    if (busy > LIVE_STUCK_MS) {
        rl_buf_addf(why, "a worker has been busy with '%s' for %llu s", key,
                    (unsigned long long)(busy / 1000));
        return false;
    }
    if (atomic_load(&c->synced) && oldest && rl_mono_ms() - oldest > LIVE_SILENT_MS) {
        rl_buf_addf(why, "a watch has been silent for %llu s",
                    (unsigned long long)((rl_mono_ms() - oldest) / 1000));
        return false;
    }
    return true;
}

cJSON *rl_controller_explain(struct rl_controller *c, const char *kind, const char *ns,
                             const char *name)
{
    enum rl_kind k;
    char key[600];

    if (!rl_kind_parse(kind, &k))
        return NULL;
    rl_store_workload_key(key, sizeof(key), k, ns, name);
    return rl_reconcile_explain(c->rec, key);
}

void rl_controller_workloads_in(struct rl_controller *c, const char *ns,
                                size_t out[RL_KIND_MAX])
{
    rl_store_count_in(c->store, ns, out);
}

bool rl_controller_state_stats(struct rl_controller *c, struct rl_controller_state_stats *out)
{
    struct rl_state_counts sc;
    struct rl_state_writer_stats ws;

    memset(out, 0, sizeof(*out));
    if (!c->state_writer)
        return false;
    rl_store_state_counts(c->store, &sc);
    rl_state_writer_stats(c->state_writer, &ws);
    out->entries = sc.entries;
    out->pending = sc.pending;
    out->writes = ws.writes;
    out->failures = ws.failures;
    out->deferred = ws.deferred;
    return true;
}

void rl_controller_stats(struct rl_controller *c, struct rl_controller_stats *out)
{
    struct rl_store_counts sc;
    struct rl_workqueue_stats ws;
    struct rl_informer_stats is;

    memset(out, 0, sizeof(*out));
    rl_store_counts(c->store, &sc);
    rl_workqueue_stats(c->wq, -1, &ws);
    rl_informers_stats(c->informers, &is);
    out->queue_depth = ws.depth;
    memcpy(out->sources, sc.sources, sizeof(out->sources));
    memcpy(out->workloads, sc.workloads, sizeof(out->workloads));
    out->index_edges = sc.index_edges;
    if (c->csi) {
        struct rl_csi_counts cc;

        rl_csi_counts(c->csi, &cc);
        out->csi = true;
        out->csi_statuses = cc.statuses;
    }
    out->reconciles = atomic_load(&c->reconciles);
    out->watch_events = is.events;
    out->relists = is.relists;
    out->watch_restarts = is.watch_restarts;
}

void rl_controller_watch_progress(struct rl_controller *c, rl_informers_progress_fn *fn,
                                  void *ctx)
{
    rl_informers_progress(c->informers, fn, ctx);
}

struct rl_workqueue *rl_controller_queue(struct rl_controller *c)
{
    return c->wq;
}

struct rl_store *rl_controller_store(struct rl_controller *c)
{
    return c->store;
}
