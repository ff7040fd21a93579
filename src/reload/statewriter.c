/* statewriter.c - the batch writer of the workload state (statewriter.h) */
#include "reloadd/reload/statewriter.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/reload/state.h"
#include "reloadd/reload/store.h"
#include "reloadd/base/banned.h"

struct rl_state_writer {
    struct rl_store *store;
    struct rl_kube *kube;
    char *ns;
    uint64_t period_ms;
    struct rl_state_writer_hooks hooks;

    pthread_t thread;
    pthread_mutex_t flush_mu;       /* one flush at a time (the thread's, or a caller's) */
    pthread_mutex_t mu;             /* with cv, wakes the thread at stop */
    pthread_cond_t cv;
    atomic_bool stop;               /* also tells a waiting background request to give up */
    bool started;
    bool leading;                   /* the thread's own */
    bool busy;                      /* the thread's: its last round was a burst */
    _Atomic uint64_t writes, failures, deferred;
    uint64_t warned_ms;             /* the last failure logged (the thread's) */
};

static bool ready(struct rl_state_writer *w)
{
    return !w->hooks.ready || w->hooks.ready(w->hooks.ctx);
}

static bool may_write(struct rl_state_writer *w)
{
    return !w->hooks.may_write || w->hooks.may_write(w->hooks.ctx);
}

/* One shard's batch: a merge patch of its data, or its creation. */
static int send_batch(struct rl_state_writer *w, unsigned shard, cJSON *data, bool create)
{
    struct rl_kube_response resp;
    char name[RL_STATE_NAME_MAX], *path, *body;
    cJSON *obj = cJSON_CreateObject();
    int err;

    rl_state_shard_name(shard, name, sizeof(name));
    if (create) {
        cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
        cJSON *labels;

        cJSON_AddStringToObject(obj, "apiVersion", "v1");
        cJSON_AddStringToObject(obj, "kind", "ConfigMap");
        cJSON_AddStringToObject(meta, "name", name);
        cJSON_AddStringToObject(meta, "namespace", w->ns);
        labels = cJSON_AddObjectToObject(meta, "labels");
        cJSON_AddStringToObject(labels, RL_STATE_LABEL, RL_STATE_LABEL_VALUE);
        cJSON_AddStringToObject(labels, "app.kubernetes.io/part-of", "reloadd");
    }
    cJSON_AddItemToObject(obj, "data", data);
    body = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    if (!body)
        return RL_ENOMEM;
    rl_kube_response_init(&resp);
    if (create) {
        path = rl_xasprintf("/api/v1/namespaces/%s/configmaps?fieldManager=reloadd", w->ns);
        err = rl_kube_request(w->kube, "POST", path, body, NULL, &resp);
    } else {
        path = rl_xasprintf("/api/v1/namespaces/%s/configmaps/%s?fieldManager=reloadd", w->ns,
                            name);
        err = rl_kube_request(w->kube, "PATCH", path, body, "application/merge-patch+json",
                              &resp);
    }
    if (err && err != RL_ENOTLEADER && err != RL_ESHUTDOWN && err != RL_EBUSY) {
        uint64_t now = rl_mono_ms();

        /*
         * Once a minute at most. A conflict or a 404 is mostly the informer
         * lagging behind a creation or a deletion (the next period sees it);
         * a lasting conflict, a ConfigMap of that name without our label.
         */
        if (now - w->warned_ms >= 60000 || !w->warned_ms) {
            w->warned_ms = now;
            rl_log_kv(RL_LOG_WARN, "cannot write the workload state; retrying every second",
                      "configmap", name, "namespace", w->ns, "error", rl_strerror(err),
                      "message", resp.message[0] ? resp.message : NULL,
                      "hint", err == RL_ECONFLICT ? "a ConfigMap of this name without the label "
                      RL_STATE_LABEL "=" RL_STATE_LABEL_VALUE " is not reloadd's to replace" : NULL,
                      NULL);
        }
    }
    rl_kube_response_release(&resp);
    free(path);
    free(body);
    return err;
}

/* A round of this many batches or more is a burst (a first install writes them all). */
#define BURST_BATCHES 8u

