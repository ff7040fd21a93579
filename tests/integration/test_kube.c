/*
 * test_kube.c - the API client against the real local control plane
 *
 * Needs a cluster from tools/cluster (run through `make test-integration`).
 * Every test makes its own namespace and deletes it. Tests that restart the
 * apiserver take an exclusive lock in the cluster directory; the others a
 * shared one, so no test of this file sees a restart it did not cause.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bsd/string.h>

#include "fault_proxy.h"
#include "testutil.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/informer.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"

static const char *admin_path, *cluster_dir;
static struct rl_kube *admin;
static char ns[64];
static int lock_fd = -1;

/* ---------------------------------------------------------------------- */
/* Helpers */

static struct rl_kube *client_from(struct rl_kubeconfig *cfg, const struct rl_kube_opts *opts)
{
    struct rl_kube *k = rl_kube_new(cfg, opts, NULL);

    cr_assert(ne(ptr, k, NULL));
    return k;
}

static struct rl_kube *client(const char *path, const struct rl_kube_opts *opts)
{
    struct rl_kubeconfig *cfg = NULL;
    char err[512];

    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, err, sizeof(err)), 0), "%s", err);
    return client_from(cfg, opts);
}

/* Observer: counts requests by verb and remembers statuses, thread-safe. */
struct calls {
    pthread_mutex_t mu;
    int n, lists, creates, watches;
    long statuses[64];
    char last_resource[64];
};

static void observe(void *ctx, const char *verb, const char *resource, long status,
                    double seconds)
{
    struct calls *c = ctx;

    (void)seconds;
    rl_mutex_lock(&c->mu);
    if (c->n < 64)
        c->statuses[c->n] = status;
    c->n++;
    c->lists += strcmp(verb, "list") == 0;
    c->creates += strcmp(verb, "create") == 0;
    c->watches += strcmp(verb, "watch") == 0;
    strlcpy(c->last_resource, resource, sizeof(c->last_resource));
    rl_mutex_unlock(&c->mu);
}

static void calls_init(struct calls *c)
{
    memset(c, 0, sizeof(*c));
    rl_mutex_init(&c->mu);
}

static void need_cluster(bool exclusive)
{

    admin_path = test_env("KUBECONFIG");
    cluster_dir = test_env("RELOADD_CLUSTER_DIR");
    if (!admin_path || !cluster_dir)
        cr_fatal("KUBECONFIG and RELOADD_CLUSTER_DIR are not set: run the integration tests "
                 "through `make test-integration`, which brings a local cluster up");
    lock_fd = test_lock_cluster(cluster_dir, exclusive);
    cr_assert(ge(int, lock_fd, 0));

    admin = client(admin_path, NULL);
    snprintf(ns, sizeof(ns), "rl-kube-%08x", arc4random());
    {
        struct rl_kube_response r;
        char *body = rl_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
                                  "\"metadata\":{\"name\":\"%s\"}}", ns);
        int err;

        rl_kube_response_init(&r);
        err = rl_kube_create(admin, "/api/v1/namespaces", body, &r);
        cr_assert(eq(int, err, 0), "create namespace: %s", r.message);
        rl_kube_response_release(&r);
        free(body);
    }
}

static void init_shared(void)
{
    need_cluster(false);
}

static void init_exclusive(void)
{
    need_cluster(true);
}

static void fini(void)
{
    if (admin && ns[0])
        test_delete_namespace(admin, ns);
    rl_kube_free(admin);
    admin = NULL;
    if (lock_fd >= 0)
        close(lock_fd);
    lock_fd = -1;
}

TestSuite(kube, .init = init_shared, .fini = fini, .timeout = 300);

static char *cm_json(const char *name, const char *labels, const char *value)
{
    return rl_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
                        "{\"name\":\"%s\",\"labels\":{%s}},\"data\":{\"v\":\"%s\"}}",
                        name, labels ? labels : "", value);
}

static char *cms_path(void)
{
    return rl_xasprintf("/api/v1/namespaces/%s/configmaps", ns);
}

static char *cm_path(const char *name)
{
    return rl_xasprintf("/api/v1/namespaces/%s/configmaps/%s", ns, name);
}

/* Creates a ConfigMap; returns the error. */
static int create_cm(struct rl_kube *k, const char *name, const char *labels, const char *value)
{
    struct rl_kube_response r;
    char *body = cm_json(name, labels, value), *path = cms_path();
    int err;

    rl_kube_response_init(&r);
    err = rl_kube_create(k, path, body, &r);
    if (err)
        cr_log_info("create %s: %s (%s)", name, rl_strerror(err), r.message);
    rl_kube_response_release(&r);
    free(body);
    free(path);
    return err;
}

static int delete_cm(struct rl_kube *k, const char *name, struct rl_kube_response *r)
{
    char *path = cm_path(name);
    int err = rl_kube_delete(k, path, NULL, r);

    free(path);
    return err;
}

static long rv_num(const cJSON *obj)
{
    const char *rv = rl_json_str(rl_json_obj(obj, "metadata"), "resourceVersion");

    return rv ? strtol(rv, NULL, 10) : -1;
}

static const char *obj_name(const cJSON *obj)
{
    return rl_json_str_or(rl_json_obj(obj, "metadata"), "name", "");
}

/* ---------------------------------------------------------------------- */
/* LIST with pagination */

struct creator {
    struct rl_kube *k;
    int from, to;
    atomic_int *failures;
};

static void *create_range(void *arg)
{
    struct creator *c = arg;

    for (int i = c->from; i < c->to; i++) {
        char name[32], value[16];

        snprintf(name, sizeof(name), "cm-%05d", i);
        snprintf(value, sizeof(value), "%d", i);
        if (create_cm(c->k, name, "\"batch\":\"big\"", value) != 0)
            atomic_fetch_add(c->failures, 1);
    }
    return NULL;
}

static int count_item(void *ctx, const cJSON *item)
{
    struct rl_map *m = ctx;
    const char *name = obj_name(item);
    intptr_t n = (intptr_t)rl_map_get(m, name);

    rl_map_put(m, name, (void *)(n + 1));
    return 0;
}

