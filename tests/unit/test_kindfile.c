/*
 * test_kindfile.c - workload kinds declared in a file: the parser, its
 * errors with their lines, the caps, and the declared rows of kind.h's table
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/mem.h"
#include "reloadd/config/policy.h"
#include "reloadd/reload/kind.h"
#include "reloadd/reload/kindfile.h"
#include "reloadd/reload/marker.h"
#include "reloadd/reload/store.h"
#include "reloadd/reload/workload.h"
#include "testutil.h"

static void reset(void)
{
    rl_kind_declare(NULL, 0);
}

TestSuite(kindfile, .init = reset, .fini = reset);

static const char good[] =
    "# Knative and OpenKruise\n"                                    /* 1 */
    "kinds:\n"                                                      /* 2 */
    "  - group: serving.example.test\n"                             /* 3 */
    "    version: v1\n"                                             /* 4 */
    "    kind: Service\n"                                           /* 5 */
    "    plural: services\n"                                        /* 6 */
    "    template: spec.template\n"                                 /* 7 */
    "    rollout: patch-template\n"                                 /* 8 */
    "  - group: apps.example.test\n"                                /* 9 */
    "    version: v1alpha1\n"                                       /* 10 */
    "    kind: CloneSet\n"                                          /* 11 */
    "    plural: clonesets\n"                                       /* 12 */
    "    rollout: set-field\n"                                      /* 13 */
    "    field: spec.restartAt\n";                                  /* 14 */

static int parse(const char *text, char *err, size_t len)
{
    return rl_kindfile_parse("kinds.yaml", text, strlen(text), err, len);
}

static void must_parse(const char *text)
{
    char err[512] = "";

    cr_assert(eq(int, parse(text, err, sizeof(err)), 0), "%s", err);
}

Test(kindfile, a_good_file_declares_its_kinds_after_the_built_ins)
{
    const struct rl_kind_info *s, *c;
    char *path;

    must_parse(good);
    cr_assert(eq(int, rl_kind_count(), RL_KIND_COUNT + 2));
    s = rl_kind_info(RL_KIND_COUNT);
    c = rl_kind_info(RL_KIND_COUNT + 1);
    cr_assert(eq(str, (char *)s->name, "Service"));
    cr_assert(eq(str, (char *)s->key, "services.serving.example.test"));
    cr_assert(eq(str, (char *)s->plural, "services"));
    cr_assert(eq(str, (char *)s->api_version, "serving.example.test/v1"));
    cr_assert(eq(str, (char *)s->api_prefix, "/apis/serving.example.test/v1"));
    cr_assert(eq(str, (char *)s->template_path, "spec.template"));
    cr_assert(eq(int, s->writer, RL_WRITER_UPDATE_TEMPLATE));
    cr_assert(eq(int, s->gate, RL_GATE_DECLARED));
    cr_assert(eq(u32, s->line, 3));
    cr_assert(s->field_path == NULL && s->short_name == NULL && !s->pausable);
    cr_assert(eq(str, (char *)c->name, "CloneSet"));
    cr_assert(eq(str, (char *)c->template_path, "spec.template"));     /* the default */
    cr_assert(eq(int, c->writer, RL_WRITER_SET_FIELD));
    cr_assert(eq(str, (char *)c->field_path, "spec.restartAt"));
    cr_assert(eq(u32, c->line, 9));
    cr_assert(rl_kind_is_declared(RL_KIND_COUNT + 1));
    cr_assert(not(rl_kind_is_declared(RL_KIND_ROLLOUT)));
    cr_assert(not(rl_kind_valid(RL_KIND_COUNT + 2)));
    cr_assert(eq(str, (char *)rl_kind_name(RL_KIND_COUNT + 2), "Unknown"));
    path = rl_kind_object_path(RL_KIND_COUNT + 1, "ns", "web");
    cr_assert(eq(str, path, "/apis/apps.example.test/v1alpha1/namespaces/ns/clonesets/web"));
    free(path);
    /* Unambiguous names are the metrics labels as they are. */
    cr_assert(eq(str, (char *)rl_kind_metric_name(RL_KIND_COUNT), "Service"));
    cr_assert(eq(str, (char *)rl_kind_metric_plural(RL_KIND_COUNT), "services"));
    cr_assert(eq(str, (char *)rl_kind_metric_plural(RL_KIND_DEPLOYMENT), "deployments"));
}

