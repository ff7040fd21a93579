/*
 * marker.h - Reloader's markers and the bodies of every write reloadd makes
 *
 * Markers, exactly as Reloader writes them so a cluster can switch between
 * the two without spurious rollouts:
 *  - env-vars strategy: env var "STAKATER_" + ConvertToEnvVarName(name) +
 *    "_" + CONFIGMAP|SECRET|SECRETPROVIDERCLASS (docs/reloader.md §3.1;
 *    "my-app" and "my.app" collide, as in Reloader) holding the source's
 *    hash, in the container chosen by rl_workload_pick_container();
 *  - annotations strategy: pod-template annotation
 *    reloader.stakater.com/last-reloaded-from holding the ReloadSource JSON
 *    of docs/reloader.md §3.2, byte for byte as Go's encoding/json writes
 *    it (field order, '<' '>' '&' U+2028 U+2029 escaped as \u00XX,
 *    observedAt in seconds).
 * Plus reloadd's own record, a metadata annotation "<prefix>/applied" whose
 * value is a JSON object {"configmap/<name>":"<sha1>",...} (keys sorted),
 * which is never in the pod template, so writing it alone rolls nothing.
 *
 * Bodies:
 *  - rl_patch_rollout(): ONE strategic-merge patch (Deployment, DaemonSet,
 *    StatefulSet) setting the markers of several sources and the applied
 *    record at once: one rollout for many stale sources (docs/reconcile.md);
 *  - rl_patch_record(): metadata-only merge patch recording baselines;
 *  - rl_patch_rollout_restart(): Argo Rollout `spec.restartAt` merge patch;
 *    rl_patch_set_field(): the same at a declared kind's field;
 *  - rl_marker_apply(): the same markers applied to a whole object (Argo
 *    Rollout and declared kinds' update, i.e. PUT);
 *  - rl_job_from_cronjob(), rl_job_recreate(): docs/reloader.md §3.4 bodies.
 *
 * Fix (docs/reloader.md §3.1): every string is JSON-escaped (Reloader
 * pastes names into its env-var template unescaped). The annotations
 * strategy writes the ReloadSource of the FIRST marker only (the
 * annotation holds one source); the applied record carries all of them.
 *
 * Deleted sources: a marker with hash NULL removes the env var
 * ({"name":..,"$patch":"delete"}, not Reloader's index-based JSON Patch,
 * which races) under env-vars, and writes RL_HASH_DELETE_MARKER under
 * annotations (docs/reloader.md §3.3).
 *
 * Ownership: builders append to a caller's rl_buf or return new cJSON
 * trees the caller deletes; inputs are borrowed. Threads: pure, any.
 */
#ifndef RL_MARKER_H
#define RL_MARKER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/base/buf.h"
#include "reloadd/config/policy.h"
#include "reloadd/reload/workload.h"

/* Reloader's ConvertToEnvVarName(): "my.app-1" -> "MY_APP_1". */
int rl_marker_convert_env_name(struct rl_buf *out, const char *name);

/* "STAKATER_<NAME>_<TYPE>". */
int rl_marker_env_name(struct rl_buf *out, enum rl_source_type t, const char *name);

/* docs/reloader.md §3.2 ReloadSource JSON, Go's encoding/json byte for byte. */
int rl_marker_reload_source_json(struct rl_buf *out, enum rl_source_type t,
                                 const char *name, const char *ns, const char *hash,
                                 const char *container, int64_t observed_at_s);

/*
 * Appends the value of "<prefix>/applied": entries sorted by key, after the
 * pending mark (window.h) if pending_s > 0 and the rollout history
 * (budget.h) if history is neither NULL nor "".
 */
struct rl_applied_entry {
    enum rl_source_type type;
    const char *name;
    const char *hash;               /* 40 hex */
};
int rl_marker_applied_json(struct rl_buf *out, const struct rl_applied_entry *e, size_t n,
                           const char *history, int64_t pending_s);

/* One source to mark in a rollout. */
struct rl_marker {
    enum rl_source_type type;
    const char *name;
    const char *hash;               /* NULL: the source was deleted */
    const char *container;          /* from rl_workload_pick_container() */
};