Test(kube, list_paginates_2000_configmaps_each_once)
{
    enum { N = 2000, THREADS = 8, LIMIT = 150 };
    struct creator cr[THREADS];
    pthread_t t[THREADS];
    atomic_int failures = 0;
    struct rl_kube_list_opts lo = { .label_selector = "batch=big", .limit = LIMIT };
    struct rl_map seen = RL_MAP_INIT;
    struct calls calls;
    char *rv = NULL, *path = cms_path();
    double t0 = test_now_s();

    calls_init(&calls);
    rl_kube_set_observer(admin, observe, &calls);
    /* One client, many threads: each gets its own reused connection. */
    for (int i = 0; i < THREADS; i++) {
        cr[i] = (struct creator){ admin, i * N / THREADS, (i + 1) * N / THREADS, &failures };
        rl_thread_start(&t[i], "creator", create_range, &cr[i]);
    }
    for (int i = 0; i < THREADS; i++)
        rl_thread_join(t[i]);
    cr_assert(eq(int, atomic_load(&failures), 0));
    for (int i = 0; i < 5; i++) {
        char name[32];

        snprintf(name, sizeof(name), "other-%d", i);
        cr_assert(eq(int, create_cm(admin, name, "\"batch\":\"small\"", "x"), 0));
    }
    cr_log_info("created %d ConfigMaps in %.1f s", N + 5, test_now_s() - t0);
    cr_assert(eq(int, calls.creates, N + 5));
    cr_assert(eq(str, calls.last_resource, "configmaps"));

    cr_assert(eq(int, rl_kube_list(admin, path, &lo, count_item, &seen, &rv), 0), "%s",
              rl_kube_last_error());
    cr_assert(ne(ptr, rv, NULL));
    cr_assert(eq(sz, seen.len, (size_t)N));
    for (int i = 0; i < N; i++) {
        char name[32];

        snprintf(name, sizeof(name), "cm-%05d", i);
        cr_assert(eq(i64, (intptr_t)rl_map_get(&seen, name), 1), "%s", name);
    }
    cr_assert(eq(int, calls.lists, (N + LIMIT - 1) / LIMIT), "one request per page");
    rl_map_release(&seen, NULL);
    free(rv);

    /* A field selector (escaped: '=' and '.') narrows it to one. */
    rl_map_init(&seen);
    lo = (struct rl_kube_list_opts){ .field_selector = "metadata.name=cm-00042" };
    cr_assert(eq(int, rl_kube_list(admin, path, &lo, count_item, &seen, NULL), 0));
    cr_assert(eq(sz, seen.len, 1));
    cr_assert(eq(i64, (intptr_t)rl_map_get(&seen, "cm-00042"), 1));
    rl_map_release(&seen, NULL);
    rl_kube_set_observer(admin, NULL, NULL);
    free(path);
}

/* ---------------------------------------------------------------------- */
/* WATCH */

struct events {
    char log[2048];
    int n;
    long last_rv;
    bool ordered;
    const char *stop_on;        /* return 1 on this type */
    char rv[32];                /* of the last event */
};

static int record_event(void *ctx, const char *type, const cJSON *object)
{
    struct events *e = ctx;
    size_t len = strlen(e->log);
    long rv = rv_num(object);

    if (strcmp(type, "BOOKMARK") != 0) {
        snprintf(e->log + len, sizeof(e->log) - len, "%s%s %s=%s", len ? "," : "", type,
                 obj_name(object),
                 rl_json_str_or(rl_json_obj(object, "data"), "v", "-"));
        e->n++;
    }
    if (rv <= e->last_rv)
        e->ordered = false;
    e->last_rv = rv;
    snprintf(e->rv, sizeof(e->rv), "%ld", rv);
    return e->stop_on && strcmp(type, e->stop_on) == 0 ? 1 : 0;
}

static char *list_rv(struct rl_kube *k, const char *selector)
{
    struct rl_kube_list_opts lo = { .label_selector = selector };
    struct rl_map seen = RL_MAP_INIT;
    char *rv = NULL, *path = cms_path();

    cr_assert(eq(int, rl_kube_list(k, path, &lo, count_item, &seen, &rv), 0), "%s",
              rl_kube_last_error());
    rl_map_release(&seen, NULL);
    free(path);
    return rv;
}

/* Read-modify-write of data.v; safe to call from any thread (no asserts). */
static int try_put_value(struct rl_kube *k, const char *name, const char *value)
{
    struct rl_kube_response r;
    char *path = cm_path(name), *json = NULL;
    cJSON *obj = NULL, *data;
    int err;

    rl_kube_response_init(&r);
    err = rl_kube_get(k, path, &r);
    if (err)
        goto out;
    obj = rl_kube_response_json(&r);
    data = cJSON_GetObjectItemCaseSensitive(obj, "data");
    if (!data) {
        err = RL_EPARSE;
        goto out;
    }
    cJSON_ReplaceItemInObjectCaseSensitive(data, "v", cJSON_CreateString(value));
    json = rl_json_print(obj);
    err = rl_kube_update(k, path, json, &r);
out:
    if (err)
        cr_log_info("update %s: %s (%s)", name, rl_strerror(err), r.message);
    cJSON_Delete(obj);
    free(json);
    free(path);
    rl_kube_response_release(&r);
    return err;
}

static void put_value(struct rl_kube *k, const char *name, const char *value)
{
    cr_assert(eq(int, try_put_value(k, name, value), 0), "update %s: %s", name,
              rl_kube_last_error());
}

Test(kube, watch_replays_create_update_delete_in_order)
{
    struct rl_kube_watch_opts wo = { .label_selector = "w=yes", .timeout_s = 60 };
    struct events ev = { .ordered = true, .stop_on = "DELETED" };
    struct rl_kube_response r;
    struct calls calls;
    char *rv0 = list_rv(admin, "w=yes"), *path = cms_path();

    calls_init(&calls);
    rl_kube_response_init(&r);
    cr_assert(eq(int, create_cm(admin, "w1", "\"w\":\"yes\"", "one"), 0));
    put_value(admin, "w1", "two");
    cr_assert(eq(int, delete_cm(admin, "w1", &r), 0), "%s", r.message);

    rl_kube_set_observer(admin, observe, &calls);
    wo.resource_version = rv0;
    /* on_event's non-zero return ends the watch with that value. */
    cr_assert(eq(int, rl_kube_watch(admin, path, &wo, record_event, &ev), 1), "%s",
              rl_kube_last_error());
    cr_assert(eq(str, ev.log, "ADDED w1=one,MODIFIED w1=two,DELETED w1=two"));
    cr_assert(ev.ordered, "resourceVersions increase");
    cr_assert(eq(int, calls.watches, 1));
    rl_kube_set_observer(admin, NULL, NULL);
    rl_kube_response_release(&r);
    free(rv0);
    free(path);
}

struct mutator {
    struct rl_kube *k;
    int failures;
};

static void *mutate_w2(void *arg)
{
    struct mutator *m = arg;
    struct rl_kube_response r;

    test_sleep_ms(300);
    rl_kube_response_init(&r);
    m->failures += create_cm(m->k, "w2", "\"w\":\"live\"", "a") != 0;
    test_sleep_ms(100);
    m->failures += try_put_value(m->k, "w2", "b") != 0;
    test_sleep_ms(100);
    m->failures += delete_cm(m->k, "w2", &r) != 0;
    rl_kube_response_release(&r);
    return NULL;
}

struct live {
    struct events ev;
    bool ended;
    int err;
};

static void live_end(void *ctx, int err)
{
    struct live *l = ctx;

    l->ended = true;
    l->err = err;
}

static int live_event(void *ctx, const char *type, const cJSON *object)
{
    struct live *l = ctx;

    return record_event(&l->ev, type, object);
}

