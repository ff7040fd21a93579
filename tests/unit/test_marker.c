#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/json.h"
#include "reloadd/reload/marker.h"

#define H1 "0123456789abcdef0123456789abcdef01234567"
#define H2 "89abcdef0123456789abcdef0123456789abcdef"

static char *env_name(enum rl_source_type t, const char *name)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_marker_env_name(&b, t, name), 0));
    return rl_buf_detach(&b);
}

static void check_env(enum rl_source_type t, const char *name, const char *want)
{
    char *got = env_name(t, name);

    cr_assert(eq(str, got, (char *)want), "name %s", name);
    free(got);
}

Test(marker, env_var_names_table)
{
    check_env(RL_SOURCE_CONFIGMAP, "my-config", "STAKATER_MY_CONFIG_CONFIGMAP");
    check_env(RL_SOURCE_CONFIGMAP, "my.app.config", "STAKATER_MY_APP_CONFIG_CONFIGMAP");
    check_env(RL_SOURCE_SECRET, "my-secret", "STAKATER_MY_SECRET_SECRET");
    check_env(RL_SOURCE_CONFIGMAP, "a--b", "STAKATER_A_B_CONFIGMAP");
    check_env(RL_SOURCE_CONFIGMAP, "abc.", "STAKATER_ABC__CONFIGMAP");
    check_env(RL_SOURCE_SPC, "vault-spc", "STAKATER_VAULT_SPC_SECRETPROVIDERCLASS");
    /* Leading separators are dropped. */
    check_env(RL_SOURCE_CONFIGMAP, "-.x", "STAKATER_X_CONFIGMAP");
    check_env(RL_SOURCE_CONFIGMAP, "app1-v2", "STAKATER_APP1_V2_CONFIGMAP");
}

Test(marker, convert_env_name_www)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_marker_convert_env_name(&b, "www.stakater.com"), 0));
    cr_assert(eq(str, b.buf, "WWW_STAKATER_COM"));
    rl_buf_reset(&b);
    /* Go's ToUpper maps U+0131 to 'I' and U+017F to 'S'; other runes split. */
    cr_assert(eq(int, rl_marker_convert_env_name(&b, "\xc4\xb1x\xc5\xbf-\xc3\xa9z"), 0));
    cr_assert(eq(str, b.buf, "IXS_Z"));
    rl_buf_release(&b);
}

Test(marker, env_var_name_collisions)
{
    char *a = env_name(RL_SOURCE_CONFIGMAP, "my-app");
    char *b = env_name(RL_SOURCE_CONFIGMAP, "my.app");
    char *c = env_name(RL_SOURCE_CONFIGMAP, "my_app");
    char *d = env_name(RL_SOURCE_SECRET, "my-app");

    cr_assert(eq(str, a, "STAKATER_MY_APP_CONFIGMAP"));
    cr_assert(eq(str, a, b));
    cr_assert(eq(str, a, c));
    cr_assert(not(eq(str, a, d)));
    free(a);
    free(b);
    free(c);
    free(d);
}

Test(marker, reload_source_json_exact)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_marker_reload_source_json(&b, RL_SOURCE_CONFIGMAP, "app-config",
                                                   "default", H1, "app", 1700000000), 0));
    cr_assert(eq(str, b.buf,
                 "{\"type\":\"CONFIGMAP\",\"name\":\"app-config\",\"namespace\":\"default\","
                 "\"hash\":\"" H1 "\",\"containerRefs\":[\"app\"],\"observedAt\":1700000000}"));
    rl_buf_release(&b);
}

Test(marker, reload_source_json_go_html_escaping)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_marker_reload_source_json(&b, RL_SOURCE_SECRET, "a<b>&\"c\\",
                                                   "n\xe2\x80\xa8s", "h\n\x01\b\f",
                                                   "\xff", 5), 0));
    cr_assert(eq(str, b.buf,
                 "{\"type\":\"SECRET\",\"name\":\"a\\u003cb\\u003e\\u0026\\\"c\\\\\","
                 "\"namespace\":\"n\\u2028s\",\"hash\":\"h\\n\\u0001\\b\\f\","
                 "\"containerRefs\":[\"\\ufffd\"],\"observedAt\":5}"));
    rl_buf_release(&b);
}