Test(kindfile, declared_kinds_parse_by_every_name)
{
    static const struct {
        const char *s;
        int k;
    } ok[] = {
        { "Service", 0 }, { "service", 0 }, { "services", 0 },
        { "services.serving.example.test", 0 }, { "Service.serving.example.test", 0 },
        { "CloneSet", 1 }, { "cloneset", 1 }, { "CLONESETS", 1 },
        { "clonesets.apps.example.test", 1 },
    };
    enum rl_kind k;

    must_parse(good);
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert(rl_kind_parse(ok[i].s, &k), "'%s' does not parse", ok[i].s);
        cr_assert(eq(int, (int)k, RL_KIND_COUNT + ok[i].k), "'%s'", ok[i].s);
    }
    cr_assert(not(rl_kind_parse("services.apps.example.test", &k)));
    cr_assert(not(rl_kind_parse("services.serving", &k)));
    /* The built-ins are untouched. */
    cr_assert(rl_kind_parse("deploy", &k) && k == RL_KIND_DEPLOYMENT);
    reset();
    cr_assert(not(rl_kind_parse("Service", &k)));
    cr_assert(eq(int, rl_kind_count(), RL_KIND_COUNT));
}

Test(kindfile, a_name_a_built_in_has_stays_the_built_ins)
{
    enum rl_kind k;

    /* OpenKruise's Advanced StatefulSet: Kind and plural of a built-in, another group. */
    must_parse("kinds:\n- {group: apps.kruise.io, version: v1beta1, kind: StatefulSet, "
               "plural: statefulsets}\n");
    cr_assert(rl_kind_parse("StatefulSet", &k) && k == RL_KIND_STATEFULSET);
    cr_assert(rl_kind_parse("statefulsets", &k) && k == RL_KIND_STATEFULSET);
    cr_assert(rl_kind_parse("statefulsets.apps.kruise.io", &k) && k == RL_KIND_COUNT);
    cr_assert(rl_kind_parse("StatefulSet.apps.kruise.io", &k) && k == RL_KIND_COUNT);
    /* Its metrics labels are qualified: one series per kind. */
    cr_assert(eq(str, (char *)rl_kind_metric_name(RL_KIND_COUNT), "StatefulSet.apps.kruise.io"));
    cr_assert(eq(str, (char *)rl_kind_metric_plural(RL_KIND_COUNT),
                 "statefulsets.apps.kruise.io"));
    cr_assert(eq(str, (char *)rl_kind_key(RL_KIND_COUNT), "statefulsets.apps.kruise.io"));
}

Test(kindfile, the_policy_watches_declared_kinds_but_not_in_webhook_mode)
{
    struct rl_policy *p = test_policy(NULL);

    must_parse(good);
    cr_assert(rl_kind_enabled(p, RL_KIND_COUNT));
    cr_assert(rl_kind_enabled(p, RL_KIND_COUNT + 1));
    cr_assert(not(rl_kind_enabled(p, RL_KIND_COUNT + 2)));
    rl_policy_free(p);
    p = test_policy("--webhook-url=http://127.0.0.1:1/x", (char *)NULL);
    cr_assert(not(rl_kind_enabled(p, RL_KIND_COUNT)));
    rl_policy_free(p);
}

Test(kindfile, empty_files_declare_nothing)
{
    must_parse("");
    must_parse("# nothing\n");
    must_parse("kinds:\n");
    must_parse("kinds: []\n");
    cr_assert(eq(int, rl_kind_count(), RL_KIND_COUNT));
}

