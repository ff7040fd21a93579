/* informer.c - list then watch, for many resources on one I/O thread */
#include "reloadd/kube/informer.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/ratelimit.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/kube.h"
#include "reloadd/base/banned.h"

#define BACKOFF_BASE_MS 500
#define BACKOFF_MAX_MS 30000
#define WATCH_TIMEOUT_MIN_S 300     /* client-go: 5 min, times 1..2 at random */
#define WATCH_MIN_LIFE_MS 1000      /* a watch ending sooner is a failure */
#define POLL_MS 200

enum inf_state {
    INF_NEED_LIST,
    INF_NEED_WATCH,
    INF_WATCHING,
};

struct rl_informer {
    struct rl_informers *set;
    struct rl_informer_handler handler;
    char *resource;
    char *collection_path;          /* "/api/v1/namespaces/ns/configmaps" */
    char *label_selector;
    char *field_selector;
    int page_size;
    int list_limit;                 /* the page size the last list ended with (rl_kube_list) */
    void *user;

    /* Owned by the I/O thread. */
    enum inf_state state;
    char *resource_version;
    struct rl_kube_stream *stream;
    uint64_t retry_at_ms;
    unsigned failures;
    uint64_t watch_started_ms;      /* of the open (or last) watch */
    int watch_timeout_s;            /* what it asked the server for */
    uint64_t watch_events;          /* events and bookmarks it brought */
    bool ever_listed;

    /* Read by any thread. */
    atomic_bool synced;
    _Atomic uint64_t events, watch_restarts, relists, fail_count, last_event_ms;
};

struct rl_informers {
    struct rl_kube *kube;
    struct rl_kube_mux *mux;
    struct rl_informer **infs;
    size_t n;
    pthread_t thread;
    bool started;
    atomic_bool stopping;
    atomic_bool relist_requested;
    unsigned seed;
    rl_informer_observe_fn *observe;
    void *observe_ctx;
};

static char *dup_or_null(const char *s)
{
    return s && *s ? rl_xstrdup(s) : NULL;
}

struct rl_informers *rl_informers_new(struct rl_kube *kube)
{
    struct rl_informers *set = RL_NEW(struct rl_informers);

    set->kube = kube;
    set->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)set;
    return set;
}

struct rl_informer *rl_informers_add(struct rl_informers *set, const struct rl_informer_spec *spec,
                                     const struct rl_informer_handler *handler)
{
    struct rl_informer *inf = RL_NEW(struct rl_informer);
    const char *gv = spec->group_version;
    const char *prefix = strchr(gv, '/') ? "/apis/" : "/api/";

    RL_ASSERT(!set->started);
    inf->set = set;
    inf->handler = *handler;
    inf->resource = rl_xstrdup(spec->resource);
    if (spec->namespace_ && *spec->namespace_)
        inf->collection_path = rl_xasprintf("%s%s/namespaces/%s/%s", prefix, gv,
                                            spec->namespace_, spec->resource);
    else
        inf->collection_path = rl_xasprintf("%s%s/%s", prefix, gv, spec->resource);
    inf->label_selector = dup_or_null(spec->label_selector);
    inf->field_selector = dup_or_null(spec->field_selector);
    inf->page_size = spec->page_size > 0 ? spec->page_size : 500;
    inf->user = spec->user;
    inf->state = INF_NEED_LIST;

    set->infs = rl_xreallocarray(set->infs, set->n + 1, sizeof(*set->infs));
    set->infs[set->n++] = inf;
    return inf;
}

static double random01(struct rl_informers *set)
{
    /* Only the I/O thread draws. */
    set->seed = set->seed * 1103515245u + 12345u;
    return (double)((set->seed >> 8) & 0xffffff) / (double)0x1000000;
}

