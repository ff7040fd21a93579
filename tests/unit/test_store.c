/*
 * test_store.c - the store and its reverse index, alone
 *
 * What the informers hand the store, and which workload keys each change
 * reports: a source change reaches exactly the workloads that reference it
 * (or carry a named-reload list that matches it) and no other; a workload
 * that stops referencing a source leaves its index; an update that changes
 * nothing reconcile reads reports nothing; deletions leave tombstones; a
 * relist drops what it did not see, as deletions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/policy.h"
#include "testutil.h"
#include "reloadd/reload/decide.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"

#define H1 "1111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222"

static struct rl_policy *opts;
static struct rl_workload_keys keys;
static struct rl_regex_cache *rc;
static struct rl_store *store;
static uint64_t rv = 100;
static unsigned gen = 1;            /* metadata.generation: bump it with a spec change */

/* The keys a change reported, in order, space-separated. */
static char got[2048];

static void collect(void *ctx, const char *wkey)
{
    (void)ctx;
    if (got[0])
        strlcat(got, " ", sizeof(got));
    strlcat(got, wkey, sizeof(got));
}

static void setup(void)
{
    opts = test_policy(NULL);
    rl_workload_keys_init(&keys, opts);
    rc = rl_regex_cache_new(64);
    store = rl_store_new(opts, rc);
}

static void teardown(void)
{
    rl_store_free(store);
    rl_regex_cache_free(rc);
    rl_policy_free(opts);
}

TestSuite(store, .init = setup, .fini = teardown);

/*
 * Deployment ns/name with the given workload annotations (a JSON object
 * body, e.g. "\"a\":\"b\"") and container `c` whose envFrom/volumes
 * reference `refs`: "cm:a sec:s vol-cm:b" (env-from ConfigMap, env-from
 * Secret, ConfigMap volume).
 */
static void put_deployment(const char *ns, const char *name, const char *ann, const char *refs,
                           uint32_t epoch)
{
    char envfrom[512] = "", vols[512] = "", mounts[512] = "", buf[2048], r[256];
    struct rl_workload *w = NULL;
    cJSON *obj;

    strlcpy(r, refs, sizeof(r));
    for (char *save = NULL, *t = strtok_r(r, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        char item[160];

        if (strncmp(t, "cm:", 3) == 0 || strncmp(t, "sec:", 4) == 0) {
            bool cm = t[0] == 'c';

            snprintf(item, sizeof(item), "%s{\"%s\":{\"name\":\"%s\"}}", envfrom[0] ? "," : "",
                     cm ? "configMapRef" : "secretRef", strchr(t, ':') + 1);
            strlcat(envfrom, item, sizeof(envfrom));
        } else if (strncmp(t, "vol-cm:", 7) == 0) {
            snprintf(item, sizeof(item), "%s{\"name\":\"v-%s\",\"configMap\":{\"name\":\"%s\"}}",
                     vols[0] ? "," : "", t + 7, t + 7);
            strlcat(vols, item, sizeof(vols));
            snprintf(item, sizeof(item), "%s{\"name\":\"v-%s\",\"mountPath\":\"/%s\"}",
                     mounts[0] ? "," : "", t + 7, t + 7);
            strlcat(mounts, item, sizeof(mounts));
        }
    }
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"u-%s\","
             "\"resourceVersion\":\"%llu\",\"generation\":%u,\"annotations\":{%s}},"
             "\"spec\":{\"template\":{\"metadata\":{},\"spec\":{\"containers\":[{\"name\":\"c\","
             "\"image\":\"i\",\"envFrom\":[%s],\"volumeMounts\":[%s]}],\"volumes\":[%s]}}}}",
             name, ns, name, (unsigned long long)++rv, gen, ann, envfrom, mounts, vols);
    obj = cJSON_Parse(buf);
    cr_assert(obj != NULL, "bad fixture: %s", buf);
    cr_assert(eq(int, rl_workload_decode(obj, RL_KIND_DEPLOYMENT, &keys, &w), 0));
    cJSON_Delete(obj);
    got[0] = '\0';
    rl_store_put_workload(store, w, rv, epoch, collect, NULL);
}

