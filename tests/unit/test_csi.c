/*
 * test_csi.c - SecretProviderClasses as sources (csi.h): a status object
 * decoded as the CSI driver writes it, the tracker (many status objects,
 * one source, one change), and the planner's verdicts for such sources
 * (plan.c) with a Deployment mounting a CSI volume.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/config/policy.h"
#include "reloadd/reload/csi.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/marker.h"
#include "reloadd/reload/reconcile.h"
#include "reloadd/reload/store.h"
#include "testutil.h"

/* docs/reloader.md §4.1: SecretProviderClassName=my-spc;secret/password=v1 */
#define H_V1 "fb6920c4cb0a155ac970eb6f6049bef371105ac8"

/* A SecretProviderClassPodStatus as the driver writes it (name: <pod>-<ns>-<class>). */
static cJSON *status_json(const char *pod, const char *spc, const char *version, unsigned rv)
{
    char buf[2048];

    snprintf(buf, sizeof(buf),
             "{\"apiVersion\":\"secrets-store.csi.x-k8s.io/v1\","
             "\"kind\":\"SecretProviderClassPodStatus\","
             "\"metadata\":{\"name\":\"%s-ns-%s\",\"namespace\":\"ns\",\"resourceVersion\":\"%u\","
             "\"labels\":{\"internal.secrets-store.csi.k8s.io/node-name\":\"node-1\"},"
             "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"name\":\"%s\","
             "\"uid\":\"u\"}]},"
             "\"status\":{\"podName\":\"%s\",\"secretProviderClassName\":\"%s\",\"mounted\":true,"
             "\"targetPath\":\"/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/s/mount\""
             "%s%s%s}}",
             pod, spc, rv, pod, pod, spc,
             version ? ",\"objects\":[{\"id\":\"secret/password\",\"version\":\"" : "",
             version ? version : "", version ? "\"}]" : "");
    return cJSON_Parse(buf);
}

Test(csi, decode_status_as_the_driver_writes_it)
{
    cJSON *j = status_json("app-1", "my-spc", "v1", 42);
    struct rl_csi_status st;
    char hex[RL_HASH_HEX_SIZE];

    cr_assert(eq(int, rl_csi_status_decode(j, &st), 0));
    cr_assert(eq(str, (char *)st.ns, "ns"));
    cr_assert(eq(str, (char *)st.name, "app-1-ns-my-spc"));
    cr_assert(eq(str, (char *)st.spc, "my-spc"));
    cr_assert(eq(str, (char *)st.pod, "app-1"));
    cr_assert(eq(u64, st.rv, 42));
    cr_assert(st.has_objects);
    rl_sha1_hex(&st.sha1, hex);
    cr_assert(eq(str, hex, H_V1));
    cJSON_Delete(j);

    /* Not yet populated: no objects (Go: nil), still decodable. */
    j = status_json("app-1", "my-spc", NULL, 43);
    cr_assert(eq(int, rl_csi_status_decode(j, &st), 0));
    cr_assert(not(st.has_objects));
    cJSON_Delete(j);

    /* No class named: not a source. */
    j = cJSON_Parse("{\"metadata\":{\"name\":\"x\",\"namespace\":\"ns\"},\"status\":{}}");
    cr_assert(eq(int, rl_csi_status_decode(j, &st), RL_EPARSE));
    cJSON_Delete(j);
}

/* --- the tracker -------------------------------------------------------- */

struct tracker {
    struct rl_policy *pol;
    struct rl_regex_cache *rc;
    struct rl_store *store;
    struct rl_csi *csi;
};

static void tracker_init(struct tracker *t)
{
    t->pol = test_policy("--enable-csi-integration", (char *)NULL);
    t->rc = rl_regex_cache_new(64);
    t->store = rl_store_new(t->pol, t->rc);
    t->csi = rl_csi_new(t->store);
}

static void tracker_release(struct tracker *t)
{
    rl_csi_free(t->csi);
    rl_store_free(t->store);
    rl_regex_cache_free(t->rc);
    rl_policy_free(t->pol);
}

static enum rl_csi_event put(struct rl_csi *csi, const char *pod, const char *spc,
                             const char *version, unsigned rv, bool live)
{
    cJSON *j = status_json(pod, spc, version, rv);
    struct rl_csi_status st;
    enum rl_csi_event ev;

    cr_assert(eq(int, rl_csi_status_decode(j, &st), 0));
    ev = rl_csi_put_status(csi, &st, live, 1, NULL, NULL);
    cJSON_Delete(j);
    return ev;
}

