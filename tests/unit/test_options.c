#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include "testutil.h"
#include "reloadd/base/err.h"
#include "reloadd/base/syntax.h"
#include "reloadd/config/options.h"
#include "reloadd/config/policy.h"

#define MAXARGS 16

/* Parses a NULL-terminated argv (without argv[0]) against envp. */
static int parse(struct rl_options *o, char **envp, char *err, size_t errlen, ...)
{
    char *argv[MAXARGS] = { "reloadd" };
    int argc = 1;
    va_list ap;
    char *a;

    va_start(ap, errlen);
    while ((a = va_arg(ap, char *)) != NULL && argc < MAXARGS - 1)
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;
    return rl_options_parse(o, argc, argv, envp, err, errlen);
}

static char *noenv[] = { NULL };

#define OK(o, ...)                                                          \
    do {                                                                    \
        char e_[256];                                                       \
        int rc_ = parse((o), noenv, e_, sizeof(e_), __VA_ARGS__, NULL);     \
        cr_assert(eq(int, rc_, 0), "%s", e_);                               \
    } while (0)

static void expect_error(char **envp, const char *want, ...)
{
    struct rl_options o;
    char *argv[MAXARGS] = { "reloadd" };
    char err[256];
    int argc = 1;
    va_list ap;
    char *a;

    va_start(ap, want);
    while ((a = va_arg(ap, char *)) != NULL && argc < MAXARGS - 1)
        argv[argc++] = a;
    va_end(ap);
    cr_assert(eq(int, rl_options_parse(&o, argc, argv, envp, err, sizeof(err)), RL_EINVAL),
              "expected an error: %s", want);
    cr_assert(eq(str, err, (char *)want));
    cr_assert(strchr(err, '\n') == NULL);
    rl_options_release(&o);
}

Test(options, reloader_defaults)
{
    struct rl_options o;
    char err[128];

    cr_assert(eq(int, parse(&o, noenv, err, sizeof(err), NULL), 0));
    cr_assert(not(o.auto_reload_all));
    cr_assert(eq(str, o.configmap_annotation, "configmap.reloader.stakater.com/reload"));
    cr_assert(eq(str, o.secret_annotation, "secret.reloader.stakater.com/reload"));
    cr_assert(eq(str, o.auto_annotation, "reloader.stakater.com/auto"));
    cr_assert(eq(str, o.ignore_annotation, "reloader.stakater.com/ignore"));
    cr_assert(eq(str, o.configmap_auto_annotation, "configmap.reloader.stakater.com/auto"));
    cr_assert(eq(str, o.secret_auto_annotation, "secret.reloader.stakater.com/auto"));
    cr_assert(eq(str, o.auto_search_annotation, "reloader.stakater.com/search"));
    cr_assert(eq(str, o.search_match_annotation, "reloader.stakater.com/match"));
    cr_assert(eq(str, o.pause_deployment_annotation,
                 "deployment.reloader.stakater.com/pause-period"));
    cr_assert(eq(str, o.pause_deployment_time_annotation,
                 "deployment.reloader.stakater.com/paused-at"));
    cr_assert(eq(str, o.log_format, ""));
    cr_assert(eq(str, o.log_level, "info"));
    cr_assert(eq(str, o.webhook_url, ""));
    cr_assert(eq(sz, o.resources_to_ignore.n, 0));
    cr_assert(eq(sz, o.ignored_workload_types.n, 0));
    cr_assert(eq(sz, o.namespaces.n, 0));
    cr_assert(eq(sz, o.namespaces_to_ignore.n, 0));
    cr_assert(eq(sz, o.namespace_selector.n, 0));
    cr_assert(eq(sz, o.resource_label_selector.n, 0));
    cr_assert(eq(str, o.is_argo_rollouts, "false"));
    cr_assert(eq(str, o.reload_strategy, "env-vars"));
    cr_assert(eq(str, o.reload_on_create, "false"));
    cr_assert(eq(str, o.reload_on_delete, "false"));
    cr_assert(not(o.enable_ha));
    cr_assert(not(o.sync_after_restart));
    cr_assert(not(o.enable_pprof));
    cr_assert(eq(str, o.pprof_addr, ":6060"));
    cr_assert(not(o.enable_csi_integration));
    cr_assert(eq(int, o.strategy, RL_STRATEGY_ENV_VARS));
    cr_assert(not(o.argo_rollouts));
    cr_assert(not(o.reload_on_create_enabled));
    cr_assert(o.namespace_selector_str == NULL && o.resource_selector_str == NULL);
    rl_options_release(&o);
}