struct rl_rollout {
    enum rl_reload_strategy strategy;
    const char *ns;                 /* workload namespace (ReloadSource) */
    const struct rl_marker *markers;
    size_t n_markers;
    /* The whole applied record to store; NULL/0 with applied_key NULL: none. */
    const struct rl_applied_entry *record;
    size_t n_record;
    const char *applied_key;        /* "<prefix>/applied" */
    const char *history;            /* the record's rollout history (budget.h), or NULL */
    int64_t pending_s;              /* the record's pending mark (window.h); 0: none */
    int64_t now_s;                  /* observedAt, restartAt (unix seconds) */
};

/* Reloader's single-source bodies (EnvVarTemplate, AnnotationTemplate), escaped. */
int rl_patch_env_var(struct rl_buf *out, const char *container, const char *env,
                     const char *value);
int rl_patch_pod_annotation(struct rl_buf *out, const char *key, const char *value);

/*
 * Strategic-merge patch (application/strategic-merge-patch+json) for
 * Deployment/DaemonSet/StatefulSet: markers grouped per container in the
 * pod template, plus the applied record in metadata. RL_EINVAL if no
 * marker has a container.
 */
int rl_patch_rollout(struct rl_buf *out, const struct rl_rollout *r);

/*
 * Moves the pod template of such a patch one level down, from
 * spec.template to spec.<field>.spec.template ("jobTemplate": a CronJob's
 * job template). RL_EINVAL if patch is not one.
 */
int rl_patch_nest_template(struct rl_buf *patch, const char *field);

/* Merge patch setting only metadata.annotations[applied_key]. */
int rl_patch_record(struct rl_buf *out, const char *applied_key,
                    const struct rl_applied_entry *e, size_t n, const char *history,
                    int64_t pending_s);

/*
 * Argo `rollout-strategy: restart` (application/merge-patch+json):
 * {"spec": {"restartAt": "<RFC3339 UTC of now_s>"}} plus the applied
 * record in metadata if r->applied_key is set.
 */
int rl_patch_rollout_restart(struct rl_buf *out, const struct rl_rollout *r);

/*
 * The same for any field (a declared kind's rollout: set-field): the
 * RFC 3339 UTC time of now_s at the dotted path ("spec.restartAt"), plus
 * the applied record. RL_EINVAL for an empty path.
 */
int rl_patch_set_field(struct rl_buf *out, const struct rl_rollout *r, const char *path);

/*
 * Applies r to a whole object of the given kind in place: markers into the
 * pod template (spec.jobTemplate.spec.template for CronJob), record into
 * metadata.annotations. For Argo Rollout updates (PUT keeps
 * metadata.resourceVersion, so a race is a 409).
 */
int rl_marker_apply(cJSON *obj, enum rl_kind kind, const struct rl_rollout *r);

/*
 * docs/reloader.md §3.4 CreateJobFromCronjob: a new batch/v1 Job
 * (generateName "<cj>-", annotation cronjob.kubernetes.io/instantiate=manual
 * overlaid with the jobTemplate's, its labels, a controller ownerReference
 * to the CronJob) whose spec is the jobTemplate.spec with r's markers
 * applied. The applied record is NOT put on the Job: record it on the
 * CronJob with rl_patch_record(). *job is the caller's (cJSON_Delete).
 */
int rl_job_from_cronjob(const cJSON *cronjob, const struct rl_rollout *r, cJSON **job);

/*
 * docs/reloader.md §3.4 ReCreateJobFromjob: a deep copy of the Job with r applied (record
 * included, in the new Job's metadata), then resourceVersion, uid,
 * creationTimestamp, status, spec.selector and the template labels
 * controller-uid, batch.kubernetes.io/controller-uid,
 * batch.kubernetes.io/job-name, job-name cleared; also (beyond Reloader)
 * managedFields, generation, selfLink, deletionTimestamp and
 * deletionGracePeriodSeconds, which a create must not carry. Fix: with
 * spec.manualSelector true the selector is the user's and is kept
 * (Reloader clears it, and the create then fails validation).
 * The input is not modified; *out is the caller's.
 */
int rl_job_recreate(const cJSON *job, const struct rl_rollout *r, cJSON **out);

#endif /* RL_MARKER_H */