/* The source's hash (hex) and changed_rv; false if none. */
static bool source(struct tracker *t, const char *spc, char hex[RL_HASH_HEX_SIZE],
                   uint64_t *changed_rv, uint64_t *created_rv)
{
    const struct rl_source *src;

    rl_store_rdlock(t->store);
    src = rl_store_source(t->store, RL_SOURCE_SPC, "ns", spc);
    if (src) {
        rl_sha1_hex(&src->sha1, hex);
        *changed_rv = src->changed_rv;
        *created_rv = src->created_rv;
    }
    rl_store_unlock(t->store);
    return src != NULL;
}

static const char *hash_of(const char *spc, const char *version)
{
    static char hex[RL_HASH_HEX_SIZE];
    cJSON *j = status_json("p", spc, version, 1);
    struct rl_csi_status st;

    cr_assert(eq(int, rl_csi_status_decode(j, &st), 0));
    rl_sha1_hex(&st.sha1, hex);
    cJSON_Delete(j);
    return hex;
}

Test(csi, many_status_objects_one_source_one_change)
{
    struct tracker t;
    char hex[RL_HASH_HEX_SIZE], v2[RL_HASH_HEX_SIZE];
    uint64_t changed, created;

    tracker_init(&t);
    strcpy(v2, hash_of("my-spc", "v2"));
    /* The first list: three pods, one lagging behind; the newest tells the version. */
    cr_assert(eq(int, put(t.csi, "a", "my-spc", "v1", 10, false), RL_CSI_ADDED));
    cr_assert(eq(int, put(t.csi, "b", "my-spc", "v2", 12, false), RL_CSI_ADDED));
    cr_assert(eq(int, put(t.csi, "c", "my-spc", "v1", 11, false), RL_CSI_ADDED));
    cr_assert(source(&t, "my-spc", hex, &changed, &created));
    cr_assert(eq(str, hex, v2));
    cr_assert(eq(u64, changed, 0));
    cr_assert(eq(u64, created, 0));

    /* Live: a rotation to v3 that three pods report is one change, at the first report. */
    cr_assert(eq(int, put(t.csi, "a", "my-spc", "v3", 20, true), RL_CSI_CHANGED));
    cr_assert(source(&t, "my-spc", hex, &changed, &created));
    cr_assert(eq(str, hex, hash_of("my-spc", "v3")));
    cr_assert(eq(u64, changed, 20));
    cr_assert(eq(int, put(t.csi, "b", "my-spc", "v3", 21, true), RL_CSI_CHANGED));
    cr_assert(eq(int, put(t.csi, "c", "my-spc", "v3", 22, true), RL_CSI_CHANGED));
    cr_assert(source(&t, "my-spc", hex, &changed, &created));
    cr_assert(eq(u64, changed, 20), "later reports of the same version changed nothing");

    /* An update with the same objects (the driver's periodic write): no change. */
    cr_assert(eq(int, put(t.csi, "a", "my-spc", "v3", 23, true), RL_CSI_SAME));
    /* A lagging pod's unrelated update does not take the source back. */
    cr_assert(eq(int, put(t.csi, "d", "my-spc", "v1", 24, true), RL_CSI_ADDED));
    cr_assert(eq(int, put(t.csi, "d", "my-spc", "v1", 25, true), RL_CSI_SAME));
    cr_assert(source(&t, "my-spc", hex, &changed, &created));
    cr_assert(eq(str, hex, hash_of("my-spc", "v3")));
    cr_assert(eq(u64, changed, 20));
    /* A new pod's status (an add) is never a change (docs/reloader.md §5.5). */
    cr_assert(eq(int, put(t.csi, "e", "my-spc", "v4", 26, true), RL_CSI_ADDED));
    cr_assert(source(&t, "my-spc", hex, &changed, &created));
    cr_assert(eq(u64, changed, 20));

    /* Every status gone, but the class is there: the source stays. */
    rl_csi_put_class(t.csi, "ns", "my-spc", false, false, 1, NULL, NULL);
    rl_csi_sweep_statuses(t.csi, NULL, 2, NULL, NULL);
    cr_assert(source(&t, "my-spc", hex, &changed, &created));
    /* The class gone too: so is the source. */
    rl_csi_del_class(t.csi, "ns", "my-spc", 30, NULL, NULL);
    cr_assert(not(source(&t, "my-spc", hex, &changed, &created)));
    {
        struct rl_csi_counts n;

        rl_csi_counts(t.csi, &n);
        cr_assert(eq(sz, n.statuses, 0));
        cr_assert(eq(sz, n.classes, 0));
    }
    tracker_release(&t);
}