Test(options, reloadd_defaults)
{
    struct rl_options o;
    char err[128];

    cr_assert(eq(int, parse(&o, noenv, err, sizeof(err), NULL), 0));
    cr_assert(o.kubeconfig == NULL && o.context == NULL);
    cr_assert(eq(int, o.workers, 2));
    cr_assert(o.kube_api_qps == 20.0);
    cr_assert(eq(int, o.kube_api_burst, 40));
    cr_assert(eq(u64, o.coalesce_window_ms, 1000));
    cr_assert(eq(str, o.metrics_addr, ":9090"));
    cr_assert(eq(str, o.lease_name, "stakater-reloader-lock"));
    cr_assert(eq(u64, o.lease_duration_ms, 15000));
    cr_assert(eq(u64, o.renew_deadline_ms, 10000));
    cr_assert(eq(u64, o.retry_period_ms, 2000));
    cr_assert(not(o.dry_run));
    cr_assert(not(o.include_helm_secrets));
    cr_assert(eq(str, o.annotation_prefix, "reloadd.io"));
    cr_assert(eq(str, o.applied_annotation, "reloadd.io/applied"));
    rl_options_release(&o);
}

Test(options, flag_syntax)
{
    struct rl_options o;

    OK(&o, "--workers=4", "--kube-api-qps", "5.5", "--log-level", "debug", "--auto-reload-all",
       "--sync-after-restart=false", "--enable-ha=0", "--dry-run=T", "--coalesce-window=250ms",
       "--kubeconfig", "/k", "--context=kind");
    cr_assert(eq(int, o.workers, 4));
    cr_assert(o.kube_api_qps == 5.5);
    cr_assert(eq(str, o.log_level, "debug"));
    cr_assert(o.auto_reload_all);
    cr_assert(not(o.sync_after_restart));
    cr_assert(not(o.enable_ha));
    cr_assert(o.dry_run);
    cr_assert(eq(u64, o.coalesce_window_ms, 250));
    cr_assert(eq(str, o.kubeconfig, "/k"));
    cr_assert(eq(str, o.context, "kind"));
    rl_options_release(&o);
}

Test(options, string_typed_booleans_need_exactly_true)
{
    struct rl_options o;

    OK(&o, "--reload-on-create=true", "--reload-on-delete=True", "--is-Argo-Rollouts", "1");
    cr_assert(o.reload_on_create_enabled);
    cr_assert(not(o.reload_on_delete_enabled));
    cr_assert(eq(str, o.reload_on_delete, "True"));
    cr_assert(not(o.argo_rollouts));
    rl_options_release(&o);
    OK(&o, "--is-Argo-Rollouts=true");
    cr_assert(o.argo_rollouts);
    rl_options_release(&o);
    /* A string flag needs a value. */
    expect_error(noenv, "flag needs an argument: --reload-on-create", "--reload-on-create", NULL);
}

Test(options, bool_flag_does_not_take_a_separate_value)
{
    expect_error(noenv, "unexpected argument \"true\" (reloadd takes only flags)",
                 "--enable-ha", "true", NULL);
    expect_error(noenv, "invalid value \"yes\" for flag --auto-reload-all: not a boolean",
                 "--auto-reload-all=yes", NULL);
}

Test(options, string_slices_are_csv_repeatable_appending)
{
    struct rl_options o;

    OK(&o, "--namespaces=a,b", "--namespaces", "c", "--namespaces-to-ignore=\"x,y\",z",
       "--ignored-workload-types=", "--resource-label-selector=\"env in (a,b)\",tier=web");
    cr_assert(eq(sz, o.namespaces.n, 3));
    cr_assert(eq(str, o.namespaces.v[2], "c"));
    cr_assert(eq(sz, o.namespaces_to_ignore.n, 2));
    cr_assert(eq(str, o.namespaces_to_ignore.v[0], "x,y"));
    cr_assert(eq(sz, o.ignored_workload_types.n, 0));
    cr_assert(eq(str, o.resource_selector_str, "env in (a,b),tier=web"));
    rl_options_release(&o);
}

Test(options, csv_parsing)
{
    struct rl_strlist l = { 0 };

    cr_assert(eq(int, rl_strlist_add_csv(&l, "a,\"b,\"\"c\"\"\",,d"), 0));
    cr_assert(eq(sz, l.n, 4));
    cr_assert(eq(str, l.v[1], "b,\"c\""));
    cr_assert(eq(str, l.v[2], ""));
    cr_assert(eq(int, rl_strlist_add_csv(&l, "x\ny"), 0));     /* one record only */
    cr_assert(eq(sz, l.n, 5));
    cr_assert(eq(str, l.v[4], "x"));
    cr_assert(eq(int, rl_strlist_add_csv(&l, "a\"b"), RL_EINVAL));
    cr_assert(eq(int, rl_strlist_add_csv(&l, "\"ab"), RL_EINVAL));
    cr_assert(eq(int, rl_strlist_add_csv(&l, "\"a\"b"), RL_EINVAL));
    cr_assert(eq(sz, l.n, 5));                                  /* failures add nothing */
    rl_strlist_release(&l);
}