Test(kube, live_watch_on_the_mux_and_cancel)
{
    struct rl_kube_watch_opts wo = { .label_selector = "w=live" };
    struct live l = { .ev = { .ordered = true } };
    struct mutator m = { .k = admin };
    struct rl_kube_mux *mux = rl_kube_mux_new(admin);
    struct rl_kube_stream *s;
    char *rv = list_rv(admin, "w=live"), *path = cms_path();
    pthread_t t;
    double deadline = test_now_s() + 30;

    wo.resource_version = rv;
    s = rl_kube_mux_watch(mux, path, &wo, live_event, live_end, &l);
    cr_assert(ne(ptr, s, NULL));
    cr_assert(eq(sz, rl_kube_mux_count(mux), 1));
    rl_thread_start(&t, "mutator", mutate_w2, &m);
    while (l.ev.n < 3 && !l.ended && test_now_s() < deadline)
        cr_assert(eq(int, rl_kube_mux_poll(mux, 200), 0));
    rl_thread_join(t);
    cr_assert(eq(int, m.failures, 0));
    cr_assert(not(l.ended), "stream ended early: %s", rl_kube_last_error());
    cr_assert(eq(str, l.ev.log, "ADDED w2=a,MODIFIED w2=b,DELETED w2=b"));

    /* Cancel from the mux thread: on_end runs once, with RL_ESHUTDOWN. */
    rl_kube_stream_cancel(mux, s);
    cr_assert(l.ended);
    cr_assert(eq(int, l.err, RL_ESHUTDOWN));
    cr_assert(eq(sz, rl_kube_mux_count(mux), 0));
    rl_kube_mux_free(mux);
    free(rv);
    free(path);
}

static bool stop_after_half_second(void *ctx)
{
    return test_now_s() > *(double *)ctx;
}

Test(kube, watch_stops_promptly_when_asked)
{
    double when = test_now_s() + 0.5, t0;
    struct rl_kube_watch_opts wo = { .should_stop = stop_after_half_second, .stop_ctx = &when };
    struct events ev = { .ordered = true };
    char *path = cms_path();
    int err;

    t0 = test_now_s();
    err = rl_kube_watch(admin, path, &wo, record_event, &ev);
    cr_assert(eq(int, err, RL_ESHUTDOWN));
    cr_assert(lt(dbl, test_now_s() - t0, 1.5));
    free(path);
}

/* ---------------------------------------------------------------------- */
/* Writes */

Test(kube, patch_of_each_type)
{
    struct rl_kube_response r;
    char *path = cm_path("p");
    cJSON *obj;
    const cJSON *data;

    rl_kube_response_init(&r);
    cr_assert(eq(int, create_cm(admin, "p", NULL, "0"), 0));

    cr_assert(eq(int, rl_kube_patch(admin, path, "application/strategic-merge-patch+json",
                                    "{\"data\":{\"b\":\"2\"}}", &r), 0), "%s", r.message);
    obj = rl_kube_response_json(&r);
    data = rl_json_obj(obj, "data");
    cr_assert(eq(str, (char *)rl_json_str_or(data, "v", ""), "0"));
    cr_assert(eq(str, (char *)rl_json_str_or(data, "b", ""), "2"));
    cJSON_Delete(obj);

    cr_assert(eq(int, rl_kube_patch(admin, path, "application/merge-patch+json",
                                    "{\"data\":{\"v\":null}}", &r), 0), "%s", r.message);
    obj = rl_kube_response_json(&r);
    data = rl_json_obj(obj, "data");
    cr_assert(eq(ptr, (void *)rl_json_get(data, "v"), NULL));
    cr_assert(eq(str, (char *)rl_json_str_or(data, "b", ""), "2"));
    cJSON_Delete(obj);

    cr_assert(eq(int, rl_kube_patch(admin, path, "application/json-patch+json",
                                    "[{\"op\":\"add\",\"path\":\"/data/c\",\"value\":\"3\"},"
                                    "{\"op\":\"test\",\"path\":\"/data/b\",\"value\":\"2\"}]",
                                    &r), 0), "%s", r.message);
    obj = rl_kube_response_json(&r);
    cr_assert(eq(str, (char *)rl_json_str_or(rl_json_obj(obj, "data"), "c", ""), "3"));
    cJSON_Delete(obj);

    /* A failing JSON-patch test is a typed API error with the Status message. */
    cr_assert(eq(int, rl_kube_patch(admin, path, "application/json-patch+json",
                                    "[{\"op\":\"test\",\"path\":\"/data/b\",\"value\":\"9\"}]",
                                    &r), RL_EINVALID));
    cr_assert(eq(long, r.status, 422));
    cr_assert(eq(str, r.reason, "Invalid"));
    cr_assert(ne(ptr, strstr(r.message, "the server rejected our request"), NULL), "%s",
              r.message);
    rl_kube_response_release(&r);
    free(path);
}

Test(kube, conflicting_update_is_conflict)
{
    struct rl_kube_response r;
    char *path = cm_path("c"), *stale, *json;
    cJSON *obj;

    rl_kube_response_init(&r);
    cr_assert(eq(int, create_cm(admin, "c", NULL, "0"), 0));
    cr_assert(eq(int, rl_kube_get(admin, path, &r), 0));
    stale = rl_xstrdup(r.body.buf);
    put_value(admin, "c", "1");

    /* The stale copy still carries the old resourceVersion. */
    obj = cJSON_Parse(stale);
    cJSON_ReplaceItemInObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(obj, "data"), "v",
                                           cJSON_CreateString("lost update"));
    json = rl_json_print(obj);
    cr_assert(eq(int, rl_kube_update(admin, path, json, &r), RL_ECONFLICT));
    cr_assert(eq(long, r.status, 409));
    cr_assert(eq(str, r.reason, "Conflict"));
    cr_assert(ne(ptr, strstr(r.message, "the object has been modified"), NULL), "%s",
              r.message);
    cr_assert(eq(str, (char *)rl_kube_last_error(), r.message));

    /* Creating it again is a conflict too (AlreadyExists), and 404s are typed. */
    cr_assert(eq(int, create_cm(admin, "c", NULL, "x"), RL_ECONFLICT));
    cr_assert(eq(int, delete_cm(admin, "nope", &r), RL_ENOTFOUND));
    cr_assert(eq(str, r.reason, "NotFound"));
    cJSON_Delete(obj);
    free(json);
    free(stale);
    free(path);
    rl_kube_response_release(&r);
}

/* ---------------------------------------------------------------------- */
/* Identities and TLS */

static void check_identity(const char *kubeconfig, const char *user)
{
    struct rl_kube *k = client(kubeconfig, NULL);
    struct rl_kube_response r;
    struct rl_map seen = RL_MAP_INIT;
    char *path = cms_path(), *one = cm_path("id"), *want;

    rl_kube_response_init(&r);
    /* Granted by the reloadd ClusterRole: list and watch ConfigMaps. */
    cr_assert(eq(int, rl_kube_list(k, path, NULL, count_item, &seen, NULL), 0), "%s: %s", user,
              rl_kube_last_error());
    cr_assert(ne(ptr, rl_map_get(&seen, "id"), NULL));
    /* Not granted: get (reloadd never reads one by name), delete. The message names who. */
    cr_assert(eq(int, rl_kube_get(k, one, &r), RL_EFORBIDDEN), "%s: %s", user, r.message);
    cr_assert(eq(int, rl_kube_delete(k, one, NULL, &r), RL_EFORBIDDEN));
    cr_assert(eq(long, r.status, 403));
    cr_assert(eq(str, r.reason, "Forbidden"));
    want = rl_xasprintf("User \"%s\" cannot delete resource \"configmaps\"", user);
    cr_assert(ne(ptr, strstr(r.message, want), NULL), "%s", r.message);
    free(want);
    rl_map_release(&seen, NULL);
    rl_kube_response_release(&r);
    rl_kube_free(k);
    free(path);
    free(one);
}