static void put_cm(const char *ns, const char *name, const char *hash, uint32_t epoch)
{
    got[0] = '\0';
    rl_store_put_source(store, RL_SOURCE_CONFIGMAP, ns, name, test_sha1(hash), false, false, ++rv,
                        epoch, collect, NULL);
}

static void put_secret(const char *ns, const char *name, const char *hash)
{
    got[0] = '\0';
    rl_store_put_source(store, RL_SOURCE_SECRET, ns, name, test_sha1(hash), false, false, ++rv, 1,
                        collect, NULL);
}

static const char *dependents(enum rl_source_type t, const char *ns, const char *name)
{
    got[0] = '\0';
    rl_store_dependents(store, t, ns, name, collect, NULL);
    return got;
}

#define AUTO "\"reloader.stakater.com/auto\":\"true\""
#define AUTO_SECRETS AUTO ",\"secret.reloader.stakater.com/auto\":\"true\""

Test(store, a_source_change_reaches_exactly_its_dependents)
{
    struct rl_store_counts c;

    put_cm("ns", "a", H1, 1);
    put_cm("ns", "b", H1, 1);
    put_secret("ns", "s", H1);
    put_deployment("ns", "one", AUTO, "cm:a sec:s", 1);
    put_deployment("ns", "two", AUTO, "vol-cm:a", 1);
    put_deployment("other", "three", AUTO, "cm:a", 1);

    dependents(RL_SOURCE_CONFIGMAP, "ns", "a");
    cr_assert(strcmp(got, "deployment/ns/one deployment/ns/two") == 0 ||
              strcmp(got, "deployment/ns/two deployment/ns/one") == 0, "dependents '%s'", got);
    put_cm("ns", "a", H2, 1);
    cr_assert(strstr(got, "deployment/ns/one") && strstr(got, "deployment/ns/two") &&
              !strstr(got, "three"), "cm ns/a reported '%s'", got);
    put_secret("ns", "s", H2);
    cr_assert(eq(str, got, "deployment/ns/one"), "secret ns/s reported '%s'", got);
    put_cm("ns", "b", H2, 1);
    cr_assert(eq(str, got, ""), "cm ns/b, referenced by none, reported '%s'", got);
    /* The same data again (a label edit, a resync) is no change. */
    put_cm("ns", "a", H2, 1);
    cr_assert(eq(str, got, ""), "unchanged data reported '%s'", got);

    rl_store_counts(store, &c);
    cr_assert(eq(sz, c.sources[RL_SOURCE_CONFIGMAP], 2));
    cr_assert(eq(sz, c.sources[RL_SOURCE_SECRET], 1));
    cr_assert(eq(sz, c.workloads[RL_KIND_DEPLOYMENT], 3));
    cr_assert(eq(sz, c.index_edges, 4), "edges %zu", c.index_edges);
}

Test(store, a_workload_that_drops_a_reference_leaves_its_index)
{
    struct rl_store_counts c;

    put_cm("ns", "a", H1, 1);
    put_cm("ns", "b", H1, 1);
    put_deployment("ns", "one", AUTO, "cm:a cm:b", 1);
    cr_assert(eq(str, got, "deployment/ns/one"), "a new workload reports itself: '%s'", got);
    gen++;
    put_deployment("ns", "one", AUTO, "cm:b", 1);
    cr_assert(eq(str, got, "deployment/ns/one"), "a changed template reports it: '%s'", got);
    put_cm("ns", "a", H2, 1);
    cr_assert(eq(str, got, ""), "cm a, no longer referenced, reported '%s'", got);
    put_cm("ns", "b", H2, 1);
    cr_assert(eq(str, got, "deployment/ns/one"));
    rl_store_counts(store, &c);
    cr_assert(eq(sz, c.index_edges, 1), "edges %zu", c.index_edges);

    got[0] = '\0';
    rl_store_del_workload(store, RL_KIND_DEPLOYMENT, "ns", "one", collect, NULL);
    put_cm("ns", "b", H1, 1);
    cr_assert(eq(str, got, ""), "a deleted workload was reported: '%s'", got);
    rl_store_counts(store, &c);
    cr_assert(eq(sz, c.index_edges, 0));
    cr_assert(eq(sz, c.workloads[RL_KIND_DEPLOYMENT], 0));
}