/* Every error names the file and the line of what is wrong. */
Test(kindfile, every_error_names_the_file_and_the_line)
{
#define ENTRY(extra) "kinds:\n  - group: g.example.test\n    version: v1\n    kind: Foo\n" \
                     "    plural: foos\n" extra
    static const struct {
        const char *text;
        const char *want;
    } bad[] = {
        { ENTRY("    templat: spec.template\n"),
          "line 6: unknown key 'templat' (want group, version, kind, plural, template, "
          "rollout, field)" },
        { "kinds:\n  - group: g.example.test\n    version: v1\n    kind: Foo\n",
          "line 2: missing plural" },
        { "kinds:\n  - version: v1\n    kind: Foo\n    plural: foos\n", "line 2: missing group" },
        { "kinds:\n  - group: apps\n    version: v1\n    kind: Deployment\n"
          "    plural: deployments\n", "line 2: Deployment deployments.apps is the built-in "
          "kind Deployment (apps/v1 deployments)" },
        { "kinds:\n  - group: argoproj.io\n    version: v1alpha1\n    kind: Rollout\n"
          "    plural: rollouts\n", "line 2: Rollout rollouts.argoproj.io is the built-in" },
        { ENTRY("  - group: g.example.test\n    version: v2\n    kind: Foo\n    plural: fooz\n"),
          "line 6: Foo fooz.g.example.test shares a name with Foo foos.g.example.test "
          "declared at line 2" },
        { ENTRY("  - group: g.example.test\n    version: v2\n    kind: Fooz\n    plural: foos\n"),
          "line 6: Fooz foos.g.example.test shares a name with Foo foos.g.example.test "
          "declared at line 2" },
        /* Found by fuzz_kindfile: one kind's plural is the other's Kind, in another case. */
        { ENTRY("  - group: g.example.test\n    version: v2\n    kind: Bar\n    plural: foo\n"),
          "line 6: Bar foo.g.example.test shares a name with Foo foos.g.example.test "
          "declared at line 2" },
        { "kinds:\n  - group: apps\n    version: v1\n    kind: Deploy\n"
          "    plural: deployment\n", "line 2: Deploy deployment.apps is the built-in "
          "kind Deployment (apps/v1 deployments)" },
        { "kinds:\n- group: G_Example\n  version: v1\n  kind: Foo\n  plural: foos\n",
          "line 2: group 'G_Example' is not an API group" },
        { "kinds:\n- group: g.example.test\n  version: V1\n  kind: Foo\n  plural: foos\n",
          "line 3: version 'V1' is not an API version" },
        { "kinds:\n- group: g.example.test\n  version: v1\n  kind: foo\n  plural: foos\n",
          "line 4: kind 'foo' is not a Kind" },
        { "kinds:\n- group: g.example.test\n  version: v1\n  kind: Foo\n  plural: Foos\n",
          "line 5: plural 'Foos' is not a resource name" },
        { ENTRY("    template: spec..template\n"),
          "line 6: template 'spec..template' is not a path of fields under spec" },
        { ENTRY("    template: metadata.template\n"),
          "line 6: template 'metadata.template' is not a path" },
        { ENTRY("    template: spec.te mplate\n"), "line 6: template 'spec.te mplate'" },
        { ENTRY("    rollout: restart\n"),
          "line 6: unknown rollout 'restart' (want patch-template or set-field)" },
        { ENTRY("    rollout: set-field\n"), "line 6: rollout: set-field needs a field" },
        { ENTRY("    rollout: set-field\n    field: status.x\n"),
          "line 7: field 'status.x' is not a path of fields under spec" },
        { ENTRY("    field: spec.restartAt\n"), "line 6: field is for rollout: set-field only" },
        { ENTRY("    kind: Bar\n"), "line 6: kind given twice (first at line 4)" },
        { ENTRY("    template: {a: b}\n"), "line 6: template is a map, want a string" },
        { "kind:\n  - group: g\n", "line 1: unknown key 'kind' at the top level (want kinds)" },
        { "- group: g\n", "line 1: the top level is a list, want a map with a key kinds" },
        { "kinds: foo\n", "line 1: kinds is a string, want a list" },
        { "kinds:\n  - foo\n", "line 2: an entry of kinds is a string, want a map" },
        { "kinds: []\nkinds: []\n", "line 2: kinds given twice" },
        { "kinds:\n- &a {group: g.example.test, version: v1, kind: Foo, plural: foos}\n- *a\n",
          "line 3: aliases (*a) are not supported" },
        { "kinds:\n  - group: x\n\t- y\n", "line 3: invalid YAML" },
        { "kinds: []\n---\nkinds: []\n", "line 2: more than one YAML document" },
    };
#undef ENTRY

    must_parse(good);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[512] = "";
        char *want = rl_xasprintf("--workload-kinds-file 'kinds.yaml', %s", bad[i].want);

        cr_assert(eq(int, parse(bad[i].text, err, sizeof(err)), RL_ECONFIG), "case %zu", i);
        cr_assert(strncmp(err, want, strlen(want)) == 0, "case %zu: got '%s', want '%s...'", i,
                  err, want);
        free(want);
        /* Nothing changed: the good file's kinds are still there. */
        cr_assert(eq(int, rl_kind_count(), RL_KIND_COUNT + 2), "case %zu", i);
    }
}

