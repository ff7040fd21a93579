/*
 * gate.h - health-gated propagation: a first batch rolls, the rest follow if it is healthy
 *
 * When one version of a source (a ConfigMap's or Secret's hash) triggers
 * many workloads, the first N workloads that ask roll (the first batch);
 * the others wait until every one of the batch is DONE (progress.h), and
 * are held if one of them FAILED or did not get there within the timeout:
 * that version of the source stops propagating. A new version of the
 * source starts afresh (a new batch), so fixing the source is the way out.
 *
 * Per source, keyed "configmap/<ns>/<name>" (store.h's source keys), and
 * per version: the batch's workload keys, when each started and how each
 * ended. rl_gate_check() gives the verdict for one workload:
 *
 *   RL_GATE_ROLL  it is of the first batch (joining it while there is room
 *                 and the version is not held), or the batch all came out
 *                 DONE (the version passed);
 *   RL_GATE_WAIT  the batch is full and some of it is still running;
 *   RL_GATE_HOLD  one of the batch FAILED, or was not DONE within the
 *                 timeout (counted from its rl_gate_check() ROLL, restarted
 *                 by its first RUNNING report: when its rollout was
 *                 written; a DONE reported past it is too late). Sticky for
 *                 the version; so is passing.
 *
 * The wiring reports each batch member's judge result with
 * rl_gate_report(); a member whose reconcile wrote nothing after all is
 * reported DONE. A batch member deleted leaves the batch
 * (rl_gate_forget_workload()), and the next workload to ask takes its place.
 * With the cap (cap.h) too, ask the gate once the cap has given a slot, so
 * that a member's clock does not run while it waits in the cap's queue;
 * a WAIT or HOLD then gives the slot back (rl_cap_finish()).
 *
 * Memory: at most max_sources sources tracked, each with its batch (N
 * workload keys, about 32 bytes + the key each) and its version string.
 * Past max_sources the entry least recently asked about goes, a passed one
 * first, then a held one, then a running one (a scan of the sources, only
 * when full). Evicting a source costs at most one more batch of N for the
 * version it held: the next workload to ask starts the batch anew.
 *
 * Time is a parameter: now_ms on a monotonic millisecond scale.
 * Threads: any; one mutex inside.
 */
#ifndef RL_GATE_H
#define RL_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reloadd/reload/progress.h"

struct rl_gate;

enum rl_gate_verdict {
    RL_GATE_ROLL,
    RL_GATE_WAIT,
    RL_GATE_HOLD,
};

#define RL_GATE_VERSION_MAX 64          /* longer versions are cut (a SHA-1 is 40) */

/* "roll", "wait", "hold". */
const char *rl_gate_verdict_name(enum rl_gate_verdict v);

/*
 * A gate with first batches of `batch` workloads (0: no gate, every check
 * rolls and nothing is kept), a member timing out after timeout_ms (0:
 * never), tracking at most max_sources sources (at least 1).
 */
struct rl_gate *rl_gate_new(unsigned batch, uint64_t timeout_ms, size_t max_sources);
void rl_gate_free(struct rl_gate *g);

/*
 * May workload wkey roll for version `version` of source src? *in_batch
 * (may be NULL) says whether wkey is of the first batch.
 */
enum rl_gate_verdict rl_gate_check(struct rl_gate *g, const char *src, const char *version,
                                   const char *wkey, uint64_t now_ms, bool *in_batch);

/*
 * A batch member's rollout, as the judge sees it: RUNNING (the first one
 * restarts its clock: the rollout is written), DONE or FAILED (final).
 * Ignored (false) unless wkey is of the batch of this version of src.
 */
bool rl_gate_report(struct rl_gate *g, const char *src, const char *version, const char *wkey,
                    enum rl_progress p, uint64_t now_ms);

/* Whether wkey is of the batch of this version of src (nothing changes). */
bool rl_gate_member(struct rl_gate *g, const char *src, const char *version, const char *wkey);

/* Workload wkey is gone: it leaves every batch it is in. */
void rl_gate_forget_workload(struct rl_gate *g, const char *wkey);
/* Source src is gone: forgotten. */
void rl_gate_forget_source(struct rl_gate *g, const char *src);
/* Everything forgotten (a new leader starts afresh); the counters stay. */
void rl_gate_clear(struct rl_gate *g);

/* The state of src's current version, for /explain and tests. */
struct rl_gate_info {
    bool tracked;                       /* false: nothing known of src */
    char version[RL_GATE_VERSION_MAX + 1];
    enum rl_gate_verdict verdict;       /* for a workload not of the batch */
    unsigned members, done, failed, timed_out;
    /* While the verdict is WAIT: when the first running member times out (0: never). */
    uint64_t deadline_ms;
};
void rl_gate_info(struct rl_gate *g, const char *src, uint64_t now_ms, struct rl_gate_info *out);

struct rl_gate_counts {
    size_t sources;                     /* tracked */
    size_t held;                        /* of which held */
    uint64_t evicted_total;
    uint64_t held_total;                /* versions that became held */
};
void rl_gate_counts(struct rl_gate *g, struct rl_gate_counts *out);

#endif /* RL_GATE_H */
