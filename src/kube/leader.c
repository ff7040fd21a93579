/* leader.c - leader election on a coordination.k8s.io/v1 Lease, with fencing */
#include "reloadd/kube/leader.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/syntax.h"
#include "reloadd/kube/kube.h"
#include "reloadd/base/banned.h"

#define LEASES_PATH "/apis/coordination.k8s.io/v1/namespaces/%s/leases"

#define DEFAULT_LEASE_MS 15000
#define DEFAULT_RENEW_MS 10000
#define DEFAULT_RETRY_MS 2000
#define DEFAULT_RELEASE_TIMEOUT_MS 2000

struct rl_elector {
    /* Immutable after rl_elector_new(). */
    struct rl_kube *kube;
    const struct rl_clock *clock;
    char *ns, *name, *identity;
    char *path;                 /* the Lease */
    char *collection;           /* its namespace's leases, for POST */
    uint64_t lease_ms, renew_ms, retry_ms, release_timeout_ms;
    int64_t lease_s;            /* what we write: lease_ms rounded up */
    rl_elector_fn *on_started, *on_stopped;
    rl_elector_leader_fn *on_new_leader;
    void *ctx;

    /*
     * Lock-free, read by any thread, written by the elector thread (and
     * by release/stop, which only ever turn writing off). may_write() is
     * !fenced && now < fence_until_ms: `fenced` is sticky, so a renewal
     * that races with release() cannot turn writing back on.
     */
    _Atomic uint64_t fence_until_ms;    /* 0 while not leader */
    atomic_bool fenced;                 /* release() or stop() was called */
    atomic_bool leader;
    _Atomic uint64_t transitions;
    _Atomic uint64_t acquired_at_ms;
    atomic_bool took_over;          /* the last acquisition found a holder that had not released */
    bool taking_over;               /* the attempt in flight (elector thread) */

    /* Protected by `mu`. */
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* kick, releasing or stopping changed */
    pthread_cond_t released;    /* release_done became true */
    struct rl_lease_view view;  /* shared with rl_elector_observe() */
    bool kick;                  /* attempt now, don't wait for the retry period */
    bool stopping;
    bool releasing;
    bool release_done;
    int release_err;
    bool running;               /* the thread runs and has not been joined */
    bool started;               /* rl_elector_start() was called */

    /* The elector thread's own (the caller's while no thread runs). */
    struct rl_lead_state lead;
    cJSON *obj;                 /* the Lease as last read or written */
    char *holder_seen;          /* for on_new_leader; NULL: none yet */
    int last_err;               /* log a failure when it starts, not every round */
    pthread_t thread;
};

/* ---- the record ---- */

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

static char *dup_or_null(const char *s)
{
    return s ? rl_xstrdup(s) : NULL;
}

void rl_lease_release(struct rl_lease *l)
{
    struct rl_lease empty = RL_LEASE_INIT;

    free(l->holder);
    free(l->acquire_time);
    free(l->renew_time);
    free(l->strategy);
    free(l->preferred_holder);
    *l = empty;
}

void rl_lease_copy(struct rl_lease *dst, const struct rl_lease *src)
{
    if (dst == src)
        return;
    rl_lease_release(dst);
    dst->holder = dup_or_null(src->holder);
    dst->duration_s = src->duration_s;
    dst->acquire_time = dup_or_null(src->acquire_time);
    dst->renew_time = dup_or_null(src->renew_time);
    dst->transitions = src->transitions;
    dst->strategy = dup_or_null(src->strategy);
    dst->preferred_holder = dup_or_null(src->preferred_holder);
}

/* An optional string member: absent or null is NULL, another type an error. */
static int spec_str(const cJSON *spec, const char *key, char **out)
{
    const cJSON *it = rl_json_get(spec, key);

    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsString(it))
        return RL_EPARSE;
    *out = rl_xstrdup(it->valuestring);
    return 0;
}

/* An optional int32 member: absent or null is 0. */
static int spec_int32(const cJSON *spec, const char *key, int64_t *out)
{
    const cJSON *it = rl_json_get(spec, key);
    double v;

    if (!it || cJSON_IsNull(it))
        return 0;
    if (!cJSON_IsNumber(it))
        return RL_EPARSE;
    v = it->valuedouble;
    if (!(v >= -2147483648.0 && v <= 2147483647.0) || v != (double)(int64_t)v)
        return RL_EPARSE;
    *out = (int64_t)v;
    return 0;
}

