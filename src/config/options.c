/* options.c - command-line flags and environment of reloadd */
#include "reloadd/config/options.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bsd/string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/redact.h"
#include "reloadd/base/syntax.h"
#include "reloadd/base/banned.h"

extern char **environ;

#define ENV_PREFIX "RELOADD_"

enum ftype {
    F_BOOL,
    F_STR,
    F_SLICE,
    F_INT,
    F_DOUBLE,
    F_DURATION,
};

struct flag {
    const char *name;                   /* without "--" */
    const char *alias;                  /* a variable read too (RELOADD_<NAME> wins); NULL */
    enum ftype type;
    size_t off;
    const char *def;                    /* NULL: empty / false / none */
    double min, max;                    /* F_INT, F_DOUBLE; F_DURATION in ms */
    const char *help;
};

#define OFF(field) offsetof(struct rl_options, field)

static const struct flag flags[] = {
    /* Reloader's 29 (docs/reloader.md §1.1). */
    { "auto-reload-all", NULL, F_BOOL, OFF(auto_reload_all), "false", 0, 0,
      "reload every workload that has no auto annotation value" },
    { "configmap-annotation", NULL, F_STR, OFF(configmap_annotation),
      "configmap.reloader.stakater.com/reload", 0, 0, "ConfigMap named-reload annotation" },
    { "secret-annotation", NULL, F_STR, OFF(secret_annotation),
      "secret.reloader.stakater.com/reload", 0, 0, "Secret named-reload annotation" },
    { "auto-annotation", NULL, F_STR, OFF(auto_annotation),
      "reloader.stakater.com/auto", 0, 0, "generic auto annotation" },
    { "ignore-annotation", NULL, F_STR, OFF(ignore_annotation),
      "reloader.stakater.com/ignore", 0, 0, "ignore annotation on ConfigMaps/Secrets" },
    { "configmap-auto-annotation", NULL, F_STR, OFF(configmap_auto_annotation),
      "configmap.reloader.stakater.com/auto", 0, 0, "ConfigMap auto annotation" },
    { "secret-auto-annotation", NULL, F_STR, OFF(secret_auto_annotation),
      "secret.reloader.stakater.com/auto", 0, 0, "Secret auto annotation" },
    { "auto-search-annotation", NULL, F_STR, OFF(auto_search_annotation),
      "reloader.stakater.com/search", 0, 0, "search annotation on workloads" },
    { "search-match-annotation", NULL, F_STR, OFF(search_match_annotation),
      "reloader.stakater.com/match", 0, 0, "match annotation on ConfigMaps/Secrets" },
    { "pause-deployment-annotation", NULL, F_STR, OFF(pause_deployment_annotation),
      "deployment.reloader.stakater.com/pause-period", 0, 0, "pause-period annotation" },
    { "pause-deployment-time-annotation", NULL, F_STR, OFF(pause_deployment_time_annotation),
      "deployment.reloader.stakater.com/paused-at", 0, 0, "paused-at annotation" },
    { "log-format", NULL, F_STR, OFF(log_format), "", 0, 0, "log format: \"\" (text) or json" },
    { "log-level", NULL, F_STR, OFF(log_level), "info", 0, 0,
      "log level: trace, debug, info, warn, error, fatal, panic" },
    { "webhook-url", NULL, F_STR, OFF(webhook_url), "", 0, 0,
      "only POST to this URL on changes, reload nothing" },
    { "resources-to-ignore", NULL, F_SLICE, OFF(resources_to_ignore), NULL, 0, 0,
      "configmaps or secrets: do not watch that kind" },
    { "ignored-workload-types", NULL, F_SLICE, OFF(ignored_workload_types), NULL, 0, 0,
      "jobs and/or cronjobs: do not reload those kinds" },
    { "namespaces", NULL, F_SLICE, OFF(namespaces), NULL, 0, 0,
      "watch only these namespaces" },
    { "namespaces-to-ignore", NULL, F_SLICE, OFF(namespaces_to_ignore), NULL, 0, 0,
      "ignore these namespaces (global mode)" },
    { "namespace-selector", NULL, F_SLICE, OFF(namespace_selector), NULL, 0, 0,
      "label selector on namespaces (global mode)" },
    { "resource-label-selector", NULL, F_SLICE, OFF(resource_label_selector), NULL, 0, 0,
      "label selector on ConfigMaps/Secrets" },
    { "is-Argo-Rollouts", NULL, F_STR, OFF(is_argo_rollouts), "false", 0, 0,
      "\"true\" to reload Argo Rollouts" },
    { "reload-strategy", NULL, F_STR, OFF(reload_strategy), "env-vars", 0, 0,
      "env-vars or annotations" },
    { "reload-on-create", NULL, F_STR, OFF(reload_on_create), "false", 0, 0,
      "\"true\" to reload when a source is created" },
    { "reload-on-delete", NULL, F_STR, OFF(reload_on_delete), "false", 0, 0,
      "\"true\" to reload when a source is deleted" },
    { "enable-ha", NULL, F_BOOL, OFF(enable_ha), "false", 0, 0,
      "leader election (needs POD_NAME, POD_NAMESPACE)" },
    { "sync-after-restart", "SYNC_AFTER_RESTART", F_BOOL, OFF(sync_after_restart), "false", 0, 0,
      "reconcile every workload at start" },
    { "enable-pprof", NULL, F_BOOL, OFF(enable_pprof), "false", 0, 0,
      "accepted for compatibility, does nothing: reloadd has no pprof (a warning at start)" },
    { "pprof-addr", NULL, F_STR, OFF(pprof_addr), ":6060", 0, 0,
      "accepted for compatibility, does nothing (a warning at start)" },
    { "enable-csi-integration", NULL, F_BOOL, OFF(enable_csi_integration), "false", 0, 0,
      "reload on Secrets Store CSI driver rotations (SecretProviderClassPodStatus objects); "
      "watched once the secrets-store.csi.x-k8s.io/v1 API is served, also if it appears later" },

    /* reloadd's own. */
    { "kubeconfig", NULL, F_STR, OFF(kubeconfig), NULL, 0, 0,
      "kubeconfig file (default: $HOME/.kube/config, else in-cluster)" },
    { "context", NULL, F_STR, OFF(context), NULL, 0, 0, "kubeconfig context" },
    { "workers", NULL, F_INT, OFF(workers), "2", 1, 256, "reconcile worker threads" },
    { "kube-api-qps", NULL, F_DOUBLE, OFF(kube_api_qps), "20", 0.001, 100000,
      "API requests per second" },
    { "kube-api-burst", NULL, F_INT, OFF(kube_api_burst), "40", 1, 100000, "API request burst" },
    { "workload-state", NULL, F_BOOL, OFF(workload_state), "true", 0, 0,
      "keep the records of workloads that never rolled in ConfigMaps reloadd-state-NN of "
      "POD_NAMESPACE instead of on the workloads (false, or no POD_NAMESPACE: on the workloads, "
      "one write each on a first install)" },
    { "coalesce-window", NULL, F_DURATION, OFF(coalesce_window_ms), "1s", 0, 600000,
      "hold a workload this long to batch changes" },
    { "restart-budget", NULL, F_INT, OFF(restart_budget), "30", 0, 100,
      "at most this many rollouts of one workload per --restart-budget-period, then hold "
      "(0: no budget; annotation <prefix>/restart-budget: N or N/<duration> or off)" },
    { "restart-budget-period", NULL, F_DURATION, OFF(restart_budget_period_ms), "10m", 1000,
      86400000, "the period of --restart-budget" },
    { "cronjob-strategy", NULL, F_STR, OFF(cronjob_strategy), "run", 0, 0,
      "a CronJob whose source changed: run (start a Job now, as Reloader) or template (update "
      "its job template for the next scheduled run: no off-schedule Job, suspended stays idle)" },
    { "max-concurrent-rollouts", NULL, F_INT, OFF(max_concurrent_rollouts), "0", 0, 100000,
      "at most this many workloads in a rollout at once, cluster-wide; the others wait in order "
      "of arrival (0: no cap)" },
    { "rollout-timeout", NULL, F_DURATION, OFF(rollout_timeout_ms), "10m", 1000, 86400000,
      "a rollout counts against --max-concurrent-rollouts until the workload is available, or "
      "this long" },
    { "workload-kinds-file", NULL, F_STR, OFF(workload_kinds_file), "", 0, 0,
      "YAML file declaring more workload kinds (CRDs: group, version, kind, plural, template, "
      "rollout); a bad declaration refuses to start" },
    { "rollout-window", NULL, F_STR, OFF(rollout_window), "", 0, 0,
      "roll workloads only inside this maintenance window, \"<cron>; <duration>[; <zone>]\" "
      "(docs/windows.md); outside it a change is pending and rolls once when it opens (\"\": "
      "always open; annotation <prefix>/rollout-window: a window, or always)" },
    { "health-gate", NULL, F_BOOL, OFF(health_gate), "false", 0, 0,
      "health-gated propagation for every workload: a new version of a source rolls a first "
      "batch of its workloads, the others only once the batch is available; a batch that fails "
      "or times out holds that version (annotation <prefix>/health-gate: true or false)" },
    { "health-gate-batch", NULL, F_INT, OFF(health_gate_batch), "1", 1, 1000,
      "workloads in the first batch of each source version (--health-gate)" },
    { "health-gate-timeout", NULL, F_DURATION, OFF(health_gate_timeout_ms), "5m", 1000,
      86400000, "a batch member not available this long after its rollout holds the version" },
    { "metrics-addr", NULL, F_STR, OFF(metrics_addr), ":9090", 0, 0,
      "address of /metrics, /live, /readyz" },
    { "explain-addr", NULL, F_STR, OFF(explain_addr), "127.0.0.1:9091", 0, 0,
      "address of /explain, loopback by default; \"\" or off: no /explain" },
    { "lease-name", NULL, F_STR, OFF(lease_name), "stakater-reloader-lock", 0, 0,
      "leader election Lease name" },
    { "lease-duration", NULL, F_DURATION, OFF(lease_duration_ms), "15s", 1000, 3600000,
      "leader election lease duration" },
    { "renew-deadline", NULL, F_DURATION, OFF(renew_deadline_ms), "10s", 500, 3600000,
      "leader election renew deadline" },
    { "retry-period", NULL, F_DURATION, OFF(retry_period_ms), "2s", 100, 600000,
      "leader election retry period" },
    { "ready-progress-timeout", NULL, F_DURATION, OFF(ready_progress_timeout_ms), "90s", 5000,
      3600000, "not ready when a watch made no progress this long (bookmarks come each minute)" },
    { "dry-run", NULL, F_BOOL, OFF(dry_run), "false", 0, 0, "decide and log, write nothing" },
    { "include-helm-secrets", NULL, F_BOOL, OFF(include_helm_secrets), "false", 0, 0,
      "also watch helm.sh/release.v1 Secrets" },
    { "annotation-prefix", NULL, F_STR, OFF(annotation_prefix), "reloadd.io", 0, 0,
      "prefix of reloadd's own annotations" },
};