Test(marker, single_source_bodies_are_escaped)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_env_var(&b, "app", "STAKATER_X_CONFIGMAP", H1), 0));
    cr_assert(eq(str, b.buf,
                 "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\","
                 "\"env\":[{\"name\":\"STAKATER_X_CONFIGMAP\",\"value\":\"" H1 "\"}]}]}}}}"));
    rl_buf_reset(&b);
    /* docs/reloader.md §3.1: Reloader pastes names unescaped; a quote must not break out. */
    cr_assert(eq(int, rl_patch_env_var(&b, "a\"b", "E", "v"), 0));
    {
        cJSON *j = cJSON_Parse(b.buf);

        cr_assert(j != NULL, "not JSON: %s", b.buf);
        cr_assert(eq(str, (char *)rl_json_str(cJSON_GetArrayItem(rl_json_arr(
            rl_json_path(j, "spec.template.spec"), "containers"), 0), "name"), "a\"b"));
        cJSON_Delete(j);
    }
    rl_buf_reset(&b);
    cr_assert(eq(int, rl_patch_pod_annotation(&b, RL_ANN_LAST_RELOADED_FROM, "{\"a\":1}"), 0));
    cr_assert(eq(str, b.buf,
                 "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{"
                 "\"reloader.stakater.com/last-reloaded-from\":\"{\\\"a\\\":1}\"}}}}}"));
    rl_buf_release(&b);
}

Test(marker, applied_json_sorted_and_deduplicated)
{
    struct rl_applied_entry e[] = {
        { RL_SOURCE_SECRET, "db", H2 },
        { RL_SOURCE_CONFIGMAP, "b", H1 },
        { RL_SOURCE_CONFIGMAP, "a", H2 },
    };
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_marker_applied_json(&b, e, 3, NULL, 0), 0));
    cr_assert(eq(str, b.buf, "{\"configmap/a\":\"" H2 "\",\"configmap/b\":\"" H1 "\","
                             "\"secret/db\":\"" H2 "\"}"));
    rl_buf_reset(&b);
    cr_assert(eq(int, rl_marker_applied_json(&b, NULL, 0, NULL, 0), 0));
    cr_assert(eq(str, b.buf, "{}"));
    rl_buf_release(&b);
}

Test(marker, combined_env_vars_patch_one_rollout_for_many_sources)
{
    struct rl_marker m[] = {
        { RL_SOURCE_CONFIGMAP, "a", H1, "app" },
        { RL_SOURCE_SECRET, "s", H2, "side" },
        { RL_SOURCE_CONFIGMAP, "b", H2, "app" },
        { RL_SOURCE_CONFIGMAP, "gone", NULL, "app" },
    };
    struct rl_applied_entry rec[] = {
        { RL_SOURCE_CONFIGMAP, "a", H1 },
        { RL_SOURCE_CONFIGMAP, "b", H2 },
        { RL_SOURCE_SECRET, "s", H2 },
    };
    struct rl_rollout r = {
        .strategy = RL_STRATEGY_ENV_VARS, .ns = "default", .markers = m, .n_markers = 4,
        .record = rec, .n_record = 3, .applied_key = "reloadd.io/applied", .now_s = 1,
    };
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_rollout(&b, &r), 0));
    cr_assert(eq(str, b.buf,
        "{\"metadata\":{\"annotations\":{\"reloadd.io/applied\":"
        "\"{\\\"configmap/a\\\":\\\"" H1 "\\\",\\\"configmap/b\\\":\\\"" H2 "\\\","
        "\\\"secret/s\\\":\\\"" H2 "\\\"}\"}},"
        "\"spec\":{\"template\":{\"spec\":{\"containers\":["
        "{\"name\":\"app\",\"env\":[{\"name\":\"STAKATER_A_CONFIGMAP\",\"value\":\"" H1 "\"},"
        "{\"name\":\"STAKATER_B_CONFIGMAP\",\"value\":\"" H2 "\"},"
        "{\"name\":\"STAKATER_GONE_CONFIGMAP\",\"$patch\":\"delete\"}]},"
        "{\"name\":\"side\",\"env\":[{\"name\":\"STAKATER_S_SECRET\",\"value\":\"" H2 "\"}]}"
        "]}}}}"));
    cJSON_Delete(cJSON_Parse(b.buf));
    rl_buf_release(&b);
}