int rl_lease_from_json(struct rl_lease *l, const cJSON *obj)
{
    const cJSON *spec;
    int err = 0;

    rl_lease_release(l);
    if (!cJSON_IsObject(obj))
        return RL_EPARSE;
    spec = rl_json_get(obj, "spec");
    if (!spec || cJSON_IsNull(spec))
        return 0;                       /* a Lease without a spec is free */
    if (!cJSON_IsObject(spec))
        return RL_EPARSE;

    if ((err = spec_str(spec, "holderIdentity", &l->holder)) ||
        (err = spec_int32(spec, "leaseDurationSeconds", &l->duration_s)) ||
        (err = spec_str(spec, "acquireTime", &l->acquire_time)) ||
        (err = spec_str(spec, "renewTime", &l->renew_time)) ||
        (err = spec_int32(spec, "leaseTransitions", &l->transitions)) ||
        (err = spec_str(spec, "strategy", &l->strategy)) ||
        (err = spec_str(spec, "preferredHolder", &l->preferred_holder)))
        rl_lease_release(l);
    return err;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(str_or_empty(a), str_or_empty(b)) == 0;
}

bool rl_lease_same_record(const struct rl_lease *a, const struct rl_lease *b)
{
    return same_str(a->holder, b->holder) && a->duration_s == b->duration_s &&
           same_str(a->acquire_time, b->acquire_time) &&
           same_str(a->renew_time, b->renew_time) && a->transitions == b->transitions &&
           same_str(a->strategy, b->strategy) &&
           same_str(a->preferred_holder, b->preferred_holder);
}

bool rl_lease_held_by(const struct rl_lease *l, const char *identity)
{
    return identity && *identity && l->holder && strcmp(l->holder, identity) == 0;
}

bool rl_lease_is_free(const struct rl_lease *l)
{
    return !l->holder || !*l->holder;
}

/* ---- the view and the decision ---- */

void rl_lease_view_release(struct rl_lease_view *v)
{
    rl_lease_release(&v->seen);
    v->have_seen = false;
    v->seen_at_ms = 0;
}

bool rl_lease_view_update(struct rl_lease_view *v, const struct rl_lease *cur, uint64_t now_ms)
{
    if (v->have_seen && rl_lease_same_record(&v->seen, cur))
        return false;
    rl_lease_copy(&v->seen, cur);
    v->have_seen = true;
    v->seen_at_ms = now_ms;
    return true;
}

uint64_t rl_lease_view_expiry_ms(const struct rl_lease_view *v)
{
    if (!v->have_seen)
        return 0;
    if (v->seen.duration_s <= 0)
        return v->seen_at_ms;           /* as client-go: no duration, no validity */
    return v->seen_at_ms + (uint64_t)v->seen.duration_s * 1000;
}

enum rl_lease_action rl_lease_decide(struct rl_lease_view *v, const struct rl_lease *cur,
                                     const char *identity, uint64_t now_ms)
{
    rl_lease_view_update(v, cur, now_ms);
    if (rl_lease_held_by(cur, identity))
        return RL_LEASE_RENEW;
    if (rl_lease_is_free(cur))
        return RL_LEASE_ACQUIRE;
    /*
     * Judge expiry on our monotonic clock from when the record last
     * changed: comparing the holder's renewTime with our wall clock would
     * trust two machines to agree on the time.
     */
    if (now_ms >= rl_lease_view_expiry_ms(v))
        return RL_LEASE_ACQUIRE;
    return RL_LEASE_WAIT;
}

