/*
 * test_reconcile.c - the reconcile contract, rule by rule, and idempotence
 *
 * A small world (a store, sources, one workload as the API server holds
 * it) is driven through the orders of events users produce, with the
 * resourceVersions etcd would give them. After each step the planner says
 * what reloadd would write (rl_reconcile_preview); the test applies that
 * write to the workload's JSON as the API server would (markers, record,
 * a new resourceVersion and, for a Job, a new uid), hands the new version
 * back to the store as the informer would, and checks that planning again
 * writes nothing: a reload stops, a record is written once. Every case runs
 * for every kind and both strategies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/policy.h"
#include "http_sink.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"
#include "testutil.h"
#include "reloadd/reload/cap.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/marker.h"
#include "reloadd/reload/reconcile.h"
#include "reloadd/reload/store.h"

#define V1 "1111111111111111111111111111111111111111"
#define V2 "2222222222222222222222222222222222222222"
#define V3 "3333333333333333333333333333333333333333"
#define V4 "4444444444444444444444444444444444444444"

enum act { NONE = RL_ACTION_NONE, RECORD = RL_ACTION_RECORD, ROLL = RL_ACTION_ROLLOUT };

struct world {
    struct rl_policy *o;
    struct rl_workload_keys keys;
    struct rl_regex_cache *rc;
    struct rl_store *store;
    struct rl_reconciler *r;
    enum rl_kind kind;
    cJSON *obj;                     /* the workload as the API server holds it */
    char wkey[128];
    uint64_t rv;                    /* etcd's revision counter */
    unsigned rollouts, records;
    bool named;                     /* named reload of cfg, no reference */
};

static void world_init(struct world *w, enum rl_kind kind, const char *strategy,
                       const char *const *flags)
{
    const char *f[8] = { NULL };
    char strat[64];
    int n = 0;

    memset(w, 0, sizeof(*w));
    snprintf(strat, sizeof(strat), "--reload-strategy=%s", strategy);
    for (; flags && *flags && n < 7; flags++)
        f[n++] = *flags;
    w->o = test_policy("--is-Argo-Rollouts=true", strat, f[0], f[1], f[2], f[3], f[4], f[5], f[6],
                       (char *)NULL);
    rl_workload_keys_init(&w->keys, w->o);
    w->rc = rl_regex_cache_new(64);
    w->store = rl_store_new(w->o, w->rc);
    w->r = rl_reconciler_new(w->store, NULL, w->o, w->rc, rl_clock_system(), NULL);
    w->kind = kind;
    w->rv = 100;
    rl_store_workload_key(w->wkey, sizeof(w->wkey), kind, "ns", "app");
}

static void world_release(struct world *w)
{
    rl_reconciler_free(w->r);
    rl_store_free(w->store);
    rl_regex_cache_free(w->rc);
    cJSON_Delete(w->obj);
    rl_policy_free(w->o);
}

/* The pod template of the workload's JSON, wherever its kind keeps it. */
static cJSON *template_of(cJSON *obj, enum rl_kind kind)
{
    cJSON *spec = cJSON_GetObjectItem(obj, "spec");

    if (kind == RL_KIND_CRONJOB)
        spec = cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "jobTemplate"), "spec");
    return cJSON_GetObjectItem(spec, "template");
}

/*
 * The workload "app": container "c" takes ConfigMaps cfg and cfg2 by
 * envFrom, auto annotation; `pod_extra` is added to the container (a
 * hand-set marker), `tmpl_ann` to the pod template's annotations.
 */
static void make_workload(struct world *w, const char *env_json, const char *tmpl_ann_json)
{
    char buf[4096];
    char tmpl[2048];
    cJSON *spec;

    snprintf(tmpl, sizeof(tmpl),
             "{\"metadata\":{\"labels\":{\"app\":\"app\"},\"annotations\":%s},"
             "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"img:1\",\"env\":%s,"
             "\"envFrom\":%s}]}}",
             tmpl_ann_json ? tmpl_ann_json : "{}", env_json ? env_json : "[]",
             w->named ? "[]" : "[{\"configMapRef\":{\"name\":\"cfg\"}},"
                               "{\"configMapRef\":{\"name\":\"cfg2\"}}]");
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"app\",\"namespace\":\"ns\",\"uid\":\"uid-1\","
             "\"generation\":1,\"annotations\":{%s}},\"spec\":{}}",
             w->named ? "\"configmap.reloader.stakater.com/reload\":\"cfg\""
                      : "\"reloader.stakater.com/auto\":\"true\"");
    cJSON_Delete(w->obj);
    w->obj = cJSON_Parse(buf);
    spec = cJSON_GetObjectItem(w->obj, "spec");
    if (w->kind == RL_KIND_CRONJOB) {
        cJSON *jt = cJSON_AddObjectToObject(spec, "jobTemplate");
        cJSON *js = cJSON_AddObjectToObject(jt, "spec");

        cJSON_AddStringToObject(spec, "schedule", "* * * * *");
        cJSON_AddItemToObject(js, "template", cJSON_Parse(tmpl));
    } else {
        cJSON_AddItemToObject(spec, "template", cJSON_Parse(tmpl));
    }
    cr_assert(template_of(w->obj, w->kind) != NULL, "bad fixture");
}

/* The informer hands the API server's current version of W to the store. */
static void deliver_workload(struct world *w, bool live)
{
    struct rl_workload *wl = NULL;
    char rv[32];
    cJSON *meta = cJSON_GetObjectItem(w->obj, "metadata");

    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)w->rv);
    cJSON_DeleteItemFromObject(meta, "resourceVersion");
    cJSON_AddStringToObject(meta, "resourceVersion", rv);
    cr_assert(eq(int, rl_workload_decode(w->obj, w->kind, &w->keys, &wl), 0));
    rl_store_put_workload(w->store, wl, live ? w->rv : 0, 1, NULL, NULL);
}

/* A user (or a restore) creates or changes W: etcd gives it a revision. */
static void user_writes_workload(struct world *w, bool live)
{
    w->rv++;
    deliver_workload(w, live);
}

static void source(struct world *w, const char *name, const char *hash, bool live)
{
    w->rv++;
    rl_store_put_source(w->store, RL_SOURCE_CONFIGMAP, "ns", name, test_sha1(hash), false, false,
                        live ? w->rv : 0, 1, NULL, NULL);
}

static void delete_source(struct world *w, const char *name)
{
    w->rv++;
    rl_store_del_source(w->store, RL_SOURCE_CONFIGMAP, "ns", name, w->rv, NULL, NULL);
}

/* Sets metadata.annotations[key] of W's JSON. */
static void set_meta_annotation(cJSON *obj, const char *key, const char *value)
{
    cJSON *meta = cJSON_GetObjectItem(obj, "metadata");
    cJSON *ann = cJSON_GetObjectItem(meta, "annotations");

    if (!ann)
        ann = cJSON_AddObjectToObject(meta, "annotations");
    cJSON_DeleteItemFromObject(ann, key);
    cJSON_AddStringToObject(ann, key, value);
}

/*
 * Plans W and applies the planned write to its JSON as the API server
 * would, then delivers the new version. Returns the action.
 */
static enum act reconcile(struct world *w)
{
    struct rl_reconcile_preview pv;
    enum act a;

    cr_assert(eq(int, rl_reconcile_preview(w->r, w->wkey, &pv), 0));
    a = (enum act)pv.action;
    if (a == ROLL && (w->kind == RL_KIND_CRONJOB)) {
        a = ROLL;                   /* a Job is created; the CronJob gets the record */
        pv.rollout.n_markers = 0;
    }
    if (a == RECORD || (a == ROLL && w->kind == RL_KIND_CRONJOB)) {
        struct rl_buf b;

        rl_buf_init(&b, 0);
        cr_assert(eq(int, rl_marker_applied_json(&b, pv.rollout.record, pv.rollout.n_record,
                                            pv.rollout.history, pv.rollout.pending_s),
                     0));
        set_meta_annotation(w->obj, w->o->key.applied, b.buf);
        rl_buf_release(&b);
    } else if (a == ROLL) {
        cr_assert(eq(int, rl_marker_apply(w->obj, w->kind, &pv.rollout), 0));
        if (w->kind == RL_KIND_JOB) {   /* deleted and created anew */
            cJSON *meta = cJSON_GetObjectItem(w->obj, "metadata");

            cJSON_DeleteItemFromObject(meta, "uid");
            cJSON_AddStringToObject(meta, "uid", "uid-2");
        }
    }
    rl_reconcile_preview_release(&pv);
    if (a != NONE) {
        w->rollouts += a == ROLL;
        w->records += a == RECORD;
        user_writes_workload(w, true);  /* our write, seen back through the watch */
    }
    return a;
}