#define NFLAGS (sizeof(flags) / sizeof(flags[0]))
_Static_assert(NFLAGS <= RL_OPTIONS_MAX_FLAGS, "raise RL_OPTIONS_MAX_FLAGS");

/* ---- small helpers ------------------------------------------------------ */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || !errlen)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* RELOADD_ and the flag's name in upper case, '-' -> '_'. */
static void env_name(const struct flag *f, char *out, size_t len)
{
    size_t i, p = strlcpy(out, ENV_PREFIX, len);

    for (i = 0; f->name[i] && p + i + 1 < len; i++)
        out[p + i] = f->name[i] == '-' ? '_' : (char)toupper((unsigned char)f->name[i]);
    out[p + i] = '\0';
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);

    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
            return *e + n + 1;
    }
    return NULL;
}

static void set_owned(char **slot, const char *v)
{
    free(*slot);
    *slot = v ? rl_xstrdup(v) : NULL;
}

static char *trimmed_dup(const char *s)
{
    size_t len;

    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return rl_xstrndup(s, len);
}

/* ---- string lists ------------------------------------------------------- */

void rl_strlist_add(struct rl_strlist *l, const char *s)
{
    l->v = rl_xreallocarray(l->v, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = rl_xstrdup(s);
}

bool rl_strlist_has(const struct rl_strlist *l, const char *s)
{
    for (size_t i = 0; s && i < l->n; i++) {
        if (strcmp(l->v[i], s) == 0)
            return true;
    }
    return false;
}

void rl_strlist_release(struct rl_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/*
 * One record of Go's encoding/csv (pflag's readAsCSV): fields split on ',',
 * a field starting with '"' is quoted ("" is a quote, commas and newlines
 * inside are kept), a quote elsewhere is an error, the record ends at the
 * first newline outside quotes.
 */
int rl_strlist_add_csv(struct rl_strlist *l, const char *s)
{
    struct rl_strlist tmp = { 0 };
    struct rl_buf field;
    const char *p = s;
    int err = RL_EINVAL;

    rl_buf_init(&field, 0);
    if (!*s)
        return 0;                       /* pflag: "" adds nothing */
    for (;;) {
        rl_buf_reset(&field);
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p)
                    goto out;           /* extraneous or missing " */
                if (*p == '"') {
                    if (p[1] == '"') {
                        rl_buf_addc(&field, '"');
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                rl_buf_addc(&field, *p++);
            }
            if (*p && *p != ',' && *p != '\n' && !(*p == '\r' && p[1] == '\n'))
                goto out;
        } else {
            while (*p && *p != ',' && *p != '\n' && !(*p == '\r' && p[1] == '\n')) {
                if (*p == '"')
                    goto out;           /* bare " in non-quoted field */
                rl_buf_addc(&field, *p++);
            }
        }
        rl_strlist_add(&tmp, field.buf);
        if (*p != ',')
            break;
        p++;
    }
    for (size_t i = 0; i < tmp.n; i++) {
        l->v = rl_xreallocarray(l->v, l->n + 1, sizeof(*l->v));
        l->v[l->n++] = tmp.v[i];
        tmp.v[i] = NULL;
    }
    tmp.n = 0;
    err = 0;
out:
    rl_strlist_release(&tmp);
    rl_buf_release(&field);
    return err;
}

/* ---- label selectors ------------------------------------------------------ */

char *rl_selector_convert_legacy(struct rl_strlist *l)
{
    struct rl_buf joined;

    if (!l->n)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        char *kv = rl_xstrdup(l->v[i]);     /* Go reads the original */
        char *colon = strchr(kv, ':');
        char *eq = strchr(kv, '=');

        if (colon) {
            char *second = strchr(colon + 1, ':');
            size_t n1 = second ? (size_t)(second - colon - 1) : strlen(colon + 1);

            free(l->v[i]);
            if (n1 == 1 && colon[1] == '*')
                l->v[i] = rl_xstrndup(kv, (size_t)(colon - kv));
            else
                l->v[i] = rl_xasprintf("%.*s=%.*s", (int)(colon - kv), kv, (int)n1, colon + 1);
        }
        if (eq) {
            char *second = strchr(eq + 1, '=');
            size_t n1 = second ? (size_t)(second - eq - 1) : strlen(eq + 1);

            if (n1 == 1 && eq[1] == '*') {
                free(l->v[i]);
                l->v[i] = rl_xstrndup(kv, (size_t)(eq - kv));
            }
        }
        free(kv);
    }
    rl_buf_init(&joined, 0);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            rl_buf_addc(&joined, ',');
        rl_buf_adds(&joined, l->v[i]);
    }
    return rl_buf_detach(&joined);
}

