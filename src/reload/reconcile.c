/* reconcile.c - the reconcile contract: one workload, from the cache */
#include "reloadd/reload/reconcile.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/syntax.h"
#include "reloadd/config/policy.h"
#include "reloadd/kube/kube.h"
#include "reloadd/reload/budget.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/kind.h"
#include "reloadd/reload/marker.h"
#include "reloadd/reload/pause.h"
#include "reloadd/reload/plan.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/cap.h"
#include "reloadd/reload/gate.h"
#include "reloadd/reload/progress.h"
#include "reloadd/reload/window.h"
#include "reloadd/base/banned.h"

/* Waiting for the watch to show our last write of W (struct echo). */
#define ECHO_POLL_MS 1000           /* the echo enqueues W itself: this is a safety net */
#define ECHO_WAIT_MAX_MS 60000      /* past it, decide on the cache (and say so) */

/*
 * Our last successful write of W, until the cache shows it: the watch may
 * lag the write by seconds (a relist after an API server restart), and a
 * reconcile in between would judge W's old template - rolling it again for
 * a change its new pods already read. So a reconcile waits until W's
 * cached resourceVersion reaches the one the API server answered (or W has
 * another uid: deleted, recreated), polling as the watch catches up, at
 * most ECHO_WAIT_MAX_MS (docs/reconcile.md, "Our own writes").
 */
struct echo {
    uint64_t rv;                    /* 0: nothing awaited */
    char uid[RL_PLAN_UID_MAX];              /* the object we wrote (a Job: the new one) */
    char old_uid[RL_PLAN_UID_MAX];          /* a recreated Job: the one we deleted; "" */
    int64_t since_ms;
};

struct last_write {
    int64_t at_us;
    int err;
    enum rl_reconcile_action action;
    struct echo echo;
    /* The takeover (verify_epoch) for which the cache of W was checked against a GET. */
    unsigned verified_epoch;
    unsigned waiting_epoch;         /* ... and the one for which it waits since: */
    int64_t verify_since_ms;
};

/* The health gate (gate.h): sources tracked at most. */
#define GATE_MAX_SOURCES 4096
#define GATE_POLL_MIN_MS 1000       /* a waiting W looks again at the batch's deadline, */
#define GATE_POLL_MAX_MS 60000      /* ... within these bounds */

/* W is of the first batch of these source versions: what its rollout reports to. */
struct gate_flight {
    int64_t min_generation;         /* the object after our write: past the one planned */
    size_t n;
    struct gate_src {
        enum rl_source_type type;
        char *ns, *name, *key;
        char version[RL_HASH_HEX_SIZE];
    } src[];
};

static void gate_flight_free(void *v)
{
    struct gate_flight *gf = v;

    for (size_t i = 0; gf && i < gf->n; i++) {
        free(gf->src[i].ns);
        free(gf->src[i].name);
        free(gf->src[i].key);
    }
    free(gf);
}

struct rl_reconciler {
    struct rl_store *store;
    struct rl_kube *kube;
    const struct rl_policy *policy;
    struct rl_regex_cache *rc;
    const struct rl_clock *clock;
    struct rl_reconcile_hooks hooks;

    pthread_mutex_t mu;             /* guards `last` and `warned` */
    struct rl_map last;             /* wkey -> struct last_write */
    struct rl_map warned;           /* wkey -> hash of the problems last logged */
    struct rl_map held;             /* wkey -> held_until_s last reported */
    struct rl_budget budget;        /* --restart-budget per --restart-budget-period */
    struct rl_window_cache *windows;    /* --rollout-window and the annotations' windows */
    /* --max-concurrent-rollouts (cap.h); NULL: no cap. */
    struct rl_cap *cap;
    struct rl_map flight;           /* wkey -> 1 + its generation before our write (mu) */
    struct rl_map capped;           /* wkey -> waiting was logged (mu) */
    /* The health gate (gate.h): always there, asked for gated workloads only. */
    struct rl_gate *gate;
    struct rl_map gflight;          /* wkey -> struct gate_flight: batch member (mu) */
    struct rl_map gheld;            /* wkey -> hash of the held versions reported (mu) */
    /* rl_reconciler_assume_missed(): judge listed workloads as --sync-after-restart does. */
    atomic_bool missed_while_away;
    /* rl_reconciler_verify_takeover(): 0, or the takeover whose first rollouts are verified. */
    atomic_uint verify_epoch;
};

struct rl_reconciler *rl_reconciler_new(struct rl_store *store, struct rl_kube *kube,
                                        const struct rl_policy *policy,
                                        struct rl_regex_cache *rc, const struct rl_clock *clock,
                                        const struct rl_reconcile_hooks *hooks)
{
    struct rl_reconciler *r = RL_NEW(struct rl_reconciler);

    r->store = store;
    r->kube = kube;
    r->policy = policy;
    r->rc = rc;
    r->clock = clock;
    if (hooks)
        r->hooks = *hooks;
    rl_mutex_init(&r->mu);
    rl_map_init(&r->last);
    rl_map_init(&r->warned);
    rl_map_init(&r->held);
    r->budget.max = policy->restart_budget;
    r->budget.period_s = policy->restart_budget_period_s;
    {
        char err[300];

        /* main refuses a bad --rollout-window before this; a tool's policy may not. */
        if (rl_window_cache_new(policy->rollout_window, NULL, &r->windows, err,
                                sizeof(err)) != 0)
            rl_log_kv(RL_LOG_ERROR, "--rollout-window ignored", "error", err, NULL);
    }
    rl_map_init(&r->flight);
    rl_map_init(&r->capped);
    if (policy->max_concurrent_rollouts)
        r->cap = rl_cap_new(policy->max_concurrent_rollouts, policy->rollout_timeout_ms);
    r->gate = rl_gate_new(policy->health_gate_batch ? policy->health_gate_batch : 1,
                          policy->health_gate_timeout_ms, GATE_MAX_SOURCES);
    rl_map_init(&r->gflight);
    rl_map_init(&r->gheld);
    return r;
}

void rl_reconciler_free(struct rl_reconciler *r)
{
    if (!r)
        return;
    rl_map_release(&r->last, free);
    rl_map_release(&r->warned, NULL);
    rl_map_release(&r->held, NULL);
    rl_map_release(&r->flight, NULL);
    rl_map_release(&r->capped, NULL);
    rl_cap_free(r->cap);
    rl_map_release(&r->gflight, gate_flight_free);
    rl_map_release(&r->gheld, NULL);
    rl_gate_free(r->gate);
    rl_window_cache_free(r->windows);
    rl_mutex_destroy(&r->mu);
    free(r);
}

static int make_plan(struct rl_reconciler *r, const char *wkey, struct rl_plan *p)
{
    struct rl_plan_inputs in = {
        .store = r->store,
        .policy = r->policy,
        .rc = r->rc,
        .sync = r->policy->sync_after_restart || atomic_load(&r->missed_while_away),
        .budget = r->budget,
        .now_s = rl_clock_wall_us(r->clock) / 1000000,
        .windows = r->windows,
    };

    return rl_plan_make(&in, wkey, p);
}

/* --- writes -------------------------------------------------------------- */

static char *object_path(const struct rl_plan *p)
{
    return rl_kind_object_path(p->kind, p->ns, p->name);
}

static int check_write(struct rl_reconciler *r)
{
    if (r->hooks.may_write && !r->hooks.may_write(r->hooks.ctx))
        return RL_ENOTLEADER;
    return 0;
}

static void log_api_error(const char *what, const struct rl_plan *p, int err,
                          const struct rl_kube_response *resp)
{
    char wl[400];

    snprintf(wl, sizeof(wl), "%s/%s/%s", rl_kind_name(p->kind), p->ns, p->name);
    rl_log_kv(RL_LOG_ERROR, what, "workload", wl, "error", rl_strerror(err),
              "message", resp->message[0] ? resp->message : NULL, NULL);
}

/* Keeps what the API server answered a write of W: the revision the cache must reach. */
static void note_written(struct rl_plan *p, const struct rl_kube_response *resp)
{
    cJSON *obj = rl_kube_response_json(resp);
    const cJSON *meta = rl_json_obj(obj, "metadata");
    const char *uid = rl_json_str(meta, "uid");
    uint64_t rv = rl_store_parse_rv(rl_json_str(meta, "resourceVersion"));

    if (uid && rv != RL_STORE_RV_UNKNOWN) {
        p->wrote_rv = rv;
        strlcpy(p->wrote_uid, uid, sizeof(p->wrote_uid));
    }
    cJSON_Delete(obj);
}

/* PATCH the object. */
static int do_patch(struct rl_reconciler *r, struct rl_plan *p, const char *ctype,
                    const char *body)
{
    struct rl_kube_response resp;
    char *path = object_path(p), *full;
    int err;

    full = rl_xasprintf("%s?fieldManager=Reloader", path);
    rl_kube_response_init(&resp);
    err = check_write(r);
    if (!err)
        err = rl_kube_patch(r->kube, full, ctype, body, &resp);
    if (!err)
        note_written(p, &resp);
    if (err && err != RL_ENOTLEADER)
        log_api_error("cannot patch workload", p, err, &resp);
    rl_kube_response_release(&resp);
    free(full);
    free(path);
    return err;
}