/* Reconciles, expects `want`, then checks that it stopped. */
static void expect(struct world *w, enum act want, const char *step)
{
    static const char *const names[] = { "none", "record", "rollout" };
    enum act got = reconcile(w);

    cr_assert(eq(int, (int)got, (int)want), "%s: %s (%s): got %s, want %s", step,
              rl_kind_name(w->kind), w->o->strategy == RL_STRATEGY_ENV_VARS ? "env-vars"
                                                                         : "annotations",
              names[got], names[want]);
    for (int i = 0; i < 2; i++) {
        got = reconcile(w);
        cr_assert(eq(int, (int)got, (int)NONE), "%s: %s: not idempotent, then %s", step,
                  rl_kind_name(w->kind), names[got]);
    }
}

typedef void scenario_fn(struct world *w, const char *strategy, enum rl_kind kind);

static const char *const strategies[] = { "env-vars", "annotations" };

static void each(scenario_fn *fn)
{
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < RL_KIND_COUNT; k++) {
            struct world w;

            fn(&w, strategies[s], (enum rl_kind)k);
        }
}

/* The env var or annotation a hand-set marker for cfg holds `hash` in. */
static void marked_workload(struct world *w, const char *strategy, const char *hash)
{
    char env[256], ann[512], lrf[300];

    if (strcmp(strategy, "env-vars") == 0) {
        snprintf(env, sizeof(env), "[{\"name\":\"STAKATER_CFG_CONFIGMAP\",\"value\":\"%s\"}]",
                 hash);
        make_workload(w, env, NULL);
    } else {
        struct rl_buf b;
        cJSON *s;

        rl_buf_init(&b, 0);
        rl_marker_reload_source_json(&b, RL_SOURCE_CONFIGMAP, "cfg", "ns", hash, "c", 1);
        s = cJSON_CreateString(b.buf);
        snprintf(lrf, sizeof(lrf), "%s", RL_ANN_LAST_RELOADED_FROM);
        {
            char *js = cJSON_PrintUnformatted(s);

            snprintf(ann, sizeof(ann), "{\"%s\":%s}", lrf, js);
            free(js);
        }
        cJSON_Delete(s);
        rl_buf_release(&b);
        make_workload(w, NULL, ann);
    }
}

/* --- the contract, line by line ------------------------------------------ */

static void baseline_then_change(struct world *w, const char *strategy, enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, false);
    make_workload(w, NULL, NULL);
    user_writes_workload(w, false);
    expect(w, RECORD, "first seen in the list: baseline");
    source(w, "cfg", V2, true);
    expect(w, ROLL, "changed live");
    source(w, "cfg", V3, true);
    expect(w, ROLL, "changed again");
    source(w, "cfg", V3, true);
    expect(w, NONE, "same data");
    cr_assert(eq(u32, w->rollouts, 2));
    world_release(w);
}
Test(reconcile, baseline_then_each_change_rolls_once) { each(baseline_then_change); }

static void several_sources_one_write(struct world *w, const char *strategy, enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, false);
    source(w, "cfg2", V1, false);
    make_workload(w, NULL, NULL);
    user_writes_workload(w, false);
    expect(w, RECORD, "baseline of two");
    source(w, "cfg", V2, true);
    source(w, "cfg2", V3, true);
    expect(w, ROLL, "two changes, one rollout");
    cr_assert(eq(u32, w->rollouts, 1));
    world_release(w);
}
Test(reconcile, several_changes_are_one_rollout) { each(several_sources_one_write); }

/*
 * One stale source among up-to-date ones rolls, whichever order the sources
 * are judged in (tests/mutation/planner.sh: "one-write").
 */
static void one_stale_among_current(struct world *w, const char *strategy, enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, false);
    source(w, "cfg2", V1, false);
    make_workload(w, NULL, NULL);
    user_writes_workload(w, false);
    expect(w, RECORD, "baseline of two");
    source(w, "cfg", V2, true);
    expect(w, ROLL, "cfg changed, cfg2 did not");
    source(w, "cfg2", V2, true);
    expect(w, ROLL, "cfg2 changed, cfg did not");
    cr_assert(eq(u32, w->rollouts, 2));
    world_release(w);
}
Test(reconcile, one_stale_source_among_current_ones_rolls) { each(one_stale_among_current); }

static void stale_after_restart(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const sync[] = { "--sync-after-restart=true", NULL };

    for (int with_sync = 0; with_sync < 2; with_sync++) {
        world_init(w, kind, strategy, with_sync ? sync : NULL);
        /* W's pods were rolled for V1 by an earlier reloadd (or Reloader); cfg is V2 now. */
        source(w, "cfg", V2, false);
        marked_workload(w, strategy, V1);
        user_writes_workload(w, false);
        expect(w, with_sync ? ROLL : RECORD, with_sync ? "stale, --sync-after-restart"
                                                       : "stale: adopted");
        source(w, "cfg", V3, true);
        expect(w, ROLL, "a live change after adoption");
        world_release(w);
    }
}
Test(reconcile, stale_after_restart_adopts_or_rolls) { each(stale_after_restart); }

static void created_live(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const on_create[] = { "--reload-on-create=true", NULL };

    for (int oc = 0; oc < 2; oc++) {
        world_init(w, kind, strategy, oc ? on_create : NULL);
        make_workload(w, NULL, NULL);
        user_writes_workload(w, false);
        expect(w, NONE, "no source yet");
        source(w, "cfg", V1, true);
        expect(w, oc ? ROLL : RECORD, "source created after the workload");
        world_release(w);
    }
}
Test(reconcile, created_source_rolls_only_with_reload_on_create) { each(created_live); }

static void deleted_live(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const on_delete[] = { "--reload-on-delete=true", NULL };

    for (int od = 0; od < 2; od++) {
        world_init(w, kind, strategy, od ? on_delete : NULL);
        source(w, "cfg", V1, false);
        make_workload(w, NULL, NULL);
        user_writes_workload(w, false);
        expect(w, RECORD, "baseline");
        delete_source(w, "cfg");
        /* Under env-vars no env var is there yet to remove: Reloader rolls
         * nothing (docs/reloader.md §3.3). */
        expect(w, od && strcmp(strategy, "annotations") == 0 ? ROLL : RECORD,
               "deleted before any rollout");
        source(w, "cfg", V2, true);
        expect(w, RECORD, "re-created (no --reload-on-create): a baseline");
        source(w, "cfg", V3, true);
        expect(w, ROLL, "changed: the marker is in the template now");
        delete_source(w, "cfg");
        /* Issue 12 bug 1: with annotations, this rolled once a second forever. */
        /* A CronJob's template never holds the env var (a Job is created instead). */
        expect(w, od && !(kind == RL_KIND_CRONJOB && strcmp(strategy, "env-vars") == 0)
                      ? ROLL : RECORD, "deleted after a rollout");
        source(w, "cfg", V2, true);
        expect(w, RECORD, "re-created again: a baseline");
        /* Deleted once more, the template still holding the first delete's marker. */
        delete_source(w, "cfg");
        expect(w, od && strcmp(strategy, "annotations") == 0 ? ROLL : RECORD,
               "deleted again after a re-create");
        world_release(w);
    }
}
Test(reconcile, deleted_source_rolls_once_with_reload_on_delete) { each(deleted_live); }

/* Issue 12 bug 2: the delete comes before the workload's baseline. */
static void deleted_before_baseline(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const on_delete[] = { "--reload-on-delete=true", NULL };

    for (int order = 0; order < 4; order++) {
        world_init(w, kind, strategy, on_delete);
        w->named = order >= 2;              /* named only: no reference keeps cfg known */
        source(w, "cfg", V1, true);
        make_workload(w, NULL, NULL);
        if (order % 2 == 0) {
            user_writes_workload(w, true);      /* W created, seen */
            delete_source(w, "cfg");            /* then deleted, before any reconcile */
        } else {
            w->rv++;                            /* W created at this revision... */
            uint64_t created = w->rv;
            delete_source(w, "cfg");            /* ...cfg deleted after it... */
            uint64_t now = w->rv;
            w->rv = created;                    /* ...but W's event arrives last */
            deliver_workload(w, true);
            w->rv = now;
        }
        /* A new workload has no env var to remove: only annotations roll
         * (docs/reloader.md §3.3). */
        expect(w, strcmp(strategy, "annotations") == 0 ? ROLL : NONE,
               order % 2 ? "deleted; the workload's event arrived after the delete"
                         : "deleted before the baseline");
        world_release(w);
    }
    /* A workload created after the delete does not roll for it. */
    world_init(w, kind, strategy, on_delete);
    source(w, "cfg", V1, true);
    delete_source(w, "cfg");
    make_workload(w, NULL, NULL);
    user_writes_workload(w, true);
    expect(w, NONE, "workload created after the delete");
    world_release(w);
}
Test(reconcile, delete_before_the_baseline_is_not_missed) { each(deleted_before_baseline); }