enum tok { T_END, T_ID, T_NOT, T_EQ, T_DEQ, T_NEQ, T_GT, T_LT, T_LP, T_RP, T_COMMA };

struct lexer {
    const char *p;
    const char *id;
    size_t idlen;
};

static bool special(char c)
{
    return c == '!' || c == '=' || c == '>' || c == '<' || c == '(' || c == ')' || c == ',';
}

static enum tok lex(struct lexer *lx)
{
    const char *p = lx->p;

    while (isspace((unsigned char)*p))
        p++;
    lx->p = p + 1;
    switch (*p) {
    case '\0': lx->p = p; return T_END;
    case '(': return T_LP;
    case ')': return T_RP;
    case ',': return T_COMMA;
    case '>': return T_GT;
    case '<': return T_LT;
    case '!':
        if (p[1] == '=') {
            lx->p = p + 2;
            return T_NEQ;
        }
        return T_NOT;
    case '=':
        if (p[1] == '=') {
            lx->p = p + 2;
            return T_DEQ;
        }
        return T_EQ;
    default:
        lx->id = p;
        while (*p && !isspace((unsigned char)*p) && !special(*p))
            p++;
        lx->idlen = (size_t)(p - lx->id);
        lx->p = p;
        return T_ID;
    }
}

static bool name_part_ok(const char *s, size_t n, size_t max)
{
    if (n == 0 || n > max || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
            return false;
    }
    return true;
}

