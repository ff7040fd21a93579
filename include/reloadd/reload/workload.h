/*
 * workload.h - the compact workload model reconcile works from
 *
 * rl_workload_decode() reads a Deployment, DaemonSet, StatefulSet,
 * CronJob, Job or Argo Rollout as the API returns it (cJSON) and keeps only
 * what the decision (docs/reloader.md §2.4), the container choice (§5.3 of
 * the same file) and reconcile need:
 *
 *  - identity: kind, namespace, name, uid, resourceVersion, generation;
 *  - metadata and pod-template annotations, filtered to the keys of a
 *    struct rl_workload_keys (the configured annotation names, Reloader's
 *    fixed keys, everything under "<prefix>/");
 *  - container names (spec.containers, then initContainers);
 *  - references: volumes naming a ConfigMap/Secret (also projected
 *    sources) or a SecretProviderClass (CSI volumeAttributes), which
 *    containers mount them, env[].valueFrom and envFrom[] per container;
 *  - current markers: per container the env vars STAKATER_*_CONFIGMAP /
 *    _SECRET / _SECRETPROVIDERCLASS, the parsed pod-template annotation
 *    reloader.stakater.com/last-reloaded-from, and our metadata annotation
 *    "<prefix>/applied" parsed to (type, name) -> sha1. These two are kept
 *    only parsed: rl_workload_meta()/rl_workload_pod() do not return their
 *    raw JSON.
 *
 * The pod template of a CronJob is spec.jobTemplate.spec.template; of the
 * others spec.template. ephemeralContainers, imagePullSecrets and
 * unmounted volumes are not references (docs/reloader.md §5.2).
 *
 * Memory: one allocation per workload holding the struct, its arrays and
 * its strings (typically a few hundred bytes); nothing points into the
 * JSON, which the caller may delete at once. The namespace may instead
 * point to an interned string (keys->intern). Immutable after decode.
 *
 * Ownership: rl_workload_decode() returns a workload the caller frees
 * with rl_workload_free(). Returned const char * point into the workload.
 * Threads: decode and queries are pure; a workload may be read from any
 * number of threads at once.
 */
#ifndef RL_WORKLOAD_H
#define RL_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/config/policy.h"
#include "reloadd/reload/kind.h"

enum rl_source_type {
    RL_SOURCE_CONFIGMAP,
    RL_SOURCE_SECRET,
    RL_SOURCE_SPC,                      /* SecretProviderClass (CSI) */
    RL_SOURCE_COUNT,
};

/* How a source is referenced (docs/reloader.md §5.2). */
enum rl_ref_via {
    RL_VIA_VOLUME,                      /* volume.configMap / volume.secret */
    RL_VIA_PROJECTED,                   /* volume.projected.sources[] */
    RL_VIA_CSI,                         /* volume.csi.volumeAttributes */
    RL_VIA_ENV,                         /* env[].valueFrom.*KeyRef */
    RL_VIA_ENVFROM,                     /* envFrom[].*Ref */
};

const char *rl_source_type_upper(enum rl_source_type t); /* "CONFIGMAP" (markers) */
const char *rl_source_type_lower(enum rl_source_type t); /* "configmap" (applied keys) */
bool rl_source_type_parse_lower(const char *s, size_t len, enum rl_source_type *out);

#define RL_ANN_LAST_RELOADED_FROM   "reloader.stakater.com/last-reloaded-from"
#define RL_ANN_ROLLOUT_STRATEGY     "reloader.stakater.com/rollout-strategy"
#define RL_ANN_SPC_RELOAD           "secretproviderclass.reloader.stakater.com/reload"
#define RL_ANN_SPC_AUTO             "secretproviderclass.reloader.stakater.com/auto"
#define RL_ANN_CM_EXCLUDE           "configmaps.exclude.reloader.stakater.com/reload"
#define RL_ANN_SECRET_EXCLUDE       "secrets.exclude.reloader.stakater.com/reload"
#define RL_ANN_SPC_EXCLUDE          "secretproviderclasses.exclude.reloader.stakater.com/reload"

#define RL_WORKLOAD_MAX_KEYS 24

/* Which annotations to keep; build once from the options. */
struct rl_workload_keys {
    const char *keys[RL_WORKLOAD_MAX_KEYS];     /* borrowed */
    size_t n;
    const char *prefix;             /* keep metadata keys "<prefix>/..." */
    const char *applied_key;        /* "<prefix>/applied" */
    /* Optional: returns a string that outlives every workload. */
    const char *(*intern)(void *ctx, const char *s);
    void *intern_ctx;
};

