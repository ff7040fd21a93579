#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/policy.h"
#include "testutil.h"
#include "reloadd/reload/workload.h"

#define H1 "0123456789abcdef0123456789abcdef01234567"
#define H2 "89abcdef0123456789abcdef0123456789abcdef"

static struct rl_policy *opts;
static struct rl_workload_keys keys;

static void setup(void)
{
    opts = test_policy(NULL);
    rl_workload_keys_init(&keys, opts);
}

static void teardown(void)
{
    rl_policy_free(opts);
}

TestSuite(workload, .init = setup, .fini = teardown);

static struct rl_workload *decode(const char *json, enum rl_kind kind)
{
    cJSON *j = cJSON_Parse(json);
    struct rl_workload *w = NULL;

    cr_assert(j != NULL, "bad fixture");
    cr_assert(eq(int, rl_workload_decode(j, kind, &keys, &w), 0));
    cJSON_Delete(j);                    /* nothing may point into it */
    return w;
}

/* A typical Deployment: what a cluster really returns, trimmed a little. */
static const char *deploy_json =
    "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
    "\"name\":\"web\",\"namespace\":\"shop\",\"uid\":\"6b1f0c9e-1111-2222-3333-444455556666\","
    "\"resourceVersion\":\"12345\",\"generation\":7,"
    "\"labels\":{\"app\":\"web\"},"
    "\"annotations\":{\"reloader.stakater.com/auto\":\"true\","
    "\"deployment.kubernetes.io/revision\":\"3\","
    "\"kubectl.kubernetes.io/last-applied-configuration\":\"{...big...}\","
    "\"configmaps.exclude.reloader.stakater.com/reload\":\"skip-me\","
    "\"reloadd.io/applied\":\"{\\\"configmap/web-config\\\":\\\"" H1 "\\\","
    "\\\"secret/db-creds\\\":\\\"" H2 "\\\"}\","
    "\"reloadd.io/other\":\"x\"}},"
    "\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"app\":\"web\"},\"annotations\":{"
    "\"prometheus.io/scrape\":\"true\",\"secret.reloader.stakater.com/reload\":\"tls-.*\","
    "\"reloader.stakater.com/last-reloaded-from\":\"{\\\"type\\\":\\\"CONFIGMAP\\\","
    "\\\"name\\\":\\\"web-config\\\",\\\"namespace\\\":\\\"shop\\\",\\\"hash\\\":\\\"" H1 "\\\","
    "\\\"containerRefs\\\":[\\\"web\\\"],\\\"observedAt\\\":1}\"}},"
    "\"spec\":{\"volumes\":["
    "{\"name\":\"cache\",\"emptyDir\":{}},"
    "{\"name\":\"config\",\"configMap\":{\"name\":\"web-config\"}},"
    "{\"name\":\"bundle\",\"projected\":{\"sources\":[{\"configMap\":{\"name\":\"ca\"}},"
    "{\"secret\":{\"name\":\"tls-web\"}},{\"downwardAPI\":{}}]}},"
    "{\"name\":\"vault\",\"csi\":{\"driver\":\"secrets-store.csi.k8s.io\","
    "\"volumeAttributes\":{\"secretProviderClass\":\"vault-spc\"}}},"
    "{\"name\":\"unused\",\"secret\":{\"secretName\":\"never-mounted\"}}],"
    "\"initContainers\":[{\"name\":\"migrate\",\"image\":\"m\",\"envFrom\":["
    "{\"secretRef\":{\"name\":\"db-creds\"}}],\"volumeMounts\":[{\"name\":\"bundle\","
    "\"mountPath\":\"/b\"}]}],"
    "\"containers\":[{\"name\":\"web\",\"image\":\"nginx\",\"env\":["
    "{\"name\":\"PLAIN\",\"value\":\"x\"},"
    "{\"name\":\"LEVEL\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"flags\",\"key\":\"l\"}}},"
    "{\"name\":\"STAKATER_WEB_CONFIG_CONFIGMAP\",\"value\":\"" H1 "\"}],"
    "\"volumeMounts\":[{\"name\":\"cache\",\"mountPath\":\"/c\"},"
    "{\"name\":\"config\",\"mountPath\":\"/etc/web\"}]},"
    "{\"name\":\"sidecar\",\"image\":\"s\",\"env\":[{\"name\":\"PW\",\"valueFrom\":"
    "{\"secretKeyRef\":{\"name\":\"db-creds\",\"key\":\"pw\"}}}],"
    "\"envFrom\":[{\"configMapRef\":{\"name\":\"side-env\"}}],"
    "\"volumeMounts\":[{\"name\":\"vault\",\"mountPath\":\"/v\"}]}]}}},"
    "\"status\":{\"replicas\":3}}";

