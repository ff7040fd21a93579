/*
 * store.h - compact caches of sources and workloads, and the reverse index
 *
 * What the informers saw, reduced at once to what reconcile needs:
 *
 *  - sources (ConfigMaps, Secrets, SecretProviderClasses): per
 *    "configmap/<ns>/<name>" the hash of its data (20 bytes, never the
 *    data; for a SecretProviderClass the hash its pod statuses last
 *    changed to, csi.h) and whether its ignore/match annotations are "true";
 *  - workloads: per "<kind>/<ns>/<name>" (kind in lower case, e.g.
 *    "deployment/ns/app") a struct rl_workload (workload.h), immutable;
 *  - the reverse index: source key -> the workloads that reference or
 *    record it, and per namespace the workloads carrying a named-reload
 *    list (the typed "reload" annotations), whose patterns are matched when a source changes.
 *
 * Every change reports the workload keys it concerns through an enqueue
 * callback: a source change costs O(its dependents) and no API call. A
 * workload change reports the workload itself when something reconcile
 * reads changed (generation, annotations, references, markers), not on
 * status-only updates.
 *
 * Relists are exact: each entry carries the epoch of the list that last
 * saw it; rl_store_sweep() drops what an epoch did not see.
 *
 * Locking: one rwlock. Mutators (the informer threads: the controller's,
 * and with --enable-csi-integration the CSI driver's, which alone writes
 * SecretProviderClass sources, csi.h) take it for
 * writing and call `enqueue` while holding it: an enqueue callback must
 * not call back into the store. Readers (workers) bracket their reads with
 * rl_store_rdlock()/rl_store_unlock(); pointers returned by the getters are
 * valid only until the unlock.
 */
#ifndef RL_STORE_H
#define RL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/base/hash.h"
#include "reloadd/reload/workload.h"

struct rl_policy;
struct rl_regex_cache;
struct rl_store;

struct rl_source {
    struct rl_sha1 sha1;
    bool ignore;                    /* its ignore annotation == "true" */
    bool match;                     /* its match annotation == "true" */
    /*
     * What reloadd saw live, after its informer's first list, as the
     * resourceVersion (etcd revision) of the event: created_rv, it
     * appeared; changed_rv, its data last changed (0: not seen so). The
     * reconcile contract (reconcile.h) orders them against a workload's
     * template_rv and inputs_rv: revisions order the events of different
     * watches as etcd applied them, whatever order they arrive in.
     */
    uint64_t created_rv;
    uint64_t changed_rv;
    uint32_t epoch;                 /* private */
    uint32_t ns_slot;               /* private: its place in its namespace's list */
};

/* A live event whose resourceVersion is not a number: taken as the latest seen. */
#define RL_STORE_RV_UNKNOWN UINT64_MAX

/* Parses a resourceVersion: RL_STORE_RV_UNKNOWN if it is not a decimal number. */
uint64_t rl_store_parse_rv(const char *rv);

typedef void rl_store_enqueue_fn(void *ctx, const char *wkey);

struct rl_store *rl_store_new(const struct rl_policy *pol, struct rl_regex_cache *rc);
void rl_store_free(struct rl_store *s);

/* Room for any store key: kind (≤ 12) + namespace (≤ 63) + name (≤ 253) + slack. */
#define RL_STORE_KEY_MAX 600

/* "configmap/ns/name" / "deployment/ns/name" into out. */
void rl_store_source_key(char *out, size_t len, enum rl_source_type t, const char *ns,
                         const char *name);
void rl_store_workload_key(char *out, size_t len, enum rl_kind k, const char *ns,
                           const char *name);
/* Splits a workload key; false if malformed. Pointers into key; ns/name lengths out. */
bool rl_store_parse_workload_key(const char *key, enum rl_kind *k, const char **ns,
                                 size_t *ns_len, const char **name);

/*
 * Mutators: informer threads only (one writer per source type).
 * `live_rv` is 0 while the informer's first list is being applied, and
 * afterwards the resourceVersion of the object (or RL_STORE_RV_UNKNOWN).
 */
void rl_store_put_source(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, const struct rl_sha1 *sha1, bool ignore, bool match,
                         uint64_t live_rv, uint32_t epoch, rl_store_enqueue_fn *enqueue,
                         void *ctx);
/*
 * A live deletion leaves a tombstone holding `rv`, the resourceVersion of
 * the deletion (0: unknown, e.g. gone from a relist: the latest seen), so
 * that a workload first seen after the deletion's event but created before
 * the deletion still rolls for it (reconcile.h). A tombstone goes when the
 * source comes back; the oldest go beyond RL_STORE_MAX_TOMBSTONES.
 */
void rl_store_del_source(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, uint64_t rv, rl_store_enqueue_fn *enqueue,
                         void *ctx);