/*
 * A record-only write of W that has no record of its own goes to the
 * workload state (state.h): W takes it in the store at once, and a batch
 * writes it to reloadd's namespace, never to W. RL_ENOENT: W is gone or
 * re-created since the plan. Anything else but 0 or RL_ENOTLEADER: the
 * caller writes it on W instead (the state is off, W holds a record itself,
 * its shard is full, its key cannot be a state key).
 */
static int write_state(struct rl_reconciler *r, const struct rl_plan *p, const char *wkey,
                       const struct rl_applied_entry *rec, size_t nrec, const char *history)
{
    struct rl_buf json;
    int err;

    if (p->record_on_workload || !p->uid)
        return RL_EINVAL;
    err = check_write(r);
    if (err)
        return err;
    rl_buf_init(&json, 0);
    err = rl_marker_applied_json(&json, rec, nrec, history, 0);
    if (!err)
        err = rl_store_set_state(r->store, wkey, p->uid, p->rv, json.buf);
    rl_buf_release(&json);
    return err;
}

/* GET the whole object (CronJob, Job, Rollout update). */
static int get_object(struct rl_reconciler *r, const struct rl_plan *p, cJSON **out)
{
    struct rl_kube_response resp;
    char *path = object_path(p);
    int err;

    rl_kube_response_init(&resp);
    err = rl_kube_get(r->kube, path, &resp);
    if (!err) {
        *out = rl_kube_response_json(&resp);
        if (!*out)
            err = RL_EPARSE;
    }
    rl_kube_response_release(&resp);
    free(path);
    return err;
}

static int create_job(struct rl_reconciler *r, struct rl_plan *p, cJSON *job)
{
    struct rl_kube_response resp;
    char *coll = rl_xasprintf("/apis/batch/v1/namespaces/%s/jobs?fieldManager=Reloader", p->ns);
    char *body = rl_json_print(job);
    int err;

    rl_kube_response_init(&resp);
    err = check_write(r);
    if (!err)
        err = rl_kube_create(r->kube, coll, body, &resp);
    if (!err && rl_kind_info(p->kind)->writer == RL_WRITER_RECREATE_JOB) {
        note_written(p, &resp);     /* W is this Job now; a CronJob's record patch follows */
        p->replaced = true;
    }
    if (err && err != RL_ENOTLEADER)
        log_api_error("cannot create job", p, err, &resp);
    rl_kube_response_release(&resp);
    free(body);
    free(coll);
    return err;
}

/*
 * The markers and the record applied to the whole object, sent as an update
 * (PUT): its resourceVersion turns a race with another writer into a 409.
 */
static int update_object(struct rl_reconciler *r, struct rl_plan *p, cJSON *obj,
                         const struct rl_rollout *ro, const char *what)
{
    struct rl_kube_response resp;
    char *path, *full, *json;
    int err = rl_marker_apply(obj, p->kind, ro);

    if (err)
        return err;
    path = object_path(p);
    full = rl_xasprintf("%s?fieldManager=Reloader", path);
    json = rl_json_print(obj);
    rl_kube_response_init(&resp);
    err = check_write(r);
    if (!err)
        err = rl_kube_update(r->kube, full, json, &resp);
    if (!err)
        note_written(p, &resp);
    if (err && err != RL_ENOTLEADER)
        log_api_error(what, p, err, &resp);
    rl_kube_response_release(&resp);
    free(json);
    free(full);
    free(path);
    return err;
}

static int write_rollout(struct rl_reconciler *r, struct rl_plan *p,
                         const struct rl_rollout *ro, const struct rl_applied_entry *rec,
                         size_t nrec, bool pause)
{
    struct rl_buf body;
    cJSON *obj = NULL, *job = NULL;
    int err = 0;

    rl_buf_init(&body, 0);
    switch (rl_kind_info(p->kind)->writer) {
    case RL_WRITER_PATCH_TEMPLATE:
        err = rl_patch_rollout(&body, ro);
        /* The pause rides in the same patch: the new template never rolls unpaused. */
        if (!err && pause)
            err = rl_pause_add_to_patch(&body, r->policy->key.paused_at,
                                        rl_clock_wall_us(r->clock));
        if (!err)
            err = do_patch(r, p, "application/strategic-merge-patch+json", body.buf);
        break;
    case RL_WRITER_ARGO_ROLLOUT:
        if (p->argo_restart) {
            err = rl_patch_rollout_restart(&body, ro);
            if (!err)
                err = do_patch(r, p, "application/merge-patch+json", body.buf);
            break;
        }
        err = get_object(r, p, &obj);
        if (!err)
            err = update_object(r, p, obj, ro, "cannot update rollout");
        break;
    case RL_WRITER_UPDATE_TEMPLATE:     /* a declared kind: no strategic merge for CRDs */
        err = get_object(r, p, &obj);
        if (!err)
            err = update_object(r, p, obj, ro, "cannot update workload");
        break;
    case RL_WRITER_SET_FIELD:
        err = rl_patch_set_field(&body, ro, rl_kind_info(p->kind)->field_path);
        if (!err)
            err = do_patch(r, p, "application/merge-patch+json", body.buf);
        break;
    case RL_WRITER_CRONJOB:
        /*
         * --cronjob-strategy=template: the markers go into the job template,
         * for the next scheduled run, with the record, in one patch (the
         * Deployment's, one level down); no off-schedule Job, and a
         * suspended CronJob stays idle (Reloader's #822 runs those).
         */
        if (r->policy->cronjob_template) {
            err = rl_patch_rollout(&body, ro);
            if (!err)
                err = rl_patch_nest_template(&body, "jobTemplate");
            if (!err)
                err = do_patch(r, p, "application/strategic-merge-patch+json", body.buf);
            break;
        }
        err = get_object(r, p, &obj);
        /* A Job from the template now; the record goes on the CronJob itself. */
        if (!err)
            err = rl_job_from_cronjob(obj, ro, &job);
        if (!err)
            err = create_job(r, p, job);
        if (!err) {
            err = rl_patch_record(&body, ro->applied_key, rec, nrec, ro->history, ro->pending_s);
            if (!err)
                err = do_patch(r, p, "application/merge-patch+json", body.buf);
        }
        break;
    case RL_WRITER_RECREATE_JOB: {
        struct rl_kube_response resp;
        char *path = object_path(p);

        err = get_object(r, p, &obj);
        if (!err)
            err = rl_job_recreate(obj, ro, &job);
        if (!err)
            err = check_write(r);
        if (!err) {
            rl_kube_response_init(&resp);
            err = rl_kube_delete(r->kube, path, "Background", &resp);
            if (err == RL_ENOTFOUND)
                err = 0;
            if (err)
                log_api_error("cannot delete job for recreation", p, err, &resp);
            rl_kube_response_release(&resp);
        }
        /* The name is free once the old Job is gone; retry a 409 briefly. */
        for (int i = 0; !err && i < 50; i++) {
            err = create_job(r, p, job);
            if (err != RL_ECONFLICT)
                break;
            struct timespec ts = { 0, 100 * 1000000L };
            nanosleep(&ts, NULL);
        }
        free(path);
        break;
    }
    }
    cJSON_Delete(job);
    cJSON_Delete(obj);
    rl_buf_release(&body);
    return err;
}

/* --- pause period -------------------------------------------------------- */

static void requeue(struct rl_reconciler *r, const char *wkey, uint64_t delay_ms)
{
    if (r->hooks.requeue_after)
        r->hooks.requeue_after(r->hooks.ctx, wkey, delay_ms);
}

/* Whether the Deployment is paused already (by someone else): one GET. */
static int deployment_paused(struct rl_reconciler *r, const struct rl_plan *p, bool *paused)
{
    cJSON *obj = NULL;
    int err = get_object(r, p, &obj);

    if (!err)
        *paused = rl_json_bool(rl_json_obj(obj, "spec"), "paused", false);
    cJSON_Delete(obj);
    return err;
}

static int resume(struct rl_reconciler *r, struct rl_plan *p, const char *wkey,
                  const struct rl_pause *pz)
{
    struct rl_buf body;
    int err;

    rl_buf_init(&body, 0);
    err = rl_pause_resume_patch(&body, r->policy->key.paused_at);
    if (!err && r->policy->dry_run) {
        rl_log_kv(RL_LOG_INFO, "dry-run: would resume deployment", "workload", wkey,
                  "why", pz->why, NULL);
    } else if (!err) {
        err = do_patch(r, p, "application/strategic-merge-patch+json", body.buf);
        if (!err)
            rl_log_kv(RL_LOG_INFO, "resumed deployment paused by reloadd", "workload", wkey,
                      "why", pz->why, NULL);
    }
    rl_buf_release(&body);
    return err;
}

/* W's entry in r->last, made if need be. r->mu held. */
static struct last_write *last_write_of(struct rl_reconciler *r, const char *wkey)
{
    struct last_write *lw = rl_map_get(&r->last, wkey);

    if (!lw) {
        lw = RL_NEW(struct last_write);
        rl_map_put(&r->last, wkey, lw);
    }
    return lw;
}