Test(workload, decodes_identity_and_filters_annotations)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);

    cr_assert(eq(int, w->kind, RL_KIND_DEPLOYMENT));
    cr_assert(eq(str, (char *)w->ns, "shop"));
    cr_assert(eq(str, (char *)w->name, "web"));
    cr_assert(eq(str, (char *)w->uid, "6b1f0c9e-1111-2222-3333-444455556666"));
    cr_assert(eq(str, (char *)w->resource_version, "12345"));
    cr_assert(eq(i64, w->generation, 7));
    /* Kept: auto, exclude, our prefix; dropped: revision, last-applied. */
    cr_assert(eq(int, w->n_meta_ann, 3));
    cr_assert(eq(str, (char *)rl_workload_meta(w, "reloader.stakater.com/auto"), "true"));
    cr_assert(eq(str, (char *)rl_workload_meta(w, RL_ANN_CM_EXCLUDE), "skip-me"));
    cr_assert(eq(str, (char *)rl_workload_meta(w, "reloadd.io/other"), "x"));
    cr_assert(rl_workload_meta(w, "deployment.kubernetes.io/revision") == NULL);
    cr_assert(rl_workload_meta(w, "reloadd.io/applied") == NULL);   /* parsed instead */
    cr_assert(eq(int, w->n_pod_ann, 1));
    cr_assert(eq(str, (char *)rl_workload_pod(w, "secret.reloader.stakater.com/reload"), "tls-.*"));
    cr_assert(rl_workload_pod(w, "prometheus.io/scrape") == NULL);
    rl_workload_free(w);
}

Test(workload, decodes_containers_and_references)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);

    cr_assert(eq(int, w->n_containers, 2));
    cr_assert(eq(int, w->n_init, 1));
    cr_assert(eq(str, (char *)w->containers[0], "web"));
    cr_assert(eq(str, (char *)w->containers[1], "sidecar"));
    cr_assert(eq(str, (char *)w->containers[2], "migrate"));
    /* web-config, ca, tls-web, vault-spc, never-mounted. */
    cr_assert(eq(int, w->n_volrefs, 5));
    cr_assert(eq(int, w->volrefs[1].via, RL_VIA_PROJECTED));
    cr_assert(eq(int, w->volrefs[3].type, RL_SOURCE_SPC));
    cr_assert(eq(int, w->volrefs[3].via, RL_VIA_CSI));
    /* web mounts config; sidecar vault; migrate bundle ("cache" is no source). */
    cr_assert(eq(int, w->n_mounts, 3));
    /* flags (env), db-creds (env), side-env (envFrom), db-creds (init envFrom). */
    cr_assert(eq(int, w->n_envrefs, 4));
    cr_assert(eq(int, w->n_markers, 1));
    cr_assert(eq(str, (char *)rl_workload_env_marker(w, 0, "STAKATER_WEB_CONFIG_CONFIGMAP"), H1));
    cr_assert(rl_workload_env_marker(w, 1, "STAKATER_WEB_CONFIG_CONFIGMAP") == NULL);
    cr_assert(eq(str, (char *)rl_workload_env_marker(w, -1, "STAKATER_WEB_CONFIG_CONFIGMAP"), H1));

    cr_assert(rl_workload_references(w, RL_SOURCE_CONFIGMAP, "web-config"));
    cr_assert(rl_workload_references(w, RL_SOURCE_CONFIGMAP, "flags"));
    cr_assert(rl_workload_references(w, RL_SOURCE_CONFIGMAP, "side-env"));
    cr_assert(rl_workload_references(w, RL_SOURCE_SECRET, "db-creds"));
    cr_assert(rl_workload_references(w, RL_SOURCE_SECRET, "tls-web"));  /* init mount */
    cr_assert(rl_workload_references(w, RL_SOURCE_CONFIGMAP, "ca"));
    cr_assert(rl_workload_references(w, RL_SOURCE_SPC, "vault-spc"));
    cr_assert(not(rl_workload_references(w, RL_SOURCE_SECRET, "never-mounted")));
    cr_assert(not(rl_workload_references(w, RL_SOURCE_SECRET, "web-config")));
    cr_assert(not(rl_workload_references(w, RL_SOURCE_CONFIGMAP, "other")));
    rl_workload_free(w);
}