/* Issue 12 bug 3: a new workload carrying a marker of another version. */
static void new_workload_with_marker(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const sync[] = { "--sync-after-restart=true", NULL };

    for (int order = 0; order < 4; order++) {
        /* --sync-after-restart concerns what changed while no reloadd ran: not this. */
        world_init(w, kind, strategy, order >= 2 ? sync : NULL);
        marked_workload(w, strategy, V2);
        if (order % 2 == 0) {
            source(w, "cfg", V1, order < 2);   /* with sync: cfg from the first list */
            user_writes_workload(w, true);
        } else {
            /* cfg was created first, but the workload's event arrives first. */
            w->rv += 2;
            deliver_workload(w, true);
            uint64_t now = w->rv;
            w->rv -= 2;
            source(w, "cfg", V1, true);
            w->rv = now;
        }
        expect(w, RECORD, order % 2 ? "new workload (its event first): a baseline"
                                    : "new workload: a baseline whatever its markers say");
        source(w, "cfg", V2, true);
        /* Its marker already holds V2: Reloader writes nothing; nor do we roll. */
        cr_assert(ne(int, (int)reconcile(w), (int)ROLL), "%s: marker holding the new "
                  "hash rolled", rl_kind_name(kind));
        expect(w, NONE, "then nothing");
        source(w, "cfg", V3, true);
        expect(w, ROLL, "its markers still count: a real change rolls");
        cr_assert(eq(u32, w->rollouts, 1));
        world_release(w);
    }
}
Test(reconcile, new_workload_is_a_baseline_whatever_its_markers) { each(new_workload_with_marker); }

static void changed_before_workload(struct world *w, const char *strategy, enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, false);
    source(w, "cfg", V2, true);             /* changed live... */
    make_workload(w, NULL, NULL);
    user_writes_workload(w, true);          /* ...before the workload existed */
    expect(w, RECORD, "pods started with the current data");
    world_release(w);
}
Test(reconcile, change_before_the_workload_existed_rolls_nothing) { each(changed_before_workload); }

static void template_edit_after_change(struct world *w, const char *strategy, enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, false);
    make_workload(w, NULL, NULL);
    user_writes_workload(w, false);
    expect(w, RECORD, "baseline");
    source(w, "cfg", V2, true);
    /* The user changes the image before reloadd reconciles: new pods start anyway. */
    cJSON *c = cJSON_GetArrayItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(template_of(w->obj, kind), "spec"), "containers"),
        0);
    cJSON_ReplaceItemInObject(c, "image", cJSON_CreateString("img:2"));
    user_writes_workload(w, true);
    expect(w, RECORD, "pods restarted by the user's edit: recorded, not rolled");
    world_release(w);
}
Test(reconcile, user_template_edit_after_a_change_rolls_nothing) { each(template_edit_after_change); }

static void metadata_edit_keeps_pending(struct world *w, const char *strategy, enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, false);
    make_workload(w, NULL, NULL);
    user_writes_workload(w, false);
    expect(w, RECORD, "baseline");
    source(w, "cfg", V2, true);
    /* A label or annotation edit (or a scale) restarts no pod: the change still rolls. */
    set_meta_annotation(w->obj, "team", "blue");
    user_writes_workload(w, true);
    expect(w, ROLL, "metadata edit after a change");
    world_release(w);
}
Test(reconcile, metadata_edit_after_a_change_still_rolls) { each(metadata_edit_keeps_pending); }

static void deleted_while_down(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const both[] = { "--reload-on-delete=true", "--sync-after-restart=true",
                                        NULL };
    static const char *const del_only[] = { "--reload-on-delete=true", NULL };

    for (int sync = 0; sync < 2; sync++) {
        world_init(w, kind, strategy, sync ? both : del_only);
        marked_workload(w, strategy, V1);   /* rolled for V1, then cfg went away */
        set_meta_annotation(w->obj, w->o->key.applied, "{\"configmap/cfg\":\"" V1 "\"}");
        user_writes_workload(w, false);
        expect(w, sync ? ROLL : RECORD,
               sync ? "deleted while down, --sync-after-restart" : "deleted while down: nothing");
        world_release(w);
        /* A marker alone (a copied manifest) is no proof the source ever existed. */
        world_init(w, kind, strategy, sync ? both : del_only);
        marked_workload(w, strategy, V1);
        user_writes_workload(w, false);
        expect(w, NONE, "marker of a source that does not exist, after a restart");
        world_release(w);
    }
}
Test(reconcile, delete_while_down_rolls_only_with_sync_after_restart) { each(deleted_while_down); }

/* Counts the workloads the store hands to the queue. */
static void count_enqueue(void *ctx, const char *wkey)
{
    (void)wkey;
    (*(unsigned *)ctx)++;
}

/*
 * Issue 13: the informer thread compiled a named-reload list (a user's
 * patterns) while it held the store's write lock. It now never compiles:
 * an uncompiled list enqueues its workload, whose worker compiles it in
 * rl_decide(); from then on the cache answers and only a match enqueues.
 */
Test(reconcile, the_informer_path_never_compiles_a_reload_list)
{
    struct world w;
    unsigned queued = 0;

    world_init(&w, RL_KIND_DEPLOYMENT, "env-vars", NULL);
    w.named = true;
    make_workload(&w, NULL, NULL);
    user_writes_workload(&w, true);
    w.rv++;
    rl_store_put_source(w.store, RL_SOURCE_CONFIGMAP, "ns", "other", test_sha1(V1), false, false,
                        w.rv, 1, count_enqueue, &queued);
    cr_assert(eq(sz, rl_regex_cache_size(w.rc), 0), "the informer path compiled the list");
    cr_assert(eq(u32, queued, 1), "an uncompiled list must hand its workload to a worker");
    reconcile(&w);                          /* the worker's decision compiles it */
    cr_assert(eq(sz, rl_regex_cache_size(w.rc), 1));
    queued = 0;
    w.rv++;
    rl_store_put_source(w.store, RL_SOURCE_CONFIGMAP, "ns", "another", test_sha1(V1), false, false,
                        w.rv, 1, count_enqueue, &queued);
    cr_assert(eq(u32, queued, 0), "compiled, the list does not match 'another'");
    w.rv++;
    rl_store_put_source(w.store, RL_SOURCE_CONFIGMAP, "ns", "cfg", test_sha1(V2), false, false,
                        w.rv, 1, count_enqueue, &queued);
    cr_assert(eq(u32, queued, 1), "compiled, the list matches 'cfg'");
    world_release(&w);
}

struct problems_seen {
    unsigned n;
    char last[512];
};

static void note_problem(void *ctx, enum rl_kind kind, const char *ns, const char *name,
                         const char *uid, const char *problems)
{
    struct problems_seen *ps = ctx;

    (void)kind, (void)ns, (void)uid;
    cr_assert(eq(str, (char *)name, "app"));
    ps->n++;
    snprintf(ps->last, sizeof(ps->last), "%s", problems);
}

/*
 * Issue 13: a reload list that cannot be honoured (here an item that does
 * not compile) is reported to the on_problem hook (the ReloadFail Event)
 * once per change of the problems, not once per reconcile (dry-run: the
 * real rl_reconcile() without an API server).
 */
Test(reconcile, annotation_problems_are_reported_once_per_change)
{
    struct problems_seen ps = { 0 };
    struct rl_reconcile_hooks hooks = { .on_problem = note_problem, .ctx = &ps };
    static const char *const dry[] = { "--dry-run=true", NULL };
    struct world w;

    world_init(&w, RL_KIND_DEPLOYMENT, "env-vars", dry);
    rl_reconciler_free(w.r);
    w.r = rl_reconciler_new(w.store, NULL, w.o, w.rc, rl_clock_system(), &hooks);
    w.named = true;
    source(&w, "cfg", V1, false);
    make_workload(&w, NULL, NULL);
    set_meta_annotation(w.obj, "configmap.reloader.stakater.com/reload", "cf(g, cfg");
    user_writes_workload(&w, false);
    cr_assert(eq(int, rl_reconcile(w.r, w.wkey), 0));
    cr_assert(eq(int, rl_reconcile(w.r, w.wkey), 0));
    cr_assert(eq(u32, ps.n, 1), "reported %u times", ps.n);
    cr_assert(strstr(ps.last, "cf(g") != NULL, "problems: %s", ps.last);
    source(&w, "cfg", V2, true);
    cr_assert(eq(int, rl_reconcile(w.r, w.wkey), 0));
    cr_assert(eq(u32, ps.n, 1), "the same problems were reported again");
    set_meta_annotation(w.obj, "configmap.reloader.stakater.com/reload", "x(, cfg");
    user_writes_workload(&w, true);
    cr_assert(eq(int, rl_reconcile(w.r, w.wkey), 0));
    cr_assert(eq(u32, ps.n, 2), "changed problems were not reported");
    cr_assert(strstr(ps.last, "x(") != NULL, "problems: %s", ps.last);
    world_release(&w);
}

/* A wall clock the test moves by hand (unix seconds). */
struct hand_clock {
    struct rl_clock c;
    int64_t now_s;
};