static void remember(struct rl_reconciler *r, const char *wkey, enum rl_reconcile_action action,
                     int err)
{
    struct last_write *lw;

    rl_mutex_lock(&r->mu);
    lw = last_write_of(r, wkey);
    lw->at_us = rl_clock_wall_us(r->clock);
    lw->err = err;
    lw->action = action;
    rl_mutex_unlock(&r->mu);
}

/* After a write of W: the next reconcile waits until the cache shows it (struct echo). */
static void expect_echo(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p)
{
    struct last_write *lw;

    if (!p->wrote_rv)
        return;
    rl_mutex_lock(&r->mu);
    lw = last_write_of(r, wkey);
    lw->echo.rv = p->wrote_rv;
    strlcpy(lw->echo.uid, p->wrote_uid, sizeof(lw->echo.uid));
    strlcpy(lw->echo.old_uid, p->replaced && p->uid ? p->uid : "", sizeof(lw->echo.old_uid));
    lw->echo.since_ms = (int64_t)rl_clock_mono_ms(r->clock);
    rl_mutex_unlock(&r->mu);
}

/* A wait for the watch (struct echo, or after a takeover) given up after ECHO_WAIT_MAX_MS. */
static void warn_gave_up(const char *what, const char *wkey, int64_t waited_ms)
{
    char ms[32];

    snprintf(ms, sizeof(ms), "%" PRId64, waited_ms);
    rl_log_kv(RL_LOG_WARN, what, "workload", wkey, "waited_ms", ms, NULL);
}

/*
 * Whether the cache has not caught up with our last write of W yet: W in
 * the cache is the object we wrote at an older revision, or the Job we
 * replaced. Deciding now would judge the template our write replaced.
 * Past ECHO_WAIT_MAX_MS we decide anyway, with a warning: a watch that
 * shows nothing for a minute is broken, and a late reload is worse than
 * waiting longer.
 */
static bool echo_pending(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p)
{
    const char *uid = p->uid ? p->uid : "";
    struct last_write *lw;
    bool pending = false, gave_up = false;
    int64_t waited = 0;

    rl_mutex_lock(&r->mu);
    lw = rl_map_get(&r->last, wkey);
    if (lw && lw->echo.rv) {
        waited = (int64_t)rl_clock_mono_ms(r->clock) - lw->echo.since_ms;
        pending = (strcmp(uid, lw->echo.uid) == 0 &&
                   (p->rv == RL_STORE_RV_UNKNOWN || p->rv < lw->echo.rv)) ||
                  (lw->echo.old_uid[0] && strcmp(uid, lw->echo.old_uid) == 0);
        if (pending && waited >= ECHO_WAIT_MAX_MS) {
            pending = false;
            gave_up = true;
        }
        if (!pending)
            lw->echo.rv = 0;
    }
    rl_mutex_unlock(&r->mu);
    if (gave_up)
        warn_gave_up("the watch has not shown our last write of the workload; deciding on the "
                     "cache", wkey, waited);
    return pending;
}

/*
 * After a takeover (rl_reconciler_verify_takeover), before the first
 * rollout of W: whether the API server holds a W the cache would decide
 * differently for. The previous leader's last writes may not have reached
 * this replica's watches yet (after an API server restart a watch comes
 * back seconds late); a rollout decided on that cache could repeat one the
 * old leader made. One GET per workload and takeover, for rollouts only;
 * while the cache is behind, the reconcile waits for the watch (as for our
 * own writes, struct echo), at most ECHO_WAIT_MAX_MS. Behind means another
 * uid, generation or annotation (rl_workload_decides_alike), not a newer
 * resourceVersion: the controllers' status updates, which come every few
 * seconds on a rolling workload, would delay the first write of the new
 * leader for nothing.
 */
static bool live_differs(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p,
                         const cJSON *live)
{
    const cJSON *meta = rl_json_obj(live, "metadata");
    struct rl_workload_keys keys;
    struct rl_workload *lw = NULL;
    const struct rl_workload *cw;
    bool differs;

    rl_workload_keys_init(&keys, r->policy);
    if (rl_workload_decode(live, p->kind, &keys, &lw) != 0)   /* as before: by version */
        return strcmp(rl_json_str_or(meta, "uid", ""), p->uid ? p->uid : "") != 0 ||
               rl_store_parse_rv(rl_json_str(meta, "resourceVersion")) > p->rv;
    rl_store_rdlock(r->store);
    cw = rl_store_workload(r->store, wkey);
    differs = !cw || !rl_workload_decides_alike(cw, lw);
    rl_store_unlock(r->store);
    rl_workload_free(lw);
    return differs;
}

static bool cache_behind_after_takeover(struct rl_reconciler *r, const char *wkey,
                                        const struct rl_plan *p)
{
    unsigned epoch = atomic_load(&r->verify_epoch);
    cJSON *live = NULL;
    bool behind = false, gave_up = false;
    struct last_write *lw;
    int64_t now, waited = 0;

    /* A follower's rollout is refused at the write: no GET for it. */
    if (!epoch || p->rv == RL_STORE_RV_UNKNOWN || check_write(r) != 0)
        return false;
    rl_mutex_lock(&r->mu);
    lw = last_write_of(r, wkey);
    behind = lw->verified_epoch != epoch;
    rl_mutex_unlock(&r->mu);
    if (!behind || get_object(r, p, &live) != 0)
        return false;               /* verified, or the write will tell (404, ...) */
    behind = live_differs(r, wkey, p, live);
    cJSON_Delete(live);
    now = (int64_t)rl_clock_mono_ms(r->clock);
    rl_mutex_lock(&r->mu);
    lw = last_write_of(r, wkey);
    if (behind && lw->waiting_epoch != epoch) {
        lw->waiting_epoch = epoch;
        lw->verify_since_ms = now;
    }
    waited = behind ? now - lw->verify_since_ms : 0;
    gave_up = behind && waited >= ECHO_WAIT_MAX_MS;
    if (!behind || gave_up)
        lw->verified_epoch = epoch;
    rl_mutex_unlock(&r->mu);
    if (gave_up) {
        warn_gave_up("the watch has not caught up with the API server since this replica took "
                     "over; deciding on the cache", wkey, waited);
        return false;
    }
    if (behind)
        rl_log_kv(RL_LOG_DEBUG, "the cache is behind the API server after a takeover; waiting "
                  "for the watch", "workload", wkey, NULL);
    return behind;
}

/* Decides nothing now: W comes back once the watch may have caught up (the echo queues it too). */
static int wait_for_watch(struct rl_reconciler *r, const char *wkey, struct rl_plan *p)
{
    requeue(r, wkey, ECHO_POLL_MS);
    rl_plan_release(p);
    free(p);
    return 0;
}

void rl_reconciler_verify_takeover(struct rl_reconciler *r)
{
    atomic_fetch_add(&r->verify_epoch, 1);
}

static void cap_drain(struct rl_reconciler *r);

static void forget(struct rl_reconciler *r, const char *wkey)
{
    rl_mutex_lock(&r->mu);
    free(rl_map_del(&r->last, wkey));
    rl_map_del(&r->warned, wkey);
    rl_map_del(&r->held, wkey);
    rl_map_del(&r->flight, wkey);
    rl_map_del(&r->capped, wkey);
    gate_flight_free(rl_map_del(&r->gflight, wkey));
    rl_map_del(&r->gheld, wkey);
    rl_mutex_unlock(&r->mu);
    /* A deleted workload leaves every first batch: the next to ask takes its place. */
    rl_gate_forget_workload(r->gate, wkey);
    /* A deleted workload leaves the cap's queue and frees its slot. */
    if (r->cap && rl_cap_remove(r->cap, wkey))
        cap_drain(r);
}

/* An auto annotation whose value Go's ParseBool rejects counts as false. */
static void note_bad_bool(struct rl_buf *b, const struct rl_workload *w, const char *key)
{
    const char *v = rl_workload_meta(w, key);
    bool ok = true;

    if (!v)
        v = rl_workload_pod(w, key);
    if (v && *v)
        rl_parse_bool_go(v, &ok);
    if (v && *v && !ok)
        rl_buf_addf(b, "annotation %s has value \"%.64s\", not a boolean: treated as false; ",
                    key, v);
}

/*
 * Logs what is wrong with a workload's annotations (a bad regex, a value
 * that is not a boolean, a source no container can take) once per change
 * of the problems, not once per reconcile: a broken workload must be
 * visible without flooding the log, and never stops the others.
 */