Test(marker, combined_patch_colliding_env_names_written_once)
{
    struct rl_marker m[] = {
        { RL_SOURCE_CONFIGMAP, "my-app", H1, "app" },
        { RL_SOURCE_CONFIGMAP, "my.app", H2, "app" },
    };
    struct rl_rollout r = { .strategy = RL_STRATEGY_ENV_VARS, .ns = "d", .markers = m,
                            .n_markers = 2 };
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_rollout(&b, &r), 0));
    cr_assert(eq(str, b.buf,
        "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"app\",\"env\":["
        "{\"name\":\"STAKATER_MY_APP_CONFIGMAP\",\"value\":\"" H2 "\"}]}]}}}}"));
    rl_buf_release(&b);
}

Test(marker, combined_annotations_patch)
{
    struct rl_marker m[] = {
        { RL_SOURCE_CONFIGMAP, "skip", H2, NULL },          /* no container: skipped */
        { RL_SOURCE_CONFIGMAP, "cfg", H1, "app" },
    };
    struct rl_applied_entry rec[] = { { RL_SOURCE_CONFIGMAP, "cfg", H1 } };
    struct rl_rollout r = {
        .strategy = RL_STRATEGY_ANNOTATIONS, .ns = "prod", .markers = m, .n_markers = 2,
        .record = rec, .n_record = 1, .applied_key = "x.io/applied", .now_s = 42,
    };
    struct rl_buf b;
    cJSON *j;
    const char *lrf;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_rollout(&b, &r), 0));
    j = cJSON_Parse(b.buf);
    cr_assert(j != NULL);
    lrf = rl_json_str(rl_json_path(j, "spec.template.metadata.annotations"),
                      RL_ANN_LAST_RELOADED_FROM);
    cr_assert(eq(str, (char *)lrf,
                 "{\"type\":\"CONFIGMAP\",\"name\":\"cfg\",\"namespace\":\"prod\",\"hash\":\""
                 H1 "\",\"containerRefs\":[\"app\"],\"observedAt\":42}"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(j, "metadata.annotations"), "x.io/applied"),
                 "{\"configmap/cfg\":\"" H1 "\"}"));
    cr_assert(rl_json_path(j, "spec.template.spec") == NULL);
    cJSON_Delete(j);
    rl_buf_release(&b);
}

Test(marker, annotations_delete_uses_marker_hash)
{
    struct rl_marker m[] = { { RL_SOURCE_SECRET, "s", NULL, "c" } };
    struct rl_rollout r = { .strategy = RL_STRATEGY_ANNOTATIONS, .ns = "n", .markers = m,
                            .n_markers = 1, .now_s = 7 };
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_rollout(&b, &r), 0));
    cr_assert(strstr(b.buf, RL_HASH_DELETE_MARKER) != NULL);
    rl_buf_release(&b);
}

Test(marker, rollout_without_container_is_einval)
{
    struct rl_marker m[] = { { RL_SOURCE_SECRET, "s", H1, NULL } };
    struct rl_rollout r = { .strategy = RL_STRATEGY_ENV_VARS, .markers = m, .n_markers = 1 };
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_rollout(&b, &r), RL_EINVAL));
    rl_buf_release(&b);
}