Test(workload, decodes_markers_and_applied_record)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);

    cr_assert(w->lrf_valid);
    cr_assert(eq(int, w->lrf_type, RL_SOURCE_CONFIGMAP));
    cr_assert(eq(str, (char *)w->lrf_name, "web-config"));
    cr_assert(eq(str, (char *)w->lrf_hash, H1));
    cr_assert(not(w->applied_invalid));
    cr_assert(eq(int, w->n_applied, 2));
    cr_assert(eq(str, (char *)rl_workload_applied(w, RL_SOURCE_CONFIGMAP, "web-config"), H1));
    cr_assert(eq(str, (char *)rl_workload_applied(w, RL_SOURCE_SECRET, "db-creds"), H2));
    cr_assert(rl_workload_applied(w, RL_SOURCE_CONFIGMAP, "db-creds") == NULL);
    rl_workload_free(w);
}

Test(workload, typical_workload_fits_in_one_kib)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);

    cr_assert(w->mem_bytes <= 1024, "%zu bytes", w->mem_bytes);
    cr_log_info("typical workload: %zu bytes", w->mem_bytes);
    rl_workload_free(w);
}

/* ---- docs/reloader.md §5.3 container selection ------------------------------------------- */

Test(workload, pick_first_container_mounting_the_volume)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);

    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_CONFIGMAP, "web-config", true), 0));
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_SPC, "vault-spc", true), 1));
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_SECRET, "db-creds", true), 1));
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_CONFIGMAP, "side-env", true), 1));
    rl_workload_free(w);
}

Test(workload, pick_init_container_reference_yields_container_zero)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);

    /* tls-web is mounted only by the init container "migrate". */
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_SECRET, "tls-web", true), 0));
    rl_workload_free(w);
    w = decode("{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{"
               "\"initContainers\":[{\"name\":\"i\",\"env\":[{\"name\":\"X\",\"valueFrom\":"
               "{\"configMapKeyRef\":{\"name\":\"c\"}}}]}],"
               "\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]}}}}", RL_KIND_DEPLOYMENT);
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_CONFIGMAP, "c", true), 0));
    rl_workload_free(w);
}

Test(workload, pick_explicit_reload_needs_no_reference)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);

    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_CONFIGMAP, "unrelated", true), -1));
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_CONFIGMAP, "unrelated", false), 0));
    /* A volume nobody mounts is no reference. */
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_SECRET, "never-mounted", true), -1));
    rl_workload_free(w);
}

Test(workload, pick_only_first_matching_volume_counts)
{
    /* Quirk: the first volume naming the source is unmounted, the second is mounted. */
    struct rl_workload *w = decode(
        "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"volumes\":["
        "{\"name\":\"v1\",\"configMap\":{\"name\":\"c\"}},"
        "{\"name\":\"v2\",\"configMap\":{\"name\":\"c\"}}],"
        "\"containers\":[{\"name\":\"a\"},{\"name\":\"b\",\"volumeMounts\":[{\"name\":\"v2\"}]}]}}}}",
        RL_KIND_DEPLOYMENT);

    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_CONFIGMAP, "c", true), -1));
    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_CONFIGMAP, "c", false), 0));
    rl_workload_free(w);
}

Test(workload, pick_volume_before_env)
{
    struct rl_workload *w = decode(
        "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"volumes\":["
        "{\"name\":\"v\",\"secret\":{\"secretName\":\"s\"}}],"
        "\"containers\":[{\"name\":\"a\",\"envFrom\":[{\"secretRef\":{\"name\":\"s\"}}]},"
        "{\"name\":\"b\",\"volumeMounts\":[{\"name\":\"v\"}]}]}}}}", RL_KIND_DEPLOYMENT);

    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_SECRET, "s", true), 1));
    rl_workload_free(w);
}

Test(workload, pick_with_no_containers)
{
    struct rl_workload *w = decode("{\"metadata\":{\"name\":\"d\"},\"spec\":{}}",
                                   RL_KIND_DEPLOYMENT);

    cr_assert(eq(int, rl_workload_pick_container(w, RL_SOURCE_SECRET, "s", false), -1));
    cr_assert(eq(int, w->n_containers, 0));
    rl_workload_free(w);
}

/* ---- kinds ---------------------------------------------------------------- */

