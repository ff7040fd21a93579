/*
 * options.h - command-line flags and environment of reloadd
 *
 * Reloader's 29 flags (docs/reloader.md §1.1) with its names, types and
 * defaults, reloadd's own flags, and the environment variables of
 * docs/reloader.md §1.2, parsed into one struct rl_options. Parsing is
 * pure: argv and an environment array go in, a filled struct or one error
 * line comes out (no I/O, no exit).
 *
 * Syntax (pflag): "--flag=value" and "--flag value"; booleans take a bare
 * "--flag" or "--flag=<bool>" with Go's strconv.ParseBool spellings (1, t,
 * T, TRUE, true, True and their false twins), never a separate argument.
 * StringSlice flags are CSV records (commas split, double quotes protect
 * commas, "" is a quote), repeatable and appending; an empty value adds
 * nothing. "-h"/"--help" and "--version" are answered before validation.
 *
 * Environment: every flag is also read from RELOADD_ and its name (upper
 * case, '-' -> '_': RELOADD_RESOURCES_TO_IGNORE, RELOADD_IS_ARGO_ROLLOUTS);
 * --sync-after-restart also from SYNC_AFTER_RESTART (the seed's; the
 * RELOADD_ one wins). Reloader binds no flag to a variable, and the prefix
 * keeps generic names (NAMESPACES, DRY_RUN, CONTEXT) from acting unseen. A
 * flag given on the command line wins over its variable (a slice flag on
 * the command line replaces the variable's list, it does not append to
 * it). The same syntax applies to variable values. An empty variable
 * counts as unset. --help and --version have no variable. KUBECONFIG is
 * the kubeconfig loader's (kubeconfig.h), as for Reloader.
 * rl_options_log_start() logs every setting that is not a default with
 * where it came from, and the warnings Reloader logs at start.
 *
 * Parity quirks kept (docs/reloader.md §15.15-17): --reload-on-create,
 * --reload-on-delete and --is-Argo-Rollouts are strings, enabled only by
 * exactly "true" (the derived booleans below say so);
 * --ignored-workload-types is case-sensitive and one bad entry disables
 * the whole list (reported in ignored_workload_types_invalid, not an
 * error); an unknown --log-format also skips --log-level
 * (rl_options_log_config()).
 *
 * Validation (RL_EINVAL, one line naming the flag): reload-strategy must
 * be env-vars|annotations; resources-to-ignore takes one entry, configmaps
 * or secrets (any case); enable-ha needs POD_NAME and POD_NAMESPACE with
 * Reloader's messages; namespace/resource selectors go through the legacy
 * "k:v" / "k:*" / "k=*" conversion and must parse as label selectors;
 * durations parse as Go's time.ParseDuration; numbers are range-checked;
 * lease-duration > renew-deadline > 1.2 * retry-period (client-go).
 *
 * What the flags decide for the domain is resolved once into a struct
 * rl_policy (policy.h); only the wiring (src/app/), the meta-info and
 * the logs read the options themselves.
 *
 * Ownership: every string and list in the struct is owned by it and freed
 * by rl_options_release(). Threads: parse once in main; afterwards the
 * struct is read-only and may be read from any thread.
 */
#ifndef RL_OPTIONS_H
#define RL_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "reloadd/base/log.h"
#include "reloadd/config/policy.h"     /* enum rl_reload_strategy, rl_watch_mode */

/* Positive results of rl_options_parse(): the caller prints and exits 0. */
#define RL_OPTIONS_HELP     1
#define RL_OPTIONS_VERSION  2

#define RL_OPTIONS_MAX_FLAGS 64

/* Where a flag's value came from. */
enum rl_option_from {
    RL_FROM_DEFAULT,
    RL_FROM_ENV,
    RL_FROM_FLAG,
};

/* A list of owned strings. */
struct rl_strlist {
    char **v;
    size_t n;
};

struct rl_options {
    /* Reloader's flags (docs/reloader.md §1.1), raw as given. */
    bool auto_reload_all;
    char *configmap_annotation;
    char *secret_annotation;
    char *auto_annotation;
    char *ignore_annotation;
    char *configmap_auto_annotation;
    char *secret_auto_annotation;
    char *auto_search_annotation;
    char *search_match_annotation;
    char *pause_deployment_annotation;
    char *pause_deployment_time_annotation;
    char *log_format;                   /* "" or "json" */
    char *log_level;                    /* "info" */
    char *webhook_url;
    struct rl_strlist resources_to_ignore;
    struct rl_strlist ignored_workload_types;
    struct rl_strlist namespaces;
    struct rl_strlist namespaces_to_ignore;
    struct rl_strlist namespace_selector;       /* after legacy conversion */
    struct rl_strlist resource_label_selector;  /* after legacy conversion */
    char *is_argo_rollouts;             /* string flag, "false" */
    char *reload_strategy;              /* "env-vars" */
    char *reload_on_create;             /* string flag, "false" */
    char *reload_on_delete;             /* string flag, "false" */
    bool enable_ha;
    bool sync_after_restart;
    bool workload_state;            /* --workload-state */
    bool enable_pprof;
    char *pprof_addr;                   /* ":6060" */
    bool enable_csi_integration;