static void warn_problems(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p)
{
    static const enum rl_source_type lists[2] = { RL_SOURCE_CONFIGMAP, RL_SOURCE_SECRET };
    const struct rl_policy *o = r->policy;
    const struct rl_workload *w;
    bool bad_list[RL_SOURCE_COUNT] = { false };
    struct rl_buf b;
    uintptr_t h, old;

    /* The leader speaks for W: a follower that noted it first would mute it once it leads. */
    if (r->hooks.may_write && !r->hooks.may_write(r->hooks.ctx))
        return;
    rl_buf_init(&b, 8192);
    rl_store_rdlock(r->store);
    w = rl_store_workload(r->store, wkey);
    if (w) {
        note_bad_bool(&b, w, o->key.auto_all);
        note_bad_bool(&b, w, o->key.configmap_auto);
        note_bad_bool(&b, w, o->key.secret_auto);
        /* Whole lists: one refused or with a bad item names no source to blame. */
        for (int t = 0; t < 2; t++) {
            const char *list = rl_decide_reload_list(w, lists[t], o);
            char err[300];

            if (list && !rl_decide_list_ok(r->rc, list, err, sizeof(err))) {
                rl_buf_addf(&b, "%s reload list: %s; ", rl_source_type_lower(lists[t]), err);
                bad_list[lists[t]] = true;
            }
        }
    }
    rl_store_unlock(r->store);
    if (p->budget_problem[0])
        rl_buf_addf(&b, "%s; ", p->budget_problem);
    if (p->window_problem[0])
        rl_buf_addf(&b, "annotation %s: %s (the default applies); ",
                    o->key.rollout_window, p->window_problem);
    if (p->gate_problem[0])
        rl_buf_addf(&b, "%s; ", p->gate_problem);
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].problem[0] && !(p->items[i].regex && bad_list[p->items[i].type]))
            rl_buf_addf(&b, "%s/%s: %s; ", rl_source_type_lower(p->items[i].type),
                        p->items[i].name, p->items[i].problem);
    h = b.len ? (uintptr_t)rl_hash_str(b.buf) | 1 : 0;
    rl_mutex_lock(&r->mu);
    old = (uintptr_t)rl_map_get(&r->warned, wkey);
    if (h != old) {
        if (h)
            rl_map_put(&r->warned, wkey, (void *)h);
        else
            rl_map_del(&r->warned, wkey);
    }
    rl_mutex_unlock(&r->mu);
    if (h && h != old) {
        rl_log_kv(RL_LOG_WARN, "workload annotations need attention", "workload", wkey,
                  "problems", b.buf, NULL);
        if (r->hooks.on_problem) {
            b.buf[b.len - 2] = '\0';           /* the last "; " */
            r->hooks.on_problem(r->hooks.ctx, p->kind, p->ns, p->name, p->uid, b.buf);
        }
    }
    rl_buf_release(&b);
}

/*
 * The first hold of W, whatever holds it (a closed window, a spent restart
 * budget, the rollout cap, the health gate): the record as it stands, marked
 * pending - one record-only write - so that a restarted or new leader still
 * rolls W for the change it was held from. A record with @pending judges
 * stale sources as --sync-after-restart does; without the mark, a reloadd
 * that lists W at start-up adopts the change W never got. The rollout drops
 * the mark in its own write; a change reverted drops it too (plan.c). Later
 * holds find the mark and write nothing. Not in a dry run.
 */
static int mark_pending(struct rl_reconciler *r, const char *wkey, struct rl_plan *p)
{
    struct rl_applied_entry rec[RL_PLAN_MAX_SOURCES];
    struct rl_buf body;
    size_t n;
    int err;

    if (p->pending_since_s || r->policy->dry_run)
        return 0;
    n = rl_plan_record_held(p, rec);
    rl_buf_init(&body, 0);
    err = rl_patch_record(&body, r->policy->key.applied, rec, n, p->history,
                          rl_clock_wall_us(r->clock) / 1000000);
    if (!err)
        err = do_patch(r, p, "application/merge-patch+json", body.buf);
    rl_buf_release(&body);
    if (err != RL_ENOTLEADER)
        remember(r, wkey, RL_ACTION_RECORD, err);
    expect_echo(r, wkey, p);
    return err;
}

/*
 * A rollout is due but W's restart budget is spent, or its window is
 * closed: no rollout (rl_reconcile() marks the change pending), W is
 * reconciled again when the budget frees or the window opens, and the
 * leader reports it once per hold.
 */
static void hold(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p)
{
    int64_t now_s = rl_clock_wall_us(r->clock) / 1000000;
    int64_t until_s = p->window_opens_at_s ? p->window_opens_at_s : p->held_until_s;
    int64_t left_s = until_s > now_s ? until_s - now_s : 0;
    unsigned used = rl_budget_used(&p->budget, p->history, now_s);
    char until[32];
    uintptr_t was;

    requeue(r, wkey, (uint64_t)left_s * 1000 + 500);
    if (r->hooks.may_write && !r->hooks.may_write(r->hooks.ctx))
        return;
    rl_mutex_lock(&r->mu);
    was = (uintptr_t)rl_map_get(&r->held, wkey);
    if (was != (uintptr_t)until_s)
        rl_map_put(&r->held, wkey, (void *)(uintptr_t)until_s);
    rl_mutex_unlock(&r->mu);
    if (was == (uintptr_t)until_s)
        return;
    rl_format_rfc3339(until_s * 1000000, until);
    if (p->window_opens_at_s) {
        rl_log_kv(RL_LOG_INFO, "maintenance window closed: rollout pending until it opens",
                  "workload", wkey, "window", p->window_value, "until", until, NULL);
        if (r->hooks.on_window_held)
            r->hooks.on_window_held(r->hooks.ctx, p->kind, p->ns, p->name, p->uid,
                                    p->window_value, until_s);
        return;
    }
    {
        char budget[64];

        snprintf(budget, sizeof(budget), "%u rollouts per %llds", p->budget.max,
                 (long long)p->budget.period_s);
        rl_log_kv(RL_LOG_WARN, "restart budget spent: rollout held", "workload", wkey,
                  "budget", budget, "until", until, NULL);
        if (r->hooks.on_held)
            r->hooks.on_held(r->hooks.ctx, p->kind, p->ns, p->name, p->uid, used,
                             p->budget.max, p->budget.period_s, p->held_until_s);
    }
}

/* A rollout joins the budget's history in the same write; a record-only write keeps it. */
static void plan_history(const struct rl_plan *p, struct rl_rollout *ro, struct rl_buf *buf)
{
    ro->history = p->history;
    if (p->action != RL_ACTION_ROLLOUT)
        return;
    if (rl_budget_add(buf, &p->budget, p->history, ro->now_s) != 0)
        rl_buf_reset(buf);
    ro->history = buf->len ? buf->buf : NULL;
}

/* The markers of every source that rolls W and the whole record: one write. */
static void plan_rollout(const struct rl_reconciler *r, const struct rl_plan *p,
                         struct rl_marker markers[RL_PLAN_MAX_SOURCES],
                         struct rl_applied_entry rec[RL_PLAN_MAX_SOURCES], struct rl_rollout *ro)
{
    size_t nmark = 0;
    int64_t now_s = rl_clock_wall_us(r->clock) / 1000000;

    for (size_t i = 0; i < p->n && !p->window_opens_at_s; i++) {
        const struct rl_plan_item *it = &p->items[i];

        if (it->verdict != RL_VERDICT_ROLL && it->verdict != RL_VERDICT_ROLL_DELETED)
            continue;
        markers[nmark].type = it->type;
        markers[nmark].name = it->name;
        markers[nmark].hash = it->verdict == RL_VERDICT_ROLL_DELETED ? NULL : it->desired;
        markers[nmark].container = it->container;
        nmark++;
    }
    *ro = (struct rl_rollout){
        .strategy = p->strategy,
        .ns = p->ns,
        .markers = markers,
        .n_markers = nmark,
        .record = rec,
        .n_record = rl_plan_record(p, rec),
        .applied_key = r->policy->key.applied,
        .now_s = now_s,
    };
}

/* --- the rollout cap (--max-concurrent-rollouts, cap.h) ------------------ */

/* Queues the keys the cap lets roll now: their reconcile finds them in flight. */
static void cap_drain(struct rl_reconciler *r)
{
    uint64_t now = rl_clock_mono_ms(r->clock);
    char *k;

    while ((k = rl_cap_next_ready(r->cap, now)) != NULL) {
        requeue(r, k, 0);
        free(k);
    }
}

static void flight_forget(struct rl_reconciler *r, const char *wkey)
{
    rl_mutex_lock(&r->mu);
    rl_map_del(&r->flight, wkey);
    rl_mutex_unlock(&r->mu);
}

static void cap_expired(void *ctx, const char *wkey)
{
    struct rl_reconciler *r = ctx;

    flight_forget(r, wkey);
    rl_log_kv(RL_LOG_WARN, "rollout not available within --rollout-timeout; its slot goes to "
              "the next workload", "workload", wkey, NULL);
}

/*
 * No rollout of W is due (any more): if it waited, or was handed a slot and
 * has not written, it leaves the cap - a change reverted while it waited
 * must not hold a slot. A rollout of ours in flight keeps its slot.
 */
static void cap_nothing_due(struct rl_reconciler *r, const char *wkey)
{
    bool ours;

    rl_mutex_lock(&r->mu);
    ours = rl_map_has(&r->flight, wkey);
    rl_map_del(&r->capped, wkey);
    rl_mutex_unlock(&r->mu);
    if (!ours && rl_cap_remove(r->cap, wkey))
        cap_drain(r);
}

/* W's rollout is over, or was never written: its slot goes to the next in line. */
static void cap_finish(struct rl_reconciler *r, const char *wkey)
{
    flight_forget(r, wkey);
    if (rl_cap_finish(r->cap, wkey))
        cap_drain(r);
}

/*
 * Whether W may roll now. If not, it waits in order of arrival (marked
 * pending once, by rl_reconcile()), and the reconcile that the cap queues
 * when a slot frees rolls W once, with whatever its sources hold then. A
 * waiting W is also looked at again after --rollout-timeout, which expires
 * a slot that nothing reported on.
 */