Test(options, environment_binding_flag_wins)
{
    char *envp[] = { "SYNC_AFTER_RESTART=true", "RELOADD_WORKERS=4",
                     "RELOADD_IS_ARGO_ROLLOUTS=true", "RELOADD_NAMESPACES=a,b",
                     "RELOADD_RELOAD_STRATEGY=annotations", "RELOADD_LOG_FORMAT=json",
                     "RELOADD_COALESCE_WINDOW=2s", "RELOADD_KUBECONFIG=/env/kube", "EMPTY=",
                     NULL };
    struct rl_options o;
    char err[256];

    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--workers=8", "--namespaces=c", NULL), 0),
              "%s", err);
    cr_assert(o.sync_after_restart);
    cr_assert(eq(int, o.workers, 8));
    cr_assert(o.argo_rollouts);
    cr_assert(eq(sz, o.namespaces.n, 1));       /* the flag replaces the variable's list */
    cr_assert(eq(str, o.namespaces.v[0], "c"));
    cr_assert(eq(int, o.strategy, RL_STRATEGY_ANNOTATIONS));
    cr_assert(eq(str, o.log_format, "json"));
    cr_assert(eq(u64, o.coalesce_window_ms, 2000));
    cr_assert(eq(str, o.kubeconfig, "/env/kube"));
    rl_options_release(&o);
    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), NULL), 0), "%s", err);
    cr_assert(eq(int, o.workers, 4));
    cr_assert(eq(sz, o.namespaces.n, 2));
    rl_options_release(&o);
}

/* Issue 15: generic names (NAMESPACES=foo scoped a run) act no more; the seed's alias stays. */
Test(options, only_prefixed_variables_and_the_seeds_alias_count)
{
    char *generic[] = { "NAMESPACES=foo", "DRY_RUN=true", "CONTEXT=other", "WORKERS=7",
                        "WEBHOOK_URL=http://x.invalid/", "IS_ARGO_ROLLOUTS=true",
                        "RELOAD_STRATEGY=annotations", NULL };
    char *both[] = { "SYNC_AFTER_RESTART=false", "RELOADD_SYNC_AFTER_RESTART=true", NULL };
    char *alias[] = { "SYNC_AFTER_RESTART=true", NULL };
    struct rl_options o;
    char err[256];

    cr_assert(eq(int, parse(&o, generic, err, sizeof(err), NULL), 0), "%s", err);
    cr_assert(eq(sz, o.namespaces.n, 0));
    cr_assert(not(o.dry_run));
    cr_assert(eq(ptr, o.context, NULL));
    cr_assert(eq(int, o.workers, 2));
    cr_assert(eq(str, o.webhook_url, ""));
    cr_assert(not(o.argo_rollouts));
    cr_assert(eq(int, o.strategy, RL_STRATEGY_ENV_VARS));
    for (int i = 0; i < RL_OPTIONS_MAX_FLAGS; i++)
        cr_assert(eq(u8, o.from[i], RL_FROM_DEFAULT), "flag %d not a default", i);
    rl_options_release(&o);

    cr_assert(eq(int, parse(&o, both, err, sizeof(err), NULL), 0), "%s", err);
    cr_assert(o.sync_after_restart, "RELOADD_SYNC_AFTER_RESTART wins over SYNC_AFTER_RESTART");
    rl_options_release(&o);
    cr_assert(eq(int, parse(&o, alias, err, sizeof(err), "--workers=3", NULL), 0), "%s", err);
    cr_assert(o.sync_after_restart);
    {
        int n_env = 0, n_flag = 0, n_alias = 0;

        for (int i = 0; i < RL_OPTIONS_MAX_FLAGS; i++) {
            n_env += o.from[i] == RL_FROM_ENV;
            n_flag += o.from[i] == RL_FROM_FLAG;
            n_alias += o.from_alias[i];
        }
        cr_assert(eq(int, n_env, 1));
        cr_assert(eq(int, n_flag, 1));
        cr_assert(eq(int, n_alias, 1));
    }
    rl_options_release(&o);
}

Test(options, environment_errors_name_the_variable)
{
    char *envp[] = { "RELOADD_WORKERS=lots", NULL };
    char *alias[] = { "SYNC_AFTER_RESTART=yes", NULL };

    expect_error(envp, "invalid value \"lots\" for environment variable RELOADD_WORKERS "
                       "(--workers): not an integer", NULL);
    expect_error(alias, "invalid value \"yes\" for environment variable SYNC_AFTER_RESTART "
                        "(--sync-after-restart): not a boolean", NULL);
}

