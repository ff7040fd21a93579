/*
 * cap.h - at most M workloads in a rollout at once, the others wait in order
 *
 * The admission of rollouts under a cluster-wide cap M (0: no cap). A
 * workload is "in flight" from the moment it is admitted until
 * rl_cap_finish() (the judge, progress.h, says DONE or FAILED), until
 * rl_cap_remove() (the workload was deleted), or until its slot is older
 * than the timeout (rl_cap_expire()). Changes beyond the cap wait in a FIFO
 * of workload keys ("deployment/ns/app", store.h), in order of arrival.
 *
 * Coalescing: a key already waiting keeps its place (admitting it again
 * only says WAIT), so a waiting workload rolls once, with whatever its
 * sources hold when its turn comes (reconcile reads the store then). A key
 * already in flight is admitted again at once and its slot's clock
 * restarts: it is still one workload in a rollout (the restart budget,
 * budget.h, is what limits how often one workload rolls).
 *
 * The caller's loop (to be wired in reconcile):
 *
 *   rl_cap_admit(key) == RL_CAP_ROLL  write the rollout; if no write is
 *                                     made after all, rl_cap_finish(key)
 *   judge DONE or FAILED              rl_cap_finish(key)
 *   workload deleted                  rl_cap_remove(key)
 *   periodically                      rl_cap_expire(now)
 *   after any of the three above      while ((k = rl_cap_next_ready())) enqueue k
 *
 * rl_cap_next_ready() hands the oldest waiting key the free slot (it is in
 * flight from then on) and returns it: the caller puts it on the workqueue,
 * and its reconcile's rl_cap_admit() finds it in flight and says ROLL. A key
 * that arrives while slots are free but others wait queues behind them, so
 * order of arrival holds even if the caller is slow to drain.
 *
 * Memory: one entry (about 48 bytes + the key, twice: map and entry) per
 * workload waiting or in flight; a key is in the cap at most once, so the
 * queue is bounded by the number of workloads reloadd watches, and the
 * in-flight set by M (or more, transiently, after rl_cap_adopt(), below).
 * Entries go when they finish, expire, leave or roll.
 *
 * Restart and failover: the cap is not persisted. A new leader refills it
 * from the cluster alone: for each workload of the store, judge its object
 * (rolled_generation 0) and ask rl_cap_in_rollout(); each one that says yes
 * is rl_cap_adopt()ed with its age, before any admission. What was waiting
 * needs no recovery: the reconciles the new leader runs at start re-admit
 * every workload whose change is still pending (level-triggered), in the
 * order they come.
 *
 * Time is a parameter: now_ms on a monotonic millisecond scale (the
 * caller's rl_clock_mono_ms()).
 *
 * Threads: any; one mutex inside, never held while calling back.
 */
#ifndef RL_CAP_H
#define RL_CAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloadd/reload/progress.h"

struct rl_cap;
struct rl_workload;

enum rl_cap_verdict {
    RL_CAP_ROLL,                        /* holds a slot: roll now */
    RL_CAP_WAIT,                        /* queued (or still queued): do not roll now */
};

/*
 * A cap of `max` rollouts at once (0: none, every admission rolls and
 * nothing is kept); a slot older than timeout_ms expires (0: never).
 */
struct rl_cap *rl_cap_new(unsigned max, uint64_t timeout_ms);
void rl_cap_free(struct rl_cap *c);

/*
 * Forgets every key, waiting or in flight: a new leader starts from the
 * cluster (rl_cap_adopt() below) and its own pass, not from what it saw
 * while it followed.
 */
void rl_cap_clear(struct rl_cap *c);

/* May `key` roll now? If not, it waits (in its old place if it already did). */
enum rl_cap_verdict rl_cap_admit(struct rl_cap *c, const char *key, uint64_t now_ms);

/*
 * Its rollout is over (DONE or FAILED), or no rollout was written: frees
 * its slot. True if it held one (the caller then drains rl_cap_next_ready()).
 * A waiting key keeps waiting.
 */
bool rl_cap_finish(struct rl_cap *c, const char *key);

/* The workload is gone: out of the queue, its slot freed. True if it held a slot. */
bool rl_cap_remove(struct rl_cap *c, const char *key);

typedef void rl_cap_key_fn(void *ctx, const char *key);

/*
 * Frees every slot held since now_ms - timeout or earlier; calls fn (may be
 * NULL) with each key freed, after the lock is released (fn may call back
 * into the cap), oldest first. Returns how many.
 */
size_t rl_cap_expire(struct rl_cap *c, uint64_t now_ms, rl_cap_key_fn *fn, void *ctx);

/*
 * If a slot is free and a key waits: the oldest waiting key, now in flight
 * since now_ms, as a string the caller frees. NULL otherwise.
 */
char *rl_cap_next_ready(struct rl_cap *c, uint64_t now_ms);

/*
 * Recovery: marks key in flight since now_ms - age_ms (out of the queue if
 * it waited), even beyond the cap - the cluster is as it is; admissions
 * wait until the count falls below M. Ignored with no cap.
 */
void rl_cap_adopt(struct rl_cap *c, const char *key, uint64_t age_ms, uint64_t now_ms);

/*
 * The recovery contract: whether workload w, whose object the judge found
 * `judged`, is one of reloadd's rollouts in flight, to be adopted after a
 * restart or failover; if so *age_ms is how long ago it started.
 *
 * Only a RUNNING rollout holds a slot (DONE and FAILED free theirs, as
 * rl_cap_finish() does), and only one of reloadd's: w carries its applied
 * record. When the record holds a rollout history (budget.h, "@rollouts"),
 * its last entry is when reloadd last rolled w: older than timeout_s, the
 * slot would have expired (someone else's rollout, or a stuck one: not
 * adopted); else the age is now_s minus it (0 if in the future). Without a
 * history (no restart budget: none is written) a RUNNING workload with our
 * record is adopted with age 0: a rollout by someone else may hold a slot
 * for one timeout at most. Times in unix seconds (the history's scale).
 */
bool rl_cap_in_rollout(const struct rl_workload *w, enum rl_progress judged, int64_t now_s,
                       int64_t timeout_s, uint64_t *age_ms);

struct rl_cap_counts {
    unsigned max;
    size_t in_flight;                   /* may exceed max after adoptions */
    size_t waiting;
    uint64_t oldest_wait_ms;            /* how long the head of the queue has waited */
    uint64_t admitted_total;            /* ROLL answers to keys not in flight, and next_ready */
    uint64_t queued_total;              /* keys that joined the queue */
    uint64_t coalesced_total;           /* admissions of a key already waiting */
    uint64_t expired_total;
};

/* Counts for metrics, at now_ms. */
void rl_cap_counts(struct rl_cap *c, uint64_t now_ms, struct rl_cap_counts *out);

#endif /* RL_CAP_H */