static bool cap_admit(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p)
{
    uint64_t now = rl_clock_mono_ms(r->clock);
    bool logged;

    if (rl_cap_expire(r->cap, now, cap_expired, r))
        cap_drain(r);
    if (rl_cap_admit(r->cap, wkey, now) == RL_CAP_ROLL) {
        rl_mutex_lock(&r->mu);
        rl_map_put(&r->flight, wkey, (void *)(uintptr_t)(p->generation + 1));
        rl_map_del(&r->capped, wkey);
        rl_mutex_unlock(&r->mu);
        return true;
    }
    requeue(r, wkey, r->policy->rollout_timeout_ms + 100);
    rl_mutex_lock(&r->mu);
    logged = rl_map_has(&r->capped, wkey);
    if (!logged)
        rl_map_put(&r->capped, wkey, NULL);
    rl_mutex_unlock(&r->mu);
    if (!logged) {
        char max[16];

        snprintf(max, sizeof(max), "%u", r->policy->max_concurrent_rollouts);
        rl_log_kv(RL_LOG_INFO, "rollout waits: --max-concurrent-rollouts workloads are rolling",
                  "workload", wkey, "max", max, NULL);
    }
    return false;
}

/* --- the health gate (--health-gate, gate.h) ----------------------------- */

/* Whether item it's rollout asks the gate: a change to a new version (a deletion does not). */
static bool gate_item(const struct rl_plan_item *it)
{
    return it->verdict == RL_VERDICT_ROLL && it->desired[0];
}

/*
 * What the gate says of W for item it's version, without joining a batch:
 * /explain's view, and rl_reconcile()'s look before it asks.
 */
static enum rl_gate_verdict gate_peek(struct rl_reconciler *r, const char *wkey,
                                      const struct rl_plan *p, const struct rl_plan_item *it,
                                      struct rl_gate_info *info, bool *member)
{
    char key[RL_STORE_KEY_MAX];

    rl_store_source_key(key, sizeof(key), it->type, p->ns, it->name);
    rl_gate_info(r->gate, key, rl_clock_mono_ms(r->clock), info);
    *member = false;
    if (!info->tracked || strncmp(info->version, it->desired, RL_GATE_VERSION_MAX) != 0)
        return RL_GATE_ROLL;            /* a new version: a new batch, W may be of it */
    *member = rl_gate_member(r->gate, key, it->desired, wkey);
    return *member ? RL_GATE_ROLL : info->verdict;
}

static void wake_one(void *ctx, const char *wkey)
{
    requeue(ctx, wkey, 0);
}

/*
 * A final judgement of W's rollout for one version (gs) it is a batch member
 * of; a batch that comes out of it (passed or held) has its source's
 * dependents look again now. Whether W was of that batch.
 */
static bool gate_report_final(struct rl_reconciler *r, const struct gate_src *gs,
                              const char *wkey, enum rl_progress pr, uint64_t now)
{
    struct rl_gate_info before, after;

    rl_gate_info(r->gate, gs->key, now, &before);
    if (!rl_gate_report(r->gate, gs->key, gs->version, wkey, pr, now))
        return false;
    rl_gate_info(r->gate, gs->key, now, &after);
    if (after.verdict != before.verdict) {
        rl_store_rdlock(r->store);
        rl_store_dependents(r->store, gs->type, gs->ns, gs->name, wake_one, r);
        rl_store_unlock(r->store);
    }
    return true;
}

/*
 * W's rollout as the judge sees it, reported to the batches W is of, if
 * this is the object after our write (generation past the one planned
 * from); a final judgement ends W's membership, and a batch that comes out
 * of it wakes its source's dependents.
 */
static void gate_report(struct rl_reconciler *r, const char *wkey, int64_t generation,
                        enum rl_progress pr)
{
    uint64_t now = rl_clock_mono_ms(r->clock);
    struct gate_flight *gf;
    bool failed = false;

    rl_mutex_lock(&r->mu);
    gf = rl_map_get(&r->gflight, wkey);
    if (!gf || generation < gf->min_generation) {
        rl_mutex_unlock(&r->mu);
        return;
    }
    if (pr == RL_PROGRESS_RUNNING) {
        for (size_t i = 0; i < gf->n; i++)
            rl_gate_report(r->gate, gf->src[i].key, gf->src[i].version, wkey, pr, now);
        rl_mutex_unlock(&r->mu);
        return;
    }
    rl_map_del(&r->gflight, wkey);
    rl_mutex_unlock(&r->mu);
    for (size_t i = 0; i < gf->n; i++)
        failed |= gate_report_final(r, &gf->src[i], wkey, pr, now) && pr == RL_PROGRESS_FAILED;
    if (failed)
        rl_log_kv(RL_LOG_WARN, "health gate: a first-batch rollout failed; the source version "
                  "stops propagating", "workload", wkey, "source", gf->src[0].key, NULL);
    gate_flight_free(gf);
}

/* W joined the first batch of the versions of items marked in `in`: its rollout reports there. */
static void gate_note_flight(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p,
                             const bool *in, size_t n_in)
{
    struct gate_flight *old, *gf;
    size_t n = 0;

    rl_mutex_lock(&r->mu);
    old = rl_map_del(&r->gflight, wkey);
    gf = rl_xmalloc(sizeof(*gf) + (n_in + (old ? old->n : 0)) * sizeof(gf->src[0]));
    for (size_t i = 0; i < p->n; i++) {
        const struct rl_plan_item *it = &p->items[i];
        char key[RL_STORE_KEY_MAX];

        if (!in[i])
            continue;
        rl_store_source_key(key, sizeof(key), it->type, p->ns, it->name);
        gf->src[n].type = it->type;
        gf->src[n].ns = rl_xstrdup(p->ns);
        gf->src[n].name = rl_xstrdup(it->name);
        gf->src[n].key = rl_xstrdup(key);
        strlcpy(gf->src[n].version, it->desired, sizeof(gf->src[n].version));
        n++;
    }
    /* A rollout still judged for other versions: this one's progress stands for it too. */
    for (size_t j = 0; old && j < old->n; j++) {
        bool dup = false;

        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(gf->src[i].key, old->src[j].key) == 0;
        if (dup)
            continue;
        gf->src[n++] = old->src[j];
        old->src[j].ns = old->src[j].name = old->src[j].key = NULL;
    }
    gf->n = n;
    gf->min_generation = p->generation + 1;
    rl_map_put(&r->gflight, wkey, gf);
    rl_mutex_unlock(&r->mu);
    gate_flight_free(old);
}

/* The gate's answer for W: the worst of its sources' (HOLD over WAIT over ROLL). */
struct gate_answer {
    enum rl_gate_verdict v;
    const struct rl_plan_item *it;      /* the source held or waited on */
    struct rl_gate_info info;           /* ... its version's batch */
};

static void gate_worse(struct gate_answer *a, enum rl_gate_verdict v,
                       const struct rl_plan_item *it, const struct rl_gate_info *info)
{
    if (v == RL_GATE_ROLL || a->v == RL_GATE_HOLD || (a->v == RL_GATE_WAIT && v == RL_GATE_WAIT))
        return;
    a->v = v;
    a->it = it;
    a->info = *info;
}

/*
 * Asks the gate for each version W is to roll for. A look first, so that W
 * joins no batch while another version holds it back; then the asks, which
 * may join batches. Should one ask not ROLL after all (another worker
 * filled a batch meanwhile), W writes nothing for the batches it joined
 * and reports them DONE (gate.h).
 */
static void gate_ask(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p,
                     struct gate_answer *a)
{
    uint64_t now = rl_clock_mono_ms(r->clock);
    bool in[RL_PLAN_MAX_SOURCES] = { false }, member;
    struct rl_gate_info info;
    size_t n_in = 0;

    memset(a, 0, sizeof(*a));
    a->v = RL_GATE_ROLL;
    for (size_t i = 0; i < p->n; i++)
        if (gate_item(&p->items[i]))
            gate_worse(a, gate_peek(r, wkey, p, &p->items[i], &info, &member), &p->items[i],
                       &info);
    if (a->v != RL_GATE_ROLL)
        return;
    for (size_t i = 0; i < p->n; i++) {
        const struct rl_plan_item *it = &p->items[i];
        char key[RL_STORE_KEY_MAX];
        enum rl_gate_verdict v;

        if (!gate_item(it))
            continue;
        rl_store_source_key(key, sizeof(key), it->type, p->ns, it->name);
        v = rl_gate_check(r->gate, key, it->desired, wkey, now, &in[i]);
        n_in += in[i];
        if (v != RL_GATE_ROLL) {
            rl_gate_info(r->gate, key, now, &info);
            gate_worse(a, v, it, &info);
        }
    }
    if (n_in && a->v == RL_GATE_ROLL) {
        gate_note_flight(r, wkey, p, in, n_in);
        return;
    }
    for (size_t i = 0; i < p->n && n_in; i++) {
        const struct rl_plan_item *it = &p->items[i];
        char key[RL_STORE_KEY_MAX], name[RL_STORE_KEY_MAX], ns[RL_STORE_KEY_MAX];
        struct gate_src gs = { .type = it->type, .ns = ns, .name = name, .key = key };

        if (!in[i])
            continue;
        rl_store_source_key(key, sizeof(key), it->type, p->ns, it->name);
        strlcpy(ns, p->ns, sizeof(ns));
        strlcpy(name, it->name, sizeof(name));
        strlcpy(gs.version, it->desired, sizeof(gs.version));
        gate_report_final(r, &gs, wkey, RL_PROGRESS_DONE, now);
    }
}