/* n kinds "K<i>" in group caps.example.test, in flow style, one a line after "kinds:". */
static char *n_kinds(int n)
{
    struct rl_buf b;
    char *s;

    rl_buf_init(&b, 0);
    rl_buf_adds(&b, "kinds:\n");
    for (int i = 0; i < n; i++)
        rl_buf_addf(&b, "- {group: caps.example.test, version: v1, kind: K%d, plural: k%d}\n",
                    i, i);
    s = rl_xstrdup(b.buf);
    rl_buf_release(&b);
    return s;
}

Test(kindfile, at_most_32_kinds_and_64_KiB)
{
    char *text = n_kinds(RL_KIND_DECLARED_MAX), err[512] = "";
    char *big;

    must_parse(text);
    cr_assert(eq(int, rl_kind_count(), RL_KIND_MAX));
    free(text);
    text = n_kinds(RL_KIND_DECLARED_MAX + 1);
    cr_assert(eq(int, parse(text, err, sizeof(err)), RL_ECONFIG));
    cr_assert(eq(str, err, "--workload-kinds-file 'kinds.yaml', line 34: more than 32 kinds"));
    free(text);

    big = rl_xmalloc(RL_KINDFILE_MAX_BYTES + 2);
    memset(big, '#', RL_KINDFILE_MAX_BYTES + 1);
    big[RL_KINDFILE_MAX_BYTES + 1] = '\0';
    cr_assert(eq(int, parse(big, err, sizeof(err)), RL_ECONFIG));
    cr_assert(eq(str, err, "--workload-kinds-file 'kinds.yaml': larger than 65536 bytes"));
    free(big);
    cr_assert(eq(int, rl_kind_count(), RL_KIND_MAX));
}