static bool label_key_ok(const char *s, size_t n)
{
    const char *slash = memchr(s, '/', n);

    if (!slash)
        return name_part_ok(s, n, 63);
    return rl_dns_subdomain_ok(s, (size_t)(slash - s)) &&
           name_part_ok(slash + 1, n - (size_t)(slash - s) - 1, 63);
}

static bool label_value_ok(const char *s, size_t n)
{
    return n == 0 || name_part_ok(s, n, 63);
}

static bool is_int(const char *s, size_t n)
{
    size_t i = (n && (s[0] == '-' || s[0] == '+')) ? 1 : 0;

    if (i == n)
        return false;
    for (; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

int rl_selector_validate(const char *sel, char *err, size_t errlen)
{
    struct lexer lx = { .p = sel };
    enum tok t;

    t = lex(&lx);
    if (t == T_END)
        return 0;                       /* everything */
    for (;;) {
        const char *key;
        size_t keylen;
        bool notop = false;

        if (t == T_NOT) {
            notop = true;
            t = lex(&lx);
        }
        if (t != T_ID) {
            seterr(err, errlen, "found '%s', expected: identifier", lx.p[-1] ? lx.p - 1 : "");
            return RL_EINVAL;
        }
        key = lx.id;
        keylen = lx.idlen;
        if (!label_key_ok(key, keylen)) {
            seterr(err, errlen, "invalid label key \"%.*s\"", (int)keylen, key);
            return RL_EINVAL;
        }
        t = lex(&lx);
        if (notop) {
            /* "!key" stands alone. */
        } else if (t == T_EQ || t == T_DEQ || t == T_NEQ || t == T_GT || t == T_LT) {
            enum tok op = t;
            const char *save = lx.p;

            t = lex(&lx);
            if (t == T_ID) {
                if (!label_value_ok(lx.id, lx.idlen) ||
                    ((op == T_GT || op == T_LT) && !is_int(lx.id, lx.idlen))) {
                    seterr(err, errlen, "invalid label value \"%.*s\" for key \"%.*s\"",
                           (int)lx.idlen, lx.id, (int)keylen, key);
                    return RL_EINVAL;
                }
                t = lex(&lx);
            } else if (op == T_GT || op == T_LT) {
                seterr(err, errlen, "missing integer value for key \"%.*s\"", (int)keylen, key);
                return RL_EINVAL;
            } else {
                lx.p = save;            /* empty value: "k=" */
                t = lex(&lx);
            }
        } else if (t == T_ID && ((lx.idlen == 2 && strncmp(lx.id, "in", 2) == 0) ||
                                 (lx.idlen == 5 && strncmp(lx.id, "notin", 5) == 0))) {
            size_t nvals = 0;

            if (lex(&lx) != T_LP) {
                seterr(err, errlen, "expected '(' after set operator for key \"%.*s\"",
                       (int)keylen, key);
                return RL_EINVAL;
            }
            for (;;) {
                t = lex(&lx);
                if (t == T_ID) {
                    if (!label_value_ok(lx.id, lx.idlen)) {
                        seterr(err, errlen, "invalid label value \"%.*s\"", (int)lx.idlen, lx.id);
                        return RL_EINVAL;
                    }
                    nvals++;
                    t = lex(&lx);
                }
                if (t == T_RP)
                    break;
                if (t != T_COMMA) {
                    seterr(err, errlen, "unterminated value set for key \"%.*s\"",
                           (int)keylen, key);
                    return RL_EINVAL;
                }
                if (nvals == 0)
                    nvals++;            /* "(,a)": an empty value counts */
            }
            if (nvals == 0) {
                seterr(err, errlen, "for 'in', 'notin' operators, values set can't be empty");
                return RL_EINVAL;
            }
            t = lex(&lx);
        }
        if (t == T_END)
            return 0;
        if (t != T_COMMA) {
            seterr(err, errlen, "unexpected token after key \"%.*s\"", (int)keylen, key);
            return RL_EINVAL;
        }
        t = lex(&lx);
    }
}

/* ---- setting one flag -------------------------------------------------- */

/* Go's strconv.ParseBool (syntax.h), as pflag reads a boolean flag. */
static int parse_bool(const char *v, bool *out)
{
    bool ok;

    *out = rl_parse_bool_go(v, &ok);
    return ok ? 0 : RL_EINVAL;
}

/* Sets f from text v; why it failed goes to *why. */
static int set_flag(struct rl_options *o, const struct flag *f, const char *v,
                    const char **why)
{
    char *base = (char *)o + f->off;
    char *end;

    switch (f->type) {
    case F_BOOL:
        *why = "not a boolean";
        return parse_bool(v, (bool *)(void *)base);
    case F_STR:
        set_owned((char **)(void *)base, v);
        return 0;
    case F_SLICE:
        *why = "invalid CSV (a bare or unterminated quote)";
        return rl_strlist_add_csv((struct rl_strlist *)(void *)base, v);
    case F_INT: {
        long n;

        errno = 0;
        n = strtol(v, &end, 10);
        if (end == v || *end || errno) {
            *why = "not an integer";
            return RL_EINVAL;
        }
        if (n < f->min || n > f->max) {
            *why = "out of range";
            return RL_EINVAL;
        }
        *(int *)(void *)base = (int)n;
        return 0;
    }
    case F_DOUBLE: {
        double d;

        errno = 0;
        d = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(d)) {
            *why = "not a number";
            return RL_EINVAL;
        }
        if (d < f->min || d > f->max) {
            *why = "out of range";
            return RL_EINVAL;
        }
        *(double *)(void *)base = d;
        return 0;
    }
    case F_DURATION: {
        int64_t ns;

        if (rl_duration_parse(v, &ns)) {
            *why = "not a duration (e.g. 500ms, 10s, 1h30m)";
            return RL_EINVAL;
        }
        if (ns < 0 || (double)(ns / 1000000) < f->min || (double)(ns / 1000000) > f->max) {
            *why = "out of range";
            return RL_EINVAL;
        }
        *(uint64_t *)(void *)base = (uint64_t)(ns / 1000000);
        return 0;
    }
    }
    return RL_EINVAL;
}

static void range_text(const struct flag *f, char *buf, size_t len)
{
    if (f->type == F_INT)
        snprintf(buf, len, " [%g, %g]", f->min, f->max);
    else if (f->type == F_DOUBLE)
        snprintf(buf, len, " (0, %g]", f->max);
    else if (f->type == F_DURATION)
        snprintf(buf, len, " [%gms, %gms]", f->min, f->max);
    else
        buf[0] = '\0';
}

static const struct flag *find_flag(const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    }
    return NULL;
}

