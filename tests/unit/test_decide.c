/*
 * The docs/reloader.md §2.4 decision table. Every quirk listed there has a
 * test named after it (quirk_*).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/syntax.h"
#include "reloadd/config/policy.h"
#include "testutil.h"
#include "reloadd/reload/decide.h"

static struct rl_regex_cache *cache;

static void setup(void)
{
    cache = rl_regex_cache_new(64);
}

static void teardown(void)
{
    rl_regex_cache_free(cache);
}

TestSuite(decide, .init = setup, .fini = teardown);

/* The policy of flags a1 and a2 (either may be NULL). */
static struct rl_policy *opts_with(const char *a1, const char *a2)
{
    return a1 ? test_policy(a1, a2, (char *)NULL) : test_policy(NULL);
}

/*
 * A workload of `kind` whose container "app" references ConfigMap "cfg"
 * (envFrom) and Secret "sec" (volume); meta and pod are the bodies of the
 * metadata and pod-template annotation objects.
 */
static struct rl_workload *wl(enum rl_kind kind, const char *meta, const char *pod,
                              const struct rl_policy *o)
{
    struct rl_workload_keys keys;
    struct rl_workload *w = NULL;
    char *json = rl_xasprintf(
        "{\"metadata\":{\"name\":\"w\",\"namespace\":\"n\",\"annotations\":{%s}},"
        "\"spec\":{\"jobTemplate\":{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{%s}},"
        "\"spec\":{\"containers\":[{\"name\":\"app\"}]}}}},"
        "\"template\":{\"metadata\":{\"annotations\":{%s}},\"spec\":{"
        "\"volumes\":[{\"name\":\"v\",\"secret\":{\"secretName\":\"sec\"}}],"
        "\"containers\":[{\"name\":\"app\",\"envFrom\":[{\"configMapRef\":{\"name\":\"cfg\"}}],"
        "\"volumeMounts\":[{\"name\":\"v\"}]}]}}}}",
        meta ? meta : "", pod ? pod : "", pod ? pod : "");
    cJSON *j = cJSON_Parse(json);

    cr_assert(j != NULL, "bad fixture %s", json);
    rl_workload_keys_init(&keys, o);
    cr_assert(eq(int, rl_workload_decode(j, kind, &keys, &w), 0));
    cJSON_Delete(j);
    free(json);
    return w;
}

struct src {
    enum rl_source_type type;
    const char *name;
    bool ignore, match;
};

/* Runs one row of the table and returns the decision. */
static struct rl_decision row(enum rl_kind kind, const char *meta, const char *pod,
                              struct src s, const char *flag1, const char *flag2)
{
    struct rl_policy *o;
    struct rl_workload *w;
    struct rl_source_desc d = { s.type, s.name, s.ignore, s.match };
    struct rl_decision out;

    o = opts_with(flag1, flag2);
    w = wl(kind, meta, pod, o);
    rl_decide(w, &d, o, cache, &out);
    rl_workload_free(w);
    rl_policy_free(o);
    cr_assert(out.reason[0] != '\0');
    return out;
}

#define CM(n)  ((struct src){ RL_SOURCE_CONFIGMAP, (n), false, false })
#define SEC(n) ((struct src){ RL_SOURCE_SECRET, (n), false, false })
#define D RL_KIND_DEPLOYMENT
#define AUTO_T "\"reloader.stakater.com/auto\":\"true\""
#define AUTO_F "\"reloader.stakater.com/auto\":\"false\""
#define CM_RELOAD(v) "\"configmap.reloader.stakater.com/reload\":\"" v "\""

/* ---- step 0: --ignored-workload-types ------------------------------------- */

