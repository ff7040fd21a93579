/*
 * store.h - compact caches of sources and workloads, and the reverse index
 *
 * What the informers saw, reduced at once to what reconcile needs:
 *
 *  - sources (ConfigMaps, Secrets): per "configmap/<ns>/<name>" the hash
 *    of its data (20 bytes, never the data) and whether its ignore/match
 *    annotations are "true";
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
 * Locking: one rwlock. Mutators (the informer thread) take it for
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

#include "reloadd/workload.h"

struct rl_options;
struct rl_regex_cache;
struct rl_store;

struct rl_source {
    unsigned char sha1[20];
    bool ignore;                    /* its ignore annotation == "true" */
    bool match;                     /* its match annotation == "true" */
    /*
     * Seen live, after the first list of its informer: created_live, it
     * appeared; changed_live, its data changed. A stale record of a source
     * seen neither way changed while no reloadd was looking.
     */
    bool created_live;
    bool changed_live;
    uint32_t epoch;                 /* private */
};

typedef void rl_store_enqueue_fn(void *ctx, const char *wkey);

struct rl_store *rl_store_new(const struct rl_options *o, struct rl_regex_cache *rc);
void rl_store_free(struct rl_store *s);

/* "configmap/ns/name" / "deployment/ns/name" into out. */
void rl_store_source_key(char *out, size_t len, enum rl_source_type t, const char *ns,
                         const char *name);
void rl_store_workload_key(char *out, size_t len, enum rl_kind k, const char *ns,
                           const char *name);
/* Splits a workload key; false if malformed. Pointers into key; ns/name lengths out. */
bool rl_store_parse_workload_key(const char *key, enum rl_kind *k, const char **ns,
                                 size_t *ns_len, const char **name);

/*
 * Mutators: informer thread only. `live` is false while the informer's
 * first list is being applied, true afterwards.
 */
void rl_store_put_source(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, const char *sha1_hex, bool ignore, bool match,
                         bool live, uint32_t epoch, rl_store_enqueue_fn *enqueue, void *ctx);
void rl_store_del_source(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, rl_store_enqueue_fn *enqueue, void *ctx);
/* Takes over w. */
void rl_store_put_workload(struct rl_store *s, struct rl_workload *w, uint32_t epoch,
                           rl_store_enqueue_fn *enqueue, void *ctx);
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
/* Calls fn for each source of type t in namespace ns (a scan; named-reload only). */
typedef void rl_store_source_fn(void *ctx, const char *name, const struct rl_source *src);
void rl_store_each_source_in(struct rl_store *s, enum rl_source_type t, const char *ns,
                             rl_store_source_fn *fn, void *ctx);
/* Calls fn with every workload key (for full reconciles). */
void rl_store_each_workload(struct rl_store *s, rl_store_enqueue_fn *fn, void *ctx);
/* Workload keys that reference or record a source (for /explain and tests). */
void rl_store_dependents(struct rl_store *s, enum rl_source_type t, const char *ns,
                         const char *name, rl_store_enqueue_fn *fn, void *ctx);

struct rl_store_counts {
    size_t sources[RL_SOURCE_COUNT];
    size_t workloads[RL_KIND_COUNT];
    size_t index_edges;             /* source -> workload links */
    size_t named_workloads;         /* workloads with a named-reload list */
    size_t workload_bytes;          /* sum of rl_workload.mem_bytes */
};
void rl_store_counts(struct rl_store *s, struct rl_store_counts *out);

/* The lower-case kind used in keys: "deployment". */
const char *rl_kind_key(enum rl_kind k);

#endif /* RL_STORE_H */