/* ---- parse ----------------------------------------------------------------- */

static void set_defaults(struct rl_options *o)
{
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < NFLAGS; i++) {
        const char *why;

        if (flags[i].def && set_flag(o, &flags[i], flags[i].def, &why))
            RL_BUG("bad flag default");
    }
}

static int apply_env(struct rl_options *o, char **envp, char *err, size_t errlen)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct flag *f = &flags[i];
        char name[64];
        const char *v, *why = "invalid";
        char range[64];

        env_name(f, name, sizeof(name));
        v = env_get(envp, name);
        if ((!v || !*v) && f->alias) {
            strlcpy(name, f->alias, sizeof(name));
            v = env_get(envp, name);
        }
        if (!v || !*v)
            continue;                   /* unset or empty: the default stands */
        o->from[i] = RL_FROM_ENV;
        o->from_alias[i] = f->alias && strcmp(name, f->alias) == 0;
        if (f->type == F_SLICE)
            rl_strlist_release((struct rl_strlist *)(void *)((char *)o + f->off));
        if (set_flag(o, f, v, &why)) {
            range_text(f, range, sizeof(range));
            seterr(err, errlen, "invalid value \"%s\" for environment variable %s (--%s): %s%s",
                   v, name, f->name, why, strcmp(why, "out of range") == 0 ? range : "");
            return RL_EINVAL;
        }
    }
    return 0;
}

static void read_env_vars(struct rl_options *o, char **envp)
{
    const char *v;

    v = env_get(envp, "KUBERNETES_NAMESPACE");
    set_owned(&o->kubernetes_namespace, v && *v ? v : NULL);
    v = env_get(envp, "POD_NAME");
    set_owned(&o->pod_name, v && *v ? v : NULL);
    v = env_get(envp, "POD_NAMESPACE");
    set_owned(&o->pod_namespace, v && *v ? v : NULL);
    v = env_get(envp, "RELOADER_NAMESPACE");
    set_owned(&o->reloader_namespace, v && *v ? v : NULL);
    v = env_get(envp, "RELOADER_DEPLOYMENT_NAME");
    set_owned(&o->reloader_deployment_name, v && *v ? v : NULL);
    v = env_get(envp, "METRICS_COUNT_BY_NAMESPACE");
    o->metrics_count_by_namespace = v && strcmp(v, "enabled") == 0;
    v = env_get(envp, "ALERT_ON_RELOAD");
    o->alert_on_reload = v && strcmp(v, "true") == 0;
    v = env_get(envp, "ALERT_WEBHOOK_URL");
    free(o->alert_webhook_url);
    o->alert_webhook_url = v ? trimmed_dup(v) : NULL;
    v = env_get(envp, "ALERT_SINK");
    free(o->alert_sink);
    o->alert_sink = v ? trimmed_dup(v) : NULL;
    for (char *p = o->alert_sink; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    v = env_get(envp, "ALERT_WEBHOOK_PROXY");
    set_owned(&o->alert_webhook_proxy, v && *v ? v : NULL);
    v = env_get(envp, "ALERT_ADDITIONAL_INFO");
    free(o->alert_additional_info);
    o->alert_additional_info = v ? trimmed_dup(v) : NULL;   /* present, even empty */
}

static int parse_argv(struct rl_options *o, int argc, char **argv, char *err, size_t errlen)
{
    bool given[NFLAGS] = { false };

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *name, *eq, *v, *why = "invalid";
        const struct flag *f;
        size_t nlen;
        char range[64];

        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            seterr(err, errlen, "unexpected argument \"%s\" (reloadd takes only flags)", arg);
            return RL_EINVAL;
        }
        name = arg + 2;
        eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        f = find_flag(name, nlen);
        if (!f) {
            seterr(err, errlen, "unknown flag: --%.*s", (int)nlen, name);
            return RL_EINVAL;
        }
        if (eq) {
            v = eq + 1;
        } else if (f->type == F_BOOL) {
            v = "true";
        } else if (i + 1 < argc) {
            v = argv[++i];
        } else {
            seterr(err, errlen, "flag needs an argument: --%s", f->name);
            return RL_EINVAL;
        }
        /* The command line replaces the variable's list, then appends. */
        if (f->type == F_SLICE && !given[f - flags])
            rl_strlist_release((struct rl_strlist *)(void *)((char *)o + f->off));
        given[f - flags] = true;
        o->from[f - flags] = RL_FROM_FLAG;
        if (set_flag(o, f, v, &why)) {
            range_text(f, range, sizeof(range));
            seterr(err, errlen, "invalid value \"%s\" for flag --%s: %s%s", v, f->name, why,
                   strcmp(why, "out of range") == 0 ? range : "");
            return RL_EINVAL;
        }
    }
    return 0;
}