void rl_lease_next(struct rl_lease *next, const struct rl_lease *cur, enum rl_lease_action action,
                   const char *identity, int64_t duration_s, int64_t wall_us)
{
    char now[32];

    RL_ASSERT(action == RL_LEASE_ACQUIRE || action == RL_LEASE_RENEW);
    rl_format_micro_time(wall_us, now);
    rl_lease_release(next);
    next->holder = rl_xstrdup(identity);
    next->duration_s = duration_s;
    next->renew_time = rl_xstrdup(now);
    if (action == RL_LEASE_RENEW && cur) {
        next->acquire_time = rl_xstrdup(cur->acquire_time ? cur->acquire_time : now);
        next->transitions = cur->transitions;
    } else {
        next->acquire_time = rl_xstrdup(now);
        next->transitions = cur ? cur->transitions + 1 : 0;
        if (next->transitions > INT32_MAX || next->transitions < 0)
            next->transitions = INT32_MAX;      /* the field is an int32 */
    }
    if (cur) {
        next->strategy = dup_or_null(cur->strategy);
        next->preferred_holder = dup_or_null(cur->preferred_holder);
    }
}

void rl_lease_released(struct rl_lease *next, const struct rl_lease *cur, int64_t wall_us)
{
    char now[32];

    rl_format_micro_time(wall_us, now);
    rl_lease_release(next);
    next->holder = rl_xstrdup("");
    next->duration_s = 1;
    next->acquire_time = rl_xstrdup(now);
    next->renew_time = rl_xstrdup(now);
    if (cur) {
        next->transitions = cur->transitions;
        next->strategy = dup_or_null(cur->strategy);
        next->preferred_holder = dup_or_null(cur->preferred_holder);
    }
}

/* Sets key to item in obj, replacing any member of that name. */
static void put_item(cJSON *obj, const char *key, cJSON *item)
{
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    cJSON_AddItemToObject(obj, key, item);
}

static void put_str_or_drop(cJSON *obj, const char *key, const char *s)
{
    if (s)
        put_item(obj, key, cJSON_CreateString(s));
    else
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
}

char *rl_lease_body(const cJSON *base, const struct rl_lease *rec, const char *ns,
                    const char *name)
{
    cJSON *root, *spec;
    char *out;

    if (base) {
        root = cJSON_Duplicate(base, true);
    } else {
        cJSON *meta;

        root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "apiVersion", "coordination.k8s.io/v1");
        cJSON_AddStringToObject(root, "kind", "Lease");
        meta = cJSON_AddObjectToObject(root, "metadata");
        cJSON_AddStringToObject(meta, "name", name);
        cJSON_AddStringToObject(meta, "namespace", ns);
    }
    RL_ASSERT(root);                    /* cJSON allocates through rl_xmalloc */
    spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
    if (!cJSON_IsObject(spec)) {
        spec = cJSON_CreateObject();
        put_item(root, "spec", spec);
    }

    put_item(spec, "holderIdentity", cJSON_CreateString(str_or_empty(rec->holder)));
    if (rec->duration_s > 0)
        put_item(spec, "leaseDurationSeconds", cJSON_CreateNumber((double)rec->duration_s));
    else
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseDurationSeconds");
    put_str_or_drop(spec, "acquireTime", rec->acquire_time);
    put_str_or_drop(spec, "renewTime", rec->renew_time);
    put_item(spec, "leaseTransitions", cJSON_CreateNumber((double)rec->transitions));
    if (rec->strategy)
        put_item(spec, "strategy", cJSON_CreateString(rec->strategy));
    if (rec->preferred_holder)
        put_item(spec, "preferredHolder", cJSON_CreateString(rec->preferred_holder));

    out = rl_json_print(root);
    cJSON_Delete(root);
    return out;
}

/* ---- leadership and the fence ---- */

static enum rl_lead_event step_down(struct rl_lead_state *s)
{
    s->leader = false;
    s->fence_until_ms = 0;
    return RL_LEAD_STOPPED;
}

enum rl_lead_event rl_lead_after_attempt(struct rl_lead_state *s, bool ok, bool lost,
                                         uint64_t start_ms, uint64_t now_ms,
                                         uint64_t renew_deadline_ms)
{
    if (ok) {
        uint64_t fence = start_ms + renew_deadline_ms;

        if (now_ms >= fence)            /* the success came back too late */
            return s->leader ? step_down(s) : RL_LEAD_NONE;
        s->fence_until_ms = fence;
        if (s->leader)
            return RL_LEAD_NONE;
        s->leader = true;
        return RL_LEAD_STARTED;
    }
    if (s->leader && (lost || now_ms >= s->fence_until_ms))
        return step_down(s);
    return RL_LEAD_NONE;
}