Test(kube, cert_and_token_identities_work_and_rbac_is_enforced)
{
    const char *cert = test_env("RELOADD_CONTROLLER_KUBECONFIG");
    const char *token = test_env("RELOADD_CONTROLLER_TOKEN_KUBECONFIG");

    cr_assert(ne(ptr, (void *)cert, NULL), "RELOADD_CONTROLLER_KUBECONFIG is not set");
    cr_assert(ne(ptr, (void *)token, NULL), "RELOADD_CONTROLLER_TOKEN_KUBECONFIG is not set");
    cr_assert(eq(int, create_cm(admin, "id", NULL, "x"), 0));
    check_identity(cert, "reloadd-controller");
    check_identity(token, "reloadd-controller-token");
}

Test(kube, wrong_ca_fails_tls_with_a_clear_message)
{
    char dir[] = "/tmp/rl-wrongca-XXXXXX";
    struct rl_kubeconfig *cfg = NULL;
    struct rl_kube_response r;
    struct calls calls;
    struct rl_kube *k;
    char *cmd, *yaml, *want, errbuf[512];

    cr_assert(ne(ptr, mkdtemp(dir), NULL));
    cmd = rl_xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=wrong-ca "
                       "-keyout %s/ca.key -out %s/ca.crt >/dev/null 2>&1", dir, dir);
    cr_assert(eq(int, system(cmd), 0));
    yaml = rl_xasprintf("clusters:\n- name: c\n  cluster:\n    server: %s\n"
                        "    certificate-authority: ca.crt\n"
                        "contexts:\n- name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                        rl_kube_server(admin));
    free(cmd);
    cmd = rl_xasprintf("%s/config", dir);
    cr_assert(eq(int, rl_kubeconfig_parse(&cfg, cmd, yaml, strlen(yaml), NULL, errbuf,
                                          sizeof(errbuf)), 0), "%s", errbuf);
    k = client_from(cfg, NULL);
    calls_init(&calls);
    rl_kube_set_observer(k, observe, &calls);
    rl_kube_response_init(&r);
    cr_assert(eq(int, rl_kube_get(k, "/version", &r), RL_ETLS));
    want = rl_xasprintf("TLS verification of %s/version failed: ", rl_kube_server(admin));
    cr_assert(eq(int, strncmp(r.message, want, strlen(want)), 0), "%s", r.message);
    cr_log_info("wrong CA: %s", r.message);
    cr_assert(eq(int, calls.n, 1), "TLS failures are not retried");
    cr_assert(eq(long, calls.statuses[0], 0));
    rl_kube_response_release(&r);
    rl_kube_free(k);
    free(want);
    free(cmd);
    free(yaml);
    cmd = rl_xasprintf("rm -rf %s", dir);
    cr_assert(eq(int, system(cmd), 0));
    free(cmd);
}

/* ---------------------------------------------------------------------- */
/* Compaction and apiserver restarts (exclusive) */

static const char *tools_or_skip(void)
{
    const char *tools = test_env("RELOADD_TOOLS");

    if (!tools)
        cr_skip_test("RELOADD_TOOLS is not set: cannot restart the apiserver "
                     "(run through `make test-integration`)");
    return tools;
}

static void compact_etcd(void)
{
    const char *etcd = test_env("RELOADD_ETCD_URL");
    char *cmd;

    cr_assert(ne(ptr, (void *)etcd, NULL), "RELOADD_ETCD_URL is not set");
    /* etcd's JSON gateway: the current revision, then compact everything below it. */
    cmd = rl_xasprintf(
        "set -e; rev=$(curl -fsS -X POST %s/v3/kv/range -d '{\"key\":\"AA==\"}' | "
        "sed 's/.*\"revision\":\"\\([0-9]*\\)\".*/\\1/'); "
        "curl -fsS -X POST %s/v3/kv/compaction -d \"{\\\"revision\\\":\\\"$rev\\\","
        "\\\"physical\\\":true}\" >/dev/null",
        etcd, etcd);
    cr_assert(eq(int, system(cmd), 0), "etcd compaction failed");
    free(cmd);
}

static void restart_apiserver(void)
{
    char *cmd = rl_xasprintf("'%s/cluster' restart kube-apiserver >/dev/null 2>&1",
                             tools_or_skip());

    cr_assert(eq(int, system(cmd), 0), "tools/cluster restart kube-apiserver failed");
    free(cmd);
}

struct state {
    struct rl_map names;        /* name -> value (owned strings) */
    int items;
    bool disrupt;               /* on the first item: mutate, compact, restart */
    int disruptions;
};

static int collect(void *ctx, const cJSON *item)
{
    struct state *st = ctx;

    st->items++;
    free(rl_map_put(&st->names, obj_name(item),
                    rl_xstrdup(rl_json_str_or(rl_json_obj(item, "data"), "v", ""))));
    if (st->disrupt && st->disruptions++ == 0) {
        struct rl_kube_response r;

        /* Between page 1 and page 2: change things, compact, restart. */
        rl_kube_response_init(&r);
        put_value(admin, "a", "a2");
        cr_assert(eq(int, delete_cm(admin, "b", &r), 0));
        cr_assert(eq(int, create_cm(admin, "d", "\"g\":\"c\"", "d1"), 0));
        rl_kube_response_release(&r);
        compact_etcd();
        restart_apiserver();
    }
    return 0;
}

static void state_reset(struct state *st)
{
    rl_map_release(&st->names, free);
    rl_map_init(&st->names);
    st->items = 0;
}

static const char *val(struct state *st, const char *name)
{
    const char *v = rl_map_get(&st->names, name);

    return v ? v : "(absent)";
}

TestSuite(kube_disruptive, .init = init_exclusive, .fini = fini, .timeout = 400);