Test(csi, first_objects_of_a_status_are_a_change)
{
    struct tracker t;
    char hex[RL_HASH_HEX_SIZE];
    uint64_t changed, created;

    tracker_init(&t);
    cr_assert(eq(int, put(t.csi, "a", "my-spc", "v1", 10, false), RL_CSI_ADDED));
    cr_assert(eq(int, put(t.csi, "b", "my-spc", NULL, 11, true), RL_CSI_ADDED));
    cr_assert(eq(int, put(t.csi, "b", "my-spc", "v2", 12, true), RL_CSI_CHANGED));
    cr_assert(source(&t, "my-spc", hex, &changed, &created));
    cr_assert(eq(str, hex, hash_of("my-spc", "v2")));
    cr_assert(eq(u64, changed, 12));
    tracker_release(&t);
}

Test(csi, class_annotations_are_the_source_s)
{
    struct tracker t;
    const struct rl_source *src;

    tracker_init(&t);
    put(t.csi, "a", "my-spc", "v1", 10, false);
    rl_csi_put_class(t.csi, "ns", "my-spc", true, false, 1, NULL, NULL);
    rl_store_rdlock(t.store);
    src = rl_store_source(t.store, RL_SOURCE_SPC, "ns", "my-spc");
    cr_assert(src && src->ignore && !src->match);
    rl_store_unlock(t.store);
    rl_csi_put_class(t.csi, "ns", "my-spc", false, true, 1, NULL, NULL);
    rl_store_rdlock(t.store);
    src = rl_store_source(t.store, RL_SOURCE_SPC, "ns", "my-spc");
    cr_assert(src && !src->ignore && src->match);
    rl_store_unlock(t.store);
    tracker_release(&t);
}

/* --- the planner's verdicts ------------------------------------------------ */

struct world {
    struct rl_policy *pol;
    struct rl_workload_keys keys;
    struct rl_regex_cache *rc;
    struct rl_store *store;
    struct rl_csi *csi;
    struct rl_reconciler *r;
    cJSON *obj;
    unsigned rv;
    char wkey[128];
};

/*
 * Deployment "app" in "ns", container "c" mounting a CSI volume of class
 * my-spc (unless `mounted` is false: no volume), metadata annotations `ann`.
 */
static void world_init(struct world *w, const char *ann, bool mounted, const char *flag1,
                       const char *flag2)
{
    char buf[4096];

    memset(w, 0, sizeof(*w));
    w->pol = test_policy(flag1, flag2, (char *)NULL);
    rl_workload_keys_init(&w->keys, w->pol);
    w->rc = rl_regex_cache_new(64);
    w->store = rl_store_new(w->pol, w->rc);
    w->csi = rl_csi_new(w->store);
    w->r = rl_reconciler_new(w->store, NULL, w->pol, w->rc, rl_clock_system(), NULL);
    w->rv = 100;
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"app\",\"namespace\":\"ns\",\"uid\":\"u1\",\"generation\":1,"
             "\"annotations\":{%s}},\"spec\":{\"template\":{\"metadata\":{},\"spec\":{"
             "\"containers\":[{\"name\":\"c\",\"image\":\"i\"%s}]%s}}}}",
             ann,
             mounted ? ",\"volumeMounts\":[{\"name\":\"secrets\",\"mountPath\":\"/s\"}]" : "",
             mounted ? ",\"volumes\":[{\"name\":\"secrets\",\"csi\":{\"driver\":"
                       "\"secrets-store.csi.k8s.io\",\"readOnly\":true,\"volumeAttributes\":"
                       "{\"secretProviderClass\":\"my-spc\"}}}]" : "");
    w->obj = cJSON_Parse(buf);
    cr_assert(w->obj != NULL);
    rl_store_workload_key(w->wkey, sizeof(w->wkey), RL_KIND_DEPLOYMENT, "ns", "app");
}

static void world_release(struct world *w)
{
    rl_reconciler_free(w->r);
    rl_csi_free(w->csi);
    rl_store_free(w->store);
    rl_regex_cache_free(w->rc);
    cJSON_Delete(w->obj);
    rl_policy_free(w->pol);
}

