/* events.c - Kubernetes Events on reloaded workloads, off the hot path */
#include "reloadd/ops/events.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/engine/outbox.h"
#include "reloadd/kube/kube.h"
#include "reloadd/base/banned.h"

#define DEFAULT_QUEUE_MAX 1024u
#define DEFAULT_ATTEMPTS 3u
#define DEFAULT_BACKOFF_MS 200u
#define DEFAULT_WARNING_INTERVAL_MS 60000u
#define WARNED_PRUNE_AT 1024u

int rl_event_body(struct rl_buf *out, const struct rl_event *ev, int64_t now_us)
{
    cJSON *root, *meta, *obj, *src;
    char ts[32], *name, *json;
    int err;

    if (!ev->ns || !ev->name || !ev->type || !ev->reason || !ev->message)
        return RL_EINVAL;
    root = cJSON_CreateObject();
    rl_format_rfc3339(now_us, ts);
    /* client-go's recorder: "<name>.<unix nanoseconds in hex>". */
    name = rl_xasprintf("%s.%llx", ev->name, (unsigned long long)now_us * 1000ull);
    cJSON_AddStringToObject(root, "apiVersion", "v1");
    cJSON_AddStringToObject(root, "kind", "Event");
    meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON_AddStringToObject(meta, "name", name);
    cJSON_AddStringToObject(meta, "namespace", ev->ns);
    obj = cJSON_AddObjectToObject(root, "involvedObject");
    cJSON_AddStringToObject(obj, "kind", rl_kind_name(ev->kind));
    cJSON_AddStringToObject(obj, "namespace", ev->ns);
    cJSON_AddStringToObject(obj, "name", ev->name);
    if (ev->uid && *ev->uid)
        cJSON_AddStringToObject(obj, "uid", ev->uid);
    cJSON_AddStringToObject(obj, "apiVersion", rl_kind_info(ev->kind)->api_version);
    cJSON_AddStringToObject(root, "reason", ev->reason);
    cJSON_AddStringToObject(root, "message", ev->message);
    src = cJSON_AddObjectToObject(root, "source");
    if (ev->component)
        cJSON_AddStringToObject(src, "component", ev->component);
    cJSON_AddStringToObject(root, "firstTimestamp", ts);
    cJSON_AddStringToObject(root, "lastTimestamp", ts);
    cJSON_AddNumberToObject(root, "count", 1);
    cJSON_AddStringToObject(root, "type", ev->type);
    if (ev->component)
        cJSON_AddStringToObject(root, "reportingComponent", ev->component);
    json = rl_json_print(root);
    err = rl_buf_adds(out, json);
    free(json);
    free(name);
    cJSON_Delete(root);
    return err;
}

int rl_event_reloaded_message(struct rl_buf *out, const char *res, const char *type,
                              const char *ns, const char *wl, const char *kind)
{
    return rl_buf_addf(out,
                       "Changes detected in '%s' of type '%s' in namespace '%s', "
                       "Updated '%s' of type '%s' in namespace '%s'",
                       res, type, ns, wl, kind, ns);
}

int rl_event_failed_message(struct rl_buf *out, const char *wl, const char *kind,
                            const char *ns, const char *err)
{
    return rl_buf_addf(out, "Update for '%s' of type '%s' in namespace '%s' failed with error %s",
                       wl, kind, ns, err);
}

/* --- the poster ----------------------------------------------------------- */

struct pending {
    enum rl_kind kind;
    char *ns, *name, *uid, *type, *reason, *message, *component;
};

struct rl_events {
    struct rl_kube *kube;
    const struct rl_clock *clock;
    unsigned max_attempts;
    uint64_t backoff_ms;
    uint64_t warning_interval_ms;
    struct rl_outbox *outbox;       /* of struct pending; its thread is rl-events */
    atomic_bool give_up;            /* set when stop begins: abandon the API wait */

    pthread_mutex_t mu;             /* guards stats, warned, the drop log; taken before the outbox's */
    struct rl_map warned;           /* "ns/name/reason" -> (uintptr_t) mono ms of the last Warning */
    struct rl_events_stats st;      /* + the outbox's: queued, dropped at stop */
    uint64_t drop_logged_ms;        /* mono ms of the last drop warning */
    uint64_t drops_unlogged;        /* drops since that warning */
};

static void note_dropped(struct rl_events *e, const struct pending *p, const char *why);

