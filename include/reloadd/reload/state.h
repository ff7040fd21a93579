/*
 * state.h - the workload state: records of workloads that never rolled,
 * kept in reloadd's own namespace instead of on the workloads
 *
 * A workload reloadd has judged but never rolled needs a record of the
 * source versions it was judged with (its baseline), so that a change made
 * while no replica watched is still found after a restart. Writing that
 * record on the workload itself (the "<prefix>/applied" annotation) costs a
 * write per workload on a first install and wakes every watcher of
 * Deployments in the cluster. The state keeps those records in ConfigMaps
 * of reloadd's own namespace instead (docs/reconcile.md "The workload
 * state"):
 *
 *  - RL_STATE_SHARDS ConfigMaps "reloadd-state-NN", labelled
 *    RL_STATE_LABEL=RL_STATE_LABEL_VALUE; workload key "kind/ns/name" goes
 *    to shard FNV-1a(key) % RL_STATE_SHARDS under the data key
 *    "kind_ns_name" ('_' is in no kind, namespace or name);
 *  - the value "<uid> <rv> <record>": the workload's uid (an entry of a
 *    deleted and re-created workload does not apply), its resourceVersion
 *    when the record was decided (the record's age, as record_rv in
 *    workload.h), and the record as the annotation would hold it.
 *
 * A workload's own annotation always wins: a rollout writes the template
 * and the record in one write, on the workload, as before; the state only
 * ever holds records of workloads without an annotation record, and its
 * entry of a workload that has one is removed by the next batch.
 *
 * struct rl_state is the table: per shard what the informer last saw of its
 * ConfigMap (observed) and what the leader decided and has not seen
 * written yet (pending). The effective entry of a workload is its pending
 * one, else its observed one. A batch (rl_state_take_batch()) is the JSON
 * merge patch of one dirty shard: the pending entries that differ from
 * what is observed, and the removal of every entry the caller no longer
 * keeps. Pending entries go once the informer shows them written.
 *
 * Threads: none; the store (store.h) owns the table and locks it.
 */
#ifndef RL_STATE_H
#define RL_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define RL_STATE_SHARDS 64u
#define RL_STATE_NAME_PREFIX "reloadd-state-"
#define RL_STATE_NAME_MAX 32
#define RL_STATE_LABEL "reloadd.io/state"
#define RL_STATE_LABEL_VALUE "workloads"
/* A ConfigMap holds at most 1 MiB; a shard takes no new entry past this. */
#define RL_STATE_SHARD_MAX_BYTES (768u * 1024u)
/* A ConfigMap data key: at most 253 of [-._a-zA-Z0-9]. */
#define RL_STATE_KEY_MAX 253
#define RL_STATE_UID_MAX 64

/* ---- codec (pure) ---------------------------------------------------------- */

/* The shard of a workload key. */
unsigned rl_state_shard_of(const char *wkey);
/* "reloadd-state-07" into out (RL_STATE_NAME_MAX); false if shard is out of range. */
bool rl_state_shard_name(unsigned shard, char *out, size_t len);
/* The shard a ConfigMap name stands for; false if it names none. */
bool rl_state_shard_parse(const char *name, unsigned *shard);
/*
 * "kind/ns/name" -> "kind_ns_name"; false if the key cannot be one (a '_'
 * in it, a character a data key may not hold, or longer than
 * RL_STATE_KEY_MAX): such a workload keeps its record on itself.
 */
bool rl_state_data_key(const char *wkey, char *out, size_t len);
/* The inverse; false if dkey is not a data key of a workload. */
bool rl_state_wkey(const char *dkey, char *out, size_t len);

/* One entry, decoded: pointers into the value. */
struct rl_state_entry {
    char uid[RL_STATE_UID_MAX];
    uint64_t rv;
    const char *record;             /* the record's JSON, as the annotation holds it */
};
/* "<uid> <rv> <record>", malloc'd; NULL if uid has a space or is empty. */
char *rl_state_value(const char *uid, uint64_t rv, const char *record);
/* false if v is not a value rl_state_value() makes. */
bool rl_state_value_parse(const char *v, struct rl_state_entry *out);

/* ---- the table ------------------------------------------------------------- */

struct rl_state;

struct rl_state *rl_state_new(void);
void rl_state_free(struct rl_state *st);

/* The effective value of W (pending, else observed), or NULL. */
const char *rl_state_get(const struct rl_state *st, const char *wkey);

typedef void rl_state_changed_fn(void *ctx, const char *wkey);
/*
 * The informer saw shard's ConfigMap: data is its "data" object, or NULL
 * when it is gone. Calls changed(ctx, wkey) for each workload whose
 * effective value changed. Pending entries now written are dropped.
 */
void rl_state_observe(struct rl_state *st, unsigned shard, const cJSON *data,
                      rl_state_changed_fn *changed, void *ctx);
/*
 * Sets W's entry (value NULL: removes it) as pending, and marks its shard
 * dirty. RL_EINVAL if W's key has no data key, RL_ETOOBIG if the shard is
 * full: then W keeps its record on itself.
 */
int rl_state_put(struct rl_state *st, const char *wkey, const char *value);
/*
 * W was deleted: the next batch removes its entry (gone), unless W comes
 * back first (alive). An entry of a workload this table's owner never saw
 * is another's (a reloadd watching other namespaces, in the same
 * namespace): it is kept.
 */
void rl_state_gone(struct rl_state *st, const char *wkey);
void rl_state_alive(struct rl_state *st, const char *wkey);
/* Marks W's shard dirty (the next batch looks at its entries again). */
void rl_state_touch(struct rl_state *st, const char *wkey);
void rl_state_touch_shard(struct rl_state *st, unsigned shard);
void rl_state_touch_all(struct rl_state *st);
/*
 * Drops every pending entry (leadership lost: what the next leader writes
 * is what counts), calling changed() for each workload whose effective
 * value changes.
 */
void rl_state_forget_pending(struct rl_state *st, rl_state_changed_fn *changed, void *ctx);

/*
 * Whether the caller keeps W's entry `value`: not if W exists with another
 * uid or with an annotation record; an unknown W's entry is kept (gone
 * above removes those of workloads seen deleted).
 */
typedef bool rl_state_keep_fn(void *ctx, const char *wkey, const char *value);
/*
 * The batch of shard, if it is dirty: *data becomes the JSON merge patch of
 * its "data" (a member per entry to set, null per entry to remove) and
 * *create whether its ConfigMap must be created first (no null members
 * then). Returns false, *data NULL, when there is nothing to send. The
 * shard is clean afterwards: rl_state_touch() it again if the write fails.
 */
bool rl_state_take_batch(struct rl_state *st, unsigned shard, rl_state_keep_fn *keep,
                         void *ctx, cJSON **data, bool *create);

struct rl_state_counts {
    size_t entries;                 /* observed entries */
    size_t pending;                 /* entries decided, not yet seen written */
    size_t bytes;                   /* observed keys and values */
    unsigned shards;                /* shards whose ConfigMap exists */
    unsigned dirty;
};
void rl_state_counts(const struct rl_state *st, struct rl_state_counts *out);

#endif /* RL_STATE_H */