Test(workload, cronjob_template_is_in_job_template)
{
    struct rl_workload *w = decode(
        "{\"metadata\":{\"name\":\"cj\",\"namespace\":\"n\"},\"spec\":{\"jobTemplate\":{\"spec\":"
        "{\"template\":{\"metadata\":{\"annotations\":{\"reloader.stakater.com/auto\":\"true\"}},"
        "\"spec\":{\"containers\":[{\"name\":\"j\",\"envFrom\":[{\"configMapRef\":"
        "{\"name\":\"cfg\"}}]}]}}}},\"template\":{\"spec\":{\"containers\":[{\"name\":\"wrong\"}]}}}}",
        RL_KIND_CRONJOB);

    cr_assert(eq(int, w->n_containers, 1));
    cr_assert(eq(str, (char *)w->containers[0], "j"));
    cr_assert(eq(str, (char *)rl_workload_pod(w, "reloader.stakater.com/auto"), "true"));
    cr_assert(rl_workload_references(w, RL_SOURCE_CONFIGMAP, "cfg"));
    rl_workload_free(w);
}

Test(workload, kind_and_type_names)
{
    enum rl_kind k;
    enum rl_source_type t;

    cr_assert(eq(str, (char *)rl_kind_name(RL_KIND_STATEFULSET), "StatefulSet"));
    cr_assert(rl_kind_parse("Rollout", &k) && k == RL_KIND_ROLLOUT);
    cr_assert(rl_kind_parse("cronjobs", &k) && k == RL_KIND_CRONJOB);
    cr_assert(not(rl_kind_parse("Pod", &k)));
    cr_assert(eq(str, (char *)rl_source_type_upper(RL_SOURCE_SPC), "SECRETPROVIDERCLASS"));
    cr_assert(rl_source_type_parse_lower("secret/x", 6, &t) && t == RL_SOURCE_SECRET);
    cr_assert(not(rl_source_type_parse_lower("secrets", 7, &t)));
}

/* ---- bad input ------------------------------------------------------------ */

Test(workload, rejects_objects_without_a_name)
{
    const char *bad[] = { "[]", "{}", "{\"metadata\":{}}", "{\"metadata\":{\"name\":\"\"}}",
                          "{\"metadata\":{\"name\":5}}", "\"x\"" };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cJSON *j = cJSON_Parse(bad[i]);
        struct rl_workload *w = (struct rl_workload *)1;

        cr_assert(eq(int, rl_workload_decode(j, RL_KIND_JOB, &keys, &w), RL_EPARSE), "%s", bad[i]);
        cr_assert(w == NULL);
        cJSON_Delete(j);
    }
}

Test(workload, tolerates_wrong_types_inside)
{
    struct rl_workload *w = decode(
        "{\"metadata\":{\"name\":\"d\",\"annotations\":{\"reloader.stakater.com/auto\":true,"
        "\"reloadd.io/applied\":\"not json\"}},\"spec\":{\"template\":{\"metadata\":"
        "{\"annotations\":{\"reloader.stakater.com/last-reloaded-from\":\"{\\\"type\\\":1}\"}},"
        "\"spec\":{\"volumes\":{},\"containers\":[{\"env\":5,\"volumeMounts\":[1,{\"name\":2}]},"
        "7]}}}}", RL_KIND_STATEFULSET);

    cr_assert(eq(int, w->n_meta_ann, 0));
    cr_assert(w->applied_invalid);
    cr_assert(not(w->lrf_valid));
    cr_assert(eq(int, w->n_containers, 2));
    cr_assert(eq(str, (char *)w->containers[0], ""));
    rl_workload_free(w);
}

Test(workload, applied_keeps_good_entries_of_a_bad_record)
{
    struct rl_workload *w = decode(
        "{\"metadata\":{\"name\":\"d\",\"annotations\":{\"reloadd.io/applied\":"
        "\"{\\\"configmap/a\\\":\\\"" H1 "\\\",\\\"pods/x\\\":\\\"" H1 "\\\","
        "\\\"secret/b\\\":\\\"short\\\",\\\"configmap/\\\":\\\"" H1 "\\\"}\"}}}",
        RL_KIND_DEPLOYMENT);

    cr_assert(w->applied_invalid);
    cr_assert(eq(int, w->n_applied, 1));
    cr_assert(eq(str, (char *)rl_workload_applied(w, RL_SOURCE_CONFIGMAP, "a"), H1));
    rl_workload_free(w);
}

static const char *intern_fn(void *ctx, const char *s)
{
    (void)s;
    return ctx;
}

