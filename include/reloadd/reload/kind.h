/*
 * kind.h - the workload kinds reloadd rolls, in one table
 *
 * Everything reloadd knows of a kind that is data: its names (the Kind,
 * the lower-case key of store keys, the API plural, kubectl's short name),
 * where its API lives, where its pod template is, and which writer rolls
 * it. Every module reads this table: store keys, API paths, watches,
 * Events' involvedObject, /explain's kind argument, the metrics' resource
 * labels. Adding a kind is a row here, its enum value, and its writer's
 * case in reconcile.c (docs/design.md, "Adding a workload kind").
 *
 * Declared kinds (--workload-kinds-file, kindfile.h) are rows too: they
 * take the values RL_KIND_COUNT .. rl_kind_count() - 1, after the
 * built-ins, up to RL_KIND_MAX. Arrays indexed by any kind are sized
 * RL_KIND_MAX; loops over the kinds run to rl_kind_count().
 *
 * Threads: rl_kind_declare() before any thread starts (the table is
 * immutable afterwards); everything else pure, any.
 */
#ifndef RL_KIND_H
#define RL_KIND_H

#include <stdbool.h>
#include <stddef.h>

struct rl_kube;
struct rl_policy;

enum rl_kind {
    RL_KIND_DEPLOYMENT,
    RL_KIND_DAEMONSET,
    RL_KIND_STATEFULSET,
    RL_KIND_CRONJOB,
    RL_KIND_JOB,
    RL_KIND_ROLLOUT,
    RL_KIND_COUNT,                      /* the built-ins; declared kinds follow */
};

/* At most this many declared kinds; an array for every kind has RL_KIND_MAX entries. */
#define RL_KIND_DECLARED_MAX 32
#define RL_KIND_MAX (RL_KIND_COUNT + RL_KIND_DECLARED_MAX)

/* How a rollout of the kind is written (reconcile.c's writers). */
enum rl_kind_writer {
    RL_WRITER_PATCH_TEMPLATE,           /* strategic-merge patch of the pod template */
    RL_WRITER_ARGO_ROLLOUT,             /* update, or spec.restartAt (rollout-strategy: restart) */
    RL_WRITER_CRONJOB,                  /* a Job from its template, or patch of the job template */
    RL_WRITER_RECREATE_JOB,             /* delete the Job, create it anew */
    RL_WRITER_UPDATE_TEMPLATE,          /* declared patch-template: markers, update (PUT) */
    RL_WRITER_SET_FIELD,                /* declared set-field: a time at field_path, merge patch */
};

/* When the kind is watched (rl_kind_enabled(), from the flags settled in policy.h). */
enum rl_kind_gate {
    RL_GATE_ALWAYS,
    RL_GATE_UNLESS_IGNORED_CRONJOBS,    /* --ignored-workload-types cronjobs */
    RL_GATE_UNLESS_IGNORED_JOBS,        /* --ignored-workload-types jobs */
    RL_GATE_ARGO,                       /* --is-Argo-Rollouts, and the CRD is served */
    RL_GATE_DECLARED,                   /* declared: served, and reloadd may list and watch */
};

struct rl_kind_info {
    const char *name;                   /* "Deployment" */
    const char *key;                    /* "deployment": store keys ("deployment/ns/name") */
    const char *plural;                 /* "deployments": API paths, metrics labels */
    const char *short_name;             /* "deploy" (kubectl's); NULL if none */
    const char *api_version;            /* "apps/v1" */
    const char *api_prefix;             /* "/apis/apps/v1" */
    const char *template_path;          /* "spec.template" (rl_json_path) */
    enum rl_kind_writer writer;
    enum rl_kind_gate gate;
    bool pausable;                      /* the pause period applies (Deployments) */

    /* Declared kinds only (NULL, 0 for the built-ins). */
    const char *group;                  /* "serving.knative.dev" */
    const char *field_path;             /* RL_WRITER_SET_FIELD: "spec.restartAt" */
    const char *metric_name;            /* label of the kind when the Kind is ambiguous: */
    const char *metric_plural;          /*  "Service.serving.knative.dev", its key */
    unsigned line;                      /* where the file declares it */
};

/* The row of k; a row of "Unknown" names for a value out of range. */
const struct rl_kind_info *rl_kind_info(enum rl_kind k);

/* Built-in and declared kinds: the valid values are 0 .. rl_kind_count() - 1. */
int rl_kind_count(void);
bool rl_kind_valid(enum rl_kind k);
bool rl_kind_is_declared(enum rl_kind k);

/*
 * Replaces the declared kinds by n rows (copied, strings included; n at
 * most RL_KIND_DECLARED_MAX, else nothing changes and RL_ETOOBIG); n 0
 * removes them. kindfile.h validates rows before this. Before any thread.
 */
int rl_kind_declare(const struct rl_kind_info *rows, size_t n);

/* "Service.serving.knative.dev, ..." of the declared kinds, in out (cut to len); "" if none. */
const char *rl_kind_declared_names(char *out, size_t len);

/*
 * The labels of k in metrics: its Kind and plural, qualified by the group
 * for a declared kind whose Kind or plural another kind has too.
 */
const char *rl_kind_metric_name(enum rl_kind k);
const char *rl_kind_metric_plural(enum rl_kind k);

static inline const char *rl_kind_name(enum rl_kind k) { return rl_kind_info(k)->name; }
static inline const char *rl_kind_key(enum rl_kind k) { return rl_kind_info(k)->key; }

/*
 * A kind from any of its names, case-insensitively, as kubectl takes them:
 * "Deployment", "deployment", "deployments", "deploy". A declared kind
 * also by its key ("services.serving.knative.dev") and Kind.group
 * ("Service.serving.knative.dev"); a bare name that several kinds have is
 * the built-in's, else the first declared one's. False if none.
 */
bool rl_kind_parse(const char *s, enum rl_kind *out);

/* "<api_prefix>/namespaces/<ns>/<plural>/<name>", allocated. */
char *rl_kind_object_path(enum rl_kind k, const char *ns, const char *name);

/*
 * Whether this policy has reloadd watch kind k: no workload at all in
 * --webhook-url mode, the gates of the table otherwise. The one policy
 * that the watches (controller.c), the reconcile and /explain read.
 */
bool rl_kind_enabled(const struct rl_policy *pol, enum rl_kind k);

/*
 * Whether the API server serves k: true for built-in kinds; for a kind of
 * a CRD (Argo's Rollout) one discovery GET, with a warning when it is not
 * served (then it is not watched: its informer could never sync).
 */
bool rl_kind_served(struct rl_kube *kube, enum rl_kind k);

/*
 * Whether reloadd can watch kind k: rl_kind_served() for a built-in; for
 * a declared kind, discovery, then a SelfSubjectAccessReview per verb
 * (list, watch, get, update, patch) in each watched namespace (or
 * cluster-wide), logged in one line per kind. False (with a warning) when
 * it is not served or may not be listed or watched; a missing write verb
 * is a warning only (the rollouts would fail until RBAC grants it).
 */
bool rl_kind_watchable(struct rl_kube *kube, const struct rl_policy *pol, enum rl_kind k);

#endif /* RL_KIND_H */