Test(options, number_errors)
{
    expect_error(noenv, "invalid value \"abc\" for flag --workers: not an integer",
                 "--workers=abc", NULL);
    expect_error(noenv, "invalid value \"0\" for flag --workers: out of range [1, 256]",
                 "--workers", "0", NULL);
    expect_error(noenv, "invalid value \"1e9\" for flag --kube-api-burst: not an integer",
                 "--kube-api-burst=1e9", NULL);
    expect_error(noenv, "invalid value \"nan\" for flag --kube-api-qps: not a number",
                 "--kube-api-qps=nan", NULL);
    expect_error(noenv, "invalid value \"-1\" for flag --kube-api-qps: out of range (0, 100000]",
                 "--kube-api-qps=-1", NULL);
    expect_error(noenv, "invalid value \"10\" for flag --coalesce-window: "
                        "not a duration (e.g. 500ms, 10s, 1h30m)", "--coalesce-window=10", NULL);
    expect_error(noenv, "invalid value \"-1s\" for flag --coalesce-window: "
                        "out of range [0ms, 600000ms]", "--coalesce-window=-1s", NULL);
}

Test(options, unknown_and_malformed_flags)
{
    expect_error(noenv, "unknown flag: --is-argo-rollouts", "--is-argo-rollouts=true", NULL);
    expect_error(noenv, "unknown flag: --pprof", "--pprof", NULL);
    expect_error(noenv, "flag needs an argument: --workers", "--workers", NULL);
    expect_error(noenv, "unexpected argument \"-v\" (reloadd takes only flags)", "-v", NULL);
    expect_error(noenv, "invalid value \"\"a\" for flag --namespaces: "
                        "invalid CSV (a bare or unterminated quote)", "--namespaces=\"a", NULL);
}

Test(options, reload_strategy_validation)
{
    expect_error(noenv, "invalid value \"restart\" for flag --reload-strategy: "
                        "reload-strategy must be one of: env-vars, annotations",
                 "--reload-strategy=restart", NULL);
}

Test(options, resources_to_ignore_validation)
{
    struct rl_options o;

    OK(&o, "--resources-to-ignore=Secrets");
    cr_assert(o.ignore_secrets);
    cr_assert(not(o.ignore_configmaps));
    rl_options_release(&o);
    expect_error(noenv, "invalid value \"pods\" for flag --resources-to-ignore: "
                        "'resources-to-ignore' only accepts 'configmaps' or 'secrets', not 'pods'",
                 "--resources-to-ignore=pods", NULL);
    expect_error(noenv, "invalid value for flag --resources-to-ignore: 'resources-to-ignore' "
                        "only accepts 'configmaps' or 'secrets', not both",
                 "--resources-to-ignore=configmaps,secrets", NULL);
}

Test(options, ignored_workload_types)
{
    struct rl_options o;

    OK(&o, "--ignored-workload-types=jobs,cronjobs");
    cr_assert(o.ignore_jobs);
    cr_assert(o.ignore_cronjobs);
    cr_assert(not(o.ignored_workload_types_invalid));
    rl_options_release(&o);
    OK(&o, "--ignored-workload-types=jobs,CronJobs");     /* not fatal: list disregarded */
    cr_assert(o.ignored_workload_types_invalid);
    cr_assert(not(o.ignore_jobs));
    cr_assert(not(o.ignore_cronjobs));
    rl_options_release(&o);
}

Test(options, enable_ha_needs_pod_env)
{
    char *only_name[] = { "POD_NAME=p", NULL };
    char *both[] = { "POD_NAME=p", "POD_NAMESPACE=ns", NULL };
    struct rl_options o;
    char err[256];

    expect_error(noenv, "POD_NAME not set, cannot run in HA mode without POD_NAME set",
                 "--enable-ha", NULL);
    expect_error(only_name, "POD_NAMESPACE not set, cannot run in HA mode without "
                            "POD_NAMESPACE set", "--enable-ha", NULL);
    cr_assert(eq(int, parse(&o, both, err, sizeof(err), "--enable-ha", NULL), 0), "%s", err);
    cr_assert(eq(str, o.pod_name, "p"));
    cr_assert(eq(str, o.pod_namespace, "ns"));
    rl_options_release(&o);
}

Test(options, legacy_selector_conversion)
{
    struct rl_options o;

    OK(&o, "--namespace-selector=team:a,env:*", "--namespace-selector=tier=*",
       "--resource-label-selector=reloader:enabled");
    cr_assert(eq(str, o.namespace_selector_str, "team=a,env,tier"));
    cr_assert(eq(str, o.namespace_selector.v[1], "env"));    /* converted in place */
    cr_assert(eq(str, o.resource_selector_str, "reloader=enabled"));
    rl_options_release(&o);
    expect_error(noenv, "invalid value \"a=b=c\" for flag --namespace-selector: "
                        "unexpected token after key \"a\"", "--namespace-selector=a=b:c", NULL);
}