/* W is held by the gate: reported once per W and held version, by the leader. */
static void gate_hold(struct rl_reconciler *r, const char *wkey, const struct rl_plan *p,
                      const struct gate_answer *a)
{
    char key[RL_STORE_KEY_MAX], what[RL_STORE_KEY_MAX + RL_HASH_HEX_SIZE + 2], batch[64];
    uintptr_t h, was;

    rl_store_source_key(key, sizeof(key), a->it->type, p->ns, a->it->name);
    snprintf(what, sizeof(what), "%s@%s", key, a->it->desired);
    h = (uintptr_t)rl_hash_str(what) | 1;
    rl_mutex_lock(&r->mu);
    was = (uintptr_t)rl_map_get(&r->gheld, wkey);
    if (was != h)
        rl_map_put(&r->gheld, wkey, (void *)h);
    rl_mutex_unlock(&r->mu);
    if (was == h)
        return;
    snprintf(batch, sizeof(batch), "%u of %u: %u failed, %u timed out", a->info.members,
             r->policy->health_gate_batch, a->info.failed, a->info.timed_out);
    rl_log_kv(RL_LOG_WARN, "health gate: the source version's first batch is not available; "
              "rollout held until the source changes", "workload", wkey, "source", key,
              "version", a->it->desired, "batch", batch, NULL);
    if (r->hooks.on_gated) {
        struct rl_gate_hold gh = {
            .kind = p->kind, .ns = p->ns, .name = p->name, .uid = p->uid,
            .type = a->it->type, .source = a->it->name, .version = a->it->desired,
            .batch = r->policy->health_gate_batch, .members = a->info.members,
            .failed = a->info.failed, .timed_out = a->info.timed_out,
        };

        r->hooks.on_gated(r->hooks.ctx, &gh);
    }
}

/*
 * Whether W may roll now as far as the gate goes. WAIT: W looks again when
 * the batch's first member times out (the batch coming out wakes it sooner).
 * HOLD: no rollout, reported; a new version of the source queues W. Either
 * way rl_reconcile() marks W pending once.
 */
static bool gate_admit(struct rl_reconciler *r, const char *wkey, struct rl_plan *p)
{
    struct gate_answer a;
    uint64_t now, delay;

    gate_ask(r, wkey, p, &a);
    if (a.v == RL_GATE_ROLL)
        return true;
    if (a.v == RL_GATE_HOLD) {
        gate_hold(r, wkey, p, &a);
        return false;
    }
    now = rl_clock_mono_ms(r->clock);
    delay = a.info.deadline_ms > now ? a.info.deadline_ms - now + 100 : GATE_POLL_MAX_MS;
    delay = delay < GATE_POLL_MIN_MS ? GATE_POLL_MIN_MS
          : delay > GATE_POLL_MAX_MS ? GATE_POLL_MAX_MS : delay;
    requeue(r, wkey, delay);
    rl_log_kv(RL_LOG_DEBUG, "health gate: waiting for the source version's first batch",
              "workload", wkey, "source", a.it->name, "version", a.it->desired, NULL);
    return false;
}

void rl_reconciler_observed(struct rl_reconciler *r, const struct rl_workload *w)
{
    char wkey[RL_STORE_KEY_MAX];
    void *v;

    rl_store_workload_key(wkey, sizeof(wkey), w->kind, w->ns, w->name);
    gate_report(r, wkey, w->generation, (enum rl_progress)w->progress);
    if (!r->cap || w->progress == RL_PROGRESS_RUNNING)
        return;
    rl_mutex_lock(&r->mu);
    v = rl_map_get(&r->flight, wkey);
    rl_mutex_unlock(&r->mu);
    /* Ours in flight, and this is the object after our write, not an older status. */
    if (!v || w->generation < (int64_t)(uintptr_t)v)
        return;
    if (w->progress == RL_PROGRESS_FAILED)
        rl_log_kv(RL_LOG_WARN, "rollout failed; its slot goes to the next workload",
                  "workload", wkey, NULL);
    cap_finish(r, wkey);
}

static void adopt_one(void *ctx, const char *wkey)
{
    struct rl_reconciler *r = ctx;
    const struct rl_workload *w = rl_store_workload(r->store, wkey);
    int64_t now_s = rl_clock_wall_us(r->clock) / 1000000;
    uint64_t age_ms;

    if (!w || !rl_cap_in_rollout(w, (enum rl_progress)w->progress, now_s,
                                 (int64_t)(r->policy->rollout_timeout_ms / 1000), &age_ms))
        return;
    rl_cap_adopt(r->cap, wkey, age_ms, rl_clock_mono_ms(r->clock));
    rl_mutex_lock(&r->mu);
    rl_map_put(&r->flight, wkey, (void *)(uintptr_t)w->generation);
    rl_mutex_unlock(&r->mu);
}

void rl_reconciler_adopt_rollouts(struct rl_reconciler *r)
{
    struct rl_cap_counts n;

    /* The gate starts afresh: a version held before rolls one more first batch. */
    rl_gate_clear(r->gate);
    rl_mutex_lock(&r->mu);
    rl_map_release(&r->gflight, gate_flight_free);
    rl_map_init(&r->gflight);
    rl_map_release(&r->gheld, NULL);
    rl_map_init(&r->gheld);
    rl_mutex_unlock(&r->mu);
    if (!r->cap)
        return;
    rl_cap_clear(r->cap);
    rl_mutex_lock(&r->mu);
    rl_map_release(&r->flight, NULL);
    rl_map_init(&r->flight);
    rl_mutex_unlock(&r->mu);
    rl_store_rdlock(r->store);
    rl_store_each_workload(r->store, adopt_one, r);
    rl_store_unlock(r->store);
    rl_cap_counts(r->cap, rl_clock_mono_ms(r->clock), &n);
    if (n.in_flight) {
        char v[32];

        snprintf(v, sizeof(v), "%zu", n.in_flight);
        rl_log_kv(RL_LOG_INFO, "rollouts of reloadd still in flight count against "
                  "--max-concurrent-rollouts", "workloads", v, NULL);
    }
}

void rl_reconciler_cap_counts(struct rl_reconciler *r, struct rl_cap_counts *out)
{
    memset(out, 0, sizeof(*out));
    if (r->cap)
        rl_cap_counts(r->cap, rl_clock_mono_ms(r->clock), out);
}

/* Whether a rollout of kind k is over once written (a Job run is its own rollout). */
static bool rolls_at_once(enum rl_kind k)
{
    enum rl_kind_writer wr = rl_kind_info(k)->writer;

    return wr == RL_WRITER_CRONJOB || wr == RL_WRITER_RECREATE_JOB;
}