Test(store, an_update_that_changes_nothing_reconcile_reads_reports_nothing)
{
    put_cm("ns", "a", H1, 1);
    put_deployment("ns", "one", AUTO, "cm:a", 1);
    /* A new resourceVersion, same spec and annotations: a status update. */
    put_deployment("ns", "one", AUTO, "cm:a", 1);
    cr_assert(eq(str, got, ""), "a status-only update reported '%s'", got);
    /* An annotation no decision reads (a team label) is no change either. */
    put_deployment("ns", "one", AUTO ",\"team\":\"blue\"", "cm:a", 1);
    cr_assert(eq(str, got, ""), "an unrelated annotation edit reported '%s'", got);
    put_deployment("ns", "one", AUTO_SECRETS, "cm:a", 1);
    cr_assert(eq(str, got, "deployment/ns/one"), "a Reloader annotation edit reported '%s'", got);
    gen++;
    put_deployment("ns", "one", AUTO_SECRETS, "cm:a", 1);
    cr_assert(eq(str, got, "deployment/ns/one"), "a new generation reported '%s'", got);
}

Test(store, a_named_reload_list_matches_sources_of_its_namespace_only)
{
    put_deployment("ns", "named", "\"configmap.reloader.stakater.com/reload\":\"app-.*\"", "", 1);
    put_cm("ns", "app-1", H1, 1);
    cr_assert(eq(str, got, "deployment/ns/named"), "a matching name reported '%s'", got);
    put_cm("other", "app-1", H1, 1);
    cr_assert(eq(str, got, ""), "another namespace's source reported '%s'", got);
    put_cm("ns", "app-1", H2, 1);
    cr_assert(eq(str, got, "deployment/ns/named"));
    put_cm("ns", "db", H2, 1);
    /* Once a worker compiled the list (rl_decide), only a match is reported. */
    {
        struct rl_decision d;
        struct rl_source_desc desc = { .type = RL_SOURCE_CONFIGMAP, .name = "db" };
        char wkey[64];

        rl_store_workload_key(wkey, sizeof(wkey), RL_KIND_DEPLOYMENT, "ns", "named");
        rl_store_rdlock(store);
        rl_decide(rl_store_workload(store, wkey), &desc, opts, rc, &d);
        rl_store_unlock(store);
    }
    put_cm("ns", "db", H1, 1);
    cr_assert(eq(str, got, ""), "a compiled list that does not match reported '%s'", got);
}

Test(store, a_deletion_leaves_a_tombstone_until_the_source_comes_back)
{
    bool ignore = true, match = true;
    uint64_t at;

    put_cm("ns", "a", H1, 1);
    put_deployment("ns", "one", AUTO, "cm:a", 1);
    got[0] = '\0';
    at = ++rv;
    rl_store_del_source(store, RL_SOURCE_CONFIGMAP, "ns", "a", at, collect, NULL);
    cr_assert(eq(str, got, "deployment/ns/one"), "a deletion reported '%s'", got);
    rl_store_rdlock(store);
    cr_assert(rl_store_source(store, RL_SOURCE_CONFIGMAP, "ns", "a") == NULL);
    cr_assert(eq(u64, rl_store_tombstone(store, RL_SOURCE_CONFIGMAP, "ns", "a", &ignore, &match),
                 at));
    cr_assert(ignore == false && match == false, "the tombstone keeps the source's annotations");
    rl_store_unlock(store);

    put_cm("ns", "a", H2, 1);
    cr_assert(eq(str, got, "deployment/ns/one"), "the source's return reported '%s'", got);
    rl_store_rdlock(store);
    cr_assert(eq(u64, rl_store_tombstone(store, RL_SOURCE_CONFIGMAP, "ns", "a", &ignore, &match),
                 0));
    rl_store_unlock(store);
}