Test(workload, namespace_can_be_interned)
{
    static char shared[] = "shop";
    struct rl_workload_keys k = keys;
    struct rl_workload *w = NULL;
    cJSON *j = cJSON_Parse(deploy_json);

    k.intern = intern_fn;
    k.intern_ctx = shared;
    cr_assert(eq(int, rl_workload_decode(j, RL_KIND_DEPLOYMENT, &k, &w), 0));
    cr_assert(w->ns == shared);
    cJSON_Delete(j);
    rl_workload_free(w);
}

/* ---- recorded hash ---------------------------------------------------------- */

static struct rl_workload *recorded_fixture(const char *applied, const char *env_value,
                                            const char *lrf_hash)
{
    char *json = rl_xasprintf(
        "{\"metadata\":{\"name\":\"d\",\"annotations\":{%s%s%s}},"
        "\"spec\":{\"template\":{\"metadata\":{\"annotations\":{%s%s%s}},\"spec\":{"
        "\"containers\":[{\"name\":\"a\",\"envFrom\":[{\"configMapRef\":{\"name\":\"my-app\"}},"
        "{\"configMapRef\":{\"name\":\"cfg\"}}],\"env\":[%s%s%s]}]}}}}",
        applied ? "\"reloadd.io/applied\":\"" : "", applied ? applied : "", applied ? "\"" : "",
        lrf_hash ? "\"reloader.stakater.com/last-reloaded-from\":\"{\\\"type\\\":\\\"CONFIGMAP\\\","
                   "\\\"name\\\":\\\"cfg\\\",\\\"hash\\\":\\\"" : "",
        lrf_hash ? lrf_hash : "", lrf_hash ? "\\\"}\"" : "",
        env_value ? "{\"name\":\"STAKATER_CFG_CONFIGMAP\",\"value\":\"" : "",
        env_value ? env_value : "", env_value ? "\"}" : "");
    struct rl_workload *w = decode(json, RL_KIND_DEPLOYMENT);

    free(json);
    return w;
}

Test(workload, recorded_none_means_baseline)
{
    struct rl_workload *w = recorded_fixture(NULL, NULL, NULL);
    enum rl_recorded_from from;

    cr_assert(rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "cfg", RL_STRATEGY_ENV_VARS, 0,
                                   &from) == NULL);
    cr_assert(eq(int, from, RL_RECORDED_NONE));
    rl_workload_free(w);
}

Test(workload, recorded_reloader_env_marker_alone)
{
    struct rl_workload *w = recorded_fixture(NULL, H1, NULL);
    enum rl_recorded_from from;

    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "cfg",
                                                   RL_STRATEGY_ENV_VARS, 0, &from), H1));
    cr_assert(eq(int, from, RL_RECORDED_ENV));
    /* Under the annotations strategy an env var is not the marker. */
    cr_assert(rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "cfg", RL_STRATEGY_ANNOTATIONS, 0,
                                   &from) == NULL);
    rl_workload_free(w);
}

Test(workload, recorded_marker_newer_than_applied_wins)
{
    struct rl_workload *w = recorded_fixture("{\\\"configmap/cfg\\\":\\\"" H1 "\\\"}", H2, NULL);
    enum rl_recorded_from from;

    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "cfg",
                                                   RL_STRATEGY_ENV_VARS, 0, &from), H2));
    cr_assert(eq(int, from, RL_RECORDED_ENV));
    rl_workload_free(w);
}

Test(workload, recorded_applied_when_markers_agree_or_absent)
{
    struct rl_workload *w = recorded_fixture("{\\\"configmap/cfg\\\":\\\"" H1 "\\\"}", H1, NULL);
    enum rl_recorded_from from;

    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "cfg",
                                                   RL_STRATEGY_ENV_VARS, 0, &from), H1));
    cr_assert(eq(int, from, RL_RECORDED_APPLIED));
    /* Strategy switched to annotations, no last-reloaded-from yet: applied. */
    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "cfg",
                                                   RL_STRATEGY_ANNOTATIONS, 0, &from), H1));
    cr_assert(eq(int, from, RL_RECORDED_APPLIED));
    rl_workload_free(w);
}

