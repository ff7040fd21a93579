/*
 * statewriter.h - the batch writer of the workload state (state.h)
 *
 * One thread. Every period (1 s), while the caller leads and its caches
 * are synced, it takes each dirty shard's batch from the store
 * (rl_store_state_batch()) and sends it: one JSON merge patch of the
 * ConfigMap "reloadd-state-NN" of namespace ns, or its creation when it
 * does not exist yet. A failed write marks its shard dirty again; the next
 * period retries it. So the state costs at most RL_STATE_SHARDS writes a
 * period, whatever the number of workloads decided in it.
 *
 * Budget: the thread's requests are background requests (kube.h): they use
 * only spare tokens of --kube-api-qps, so a rollout never queues behind a
 * state write; a batch that finds none within RL_KUBE_BACKGROUND_WAIT_MS is
 * put off to the next period (counted as deferred). Under steady churn at
 * the QPS limit the state waits for a quiet moment; its entries are
 * records of workloads that did not roll, or removals of entries a rollout
 * made stale (the workload's own record wins over them meanwhile).
 *
 * Leadership: the writes go through the caller's write fence (kube.h), so
 * a deposed leader sends nothing. On becoming leader the writer looks at
 * every shard once (entries of workloads deleted while it followed go);
 * on losing it, the store forgets the entries it had decided and not yet
 * seen written (the next leader decides anew).
 *
 * Stopping: rl_state_writer_stop() joins the thread, then sends what is due
 * once more if the caller may still write; a graceful stop calls
 * rl_state_writer_flush() before it hands the Lease over.
 *
 * Threads: new/start/stop/free from one owner thread; flush from any.
 */
#ifndef RL_STATEWRITER_H
#define RL_STATEWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "reloadd/kube/kube.h"

struct rl_store;
struct rl_state_writer;

struct rl_state_writer_hooks {
    bool (*ready)(void *ctx);               /* caches synced */
    bool (*may_write)(void *ctx);           /* leading now */
    rl_kube_fence_fn *fence_left;           /* the write fence (kube.h); NULL: none */
    void *ctx;
};

struct rl_state_writer_stats {
    uint64_t writes;                        /* patches and creations sent */
    uint64_t failures;
    uint64_t deferred;                      /* batches that found no spare API budget */
};

struct rl_state_writer *rl_state_writer_new(struct rl_store *store, struct rl_kube *kube,
                                            const char *ns, uint64_t period_ms,
                                            const struct rl_state_writer_hooks *hooks);
void rl_state_writer_start(struct rl_state_writer *w);
void rl_state_writer_stop(struct rl_state_writer *w);
/* Sends what is due now, if the caller may write (a graceful stop); false if a write failed. */
bool rl_state_writer_flush(struct rl_state_writer *w);
void rl_state_writer_free(struct rl_state_writer *w);
void rl_state_writer_stats(struct rl_state_writer *w, struct rl_state_writer_stats *out);

#endif /* RL_STATEWRITER_H */