static void pending_release(void *ctx, void *item)
{
    struct pending *p = item;

    (void)ctx;
    free(p->ns);
    free(p->name);
    free(p->uid);
    free(p->type);
    free(p->reason);
    free(p->message);
    free(p->component);
    memset(p, 0, sizeof(*p));
}

static char *dup_or_null(const char *s)
{
    return s ? rl_xstrdup(s) : NULL;
}

static void create(void *ctx, void *item)
{
    struct rl_events *e = ctx;
    const struct pending *p = item;
    struct rl_event ev = {
        .kind = p->kind, .ns = p->ns, .name = p->name, .uid = p->uid, .type = p->type,
        .reason = p->reason, .message = p->message, .component = p->component,
    };
    struct rl_kube_response resp;
    struct rl_buf body;
    char *path = rl_xasprintf("/api/v1/namespaces/%s/events", p->ns);
    uint64_t delay = e->backoff_ms;
    int err = 0;

    rl_buf_init(&body, 0);
    rl_kube_response_init(&resp);
    for (unsigned n = 1; n <= e->max_attempts; n++) {
        if (n > 1) {
            if (!rl_outbox_backoff_wait(e->outbox, delay))
                break;
            delay *= 2;
        }
        rl_buf_reset(&body);
        err = rl_event_body(&body, &ev, rl_clock_wall_us(e->clock));
        if (err)
            break;
        rl_kube_response_release(&resp);
        rl_kube_response_init(&resp);
        err = rl_kube_create(e->kube, path, body.buf, &resp);
        if (!err || !rl_err_retriable(err))
            break;
    }
    if (err == RL_EBUSY || err == RL_ESHUTDOWN) {
        /* Never sent: rollouts had the API budget, or we are leaving. */
        note_dropped(e, p, err == RL_EBUSY ? "no spare API budget (rollouts come first)"
                                           : "shutting down");
        goto out;
    }
    rl_mutex_lock(&e->mu);
    if (err)
        e->st.failed++;
    else
        e->st.created++;
    rl_mutex_unlock(&e->mu);
    if (err) {
        char wl[400];

        snprintf(wl, sizeof(wl), "%s/%s/%s", rl_kind_name(p->kind), p->ns, p->name);
        rl_log_kv(RL_LOG_WARN, "cannot record event", "workload", wl, "reason", p->reason,
                  "error", rl_strerror(err), "message", resp.message[0] ? resp.message : NULL,
                  NULL);
    } else {
        rl_log_kv(RL_LOG_DEBUG, "event recorded", "namespace", p->ns, "name", p->name,
                  "reason", p->reason, NULL);
    }
out:
    rl_kube_response_release(&resp);
    rl_buf_release(&body);
    free(path);
}

/*
 * Counts a dropped Event and warns at most once a minute with the count
 * since the last warning: drops come in floods (a full queue, an API budget
 * spent on rollouts), and one line per Event would be a flood of its own.
 */
static void note_dropped(struct rl_events *e, const struct pending *p, const char *why)
{
    uint64_t now, drops = 0;

    rl_mutex_lock(&e->mu);
    e->st.dropped++;
    e->drops_unlogged++;
    now = rl_clock_mono_ms(e->clock);
    if (!e->drop_logged_ms || now - e->drop_logged_ms >= 60000) {
        drops = e->drops_unlogged;
        e->drops_unlogged = 0;
        e->drop_logged_ms = now ? now : 1;
    }
    rl_mutex_unlock(&e->mu);
    if (drops) {
        char n[24];

        snprintf(n, sizeof(n), "%llu", (unsigned long long)drops);
        rl_log_kv(RL_LOG_WARN, "events dropped (next report in a minute at most)", "why", why,
                  "dropped", n, "last_namespace", p->ns, "last_name", p->name, "last_reason",
                  p->reason, NULL);
    }
}

static void poster_init(void *ctx)
{
    struct rl_events *e = ctx;

    rl_kube_thread_background(true, &e->give_up); /* Events yield the QPS to rollouts */
}

/* Stop began: what is queued is sent only if the API budget allows at once. */
static void poster_give_up(void *ctx)
{
    struct rl_events *e = ctx;

    atomic_store(&e->give_up, true);
}