static void fail(struct rl_informer *inf, enum inf_state next, int err, const char *what)
{
    uint64_t delay = rl_backoff_jitter_ms(inf->failures, BACKOFF_BASE_MS, BACKOFF_MAX_MS, 0.25,
                                          random01(inf->set));

    inf->failures++;
    atomic_fetch_add(&inf->fail_count, 1);
    inf->state = next;
    inf->retry_at_ms = rl_mono_ms() + delay;
    /* The message says why: a Status, a transport error, an exec plugin's own words. */
    rl_log_kv(inf->failures > 1 ? RL_LOG_WARN : RL_LOG_INFO, "watch stream failed; retrying",
              "resource", inf->resource, "path", inf->collection_path, "during", what,
              "error", rl_strerror(err),
              "message", rl_kube_last_error()[0] ? rl_kube_last_error() : NULL, NULL);
}

static void set_rv(struct rl_informer *inf, const char *rv)
{
    if (!rv || !*rv)
        return;
    if (inf->resource_version && strcmp(inf->resource_version, rv) == 0)
        return;
    free(inf->resource_version);
    inf->resource_version = rl_xstrdup(rv);
}

static int on_list_item(void *ctx, const cJSON *item)
{
    struct rl_informer *inf = ctx;

    inf->handler.upsert(inf->handler.ctx, inf, item, true);
    return atomic_load(&inf->set->stopping) ? RL_ESHUTDOWN : 0;
}

static void do_list(struct rl_informer *inf)
{
    struct rl_kube_list_opts opts = {
        .label_selector = inf->label_selector,
        .field_selector = inf->field_selector,
        .limit = inf->page_size,
        .start_limit = &inf->list_limit,
    };
    char *rv = NULL;
    uint64_t t0 = rl_mono_ms();
    int err;

    if (inf->ever_listed) {
        atomic_fetch_add(&inf->relists, 1);
        if (inf->set->observe)
            inf->set->observe(inf->set->observe_ctx, inf->resource, true);
    }
    inf->handler.begin_relist(inf->handler.ctx, inf);
    err = rl_kube_list(inf->set->kube, inf->collection_path, &opts, on_list_item, inf, &rv);
    if (err) {
        free(rv);
        if (err != RL_ESHUTDOWN)
            fail(inf, INF_NEED_LIST, err, "list");
        return;
    }
    inf->handler.end_relist(inf->handler.ctx, inf);
    /* A list's pages were decoded and dropped (measured: 8.5 MiB after a 25k-object sync). */
    rl_mem_give_back();
    free(inf->resource_version);
    inf->resource_version = rv;
    inf->state = INF_NEED_WATCH;
    inf->failures = 0;
    atomic_store(&inf->last_event_ms, rl_mono_ms());
    rl_log_kv(RL_LOG_DEBUG, "listed", "resource", inf->resource, "path", inf->collection_path,
              "resourceVersion", rv, NULL);
    (void)t0;
    if (!inf->ever_listed) {
        inf->ever_listed = true;
        atomic_store(&inf->synced, true);
        if (inf->handler.synced)
            inf->handler.synced(inf->handler.ctx, inf);
    }
}

static int on_event(void *ctx, const char *type, const cJSON *obj)
{
    struct rl_informer *inf = ctx;
    const cJSON *meta = rl_json_obj(obj, "metadata");

    atomic_store(&inf->last_event_ms, rl_mono_ms());
    inf->watch_events++;
    set_rv(inf, rl_json_str(meta, "resourceVersion"));
    if (strcmp(type, "BOOKMARK") == 0)
        return 0;
    atomic_fetch_add(&inf->events, 1);
    if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
        inf->handler.upsert(inf->handler.ctx, inf, obj, false);
    } else if (strcmp(type, "DELETED") == 0) {
        const char *name = rl_json_str(meta, "name");

        if (name)
            inf->handler.remove(inf->handler.ctx, inf, rl_json_str_or(meta, "namespace", ""), name);
    }
    return 0;
}