Test(options, namespace_selector_only_checked_in_global_mode)
{
    char *envp[] = { "KUBERNETES_NAMESPACE=one", NULL };
    struct rl_options o;
    char err[256];

    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--namespace-selector=!!", NULL), 0),
              "%s", err);
    cr_assert(o.namespace_selector_str == NULL);
    rl_options_release(&o);
}

Test(options, selector_validation)
{
    const char *ok[] = {
        "", "a", "!a", "a=b", "a==b", "a!=b", "a=", "a in (x,y)", "a notin (x)",
        "a in (x, y),b", "example.com/key=v_1.2-3", "a>5", "a < 3", " a = b , c ",
    };
    const char *bad[] = {
        "a=b=c", "a in ()", "a in (x", "a>b", "=b", "a b", "-a=b", "a=b-", "a,",
        "Example.com/a=b", "a=(b)", "!a=b", "a < -3",
    };
    char err[128];

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_assert(eq(int, rl_selector_validate(ok[i], err, sizeof(err)), 0), "%s: %s", ok[i], err);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(eq(int, rl_selector_validate(bad[i], err, sizeof(err)), RL_EINVAL), "%s", bad[i]);
}

Test(options, watch_modes)
{
    char *envp[] = { "KUBERNETES_NAMESPACE=single", NULL };
    struct rl_options o;
    struct rl_policy *p;
    char err[256];

    OK(&o, "--namespaces-to-ignore=kube-system");
    p = rl_policy_new(&o);
    rl_options_release(&o);             /* the policy owns its copies */
    cr_assert(eq(int, p->watch_mode, RL_WATCH_GLOBAL));
    cr_assert(eq(sz, p->n_namespaces, 1));
    cr_assert(eq(str, (char *)p->namespaces[0], ""));
    cr_assert(rl_policy_namespace_ignored(p, "kube-system"));
    cr_assert(not(rl_policy_namespace_watched(p, "kube-system")));
    cr_assert(not(rl_policy_namespace_ignored(p, "default")));
    cr_assert(rl_policy_namespace_watched(p, "default"));
    rl_policy_free(p);

    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--namespaces-to-ignore=single", NULL), 0));
    p = rl_policy_new(&o);
    cr_assert(eq(int, p->watch_mode, RL_WATCH_NAMESPACE));
    cr_assert(eq(str, (char *)p->namespaces[0], "single"));
    cr_assert(not(rl_policy_namespace_ignored(p, "single")));     /* global mode only */
    cr_assert(rl_policy_namespace_watched(p, "single"));
    cr_assert(not(rl_policy_namespace_watched(p, "other")));
    rl_policy_free(p);
    rl_options_release(&o);

    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--namespaces=a,b", NULL), 0));
    p = rl_policy_new(&o);
    cr_assert(eq(int, p->watch_mode, RL_WATCH_SCOPED));
    cr_assert(eq(sz, p->n_namespaces, 2));
    cr_assert(eq(str, (char *)p->namespaces[1], "b"));
    cr_assert(rl_policy_namespace_watched(p, "a"));
    cr_assert(not(rl_policy_namespace_watched(p, "single")));
    rl_policy_free(p);
    rl_options_release(&o);
}