static int validate(struct rl_options *o, char *err, size_t errlen)
{
    char why[200];

    if (strcmp(o->reload_strategy, "env-vars") == 0) {
        o->strategy = RL_STRATEGY_ENV_VARS;
    } else if (strcmp(o->reload_strategy, "annotations") == 0) {
        o->strategy = RL_STRATEGY_ANNOTATIONS;
    } else {
        seterr(err, errlen, "invalid value \"%s\" for flag --reload-strategy: "
               "reload-strategy must be one of: env-vars, annotations", o->reload_strategy);
        return RL_EINVAL;
    }
    if (strcmp(o->cronjob_strategy, "run") != 0 && strcmp(o->cronjob_strategy, "template") != 0) {
        seterr(err, errlen, "invalid value \"%s\" for flag --cronjob-strategy: it must be one of: "
               "run, template", o->cronjob_strategy);
        return RL_EINVAL;
    }
    o->cronjob_template = strcmp(o->cronjob_strategy, "template") == 0;
    if (o->enable_ha && !o->pod_name) {
        seterr(err, errlen, "POD_NAME not set, cannot run in HA mode without POD_NAME set");
        return RL_EINVAL;
    }
    if (o->enable_ha && !o->pod_namespace) {
        seterr(err, errlen,
               "POD_NAMESPACE not set, cannot run in HA mode without POD_NAMESPACE set");
        return RL_EINVAL;
    }

    /* --resources-to-ignore: one entry, any case (GetIgnoredResourcesList). */
    for (size_t i = 0; i < o->resources_to_ignore.n; i++) {
        char *v = o->resources_to_ignore.v[i];

        for (char *p = v; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (strcmp(v, "configmaps") != 0 && strcmp(v, "secrets") != 0) {
            seterr(err, errlen, "invalid value \"%s\" for flag --resources-to-ignore: "
                   "'resources-to-ignore' only accepts 'configmaps' or 'secrets', not '%s'",
                   v, v);
            return RL_EINVAL;
        }
    }
    if (o->resources_to_ignore.n > 1) {
        seterr(err, errlen, "invalid value for flag --resources-to-ignore: "
               "'resources-to-ignore' only accepts 'configmaps' or 'secrets', not both");
        return RL_EINVAL;
    }
    o->ignore_configmaps = rl_strlist_has(&o->resources_to_ignore, "configmaps");
    o->ignore_secrets = rl_strlist_has(&o->resources_to_ignore, "secrets");

    /* --ignored-workload-types: case-sensitive; a bad entry voids the list. */
    for (size_t i = 0; i < o->ignored_workload_types.n; i++) {
        const char *v = o->ignored_workload_types.v[i];

        if (strcmp(v, "jobs") != 0 && strcmp(v, "cronjobs") != 0)
            o->ignored_workload_types_invalid = true;
    }
    if (!o->ignored_workload_types_invalid) {
        o->ignore_jobs = rl_strlist_has(&o->ignored_workload_types, "jobs");
        o->ignore_cronjobs = rl_strlist_has(&o->ignored_workload_types, "cronjobs");
    }

    o->argo_rollouts = strcmp(o->is_argo_rollouts, "true") == 0;
    o->reload_on_create_enabled = strcmp(o->reload_on_create, "true") == 0;
    o->reload_on_delete_enabled = strcmp(o->reload_on_delete, "true") == 0;

    /* Watch mode, then the selectors (namespace selector: global mode only). */
    rl_strlist_release(&o->watch_namespaces);
    if (o->namespaces.n) {
        o->watch_mode = RL_WATCH_SCOPED;
        for (size_t i = 0; i < o->namespaces.n; i++)
            rl_strlist_add(&o->watch_namespaces, o->namespaces.v[i]);
    } else if (o->kubernetes_namespace) {
        o->watch_mode = RL_WATCH_NAMESPACE;
        rl_strlist_add(&o->watch_namespaces, o->kubernetes_namespace);
    } else {
        o->watch_mode = RL_WATCH_GLOBAL;
        rl_strlist_add(&o->watch_namespaces, "");
    }
    if (o->watch_mode == RL_WATCH_GLOBAL) {
        free(o->namespace_selector_str);
        o->namespace_selector_str = rl_selector_convert_legacy(&o->namespace_selector);
        if (o->namespace_selector_str &&
            rl_selector_validate(o->namespace_selector_str, why, sizeof(why))) {
            seterr(err, errlen, "invalid value \"%s\" for flag --namespace-selector: %s",
                   o->namespace_selector_str, why);
            return RL_EINVAL;
        }
    }
    free(o->resource_selector_str);
    o->resource_selector_str = rl_selector_convert_legacy(&o->resource_label_selector);
    if (o->resource_selector_str &&
        rl_selector_validate(o->resource_selector_str, why, sizeof(why))) {
        seterr(err, errlen, "invalid value \"%s\" for flag --resource-label-selector: %s",
               o->resource_selector_str, why);
        return RL_EINVAL;
    }

    /* client-go's leader election constraints. */
    if (o->lease_duration_ms <= o->renew_deadline_ms) {
        seterr(err, errlen, "invalid value for flag --lease-duration: must be greater than "
               "--renew-deadline (%llums <= %llums)",
               (unsigned long long)o->lease_duration_ms, (unsigned long long)o->renew_deadline_ms);
        return RL_EINVAL;
    }
    if ((double)o->renew_deadline_ms <= 1.2 * (double)o->retry_period_ms) {
        seterr(err, errlen, "invalid value for flag --renew-deadline: must be greater than "
               "1.2 x --retry-period (%llums, %llums)",
               (unsigned long long)o->renew_deadline_ms, (unsigned long long)o->retry_period_ms);
        return RL_EINVAL;
    }

    if (!o->explain_addr || strcmp(o->explain_addr, "off") == 0)
        set_owned(&o->explain_addr, "");
    if (o->explain_addr[0] && !rl_listen_addr_ok(o->explain_addr)) {
        seterr(err, errlen, "invalid value \"%s\" for flag --explain-addr: want host:port, "
               "[v6]:port, :port, \"\" or off", o->explain_addr);
        return RL_EINVAL;
    }
    if (!rl_dns_subdomain_ok(o->annotation_prefix, strlen(o->annotation_prefix))) {
        seterr(err, errlen, "invalid value \"%s\" for flag --annotation-prefix: "
               "not a DNS subdomain", o->annotation_prefix);
        return RL_EINVAL;
    }
    free(o->applied_annotation);
    o->applied_annotation = rl_xasprintf("%s/applied", o->annotation_prefix);
    return 0;
}

int rl_options_parse(struct rl_options *o, int argc, char **argv, char **envp,
                     char *err, size_t errlen)
{
    int rc;

    set_defaults(o);
    if (err && errlen)
        err[0] = '\0';
    if (!envp)
        envp = environ;

    /* --help and --version work whatever else is on the line. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return RL_OPTIONS_HELP;
        if (strcmp(argv[i], "--version") == 0)
            return RL_OPTIONS_VERSION;
    }
    read_env_vars(o, envp);
    rc = apply_env(o, envp, err, errlen);
    if (!rc)
        rc = parse_argv(o, argc, argv, err, errlen);
    if (!rc)
        rc = validate(o, err, errlen);
    return rc;
}

void rl_options_release(struct rl_options *o)
{
    for (size_t i = 0; i < NFLAGS; i++) {
        char *base = (char *)o + flags[i].off;

        if (flags[i].type == F_STR) {
            free(*(char **)(void *)base);
            *(char **)(void *)base = NULL;
        } else if (flags[i].type == F_SLICE) {
            rl_strlist_release((struct rl_strlist *)(void *)base);
        }
    }
    free(o->kubernetes_namespace);
    free(o->pod_name);
    free(o->pod_namespace);
    free(o->reloader_namespace);
    free(o->reloader_deployment_name);
    free(o->alert_webhook_url);
    free(o->alert_sink);
    free(o->alert_webhook_proxy);
    free(o->alert_additional_info);
    free(o->namespace_selector_str);
    free(o->resource_selector_str);
    free(o->applied_annotation);
    rl_strlist_release(&o->watch_namespaces);
    memset(o, 0, sizeof(*o));
}

void rl_options_usage(FILE *out)
{
    fprintf(out, "usage: reloadd [flags]\n\n"
                 "Every flag can also be set by the environment variable shown (RELOADD_ and its\n"
                 "name; SYNC_AFTER_RESTART too); the flag wins. Settings that are not defaults\n"
                 "are logged at start with where they came from.\n\n"
                 "Flags:\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct flag *f = &flags[i];
        char env[64];
        const char *type = f->type == F_BOOL ? "" : f->type == F_SLICE ? " strings"
                         : f->type == F_INT ? " int" : f->type == F_DOUBLE ? " float"
                         : f->type == F_DURATION ? " duration" : " string";

        env_name(f, env, sizeof(env));
        fprintf(out, "      --%s%s\n          %s (default %s%s%s; env %s%s%s)\n", f->name, type,
                f->help, f->type == F_STR ? "\"" : "",
                f->def ? f->def : (f->type == F_SLICE ? "[]" : "none"),
                f->type == F_STR ? "\"" : "", env, f->alias ? " or " : "",
                f->alias ? f->alias : "");
    }
    fprintf(out, "  -h, --help\n          print this help\n"
                 "      --version\n          print the version\n\n"
                 "Environment: KUBERNETES_NAMESPACE (watch one namespace), POD_NAME and\n"
                 "POD_NAMESPACE (HA), RELOADER_NAMESPACE, RELOADER_DEPLOYMENT_NAME,\n"
                 "METRICS_COUNT_BY_NAMESPACE=enabled, ALERT_ON_RELOAD=true, ALERT_WEBHOOK_URL,\n"
                 "ALERT_SINK (slack|teams|gchat|raw), ALERT_WEBHOOK_PROXY, ALERT_ADDITIONAL_INFO.\n");
}

int rl_options_log_config(const struct rl_options *o, enum rl_log_level *level,
                          enum rl_log_format *format, char *err, size_t errlen)
{
    const char *lv = o->log_level ? o->log_level : "info";

    *level = RL_LOG_INFO;
    *format = RL_LOG_TEXT;
    if (o->log_format && strcmp(o->log_format, "json") == 0) {
        *format = RL_LOG_JSON;
    } else if (o->log_format && *o->log_format) {
        /* Reloader returns before applying the level. */
        seterr(err, errlen, "unsupported log format: \"%s\"", o->log_format);
        return RL_EINVAL;
    }
    if (strcasecmp(lv, "fatal") == 0 || strcasecmp(lv, "panic") == 0) {
        *level = RL_LOG_ERROR;
        return 0;
    }
    if (!rl_log_parse_level(lv, level)) {
        *level = RL_LOG_INFO;
        seterr(err, errlen, "not a valid logrus Level: \"%s\"", lv);
        return RL_EINVAL;
    }
    return 0;
}