Test(store, a_relist_drops_what_it_did_not_see_as_deletions)
{
    struct rl_store_counts c;

    put_cm("ns", "a", H1, 1);
    put_cm("ns", "b", H1, 1);
    put_deployment("ns", "one", AUTO, "cm:b", 1);
    put_deployment("ns", "two", AUTO, "cm:a", 1);
    /* The relist of epoch 2 sees a and workload two only. */
    put_cm("ns", "a", H1, 2);
    put_deployment("ns", "two", AUTO, "cm:a", 2);
    got[0] = '\0';
    rl_store_sweep_sources(store, RL_SOURCE_CONFIGMAP, NULL, 2, collect, NULL);
    cr_assert(eq(str, got, "deployment/ns/one"), "the sweep of b reported '%s'", got);
    got[0] = '\0';
    rl_store_sweep_workloads(store, RL_KIND_DEPLOYMENT, NULL, 2, collect, NULL);
    rl_store_counts(store, &c);
    cr_assert(eq(sz, c.sources[RL_SOURCE_CONFIGMAP], 1));
    cr_assert(eq(sz, c.workloads[RL_KIND_DEPLOYMENT], 1));
    cr_assert(eq(str, (char *)dependents(RL_SOURCE_CONFIGMAP, "ns", "a"), "deployment/ns/two"));
    cr_assert(eq(str, (char *)dependents(RL_SOURCE_CONFIGMAP, "ns", "b"), ""));
}

Test(store, workloads_are_counted_per_namespace_and_kind)
{
    size_t n[RL_KIND_MAX];

    put_deployment("ns", "one", AUTO, "", 1);
    put_deployment("ns", "two", AUTO, "", 1);
    put_deployment("other", "three", AUTO, "", 1);
    put_deployment("ns", "two", AUTO, "cm:a", 1);   /* an update is no new workload */
    rl_store_count_in(store, "ns", n);
    cr_assert(eq(sz, n[RL_KIND_DEPLOYMENT], 2));
    cr_assert(eq(sz, n[RL_KIND_DAEMONSET], 0));
    rl_store_del_workload(store, RL_KIND_DEPLOYMENT, "ns", "one", NULL, NULL);
    rl_store_count_in(store, "ns", n);
    cr_assert(eq(sz, n[RL_KIND_DEPLOYMENT], 1));
    rl_store_del_workload(store, RL_KIND_DEPLOYMENT, "ns", "two", NULL, NULL);
    rl_store_del_workload(store, RL_KIND_DEPLOYMENT, "ns", "two", NULL, NULL);
    rl_store_count_in(store, "ns", n);
    cr_assert(eq(sz, n[RL_KIND_DEPLOYMENT], 0));
    rl_store_count_in(store, "other", n);
    cr_assert(eq(sz, n[RL_KIND_DEPLOYMENT], 1));
    rl_store_count_in(store, "nowhere", n);
    cr_assert(eq(sz, n[RL_KIND_DEPLOYMENT], 0));
}

/*
 * The per-namespace source lists that named-reload lists read: after any
 * order of creations, updates, deletions and relists, each (type,
 * namespace) yields exactly its own sources, once each, and the counts
 * agree. A model (a bit per source) is compared after every step; the
 * namespaces are prefixes of one another on purpose.
 */