static uint64_t hand_mono_ms(const struct rl_clock *c)
{
    return (uint64_t)((const struct hand_clock *)(const void *)c)->now_s * 1000;
}

static int64_t hand_wall_us(const struct rl_clock *c)
{
    return ((const struct hand_clock *)(const void *)c)->now_s * 1000000;
}

/*
 * Issue 17: a source changing every second against a budget of 3 per
 * 10 minutes: exactly 3 rollouts, then held (nothing written, the change
 * pending), then one rollout, with the last value, once the oldest rollout
 * has left the period. The history rides in the record of each rollout.
 */
static void restart(struct world *w);

Test(reconcile, the_restart_budget_holds_then_rolls_the_latest_once)
{
    static const char *const flags[] = { "--restart-budget=3", "--restart-budget-period=10m",
                                         NULL };
    struct hand_clock clk = { { hand_mono_ms, hand_wall_us }, 1800000000 };
    struct rl_reconcile_preview pv;
    char hash[41];
    struct world w;

    /*
     * A restart while held (no --sync-after-restart: a stale record would be
     * adopted) still rolls once the budget frees: the hold marked W pending.
     */
    for (int with_restart = 0; with_restart < 2; with_restart++) {
        int64_t first = 0;

        clk.now_s = 1800000000;
        world_init(&w, RL_KIND_DEPLOYMENT, "env-vars", flags);
        rl_reconciler_free(w.r);
        w.r = rl_reconciler_new(w.store, NULL, w.o, w.rc, &clk.c, NULL);
        source(&w, "cfg", V1, false);
        make_workload(&w, NULL, NULL);
        user_writes_workload(&w, false);
        expect(&w, RECORD, "baseline");
        for (int i = 0; i < 60; i++) {
            clk.now_s++;
            snprintf(hash, sizeof(hash), "%040x", i + 16);
            source(&w, "cfg", hash, true);
            if (i < 3) {
                expect(&w, ROLL, "within the budget");
                first = first ? first : clk.now_s;
            } else if (i == 3) {
                expect(&w, RECORD, "past the budget: held, marked pending once");
                cr_assert(eq(i64, rl_store_workload(w.store, w.wkey)->pending_since_s,
                             clk.now_s));
            } else {
                expect(&w, NONE, "past the budget: held");
            }
        }
        cr_assert(eq(u32, w.rollouts, 3));
        cr_assert(eq(int, rl_reconcile_preview(w.r, w.wkey, &pv), 0));
        cr_assert(eq(i64, pv.held_until_s, first + 600), "held until the first leaves the period");
        rl_reconcile_preview_release(&pv);
        if (with_restart) {
            restart(&w);
            rl_reconciler_free(w.r);
            w.r = rl_reconciler_new(w.store, NULL, w.o, w.rc, &clk.c, NULL);
            w.rv++;
            rl_store_put_source(w.store, RL_SOURCE_CONFIGMAP, "ns", "cfg", test_sha1(hash),
                                false, false, 0, 1, NULL, NULL);
            user_writes_workload(&w, false);
            expect(&w, NONE, "after a restart, still held");
        }
        clk.now_s = first + 600;
        expect(&w, ROLL, with_restart ? "the budget freed, after a restart: one rollout"
                                      : "the budget freed: one rollout");
        cr_assert(eq(u32, w.rollouts, 4));
        cr_assert(eq(str, (char *)rl_workload_applied(rl_store_workload(w.store, w.wkey),
                                                      RL_SOURCE_CONFIGMAP, "cfg"), hash),
                  "the held rollout carries the last value");
        cr_assert(ne(ptr, (void *)rl_store_workload(w.store, w.wkey)->rollouts, NULL));
        cr_assert(eq(i64, rl_store_workload(w.store, w.wkey)->pending_since_s, 0),
                  "the mark left the record");
        world_release(&w);
    }
}

/* The workload's own annotation overrides the flags; "off" lifts the budget. */
Test(reconcile, the_restart_budget_annotation_overrides_the_default)
{
    struct hand_clock clk = { { hand_mono_ms, hand_wall_us }, 1800000000 };
    char hash[41];
    struct world w;

    for (int off = 0; off < 2; off++) {
        world_init(&w, RL_KIND_DEPLOYMENT, "annotations", NULL);
        rl_reconciler_free(w.r);
        w.r = rl_reconciler_new(w.store, NULL, w.o, w.rc, &clk.c, NULL);
        source(&w, "cfg", V1, false);
        make_workload(&w, NULL, NULL);
        set_meta_annotation(w.obj, "reloadd.io/restart-budget", off ? "off" : "1/1m");
        user_writes_workload(&w, false);
        expect(&w, RECORD, "baseline");
        for (int i = 0; i < 40; i++) {
            clk.now_s++;
            snprintf(hash, sizeof(hash), "%040x", i + 16);
            source(&w, "cfg", hash, true);
            reconcile(&w);
        }
        cr_assert(eq(u32, w.rollouts, off ? 40 : 1), "%s: %u rollouts", off ? "off" : "1/1m",
                  w.rollouts);
        world_release(&w);
    }
}

/* Removes metadata.annotations[key] of W's JSON. */
static void del_meta_annotation(cJSON *obj, const char *key)
{
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "metadata"),
                                                   "annotations"), key);
}

/*
 * Found by the soak (seed 526983): W excludes cfg and carries a marker of
 * it (a copied manifest); cfg is created (--reload-on-create) while
 * excluded, so nothing rolls; then W's exclusion is removed. Reloader acts
 * on source events only: the edit rolls nothing. reloadd rolled, because
 * the marker alone made the creation count against W's template. With no
 * record of the source, an event counts only after W took its present
 * annotations, marker or not; the next change rolls as usual.
 */
static void exclusion_lifted_after_a_create(struct world *w, const char *strategy,
                                            enum rl_kind kind)
{
    static const char *const flags[] = { "--reload-on-create=true", NULL };

    world_init(w, kind, strategy, flags);
    marked_workload(w, strategy, V1);
    set_meta_annotation(w->obj, "configmaps.exclude.reloader.stakater.com/reload", "cfg");
    user_writes_workload(w, true);
    reconcile(w);                           /* whatever its baseline is */
    source(w, "cfg", V2, true);
    expect(w, NONE, "created while excluded");
    del_meta_annotation(w->obj, "configmaps.exclude.reloader.stakater.com/reload");
    user_writes_workload(w, true);
    cr_assert(ne(int, (int)reconcile(w), (int)ROLL), "%s (%s): lifting the exclusion rolled "
              "for a creation that came before it", rl_kind_name(kind), strategy);
    source(w, "cfg", V3, true);
    expect(w, ROLL, "changed after the exclusion was lifted");
    world_release(w);
}
Test(reconcile, lifting_an_exclusion_rolls_nothing_for_earlier_events)
{
    each(exclusion_lifted_after_a_create);
}

/*
 * Found by the soak (seed 526985): W names cfg (our record holds it), then
 * drops the annotation (nothing to write: the stale entry stays), cfg
 * changes while W does not track it, and W is annotated again (auto).
 * Reloader judged those changes with the annotations of their time: the
 * edit rolls nothing. reloadd rolled, trusting a record made under other
 * annotations. A record counts only while W's reload annotations are those
 * it was made under; the next change rolls as usual.
 */
static void annotated_again_after_changes(struct world *w, const char *strategy,
                                          enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, false);
    make_workload(w, NULL, NULL);           /* envFrom cfg; named instead of auto: */
    del_meta_annotation(w->obj, "reloader.stakater.com/auto");
    set_meta_annotation(w->obj, "configmap.reloader.stakater.com/reload", "cfg");
    user_writes_workload(w, true);
    expect(w, RECORD, "baseline of the named source");
    del_meta_annotation(w->obj, "configmap.reloader.stakater.com/reload");
    user_writes_workload(w, true);
    reconcile(w);
    source(w, "cfg", V2, true);
    reconcile(w);
    set_meta_annotation(w->obj, "reloader.stakater.com/auto", "true");
    user_writes_workload(w, true);
    cr_assert(ne(int, (int)reconcile(w), (int)ROLL), "%s (%s): annotating W again rolled it "
              "for a change made while it did not track the source", rl_kind_name(kind),
              strategy);
    source(w, "cfg", V3, true);
    expect(w, ROLL, "changed once annotated again");
    world_release(w);
}
Test(reconcile, annotating_again_rolls_nothing_for_changes_made_meanwhile)
{
    each(annotated_again_after_changes);
}

/*
 * The chaos case (e2e 64): a leader killed and restarted under its name
 * took its own, unreleased Lease at once and adopted (recorded, without a
 * rollout) the changes made while it was down, which its peers had seen.
 * After rl_reconciler_assume_missed() (a takeover from a holder that did not
 * release) a stale record of a listed workload rolls, as with
 * --sync-after-restart.
 */