Test(kube_disruptive, compaction_expires_old_versions_and_relist_converges)
{
    struct rl_kube_list_opts lo = { .label_selector = "g=c", .limit = 2 };
    struct rl_kube_watch_opts wo = { .label_selector = "g=c", .timeout_s = 30 };
    struct events ev = { .ordered = true, .stop_on = "ADDED" };
    struct state st = { .names = RL_MAP_INIT };
    struct calls calls;
    char *path = cms_path(), *rv0 = NULL, *rv1 = NULL;
    bool saw_410 = false;
    int err;

    tools_or_skip();
    calls_init(&calls);
    for (const char *n = "abc"; *n; n++) {
        char name[2] = { *n, 0 }, value[3] = { *n, '1', 0 };

        cr_assert(eq(int, create_cm(admin, name, "\"g\":\"c\"", value), 0));
    }
    cr_assert(eq(int, rl_kube_list(admin, path, &lo, collect, &st, &rv0), 0));
    cr_assert(eq(int, st.items, 3));

    /*
     * Page 1, then (inside on_item) a write, a compaction and an apiserver
     * restart, then page 2: the continue token is too old (410), and the
     * list starts over once, ending at the new state.
     */
    state_reset(&st);
    st.disrupt = true;
    rl_kube_set_observer(admin, observe, &calls);
    err = rl_kube_list(admin, path, &lo, collect, &st, &rv1);
    cr_assert(eq(int, err, 0), "%s", rl_kube_last_error());
    for (int i = 0; i < calls.n && i < 64; i++)
        saw_410 |= calls.statuses[i] == 410;
    cr_assert(saw_410, "a continue token older than the compaction got 410");
    cr_assert(eq(str, (char *)val(&st, "a"), "a2"));
    cr_assert(eq(str, (char *)val(&st, "b"), "b1"), "b was on page 1 before the restart");
    cr_assert(eq(str, (char *)val(&st, "d"), "d1"));
    cr_assert(eq(int, st.items, 2 + 3), "page 1 twice, then a, c, d");

    /* A watch resumed from before the compaction: gone. */
    wo.resource_version = rv0;
    err = rl_kube_watch(admin, path, &wo, record_event, &ev);
    cr_assert(eq(int, err, RL_EGONE), "%s (%s)", rl_strerror(err), rl_kube_last_error());
    cr_assert(ne(ptr, strstr(rl_kube_last_error(), "too old resource version"), NULL), "%s",
              rl_kube_last_error());
    cr_assert(eq(int, ev.n, 0));

    /* Relist: converged on every change made while we were not watching. */
    state_reset(&st);
    st.disrupt = false;
    free(rv1);
    rv1 = NULL;
    cr_assert(eq(int, rl_kube_list(admin, path, &lo, collect, &st, &rv1), 0));
    cr_assert(eq(sz, st.names.len, 3));
    cr_assert(eq(str, (char *)val(&st, "a"), "a2"));
    cr_assert(eq(str, (char *)val(&st, "b"), "(absent)"));
    cr_assert(eq(str, (char *)val(&st, "c"), "c1"));
    cr_assert(eq(str, (char *)val(&st, "d"), "d1"));

    /* And from the relist's version, the next change arrives. */
    cr_assert(eq(int, create_cm(admin, "e", "\"g\":\"c\"", "e1"), 0));
    wo.resource_version = rv1;
    cr_assert(eq(int, rl_kube_watch(admin, path, &wo, record_event, &ev), 1), "%s",
              rl_kube_last_error());
    cr_assert(eq(str, ev.log, "ADDED e=e1"));
    rl_kube_set_observer(admin, NULL, NULL);
    state_reset(&st);
    rl_map_release(&st.names, free);
    free(rv0);
    free(rv1);
    free(path);
}

struct restarter {
    atomic_bool done;
    int rc;
    const char *tools;
};

static void *do_restart(void *arg)
{
    struct restarter *r = arg;
    char *cmd = rl_xasprintf("'%s/cluster' restart kube-apiserver >/dev/null 2>&1", r->tools);

    r->rc = system(cmd);
    free(cmd);
    atomic_store(&r->done, true);
    return NULL;
}

/* An informer in miniature: re-watch from the last version, relist on 410. */
struct mini {
    struct rl_map known;        /* name -> (void *)1 */
    int added_r1, added_r2;
    char rv[32];
    bool ended;
    int err;
    int ends, gone, transport;
};

static int mini_event(void *ctx, const char *type, const cJSON *object)
{
    struct mini *m = ctx;
    const char *name = obj_name(object);
    const char *rv = rl_json_str(rl_json_obj(object, "metadata"), "resourceVersion");

    if (rv)
        strlcpy(m->rv, rv, sizeof(m->rv));
    if (strcmp(type, "ADDED") == 0) {
        m->added_r1 += strcmp(name, "r1") == 0;
        m->added_r2 += strcmp(name, "r2") == 0;
        rl_map_put(&m->known, name, (void *)1);
    }
    return 0;
}

static void mini_end(void *ctx, int err)
{
    struct mini *m = ctx;

    m->ended = true;
    m->err = err;
    m->ends++;
    m->gone += err == RL_EGONE;
    m->transport += err == RL_ETRANSPORT || err == RL_ETIMEOUT;
}

static int mini_item(void *ctx, const cJSON *item)
{
    struct mini *m = ctx;

    rl_map_put(&m->known, obj_name(item), (void *)1);
    return 0;
}

Test(kube_disruptive, apiserver_restart_mid_watch_is_survived)
{
    struct rl_kube_watch_opts wo = { .label_selector = "r=yes" };
    struct rl_kube_list_opts lo = { .label_selector = "r=yes" };
    struct mini m = { .known = RL_MAP_INIT };
    struct restarter rs = { .tools = tools_or_skip() };
    struct rl_kube_mux *mux = rl_kube_mux_new(admin);
    char *path = cms_path(), *rv = list_rv(admin, "r=yes");
    double deadline, next_try = 0;
    bool r2_created = false;
    pthread_t t;

    strlcpy(m.rv, rv, sizeof(m.rv));
    wo.resource_version = m.rv;
    cr_assert(ne(ptr, rl_kube_mux_watch(mux, path, &wo, mini_event, mini_end, &m), NULL));
    cr_assert(eq(int, create_cm(admin, "r1", "\"r\":\"yes\"", "1"), 0));
    deadline = test_now_s() + 20;
    while (!m.added_r1 && test_now_s() < deadline)
        rl_kube_mux_poll(mux, 200);
    cr_assert(eq(int, m.added_r1, 1));

    rl_thread_start(&t, "restart", do_restart, &rs);
    deadline = test_now_s() + 150;
    while (test_now_s() < deadline && !(atomic_load(&rs.done) && rl_map_has(&m.known, "r2"))) {
        rl_kube_mux_poll(mux, 200);
        if (m.ended && test_now_s() >= next_try) {
            int err = 0;

            m.ended = false;
            if (m.err == RL_EGONE) {
                char *nrv = NULL;

                err = rl_kube_list(admin, path, &lo, mini_item, &m, &nrv);
                if (!err)
                    strlcpy(m.rv, nrv, sizeof(m.rv));
                free(nrv);
            }
            if (err) {
                m.ended = true;         /* apiserver still down: try again soon */
                m.err = RL_EGONE;
            } else {
                wo.resource_version = m.rv;
                rl_kube_mux_watch(mux, path, &wo, mini_event, mini_end, &m);
            }
            next_try = test_now_s() + 0.5;
        }
        if (atomic_load(&rs.done) && !r2_created) {
            int err = create_cm(admin, "r2", "\"r\":\"yes\"", "2");

            /* A conflict means an earlier attempt got through after all. */
            r2_created = err == 0 || err == RL_ECONFLICT;
        }
    }
    rl_thread_join(t);
    cr_assert(eq(int, rs.rc, 0), "tools/cluster restart kube-apiserver failed");
    cr_log_info("restart: %d stream ends (%d transport, %d gone)", m.ends, m.transport, m.gone);
    cr_assert(ge(int, m.ends, 1), "the restart ended the watch");
    cr_assert(r2_created);
    cr_assert(rl_map_has(&m.known, "r2"), "r2, made after the restart, was seen");
    cr_assert(eq(int, m.added_r1, 1), "r1 was delivered once as an event");
    rl_kube_mux_free(mux);
    rl_map_release(&m.known, NULL);
    free(rv);
    free(path);
}

/* ---------------------------------------------------------------------- */
/* Through the fault proxy */

static struct fault_proxy *proxy;

static struct rl_kube *proxied(const struct rl_kube_opts *opts)
{
    struct rl_kubeconfig *cfg = NULL;
    char errbuf[512], *yaml;