Test(marker, record_only_patch)
{
    struct rl_applied_entry rec[] = { { RL_SOURCE_SECRET, "s", H1 } };
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_record(&b, "reloadd.io/applied", rec, 1, NULL, 0), 0));
    cr_assert(eq(str, b.buf, "{\"metadata\":{\"annotations\":{\"reloadd.io/applied\":"
                             "\"{\\\"secret/s\\\":\\\"" H1 "\\\"}\"}}}"));
    rl_buf_release(&b);
}

Test(marker, argo_restart_patch)
{
    struct rl_rollout r = { .now_s = 1735787045 };   /* 2025-01-02T03:04:05Z */
    struct rl_applied_entry rec[] = { { RL_SOURCE_CONFIGMAP, "c", H1 } };
    struct rl_buf b;

    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_rollout_restart(&b, &r), 0));
    cr_assert(eq(str, b.buf, "{\"spec\": {\"restartAt\": \"2025-01-02T03:04:05Z\"}}"));
    rl_buf_reset(&b);
    r.applied_key = "reloadd.io/applied";
    r.record = rec;
    r.n_record = 1;
    cr_assert(eq(int, rl_patch_rollout_restart(&b, &r), 0));
    cr_assert(eq(str, b.buf, "{\"metadata\":{\"annotations\":{\"reloadd.io/applied\":"
                             "\"{\\\"configmap/c\\\":\\\"" H1 "\\\"}\"}},"
                             "\"spec\": {\"restartAt\": \"2025-01-02T03:04:05Z\"}}"));
    rl_buf_release(&b);
}

static const char *rollout_json =
    "{\"apiVersion\":\"argoproj.io/v1alpha1\",\"kind\":\"Rollout\","
    "\"metadata\":{\"name\":\"r\",\"namespace\":\"n\",\"resourceVersion\":\"9\"},"
    "\"spec\":{\"template\":{\"spec\":{\"containers\":["
    "{\"name\":\"a\",\"env\":[{\"name\":\"STAKATER_OLD_CONFIGMAP\",\"value\":\"x\"},"
    "{\"name\":\"STAKATER_C_CONFIGMAP\",\"value\":\"old\"}]},{\"name\":\"b\"}]}}}}";

Test(marker, apply_to_whole_object)
{
    cJSON *o = cJSON_Parse(rollout_json);
    struct rl_marker m[] = {
        { RL_SOURCE_CONFIGMAP, "c", H1, "a" },
        { RL_SOURCE_CONFIGMAP, "old", NULL, "a" },
        { RL_SOURCE_SECRET, "s", H2, "b" },
    };
    struct rl_applied_entry rec[] = { { RL_SOURCE_CONFIGMAP, "c", H1 } };
    struct rl_rollout r = { .strategy = RL_STRATEGY_ENV_VARS, .markers = m, .n_markers = 3,
                            .record = rec, .n_record = 1, .applied_key = "p.io/applied" };
    char *s;

    cr_assert(eq(int, rl_marker_apply(o, RL_KIND_ROLLOUT, &r), 0));
    s = rl_json_print(rl_json_path(o, "spec.template.spec"));
    cr_assert(eq(str, s, "{\"containers\":[{\"name\":\"a\",\"env\":["
                         "{\"name\":\"STAKATER_C_CONFIGMAP\",\"value\":\"" H1 "\"}]},"
                         "{\"name\":\"b\",\"env\":[{\"name\":\"STAKATER_S_SECRET\",\"value\":\""
                         H2 "\"}]}]}"));
    free(s);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_path(o, "metadata.annotations"), "p.io/applied"),
                 "{\"configmap/c\":\"" H1 "\"}"));
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(o, "metadata"), "resourceVersion"), "9"));
    /* A container that is not there: NoContainerFound. */
    m[0].container = "nope";
    cr_assert(eq(int, rl_marker_apply(o, RL_KIND_ROLLOUT, &r), RL_EINVAL));
    cJSON_Delete(o);
}