enum rl_lead_event rl_lead_check(struct rl_lead_state *s, uint64_t now_ms)
{
    if (s->leader && now_ms >= s->fence_until_ms)
        return step_down(s);
    return RL_LEAD_NONE;
}

bool rl_lead_may_write(const struct rl_lead_state *s, uint64_t now_ms)
{
    return s->leader && now_ms < s->fence_until_ms;
}

/* ---- the elector ---- */

static int bad_opts(char *errbuf, size_t errlen, const char *msg)
{
    if (errbuf && errlen)
        strlcpy(errbuf, msg, errlen);
    return RL_EINVAL;
}

int rl_elector_new(struct rl_elector **out, struct rl_kube *kube, const struct rl_clock *clock,
                   const struct rl_elector_opts *opts, char *errbuf, size_t errlen)
{
    struct rl_elector *el;
    uint64_t lease_ms, renew_ms, retry_ms;

    *out = NULL;
    if (!kube || !clock || !opts)
        return bad_opts(errbuf, errlen, "leader election needs an API client, a clock and options");
    if (!opts->namespace_ || !rl_dns_subdomain_ok(opts->namespace_, strlen(opts->namespace_)))
        return bad_opts(errbuf, errlen, "lease namespace must be a DNS subdomain");
    if (!opts->name || !rl_dns_subdomain_ok(opts->name, strlen(opts->name)))
        return bad_opts(errbuf, errlen, "lease name must be a DNS subdomain");
    if (!opts->identity || !*opts->identity || strlen(opts->identity) > 253)
        return bad_opts(errbuf, errlen, "leader election identity must be 1 to 253 characters");

    lease_ms = opts->lease_duration_ms ? opts->lease_duration_ms : DEFAULT_LEASE_MS;
    renew_ms = opts->renew_deadline_ms ? opts->renew_deadline_ms : DEFAULT_RENEW_MS;
    retry_ms = opts->retry_period_ms ? opts->retry_period_ms : DEFAULT_RETRY_MS;
    if (lease_ms > (uint64_t)INT32_MAX * 1000)
        return bad_opts(errbuf, errlen, "lease duration is too long");
    if (lease_ms <= renew_ms)
        return bad_opts(errbuf, errlen, "lease duration must be greater than renew deadline");
    if ((double)renew_ms <= 1.2 * (double)retry_ms)
        return bad_opts(errbuf, errlen, "renew deadline must be greater than 1.2 * retry period");

    el = RL_NEW(struct rl_elector);
    el->kube = kube;
    el->clock = clock;
    el->ns = rl_xstrdup(opts->namespace_);
    el->name = rl_xstrdup(opts->name);
    el->identity = rl_xstrdup(opts->identity);
    el->collection = rl_xasprintf(LEASES_PATH, el->ns);
    el->path = rl_xasprintf(LEASES_PATH "/%s", el->ns, el->name);
    el->lease_ms = lease_ms;
    el->renew_ms = renew_ms;
    el->retry_ms = retry_ms;
    el->release_timeout_ms =
        opts->release_timeout_ms ? opts->release_timeout_ms : DEFAULT_RELEASE_TIMEOUT_MS;
    /* Round up: followers must never think the lease ends before we stop writing. */
    el->lease_s = (int64_t)((lease_ms + 999) / 1000);
    el->on_started = opts->on_started_leading;
    el->on_stopped = opts->on_stopped_leading;
    el->on_new_leader = opts->on_new_leader;
    el->ctx = opts->ctx;

    atomic_init(&el->fence_until_ms, 0);
    atomic_init(&el->fenced, false);
    atomic_init(&el->leader, false);
    atomic_init(&el->transitions, 0);
    atomic_init(&el->acquired_at_ms, 0);
    rl_mutex_init(&el->mu);
    rl_cond_init(&el->wake);
    rl_cond_init(&el->released);
    el->view = (struct rl_lease_view)RL_LEASE_VIEW_INIT;
    *out = el;
    return 0;
}

