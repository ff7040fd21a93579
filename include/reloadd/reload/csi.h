/*
 * csi.h - SecretProviderClasses (Secrets Store CSI driver) as sources
 *
 * A secret mounted through the CSI driver rotates without any Kubernetes
 * Secret changing. The driver writes one SecretProviderClassPodStatus per
 * pod and SecretProviderClass, listing the versions the pod mounted
 * (status.objects[{id, version}]). reloadd follows them as Reloader does
 * (docs/reloader.md §4.1, §5.5): the source is the SecretProviderClass
 * named by status.secretProviderClassName, in the status object's
 * namespace; its hash is that of the status's objects, as
 * docs/reloader.md §4.1 says.
 *
 * The tracker turns those many status objects into one store source per
 * (namespace, SecretProviderClass) (store.h, type RL_SOURCE_SPC):
 *
 *  - per status object it keeps only the class it names and its hash
 *    (20 bytes), never the objects: an update counts only when that
 *    status's own hash changed (or its objects were absent before,
 *    docs/reloader.md §4.2); an added status object never counts
 *    (docs/reloader.md §5.5), nor a deleted one;
 *  - the store source takes the hash the last counted update changed to,
 *    so N pods reporting one rotation set it once: one change, one
 *    rollout per workload, however many pods report it;
 *  - on the first list (before the informer synced), the newest status
 *    object (highest resourceVersion) of a class gives its hash, with no
 *    change recorded (a baseline);
 *  - the SecretProviderClass objects give the ignore and match annotations
 *    (docs/reloader.md §2.1), from a watch, never a GET per workload;
 *  - a source exists while its class object or a status object naming it
 *    does and some status has reported objects; it goes (a tombstone in
 *    the store, which never rolls a workload for an SPC) when both are gone.
 *
 * Threads: one lock inside; the mutators are meant for one informer thread
 * (the store's enqueue callback runs under the store's lock, store.h).
 */
#ifndef RL_CSI_H
#define RL_CSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/base/hash.h"
#include "reloadd/reload/store.h"

/* The CSI driver's API, watched only when discovery finds it served. */
#define RL_CSI_GROUP            "secrets-store.csi.x-k8s.io"
#define RL_CSI_GROUP_VERSION    "secrets-store.csi.x-k8s.io/v1"
#define RL_CSI_API_PREFIX       "/apis/secrets-store.csi.x-k8s.io/v1"
#define RL_CSI_STATUSES         "secretproviderclasspodstatuses"
#define RL_CSI_CLASSES          "secretproviderclasses"

/* What a SecretProviderClassPodStatus holds for the decision; pointers into the JSON. */
struct rl_csi_status {
    const char *ns;
    const char *name;               /* the status object's own name */
    const char *spc;                /* status.secretProviderClassName */
    const char *pod;                /* status.podName (logs only) */
    uint64_t rv;                    /* metadata.resourceVersion (rl_store_parse_rv) */
    bool has_objects;               /* status.objects is a list (Go: not nil) */
    struct rl_sha1 sha1;            /* docs/reloader.md §4.1 */
};

/*
 * Decodes a SecretProviderClassPodStatus (borrowed; out points into it).
 * RL_EPARSE without metadata.name or status.secretProviderClassName, or
 * with objects of the wrong type.
 */
int rl_csi_status_decode(const cJSON *obj, struct rl_csi_status *out);

/* What a status object's upsert was, for the event metrics (docs/reloader.md §8). */
enum rl_csi_event {
    RL_CSI_ADDED,                   /* a new status object: never a change */
    RL_CSI_SAME,                    /* an update with the same objects */
    RL_CSI_CHANGED,                 /* an update with other objects: a change */
};

struct rl_csi;

/* The tracker feeds `store` (borrowed; outlives it). */
struct rl_csi *rl_csi_new(struct rl_store *store);
void rl_csi_free(struct rl_csi *c);

/*
 * A status object was listed or watched. `live`: after the informer's
 * first list (a change counts, at st->rv); epoch: of the list that saw it.
 */
enum rl_csi_event rl_csi_put_status(struct rl_csi *c, const struct rl_csi_status *st, bool live,
                                    uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx);
/* A status object went (its pod did); rv: of the deletion, 0 if unknown. */
void rl_csi_del_status(struct rl_csi *c, const char *ns, const char *name, uint64_t rv,
                       rl_store_enqueue_fn *enqueue, void *ctx);

/* A SecretProviderClass was listed or watched: its ignore/match annotations are "true". */
void rl_csi_put_class(struct rl_csi *c, const char *ns, const char *name, bool ignore,
                      bool match, uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx);
void rl_csi_del_class(struct rl_csi *c, const char *ns, const char *name, uint64_t rv,
                      rl_store_enqueue_fn *enqueue, void *ctx);

/* Relists: drop the status objects (classes) of ns (NULL: all) an epoch did not see. */
void rl_csi_sweep_statuses(struct rl_csi *c, const char *ns, uint32_t epoch,
                           rl_store_enqueue_fn *enqueue, void *ctx);
void rl_csi_sweep_classes(struct rl_csi *c, const char *ns, uint32_t epoch,
                          rl_store_enqueue_fn *enqueue, void *ctx);

struct rl_csi_counts {
    size_t statuses;                /* status objects tracked */
    size_t classes;                 /* (namespace, class) pairs tracked */
};
void rl_csi_counts(struct rl_csi *c, struct rl_csi_counts *out);

#endif /* RL_CSI_H */