    proxy = fault_proxy_start(admin_path, errbuf, sizeof(errbuf));
    cr_assert(ne(ptr, proxy, NULL), "%s", errbuf);
    yaml = rl_xasprintf("clusters:\n- name: p\n  cluster: {server: '%s'}\n"
                        "contexts:\n- name: p\n  context: {cluster: p}\ncurrent-context: p\n",
                        fault_proxy_url(proxy));
    cr_assert(eq(int, rl_kubeconfig_parse(&cfg, "/proxy/config", yaml, strlen(yaml), NULL,
                                          errbuf, sizeof(errbuf)), 0), "%s", errbuf);
    free(yaml);
    return client_from(cfg, opts);
}

static void proxied_done(struct rl_kube *k)
{
    rl_kube_free(k);
    fault_proxy_stop(proxy);
    proxy = NULL;
}

static void check_retry_after(const struct rl_kube_opts *opts)
{
    struct rl_kube *k = proxied(opts);
    struct rl_kube_response r;
    char *path = cms_path(), *match = rl_xasprintf("GET %s", path);
    double times[4], t0;

    rl_kube_response_init(&r);
    fault_proxy_fail_next(proxy, 1, match, 429, "Retry-After: 1\r\n", NULL);
    t0 = test_now_s();
    cr_assert(eq(int, rl_kube_get(k, path, &r), 0), "%s", r.message);
    cr_assert(eq(long, r.status, 200));
    cr_assert(ge(dbl, test_now_s() - t0, 1.0), "Retry-After: 1 was waited out");
    cr_assert(eq(sz, fault_proxy_seen(proxy, match, times, 4), 2));
    cr_assert(ge(dbl, times[1] - times[0], 1.0));
    cr_log_info("429 retried after %.3f s (qps %.0f)", times[1] - times[0], opts->qps);

    /* A write refused with 429 was not applied, so it is retried too. */
    fault_proxy_fail_next(proxy, 1, "POST", 429, "Retry-After: 1\r\n", NULL);
    t0 = test_now_s();
    cr_assert(eq(int, create_cm(k, opts->qps > 0 ? "ra-q" : "ra", NULL, "1"), 0));
    cr_assert(ge(dbl, test_now_s() - t0, 1.0));
    cr_assert(eq(sz, fault_proxy_seen(proxy, "POST", NULL, 0), 2));

    /* Past the retry budget, 429 is its own error. */
    fault_proxy_fail_next(proxy, 10, match, 429, "Retry-After: 0\r\n", NULL);
    cr_assert(eq(int, rl_kube_get(k, path, &r), RL_ETOOMANY));
    cr_assert(eq(long, r.status, 429));
    rl_kube_response_release(&r);
    free(match);
    free(path);
    proxied_done(k);
}

Test(kube, proxy_429_retry_after_is_waited_out)
{
    struct rl_kube_opts unlimited = { .max_retries = 2 };
    struct rl_kube_opts limited = { .qps = 20, .burst = 5, .max_retries = 2 };

    check_retry_after(&unlimited);
    check_retry_after(&limited);        /* the hold goes through the token bucket */
}

Test(kube, proxy_5xx_retried_with_backoff_for_reads_only)
{
    struct rl_kube *k = proxied(NULL);
    struct rl_kube_response r;
    char *one = cm_path("five"), *match = rl_xasprintf("GET %s", one);
    double times[4];

    rl_kube_response_init(&r);
    cr_assert(eq(int, create_cm(k, "five", NULL, "5"), 0));
    fault_proxy_fail_next(proxy, 1, match, 500, NULL, NULL);
    fault_proxy_fail_next(proxy, 1, match, 503, NULL, NULL);
    cr_assert(eq(int, rl_kube_get(k, one, &r), 0), "%s", r.message);
    cr_assert(eq(sz, fault_proxy_seen(proxy, match, times, 4), 3));
    cr_log_info("5xx retries after %.3f s and %.3f s", times[1] - times[0],
                times[2] - times[1]);
    /* Backoff 250 ms then 500 ms, each with ±20% jitter. */
    cr_assert(ge(dbl, times[1] - times[0], 0.19));
    cr_assert(ge(dbl, times[2] - times[1], 0.39));
    cr_assert(lt(dbl, times[2] - times[0], 3.0));

    /* A write that failed with 500 may have been applied: not retried. */
    fault_proxy_fail_next(proxy, 1, "POST", 500, NULL, NULL);
    cr_assert(eq(int, create_cm(k, "five-b", NULL, "5"), RL_ESERVER));
    cr_assert(eq(sz, fault_proxy_seen(proxy, "POST", NULL, 0), 2), "one create, one failed");

    /* Reads give up after the retry budget with the last typed error. */
    fault_proxy_fail_next(proxy, 10, match, 503, NULL, NULL);
    cr_assert(eq(int, rl_kube_get(k, one, &r), RL_EUNAVAILABLE));
    cr_assert(eq(str, r.message, "injected by fault_proxy"));
    rl_kube_response_release(&r);
    free(one);
    free(match);
    proxied_done(k);
}

Test(kube, proxy_watch_cut_mid_line_resumes_without_corrupt_event)
{
    struct rl_kube *k = proxied(NULL);
    struct rl_kube_watch_opts wo = { .label_selector = "cut=yes", .timeout_s = 60 };
    struct events ev = { .ordered = true };
    char *path = cms_path(), *rv0 = list_rv(admin, "cut=yes");
    int err;

    for (int i = 1; i <= 3; i++) {
        char name[8], value[8];

        snprintf(name, sizeof(name), "x%d", i);
        snprintf(value, sizeof(value), "val%d", i);
        cr_assert(eq(int, create_cm(admin, name, "\"cut\":\"yes\"", value), 0));
    }
    /* One whole event, then 40 bytes of the second, then the connection drops. */
    fault_proxy_cut_next(proxy, "watch=1", 1, 40);
    wo.resource_version = rv0;
    err = rl_kube_watch(k, path, &wo, record_event, &ev);
    cr_assert(eq(int, err, RL_ETRANSPORT), "%s: %s", rl_strerror(err), rl_kube_last_error());
    cr_assert(eq(int, fault_proxy_pending(proxy), 0), "the cut happened");
    cr_assert(eq(str, ev.log, "ADDED x1=val1"));
    cr_log_info("cut watch ended with: %s", rl_kube_last_error());

    /* Resume from the last complete event: the rest, whole, once each. */
    wo.resource_version = ev.rv;
    ev.stop_on = NULL;
    {
        struct events tail = { .ordered = true };
        double until = test_now_s() + 3;

        wo.should_stop = stop_after_half_second;
        wo.stop_ctx = &until;
        err = rl_kube_watch(k, path, &wo, record_event, &tail);
        cr_assert(eq(int, err, RL_ESHUTDOWN), "%s", rl_kube_last_error());
        cr_assert(eq(str, tail.log, "ADDED x2=val2,ADDED x3=val3"));
        cr_assert(tail.ordered);
    }

    /* A watch answered with a plain 410 status is RL_EGONE too. */
    wo.should_stop = NULL;
    fault_proxy_fail_next(proxy, 1, "watch=1", 410,
                          NULL, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
                                "\"Failure\",\"reason\":\"Expired\",\"message\":\"too old\","
                                "\"code\":410}");
    cr_assert(eq(int, rl_kube_watch(k, path, &wo, record_event, &ev), RL_EGONE));
    cr_assert(ne(ptr, strstr(rl_kube_last_error(), "too old"), NULL), "%s",
              rl_kube_last_error());
    free(rv0);
    free(path);
    proxied_done(k);
}