void rl_elector_free(struct rl_elector *el)
{
    if (!el)
        return;
    rl_elector_stop(el);
    rl_cond_destroy(&el->released);
    rl_cond_destroy(&el->wake);
    rl_mutex_destroy(&el->mu);
    rl_lease_view_release(&el->view);
    cJSON_Delete(el->obj);
    free(el->holder_seen);
    free(el->path);
    free(el->collection);
    free(el->identity);
    free(el->name);
    free(el->ns);
    free(el);
}

static uint64_t now_ms(const struct rl_elector *el)
{
    return rl_clock_mono_ms(el->clock);
}

/* Publishes the state after a step and runs the callback; elector thread. */
static void apply(struct rl_elector *el, enum rl_lead_event ev)
{
    if (ev == RL_LEAD_STARTED && atomic_load(&el->fenced)) {
        /*
         * The write that made us leader raced with release() or stop():
         * the Lease is ours on the server (release will clear it), but we
         * must not start leading.
         */
        el->lead.leader = false;
        el->lead.fence_until_ms = 0;
        ev = RL_LEAD_NONE;
    }
    atomic_store(&el->fence_until_ms, el->lead.leader ? el->lead.fence_until_ms : 0);

    switch (ev) {
    case RL_LEAD_NONE:
        break;
    case RL_LEAD_STARTED:
        atomic_store(&el->acquired_at_ms, now_ms(el));
        atomic_store(&el->took_over, el->taking_over);
        atomic_store(&el->leader, true);
        atomic_fetch_add(&el->transitions, 1);
        rl_log_kv(RL_LOG_INFO, "became leader", "lease", el->path, "identity", el->identity,
                  NULL);
        if (el->on_started)
            el->on_started(el->ctx);
        break;
    case RL_LEAD_STOPPED:
        atomic_store(&el->leader, false);
        atomic_fetch_add(&el->transitions, 1);
        /* Expected after release() or stop(); anything else deserves a warning. */
        rl_log_kv(atomic_load(&el->fenced) ? RL_LOG_INFO : RL_LOG_WARN, "no longer leader",
                  "lease", el->path, "identity", el->identity, NULL);
        if (el->on_stopped)
            el->on_stopped(el->ctx);
        break;
    }
}

static void note_holder(struct rl_elector *el, const char *holder)
{
    holder = str_or_empty(holder);
    if (el->holder_seen && strcmp(el->holder_seen, holder) == 0)
        return;
    free(el->holder_seen);
    el->holder_seen = rl_xstrdup(holder);
    if (*holder && strcmp(holder, el->identity) != 0)
        rl_log_kv(RL_LOG_INFO, "new leader", "lease", el->path, "holder", holder, NULL);
    if (el->on_new_leader)
        el->on_new_leader(el->ctx, holder);
}

/*
 * Takes over a write's reply: it is the base of the next PUT, and what we
 * have now seen of the Lease.
 */
static int take_reply(struct rl_elector *el, const struct rl_kube_response *resp)
{
    struct rl_lease rec = RL_LEASE_INIT;
    cJSON *obj = rl_kube_response_json(resp);
    int err = RL_EPARSE;

    if (!obj || rl_lease_from_json(&rec, obj))
        goto out;
    cJSON_Delete(el->obj);
    el->obj = obj;
    obj = NULL;
    rl_mutex_lock(&el->mu);
    rl_lease_view_update(&el->view, &rec, now_ms(el));
    rl_mutex_unlock(&el->mu);
    note_holder(el, rec.holder);
    err = 0;
out:
    cJSON_Delete(obj);
    rl_lease_release(&rec);
    return err;
}

/*
 * Acquire or renew the lease, like client-go's tryAcquireOrRenew(): 0 if
 * we hold it afterwards, RL_ECONFLICT if a live leader holds it or beat us
 * to the write, or the error that stopped us. *lost is set when the Lease
 * is definitely not ours (a leader must step down at once).
 */