/* What the domain reads: each decision settled once from the flags (policy.h). */
Test(options, policy_resolves_the_flags)
{
    char *envp[] = { NULL };
    struct rl_options o;
    struct rl_policy *p;
    char err[256];

    OK(&o, NULL);
    p = rl_policy_new(&o);
    cr_assert(eq(str, (char *)p->key.auto_all, "reloader.stakater.com/auto"));
    cr_assert(eq(str, (char *)p->key.applied, "reloadd.io/applied"));
    cr_assert(eq(str, (char *)p->key.restart_budget, "reloadd.io/restart-budget"));
    cr_assert(eq(str, (char *)p->secret_field_selector, "type!=helm.sh/release.v1"));
    cr_assert(zero(ptr, (void *)p->resource_selector));
    cr_assert(zero(ptr, (void *)p->namespace_selector));
    cr_assert(not(p->reload_on_create || p->reload_on_delete || p->webhook_mode || p->dry_run));
    cr_assert(eq(u32, p->restart_budget, 30));
    cr_assert(eq(i64, p->restart_budget_period_s, 600));
    cr_assert(eq(str, (char *)p->key.health_gate, "reloadd.io/health-gate"));
    cr_assert(not(p->health_gate));
    cr_assert(eq(u32, p->health_gate_batch, 1));
    cr_assert(eq(u64, p->health_gate_timeout_ms, 300000));
    rl_policy_free(p);
    rl_options_release(&o);

    /* The health gate (gate.h): on for all, its batch and timeout. */
    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--health-gate",
                            "--health-gate-batch=3", "--health-gate-timeout=20s",
                            "--annotation-prefix=acme.io", NULL), 0), "%s", err);
    p = rl_policy_new(&o);
    rl_options_release(&o);
    cr_assert(p->health_gate);
    cr_assert(eq(u32, p->health_gate_batch, 3));
    cr_assert(eq(u64, p->health_gate_timeout_ms, 20000));
    cr_assert(eq(str, (char *)p->key.health_gate, "acme.io/health-gate"));
    rl_policy_free(p);
    /* A batch of 0 would gate nothing: refused, as a timeout under a second. */
    expect_error(noenv, "invalid value \"0\" for flag --health-gate-batch: out of range "
                 "[1, 1000]", "--health-gate-batch=0", NULL);
    expect_error(noenv, "invalid value \"500ms\" for flag --health-gate-timeout: out of range "
                 "[1000ms, 8.64e+07ms]", "--health-gate-timeout=500ms", NULL);

    /* Reloader's string booleans: only exactly "true" enables (docs/reloader.md §15.15). */
    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--reload-on-create=True",
                            "--reload-on-delete=true", "--annotation-prefix=acme.io",
                            "--ignored-workload-types=jobs,cronjobs", "--include-helm-secrets",
                            "--webhook-url=http://127.0.0.1:1/", "--restart-budget=0",
                            "--resource-label-selector=team=a", "--namespace-selector=env:prod",
                            "--reload-strategy=annotations", NULL), 0), "%s", err);
    p = rl_policy_new(&o);
    rl_options_release(&o);
    cr_assert(not(p->reload_on_create));
    cr_assert(p->reload_on_delete);
    cr_assert(eq(str, (char *)p->key.applied, "acme.io/applied"));
    cr_assert(eq(str, (char *)p->key.restart_budget, "acme.io/restart-budget"));
    cr_assert(p->ignore_jobs && p->ignore_cronjobs);
    cr_assert(zero(ptr, (void *)p->secret_field_selector));
    cr_assert(p->webhook_mode);
    cr_assert(eq(u32, p->restart_budget, 0));
    cr_assert(eq(str, (char *)p->resource_selector, "team=a"));
    cr_assert(eq(str, (char *)p->namespace_selector, "env=prod"));
    cr_assert(eq(int, p->strategy, RL_STRATEGY_ANNOTATIONS));
    rl_policy_free(p);

    /* One bad entry disables --ignored-workload-types whole (docs/reloader.md §15.16). */
    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--ignored-workload-types=jobs,Pods",
                            NULL), 0), "%s", err);
    p = rl_policy_new(&o);
    rl_options_release(&o);
    cr_assert(not(p->ignore_jobs || p->ignore_cronjobs));
    rl_policy_free(p);
}

Test(options, section_1_2_environment)
{
    char *envp[] = { "RELOADER_NAMESPACE=rl", "RELOADER_DEPLOYMENT_NAME=dep",
                     "METRICS_COUNT_BY_NAMESPACE=enabled", "ALERT_ON_RELOAD=true",
                     "ALERT_WEBHOOK_URL=  https://hooks.example/x \n", "ALERT_SINK= Slack ",
                     "ALERT_WEBHOOK_PROXY=http://proxy:3128", "ALERT_ADDITIONAL_INFO=", NULL };
    struct rl_options o;
    char err[256];

    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), NULL), 0));
    cr_assert(eq(str, o.reloader_namespace, "rl"));
    cr_assert(eq(str, o.reloader_deployment_name, "dep"));
    cr_assert(o.metrics_count_by_namespace);
    cr_assert(o.alert_on_reload);
    cr_assert(eq(str, o.alert_webhook_url, "https://hooks.example/x"));
    cr_assert(eq(str, o.alert_sink, "slack"));
    cr_assert(eq(str, o.alert_webhook_proxy, "http://proxy:3128"));
    cr_assert(o.alert_additional_info != NULL);                 /* present, even empty */
    cr_assert(eq(str, o.alert_additional_info, ""));
    cr_assert(o.kubernetes_namespace == NULL);
    rl_options_release(&o);
}

Test(options, leader_election_timings)
{
    struct rl_options o;

    OK(&o, "--lease-duration=30s", "--renew-deadline=20s", "--retry-period=5s");
    cr_assert(eq(u64, o.lease_duration_ms, 30000));
    rl_options_release(&o);
    expect_error(noenv, "invalid value for flag --lease-duration: must be greater than "
                        "--renew-deadline (10000ms <= 10000ms)", "--lease-duration=10s", NULL);
    expect_error(noenv, "invalid value for flag --renew-deadline: must be greater than "
                        "1.2 x --retry-period (10000ms, 9000ms)", "--retry-period=9s", NULL);
}