static void takeover_rolls_what_was_missed(struct world *w, const char *strategy,
                                           enum rl_kind kind)
{
    for (int takeover = 0; takeover < 2; takeover++) {
        world_init(w, kind, strategy, NULL);
        source(w, "cfg", V2, false);            /* listed: changed while this process was away */
        marked_workload(w, strategy, V1);
        set_meta_annotation(w->obj, w->o->key.applied, "{\"configmap/cfg\":\"" V1 "\"}");
        user_writes_workload(w, false);
        if (takeover)
            rl_reconciler_assume_missed(w->r);
        expect(w, takeover ? ROLL : RECORD, takeover ? "stale record after a takeover: rolled"
                                                     : "stale record after a restart: adopted");
        world_release(w);
    }
}
Test(reconcile, a_takeover_rolls_the_changes_its_process_missed)
{
    each(takeover_rolls_what_was_missed);
}

/*
 * Found by the soak (seed 976558): W, baselined by us while cfg did not
 * exist, carries a copied marker of cfg; cfg is created while reloadd is
 * down; with --sync-after-restart (and no --reload-on-create) that is a
 * creation, not a change: nothing rolls. reloadd rolled on the marker.
 * Our record without an entry for cfg shows it appeared later.
 */
static void created_while_down_with_a_marker(struct world *w, const char *strategy,
                                             enum rl_kind kind)
{
    static const char *const sync_only[] = { "--sync-after-restart=true", NULL };
    static const char *const sync_create[] = { "--sync-after-restart=true",
                                               "--reload-on-create=true", NULL };

    for (int create = 0; create < 2; create++) {
        world_init(w, kind, strategy, create ? sync_create : sync_only);
        source(w, "cfg", V2, false);            /* listed: created while reloadd was down */
        marked_workload(w, strategy, V1);
        set_meta_annotation(w->obj, w->o->key.applied, "{}");
        user_writes_workload(w, false);
        enum act got = reconcile(w);

        cr_assert(eq(int, (int)got, create ? (int)ROLL : (int)RECORD),
                  "%s (%s): created while down, %s (got %d)", rl_kind_name(kind), strategy,
                  create ? "--reload-on-create: rolls" : "no --reload-on-create: recorded only",
                  (int)got);
        world_release(w);
    }
}
Test(reconcile, a_source_created_while_down_is_a_creation_whatever_the_markers)
{
    each(created_while_down_with_a_marker);
}

/*
 * Found by the soak (seed 646365): W stopped reacting to its sources (auto
 * removed) while our record still held them: with nothing left to record,
 * the stale entries stayed, and after a restart with --sync-after-restart a
 * source deleted meanwhile (while W ignored it) rolled W "for a delete
 * while no reloadd ran". The record now drops its last entries too (one
 * metadata write, when the user's edit made them stale).
 */
static void stops_reacting_then_restart(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const flags[] = { "--reload-on-delete=true", "--sync-after-restart=true",
                                         NULL };

    world_init(w, kind, strategy, flags);
    source(w, "cfg", V1, false);
    make_workload(w, NULL, NULL);
    user_writes_workload(w, true);
    expect(w, RECORD, "baseline");
    del_meta_annotation(w->obj, "reloader.stakater.com/auto");
    user_writes_workload(w, true);
    expect(w, RECORD, "no longer reacting: the record drops cfg");
    cr_assert(eq(u16, rl_store_workload(w->store, w->wkey)->n_applied, 0));
    world_release(w);
}
Test(reconcile, a_record_drops_sources_the_workload_stopped_reacting_to)
{
    each(stops_reacting_then_restart);
}

/* reloadd stops and starts again: a fresh store and reconciler, the same API objects. */
static void restart(struct world *w)
{
    rl_reconciler_free(w->r);
    rl_store_free(w->store);
    w->store = rl_store_new(w->o, w->rc);
    w->r = rl_reconciler_new(w->store, NULL, w->o, w->rc, rl_clock_system(), NULL);
}

/*
 * Found by the soak (seed 976558): W appeared while reloadd watched, with a
 * copied marker of cfg, which did not exist: nothing to record, so W had no
 * record at all. cfg was created while reloadd was down, and after a restart
 * with --sync-after-restart the marker alone (a Reloader migration, as far
 * as reloadd could tell) rolled W for a change nobody made. W now gets an
 * empty record, "seen, nothing yet": cfg is then a creation while down.
 */
static void marker_of_a_missing_source(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const sync[] = { "--sync-after-restart=true", NULL };
    static const char *const sync_create[] = { "--sync-after-restart=true",
                                               "--reload-on-create=true", NULL };

    for (int create = 0; create < 2; create++) {
        world_init(w, kind, strategy, create ? sync_create : sync);
        marked_workload(w, strategy, V1);
        user_writes_workload(w, true);
        expect(w, RECORD, "first seen, its source missing: an empty record");
        cr_assert(rl_store_workload(w->store, w->wkey)->has_record);
        restart(w);
        source(w, "cfg", V2, false);            /* listed: created while reloadd was down */
        user_writes_workload(w, false);
        expect(w, create ? ROLL : RECORD, create ? "created while down, --reload-on-create"
                                                 : "created while down: recorded only");
        world_release(w);
    }
}
Test(reconcile, a_workload_seen_before_its_source_gets_a_record)
{
    each(marker_of_a_missing_source);
}

/*
 * Found by the soak (seed 9248, HA): W reacted to cfg, cfg changed, and
 * within the same window the user added another annotation that keeps cfg
 * (configmap auto beside auto). The record, made before the edit, stopped
 * counting, and the change was missed; Reloader judged it with the
 * annotations of its time, which reacted. One edit since the record is
 * judged with the annotations before it: they reacted, so the record spans.
 */
static void edit_keeping_the_source(struct world *w, const char *strategy, enum rl_kind kind)
{
    world_init(w, kind, strategy, NULL);
    source(w, "cfg", V1, true);
    make_workload(w, NULL, NULL);
    user_writes_workload(w, true);
    expect(w, RECORD, "baseline");
    source(w, "cfg", V2, true);
    set_meta_annotation(w->obj, "configmap.reloader.stakater.com/auto", "true");
    user_writes_workload(w, true);
    expect(w, ROLL, "changed, then an edit that still reacts to it");
    cr_assert(eq(u32, w->rollouts, 1));
    world_release(w);
}
Test(reconcile, an_edit_that_keeps_reacting_does_not_hide_a_change)
{
    each(edit_keeping_the_source);
}

/*
 * Found by the soak (seed 786293): W reacts by search to a matching cfg,
 * rolls (or records) for its delete, and reloadd restarts. With no
 * tombstone any more, the deleted cfg no longer "matched", so W seemed to
 * stop reacting and its record lost the delete marker: a metadata write
 * for nothing. Our delete marker, like a version, says it matched.
 */
static void search_delete_restart(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const flags[] = { "--reload-on-delete=true", "--sync-after-restart=true",
                                         NULL };

    world_init(w, kind, strategy, flags);
    w->rv++;
    rl_store_put_source(w->store, RL_SOURCE_CONFIGMAP, "ns", "cfg", test_sha1(V1), false, true, 0,
                        1, NULL, NULL);
    make_workload(w, NULL, NULL);
    del_meta_annotation(w->obj, "reloader.stakater.com/auto");
    set_meta_annotation(w->obj, "reloader.stakater.com/search", "true");
    user_writes_workload(w, false);
    expect(w, RECORD, "baseline of a matching source");
    delete_source(w, "cfg");
    reconcile(w);                               /* the delete: rolled or recorded */
    cr_assert(eq(int, (int)reconcile(w), (int)NONE));
    restart(w);
    user_writes_workload(w, false);
    expect(w, NONE, "after a restart, the delete marker stands");
    world_release(w);
}
Test(reconcile, a_delete_marker_of_a_searched_source_survives_a_restart)
{
    each(search_delete_restart);
}

/* --- maintenance windows (window.h) -------------------------------------- */

#define T0 1800000000LL                     /* 2027-01-15T08:00:00Z */
#define NOON (T0 + 4 * 3600)                /* the window "0 12 * * *; 1h" opens */

static struct hand_clock window_clock = { { hand_mono_ms, hand_wall_us }, T0 };

/* A fresh reconciler on the hand clock (what a restart or a new leader brings). */
static void use_hand_clock(struct world *w)
{
    rl_reconciler_free(w->r);
    w->r = rl_reconciler_new(w->store, NULL, w->o, w->rc, &window_clock.c, NULL);
}

/* reloadd stops and starts again, on the hand clock: everything is listed anew. */
static void restart_listing(struct world *w)
{
    restart(w);
    use_hand_clock(w);
    w->rv++;
    rl_store_put_source(w->store, RL_SOURCE_CONFIGMAP, "ns", "cfg", test_sha1(V3), false, false,
                        0, 1, NULL, NULL);
    user_writes_workload(w, false);
}

static const struct rl_workload *held_workload(const struct world *w)
{
    return rl_store_workload(w->store, w->wkey);
}