#define RL_STORE_MAX_TOMBSTONES 16384
/*
 * Takes over w and sets its template_rv and inputs_rv (workload.h) from
 * the entry it replaces: live_rv when its pod template (or uid) changed,
 * resp. its annotations other than our applied record, else kept.
 */
void rl_store_put_workload(struct rl_store *s, struct rl_workload *w, uint64_t live_rv,
                           uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx);
void rl_store_del_workload(struct rl_store *s, enum rl_kind k, const char *ns, const char *name,
                           rl_store_enqueue_fn *enqueue, void *ctx);
/*
 * Drops sources of type t (is_source) or workloads of kind k, in namespace
 * ns (NULL: all), whose epoch differs from `epoch`, as deletions.
 */
void rl_store_sweep_sources(struct rl_store *s, enum rl_source_type t, const char *ns,
                            uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx);
void rl_store_sweep_workloads(struct rl_store *s, enum rl_kind k, const char *ns,
                              uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx);

/* Readers. */
void rl_store_rdlock(struct rl_store *s);
void rl_store_unlock(struct rl_store *s);
const struct rl_workload *rl_store_workload(struct rl_store *s, const char *wkey);
const struct rl_source *rl_store_source(struct rl_store *s, enum rl_source_type t,
                                        const char *ns, const char *name);
/*
 * The tombstone of a source deleted live: the resourceVersion of the
 * deletion (0: none) and the annotations it had then (*ignore, *match).
 */
uint64_t rl_store_tombstone(struct rl_store *s, enum rl_source_type t, const char *ns,
                            const char *name, bool *ignore, bool *match);
/*
 * Calls fn for each source of type t in namespace ns (named-reload lists):
 * O(the sources of that namespace), through a per-namespace list.
 */
typedef void rl_store_source_fn(void *ctx, const char *name, const struct rl_source *src);
void rl_store_each_source_in(struct rl_store *s, enum rl_source_type t, const char *ns,
                             rl_store_source_fn *fn, void *ctx);
/* The same for the tombstones of sources of type t deleted from ns (src NULL). */
void rl_store_each_tombstone_in(struct rl_store *s, enum rl_source_type t, const char *ns,
                                rl_store_source_fn *fn, void *ctx);
/* Calls fn with every workload key (for full reconciles). */
void rl_store_each_workload(struct rl_store *s, rl_store_enqueue_fn *fn, void *ctx);
/* Workload keys that reference or record a source (for /explain and tests). */
void rl_store_dependents(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, rl_store_enqueue_fn *fn, void *ctx);

/*
 * The workload state (state.h), off until enabled: records of workloads
 * without one of their own, kept in reloadd's namespace. A workload whose
 * state entry names its uid is kept as if its annotation held the record
 * (record_in_state, record_rv the entry's), whichever arrives first.
 *
 * rl_store_observe_state(): the informer of the state's ConfigMaps saw
 * shard's (data NULL: gone). rl_store_set_state(): the leader decided W's
 * record (W's uid, W's resourceVersion then, the record's JSON): W takes it
 * at once and the next batch writes it; RL_ENOENT if the store holds no W of
 * that uid any more (a reconcile of the new one follows), RL_EINVAL if the
 * state is off, W has a record of its own or its key cannot be a state key,
 * RL_ETOOBIG if the shard is full (W keeps its record on itself then).
 * rl_store_state_batch(): the batch of one shard (state.h), also removing
 * the entries of workloads gone, re-created, or with a record of their own.
 * rl_store_state_touch(): marks one shard (RL_STATE_SHARDS: all) for the
 * next batch. rl_store_state_forget_pending(): leadership lost.
 */
struct rl_state_counts;
void rl_store_enable_state(struct rl_store *s);
bool rl_store_state_enabled(struct rl_store *s);
void rl_store_observe_state(struct rl_store *s, unsigned shard, const cJSON *data);
int rl_store_set_state(struct rl_store *s, const char *wkey, const char *uid, uint64_t rv,
                       const char *record);
bool rl_store_state_batch(struct rl_store *s, unsigned shard, cJSON **data, bool *create);
void rl_store_state_touch(struct rl_store *s, unsigned shard);
void rl_store_state_forget_pending(struct rl_store *s);
void rl_store_state_counts(struct rl_store *s, struct rl_state_counts *out);

struct rl_store_counts {
    size_t sources[RL_SOURCE_COUNT];
    size_t workloads[RL_KIND_MAX];
    size_t index_edges;             /* source -> workload links */
    size_t named_workloads;         /* workloads with a named-reload list */
    size_t workload_bytes;          /* sum of rl_workload.mem_bytes */
    size_t tombstones;              /* deleted sources remembered */
};
void rl_store_counts(struct rl_store *s, struct rl_store_counts *out);
/* The workloads of each kind cached in namespace ns (takes the read lock). */
void rl_store_count_in(struct rl_store *s, const char *ns, size_t out[RL_KIND_MAX]);

#endif /* RL_STORE_H */