Test(workload, recorded_last_reloaded_from)
{
    struct rl_workload *w = recorded_fixture("{\\\"configmap/cfg\\\":\\\"" H1 "\\\"}", NULL, H2);
    enum rl_recorded_from from;

    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "cfg",
                                                   RL_STRATEGY_ANNOTATIONS, 0, &from), H2));
    cr_assert(eq(int, from, RL_RECORDED_ANNOTATION));
    /* It names cfg only. */
    cr_assert(rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "my-app",
                                   RL_STRATEGY_ANNOTATIONS, 0, &from) == NULL);
    rl_workload_free(w);
}

Test(workload, recorded_env_collision_trusts_applied)
{
    /* my-app and my.app share STAKATER_MY_APP_CONFIGMAP. */
    struct rl_workload *w = decode(
        "{\"metadata\":{\"name\":\"d\",\"annotations\":{\"reloadd.io/applied\":"
        "\"{\\\"configmap/my-app\\\":\\\"" H1 "\\\",\\\"configmap/my.app\\\":\\\"" H2 "\\\"}\"}},"
        "\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"a\",\"envFrom\":["
        "{\"configMapRef\":{\"name\":\"my-app\"}},{\"configMapRef\":{\"name\":\"my.app\"}}],"
        "\"env\":[{\"name\":\"STAKATER_MY_APP_CONFIGMAP\",\"value\":\"" H2 "\"}]}]}}}}",
        RL_KIND_DEPLOYMENT);
    enum rl_recorded_from from;

    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "my-app",
                                                   RL_STRATEGY_ENV_VARS, 0, &from), H1));
    cr_assert(eq(int, from, RL_RECORDED_APPLIED));
    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_CONFIGMAP, "my.app",
                                                   RL_STRATEGY_ENV_VARS, 0, &from), H2));
    rl_workload_free(w);
}

Test(workload, recorded_reads_only_the_chosen_container)
{
    struct rl_workload *w = decode(
        "{\"metadata\":{\"name\":\"d\"},\"spec\":{\"template\":{\"spec\":{\"containers\":["
        "{\"name\":\"a\",\"env\":[{\"name\":\"STAKATER_C_SECRET\",\"value\":\"" H1 "\"}]},"
        "{\"name\":\"b\",\"envFrom\":[{\"secretRef\":{\"name\":\"c\"}}],"
        "\"env\":[{\"name\":\"STAKATER_C_SECRET\",\"value\":\"" H2 "\"}]}]}}}}",
        RL_KIND_DEPLOYMENT);
    enum rl_recorded_from from;
    int c = rl_workload_pick_container(w, RL_SOURCE_SECRET, "c", true);

    cr_assert(eq(int, c, 1));
    cr_assert(eq(str, (char *)rl_workload_recorded(w, RL_SOURCE_SECRET, "c",
                                                   RL_STRATEGY_ENV_VARS, c, &from), H2));
    rl_workload_free(w);
}

/* ---- reverse-index enumeration --------------------------------------------- */

struct seen {
    int n;
    char names[16][64];
    unsigned origins[16];
};

static void collect(void *ctx, enum rl_source_type t, const char *name, unsigned origins)
{
    struct seen *s = ctx;

    cr_assert(s->n < 16);
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s/%s", rl_source_type_lower(t), name);
    s->origins[s->n++] = origins;
}

static unsigned origins_of(const struct seen *s, const char *key)
{
    for (int i = 0; i < s->n; i++) {
        if (strcmp(s->names[i], key) == 0)
            return s->origins[i];
    }
    return 0;
}

Test(workload, each_source_is_distinct_with_origins)
{
    struct rl_workload *w = decode(deploy_json, RL_KIND_DEPLOYMENT);
    struct seen s = { 0 };

    rl_workload_each_source(w, collect, &s);
    /* web-config ca tls-web vault-spc flags db-creds side-env */
    cr_assert(eq(int, s.n, 7));
    cr_assert(eq(u32, origins_of(&s, "configmap/web-config"),
                 RL_SRC_MOUNTED | RL_SRC_APPLIED | RL_SRC_LRF));
    cr_assert(eq(u32, origins_of(&s, "secret/db-creds"), RL_SRC_ENV | RL_SRC_APPLIED));
    cr_assert(eq(u32, origins_of(&s, "secret/tls-web"), RL_SRC_MOUNTED));
    cr_assert(eq(u32, origins_of(&s, "secretproviderclass/vault-spc"), RL_SRC_MOUNTED));
    cr_assert(eq(u32, origins_of(&s, "configmap/flags"), RL_SRC_ENV));
    cr_assert(eq(u32, origins_of(&s, "secret/never-mounted"), 0));
    rl_workload_free(w);
}