/* ---- start-up log ---------------------------------------------------------- */

/* The items of l with sep between them. */
static void add_list(struct rl_buf *b, const struct rl_strlist *l, const char *sep)
{
    for (size_t i = 0; i < l->n; i++)
        rl_buf_addf(b, "%s%s", i ? sep : "", l->v[i]);
}

/* f's value in o as its flag would spell it; URLs reduced to their host. */
static void flag_text(const struct rl_options *o, const struct flag *f, struct rl_buf *b)
{
    const char *base = (const char *)o + f->off;

    switch (f->type) {
    case F_BOOL:
        rl_buf_adds(b, *(const bool *)(const void *)base ? "true" : "false");
        break;
    case F_STR: {
        const char *v = *(char *const *)(const void *)base;
        char red[RL_REDACTED_URL_SIZE];

        if (v && strcmp(f->name, "webhook-url") == 0)
            v = rl_redact_url(v, red, sizeof(red));
        rl_buf_adds(b, v ? v : "");
        break;
    }
    case F_SLICE:
        add_list(b, (const struct rl_strlist *)(const void *)base, ",");
        break;
    case F_INT:
        rl_buf_addf(b, "%d", *(const int *)(const void *)base);
        break;
    case F_DOUBLE:
        rl_buf_addf(b, "%g", *(const double *)(const void *)base);
        break;
    case F_DURATION: {
        uint64_t ms = *(const uint64_t *)(const void *)base;

        if (ms && ms % 3600000 == 0)
            rl_buf_addf(b, "%" PRIu64 "h", ms / 3600000);
        else if (ms && ms % 60000 == 0)
            rl_buf_addf(b, "%" PRIu64 "m", ms / 60000);
        else if (ms % 1000 == 0)
            rl_buf_addf(b, "%" PRIu64 "s", ms / 1000);
        else
            rl_buf_addf(b, "%" PRIu64 "ms", ms);
        break;
    }
    }
}