    /* reloadd's own flags. */
    char *kubeconfig;                   /* NULL: KUBECONFIG/$HOME/in-cluster */
    char *context;                      /* NULL: current-context */
    int workers;                        /* 2, 1..256 */
    double kube_api_qps;                /* 20, (0, 100000] */
    int kube_api_burst;                 /* 40, 1..100000 */
    uint64_t coalesce_window_ms;        /* 1s, 0..10m */
    int restart_budget;                 /* 30 rollouts of one workload per period; 0: off */
    char *cronjob_strategy;             /* "run" (a Job now, Reloader's) or "template" */
    bool cronjob_template;              /* ... is "template" */
    char *workload_kinds_file;          /* "": only the built-in kinds (reload/kindfile.h) */
    uint64_t restart_budget_period_ms;  /* 10m */
    int max_concurrent_rollouts;        /* 0: no cap */
    uint64_t rollout_timeout_ms;        /* 10m */
    char *rollout_window;               /* "" (always open); checked by main (window.h) */
    bool health_gate;                   /* false: only workloads that opt in are gated */
    int health_gate_batch;              /* 1, 1..1000 */
    uint64_t health_gate_timeout_ms;    /* 5m */
    uint64_t ready_progress_timeout_ms; /* 90s: /readyz needs a watch's progress this recent */
    char *metrics_addr;                 /* ":9090" */
    char *explain_addr;                 /* "127.0.0.1:9091"; "" (or "off" given): none */
    char *lease_name;                   /* "stakater-reloader-lock" */
    uint64_t lease_duration_ms;         /* 15s */
    uint64_t renew_deadline_ms;         /* 10s */
    uint64_t retry_period_ms;           /* 2s */
    bool dry_run;
    bool include_helm_secrets;
    char *annotation_prefix;            /* "reloadd.io" */

    /* Environment of docs/reloader.md §1.2 (NULL when unset). */
    char *kubernetes_namespace;
    char *pod_name;
    char *pod_namespace;
    char *reloader_namespace;
    char *reloader_deployment_name;
    bool metrics_count_by_namespace;    /* == "enabled" */
    bool alert_on_reload;               /* == "true" */
    char *alert_webhook_url;            /* whitespace-trimmed */
    char *alert_sink;                   /* trimmed, lower-cased */
    char *alert_webhook_proxy;
    char *alert_additional_info;        /* trimmed; NULL if absent */

    /* Derived by rl_options_parse(); read-only. */
    enum rl_reload_strategy strategy;
    bool argo_rollouts;                 /* is_argo_rollouts == "true" */
    bool reload_on_create_enabled;      /* reload_on_create == "true" */
    bool reload_on_delete_enabled;      /* reload_on_delete == "true" */
    bool ignore_configmaps;             /* resources-to-ignore */
    bool ignore_secrets;
    bool ignore_jobs;                   /* ignored-workload-types, if valid */
    bool ignore_cronjobs;
    bool ignored_workload_types_invalid;/* a bad entry: list disregarded */
    char *namespace_selector_str;       /* joined with ',', NULL if none */
    char *resource_selector_str;        /* joined with ',', NULL if none */
    enum rl_watch_mode watch_mode;
    struct rl_strlist watch_namespaces; /* {""} in global mode */
    char *applied_annotation;           /* "<annotation_prefix>/applied" */
    /* Per flag, in the order of --help: enum rl_option_from; read by the seed's alias. */
    uint8_t from[RL_OPTIONS_MAX_FLAGS];
    bool from_alias[RL_OPTIONS_MAX_FLAGS];
};

/*
 * Fills o from argv (argv[0] skipped) and envp (NULL: environ). Returns
 * 0, RL_OPTIONS_HELP, RL_OPTIONS_VERSION, or RL_EINVAL with one line in
 * err, e.g. `invalid value "abc" for flag --workers: not an integer`.
 * o must be released with rl_options_release() whatever the result.
 */
int rl_options_parse(struct rl_options *o, int argc, char **argv, char **envp,
                     char *err, size_t errlen);
void rl_options_release(struct rl_options *o);

/* Prints every flag with its default and environment variable. */
void rl_options_usage(FILE *out);

/*
 * At start, after rl_log_setup(): one line per setting that is not a
 * default ("setting" name=--flag value=... from=flag|environment, with the
 * variable), and Reloader's own variables that are set (URLs reduced
 * to their host: they carry credentials); then the warnings Reloader logs
 * (global mode, webhook mode), a warning for --dry-run, and one for each
 * accepted flag that does nothing (--enable-pprof, --pprof-addr).
 */
void rl_options_log_start(const struct rl_options *o);

/*
 * The log configuration as Reloader applies it: an unknown --log-format
 * returns RL_EINVAL (warn, keep defaults: level info, text) and does not
 * apply the level; an unknown level returns RL_EINVAL with level info.
 */
int rl_options_log_config(const struct rl_options *o, enum rl_log_level *level,
                          enum rl_log_format *format, char *err, size_t errlen);

/*
 * pflag's StringSlice syntax: appends the CSV record in s to l. RL_EINVAL
 * on a bare or unterminated quote.
 */
int rl_strlist_add_csv(struct rl_strlist *l, const char *s);
void rl_strlist_add(struct rl_strlist *l, const char *s);
bool rl_strlist_has(const struct rl_strlist *l, const char *s);
void rl_strlist_release(struct rl_strlist *l);

/*
 * Reloader's legacy selector conversion (GetNamespaceLabelSelector), in
 * place on each element, then joined with ','. Returns the joined string
 * (caller frees) or NULL if the list is empty.
 */
char *rl_selector_convert_legacy(struct rl_strlist *l);

/* Checks a label selector like apimachinery's labels.Parse(). */
int rl_selector_validate(const char *sel, char *err, size_t errlen);

#endif /* RL_OPTIONS_H */