int rl_reconcile(struct rl_reconciler *r, const char *wkey)
{
    const struct rl_policy *o = r->policy;
    struct rl_plan *p = rl_xmalloc(sizeof(*p));
    struct rl_applied_entry rec[RL_PLAN_MAX_SOURCES];
    struct rl_marker markers[RL_PLAN_MAX_SOURCES];
    struct rl_reconcile_result res = { .wkey = wkey };
    struct rl_rollout ro;
    struct rl_buf body, history;
    struct rl_pause pz = { .state = RL_PAUSE_NONE };
    bool pausing = false, capped, gated;
    size_t nrec, nmark = 0;
    uint64_t t0;
    int err;

    err = make_plan(r, wkey, p);
    if (err == RL_ENOENT) {
        forget(r, wkey);
        free(p);
        return 0;
    }
    if (echo_pending(r, wkey, p))
        return wait_for_watch(r, wkey, p);
    warn_problems(r, wkey, p);
    res.since_event_s = -1;
    if (rl_kind_info(p->kind)->pausable) {
        int64_t now_us = rl_clock_wall_us(r->clock);

        rl_pause_eval(&pz, p->pause_period, p->paused_at, now_us);
        if (pz.state == RL_PAUSE_DUE) {
            err = resume(r, p, wkey, &pz);
            expect_echo(r, wkey, p);
            if (err) {
                rl_plan_release(p);
                free(p);
                return err;
            }
            /* Resumed: a change that is pending now opens a new window. */
            rl_pause_eval(&pz, p->pause_period, NULL, now_us);
        } else if (pz.state == RL_PAUSE_OPEN) {
            requeue(r, wkey, (uint64_t)pz.remaining_ms);
        }
    }
    for (size_t i = 0; i < p->n; i++)
        if (p->items[i].verdict == RL_VERDICT_SKIP && r->hooks.on_skip)
            r->hooks.on_skip(r->hooks.ctx, "not_matched");
    if (p->action == RL_ACTION_NONE || p->held_until_s || p->window_opens_at_s) {
        if (r->cap)
            cap_nothing_due(r, wkey);
        err = 0;
        if (p->held_until_s || p->window_opens_at_s) {
            hold(r, wkey, p);
            err = mark_pending(r, wkey, p);
        }
        rl_plan_release(p);
        free(p);
        return err;
    }
    if (p->action == RL_ACTION_ROLLOUT && !o->dry_run && cache_behind_after_takeover(r, wkey, p))
        return wait_for_watch(r, wkey, p);
    capped = p->action == RL_ACTION_ROLLOUT && !o->dry_run && r->cap;
    if (capped && !cap_admit(r, wkey, p)) {
        err = mark_pending(r, wkey, p);
        rl_plan_release(p);
        free(p);
        return err;
    }
    /* The gate once the cap gave a slot: a batch member's clock runs from its write. */
    gated = p->action == RL_ACTION_ROLLOUT && !o->dry_run && p->gated && check_write(r) == 0;
    if (gated && !gate_admit(r, wkey, p)) {
        if (capped)
            cap_finish(r, wkey);
        err = mark_pending(r, wkey, p);
        rl_plan_release(p);
        free(p);
        return err;
    }
    plan_rollout(r, p, markers, rec, &ro);
    rl_buf_init(&history, 0);
    plan_history(p, &ro, &history);
    nmark = ro.n_markers;
    nrec = ro.n_record;
    for (size_t i = 0; i < p->n; i++) {
        const struct rl_plan_item *it = &p->items[i];

        if (it->verdict == RL_VERDICT_ROLL || it->verdict == RL_VERDICT_ROLL_DELETED) {
            res.first_type = it->type;
            res.first_name = it->name;
            res.first_hash = it->desired;
            res.deleted = it->verdict == RL_VERDICT_ROLL_DELETED;
            break;
        }
    }
    res.kind = p->kind;
    res.ns = p->ns;
    res.name = p->name;
    res.uid = p->uid;
    res.action = p->action;
    res.n_rolled = (unsigned)nmark;
    res.dry_run = o->dry_run;

    if (p->action == RL_ACTION_ROLLOUT && rl_kind_info(p->kind)->pausable) {
        if (pz.state == RL_PAUSE_INVALID) {
            rl_log_kv(RL_LOG_WARN, "rolling out without a pause", "workload", wkey,
                      "why", pz.why, NULL);
        } else if (pz.state == RL_PAUSE_OPEN) {
            rl_log_kv(RL_LOG_INFO, "deployment paused by reloadd: template updated, it rolls "
                      "when the pause ends", "workload", wkey, "why", pz.why, NULL);
        } else if (pz.state == RL_PAUSE_READY) {
            bool already = false;

            err = deployment_paused(r, p, &already);
            if (err) {
                rl_log_kv(RL_LOG_ERROR, "cannot read deployment before pausing it",
                          "workload", wkey, "error", rl_strerror(err), NULL);
                rl_plan_release(p);
                free(p);
                return err;
            }
            if (already)
                rl_log_kv(RL_LOG_INFO, "deployment already paused (not by reloadd); it rolls "
                          "when resumed", "workload", wkey, NULL);
            pausing = !already;
        }
    }
    res.paused = pausing;

    rl_buf_init(&body, 0);
    t0 = rl_clock_mono_ms(r->clock);
    if (o->dry_run) {
        rl_log_kv(RL_LOG_INFO, p->action == RL_ACTION_ROLLOUT ? "dry-run: would roll workload"
                                                              : "dry-run: would record hashes",
                  "workload", wkey, "source", nmark ? markers[0].name : NULL,
                  "pause", pausing ? "yes" : NULL, NULL);
        err = 0;
    } else if (p->action == RL_ACTION_ROLLOUT) {
        err = write_rollout(r, p, &ro, rec, nrec, pausing);
    } else {
        err = !ro.pending_s ? write_state(r, p, wkey, rec, nrec, ro.history) : RL_EINVAL;
        if (err == RL_ENOENT)
            err = 0;        /* W went or was re-created since the plan: its own reconcile comes */
        if (err && err != RL_ENOTLEADER) {
            err = rl_patch_record(&body, o->key.applied, rec, nrec, ro.history, ro.pending_s);
            if (!err)
                err = do_patch(r, p, "application/merge-patch+json", body.buf);
        }
    }
    res.seconds = (double)(rl_clock_mono_ms(r->clock) - t0) / 1000.0;
    res.err = err;
    if (!err && p->action == RL_ACTION_ROLLOUT && !o->dry_run) {
        char src[300], msg[1200];

        snprintf(src, sizeof(src), "%s/%s", rl_source_type_lower(res.first_type), res.first_name);
        /* Reloader's sentence, which users alert on, word for word; the fields are ours. */
        snprintf(msg, sizeof(msg), "Changes detected in '%s' of type '%s' in namespace '%s'; "
                 "updated '%s' of type '%s' in namespace '%s'", res.first_name,
                 rl_source_type_upper(res.first_type), p->ns, p->name, rl_kind_name(p->kind),
                 p->ns);
        rl_log_kv(RL_LOG_INFO, msg, "workload", wkey, "source", src,
                  "sources", nmark > 1 ? "several" : "one", NULL);
        if (pausing) {
            rl_log(RL_LOG_INFO, "Pausing Deployment '%s' in namespace '%s' for %s", p->name,
                   p->ns, p->pause_period);
            requeue(r, wkey, (uint64_t)pz.period_ms);
        }
    } else if (!err && p->action == RL_ACTION_RECORD && !o->dry_run) {
        rl_log_kv(RL_LOG_DEBUG, "recorded source hashes", "workload", wkey, NULL);
    } else if (err && err != RL_ENOTLEADER && p->action == RL_ACTION_ROLLOUT) {
        rl_log(RL_LOG_ERROR, "Update for '%s' of type '%s' in namespace '%s' failed with error %s",
               p->name, rl_kind_name(p->kind), p->ns, rl_strerror(err));
    }
    if (err != RL_ENOTLEADER)
        remember(r, wkey, p->action, err);
    if (capped && (err || rolls_at_once(p->kind)))
        cap_finish(r, wkey);
    if (gated && !err && rolls_at_once(p->kind))
        gate_report(r, wkey, INT64_MAX, RL_PROGRESS_DONE);
    expect_echo(r, wkey, p);
    if (r->hooks.on_result)
        r->hooks.on_result(r->hooks.ctx, &res);
    rl_buf_release(&body);
    rl_buf_release(&history);
    rl_plan_release(p);
    free(p);
    return err;
}

void rl_reconciler_assume_missed(struct rl_reconciler *r)
{
    if (!atomic_exchange(&r->missed_while_away, true))
        rl_log_kv(RL_LOG_INFO, "took over a Lease its holder did not release: changes made "
                  "while this replica was not watching are rolled (as --sync-after-restart)",
                  NULL);
}

/* --- explain ------------------------------------------------------------- */

static void add_time(cJSON *o, const char *key, int64_t unix_s)
{
    char ts[32];

    if (unix_s == RL_WINDOW_FOREVER) {
        cJSON_AddStringToObject(o, key, "never");
        return;
    }
    rl_format_rfc3339(unix_s * 1000000, ts);
    cJSON_AddStringToObject(o, key, ts);
}

/* "rolloutWindow": W's maintenance window, its state and W's pending rollout. */
static void explain_window(cJSON *out, const struct rl_plan *p)
{
    cJSON *wj = cJSON_AddObjectToObject(out, "rolloutWindow");

    cJSON_AddStringToObject(wj, "value", p->windowed ? p->window_value : RL_WINDOW_ALWAYS);
    cJSON_AddBoolToObject(wj, "open", p->window_open);
    if (p->windowed && !p->window_open)
        add_time(wj, "opensAt", p->window_opens_s);
    if (p->windowed)
        add_time(wj, "closesAt", p->window_closes_s);
    if (p->pending_since_s)
        add_time(wj, "pendingSince", p->pending_since_s);
    if (p->window_problem[0])
        cJSON_AddStringToObject(wj, "problem", p->window_problem);
}

/* "healthGate": whether W is gated, and for each version it is to roll for, the gate's view. */
static bool explain_gate(struct rl_reconciler *r, cJSON *out, const char *wkey,
                         const struct rl_plan *p)
{
    cJSON *gj = cJSON_AddObjectToObject(out, "healthGate"), *arr;
    bool held = false;

    cJSON_AddBoolToObject(gj, "enabled", p->gated);
    cJSON_AddNumberToObject(gj, "batch", r->policy->health_gate_batch);
    cJSON_AddNumberToObject(gj, "timeoutSeconds",
                            (double)r->policy->health_gate_timeout_ms / 1000.0);
    if (p->gate_problem[0])
        cJSON_AddStringToObject(gj, "problem", p->gate_problem);
    if (p->pending_since_s)
        add_time(gj, "pendingSince", p->pending_since_s);
    arr = cJSON_AddArrayToObject(gj, "sources");
    for (size_t i = 0; p->gated && p->action == RL_ACTION_ROLLOUT && i < p->n; i++) {
        const struct rl_plan_item *it = &p->items[i];
        struct rl_gate_info info;
        enum rl_gate_verdict v;
        bool member;
        cJSON *sj;

        if (!gate_item(it))
            continue;
        v = gate_peek(r, wkey, p, it, &info, &member);
        held |= v == RL_GATE_HOLD;
        sj = cJSON_CreateObject();
        cJSON_AddStringToObject(sj, "type", rl_source_type_lower(it->type));
        cJSON_AddStringToObject(sj, "name", it->name);
        cJSON_AddStringToObject(sj, "version", it->desired);
        cJSON_AddStringToObject(sj, "verdict", rl_gate_verdict_name(v));
        cJSON_AddBoolToObject(sj, "inBatch", member);
        if (info.tracked && strncmp(info.version, it->desired, RL_GATE_VERSION_MAX) == 0) {
            cJSON_AddNumberToObject(sj, "batchMembers", info.members);
            cJSON_AddNumberToObject(sj, "done", info.done);
            cJSON_AddNumberToObject(sj, "failed", info.failed);
            cJSON_AddNumberToObject(sj, "timedOut", info.timed_out);
        }
        if (v == RL_GATE_HOLD)
            cJSON_AddStringToObject(sj, "why", "the first batch of this version failed or was "
                                    "not available in time: it rolls no further until the "
                                    "source changes");
        else if (v == RL_GATE_WAIT)
            cJSON_AddStringToObject(sj, "why", "waiting until the first batch of this version "
                                    "is available");
        cJSON_AddItemToArray(arr, sj);
    }
    return held;
}