Test(decide, step0_ignored_workload_types)
{
    struct rl_decision d;

    d = row(RL_KIND_JOB, AUTO_T, NULL, CM("cfg"), "--ignored-workload-types=jobs", NULL);
    cr_assert(not(d.reload));
    cr_assert(eq(int, d.rule, RL_RULE_WORKLOAD_TYPE_IGNORED));
    d = row(RL_KIND_CRONJOB, AUTO_T, NULL, CM("cfg"), "--ignored-workload-types=jobs,cronjobs", NULL);
    cr_assert(not(d.reload));
    d = row(RL_KIND_CRONJOB, AUTO_T, NULL, CM("cfg"), "--ignored-workload-types=jobs", NULL);
    cr_assert(d.reload);
    d = row(D, AUTO_T, NULL, CM("cfg"), "--ignored-workload-types=jobs,cronjobs", NULL);
    cr_assert(d.reload);
}

Test(decide, quirk_one_invalid_workload_type_disables_the_whole_list)
{
    /* Case-sensitive: "Jobs" is invalid, so "jobs" is not honoured either. */
    struct rl_decision d = row(RL_KIND_JOB, AUTO_T, NULL, CM("cfg"),
                               "--ignored-workload-types=jobs,Jobs", NULL);

    cr_assert(d.reload);
    cr_assert(eq(int, d.rule, RL_RULE_AUTO));
}

/* ---- step 1: ignore on the resource ---------------------------------------- */

Test(decide, quirk_ignore_is_read_on_the_resource_and_beats_everything)
{
    struct src s = { RL_SOURCE_CONFIGMAP, "cfg", true, false };
    struct rl_decision d = row(D, AUTO_T "," CM_RELOAD("cfg"), NULL, s, "--auto-reload-all", NULL);

    cr_assert(not(d.reload));
    cr_assert(eq(int, d.rule, RL_RULE_SOURCE_IGNORED));
    /* On the workload, the ignore key means nothing. */
    d = row(D, AUTO_T ",\"reloader.stakater.com/ignore\":\"true\"", NULL, CM("cfg"), NULL, NULL);
    cr_assert(d.reload);
}

Test(decide, quirk_ignore_and_match_compare_exactly_true)
{
    struct rl_policy *o;
    struct rl_source_desc sd;
    cJSON *ann = cJSON_Parse("{\"reloader.stakater.com/ignore\":\"True\","
                             "\"reloader.stakater.com/match\":\"1\"}");

    o = opts_with(NULL, NULL);
    rl_source_desc_init(&sd, RL_SOURCE_SECRET, "s", ann, o);
    cr_assert(not(sd.ignore));
    cr_assert(not(sd.match));
    cJSON_Delete(ann);
    ann = cJSON_Parse("{\"reloader.stakater.com/ignore\":\"true\","
                      "\"reloader.stakater.com/match\":\"true\"}");
    rl_source_desc_init(&sd, RL_SOURCE_SECRET, "s", ann, o);
    cr_assert(sd.ignore);
    cr_assert(sd.match);
    cJSON_Delete(ann);
    rl_policy_free(o);
}

/* ---- step 2: metadata, else pod template ----------------------------------- */