static int try_acquire_or_renew(struct rl_elector *el, bool *lost)
{
    struct rl_kube_response resp;
    struct rl_lease cur = RL_LEASE_INIT;
    struct rl_lease next = RL_LEASE_INIT;
    enum rl_lease_action action;
    int64_t wall_us = rl_clock_wall_us(el->clock);
    cJSON *obj = NULL;
    char *body = NULL;
    int err;

    *lost = false;
    rl_kube_response_init(&resp);
    err = rl_kube_get(el->kube, el->path, &resp);
    if (err == RL_ENOTFOUND) {
        if (el->lead.leader) {          /* someone deleted our Lease */
            *lost = true;
            goto out;
        }
        rl_lease_next(&next, NULL, RL_LEASE_ACQUIRE, el->identity, el->lease_s, wall_us);
        body = rl_lease_body(NULL, &next, el->ns, el->name);
        rl_kube_response_release(&resp);
        rl_kube_response_init(&resp);
        err = rl_kube_create(el->kube, el->collection, body, &resp);  /* 409: someone won */
        goto written;
    }
    if (err)
        goto out;
    obj = rl_kube_response_json(&resp);
    if (!obj || rl_lease_from_json(&cur, obj)) {
        err = RL_EPARSE;
        goto out;
    }
    cJSON_Delete(el->obj);
    el->obj = obj;
    obj = NULL;

    /*
     * The clock is read after the GET: the record may have been written
     * while the request was in flight, and the expiry timer must not
     * start before the write did.
     */
    rl_mutex_lock(&el->mu);
    action = rl_lease_decide(&el->view, &cur, el->identity, now_ms(el));
    rl_mutex_unlock(&el->mu);
    note_holder(el, cur.holder);
    if (action == RL_LEASE_WAIT || (el->lead.leader && action != RL_LEASE_RENEW)) {
        *lost = true;
        err = RL_ECONFLICT;
        goto out;
    }

    if (!el->lead.leader)
        el->taking_over = !rl_lease_is_free(&cur);
    /* The PUT carries cur's resourceVersion: a racing writer earns a 409. */
    rl_lease_next(&next, &cur, action, el->identity, el->lease_s, wall_us);
    body = rl_lease_body(el->obj, &next, el->ns, el->name);
    rl_kube_response_release(&resp);
    rl_kube_response_init(&resp);
    err = rl_kube_update(el->kube, el->path, body, &resp);
written:
    if (err == 0)
        err = take_reply(el, &resp);
out:
    if (err && err != RL_ECONFLICT && resp.message[0])
        rl_log_kv(RL_LOG_DEBUG, "lease request failed", "lease", el->path, "error",
                  resp.message, NULL);
    free(body);
    cJSON_Delete(obj);
    rl_lease_release(&next);
    rl_lease_release(&cur);
    rl_kube_response_release(&resp);
    return err;
}

/* Logs a failure when it starts or changes, not every round. */
static void report(struct rl_elector *el, int err, bool was_leader)
{
    if (err == 0 || err == RL_ECONFLICT) {
        if (el->last_err && el->last_err != RL_ECONFLICT)
            rl_log_kv(RL_LOG_INFO, "lease reachable again", "lease", el->path, NULL);
    } else if (err != el->last_err) {
        /* The API server's own words (RBAC, admission) say what to fix. */
        const char *why = err == RL_EPARSE ? "" : rl_kube_last_error();
        char what[96];

        snprintf(what, sizeof(what), "cannot %s lease", was_leader ? "renew" : "acquire");
        rl_log_kv(RL_LOG_WARN, what, "lease", el->path, "error", rl_strerror(err),
                  "message", why && *why ? why : NULL, NULL);
    }
    el->last_err = err;
}

/*
 * Writes the release record over the last Lease we saw, if it is ours.
 * One more try after a 409 caused by a write that left it ours (a label
 * change); a 409 because someone took it over means there is nothing left
 * to release.
 */