/* Issue 13: a fence judged once before the request let a deposed leader's retry through. */
static atomic_int fence_calls;
static uint64_t fence_once(void *ctx)
{
    (void)ctx;
    /* Leader for the first send only; deposed while the 429's Retry-After is waited out. */
    return atomic_fetch_add(&fence_calls, 1) == 0 ? 60000 : 0;
}

Test(kube, proxy_write_retry_is_fenced_after_every_wait)
{
    struct rl_kube_opts opts = { .qps = 0 };
    struct rl_kube *k = proxied(&opts);
    double t0;
    int err;

    atomic_store(&fence_calls, 0);
    fault_proxy_fail_next(proxy, 1, "POST", 429, "Retry-After: 1\r\n", NULL);
    rl_kube_thread_fence(fence_once, NULL);
    t0 = test_now_s();
    err = create_cm(k, "fenced", NULL, "1");
    rl_kube_thread_fence(NULL, NULL);
    cr_assert(eq(int, err, RL_ENOTLEADER), "the retry after the 429 was sent: %s",
              rl_strerror(err));
    cr_assert(eq(sz, fault_proxy_seen(proxy, "POST", NULL, 0), 1), "one send, no retry");
    cr_assert(eq(int, atomic_load(&fence_calls), 2), "the fence was asked before each send");
    cr_log_info("deposed during Retry-After: refused after %.2f s", test_now_s() - t0);
    proxied_done(k);
}

struct later_shutdown {
    struct rl_kube *k;
    unsigned after_ms;
    double at_s;
};

static void *shutdown_later(void *arg)
{
    struct later_shutdown *ls = arg;

    test_sleep_ms(ls->after_ms);
    ls->at_s = test_now_s();
    rl_kube_shutdown(ls->k, 2000);
    return NULL;
}

/*
 * Issue 13: a stop must end well inside a pod's grace period even when a
 * request waits out a 429's Retry-After (up to a minute) or the token
 * bucket's hold. rl_kube_shutdown() ends every such wait at once, and the
 * request returns the last answer without a retry. Before, both waited 30 s.
 */
static void check_shutdown_ends_wait(double qps)
{
    struct rl_kube_opts opts = { .qps = qps, .burst = 1 };
    struct rl_kube *k = proxied(&opts);
    struct later_shutdown ls = { k, 500, 0 };
    struct rl_kube_response r;
    char *path = cms_path();
    pthread_t t;
    double t0;
    int err;

    fault_proxy_fail_next(proxy, 10, "GET", 429, "Retry-After: 30\r\n", NULL);
    rl_kube_response_init(&r);
    pthread_create(&t, NULL, shutdown_later, &ls);
    t0 = test_now_s();
    err = rl_kube_get(k, path, &r);
    pthread_join(t, NULL);
    cr_log_info("qps %.0f: the request returned %.2f s after the shutdown (%s)", qps,
                test_now_s() - ls.at_s, rl_strerror(err));
    cr_assert(eq(int, err, RL_ETOOMANY), "got %s: %s", rl_strerror(err), r.message);
    cr_assert(lt(dbl, test_now_s() - ls.at_s, 1.0), "the wait went on %.1f s after the shutdown",
              test_now_s() - ls.at_s);
    cr_assert(eq(sz, fault_proxy_seen(proxy, "GET", NULL, 0), 1), "retried at shutdown");
    (void)t0;
    rl_kube_response_release(&r);
    free(path);
    proxied_done(k);
}

Test(kube, shutdown_ends_a_retry_after_wait_at_once)
{
    check_shutdown_ends_wait(0);        /* the retry loop's own wait */
    check_shutdown_ends_wait(5);        /* the token bucket held until Retry-After */
}

/* ---------------------------------------------------------------------- */
/*
 * What the informers log when credentials fail; the page size of a LIST.
 * These two talk to no API server, but stay in the `kube` suite: a third
 * suite in this file made Criterion 2.4.1's runner leak 48 bytes under
 * ASan with --jobs=2 (make test's setting).
 */

static void nop_upsert(void *ctx, struct rl_informer *inf, const cJSON *obj, bool from_list)
{
    (void)ctx, (void)inf, (void)obj, (void)from_list;
}

static void nop_remove(void *ctx, struct rl_informer *inf, const char *ns_, const char *name)
{
    (void)ctx, (void)inf, (void)ns_, (void)name;
}

static void nop_relist(void *ctx, struct rl_informer *inf)
{
    (void)ctx, (void)inf;
}

/* Writes dir/name with mode and contents. */
static void put_file(const char *d, const char *name, int mode, const char *text)
{
    char *path = rl_xasprintf("%s/%s", d, name);
    FILE *f = fopen(path, "w");

    cr_assert(ne(ptr, f, NULL));
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
    free(path);
}

/*
 * An exec plugin that fails: the informers' "watch stream failed" line
 * carries its exit status and its own stderr, not only "invalid
 * configuration".
 */
Test(kube, informer_failure_logs_the_exec_plugins_own_error)
{
    char d[] = "/tmp/rl-kube-exec-XXXXXX", err[512], *path, *log, *cmd;
    struct rl_informer_handler h = { nop_upsert, nop_remove, nop_relist, nop_relist, NULL, NULL };
    struct rl_informer_spec spec = { .resource = "configmaps", .group_version = "v1" };
    struct rl_kubeconfig *cfg = NULL;
    struct rl_informers *set;
    struct rl_kube *k;
    FILE *f = tmpfile();
    int saved = dup(2);
    size_t n;

    cr_assert(ne(ptr, mkdtemp(d), NULL));
    put_file(d, "plugin.sh", 0700, "#!/bin/sh\necho 'error: refresh token expired' >&2\n"
                                   "echo 'run: cloud auth login' >&2\nexit 3\n");
    put_file(d, "config", 0600,
             "current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n"
             "clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:1'}\n"
             "users:\n- name: u\n  user:\n    exec:\n"
             "      apiVersion: client.authentication.k8s.io/v1\n"
             "      command: ./plugin.sh\n");
    path = rl_xasprintf("%s/config", d);
    cr_assert(eq(int, rl_kubeconfig_load(&cfg, path, NULL, err, sizeof(err)), 0), "%s", err);
    k = client_from(cfg, NULL);
    set = rl_informers_new(k);
    rl_informers_add(set, &spec, &h);

    rl_log_setup(RL_LOG_INFO, RL_LOG_TEXT);
    cr_assert(f && saved >= 0);
    cr_assert(eq(int, dup2(fileno(f), 2), 2));
    rl_informers_start(set);
    test_sleep_ms(500);
    rl_informers_stop(set);
    dup2(saved, 2);
    close(saved);
    log = rl_xcalloc(1, 65536);
    rewind(f);
    n = fread(log, 1, 65535, f);
    log[n] = '\0';
    fclose(f);

    cr_assert(ne(ptr, strstr(log, "watch stream failed; retrying"), NULL), "%s", log);
    cr_assert(ne(ptr, strstr(log, "during=list"), NULL), "%s", log);
    cr_assert(ne(ptr, strstr(log, "failed (exit 3): error: refresh token expired run: cloud "
                                  "auth login"), NULL), "%s", log);
    rl_informers_free(set);
    rl_kube_free(k);
    free(log);
    cmd = rl_xasprintf("rm -rf '%s'", d);
    cr_assert(eq(int, system(cmd), 0));
    free(cmd);
    free(path);
}

