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
 * Threads: pure, any.
 */
#ifndef RL_KIND_H
#define RL_KIND_H

#include <stdbool.h>

struct rl_kube;
struct rl_policy;

enum rl_kind {
    RL_KIND_DEPLOYMENT,
    RL_KIND_DAEMONSET,
    RL_KIND_STATEFULSET,
    RL_KIND_CRONJOB,
    RL_KIND_JOB,
    RL_KIND_ROLLOUT,
    RL_KIND_COUNT,
};

/* How a rollout of the kind is written (reconcile.c's writers). */
enum rl_kind_writer {
    RL_WRITER_PATCH_TEMPLATE,           /* strategic-merge patch of the pod template */
    RL_WRITER_ARGO_ROLLOUT,             /* update, or spec.restartAt (rollout-strategy: restart) */
    RL_WRITER_CRONJOB,                  /* a Job from its template, or patch of the job template */
    RL_WRITER_RECREATE_JOB,             /* delete the Job, create it anew */
};

/* When the kind is watched (rl_kind_enabled(), from the flags settled in policy.h). */
enum rl_kind_gate {
    RL_GATE_ALWAYS,
    RL_GATE_UNLESS_IGNORED_CRONJOBS,    /* --ignored-workload-types cronjobs */
    RL_GATE_UNLESS_IGNORED_JOBS,        /* --ignored-workload-types jobs */
    RL_GATE_ARGO,                       /* --is-Argo-Rollouts, and the CRD is served */
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
};

/* The row of k; a row of "Unknown" names for a value out of range. */
const struct rl_kind_info *rl_kind_info(enum rl_kind k);

static inline const char *rl_kind_name(enum rl_kind k) { return rl_kind_info(k)->name; }
static inline const char *rl_kind_key(enum rl_kind k) { return rl_kind_info(k)->key; }

/*
 * A kind from any of its names, case-insensitively, as kubectl takes them:
 * "Deployment", "deployment", "deployments", "deploy". False if none.
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

#endif /* RL_KIND_H */