static int release_lease(struct rl_elector *el)
{
    struct rl_kube_response resp;
    struct rl_lease cur = RL_LEASE_INIT;
    struct rl_lease next = RL_LEASE_INIT;
    char *body = NULL;
    int err = 0;

    rl_kube_response_init(&resp);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!el->obj || rl_lease_from_json(&cur, el->obj) || !rl_lease_held_by(&cur, el->identity))
            break;                      /* not ours: nothing to release */
        rl_lease_released(&next, &cur, rl_clock_wall_us(el->clock));
        free(body);
        body = rl_lease_body(el->obj, &next, el->ns, el->name);
        rl_kube_response_release(&resp);
        rl_kube_response_init(&resp);
        err = rl_kube_update(el->kube, el->path, body, &resp);
        if (err == 0) {
            take_reply(el, &resp);
            rl_log_kv(RL_LOG_INFO, "released lease", "lease", el->path, "identity",
                      el->identity, NULL);
            break;
        }
        if (err != RL_ECONFLICT)
            break;
        err = 0;                        /* re-read: released by a takeover already? */
        rl_kube_response_release(&resp);
        rl_kube_response_init(&resp);
        if (rl_kube_get(el->kube, el->path, &resp) == 0) {
            cJSON *obj = rl_kube_response_json(&resp);

            if (obj) {
                cJSON_Delete(el->obj);
                el->obj = obj;
            }
        } else {
            break;
        }
    }
    if (err)
        rl_warn("cannot release lease '%s/%s': %s", el->ns, el->name, rl_strerror(err));
    free(body);
    rl_lease_release(&next);
    rl_lease_release(&cur);
    rl_kube_response_release(&resp);

    if (el->lead.leader)
        apply(el, step_down(&el->lead));
    return err;
}

/*
 * Under el->mu, which it drops while the API call runs: releases the Lease,
 * records the outcome and wakes rl_elector_resign()'s waiter.
 */
static int release_and_signal(struct rl_elector *el)
{
    int err;

    rl_mutex_unlock(&el->mu);
    err = release_lease(el);
    rl_mutex_lock(&el->mu);
    el->release_err = err;
    el->release_done = true;
    rl_cond_broadcast(&el->released);
    return err;
}

/*
 * Waits, with `mu` held, until the next round is due at next_ms, or the
 * thread is kicked, released or stopped. A leader whose fence passes
 * meanwhile steps down at that instant.
 */
static void wait_round(struct rl_elector *el, uint64_t next_ms)
{
    for (;;) {
        uint64_t now, deadline;

        if (el->stopping || el->releasing || el->kick)
            return;
        now = now_ms(el);
        if (el->lead.leader && now >= el->lead.fence_until_ms) {
            enum rl_lead_event ev = rl_lead_check(&el->lead, now);

            rl_mutex_unlock(&el->mu);
            apply(el, ev);
            rl_mutex_lock(&el->mu);
            continue;
        }
        if (now >= next_ms)
            return;
        deadline = next_ms;
        if (el->lead.leader && el->lead.fence_until_ms < deadline)
            deadline = el->lead.fence_until_ms;
        /* The condvar runs on the real monotonic clock; wait the difference. */
        rl_cond_wait_until_ms(&el->wake, &el->mu, rl_mono_ms() + (deadline - now));
    }
}

static void *elector_main(void *arg)
{
    struct rl_elector *el = arg;

    rl_mutex_lock(&el->mu);
    for (;;) {
        uint64_t start;
        bool was_leader, lost;
        int err;

        /* A release asked for before stop() is carried out first. */
        if (el->releasing && !el->release_done)
            release_and_signal(el);
        if (el->stopping)
            break;
        if (el->releasing) {            /* released: compete no more */
            rl_cond_wait(&el->wake, &el->mu);
            continue;
        }
        el->kick = false;
        rl_mutex_unlock(&el->mu);

        /* The fence counts from before the request: the write lands later. */
        start = now_ms(el);
        was_leader = el->lead.leader;
        err = try_acquire_or_renew(el, &lost);
        report(el, err, was_leader);
        apply(el, rl_lead_after_attempt(&el->lead, err == 0, lost, start, now_ms(el),
                                        el->renew_ms));

        rl_mutex_lock(&el->mu);
        wait_round(el, start + el->retry_ms);
    }
    rl_mutex_unlock(&el->mu);

    if (el->lead.leader)
        apply(el, step_down(&el->lead));
    return NULL;
}

void rl_elector_start(struct rl_elector *el)
{
    rl_mutex_lock(&el->mu);
    RL_ASSERT(!el->started);
    el->started = true;
    el->running = true;
    rl_mutex_unlock(&el->mu);
    rl_thread_start(&el->thread, "rl-elector", elector_main, el);
}