/* Keys of o (borrowed: o must outlive k). */
void rl_workload_keys_init(struct rl_workload_keys *k, const struct rl_policy *pol);

struct rl_kv {
    const char *key;
    const char *value;
};

/* A volume's reference to a source; volumes naming none are dropped. */
struct rl_volref {
    uint16_t volume;                /* index in spec.volumes (identity) */
    uint8_t type;                   /* enum rl_source_type */
    uint8_t via;                    /* enum rl_ref_via */
    const char *name;
};

/* Container `container` mounts volume `volume` (only volumes with volrefs). */
struct rl_mount {
    uint16_t container;
    uint16_t volume;
};

/* Container `container` references a source through env or envFrom. */
struct rl_envref {
    uint16_t container;
    uint8_t type;
    uint8_t via;
    const char *name;
};

/* A STAKATER_*_<TYPE> env var with a literal value. */
struct rl_envmarker {
    uint16_t container;
    const char *name;
    const char *value;
};

/* One entry of the "<prefix>/applied" record. */
struct rl_applied {
    uint8_t type;
    const char *name;
    const char *hash;
};

struct rl_workload {
    enum rl_kind kind;
    int64_t generation;
    const char *ns;
    const char *name;
    const char *uid;
    const char *resource_version;

    const struct rl_kv *meta_ann;   /* filtered metadata.annotations */
    const struct rl_kv *pod_ann;    /* filtered pod-template annotations */
    const char *const *containers;  /* names: [0, n_containers) regular, */
    const struct rl_volref *volrefs;/*   [n_containers, +n_init) init */
    const struct rl_mount *mounts;
    const struct rl_envref *envrefs;
    const struct rl_envmarker *markers;
    const struct rl_applied *applied;
    uint16_t n_meta_ann, n_pod_ann, n_containers, n_init;
    uint16_t n_volrefs, n_mounts, n_envrefs, n_markers, n_applied;

    /* Parsed last-reloaded-from (annotations strategy marker). */
    bool lrf_valid;
    uint8_t lrf_type;
    const char *lrf_name;
    const char *lrf_hash;

    bool has_record;                /* "<prefix>/applied" present (even "{}"), or ... */
    bool record_in_state;           /* ... the record is the workload state's (state.h) */
    bool applied_invalid;           /* "<prefix>/applied" present but bad */
    /* The record's rollout history (RL_APPLIED_ROLLOUTS_KEY), or NULL. */
    const char *rollouts;
    /* The record's pending mark (RL_APPLIED_PENDING_KEY, window.h): unix seconds, or 0. */
    int64_t pending_since_s;
    size_t mem_bytes;               /* size of the single allocation */

    /* Its rollout as the object shows it (enum rl_progress, progress.h), judged at decode. */
    uint8_t progress;
    /* Digest of the whole pod template: when it changes, new pods start. */
    uint64_t template_digest;
    /*
     * Set by the store (store.h) when it takes the workload, before any
     * reader sees it: the resourceVersion since which W's pods run their
     * current template (template_rv) and since which W's own annotations
     * are as they are (inputs_rv), both 0 if unchanged since the
     * informer's first list (W is older than what reloadd watched).
     */
    uint64_t template_rv;
    uint64_t inputs_rv;
    /* ... and since which our applied record is as it is (same rules). */
    uint64_t record_rv;
    /*
     * Set by the store: the version of W before its annotations last
     * changed while we watched (owned, freed with W; its own before_edit is
     * NULL), so a record made before that edit can be judged with the
     * annotations it was made under. NULL if none.
     */
    struct rl_workload *before_edit;
};

/*
 * Decodes obj (borrowed, may be deleted afterwards). RL_EPARSE if obj is
 * not an object with metadata.name, or a field has the wrong type where
 * the API server would never send it; RL_ETOOBIG past 65535 items of one
 * kind. On success *out is the caller's.
 */
int rl_workload_decode(const cJSON *obj, enum rl_kind kind,
                       const struct rl_workload_keys *keys,
                       struct rl_workload **out);
void rl_workload_free(struct rl_workload *w);