static void deliver(struct world *w, bool live)
{
    struct rl_workload *wl = NULL;
    cJSON *meta = cJSON_GetObjectItem(w->obj, "metadata");
    char rv[32];

    w->rv++;
    snprintf(rv, sizeof(rv), "%u", w->rv);
    cJSON_DeleteItemFromObject(meta, "resourceVersion");
    cJSON_AddStringToObject(meta, "resourceVersion", rv);
    cr_assert(eq(int, rl_workload_decode(w->obj, RL_KIND_DEPLOYMENT, &w->keys, &wl), 0));
    rl_store_put_workload(w->store, wl, live ? w->rv : 0, 1, NULL, NULL);
}

static void status(struct world *w, const char *pod, const char *version, bool live)
{
    w->rv++;
    put(w->csi, pod, "my-spc", version, w->rv, live);
}

/* The verdict of the SPC source my-spc ("absent" if not a candidate). */
static const char *verdict(struct world *w, char *out, size_t len)
{
    cJSON *ex = rl_reconcile_explain(w->r, w->wkey);
    const cJSON *s;

    snprintf(out, len, "absent");
    cJSON_ArrayForEach(s, rl_json_arr(ex, "sources")) {
        if (strcmp(rl_json_str_or(s, "type", ""), "secretproviderclass") == 0 &&
            strcmp(rl_json_str_or(s, "name", ""), "my-spc") == 0)
            snprintf(out, len, "%s", rl_json_str_or(s, "verdict", "?"));
    }
    cJSON_Delete(ex);
    return out;
}

/* Plans, applies the write as the API server would, delivers it back; the action. */
static enum rl_reconcile_action step(struct world *w)
{
    struct rl_reconcile_preview pv;
    enum rl_reconcile_action a;

    cr_assert(eq(int, rl_reconcile_preview(w->r, w->wkey, &pv), 0));
    a = pv.action;
    if (a == RL_ACTION_ROLLOUT)
        cr_assert(eq(int, rl_marker_apply(w->obj, RL_KIND_DEPLOYMENT, &pv.rollout), 0));
    if (a == RL_ACTION_RECORD) {
        struct rl_buf b;
        cJSON *ann = cJSON_GetObjectItem(cJSON_GetObjectItem(w->obj, "metadata"), "annotations");

        rl_buf_init(&b, 0);
        cr_assert(eq(int, rl_marker_applied_json(&b, pv.rollout.record, pv.rollout.n_record,
                                                 pv.rollout.history, pv.rollout.pending_s), 0));
        cJSON_DeleteItemFromObject(ann, w->pol->key.applied);
        cJSON_AddStringToObject(ann, w->pol->key.applied, b.buf);
        rl_buf_release(&b);
    }
    rl_reconcile_preview_release(&pv);
    if (a != RL_ACTION_NONE)
        deliver(w, true);
    return a;
}

static const char *env_marker(struct world *w)
{
    const cJSON *tmpl = rl_json_obj(rl_json_obj(w->obj, "spec"), "template");
    const cJSON *c = cJSON_GetArrayItem(rl_json_arr(rl_json_obj(tmpl, "spec"), "containers"), 0);
    const cJSON *e;

    cJSON_ArrayForEach(e, rl_json_arr(c, "env")) {
        if (strcmp(rl_json_str_or(e, "name", ""), "STAKATER_MY_SPC_SECRETPROVIDERCLASS") == 0)
            return rl_json_str(e, "value");
    }
    return NULL;
}

#define AUTO "\"secretproviderclass.reloader.stakater.com/auto\":\"true\""

Test(csi, auto_baseline_then_one_rollout_per_rotation)
{
    struct world w;
    char v[64];

    world_init(&w, AUTO, true, "--enable-csi-integration", NULL);
    status(&w, "a", "v1", false);
    status(&w, "b", "v1", false);
    deliver(&w, false);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "baseline"));
    cr_assert(eq(int, step(&w), RL_ACTION_RECORD));
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    /* Both pods report v2: one rollout, the env var named as Reloader names it. */
    status(&w, "a", "v2", true);
    status(&w, "b", "v2", true);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "roll"));
    cr_assert(eq(int, step(&w), RL_ACTION_ROLLOUT));
    cr_assert(eq(str, (char *)env_marker(&w), hash_of("my-spc", "v2")));
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    /* The new pods' status objects (adds) and same-version updates: nothing. */
    status(&w, "c", "v2", true);
    status(&w, "c", "v2", true);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "up-to-date"));
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    world_release(&w);
}