struct rl_events *rl_events_new(struct rl_kube *kube, const struct rl_clock *clock,
                                const struct rl_events_opts *opts)
{
    static const struct rl_outbox_ops ops = {
        .deliver = create,
        .release = pending_release,
        .thread_init = poster_init,
        .on_stop = poster_give_up,
    };
    struct rl_events *e = RL_NEW(struct rl_events);

    e->kube = kube;
    e->clock = clock ? clock : rl_clock_system();
    e->max_attempts = opts && opts->max_attempts ? opts->max_attempts : DEFAULT_ATTEMPTS;
    e->backoff_ms = opts && opts->backoff_ms ? opts->backoff_ms : DEFAULT_BACKOFF_MS;
    e->warning_interval_ms = opts && opts->warning_interval_ms ? opts->warning_interval_ms
                                                               : DEFAULT_WARNING_INTERVAL_MS;
    e->outbox = rl_outbox_new("rl-events", sizeof(struct pending),
                              opts && opts->queue_max ? opts->queue_max : DEFAULT_QUEUE_MAX,
                              &ops, e);
    atomic_init(&e->give_up, false);
    rl_map_init(&e->warned);
    rl_mutex_init(&e->mu);
    return e;
}

void rl_events_start(struct rl_events *e)
{
    rl_outbox_start(e->outbox);     /* RL_EINVAL if started before: nothing to do */
}

void rl_events_stop(struct rl_events *e, uint64_t drain_ms)
{
    size_t n = e ? rl_outbox_stop(e->outbox, drain_ms) : 0;    /* counted by the outbox */

    if (n)
        rl_log(RL_LOG_WARN, "dropped %zu unrecorded event(s) at shutdown", n);
}

void rl_events_free(struct rl_events *e)
{
    if (!e)
        return;
    rl_events_stop(e, 0);
    rl_outbox_free(e->outbox);
    rl_map_release(&e->warned, NULL);
    rl_mutex_destroy(&e->mu);
    free(e);
}

/* Under e->mu: true if the same Warning was recorded within the interval. */
static bool warning_repeated(struct rl_events *e, const struct rl_event *ev)
{
    uint64_t now = rl_mono_ms(), last;
    char *key;
    bool repeated;

    if (!ev->type || strcmp(ev->type, "Warning") != 0)
        return false;
    key = rl_xasprintf("%s/%s/%s", ev->ns, ev->name, ev->reason ? ev->reason : "");
    last = (uint64_t)(uintptr_t)rl_map_get(&e->warned, key);
    repeated = last && now - last < e->warning_interval_ms;
    if (!repeated) {
        if (e->warned.len >= WARNED_PRUNE_AT) {
            /* Forget the expired ones; the map stays bounded by recent failures. */
            struct rl_map keep = RL_MAP_INIT;
            const char *k;
            void *v;

            for (size_t i = 0; rl_map_next(&e->warned, &i, &k, &v);)
                if (now - (uint64_t)(uintptr_t)v < e->warning_interval_ms)
                    rl_map_put(&keep, k, v);
            rl_map_release(&e->warned, NULL);
            e->warned = keep;
        }
        rl_map_put(&e->warned, key, (void *)(uintptr_t)(now ? now : 1));
    }
    free(key);
    return repeated;
}

void rl_events_post(struct rl_events *e, const struct rl_event *ev)
{
    struct pending p, oldest = { 0 };
    enum rl_outbox_push put;

    if (!e || !ev || !ev->ns || !ev->name)
        return;
    rl_mutex_lock(&e->mu);
    if (warning_repeated(e, ev)) {
        e->st.suppressed++;
        rl_mutex_unlock(&e->mu);
        return;
    }
    p = (struct pending){
        .kind = ev->kind,
        .ns = rl_xstrdup(ev->ns),
        .name = rl_xstrdup(ev->name),
        .uid = dup_or_null(ev->uid),
        .type = dup_or_null(ev->type),
        .reason = dup_or_null(ev->reason),
        .message = dup_or_null(ev->message),
        .component = dup_or_null(ev->component),
    };
    put = rl_outbox_push(e->outbox, &p, &oldest);
    if (put == RL_OUTBOX_REFUSED)
        e->st.dropped++;            /* stopping: not queued, nor logged */
    else
        e->st.posted++;
    rl_mutex_unlock(&e->mu);
    if (put == RL_OUTBOX_REFUSED)
        pending_release(e, &p);
    if (put == RL_OUTBOX_EVICTED) {
        note_dropped(e, &oldest, "the event queue is full: dropped the oldest");
        pending_release(e, &oldest);
    }
}

void rl_events_stats(struct rl_events *e, struct rl_events_stats *out)
{
    struct rl_outbox_stats ob;

    rl_mutex_lock(&e->mu);
    rl_outbox_stats(e->outbox, &ob);
    *out = e->st;
    out->dropped += ob.dropped;
    out->queued = ob.queued;
    rl_mutex_unlock(&e->mu);
}
