/*
 * test_kind.c - the kind table and the one policy of which kinds are watched
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "reloadd/config/policy.h"
#include "testutil.h"
#include "reloadd/reload/kind.h"

Test(kind, every_name_kubectl_takes_parses)
{
    static const struct {
        const char *s;
        enum rl_kind k;
    } ok[] = {
        { "Deployment", RL_KIND_DEPLOYMENT }, { "deployments", RL_KIND_DEPLOYMENT },
        { "deploy", RL_KIND_DEPLOYMENT },     { "DAEMONSET", RL_KIND_DAEMONSET },
        { "ds", RL_KIND_DAEMONSET },          { "sts", RL_KIND_STATEFULSET },
        { "statefulsets", RL_KIND_STATEFULSET }, { "cj", RL_KIND_CRONJOB },
        { "CronJobs", RL_KIND_CRONJOB },      { "job", RL_KIND_JOB },
        { "Jobs", RL_KIND_JOB },              { "ro", RL_KIND_ROLLOUT },
        { "rollout", RL_KIND_ROLLOUT },
    };
    enum rl_kind k;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert(rl_kind_parse(ok[i].s, &k), "'%s' does not parse", ok[i].s);
        cr_assert(eq(int, (int)k, (int)ok[i].k), "'%s'", ok[i].s);
    }
    cr_assert(not(rl_kind_parse("Pod", &k)));
    cr_assert(not(rl_kind_parse("", &k)));
    cr_assert(not(rl_kind_parse(NULL, &k)));
    cr_assert(not(rl_kind_parse("deploymentss", &k)));
}

Test(kind, every_row_is_complete_and_names_are_unique)
{
    for (int a = 0; a < RL_KIND_COUNT; a++) {
        const struct rl_kind_info *i = rl_kind_info(a);
        enum rl_kind k;

        cr_assert(i->name && i->key && i->plural && i->api_version && i->api_prefix &&
                  i->template_path, "row %d", a);
        cr_assert(eq(str, (char *)i->key, (char *)rl_kind_key(a)));
        cr_assert(strstr(i->api_prefix, i->api_version) != NULL, "%s", i->name);
        /* Each of its names parses back to it: no two rows share a name. */
        cr_assert(rl_kind_parse(i->key, &k) && k == (enum rl_kind)a, "%s", i->key);
        cr_assert(rl_kind_parse(i->plural, &k) && k == (enum rl_kind)a, "%s", i->plural);
        if (i->short_name)
            cr_assert(rl_kind_parse(i->short_name, &k) && k == (enum rl_kind)a);
    }
    cr_assert(eq(str, (char *)rl_kind_name(RL_KIND_COUNT), "Unknown"));
}

Test(kind, object_paths)
{
    char *p = rl_kind_object_path(RL_KIND_CRONJOB, "ns", "nightly");

    cr_assert(eq(str, p, "/apis/batch/v1/namespaces/ns/cronjobs/nightly"));
    free(p);
    p = rl_kind_object_path(RL_KIND_ROLLOUT, "a", "b");
    cr_assert(eq(str, p, "/apis/argoproj.io/v1alpha1/namespaces/a/rollouts/b"));
    free(p);
}

Test(kind, which_kinds_the_options_watch)
{
    static const struct {
        const char *flag;
        bool want[RL_KIND_COUNT];       /* deploy ds sts cj job rollout */
    } cases[] = {
        { NULL, { true, true, true, true, true, false } },
        { "--is-Argo-Rollouts=true", { true, true, true, true, true, true } },
        { "--ignored-workload-types=cronjobs", { true, true, true, false, true, false } },
        { "--ignored-workload-types=jobs", { true, true, true, true, false, false } },
        { "--webhook-url=http://127.0.0.1:1/x", { false, false, false, false, false, false } },
    };

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct rl_policy *p = test_policy(cases[c].flag, (char *)NULL);

        for (int k = 0; k < RL_KIND_COUNT; k++)
            cr_assert(eq(int, rl_kind_enabled(p, k), cases[c].want[k]), "%s: %s",
                      cases[c].flag ? cases[c].flag : "(defaults)", rl_kind_name(k));
        rl_policy_free(p);
    }
}