/*
 * A copy of w whose record is `record` (the JSON "<prefix>/applied" would
 * hold) taken from the workload state (state.h), or none (NULL): every
 * other field as in w, template_rv, inputs_rv and record_rv too; no
 * before_edit. For a w without a record of its own (has_record false, or
 * record_in_state). RL_ETOOBIG as decode; on success *out is the caller's.
 */
int rl_workload_with_record(const struct rl_workload *w, const char *record,
                            struct rl_workload **out);

/*
 * Whether a reconcile decides alike for two versions of a workload: the same
 * uid and generation (a new pod template moves the generation of every
 * kind) and the same annotations of the object (our record among them) and
 * of its pod template, as decoded. A status-only update decides alike.
 */
bool rl_workload_decides_alike(const struct rl_workload *a, const struct rl_workload *b);

/* Annotation value or NULL if the key is absent (or was filtered out). */
const char *rl_workload_meta(const struct rl_workload *w, const char *key);
const char *rl_workload_pod(const struct rl_workload *w, const char *key);

/* Whether any container or init container references the source (docs/reloader.md §5.2). */
bool rl_workload_references(const struct rl_workload *w, enum rl_source_type t,
                            const char *name);

/*
 * docs/reloader.md §5.3 getContainerUsingResource(): index into
 * containers[] (always a regular container, < n_containers) or -1
 * (NoContainerFound). A match only through an init container yields
 * container 0; auto_reload == false (explicit named reload) falls back to
 * container 0 without a reference.
 */
int rl_workload_pick_container(const struct rl_workload *w, enum rl_source_type t,
                               const char *name, bool auto_reload);

/* Value of env var `env` in regular container c (-1: first found in any). */
const char *rl_workload_env_marker(const struct rl_workload *w, int c, const char *env);

/* The "<prefix>/applied" hash of a source, or NULL. */
const char *rl_workload_applied(const struct rl_workload *w, enum rl_source_type t,
                                const char *name);

enum rl_recorded_from {
    RL_RECORDED_NONE,               /* no record: baseline needed */
    RL_RECORDED_APPLIED,            /* our metadata annotation */
    RL_RECORDED_ENV,                /* STAKATER_* env var (Reloader or us) */
    RL_RECORDED_ANNOTATION,         /* last-reloaded-from (Reloader or us) */
};

/*
 * The marker of one source in W's pod template under strategy s, in
 * container c (-1: none chosen): the STAKATER_* env var (env-vars) or the
 * last-reloaded-from annotation naming it (annotations); NULL if none, or
 * if the env var's name collides with another source of W (my-app vs
 * my.app, docs/reloader.md §3.1) and disagrees with our applied record.
 * *from says which.
 */
const char *rl_workload_marker(const struct rl_workload *w, enum rl_source_type t,
                               const char *name, enum rl_reload_strategy s, int c,
                               enum rl_recorded_from *from);

/*
 * The hash W's pods were last rolled for, for one source, under strategy s
 * with c the container rl_workload_pick_container() chose (-1: none). Only
 * the current strategy's marker counts (a stale env var left from an
 * earlier env-vars period must not roll an annotations-strategy workload
 * forever), and only in container c, where Reloader and we write it. The
 * pod-template marker describes the pods, so one that disagrees with our
 * applied record wins (Reloader may have rolled since) - unless its env
 * var name collides with another source W references or records (my-app
 * vs my.app, docs/reloader.md §3.1), where only the applied record tells
 * them apart.
 * Returns a hash pointing into w, or NULL (*from = RL_RECORDED_NONE).
 */
const char *rl_workload_recorded(const struct rl_workload *w, enum rl_source_type t,
                                 const char *name, enum rl_reload_strategy s, int c,
                                 enum rl_recorded_from *from);

/* Source origins reported by rl_workload_each_source(). */
#define RL_SRC_MOUNTED  0x1         /* a mounted volume references it */
#define RL_SRC_ENV      0x2         /* env / envFrom */
#define RL_SRC_APPLIED  0x4         /* in our applied record */
#define RL_SRC_LRF      0x8         /* named by last-reloaded-from */

typedef void rl_workload_source_fn(void *ctx, enum rl_source_type t,
                                   const char *name, unsigned origins);

/*
 * Calls fn once per distinct (type, name) the workload references or
 * records, for a reverse index. Named-reload patterns are not sources:
 * see rl_decide_reload_list() in decide.h.
 */
void rl_workload_each_source(const struct rl_workload *w, rl_workload_source_fn *fn,
                             void *ctx);

#endif /* RL_WORKLOAD_H */
