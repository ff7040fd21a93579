/*
 * storemem.c - live heap bytes of the compact store, per object
 *
 *   storemem DUMP.json [WORKERS]
 *
 * DUMP.json is a List of ConfigMaps, Secrets and Deployments as the API
 * returns them (`kubectl get configmaps,secrets,deployments -o json`).
 * Each object goes into a struct rl_store exactly as the controller's
 * informer handlers put it (controller.c: upsert): sources hashed
 * (rl_hash_configmap/secret) and stored as 20 bytes, workloads decoded
 * with the options' annotation keys and interned namespaces. Then every
 * workload key passes once through a workqueue (add, get, done), as the
 * startup pass does. glibc's mallinfo2() (bytes in use, chunk headers
 * included) is read between the phases, so each figure is what the
 * structure really holds, free of RSS noise and of the transient memory
 * of a LIST. Prints one line per phase and the per-object costs.
 *
 * Not a test: a measuring tool for docs/engine-measurements.md. Built by
 * tools/engine-check/storemem.sh against the rl_core of a build directory.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/base/map.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"
#include "reloadd/engine/workqueue.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"

static size_t in_use(void)
{
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
}

static struct rl_map interned = RL_MAP_INIT;

static const char *intern(void *ctx, const char *s)
{
    (void)ctx;
    if (!rl_map_has(&interned, s))
        rl_map_put(&interned, s, NULL);
    return rl_map_key(&interned, s);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = rl_xmalloc((size_t)n + 1);
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
            *len = (size_t)n;
        }
    }
    fclose(f);
    return buf;
}

struct keys {
    char **v;
    size_t n, cap;
};

static void collect(void *ctx, const char *wkey)
{
    struct keys *k = ctx;

    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 1024;
        k->v = rl_xreallocarray(k->v, k->cap, sizeof(*k->v));
    }
    k->v[k->n++] = rl_xstrdup(wkey);
}

static bool ann_true(const cJSON *meta, const char *key)
{
    const char *v = rl_json_str(rl_json_obj(meta, "annotations"), key);

    return v && strcmp(v, "true") == 0;
}

int main(int argc, char **argv)
{
    struct rl_options o;
    struct rl_policy *pol;
    char err[256], *text;
    char *oargv[] = { "storemem", NULL };
    char *envp[] = { NULL };
    struct rl_workload_keys keys;
    struct rl_regex_cache *rc;
    struct rl_store *s;
    struct rl_store_counts sc;
    struct rl_workqueue *wq;
    struct rl_workqueue_opts wqo = RL_WORKQUEUE_OPTS_INIT;
    struct keys wkeys = { 0 };
    size_t len = 0, m0, m1 = 0, m2 = 0, m3 = 0, m4, m5;
    size_t n_cm = 0, n_sec = 0, n_dep = 0, n_skipped = 0;
    cJSON *root;
    const cJSON *item;

    if (argc < 2) {
        fprintf(stderr, "usage: storemem DUMP.json [WORKERS]\n");
        return 2;
    }
    if (rl_options_parse(&o, 1, oargv, envp, err, sizeof(err)) != 0) {
        fprintf(stderr, "storemem: options: %s\n", err);
        return 2;
    }
    text = slurp(argv[1], &len);
    if (!text) {
        fprintf(stderr, "storemem: cannot read %s\n", argv[1]);
        return 2;
    }
    root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsArray(rl_json_get(root, "items"))) {
        fprintf(stderr, "storemem: %s is not a List\n", argv[1]);
        return 2;
    }
    pol = rl_policy_new(&o);
    rl_workload_keys_init(&keys, pol);
    keys.intern = intern;
    rc = rl_regex_cache_new(4096);
    s = rl_store_new(pol, rc);
    wqo.shards = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2;
    wqo.coalesce_ms = 0;
    if (rl_workqueue_new(&wq, &wqo, rl_clock_system()) != 0)
        return 2;

    m0 = in_use();
    for (int pass = 0; pass < 3; pass++) {
        cJSON_ArrayForEach(item, rl_json_get(root, "items")) {
            const char *kind = rl_json_str_or(item, "kind", "");
            const cJSON *meta = rl_json_obj(item, "metadata");
            const char *ns = rl_json_str_or(meta, "namespace", ""), *name = rl_json_str(meta, "name");
            struct rl_sha1 hash;

            if (!name)
                continue;
            if (pass == 0 && strcmp(kind, "ConfigMap") == 0) {
                if (rl_hash_configmap(item, &hash) == 0) {
                    rl_store_put_source(s, RL_SOURCE_CONFIGMAP, ns, name, &hash,
                                        ann_true(meta, pol->key.ignore),
                                        ann_true(meta, pol->key.match), 0, 1,
                                        NULL, NULL);
                    n_cm++;
                }
            } else if (pass == 1 && strcmp(kind, "Secret") == 0) {
                if (strcmp(rl_json_str_or(item, "type", ""), "helm.sh/release.v1") == 0) {
                    n_skipped++;
                } else if (rl_hash_secret(item, &hash) == 0) {
                    rl_store_put_source(s, RL_SOURCE_SECRET, ns, name, &hash,
                                        ann_true(meta, pol->key.ignore),
                                        ann_true(meta, pol->key.match), 0, 1,
                                        NULL, NULL);
                    n_sec++;
                }
            } else if (pass == 2 && strcmp(kind, "Deployment") == 0) {
                struct rl_workload *w = NULL;

                if (rl_workload_decode(item, RL_KIND_DEPLOYMENT, &keys, &w) == 0) {
                    rl_store_put_workload(s, w, 0, 1, NULL, NULL);
                    n_dep++;
                }
            }
        }
        if (pass == 0)
            m1 = in_use();
        else if (pass == 1)
            m2 = in_use();
        else
            m3 = in_use();
    }
    rl_store_counts(s, &sc);

    /* The startup pass: every key once through the queue. */
    rl_store_rdlock(s);
    rl_store_each_workload(s, collect, &wkeys);
    rl_store_unlock(s);
    m4 = in_use();
    for (size_t i = 0; i < wkeys.n; i++)
        rl_workqueue_add(wq, wkeys.v[i]);
    for (unsigned sh = 0; sh < rl_workqueue_shards(wq); sh++) {
        const char *k;

        while (rl_workqueue_try_get(wq, sh, &k) == 0)
            rl_workqueue_done(wq, k);
    }
    m5 = in_use();

    printf("objects: %zu ConfigMaps, %zu Secrets (%zu Helm releases left out), %zu Deployments\n",
           n_cm, n_sec, n_skipped, n_dep);
    printf("ConfigMaps:  %9zu B  %6.1f B each\n", m1 - m0, n_cm ? (double)(m1 - m0) / (double)n_cm : 0);
    printf("Secrets:     %9zu B  %6.1f B each\n", m2 - m1, n_sec ? (double)(m2 - m1) / (double)n_sec : 0);
    printf("Deployments: %9zu B  %6.1f B each, of which the decoded rl_workload %zu B (%.1f each),\n"
           "             the rest the workloads map, the reverse index (%zu edges) and interning\n",
           m3 - m2, n_dep ? (double)(m3 - m2) / (double)n_dep : 0, sc.workload_bytes,
           n_dep ? (double)sc.workload_bytes / (double)n_dep : 0, sc.index_edges);
    printf("workqueue after one add/get/done per key: %+zd B\n", (ssize_t)(m5 - m4));

    for (size_t i = 0; i < wkeys.n; i++)
        free(wkeys.v[i]);
    free(wkeys.v);
    rl_workqueue_free(wq);
    rl_store_free(s);
    rl_regex_cache_free(rc);
    rl_map_release(&interned, NULL);
    cJSON_Delete(root);
    rl_policy_free(pol);
    rl_options_release(&o);
    return 0;
}