/*
 * Issue 17: a change outside the window is recorded as pending - one
 * record-only write that keeps the recorded version - and nothing more
 * while it is closed, even for a second change; at the opening W rolls
 * once, with the latest value, and the mark leaves the record. A restart
 * while held (no --sync-after-restart: a stale record would be adopted)
 * still rolls at the opening: the mark says the change is due.
 */
static void window_holds(struct world *w, const char *strategy, enum rl_kind kind)
{
    static const char *const flags[] = { "--rollout-window=0 12 * * *; 1h", NULL };
    struct rl_reconcile_preview pv;

    for (int with_restart = 0; with_restart < 2; with_restart++) {
        window_clock.now_s = T0;
        world_init(w, kind, strategy, flags);
        use_hand_clock(w);
        source(w, "cfg", V1, false);
        make_workload(w, NULL, NULL);
        user_writes_workload(w, false);
        expect(w, RECORD, "baseline");
        source(w, "cfg", V2, true);
        expect(w, RECORD, "outside the window: the pending mark, once");
        cr_assert(eq(i64, held_workload(w)->pending_since_s, T0));
        cr_assert(eq(str, (char *)rl_workload_applied(held_workload(w), RL_SOURCE_CONFIGMAP,
                                                       "cfg"), V1), "the record kept V1");
        window_clock.now_s = T0 + 60;
        source(w, "cfg", V3, true);
        expect(w, NONE, "changed again while held: no second write");
        cr_assert(eq(int, rl_reconcile_preview(w->r, w->wkey, &pv), 0));
        cr_assert(eq(i64, pv.window_opens_at_s, NOON));
        rl_reconcile_preview_release(&pv);
        if (with_restart) {
            restart_listing(w);
            expect(w, NONE, "after a restart, still held");
        }
        window_clock.now_s = NOON;
        expect(w, ROLL, with_restart ? "the opening, after a restart" : "the opening");
        cr_assert(eq(u32, w->rollouts, 1));
        cr_assert(eq(str, (char *)rl_workload_applied(held_workload(w), RL_SOURCE_CONFIGMAP,
                                                       "cfg"), V3), "rolled with the latest");
        cr_assert(eq(i64, held_workload(w)->pending_since_s, 0), "the mark left the record");
        world_release(w);
    }
}
Test(reconcile, a_closed_window_holds_a_change_pending_and_rolls_it_once_at_the_opening)
{
    each(window_holds);
}

/*
 * The workload's annotation overrides the flag: "always" lifts the window,
 * a value that does not parse is reported and the flag's window applies,
 * and a workload's own window holds without a flag. A change reverted
 * while held drops the mark (a record write), and rolls nothing.
 */
Test(reconcile, the_rollout_window_annotation_overrides_the_default)
{
    static const char *const flagged[] = { "--rollout-window=0 12 * * *; 1h", "--dry-run=true",
                                           NULL };
    static const char *const dry[] = { "--dry-run=true", NULL };
    static const struct {
        const char *flag_ann;               /* NULL: no annotation */
        bool flag;
        enum act want;
        const char *problem;                /* expected in the problem, or NULL */
    } cases[] = {
        { "always", true, ROLL, NULL },
        { "off", true, ROLL, NULL },
        { "0 12 * * *; 1h; Nowhere/Atlantis", true, RECORD, "Nowhere/Atlantis" },
        { "every day", true, RECORD, "maintenance window" },
        { "0 12 * * *; 1h", false, RECORD, NULL },
        { "0 8 * * *; 30m; UTC", true, ROLL, NULL },    /* its own window is open */
        { NULL, false, ROLL, NULL },
    };
    struct problems_seen ps;
    struct rl_reconcile_hooks hooks = { .on_problem = note_problem, .ctx = &ps };
    struct world w;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&ps, 0, sizeof(ps));
        window_clock.now_s = T0;
        world_init(&w, RL_KIND_DEPLOYMENT, "env-vars", cases[i].flag ? flagged : dry);
        rl_reconciler_free(w.r);
        w.r = rl_reconciler_new(w.store, NULL, w.o, w.rc, &window_clock.c, &hooks);
        source(&w, "cfg", V1, false);
        make_workload(&w, NULL, NULL);
        if (cases[i].flag_ann)
            set_meta_annotation(w.obj, "reloadd.io/rollout-window", cases[i].flag_ann);
        user_writes_workload(&w, false);
        expect(&w, RECORD, "baseline");
        source(&w, "cfg", V2, true);
        cr_assert(eq(int, rl_reconcile(w.r, w.wkey), 0));   /* no API: reports, writes fail */
        expect(&w, cases[i].want, cases[i].flag_ann ? cases[i].flag_ann : "no window");
        if (cases[i].problem)
            cr_assert(strstr(ps.last, cases[i].problem) != NULL, "%s: problems: %s",
                      cases[i].flag_ann, ps.last);
        else
            cr_assert(eq(u32, ps.n, 0), "%s: problems: %s", cases[i].flag_ann, ps.last);
        if (cases[i].want == RECORD) {
            source(&w, "cfg", V1, true);
            expect(&w, RECORD, "reverted while held: the mark goes");
            cr_assert(eq(i64, held_workload(&w)->pending_since_s, 0));
            cr_assert(eq(u32, w.rollouts, 0));
        }
        world_release(&w);
    }
}

/* --- the health gate (gate.h), through rl_reconcile() and an API server that says yes --- */

struct gate_seen {
    unsigned gated;                 /* on_gated calls */
    char last[128];                 /* ... the workload */
    unsigned timed_out, failed;
    char requeued[8][128];          /* requeue_after calls with delay 0 */
    unsigned n_requeued;
    uint64_t last_delay;
};

static void note_gated(void *ctx, const struct rl_gate_hold *h)
{
    struct gate_seen *gs = ctx;

    gs->gated++;
    snprintf(gs->last, sizeof(gs->last), "%s", h->name);
    gs->timed_out = h->timed_out;
    gs->failed = h->failed;
    cr_assert(eq(str, (char *)h->source, "cfg"));
}

static void note_requeue(void *ctx, const char *wkey, uint64_t delay_ms)
{
    struct gate_seen *gs = ctx;

    gs->last_delay = delay_ms;
    if (delay_ms == 0 && gs->n_requeued < 8)
        snprintf(gs->requeued[gs->n_requeued++], sizeof(gs->requeued[0]), "%s", wkey);
}

/*
 * Deployment `name` taking ConfigMap cfg, its record holding `recorded`,
 * at `generation`, its status: "done", "running" or "failed" for that
 * generation; `gate_ann` its health-gate annotation (NULL: none). Handed to
 * the store as the watch would (rl_reconciler_observed first).
 */
static void gate_deployment_pending(struct world *w, const char *name, const char *recorded,
                                    long long pending_s, int generation, const char *status,
                                    const char *gate_ann, bool live);

static void gate_deployment(struct world *w, const char *name, const char *recorded,
                            int generation, const char *status, const char *gate_ann, bool live)
{
    gate_deployment_pending(w, name, recorded, 0, generation, status, gate_ann, live);
}

/* The JSON of such a Deployment at resourceVersion rv, into buf. */
static void gate_deployment_json(char *buf, size_t size, const char *name, const char *recorded,
                                 long long pending_s, int generation, const char *status,
                                 const char *gate_ann, unsigned long long rv)
{
    char ann[256], cond[256] = "", pending[64] = "";

    if (strcmp(status, "failed") == 0)
        snprintf(cond, sizeof(cond), ",\"conditions\":[{\"type\":\"Progressing\","
                 "\"status\":\"False\",\"reason\":\"ProgressDeadlineExceeded\"}]");
    snprintf(ann, sizeof(ann), "%s%s%s", gate_ann ? ",\"reloadd.io/health-gate\":\"" : "",
             gate_ann ? gate_ann : "", gate_ann ? "\"" : "");
    if (pending_s)
        snprintf(pending, sizeof(pending), "\\\"@pending\\\":\\\"%lld\\\",", pending_s);
    snprintf(buf, size,
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"uid\":\"uid-%s\","
             "\"generation\":%d,\"resourceVersion\":\"%llu\",\"annotations\":{"
             "\"reloader.stakater.com/auto\":\"true\","
             "\"reloadd.io/applied\":\"{%s\\\"configmap/cfg\\\":\\\"%s\\\"}\"%s}},"
             "\"spec\":{\"replicas\":1,\"template\":{\"metadata\":{\"labels\":{\"app\":\"a\"}},"
             "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"img:1\","
             "\"envFrom\":[{\"configMapRef\":{\"name\":\"cfg\"}}]}]}}},"
             "\"status\":{\"observedGeneration\":%d,\"replicas\":1,\"updatedReplicas\":1,"
             "\"availableReplicas\":%d%s}}",
             name, name, generation, rv, pending, recorded, ann, generation,
             strcmp(status, "done") == 0 ? 1 : 0, cond);
}