Test(options, annotation_prefix)
{
    struct rl_options o;

    OK(&o, "--annotation-prefix=example.com");
    cr_assert(eq(str, o.applied_annotation, "example.com/applied"));
    rl_options_release(&o);
    expect_error(noenv, "invalid value \"a/b\" for flag --annotation-prefix: not a DNS subdomain",
                 "--annotation-prefix=a/b", NULL);
}

Test(options, help_and_version_win)
{
    struct rl_options o;
    char err[64];

    cr_assert(eq(int, parse(&o, noenv, err, sizeof(err), "--workers=bad", "-h", NULL),
                 RL_OPTIONS_HELP));
    rl_options_release(&o);
    cr_assert(eq(int, parse(&o, noenv, err, sizeof(err), "--help", NULL), RL_OPTIONS_HELP));
    rl_options_release(&o);
    cr_assert(eq(int, parse(&o, noenv, err, sizeof(err), "--version", NULL), RL_OPTIONS_VERSION));
    rl_options_release(&o);
}

Test(options, usage_lists_every_flag_with_default_and_env)
{
    const char *names[] = {
        "auto-reload-all", "configmap-annotation", "secret-annotation", "auto-annotation",
        "ignore-annotation", "configmap-auto-annotation", "secret-auto-annotation",
        "auto-search-annotation", "search-match-annotation", "pause-deployment-annotation",
        "pause-deployment-time-annotation", "log-format", "log-level", "webhook-url",
        "resources-to-ignore", "ignored-workload-types", "namespaces", "namespaces-to-ignore",
        "namespace-selector", "resource-label-selector", "is-Argo-Rollouts", "reload-strategy",
        "reload-on-create", "reload-on-delete", "enable-ha", "sync-after-restart",
        "enable-pprof", "pprof-addr", "enable-csi-integration",
    };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    rl_options_usage(f);
    fclose(f);
    cr_assert(eq(sz, sizeof(names) / sizeof(names[0]), 29));
    for (size_t i = 0; i < 29; i++) {
        char want[96];

        snprintf(want, sizeof(want), "--%s", names[i]);
        cr_assert(strstr(text, want) != NULL, "%s", names[i]);
    }
    cr_assert(strstr(text, "env RELOADD_IS_ARGO_ROLLOUTS)") != NULL);
    cr_assert(strstr(text, "env RELOADD_SYNC_AFTER_RESTART or SYNC_AFTER_RESTART)") != NULL);
    /* The inert flags say so (issue 15); the CSI flag works (issue 16). */
    cr_assert(strstr(text, "reload on Secrets Store CSI driver rotations") != NULL);
    cr_assert(strstr(text, "does nothing: reloadd has no pprof") != NULL);
    cr_assert(strstr(text, "default \"stakater-reloader-lock\"") != NULL);
    cr_assert(strstr(text, "--workers int") != NULL);
    free(text);
}

Test(options, log_config)
{
    struct rl_options o;
    enum rl_log_level lv;
    enum rl_log_format fmt;
    char err[128];

    OK(&o, "--log-format=json", "--log-level=DEBUG");
    cr_assert(eq(int, rl_options_log_config(&o, &lv, &fmt, err, sizeof(err)), 0));
    cr_assert(eq(int, lv, RL_LOG_DEBUG));
    cr_assert(eq(int, fmt, RL_LOG_JSON));
    rl_options_release(&o);
    /* Reloader quirk: an unknown format also skips the level. */
    OK(&o, "--log-format=xml", "--log-level=debug");
    cr_assert(eq(int, rl_options_log_config(&o, &lv, &fmt, err, sizeof(err)), RL_EINVAL));
    cr_assert(eq(int, lv, RL_LOG_INFO));
    cr_assert(eq(int, fmt, RL_LOG_TEXT));
    rl_options_release(&o);
    OK(&o, "--log-level=loud");
    cr_assert(eq(int, rl_options_log_config(&o, &lv, &fmt, err, sizeof(err)), RL_EINVAL));
    cr_assert(eq(int, lv, RL_LOG_INFO));
    rl_options_release(&o);
}