static void log_env_setting(const char *name, const char *value, bool url)
{
    char red[RL_REDACTED_URL_SIZE];

    if (!value)
        return;
    rl_log_kv(RL_LOG_INFO, "setting", "name", name,
              "value", url ? rl_redact_url(value, red, sizeof(red)) : value,
              "from", "environment", NULL);
}

/* Whether flag `name` was set, by its flag or its variable. */
static bool flag_given(const struct rl_options *o, const char *name)
{
    const struct flag *f = find_flag(name, strlen(name));

    return f && o->from[f - flags] != RL_FROM_DEFAULT;
}

void rl_options_log_start(const struct rl_options *o)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    for (size_t i = 0; i < NFLAGS; i++) {
        const struct flag *f = &flags[i];
        char name[80], env[64];

        if (o->from[i] == RL_FROM_DEFAULT)
            continue;
        rl_buf_reset(&b);
        flag_text(o, f, &b);
        snprintf(name, sizeof(name), "--%s", f->name);
        if (o->from[i] == RL_FROM_FLAG) {
            rl_log_kv(RL_LOG_INFO, "setting", "name", name, "value", b.buf ? b.buf : "",
                      "from", "flag", NULL);
            continue;
        }
        env_name(f, env, sizeof(env));
        rl_log_kv(RL_LOG_INFO, "setting", "name", name, "value", b.buf ? b.buf : "",
                  "from", "environment", "variable", o->from_alias[i] ? f->alias : env, NULL);
    }
    log_env_setting("KUBERNETES_NAMESPACE", o->kubernetes_namespace, false);
    log_env_setting("POD_NAME", o->pod_name, false);
    log_env_setting("POD_NAMESPACE", o->pod_namespace, false);
    log_env_setting("RELOADER_NAMESPACE", o->reloader_namespace, false);
    log_env_setting("RELOADER_DEPLOYMENT_NAME", o->reloader_deployment_name, false);
    log_env_setting("METRICS_COUNT_BY_NAMESPACE", o->metrics_count_by_namespace ? "enabled"
                                                                                : NULL, false);
    log_env_setting("ALERT_ON_RELOAD", o->alert_on_reload ? "true" : NULL, false);
    log_env_setting("ALERT_WEBHOOK_URL", o->alert_webhook_url, true);
    log_env_setting("ALERT_SINK", o->alert_sink, false);
    log_env_setting("ALERT_WEBHOOK_PROXY", o->alert_webhook_proxy, true);
    log_env_setting("ALERT_ADDITIONAL_INFO", o->alert_additional_info, false);

    /* Reloader's own start-up lines, word for word. */
    rl_buf_reset(&b);
    if (o->watch_mode == RL_WATCH_SCOPED) {
        add_list(&b, &o->watch_namespaces, ", ");
        rl_log(RL_LOG_INFO, "Watching scoped namespaces: %s", b.buf ? b.buf : "");
    } else if (o->watch_mode == RL_WATCH_GLOBAL) {
        if (o->namespaces_to_ignore.n)
            rl_buf_adds(&b, " except: ");
        add_list(&b, &o->namespaces_to_ignore, ", ");
        rl_log(RL_LOG_WARN, "KUBERNETES_NAMESPACE is unset, will detect changes in all "
               "namespaces%s.", b.buf ? b.buf : "");
    }
    if (o->webhook_url && *o->webhook_url)
        rl_log(RL_LOG_WARN, "webhook-url is set, will only send webhook, no resources will be "
               "reloaded");
    if (o->dry_run)
        rl_log_kv(RL_LOG_WARN, "dry-run is set: decisions are logged, nothing is written (no "
                  "rollout, record, Event, webhook or meta-info ConfigMap)", NULL);
    if (flag_given(o, "enable-pprof") || flag_given(o, "pprof-addr"))
        rl_log_kv(RL_LOG_WARN, "--enable-pprof and --pprof-addr are accepted for compatibility "
                  "and do nothing: reloadd serves no pprof", NULL);
    rl_buf_release(&b);
}