static void on_end(void *ctx, int err)
{
    struct rl_informer *inf = ctx;

    inf->stream = NULL;
    if (atomic_load(&inf->set->stopping))
        return;
    atomic_fetch_add(&inf->watch_restarts, 1);
    if (inf->set->observe)
        inf->set->observe(inf->set->observe_ctx, inf->resource, false);
    switch (err) {
    case 0: {
        /*
         * The server ended the watch. At its timeout, resume at once; but a
         * watch that ends within a second, or early with nothing in it, is a
         * server (or proxy) in trouble: back off as after a failure (as
         * client-go does), or we would re-open it hundreds of times a second.
         */
        uint64_t lasted = rl_mono_ms() - inf->watch_started_ms;

        if (lasted < WATCH_MIN_LIFE_MS ||
            (inf->watch_events == 0 && lasted < (uint64_t)inf->watch_timeout_s * 500)) {
            fail(inf, INF_NEED_WATCH, RL_ETRANSPORT, "watch (ended early)");
            break;
        }
        inf->state = INF_NEED_WATCH;
        inf->failures = 0;
        atomic_store(&inf->last_event_ms, rl_mono_ms());    /* the server answered */
        break;
    }
    case RL_EGONE:                  /* our resourceVersion was compacted */
        rl_log_kv(RL_LOG_INFO, "resource version expired; relisting", "resource", inf->resource,
                  "path", inf->collection_path, NULL);
        inf->state = INF_NEED_LIST;
        inf->retry_at_ms = 0;
        break;
    case RL_ESHUTDOWN:              /* cancelled for a relist */
        inf->state = INF_NEED_LIST;
        inf->retry_at_ms = 0;
        break;
    default:
        fail(inf, INF_NEED_WATCH, err, "watch");
    }
}

/* The server took the watch: it answers, which readiness counts as progress. */
static void on_open(void *ctx)
{
    struct rl_informer *inf = ctx;

    atomic_store(&inf->last_event_ms, rl_mono_ms());
}

static void start_watch(struct rl_informer *inf)
{
    struct rl_kube_watch_opts opts = {
        .on_open = on_open,
        .label_selector = inf->label_selector,
        .field_selector = inf->field_selector,
        .resource_version = inf->resource_version,
        .timeout_s = WATCH_TIMEOUT_MIN_S + (int)(random01(inf->set) * WATCH_TIMEOUT_MIN_S),
    };

    inf->watch_started_ms = rl_mono_ms();
    inf->watch_timeout_s = opts.timeout_s;
    inf->watch_events = 0;
    inf->stream = rl_kube_mux_watch(inf->set->mux, inf->collection_path, &opts, on_event, on_end, inf);
    if (inf->stream)
        inf->state = INF_WATCHING;
    else
        fail(inf, INF_NEED_WATCH, RL_ETRANSPORT, "watch start");
}

static void *io_thread(void *arg)
{
    struct rl_informers *set = arg;

    while (!atomic_load(&set->stopping)) {
        uint64_t now = rl_mono_ms(), next = now + POLL_MS;

        if (atomic_exchange(&set->relist_requested, false)) {
            for (size_t i = 0; i < set->n; i++) {
                struct rl_informer *inf = set->infs[i];

                if (inf->stream)
                    rl_kube_stream_cancel(set->mux, inf->stream);   /* on_end: NEED_LIST */
                inf->state = INF_NEED_LIST;
                inf->retry_at_ms = 0;
            }
        }
        for (size_t i = 0; i < set->n && !atomic_load(&set->stopping); i++) {
            struct rl_informer *inf = set->infs[i];

            if (inf->state == INF_WATCHING)
                continue;
            if (inf->retry_at_ms > now) {
                if (inf->retry_at_ms < next)
                    next = inf->retry_at_ms;
                continue;
            }
            if (inf->state == INF_NEED_LIST)
                do_list(inf);
            if (inf->state == INF_NEED_WATCH && inf->retry_at_ms <= rl_mono_ms()) {
                /* A watch start is a request: it waits for a token, without blocking the others. */
                uint64_t wait = rl_kube_try_token(set->kube);

                if (wait) {
                    inf->retry_at_ms = rl_mono_ms() + wait;
                    if (inf->retry_at_ms < next)
                        next = inf->retry_at_ms;
                } else {
                    start_watch(inf);
                }
            }
            now = rl_mono_ms();
        }
        now = rl_mono_ms();
        rl_kube_mux_poll(set->mux, next > now ? (int)(next - now) : 0);
    }
    return NULL;
}