Test(kindfile, load_reads_the_file)
{
    char path[] = "/tmp/kindfile-XXXXXX", err[512] = "";
    int fd = mkstemp(path);
    char *want;

    cr_assert(fd >= 0);
    cr_assert(eq(sz, (size_t)write(fd, good, strlen(good)), strlen(good)));
    close(fd);
    cr_assert(eq(int, rl_kindfile_load(path, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(int, rl_kind_count(), RL_KIND_COUNT + 2));
    unlink(path);
    cr_assert(eq(int, rl_kindfile_load(path, err, sizeof(err)), RL_ENOENT));
    want = rl_xasprintf("--workload-kinds-file '%s': cannot open: ", path);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
    free(want);
    cr_assert(eq(int, rl_kindfile_load("/tmp", err, sizeof(err)), RL_ECONFIG));
    cr_assert(eq(str, err, "--workload-kinds-file '/tmp': not a regular file"));
}

Test(kindfile, the_store_key_of_a_declared_kind_round_trips)
{
    enum rl_kind k;
    const char *ns, *name;
    size_t ns_len;
    char key[300];

    must_parse(good);
    rl_store_workload_key(key, sizeof(key), RL_KIND_COUNT, "shop", "web");
    cr_assert(eq(str, key, "services.serving.example.test/shop/web"));
    cr_assert(rl_store_parse_workload_key(key, &k, &ns, &ns_len, &name));
    cr_assert(eq(int, (int)k, RL_KIND_COUNT));
    cr_assert(eq(sz, ns_len, 4));
    cr_assert(eq(str, (char *)name, "web"));
}

/* The decoder and the markers find the pod template where the row says it is. */
Test(kindfile, a_declared_template_path_is_decoded_and_marked)
{
    static const char obj[] =
        "{\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\",\"annotations\":"
        "{\"reloader.stakater.com/auto\":\"true\"}},\"spec\":{\"workload\":{\"template\":"
        "{\"spec\":{\"containers\":[{\"name\":\"app\",\"envFrom\":[{\"configMapRef\":"
        "{\"name\":\"cfg\"}}]}]}}}}}";
    struct rl_policy *pol = test_policy(NULL);
    struct rl_workload_keys keys;
    struct rl_workload *w = NULL;
    struct rl_marker m = { RL_SOURCE_CONFIGMAP, "cfg", "0123456789abcdef0123456789abcdef01234567",
                           "app" };
    struct rl_rollout ro = { .strategy = RL_STRATEGY_ENV_VARS, .ns = "shop", .markers = &m,
                             .n_markers = 1, .now_s = 0 };
    cJSON *j = cJSON_Parse(obj);
    const cJSON *env;

    must_parse("kinds:\n- {group: x.example.test, version: v1, kind: Web, plural: webs, "
               "template: spec.workload.template}\n");
    rl_workload_keys_init(&keys, pol);
    cr_assert(eq(int, rl_workload_decode(j, RL_KIND_COUNT, &keys, &w), 0));
    cr_assert(eq(int, w->n_containers, 1));
    cr_assert(eq(int, w->n_envrefs, 1));
    cr_assert(eq(int, rl_marker_apply(j, RL_KIND_COUNT, &ro), 0));
    env = rl_json_path(j, "spec.workload.template.spec");
    env = cJSON_GetArrayItem(cJSON_GetObjectItem(env, "containers"), 0);
    env = cJSON_GetArrayItem(cJSON_GetObjectItem(env, "env"), 0);
    cr_assert(eq(str, (char *)rl_json_str(env, "name"), "STAKATER_CFG_CONFIGMAP"));
    /* A kind that is not declared (any more) decodes as nothing. */
    rl_workload_free(w);
    w = NULL;
    reset();
    cr_assert(eq(int, rl_workload_decode(j, RL_KIND_COUNT, &keys, &w), RL_EPARSE));
    cJSON_Delete(j);
    rl_policy_free(pol);
}

Test(kindfile, set_field_writes_the_time_at_the_field_with_the_record)
{
    struct rl_applied_entry rec = { RL_SOURCE_CONFIGMAP, "cfg",
                                    "0123456789abcdef0123456789abcdef01234567" };
    struct rl_rollout ro = { .record = &rec, .n_record = 1, .applied_key = "reloadd.io/applied",
                             .now_s = 1700000000 };
    struct rl_buf a, b;

    rl_buf_init(&a, 0);
    rl_buf_init(&b, 0);
    cr_assert(eq(int, rl_patch_set_field(&a, &ro, "spec.restartAt"), 0));
    cr_assert(eq(int, rl_patch_rollout_restart(&b, &ro), 0));
    cr_assert(eq(str, a.buf, b.buf));       /* Argo's body is this one at spec.restartAt */
    rl_buf_reset(&a);
    ro.applied_key = NULL;
    cr_assert(eq(int, rl_patch_set_field(&a, &ro, "spec.rollout.restartedAt"), 0));
    cr_assert(eq(str, a.buf, "{\"spec\": {\"rollout\": {\"restartedAt\": "
                             "\"2023-11-14T22:13:20Z\"}}}"));
    cr_assert(eq(int, rl_patch_set_field(&a, &ro, ""), RL_EINVAL));
    rl_buf_release(&a);
    rl_buf_release(&b);
}