/* LIST pages are sized in bytes: the page size after each page. */
Test(kube, list_page_size_follows_the_bytes_per_item)
{
    const size_t MiB = (size_t)1 << 20, budget = 16 * MiB;

    /* Over budget: what fits at this page's bytes per item. */
    cr_assert(eq(int, rl_kube_next_page_limit(500, 500, 500, 60 * MiB, budget), 133));
    cr_assert(eq(int, rl_kube_next_page_limit(100, 500, 100, 17 * MiB, budget), 94));
    cr_assert(eq(int, rl_kube_next_page_limit(7, 500, 7, 8 * MiB + 400 * 1024, 4 * MiB), 3));
    /* Never below 1, even for one object larger than the budget. */
    cr_assert(eq(int, rl_kube_next_page_limit(5, 500, 5, 100 * MiB, budget), 1));
    cr_assert(eq(int, rl_kube_next_page_limit(1, 500, 1, 100 * MiB, budget), 1));
    /* A full page under a quarter of the budget grows by half, within max and what fits. */
    cr_assert(eq(int, rl_kube_next_page_limit(100, 500, 100, 100 * 1024, budget), 151));
    cr_assert(eq(int, rl_kube_next_page_limit(400, 500, 400, 400 * 1024, budget), 500));
    cr_assert(eq(int, rl_kube_next_page_limit(10, 500, 10, 3 * MiB + 900 * 1024, budget), 16));
    cr_assert(eq(int, rl_kube_next_page_limit(10, 500, 10, 3 * MiB, budget), 16));
    cr_assert(eq(int, rl_kube_next_page_limit(12, 500, 12, 12 * 1200 * 1024, budget), 12));
    /* The last page (not full), an empty one, or one within budget: no change. */
    cr_assert(eq(int, rl_kube_next_page_limit(100, 500, 40, 1024, budget), 100));
    cr_assert(eq(int, rl_kube_next_page_limit(100, 500, 0, 0, budget), 100));
    cr_assert(eq(int, rl_kube_next_page_limit(100, 500, 100, 8 * MiB, budget), 100));
    cr_assert(eq(int, rl_kube_next_page_limit(900, 500, 0, 0, budget), 500));
}

/* Pages of `limit` items asked for the Secrets of ns with label big=yes, through the proxy. */
static size_t pages_of(int limit)
{
    char *match = rl_xasprintf("GET /api/v1/namespaces/%s/secrets?limit=%d&", ns, limit);
    size_t n = fault_proxy_seen(proxy, match, NULL, 0);

    free(match);
    return n;
}

/*
 * 50 Secrets of 900 KiB (60 MiB in all) are listed whole, each once, in
 * pages that shrink to the byte budget: a first page of 500 items is cut
 * as it passes 4 times the budget and asked again with fewer, the next
 * pages hold what fits. Reloader's client, and reloadd before, asked for
 * 500 at a time whatever their size (one 60 MiB page here, up to 256 MiB).
 */
Test(kube, list_of_big_secrets_sizes_its_pages_in_bytes)
{
    enum { N = 50, DATA = 900 * 1024 };
    const size_t budget = (size_t)4 << 20;
    struct rl_kube *k = proxied(NULL);
    struct rl_map seen = RL_MAP_INIT;
    int start = 0;
    struct rl_kube_list_opts lo = { .label_selector = "big=yes", .page_bytes = budget,
                                    .start_limit = &start };
    char *coll = rl_xasprintf("/api/v1/namespaces/%s/secrets", ns), *b64;
    struct rl_buf sizes;
    size_t total = 0, small = 0;
    double t0 = test_now_s();

    b64 = rl_xmalloc(DATA / 3 * 4 + 1);
    for (size_t i = 0; i < DATA / 3 * 4; i += 4)
        memcpy(b64 + i, "QUJD", 4);                    /* "ABC" */
    b64[DATA / 3 * 4] = '\0';
    for (int i = 0; i < N; i++) {
        struct rl_kube_response r;
        char *body = rl_xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":"
                                  "{\"name\":\"big-%02d\",\"labels\":{\"big\":\"yes\"}},"
                                  "\"data\":{\"blob\":\"%s\"}}", i, b64);

        rl_kube_response_init(&r);
        cr_assert(eq(int, rl_kube_create(admin, coll, body, &r), 0), "%s", r.message);
        rl_kube_response_release(&r);
        free(body);
    }
    cr_log_info("created %d Secrets of %d KiB in %.1f s", N, DATA / 1024, test_now_s() - t0);

    t0 = test_now_s();
    cr_assert(eq(int, rl_kube_list(k, coll, &lo, count_item, &seen, NULL), 0), "%s",
              rl_kube_last_error());
    cr_assert(eq(sz, seen.len, (size_t)N));
    for (int i = 0; i < N; i++) {
        char name[32];

        snprintf(name, sizeof(name), "big-%02d", i);
        cr_assert(eq(i64, (intptr_t)rl_map_get(&seen, name), 1), "%s", name);
    }
    rl_buf_init(&sizes, 0);
    for (int limit = 1; limit <= 500; limit++) {
        size_t n = pages_of(limit);

        if (n)
            rl_buf_addf(&sizes, " %zux%d", n, limit);
        total += n;
        small += limit <= 7 ? n : 0;
    }
    cr_log_info("listed in %.1f s with a budget of 4 MiB; requests (count x limit):%s; the "
                "next list starts at %d", test_now_s() - t0, sizes.buf, start);
    cr_assert(eq(sz, pages_of(500), 1), "one page of 500 asked, and cut:%s", sizes.buf);
    cr_assert(eq(sz, small, total - 2), "after two cut pages, pages of at most 7:%s",
              sizes.buf);
    cr_assert(eq(int, start, 3), "4 MiB holds 3 Secrets of 1.2 MiB");
    rl_map_release(&seen, NULL);

    /* The next list starts where this one ended, and grows back at the default budget. */
    rl_map_init(&seen);
    lo.page_bytes = 0;
    cr_assert(eq(int, rl_kube_list(k, coll, &lo, count_item, &seen, NULL), 0), "%s",
              rl_kube_last_error());
    cr_assert(eq(sz, seen.len, (size_t)N));
    cr_assert(eq(sz, pages_of(500), 1), "no page of 500 asked again");
    cr_assert(gt(int, start, 3));
    cr_assert(le(int, start, 14), "16 MiB holds 13 Secrets of 1.2 MiB, not %d", start);
    cr_log_info("then at 16 MiB: the next list starts at %d", start);
    rl_map_release(&seen, NULL);
    rl_buf_release(&sizes);
    free(b64);
    free(coll);
    proxied_done(k);
}