/* Sends every dirty shard's batch; false if a write failed. *sent: how many were sent. */
static bool flush(struct rl_state_writer *w, unsigned *sent)
{
    bool ok = true;

    *sent = 0;
    rl_mutex_lock(&w->flush_mu);
    rl_kube_thread_fence(w->hooks.fence_left, w->hooks.ctx);
    for (unsigned s = 0; s < RL_STATE_SHARDS; s++) {
        cJSON *data;
        bool create;
        int err;

        if (!rl_store_state_batch(w->store, s, &data, &create))
            continue;
        err = send_batch(w, s, data, create);
        if (err == RL_EBUSY) {
            /* No spare API budget: rollouts use it all. The next period tries again. */
            rl_store_state_touch(w->store, s);
            atomic_fetch_add(&w->deferred, 1);
            break;
        }
        (*sent)++;
        atomic_fetch_add(err ? &w->failures : &w->writes, 1);
        if (err) {
            rl_store_state_touch(w->store, s);
            ok = false;
            if (err == RL_ENOTLEADER || err == RL_ESHUTDOWN)
                break;
        }
    }
    rl_kube_thread_fence(NULL, NULL);
    rl_mutex_unlock(&w->flush_mu);
    return ok;
}

bool rl_state_writer_flush(struct rl_state_writer *w)
{
    unsigned sent;

    if (!w || !ready(w) || !may_write(w))
        return true;
    return flush(w, &sent);
}

/* One period: follows leadership, then writes if leading. */
static void tick(struct rl_state_writer *w)
{
    bool leading;
    unsigned sent = 0;

    if (!ready(w))
        return;
    leading = may_write(w);
    if (leading && !w->leading) {
        rl_store_state_touch(w->store, RL_STATE_SHARDS);
        rl_log_kv(RL_LOG_DEBUG, "workload state: leading; every shard is looked at", NULL);
    } else if (!leading && w->leading) {
        rl_store_state_forget_pending(w->store);
    }
    w->leading = leading;
    if (leading)
        flush(w, &sent);
    /* A burst's batches, their bodies and the watch events they caused are garbage now. */
    if (w->busy && sent < BURST_BATCHES)
        rl_mem_give_back();
    w->busy = sent >= BURST_BATCHES;
}

static void *run(void *arg)
{
    struct rl_state_writer *w = arg;

    /* Spare API budget only: a rollout never waits behind a state write (statewriter.h). */
    rl_kube_thread_background(true, &w->stop);
    rl_mutex_lock(&w->mu);
    while (!w->stop) {
        uint64_t until = rl_mono_ms() + w->period_ms;

        while (!w->stop && rl_cond_wait_until_ms(&w->cv, &w->mu, until))
            ;
        if (w->stop)
            break;
        rl_mutex_unlock(&w->mu);
        tick(w);
        rl_mutex_lock(&w->mu);
    }
    rl_mutex_unlock(&w->mu);
    return NULL;
}

struct rl_state_writer *rl_state_writer_new(struct rl_store *store, struct rl_kube *kube,
                                            const char *ns, uint64_t period_ms,
                                            const struct rl_state_writer_hooks *hooks)
{
    struct rl_state_writer *w = RL_NEW(struct rl_state_writer);

    w->store = store;
    w->kube = kube;
    w->ns = rl_xstrdup(ns);
    w->period_ms = period_ms ? period_ms : 1000;
    if (hooks)
        w->hooks = *hooks;
    rl_mutex_init(&w->flush_mu);
    rl_mutex_init(&w->mu);
    rl_cond_init(&w->cv);
    return w;
}

void rl_state_writer_start(struct rl_state_writer *w)
{
    if (w->started)
        return;
    w->started = true;
    rl_thread_start(&w->thread, "rl-state", run, w);
}

void rl_state_writer_stop(struct rl_state_writer *w)
{
    if (!w || !w->started)
        return;
    rl_mutex_lock(&w->mu);
    atomic_store(&w->stop, true);
    rl_cond_broadcast(&w->cv);
    rl_mutex_unlock(&w->mu);
    rl_thread_join(w->thread);
    w->started = false;
    /* What was decided since the last period, while this replica may still write. */
    if (w->leading)
        rl_state_writer_flush(w);
}

void rl_state_writer_free(struct rl_state_writer *w)
{
    if (!w)
        return;
    rl_state_writer_stop(w);
    rl_cond_destroy(&w->cv);
    rl_mutex_destroy(&w->mu);
    rl_mutex_destroy(&w->flush_mu);
    free(w->ns);
    free(w);
}

void rl_state_writer_stats(struct rl_state_writer *w, struct rl_state_writer_stats *out)
{
    out->writes = atomic_load(&w->writes);
    out->failures = atomic_load(&w->failures);
    out->deferred = atomic_load(&w->deferred);
}