Test(decide, step2_pod_template_when_metadata_has_no_keys)
{
    struct rl_decision d = row(D, NULL, AUTO_T, CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(d.from_pod_template);
    cr_assert(d.auto_reload);
}

Test(decide, quirk_fallback_is_all_or_nothing_by_key_presence)
{
    /* Metadata auto "false" is present, so the template's "true" is not read. */
    struct rl_decision d = row(D, AUTO_F, AUTO_T, CM("cfg"), NULL, NULL);

    cr_assert(not(d.reload));
    cr_assert(not(d.from_pod_template));
    /* Presence, not value: an empty metadata search key still blocks the template. */
    d = row(D, "\"reloader.stakater.com/search\":\"\"", AUTO_T, CM("cfg"), NULL, NULL);
    cr_assert(not(d.reload));
}

Test(decide, quirk_fallback_is_per_resource_type)
{
    /* Metadata has only the Secret reload key: a ConfigMap change reads the template. */
    struct rl_decision d = row(D, "\"secret.reloader.stakater.com/reload\":\"sec\"",
                               CM_RELOAD("cfg"), CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(d.from_pod_template);
    cr_assert(eq(int, d.rule, RL_RULE_NAMED));
    /* ...while a Secret change reads the metadata. */
    d = row(D, "\"secret.reloader.stakater.com/reload\":\"sec\"", CM_RELOAD("cfg"), SEC("sec"),
            NULL, NULL);
    cr_assert(d.reload);
    cr_assert(not(d.from_pod_template));
}

Test(decide, step2_cronjob_pod_template_is_the_job_template)
{
    struct rl_decision d = row(RL_KIND_CRONJOB, NULL, AUTO_T, CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(d.from_pod_template);
}

/* ---- step 3: exclude -------------------------------------------------------- */

Test(decide, step3_exclude_list_trimmed_exact_names)
{
    struct rl_decision d = row(D, AUTO_T ",\"configmaps.exclude.reloader.stakater.com/reload\":"
                                  "\" other , cfg \"", NULL, CM("cfg"), NULL, NULL);

    cr_assert(not(d.reload));
    cr_assert(eq(int, d.rule, RL_RULE_EXCLUDED));
    /* Exact names, not regex. */
    d = row(D, AUTO_T ",\"configmaps.exclude.reloader.stakater.com/reload\":\"c.*\"", NULL,
            CM("cfg"), NULL, NULL);
    cr_assert(d.reload);
    /* Typed: a ConfigMap exclude does not exclude a Secret of that name. */
    d = row(D, AUTO_T ",\"configmaps.exclude.reloader.stakater.com/reload\":\"sec\"", NULL,
            SEC("sec"), NULL, NULL);
    cr_assert(d.reload);
}

Test(decide, quirk_exclude_beats_named_reload)
{
    struct rl_decision d = row(D, CM_RELOAD("cfg") ",\"configmaps.exclude.reloader.stakater.com"
                                  "/reload\":\"cfg\"", NULL, CM("cfg"), NULL, NULL);

    cr_assert(not(d.reload));
}

Test(decide, quirk_exclude_is_read_from_metadata_only)
{
    struct rl_decision d = row(D, NULL, AUTO_T ",\"configmaps.exclude.reloader.stakater.com"
                                        "/reload\":\"cfg\"", CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(d.from_pod_template);
}

/* ---- step 4: named reload with regex items --------------------------------- */

Test(decide, step4_named_exact_and_regex)
{
    struct rl_decision d = row(D, CM_RELOAD("cfg"), NULL, CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(not(d.auto_reload));
    cr_assert(eq(int, d.rule, RL_RULE_NAMED));
    d = row(D, CM_RELOAD("other, c.g"), NULL, CM("cfg"), NULL, NULL);
    cr_assert(d.reload);
    d = row(D, CM_RELOAD("(?i)CFG"), NULL, CM("cfg"), NULL, NULL);
    cr_assert(d.reload);
    d = row(D, CM_RELOAD("app-[0-9]+"), NULL, CM("app-42"), NULL, NULL);
    cr_assert(d.reload);
}

Test(decide, quirk_regex_items_are_anchored)
{
    struct rl_decision d = row(D, CM_RELOAD("cf"), NULL, CM("cfg"), NULL, NULL);

    cr_assert(not(d.reload));
    d = row(D, CM_RELOAD("fg"), NULL, CM("cfg"), NULL, NULL);
    cr_assert(not(d.reload));
}

Test(decide, quirk_alternation_is_anchored_only_at_the_ends_as_go)
{
    /* "^a|fg$": Go matches "cfg" through the second branch. */
    struct rl_decision d = row(D, CM_RELOAD("a|fg"), NULL, CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    d = row(D, CM_RELOAD("a|fg"), NULL, CM("abc"), NULL, NULL);
    cr_assert(d.reload);
    d = row(D, CM_RELOAD("(?:a|fg)"), NULL, CM("cfg"), NULL, NULL);
    cr_assert(not(d.reload));
}

Test(decide, quirk_regex_with_comma_is_split_and_broken)
{
    /* "c{1,3}fg" becomes "c{1" and "3}fg": neither matches "cfg". */
    struct rl_decision d = row(D, CM_RELOAD("c{1,3}fg"), NULL, CM("cfg"), NULL, NULL);

    cr_assert(not(d.reload));
}

Test(decide, quirk_empty_reload_value_matches_no_name)
{
    struct rl_decision d = row(D, CM_RELOAD(""), NULL, CM("cfg"), NULL, NULL);

    cr_assert(not(d.reload));
    cr_assert(not(d.regex_error));
}

Test(decide, quirk_invalid_item_is_skipped_others_still_match)
{
    struct rl_decision d = row(D, CM_RELOAD("a[, cfg"), NULL, CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(d.regex_error);
    cr_assert(strstr(d.reason, "a[") != NULL, "%s", d.reason);
    d = row(D, CM_RELOAD("a[") "," AUTO_T, NULL, CM("cfg"), NULL, NULL);
    cr_assert(d.reload);
    cr_assert(eq(int, d.rule, RL_RULE_AUTO));
    cr_assert(d.regex_error);
    cr_assert(strstr(d.reason, "invalid regex 'a['") != NULL, "%s", d.reason);
}

Test(decide, quirk_re2_syntax_only)
{
    const char *not_re2[] = {
        "(?=c)cfg", "(?!x)cfg", "(?<=c)fg", "(c)\\\\1", "(?>cfg)", "cf+?g+", "c*+fg",
        "(?x)cfg", "(?#c)cfg", "(*UTF)cfg", "c\\\\Kfg", "cfg\\\\Z", "c{2}{3}", "c{1001}",
        "(?R)",
    };
    char *meta;

    for (size_t i = 0; i < sizeof(not_re2) / sizeof(not_re2[0]); i++) {
        struct rl_decision d;

        meta = rl_xasprintf("\"configmap.reloader.stakater.com/reload\":\"%s\"", not_re2[i]);
        d = row(D, meta, NULL, CM("cfg"), NULL, NULL);
        free(meta);
        if (i == 5) {           /* "cf+?g+" is fine RE2 (lazy): it matches */
            cr_assert(d.reload, "%s", not_re2[i]);
            continue;
        }
        cr_assert(not(d.reload), "%s", not_re2[i]);
        cr_assert(d.regex_error, "%s", not_re2[i]);
    }
}

Test(decide, re2_syntax_that_is_accepted)
{
    const char *ok[] = {
        "(?P<n>cfg)", "(?i:CFG)", "[[:alpha:]]+", "\\\\w+", "c\\\\x66g", "\\\\Qcfg\\\\E",
        "c.{1}g", "(?s)c.g", "\\\\pLfg", "[^x]fg", "cfg\\\\z",
    };
    char *meta;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct rl_decision d;

        meta = rl_xasprintf("\"configmap.reloader.stakater.com/reload\":\"%s\"", ok[i]);
        d = row(D, meta, NULL, CM("cfg"), NULL, NULL);
        free(meta);
        cr_assert(d.reload, "%s: %s", ok[i], d.reason);
        cr_assert(not(d.regex_error), "%s", ok[i]);
    }
}

Test(decide, quirk_named_reload_beats_auto_false)
{
    struct rl_decision d = row(D, CM_RELOAD("cfg") "," AUTO_F, NULL, CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(eq(int, d.rule, RL_RULE_NAMED));
}

Test(decide, quirk_named_reload_needs_no_reference)
{
    struct rl_policy *o;
    struct rl_workload *w;
    struct rl_source_desc s = { RL_SOURCE_CONFIGMAP, "unreferenced", false, false };
    struct rl_decision d;

    o = opts_with(NULL, NULL);
    w = wl(D, CM_RELOAD("unreferenced"), NULL, o);
    rl_decide(w, &s, o, cache, &d);
    cr_assert(d.reload);
    cr_assert(not(d.auto_reload));
    cr_assert(eq(int, rl_workload_pick_container(w, s.type, s.name, d.auto_reload), 0));
    /* auto requires a reference: the same name under auto finds no container. */
    cr_assert(eq(int, rl_workload_pick_container(w, s.type, s.name, true), -1));
    rl_workload_free(w);
    rl_policy_free(o);
}

Test(decide, step4_renamed_annotation_flag)
{
    struct rl_decision d = row(D, "\"my.io/cm\":\"cfg\"", NULL, CM("cfg"),
                               "--configmap-annotation=my.io/cm", NULL);

    cr_assert(d.reload);
    d = row(D, CM_RELOAD("cfg"), NULL, CM("cfg"), "--configmap-annotation=my.io/cm", NULL);
    cr_assert(not(d.reload));
}

/* ---- step 5: search + match -------------------------------------------------- */

Test(decide, step5_search_and_match)
{
    struct src m = { RL_SOURCE_CONFIGMAP, "cfg", false, true };
    struct rl_decision d = row(D, "\"reloader.stakater.com/search\":\"true\"", NULL, m, NULL, NULL);

    cr_assert(d.reload);
    cr_assert(d.auto_reload);
    cr_assert(eq(int, d.rule, RL_RULE_SEARCH_MATCH));
    d = row(D, "\"reloader.stakater.com/search\":\"true\"", NULL, CM("cfg"), NULL, NULL);
    cr_assert(not(d.reload));
    /* Exactly "true". */
    d = row(D, "\"reloader.stakater.com/search\":\"True\"", NULL, m, NULL, NULL);
    cr_assert(not(d.reload));
    /* Search on the pod template also works (the code path exists). */
    d = row(D, NULL, "\"reloader.stakater.com/search\":\"true\"", m, NULL, NULL);
    cr_assert(d.reload);
}

Test(decide, quirk_auto_and_search_are_an_or)
{
    /* search "true" with a non-matching source still reloads through auto. */
    struct rl_decision d = row(D, "\"reloader.stakater.com/search\":\"true\"," AUTO_T, NULL,
                               CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    cr_assert(eq(int, d.rule, RL_RULE_AUTO));
}

/* ---- step 6: auto ---------------------------------------------------------- */

Test(decide, step6_auto_parse_bool)
{
    const char *yes[] = { "true", "1", "t", "T", "TRUE", "True" };
    const char *no[] = { "false", "0", "yes", "on", "tRUE", "" };

    for (size_t i = 0; i < 6; i++) {
        char *meta = rl_xasprintf("\"reloader.stakater.com/auto\":\"%s\"", yes[i]);
        struct rl_decision d = row(D, meta, NULL, CM("cfg"), NULL, NULL);

        cr_assert(d.reload, "%s", yes[i]);
        cr_assert(d.auto_reload);
        free(meta);
        meta = rl_xasprintf("\"reloader.stakater.com/auto\":\"%s\"", no[i]);
        d = row(D, meta, NULL, CM("cfg"), NULL, NULL);
        cr_assert(not(d.reload), "%s", no[i]);
        free(meta);
    }
}

Test(decide, step6_typed_auto_only_for_its_type)
{
    struct rl_decision d = row(D, "\"configmap.reloader.stakater.com/auto\":\"true\"", NULL,
                               CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
    d = row(D, "\"configmap.reloader.stakater.com/auto\":\"true\"", NULL, SEC("sec"), NULL, NULL);
    cr_assert(not(d.reload));
    d = row(D, "\"secret.reloader.stakater.com/auto\":\"true\"", NULL, SEC("sec"), NULL, NULL);
    cr_assert(d.reload);
}

Test(decide, quirk_typed_false_does_not_veto_generic_true)
{
    struct rl_decision d = row(D, AUTO_T ",\"configmap.reloader.stakater.com/auto\":\"false\"",
                               NULL, CM("cfg"), NULL, NULL);

    cr_assert(d.reload);
}

Test(decide, step6_auto_reload_all)
{
    struct rl_decision d = row(D, NULL, NULL, CM("cfg"), "--auto-reload-all", NULL);

    cr_assert(d.reload);
    cr_assert(d.auto_reload);
    cr_assert(eq(int, d.rule, RL_RULE_AUTO_RELOAD_ALL));
    d = row(D, NULL, NULL, CM("cfg"), NULL, NULL);
    cr_assert(not(d.reload));
    cr_assert(eq(int, d.rule, RL_RULE_NOT_ANNOTATED));
}

Test(decide, quirk_auto_reload_all_vetoed_by_any_non_empty_value)
{
    const char *vals[] = { "false", "no", "garbage", "0" };

    for (size_t i = 0; i < 4; i++) {
        char *meta = rl_xasprintf("\"reloader.stakater.com/auto\":\"%s\"", vals[i]);
        struct rl_decision d = row(D, meta, NULL, CM("cfg"), "--auto-reload-all", NULL);

        cr_assert(not(d.reload), "%s", vals[i]);
        free(meta);
    }
    /* An empty value does not veto. */
    {
        struct rl_decision d = row(D, "\"reloader.stakater.com/auto\":\"\"", NULL, CM("cfg"),
                                   "--auto-reload-all", NULL);

        cr_assert(d.reload);
    }
}

Test(decide, quirk_typed_false_vetoes_auto_reload_all_only_for_its_type)
{
    struct rl_decision d = row(D, "\"configmap.reloader.stakater.com/auto\":\"false\"", NULL,
                               CM("cfg"), "--auto-reload-all", NULL);

    cr_assert(not(d.reload));
    d = row(D, "\"configmap.reloader.stakater.com/auto\":\"false\"", NULL, SEC("sec"),
            "--auto-reload-all", NULL);
    cr_assert(d.reload);
}

/* ---- helpers for a reverse index ------------------------------------------ */

Test(decide, reload_list_and_list_matches)
{
    struct rl_policy *o;
    struct rl_workload *w;
    char err[128];

    o = opts_with(NULL, NULL);
    w = wl(D, "\"secret.reloader.stakater.com/reload\":\"db-.*\"", CM_RELOAD("a,b"), o);
    cr_assert(eq(str, (char *)rl_decide_reload_list(w, RL_SOURCE_SECRET, o), "db-.*"));
    cr_assert(eq(str, (char *)rl_decide_reload_list(w, RL_SOURCE_CONFIGMAP, o), "a,b"));
    cr_assert(eq(int, rl_decide_list_matches(cache, "db-.*", "db-main", err, sizeof(err)), 1));
    cr_assert(eq(int, rl_decide_list_matches(cache, "db-.*", "x-db-main", err, sizeof(err)), 0));
    cr_assert(eq(int, rl_decide_list_matches(cache, "(, x", "x", err, sizeof(err)), 1));
    cr_assert(eq(int, rl_decide_list_matches(cache, "(", "x", err, sizeof(err)), 0));
    cr_assert(strstr(err, "invalid regex '('") != NULL, "%s", err);
    rl_workload_free(w);
    rl_policy_free(o);
}

Test(decide, go_parse_bool)
{
    bool ok;

    cr_assert(rl_parse_bool_go("True", &ok) && ok);
    cr_assert(eq(int, rl_parse_bool_go("False", &ok), 0));
    cr_assert(ok);
    cr_assert(eq(int, rl_parse_bool_go("yes", &ok), 0));
    cr_assert(eq(int, ok, 0));
    cr_assert(eq(int, rl_parse_bool_go(NULL, &ok), 0));
    cr_assert(eq(int, ok, 0));
}

/* ---- the cache ---------------------------------------------------------------- */

Test(decide, cache_compiles_each_value_once_and_is_bounded)
{
    struct rl_regex_cache *small = rl_regex_cache_new(2);

    for (int i = 0; i < 10; i++)
        cr_assert(eq(int, rl_decide_list_matches(small, "a.*", "abc", NULL, 0), 1));
    cr_assert(eq(sz, rl_regex_cache_size(small), 1));
    cr_assert(eq(int, rl_decide_list_matches(small, "b", "b", NULL, 0), 1));
    cr_assert(eq(int, rl_decide_list_matches(small, "c", "c", NULL, 0), 1));
    cr_assert(eq(int, rl_decide_list_matches(small, "d", "d", NULL, 0), 1));
    cr_assert(eq(sz, rl_regex_cache_size(small), 2));
    rl_regex_cache_free(small);
}

Test(decide, match_limit_stops_catastrophic_backtracking)
{
    char name[80];
    char err[200];
    int rc;

    memset(name, 'a', 60);
    name[60] = '!';
    name[61] = '\0';
    rc = rl_decide_list_matches(cache, "(a|aa)+", name, err, sizeof(err));
    cr_assert(eq(int, rc, 0));
    cr_assert(strstr(err, "failed") != NULL, "%s", err);
}

/*
 * Issue 13 (found by tools/fuzz/fuzz_workload): a repeat count of eight
 * digits or more, "a{10000000}", looped forever in the RE2 grammar check
 * (past 100000 the digit was no longer consumed): one annotation hung the
 * worker deciding for it. It is an invalid repeat count, as in Go. ({n,m}
 * cannot occur: the list is split at every comma first, as Reloader does.)
 */
Test(decide, a_huge_repeat_count_is_refused_not_a_hang, .timeout = 10)
{
    static const char *const items[] = {
        "a{10000000}", "a{99999999999999999999}", "(?:ab){0000000080000000001}",
    };
    char err[256], *list;

    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
        list = rl_xasprintf("%s,b", items[i]);
        cr_assert(eq(int, rl_decide_list_matches(cache, list, "b", err, sizeof(err)), 1));
        cr_assert(ne(ptr, strstr(err, "invalid repeat count"), NULL), "%s: %s", items[i], err);
        cr_assert(eq(int, rl_decide_list_matches(cache, list, "a", err, sizeof(err)), 0));
        free(list);
    }
}

static double cpu_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/*
 * Issue 13 (found by tools/fuzz/fuzz_workload): 256 items that each spend
 * the whole match limit cost 256 times one item, ~0.4 s of CPU per source
 * name, spent on the informer thread under the store's lock for each such
 * workload at every change of a source of its namespace. The items of a
 * long list share ten items' limit: the list costs about ten items.
 */
Test(decide, a_long_list_of_backtracking_items_shares_one_match_budget)
{
    struct rl_regex_cache *c = rl_regex_cache_new(16);
    double one = 1e9, all = 1e9;
    char name[80], err[256];
    struct rl_buf v;

    memset(name, 'a', 60);
    strcpy(name + 60, "cb");
    rl_buf_init(&v, 0);
    for (int i = 0; i < RL_DECIDE_LIST_MAX_ITEMS; i++)
        rl_buf_addf(&v, "%s(a|a)*b", i ? "," : "");
    cr_assert(eq(int, rl_decide_list_matches(c, "(a|a)*b", "x", NULL, 0), 0));  /* compiled */
    cr_assert(eq(int, rl_decide_list_matches(c, v.buf, "x", NULL, 0), 0));
    for (int r = 0; r < 3; r++) {
        double t0 = cpu_ms();

        cr_assert(eq(int, rl_decide_list_matches(c, "(a|a)*b", name, NULL, 0), 0));
        one = fmin(one, cpu_ms() - t0);
        t0 = cpu_ms();
        cr_assert(eq(int, rl_decide_list_matches(c, v.buf, name, err, sizeof(err)), 0));
        all = fmin(all, cpu_ms() - t0);
    }
    cr_assert(ne(ptr, strstr(err, "failed"), NULL), "%s", err);
    cr_log_info("one item %.2f ms, %d items %.2f ms", one, RL_DECIDE_LIST_MAX_ITEMS, all);
    cr_assert(lt(dbl, all, 40 * one), "one item %.2f ms, %d items %.2f ms", one,
              RL_DECIDE_LIST_MAX_ITEMS, all);
    /* A short list keeps the whole limit per item. */
    cr_assert(eq(int, rl_decide_list_matches(c, "x,(a|aa)+,y", name, err, sizeof(err)), 0));
    cr_assert(ne(ptr, strstr(err, "failed"), NULL), "%s", err);
    rl_buf_release(&v);
    rl_regex_cache_free(c);
}

struct worker_arg {
    const struct rl_workload *w;
    const struct rl_policy *o;
    int hits;
};

static void *worker(void *p)
{
    struct worker_arg *a = p;
    char name[32];

    for (int i = 0; i < 500; i++) {
        struct rl_source_desc s = { RL_SOURCE_CONFIGMAP, name, false, false };
        struct rl_decision d;

        snprintf(name, sizeof(name), "app-%d", i % 50);
        rl_decide(a->w, &s, a->o, cache, &d);
        a->hits += d.reload;
    }
    return NULL;
}

Test(decide, shared_cache_from_many_threads)
{
    struct rl_policy *o;
    struct rl_workload *w;
    pthread_t t[4];
    struct worker_arg a[4];

    o = opts_with(NULL, NULL);
    w = wl(D, CM_RELOAD("app-[0-9], app-1[0-9]"), NULL, o);
    for (int i = 0; i < 4; i++) {
        a[i] = (struct worker_arg){ w, o, 0 };
        pthread_create(&t[i], NULL, worker, &a[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert(eq(int, a[i].hits, 200));     /* 20 of 50 names, 10 rounds */
    }
    cr_assert(eq(sz, rl_regex_cache_size(cache), 1));
    rl_workload_free(w);
    rl_policy_free(o);
}

/* Issue 13: a named-reload list written by a hostile namespace user. */
Test(decide, hostile_reload_lists_are_refused_and_the_cache_stays_bounded)
{
    struct rl_regex_cache *c = rl_regex_cache_new(4096);
    struct rl_buf v;
    char err[256];
    size_t entries = 0;

    /* Too many patterns, or too long: refused whole, matches nothing, says why. */
    rl_buf_init(&v, 0);
    for (int i = 0; i < RL_DECIDE_LIST_MAX_ITEMS + 1; i++)
        rl_buf_addf(&v, "%scm-%d", i ? "," : "", i);
    cr_assert(eq(int, rl_decide_list_matches(c, v.buf, "cm-1", err, sizeof(err)), 0));
    cr_assert(ne(ptr, strstr(err, "too large"), NULL), "%s", err);
    rl_buf_reset(&v);
    for (int i = 0; i < RL_DECIDE_LIST_MAX_BYTES / 8 + 1; i++)
        rl_buf_adds(&v, "cm-xxxxx");
    cr_assert(eq(int, rl_decide_list_matches(c, v.buf, "cm-xxxxx", err, sizeof(err)), 0));
    cr_assert(ne(ptr, strstr(err, "too large"), NULL), "%s", err);

    /* Lists within the caps but heavy to compile: the cache keeps its byte budget. */
    for (int n = 0; n < 400; n++) {
        rl_buf_reset(&v);
        for (int i = 0; i < 40; i++)
            rl_buf_addf(&v, "%s(?:ab){1000}%d-%d", i ? "," : "", n, i);
        rl_buf_adds(&v, ",target");
        cr_assert(eq(int, rl_decide_list_matches(c, v.buf, "target", err, sizeof(err)), 1),
                  "list %d: %s", n, err);
        if (rl_regex_cache_size(c) == entries)
            break;                      /* full: served without caching */
        entries = rl_regex_cache_size(c);
    }
    cr_log_info("%zu lists cached, %zu bytes", rl_regex_cache_size(c), rl_regex_cache_bytes(c));
    cr_assert(lt(sz, rl_regex_cache_size(c), (size_t)400), "the cache never stopped growing");
    cr_assert(le(sz, rl_regex_cache_bytes(c), RL_REGEX_CACHE_MAX_BYTES));
    rl_buf_release(&v);
    rl_regex_cache_free(c);
}