cJSON *rl_reconcile_explain(struct rl_reconciler *r, const char *wkey)
{
    struct rl_plan *p = rl_xmalloc(sizeof(*p));
    cJSON *out, *srcs;
    struct last_write lw;
    bool have_last = false, gate_held;
    static const char *const actions[] = { "none", "record", "rollout" };

    if (make_plan(r, wkey, p) == RL_ENOENT) {
        free(p);
        return NULL;
    }
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "kind", rl_kind_name(p->kind));
    cJSON_AddStringToObject(out, "namespace", p->ns);
    cJSON_AddStringToObject(out, "name", p->name);
    cJSON_AddStringToObject(out, "strategy",
                            p->strategy == RL_STRATEGY_ANNOTATIONS ? "annotations" : "env-vars");
    if (!rl_kind_enabled(r->policy, p->kind))
        cJSON_AddStringToObject(out, "note", "Argo Rollouts are not enabled (--is-Argo-Rollouts)");
    srcs = cJSON_AddArrayToObject(out, "sources");
    for (size_t i = 0; i < p->n; i++) {
        const struct rl_plan_item *it = &p->items[i];
        cJSON *s = cJSON_CreateObject();
        static const char *const from[] = { "none", "applied", "env", "annotation" };

        cJSON_AddStringToObject(s, "type", rl_source_type_lower(it->type));
        cJSON_AddStringToObject(s, "name", it->name);
        if (it->desired[0])
            cJSON_AddStringToObject(s, "hash", it->desired);
        else
            cJSON_AddNullToObject(s, "hash");
        if (it->recorded[0])
            cJSON_AddStringToObject(s, "applied", it->recorded);
        else
            cJSON_AddNullToObject(s, "applied");
        cJSON_AddStringToObject(s, "recordedIn", from[it->from]);
        if (it->container)
            cJSON_AddStringToObject(s, "container", it->container);
        cJSON_AddStringToObject(s, "verdict", rl_verdict_name(it->verdict));
        cJSON_AddStringToObject(s, "reason", it->reason);
        cJSON_AddItemToArray(srcs, s);
    }
    gate_held = (p->gated || p->gate_problem[0]) && explain_gate(r, out, wkey, p);
    cJSON_AddStringToObject(out, "decision", p->held_until_s || p->window_opens_at_s || gate_held
                                                 ? "held" : actions[p->action]);
    if (p->windowed || p->window_problem[0] || p->pending_since_s)
        explain_window(out, p);
    if (p->budget.max) {
        cJSON *bj = cJSON_AddObjectToObject(out, "restartBudget");
        int64_t now_s = rl_clock_wall_us(r->clock) / 1000000;

        cJSON_AddNumberToObject(bj, "max", p->budget.max);
        cJSON_AddNumberToObject(bj, "periodSeconds", (double)p->budget.period_s);
        cJSON_AddNumberToObject(bj, "used", rl_budget_used(&p->budget, p->history, now_s));
        if (p->held_until_s)
            add_time(bj, "heldUntil", p->held_until_s);
        if (p->budget_problem[0])
            cJSON_AddStringToObject(bj, "problem", p->budget_problem);
    }
    if (r->cap) {
        cJSON *cj = cJSON_AddObjectToObject(out, "rolloutCap");
        struct rl_cap_counts n;
        bool flying, waiting;

        rl_cap_counts(r->cap, rl_clock_mono_ms(r->clock), &n);
        rl_mutex_lock(&r->mu);
        flying = rl_map_has(&r->flight, wkey);
        waiting = rl_map_has(&r->capped, wkey);
        rl_mutex_unlock(&r->mu);
        cJSON_AddNumberToObject(cj, "max", n.max);
        cJSON_AddNumberToObject(cj, "inFlight", (double)n.in_flight);
        cJSON_AddNumberToObject(cj, "waiting", (double)n.waiting);
        cJSON_AddStringToObject(cj, "this", flying ? "in flight" : waiting ? "waiting" : "none");
    }
    if (rl_kind_info(p->kind)->pausable && (p->pause_period || (p->paused_at && *p->paused_at))) {
        struct rl_pause pz;
        cJSON *pj = cJSON_AddObjectToObject(out, "pause");

        rl_pause_eval(&pz, p->pause_period, p->paused_at, rl_clock_wall_us(r->clock));
        cJSON_AddStringToObject(pj, "state", rl_pause_state_name(pz.state));
        if (p->pause_period)
            cJSON_AddStringToObject(pj, "period", p->pause_period);
        if (p->paused_at && *p->paused_at)
            cJSON_AddStringToObject(pj, "pausedAt", p->paused_at);
        if (pz.state == RL_PAUSE_OPEN)
            cJSON_AddNumberToObject(pj, "resumesInSeconds", (double)pz.remaining_ms / 1000.0);
        cJSON_AddStringToObject(pj, "why", pz.why);
    }
    rl_mutex_lock(&r->mu);
    {
        struct last_write *l = rl_map_get(&r->last, wkey);

        if (l) {
            lw = *l;
            have_last = true;
        }
    }
    rl_mutex_unlock(&r->mu);
    if (have_last) {
        cJSON *lj = cJSON_AddObjectToObject(out, "lastWrite");
        char ts[32];

        rl_format_rfc3339(lw.at_us, ts);
        cJSON_AddStringToObject(lj, "time", ts);
        cJSON_AddStringToObject(lj, "action", actions[lw.action]);
        cJSON_AddStringToObject(lj, "result", lw.err ? rl_strerror(lw.err) : "success");
        /* Decisions wait until the cache shows our last write (struct echo). */
        cJSON_AddBoolToObject(lj, "awaitingWatch",
                              lw.echo.rv && p->uid && strcmp(p->uid, lw.echo.uid) == 0 &&
                                  (p->rv == RL_STORE_RV_UNKNOWN || p->rv < lw.echo.rv));
    }
    rl_plan_release(p);
    free(p);
    return out;
}

/* --- preview ------------------------------------------------------------- */

struct rl_reconcile_preview_priv {
    struct rl_plan plan;
    struct rl_marker markers[RL_PLAN_MAX_SOURCES];
    struct rl_applied_entry rec[RL_PLAN_MAX_SOURCES];
    struct rl_buf history;
};

int rl_reconcile_preview(struct rl_reconciler *r, const char *wkey,
                         struct rl_reconcile_preview *out)
{
    struct rl_reconcile_preview_priv *pv = rl_xmalloc(sizeof(*pv));
    bool held;
    int err = make_plan(r, wkey, &pv->plan);

    memset(out, 0, sizeof(*out));
    if (err) {
        free(pv);
        return err;
    }
    held = pv->plan.held_until_s || pv->plan.window_opens_at_s;
    out->action = pv->plan.action;
    if (held)                           /* as rl_reconcile(): the pending mark, once */
        out->action = pv->plan.pending_since_s ? RL_ACTION_NONE : RL_ACTION_RECORD;
    out->held_until_s = pv->plan.held_until_s;
    out->window_opens_at_s = pv->plan.window_opens_at_s;
    out->kind = pv->plan.kind;
    out->argo_restart = pv->plan.argo_restart;
    plan_rollout(r, &pv->plan, pv->markers, pv->rec, &out->rollout);
    rl_buf_init(&pv->history, 0);
    plan_history(&pv->plan, &out->rollout, &pv->history);
    if (held) {                         /* mark_pending()'s write */
        out->rollout.n_markers = 0;
        out->rollout.n_record = rl_plan_record_held(&pv->plan, pv->rec);
        out->rollout.history = pv->plan.history;
        out->rollout.pending_s = pv->plan.pending_since_s ? pv->plan.pending_since_s
                                                          : out->rollout.now_s;
    }
    out->_priv = pv;
    return 0;
}

void rl_reconcile_preview_release(struct rl_reconcile_preview *pv)
{
    if (pv->_priv) {
        rl_plan_release(&pv->_priv->plan);
        rl_buf_release(&pv->_priv->history);
        free(pv->_priv);
    }
    memset(pv, 0, sizeof(*pv));
}