#define NL_NS 4
#define NL_NAMES 40
static const char *const nl_ns[NL_NS] = { "ns", "ns-1", "ns1", "n" };
static unsigned char nl_seen[RL_SOURCE_COUNT][NL_NS][NL_NAMES];

static void nl_collect(void *ctx, const char *name, const struct rl_source *src)
{
    int *where = ctx;           /* [type, ns] */
    unsigned idx;

    cr_assert(src != NULL, "no source behind %s/%s/%s", rl_source_type_lower(where[0]),
              nl_ns[where[1]], name);
    cr_assert(sscanf(name, "s%u", &idx) == 1 && idx < NL_NAMES, "stray name '%s'", name);
    nl_seen[where[0]][where[1]][idx]++;
}

Test(store, named_lists_see_exactly_the_sources_of_their_namespace)
{
    static const enum rl_source_type types[2] = { RL_SOURCE_CONFIGMAP, RL_SOURCE_SECRET };
    static bool model[RL_SOURCE_COUNT][NL_NS][NL_NAMES];
    unsigned seed = 20261206, epoch = 1;

    memset(model, 0, sizeof(model));
    for (int step = 0; step < 4000; step++) {
        enum rl_source_type t = types[rand_r(&seed) % 2];
        unsigned ns = (unsigned)rand_r(&seed) % NL_NS, op = (unsigned)rand_r(&seed) % 100;
        char name[16];
        struct rl_store_counts c;
        size_t want[RL_SOURCE_COUNT] = { 0 };

        snprintf(name, sizeof(name), "s%u", (unsigned)rand_r(&seed) % NL_NAMES);
        if (op < 55) {
            rl_store_put_source(store, t, nl_ns[ns], name, test_sha1(op & 1 ? H1 : H2), false,
                                false, ++rv, epoch, NULL, NULL);
            model[t][ns][atoi(name + 1)] = true;
        } else if (op < 95) {
            rl_store_del_source(store, t, nl_ns[ns], name, ++rv, NULL, NULL);
            model[t][ns][atoi(name + 1)] = false;
        } else {
            /* A relist of t in ns that sees every other source of it, a new epoch for them. */
            epoch++;
            for (unsigned i = 0; i < NL_NAMES; i++) {
                char n2[16];

                snprintf(n2, sizeof(n2), "s%u", i);
                if (model[t][ns][i] && i % 2 == 0)
                    rl_store_put_source(store, t, nl_ns[ns], n2, test_sha1(H1), false, false,
                                        ++rv, epoch, NULL, NULL);
                else
                    model[t][ns][i] = false;
            }
            rl_store_sweep_sources(store, t, nl_ns[ns], epoch, NULL, NULL);
        }
        memset(nl_seen, 0, sizeof(nl_seen));
        for (int ti = 0; ti < 2; ti++) {
            for (int n = 0; n < NL_NS; n++) {
                int where[2] = { types[ti], n };

                rl_store_rdlock(store);
                rl_store_each_source_in(store, types[ti], nl_ns[n], nl_collect, where);
                rl_store_unlock(store);
                for (int i = 0; i < NL_NAMES; i++) {
                    cr_assert(eq(int, nl_seen[types[ti]][n][i], model[types[ti]][n][i]),
                              "step %d (seed 20261206): %s/%s/s%d seen %d times, exists %d", step,
                              rl_source_type_lower(types[ti]), nl_ns[n], i,
                              nl_seen[types[ti]][n][i], model[types[ti]][n][i]);
                    want[types[ti]] += model[types[ti]][n][i];
                }
            }
        }
        rl_store_counts(store, &c);
        cr_assert(eq(sz, c.sources[RL_SOURCE_CONFIGMAP], want[RL_SOURCE_CONFIGMAP]));
        cr_assert(eq(sz, c.sources[RL_SOURCE_SECRET], want[RL_SOURCE_SECRET]));
    }
}