void rl_elector_stop(struct rl_elector *el)
{
    bool join;

    atomic_store(&el->fenced, true);
    atomic_store(&el->fence_until_ms, 0);
    rl_mutex_lock(&el->mu);
    join = el->running && !el->stopping;
    el->stopping = true;
    rl_cond_broadcast(&el->wake);
    rl_cond_broadcast(&el->released);
    rl_mutex_unlock(&el->mu);
    if (!join)
        return;
    rl_thread_join(el->thread);
    rl_mutex_lock(&el->mu);
    el->running = false;
    rl_mutex_unlock(&el->mu);
}

int rl_elector_observe(struct rl_elector *el, const cJSON *lease)
{
    struct rl_lease cur = RL_LEASE_INIT;
    int err = 0;

    if (lease) {
        const cJSON *meta = rl_json_obj(lease, "metadata");
        const char *name = rl_json_str(meta, "name");
        const char *ns = rl_json_str(meta, "namespace");

        if (!cJSON_IsObject(lease) || !name)
            return RL_EPARSE;
        if (strcmp(name, el->name) != 0 || (ns && strcmp(ns, el->ns) != 0))
            return 0;                   /* another Lease of the namespace */
        if ((err = rl_lease_from_json(&cur, lease)))
            return err;
    }

    rl_mutex_lock(&el->mu);
    if (!el->stopping && !el->releasing) {
        bool leader = atomic_load(&el->leader);
        bool wake = true;               /* deleted: free for a follower, lost for a leader */

        if (lease) {
            enum rl_lease_action action =
                rl_lease_decide(&el->view, &cur, el->identity, now_ms(el));

            wake = leader ? action != RL_LEASE_RENEW : action != RL_LEASE_WAIT;
        }
        if (wake) {
            el->kick = true;
            rl_cond_signal(&el->wake);
        }
    }
    rl_mutex_unlock(&el->mu);
    rl_lease_release(&cur);
    return 0;
}

bool rl_elector_took_over(const struct rl_elector *el)
{
    return atomic_load(&el->took_over);
}

bool rl_elector_may_write(const struct rl_elector *el)
{
    uint64_t until = atomic_load(&el->fence_until_ms);

    if (atomic_load(&el->fenced) || until == 0)
        return false;
    return rl_clock_mono_ms(el->clock) < until;
}

uint64_t rl_elector_fence_left_ms(const struct rl_elector *el)
{
    uint64_t until = atomic_load(&el->fence_until_ms), now = rl_clock_mono_ms(el->clock);

    if (atomic_load(&el->fenced) || until <= now)
        return 0;
    return until - now;
}

int rl_elector_resign(struct rl_elector *el)
{
    uint64_t deadline;
    int err;

    atomic_store(&el->fenced, true);
    atomic_store(&el->fence_until_ms, 0);

    rl_mutex_lock(&el->mu);
    if (el->release_done) {
        err = el->release_err;
        rl_mutex_unlock(&el->mu);
        return err;
    }
    if (el->releasing && !el->running) {
        rl_mutex_unlock(&el->mu);
        return RL_ETIMEOUT;             /* another caller is releasing inline */
    }
    el->releasing = true;
    if (!el->running) {
        /* No thread: the caller owns the elector's state, release here. */
        err = release_and_signal(el);
        rl_mutex_unlock(&el->mu);
        return err;
    }
    rl_cond_broadcast(&el->wake);
    deadline = rl_mono_ms() + el->release_timeout_ms;
    while (!el->release_done && rl_mono_ms() < deadline)
        rl_cond_wait_until_ms(&el->released, &el->mu, deadline);
    err = el->release_done ? el->release_err : RL_ETIMEOUT;
    rl_mutex_unlock(&el->mu);
    return err;
}

bool rl_elector_is_leader(const struct rl_elector *el)
{
    return atomic_load(&el->leader);
}

uint64_t rl_elector_transitions(const struct rl_elector *el)
{
    return atomic_load(&el->transitions);
}

uint64_t rl_elector_acquired_at_ms(const struct rl_elector *el)
{
    return atomic_load(&el->acquired_at_ms);
}

const char *rl_elector_identity(const struct rl_elector *el)
{
    return el->identity;
}