Test(options, go_durations)
{
    struct {
        const char *s;
        int64_t ns;
    } ok[] = {
        { "0", 0 }, { "+0", 0 }, { "-0", 0 }, { "5s", 5000000000LL }, { "1h30m", 5400000000000LL },
        { "500ms", 500000000 }, { "1.5s", 1500000000 }, { ".5s", 500000000 }, { "1.s", 1000000000 },
        { "-2s", -2000000000LL }, { "+5m", 300000000000LL }, { "1h2m3s4ms5us6ns", 3723004005006LL },
        { "3\xc2\xb5s", 3000 }, { "3\xce\xbcs", 3000 }, { "0.000000001s", 1 },
        { "2562047h47m16.854775807s", INT64_MAX }, { "-2562047h47m16.854775808s", INT64_MIN },
    };
    const char *bad[] = {
        "", "1", "s", "1x", "1.2.3s", "--1s", ".s", "1s2", "9999999999999999999h",
        "2562047h47m16.854775808s", "1 s", "-",
    };
    int64_t ns;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_assert(eq(int, rl_duration_parse(ok[i].s, &ns), 0), "%s", ok[i].s);
        cr_assert(eq(i64, ns, ok[i].ns), "%s", ok[i].s);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(eq(int, rl_duration_parse(bad[i], &ns), RL_EINVAL), "%s", bad[i]);
}

Test(options, cronjob_strategy_and_restart_budget)
{
    expect_error(noenv, "invalid value \"later\" for flag --cronjob-strategy: it must be one of: "
                 "run, template", "--cronjob-strategy=later", NULL);
    expect_error(noenv, "invalid value \"101\" for flag --restart-budget: out of range [0, 100]",
                 "--restart-budget=101", NULL);
}

static void log_start(void *o)
{
    rl_log_setup(RL_LOG_INFO, RL_LOG_TEXT);
    rl_options_log_start(o);
}

/* What rl_options_log_start() writes to stderr. */
static char *start_log(struct rl_options *o)
{
    char *text = test_capture_stderr(log_start, o);

    cr_assert(ne(ptr, text, NULL));
    return text;
}

/* Issue 15: every setting that is not a default, where it came from; the inert flags warn. */
Test(options, start_log_names_each_setting_and_its_origin)
{
    char *envp[] = { "RELOADD_WORKERS=4", "SYNC_AFTER_RESTART=true",
                     "ALERT_WEBHOOK_URL=https://hooks.invalid/services/T0/B0/hush", NULL };
    struct rl_options o;
    char err[256], *log;

    cr_assert(eq(int, parse(&o, envp, err, sizeof(err), "--dry-run", "--enable-pprof",
                            "--enable-csi-integration", "--coalesce-window=90s",
                            "--webhook-url=https://hook.invalid/path/hush?token=hush",
                            "--namespaces-to-ignore=kube-system", NULL), 0), "%s", err);
    log = start_log(&o);
    cr_assert(strstr(log, "msg=setting from=environment name=--workers value=4 "
                          "variable=RELOADD_WORKERS\n") != NULL, "%s", log);
    cr_assert(strstr(log, "msg=setting from=environment name=--sync-after-restart "
                          "value=true variable=SYNC_AFTER_RESTART\n") != NULL, "%s", log);
    cr_assert(strstr(log, "msg=setting from=flag name=--dry-run value=true\n") != NULL, "%s", log);
    cr_assert(strstr(log, "msg=setting from=flag name=--coalesce-window value=90s\n") != NULL,
              "%s", log);
    cr_assert(strstr(log, "msg=setting from=flag name=--webhook-url value=\"https://hook.invalid\"\n") != NULL,
              "%s", log);
    cr_assert(strstr(log, "msg=setting from=environment name=ALERT_WEBHOOK_URL "
                          "value=\"https://hooks.invalid\"\n") != NULL,
              "%s", log);
    cr_assert(strstr(log, "hush") == NULL, "a URL's credentials in the log: %s", log);
    cr_assert(strstr(log, "name=--reload-strategy") == NULL, "a default logged: %s", log);
    cr_assert(strstr(log, "KUBERNETES_NAMESPACE is unset, will detect changes in all "
                          "namespaces except: kube-system.") != NULL, "%s", log);
    cr_assert(strstr(log, "webhook-url is set, will only send webhook, no resources will be "
                          "reloaded") != NULL, "%s", log);
    cr_assert(strstr(log, "level=warning msg=\"dry-run is set") != NULL, "%s", log);
    cr_assert(strstr(log, "level=warning msg=\"--enable-pprof and --pprof-addr are accepted") != NULL, "%s", log);
    cr_assert(strstr(log, "msg=setting from=flag name=--enable-csi-integration value=true\n") != NULL,
              "%s", log);
    cr_assert(strstr(log, "--enable-csi-integration is accepted") == NULL, "%s", log);
    free(log);
    rl_options_release(&o);

    /* Nothing set: no setting line, no warning but Reloader's global-mode one. */
    OK(&o, "--namespaces=a,b");
    log = start_log(&o);
    cr_assert(strstr(log, "msg=setting from=flag name=--namespaces value=\"a,b\"") != NULL, "%s", log);
    cr_assert(strstr(log, "Watching scoped namespaces: a, b") != NULL, "%s", log);
    cr_assert(strstr(log, "level=warning") == NULL, "%s", log);
    free(log);
    rl_options_release(&o);
}