static const char *cronjob_json =
    "{\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\","
    "\"metadata\":{\"name\":\"nightly\",\"namespace\":\"ops\",\"uid\":\"u-1\","
    "\"annotations\":{\"reloader.stakater.com/auto\":\"true\"}},"
    "\"spec\":{\"schedule\":\"@daily\",\"jobTemplate\":{"
    "\"metadata\":{\"labels\":{\"team\":\"x\"},\"annotations\":{\"a\":\"1\","
    "\"cronjob.kubernetes.io/instantiate\":\"override\"}},"
    "\"spec\":{\"backoffLimit\":2,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
    "\"containers\":[{\"name\":\"job\",\"image\":\"busybox\"}]}}}}}}";

Test(marker, job_from_cronjob)
{
    cJSON *cj = cJSON_Parse(cronjob_json), *job = NULL;
    struct rl_marker m[] = { { RL_SOURCE_CONFIGMAP, "cfg", H1, "job" } };
    struct rl_applied_entry rec[] = { { RL_SOURCE_CONFIGMAP, "cfg", H1 } };
    struct rl_rollout r = { .strategy = RL_STRATEGY_ENV_VARS, .markers = m, .n_markers = 1,
                            .record = rec, .n_record = 1, .applied_key = "reloadd.io/applied" };
    char *s;

    cr_assert(eq(int, rl_job_from_cronjob(cj, &r, &job), 0));
    s = rl_json_print(job);
    cr_assert(eq(str, s,
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{"
        "\"generateName\":\"nightly-\",\"namespace\":\"ops\",\"annotations\":{"
        "\"a\":\"1\",\"cronjob.kubernetes.io/instantiate\":\"override\"},"
        "\"labels\":{\"team\":\"x\"},\"ownerReferences\":[{\"apiVersion\":\"batch/v1\","
        "\"kind\":\"CronJob\",\"name\":\"nightly\",\"uid\":\"u-1\",\"controller\":true,"
        "\"blockOwnerDeletion\":true}]},\"spec\":{\"backoffLimit\":2,\"template\":{\"spec\":{"
        "\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"job\",\"image\":\"busybox\","
        "\"env\":[{\"name\":\"STAKATER_CFG_CONFIGMAP\",\"value\":\"" H1 "\"}]}]}}}}"));
    free(s);
    /* The CronJob itself is untouched. */
    cr_assert(rl_json_path(cj, "spec.jobTemplate.spec.template.spec.containers") != NULL);
    s = rl_json_print(cj);
    cr_assert(strstr(s, "STAKATER") == NULL);
    free(s);
    cJSON_Delete(job);
    cJSON_Delete(cj);
}

Test(marker, job_from_cronjob_needs_uid)
{
    cJSON *cj = cJSON_Parse("{\"metadata\":{\"name\":\"x\"},\"spec\":{\"jobTemplate\":{\"spec\":{}}}}");
    cJSON *job = NULL;
    struct rl_marker m[] = { { RL_SOURCE_CONFIGMAP, "cfg", H1, "job" } };
    struct rl_rollout r = { .markers = m, .n_markers = 1 };

    cr_assert(eq(int, rl_job_from_cronjob(cj, &r, &job), RL_EINVAL));
    cr_assert(job == NULL);
    cJSON_Delete(cj);
}

static const char *job_json =
    "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\","
    "\"namespace\":\"n\",\"uid\":\"u\",\"resourceVersion\":\"5\",\"generation\":1,"
    "\"creationTimestamp\":\"2025-01-01T00:00:00Z\",\"managedFields\":[{}],"
    "\"labels\":{\"keep\":\"me\"}},"
    "\"spec\":{\"selector\":{\"matchLabels\":{\"batch.kubernetes.io/controller-uid\":\"u\"}},"
    "\"template\":{\"metadata\":{\"labels\":{\"controller-uid\":\"u\","
    "\"batch.kubernetes.io/controller-uid\":\"u\",\"batch.kubernetes.io/job-name\":\"j\","
    "\"job-name\":\"j\",\"app\":\"x\"}},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}},"
    "\"status\":{\"succeeded\":1}}";

Test(marker, job_recreate_clears_server_fields)
{
    cJSON *j = cJSON_Parse(job_json), *out = NULL;
    struct rl_marker m[] = { { RL_SOURCE_SECRET, "s", H1, "c" } };
    struct rl_applied_entry rec[] = { { RL_SOURCE_SECRET, "s", H1 } };
    struct rl_rollout r = { .strategy = RL_STRATEGY_ANNOTATIONS, .ns = "n", .markers = m,
                            .n_markers = 1, .record = rec, .n_record = 1,
                            .applied_key = "reloadd.io/applied", .now_s = 3 };
    const cJSON *meta;

    cr_assert(eq(int, rl_job_recreate(j, &r, &out), 0));
    meta = rl_json_obj(out, "metadata");
    cr_assert(eq(str, (char *)rl_json_str(meta, "name"), "j"));
    cr_assert(rl_json_get(meta, "uid") == NULL);
    cr_assert(rl_json_get(meta, "resourceVersion") == NULL);
    cr_assert(rl_json_get(meta, "creationTimestamp") == NULL);
    cr_assert(rl_json_get(meta, "managedFields") == NULL);
    cr_assert(rl_json_get(meta, "generation") == NULL);
    cr_assert(rl_json_get(out, "status") == NULL);
    cr_assert(rl_json_path(out, "spec.selector") == NULL);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(meta, "labels"), "keep"), "me"));
    {
        char *s = rl_json_print(rl_json_path(out, "spec.template.metadata.labels"));

        cr_assert(eq(str, s, "{\"app\":\"x\"}"));
        free(s);
    }
    cr_assert(strstr(rl_json_str(rl_json_path(out, "spec.template.metadata.annotations"),
                                 RL_ANN_LAST_RELOADED_FROM), "\"name\":\"s\"") != NULL);
    cr_assert(eq(str, (char *)rl_json_str(rl_json_obj(meta, "annotations"), "reloadd.io/applied"),
                 "{\"secret/s\":\"" H1 "\"}"));
    /* The input is not modified. */
    cr_assert(rl_json_path(j, "spec.selector") != NULL);
    cJSON_Delete(out);
    cJSON_Delete(j);
}