Test(csi, annotations_strategy_writes_last_reloaded_from)
{
    struct world w;
    const char *lrf;

    world_init(&w, AUTO, true, "--enable-csi-integration", "--reload-strategy=annotations");
    status(&w, "a", "v1", false);
    deliver(&w, false);
    cr_assert(eq(int, step(&w), RL_ACTION_RECORD));
    status(&w, "a", "v2", true);
    cr_assert(eq(int, step(&w), RL_ACTION_ROLLOUT));
    lrf = rl_json_str(rl_json_obj(rl_json_obj(rl_json_obj(rl_json_obj(w.obj, "spec"), "template"),
                                              "metadata"), "annotations"),
                      RL_ANN_LAST_RELOADED_FROM);
    cr_assert(lrf != NULL);
    cr_assert(strstr(lrf, "{\"type\":\"SECRETPROVIDERCLASS\",\"name\":\"my-spc\",\"namespace\":"
                          "\"ns\",\"hash\":\"") == lrf, "%s", lrf);
    cr_assert(strstr(lrf, hash_of("my-spc", "v2")) != NULL);
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    world_release(&w);
}

Test(csi, without_the_flag_no_spc_source)
{
    struct world w;
    char v[64];

    world_init(&w, AUTO, true, "--reload-strategy=env-vars", NULL);
    status(&w, "a", "v1", false);
    deliver(&w, false);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "absent"));
    status(&w, "a", "v2", true);
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    world_release(&w);
}

Test(csi, named_reload_needs_no_reference)
{
    struct world w;
    char v[64];

    world_init(&w, "\"secretproviderclass.reloader.stakater.com/reload\":\"my-.*\"", false,
               "--enable-csi-integration", NULL);
    status(&w, "a", "v1", false);
    deliver(&w, false);
    cr_assert(eq(int, step(&w), RL_ACTION_RECORD));
    status(&w, "a", "v2", true);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "roll"));
    cr_assert(eq(int, step(&w), RL_ACTION_ROLLOUT));
    cr_assert(eq(str, (char *)env_marker(&w), hash_of("my-spc", "v2")));
    world_release(&w);
}

Test(csi, auto_needs_a_reference)
{
    struct world w;
    char v[64];

    world_init(&w, AUTO, false, "--enable-csi-integration", NULL);
    status(&w, "a", "v1", false);
    deliver(&w, false);
    /* Not a candidate at all: W neither references nor names it. */
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "absent"));
    world_release(&w);
}

Test(csi, excluded_or_ignored_never_rolls)
{
    struct world w;
    char v[64];

    world_init(&w, AUTO ",\"secretproviderclasses.exclude.reloader.stakater.com/reload\":"
               "\"my-spc\"", true, "--enable-csi-integration", NULL);
    status(&w, "a", "v1", false);
    deliver(&w, false);
    status(&w, "a", "v2", true);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "skip"));
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    world_release(&w);

    world_init(&w, AUTO, true, "--enable-csi-integration", NULL);
    status(&w, "a", "v1", false);
    rl_csi_put_class(w.csi, "ns", "my-spc", true, false, 1, NULL, NULL);
    deliver(&w, false);
    status(&w, "a", "v2", true);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "skip"));
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    world_release(&w);
}

Test(csi, create_and_delete_never_roll)
{
    struct world w;
    char v[64];

    world_init(&w, AUTO, true, "--enable-csi-integration", "--reload-on-create=true");
    deliver(&w, true);
    /* The class's first status object appears after W (its pod mounted it). */
    status(&w, "a", "v1", true);
    cr_assert(eq(str, (char *)verdict(&w, v, sizeof(v)), "baseline"));
    cr_assert(eq(int, step(&w), RL_ACTION_RECORD));
    world_release(&w);

    world_init(&w, AUTO, true, "--enable-csi-integration", "--reload-on-delete=true");
    status(&w, "a", "v1", false);
    deliver(&w, false);
    cr_assert(eq(int, step(&w), RL_ACTION_RECORD));
    /* Every status and the class gone: a tombstone, and no rollout. */
    rl_csi_del_status(w.csi, "ns", "a-ns-my-spc", ++w.rv, NULL, NULL);
    cr_assert(eq(int, step(&w), RL_ACTION_RECORD));     /* it leaves the record */
    cr_assert(eq(int, step(&w), RL_ACTION_NONE));
    world_release(&w);
}