static void gate_deployment_pending(struct world *w, const char *name, const char *recorded,
                                    long long pending_s, int generation, const char *status,
                                    const char *gate_ann, bool live)
{
    char buf[4096];
    struct rl_workload *wl = NULL;
    cJSON *obj;

    w->rv++;
    gate_deployment_json(buf, sizeof(buf), name, recorded, pending_s, generation, status,
                         gate_ann, (unsigned long long)w->rv);
    obj = cJSON_Parse(buf);
    cr_assert(obj != NULL, "bad fixture");
    cr_assert(eq(int, rl_workload_decode(obj, RL_KIND_DEPLOYMENT, &w->keys, &wl), 0));
    cJSON_Delete(obj);
    rl_reconciler_observed(w->r, wl);
    rl_store_put_workload(w->store, wl, live ? w->rv : 0, 1, NULL, NULL);
}

static cJSON *gate_explain(struct world *w, const char *name, const char **decision,
                           const char **verdict)
{
    char wkey[128];
    cJSON *e, *src;

    rl_store_workload_key(wkey, sizeof(wkey), RL_KIND_DEPLOYMENT, "ns", name);
    e = rl_reconcile_explain(w->r, wkey);
    cr_assert(e != NULL);
    *decision = cJSON_GetStringValue(cJSON_GetObjectItem(e, "decision"));
    src = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "healthGate"),
                                                 "sources"), 0);
    *verdict = src ? cJSON_GetStringValue(cJSON_GetObjectItem(src, "verdict")) : "";
    return e;
}

static void expect_gate(struct world *w, const char *name, const char *decision,
                        const char *verdict)
{
    const char *d, *v;
    cJSON *e = gate_explain(w, name, &d, &v);

    cr_assert(eq(str, (char *)d, (char *)decision), "%s: decision %s", name, d);
    cr_assert(eq(str, (char *)v, (char *)verdict), "%s: gate verdict %s", name, v);
    cJSON_Delete(e);
}

static int gate_reconcile(struct world *w, const char *name)
{
    char wkey[128];

    rl_store_workload_key(wkey, sizeof(wkey), RL_KIND_DEPLOYMENT, "ns", name);
    return rl_reconcile(w->r, wkey);
}

static struct rl_kube *sink_client(struct http_sink *sink)
{
    struct rl_kubeconfig *cfg = NULL;
    char errbuf[512];
    char *yaml = rl_xasprintf("clusters:\n- name: c\n  cluster: {server: '%s'}\n"
                              "contexts:\n- name: x\n  context: {cluster: c}\n"
                              "current-context: x\n", http_sink_url(sink));

    cr_assert(eq(int, rl_kubeconfig_parse(&cfg, "/t/config", yaml, strlen(yaml), NULL, errbuf,
                                          sizeof(errbuf)), 0), "%s", errbuf);
    free(yaml);
    return rl_kube_new(cfg, NULL, NULL);
}

/*
 * Deployments a, b and c of ConfigMap cfg, recorded at V1, listed; then cfg
 * changes to V2. The reconciler writes to kube, on clock clk, with hooks.
 */
static void gate_world(struct world *w, const char *const *flags, struct rl_kube *kube,
                       const struct rl_clock *clk, const struct rl_reconcile_hooks *hooks)
{
    world_init(w, RL_KIND_DEPLOYMENT, "env-vars", flags);
    rl_reconciler_free(w->r);
    w->r = rl_reconciler_new(w->store, kube, w->o, w->rc, clk, hooks);
    source(w, "cfg", V1, false);
    gate_deployment(w, "a", V1, 1, "done", NULL, false);
    gate_deployment(w, "b", V1, 1, "done", NULL, false);
    gate_deployment(w, "c", V1, 1, "done", NULL, false);
    source(w, "cfg", V2, true);
}

/*
 * Issue 17.3: one ConfigMap, three gated Deployments, a batch of 1. The
 * first to ask rolls (one PATCH); the others wait, each marked pending once
 * (a record-only PATCH, so that a restart keeps the change); its rollout
 * failing holds the version (the waiting ones are queued at once, then
 * reported once each, written no more); a new version starts afresh:
 * a new first batch, whose rollout coming out done lets the rest roll.
 * A member not available within the timeout holds the version too.
 */
Test(reconcile, the_health_gate_rolls_a_first_batch_and_holds_a_failed_version)
{
    static const char *const flags[] = { "--health-gate", "--health-gate-batch=1",
                                         "--health-gate-timeout=20s", NULL };
    struct hand_clock clk = { { hand_mono_ms, hand_wall_us }, 1800000000 };
    struct http_sink *sink = http_sink_start();
    struct rl_kube *kube = sink_client(sink);
    struct gate_seen gs = { 0 };
    struct rl_reconcile_hooks hooks = { .on_gated = note_gated,
                                        .requeue_after = note_requeue, .ctx = &gs };
    struct world w;

    gate_world(&w, flags, kube, &clk.c, &hooks);

    expect_gate(&w, "a", "rollout", "roll");
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 1), "the first batch rolls");
    expect_gate(&w, "b", "rollout", "wait");
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 3), "the others wait, each marked pending once");
    {
        struct http_sink_req req;

        cr_assert(http_sink_request(sink, 1, &req));
        cr_assert(eq(str, req.method, "PATCH"));
        cr_assert(strstr(req.body, "@pending") && strstr(req.body, V1) &&
                      strstr(req.body, V2) == NULL,
                  "the record as it stands, marked pending: %s", req.body);
        cr_assert(strstr(req.body, "STAKATER_") == NULL, "no marker: %s", req.body);
        http_sink_req_release(&req);
    }
    cr_assert(gs.last_delay >= 20000 && gs.last_delay <= 21000,
              "a waiting workload looks again at the batch's deadline: %llu ms",
              (unsigned long long)gs.last_delay);
    /* The marks come back through the watch: waiting again writes nothing. */
    gate_deployment_pending(&w, "b", V1, clk.now_s, 1, "done", NULL, true);
    gate_deployment_pending(&w, "c", V1, clk.now_s, 1, "done", NULL, true);
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 3), "marked once");
    /* Our write comes back through the watch, then the rollout fails. */
    gate_deployment(&w, "a", V2, 2, "running", NULL, true);
    cr_assert(eq(u32, gs.n_requeued, 0), "still running: nobody woken");
    gate_deployment(&w, "a", V2, 2, "failed", NULL, true);
    cr_assert(eq(u32, gs.n_requeued, 3), "the held version wakes the source's dependents");
    for (int i = 0; i < 2; i++) {
        cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
        cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    }
    cr_assert(eq(sz, http_sink_count(sink), 3), "held: no rollout, and already marked");
    cr_assert(eq(u32, gs.gated, 2), "reported once per workload and version");
    cr_assert(eq(u32, gs.failed, 1));
    expect_gate(&w, "b", "held", "hold");
    expect_gate(&w, "a", "none", "");

    /* A new version starts afresh: b is its first batch, and done lets the others roll. */
    clk.now_s += 5;
    gs.n_requeued = 0;
    source(&w, "cfg", V3, true);
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 4));
    {
        struct http_sink_req req;

        cr_assert(http_sink_request(sink, 3, &req));
        cr_assert(strstr(req.body, V3) && strstr(req.body, "@pending") == NULL,
                  "the rollout drops the mark: %s", req.body);
        http_sink_req_release(&req);
    }
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 4), "c waits for b, marked already");
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 5), "a waits for b: marked pending");
    gate_deployment_pending(&w, "a", V2, clk.now_s, 2, "failed", NULL, true);
    gate_deployment(&w, "b", V3, 1, "done", NULL, true);   /* an older status: not ours */
    cr_assert(eq(u32, gs.n_requeued, 0));
    gate_deployment(&w, "b", V3, 2, "done", NULL, true);
    cr_assert(eq(u32, gs.n_requeued, 3), "the version passed: its dependents are queued");
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 7), "the rest roll once the batch is done");
    cr_assert(eq(u32, gs.gated, 2));

    /* A member not available within the timeout holds the version. */
    gate_deployment(&w, "a", V3, 3, "done", NULL, true);
    gate_deployment(&w, "c", V3, 2, "done", NULL, true);
    source(&w, "cfg", V4, true);
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 8));
    gate_deployment(&w, "c", V4, 3, "running", NULL, true);
    clk.now_s += 19;
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    expect_gate(&w, "a", "rollout", "wait");
    cr_assert(eq(sz, http_sink_count(sink), 9), "a marked pending while it waits");
    gate_deployment_pending(&w, "a", V3, clk.now_s, 3, "done", NULL, true);
    clk.now_s += 2;
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    expect_gate(&w, "a", "held", "hold");
    cr_assert(eq(u32, gs.gated, 3));
    cr_assert(eq(u32, gs.timed_out, 1));
    cr_assert(eq(sz, http_sink_count(sink), 9), "held: already marked");
    /* b opted out: it rolls whatever the gate says. */
    gate_deployment(&w, "b", V3, 2, "done", "false", true);
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 10), "an opted-out workload is not gated");

    /* A new leader starts the gate afresh: the held version rolls one more first batch. */
    rl_reconciler_adopt_rollouts(w.r);
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 11));
    world_release(&w);
    rl_kube_free(kube);
    http_sink_stop(sink);
}