Test(marker, job_recreate_keeps_manual_selector)
{
    cJSON *j = cJSON_Parse("{\"metadata\":{\"name\":\"j\"},\"spec\":{\"manualSelector\":true,"
                           "\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{"
                           "\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}");
    cJSON *out = NULL;
    struct rl_marker m[] = { { RL_SOURCE_SECRET, "s", H1, "c" } };
    struct rl_rollout r = { .strategy = RL_STRATEGY_ENV_VARS, .markers = m, .n_markers = 1 };

    cr_assert(eq(int, rl_job_recreate(j, &r, &out), 0));
    cr_assert(rl_json_path(out, "spec.selector.matchLabels") != NULL);
    cJSON_Delete(out);
    cJSON_Delete(j);
}

/* --cronjob-strategy=template: the Deployment's patch, one level down. */
Test(marker, nested_template_patch_for_a_cronjob)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    rl_buf_adds(&b, "{\"metadata\":{\"annotations\":{\"a\":\"1\"}},\"spec\":{\"template\":"
                    "{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}");
    cr_assert(eq(int, rl_patch_nest_template(&b, "jobTemplate"), 0));
    cr_assert(eq(str, b.buf, "{\"metadata\":{\"annotations\":{\"a\":\"1\"}},\"spec\":{\"jobTemplate\":"
                             "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}}}"),
              "%s", b.buf);
    rl_buf_reset(&b);
    rl_buf_adds(&b, "{\"metadata\":{}}");
    cr_assert(eq(int, rl_patch_nest_template(&b, "jobTemplate"), RL_EINVAL));
    rl_buf_release(&b);
}