void rl_informers_start(struct rl_informers *set)
{
    RL_ASSERT(!set->started);
    set->mux = rl_kube_mux_new(set->kube);
    set->started = true;
    rl_thread_start(&set->thread, "rl-informers", io_thread, set);
}

void rl_informers_stop(struct rl_informers *set)
{
    if (!set->started)
        return;
    atomic_store(&set->stopping, true);
    rl_kube_mux_wakeup(set->mux);
    rl_thread_join(set->thread);
    rl_kube_mux_free(set->mux);     /* ends every stream */
    set->mux = NULL;
    set->started = false;
}

void rl_informers_free(struct rl_informers *set)
{
    if (!set)
        return;
    rl_informers_stop(set);
    for (size_t i = 0; i < set->n; i++) {
        struct rl_informer *inf = set->infs[i];

        free(inf->resource);
        free(inf->collection_path);
        free(inf->label_selector);
        free(inf->field_selector);
        free(inf->resource_version);
        free(inf);
    }
    free(set->infs);
    free(set);
}

bool rl_informers_synced(const struct rl_informers *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (!atomic_load(&set->infs[i]->synced))
            return false;
    return true;
}

void rl_informer_stats(const struct rl_informer *inf, struct rl_informer_stats *out)
{
    out->events = atomic_load(&inf->events);
    out->watch_restarts = atomic_load(&inf->watch_restarts);
    out->relists = atomic_load(&inf->relists);
    out->failures = atomic_load(&inf->fail_count);
    out->last_event_ms = atomic_load(&inf->last_event_ms);
}

void rl_informers_stats(const struct rl_informers *set, struct rl_informer_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < set->n; i++) {
        struct rl_informer_stats s;

        rl_informer_stats(set->infs[i], &s);
        out->events += s.events;
        out->watch_restarts += s.watch_restarts;
        out->relists += s.relists;
        out->failures += s.failures;
        if (s.last_event_ms > out->last_event_ms)
            out->last_event_ms = s.last_event_ms;
    }
}

uint64_t rl_informers_oldest_activity_ms(const struct rl_informers *set)
{
    uint64_t oldest = UINT64_MAX;

    for (size_t i = 0; i < set->n; i++) {
        uint64_t t = atomic_load(&set->infs[i]->last_event_ms);

        if (t < oldest)
            oldest = t;
    }
    return oldest == UINT64_MAX ? 0 : oldest;
}

void rl_informers_progress(const struct rl_informers *set, rl_informers_progress_fn *fn,
                           void *ctx)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *res = set->infs[i]->resource;
        uint64_t oldest = UINT64_MAX;
        bool seen = false;

        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(set->infs[j]->resource, res) == 0;
        if (seen)
            continue;
        for (size_t j = i; j < set->n; j++) {
            uint64_t t = atomic_load(&set->infs[j]->last_event_ms);

            if (strcmp(set->infs[j]->resource, res) == 0 && t < oldest)
                oldest = t;
        }
        fn(ctx, res, oldest);
    }
}

const char *rl_informer_resource(const struct rl_informer *inf)
{
    return inf->resource;
}

void *rl_informer_user(const struct rl_informer *inf)
{
    return inf->user;
}

const char *rl_informer_resource_version(const struct rl_informer *inf)
{
    return inf->resource_version;
}

bool rl_informer_synced(const struct rl_informer *inf)
{
    return atomic_load(&inf->synced);
}

void rl_informers_relist(struct rl_informers *set)
{
    atomic_store(&set->relist_requested, true);
    if (set->mux)
        rl_kube_mux_wakeup(set->mux);
}

void rl_informers_set_observer(struct rl_informers *set, rl_informer_observe_fn *fn, void *ctx)
{
    set->observe = fn;
    set->observe_ctx = ctx;
}