/* The flag off, a workload opts in; a value that is not a boolean is a problem, default kept. */
Test(reconcile, the_health_gate_annotation_opts_in_and_out)
{
    static const char *const on[] = { "--health-gate", NULL };
    static const struct {
        const char *const *flags;
        const char *ann;
        bool gated;
        bool problem;
    } cases[] = {
        { NULL, NULL, false, false },
        { NULL, "true", true, false },
        { NULL, "1", true, false },
        { on, NULL, true, false },
        { on, "false", false, false },
        { on, "F", false, false },
        { on, "yes", true, true },
        { NULL, "yes", false, true },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct world w;
        cJSON *e, *g;

        world_init(&w, RL_KIND_DEPLOYMENT, "env-vars", cases[i].flags);
        source(&w, "cfg", V1, false);
        gate_deployment(&w, "a", V1, 1, "done", cases[i].ann, false);
        source(&w, "cfg", V2, true);
        e = rl_reconcile_explain(w.r, "deployment/ns/a");
        cr_assert(e != NULL);
        g = cJSON_GetObjectItem(e, "healthGate");
        if (!cases[i].gated && !cases[i].problem) {
            cr_assert(g == NULL, "case %zu: not gated, no healthGate", i);
        } else {
            cr_assert(g != NULL, "case %zu", i);
            cr_assert(eq(int, cJSON_IsTrue(cJSON_GetObjectItem(g, "enabled")), cases[i].gated),
                      "case %zu", i);
            cr_assert(eq(int, cJSON_GetObjectItem(g, "problem") != NULL, cases[i].problem),
                      "case %zu", i);
        }
        cJSON_Delete(e);
        world_release(&w);
    }
}

/*
 * A held workload's change survives a restart: its record marked pending
 * judges it as --sync-after-restart does, so the new process rolls it (the
 * gate asked afresh); unmarked, a stale record listed at start is adopted.
 */
Test(reconcile, a_held_workload_is_still_pending_after_a_restart)
{
    static const char *const flags[] = { "--health-gate", NULL };

    for (int marked = 0; marked < 2; marked++) {
        const char *d, *v;
        struct world w;
        cJSON *e;

        world_init(&w, RL_KIND_DEPLOYMENT, "env-vars", flags);
        source(&w, "cfg", V2, false);
        gate_deployment_pending(&w, "b", V1, marked ? 1800000000 : 0, 1, "done", NULL, false);
        e = gate_explain(&w, "b", &d, &v);
        cr_assert(eq(str, (char *)d, marked ? "rollout" : "record"), "marked %d: %s", marked, d);
        if (marked)
            cr_assert(eq(str, (char *)v, "roll"));
        cJSON_Delete(e);
        world_release(&w);
    }
}

/*
 * Issue 17.2: a cap of 1 and three Deployments of one ConfigMap. The first
 * rolls; the others wait, each marked pending once (a record-only PATCH
 * that keeps the recorded version, so that a restart while they wait keeps
 * the change - the planner's rule of the mark, tested with the window and
 * the budget above); when the slot frees, the next in order of arrival
 * rolls and its rollout drops the mark; the third still waits, unwritten.
 */
Test(reconcile, workloads_waiting_on_the_cap_are_marked_pending_once)
{
    static const char *const flags[] = { "--max-concurrent-rollouts=1", NULL };
    struct hand_clock clk = { { hand_mono_ms, hand_wall_us }, 1800000000 };
    struct http_sink *sink = http_sink_start();
    struct rl_kube *kube = sink_client(sink);
    struct gate_seen gs = { 0 };
    struct rl_reconcile_hooks hooks = { .requeue_after = note_requeue, .ctx = &gs };
    struct http_sink_req req;
    struct world w;

    gate_world(&w, flags, kube, &clk.c, &hooks);
    for (int i = 0; i < 2; i++) {
        cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
        cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
        cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
        cr_assert(eq(sz, http_sink_count(sink), 3), "a rolls; b and c wait, marked once");
        if (i == 0) {
            gate_deployment(&w, "a", V2, 2, "running", NULL, true);
            gate_deployment_pending(&w, "b", V1, clk.now_s, 1, "done", NULL, true);
            gate_deployment_pending(&w, "c", V1, clk.now_s, 1, "done", NULL, true);
        }
    }
    cr_assert(http_sink_request(sink, 1, &req));
    cr_assert(strstr(req.body, "@pending") && strstr(req.body, V1) && !strstr(req.body, V2) &&
                  !strstr(req.body, "STAKATER_"),
              "the record as it stands, marked pending: %s", req.body);
    http_sink_req_release(&req);
    gate_deployment(&w, "a", V2, 2, "done", NULL, true);
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 4), "the slot freed: b rolls, c waits");
    cr_assert(http_sink_request(sink, 3, &req));
    cr_assert(strstr(req.body, V2) && !strstr(req.body, "@pending"),
              "the rollout drops the mark: %s", req.body);
    http_sink_req_release(&req);
    world_release(&w);
    rl_kube_free(kube);
    http_sink_stop(sink);
}

/*
 * Issue 18: after a takeover, the first rollout of W asks the API server
 * for W (one GET) and waits for the watch only if the live W decides
 * differently from the cached one - the old leader's write not seen yet -
 * not because a controller's status update moved its resourceVersion.
 */
Test(reconcile, after_a_takeover_a_status_update_does_not_delay_the_first_rollout)
{
    struct hand_clock clk = { { hand_mono_ms, hand_wall_us }, 1800000000 };
    struct http_sink *sink = http_sink_start();
    struct rl_kube *kube = sink_client(sink);
    char live[4096];
    struct world w;

    gate_world(&w, NULL, kube, &clk.c, NULL);
    rl_reconciler_verify_takeover(w.r);
    /* a: only its status moved since the cache (a newer resourceVersion). */
    gate_deployment_json(live, sizeof(live), "a", V1, 0, 1, "running", NULL,
                         (unsigned long long)w.rv + 7);
    http_sink_respond(sink, 200, live);
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 2), "a GET, then the rollout at once");
    /* b: the old leader rolled it for V2, and the watch has not shown it yet. */
    gate_deployment_json(live, sizeof(live), "b", V2, 0, 2, "running", NULL,
                         (unsigned long long)w.rv + 8);
    http_sink_respond(sink, 200, live);
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 3), "a GET, and no rollout: the cache is behind");
    world_release(&w);
    rl_kube_free(kube);
    http_sink_stop(sink);
}

/*
 * With the cap: a workload waiting on the gate gives its slot back (the
 * gate is asked once the cap admitted it), so the gate's waiting never
 * holds slots; the first batch's rollout keeps its slot until it is done.
 */
Test(reconcile, a_workload_waiting_on_the_gate_gives_its_cap_slot_back)
{
    static const char *const flags[] = { "--health-gate", "--max-concurrent-rollouts=2", NULL };
    struct hand_clock clk = { { hand_mono_ms, hand_wall_us }, 1800000000 };
    struct http_sink *sink = http_sink_start();
    struct rl_kube *kube = sink_client(sink);
    struct gate_seen gs = { 0 };
    struct rl_reconcile_hooks hooks = { .requeue_after = note_requeue, .ctx = &gs };
    struct rl_cap_counts n;
    struct world w;

    gate_world(&w, flags, kube, &clk.c, &hooks);
    cr_assert(eq(int, gate_reconcile(&w, "a"), 0));
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 3), "a rolls, b and c marked pending");
    gate_deployment_pending(&w, "b", V1, clk.now_s, 1, "done", NULL, true);
    gate_deployment_pending(&w, "c", V1, clk.now_s, 1, "done", NULL, true);
    rl_reconciler_cap_counts(w.r, &n);
    cr_assert(eq(sz, n.in_flight, 1), "only the first batch's rollout holds a slot");
    cr_assert(eq(sz, n.waiting, 0));
    gate_deployment(&w, "a", V2, 2, "done", NULL, true);
    rl_reconciler_cap_counts(w.r, &n);
    cr_assert(eq(sz, n.in_flight, 0), "done: the slot is free");
    cr_assert(eq(int, gate_reconcile(&w, "b"), 0));
    cr_assert(eq(int, gate_reconcile(&w, "c"), 0));
    cr_assert(eq(sz, http_sink_count(sink), 5), "the batch passed: both roll, under the cap");
    rl_reconciler_cap_counts(w.r, &n);
    cr_assert(eq(sz, n.in_flight, 2));
    world_release(&w);
    rl_kube_free(kube);
    http_sink_stop(sink);
}
