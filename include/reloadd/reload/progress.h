/*
 * progress.h - has a workload's rollout finished, failed, or is it still running?
 *
 * rl_progress_judge() reads a workload as the API returns it (cJSON, the
 * object a watch event or a GET carries) and says whether the rollout that
 * reloadd's write started is DONE (new generation observed, every desired
 * pod updated and available, no old pod left), RUNNING, or FAILED. It
 * applies the rules of `kubectl rollout status` (kubectl's
 * polymorphichelpers/rollout_status.go), per kind:
 *
 *  Deployment   observedGeneration >= the generation waited for; then a
 *               Progressing condition with reason ProgressDeadlineExceeded
 *               is FAILED; else RUNNING while updatedReplicas <
 *               spec.replicas, while status.replicas > updatedReplicas (old
 *               pods pending termination), while availableReplicas <
 *               updatedReplicas; DONE after.
 *  DaemonSet    updateStrategy OnDelete: DONE at once (pods change only when
 *               deleted). Else observedGeneration, then RUNNING while
 *               updatedNumberScheduled or numberAvailable <
 *               desiredNumberScheduled.
 *  StatefulSet  updateStrategy OnDelete: DONE at once. Else observedGeneration
 *               (absent or 0: RUNNING), RUNNING while readyReplicas <
 *               spec.replicas; with a partition P > 0, DONE once
 *               updatedReplicas >= spec.replicas - P (the pods below P are
 *               not meant to change); with none, RUNNING while
 *               updatedReplicas < spec.replicas or currentRevision !=
 *               updateRevision (the controller makes them equal when the
 *               rolling update completes).
 *  Rollout      (Argo) observedGeneration, a decimal string (Argo's type is
 *               a string; releases after argo-rollouts#3402 write a number,
 *               also read) - a non-decimal string is a pre-0.10 spec hash and
 *               counts as observed, as Argo's own client (GetRolloutPhase)
 *               takes it; status.controllerPause with no pauseConditions
 *               is RUNNING (unpausing); then status.phase Healthy: DONE,
 *               Degraded: FAILED, anything else (Progressing, Paused, none):
 *               RUNNING.
 *  CronJob, Job DONE at once: a Job run is its own write, a CronJob's next
 *               run is its schedule's.
 *
 * The generation waited for is the larger of `rolled_generation` (what
 * reloadd's rollout write answered as metadata.generation; 0: unknown) and
 * the object's metadata.generation: status counters describe the newest
 * generation the controller observed, so a later edit by someone else must
 * be observed too before they mean anything.
 *
 * Missing fields: no status, or no status.observedGeneration, is RUNNING;
 * spec.replicas absent is 1 (Kubernetes' default). The status counters
 * (updatedReplicas, availableReplicas, ...) are omitted by the API server
 * when zero (omitempty), so once observedGeneration is there an absent
 * counter reads as 0: a workload scaled to 0 is DONE, one with replicas
 * waiting for its first updated pod is RUNNING. A field of the wrong type
 * reads as absent. Nothing in the object can make the judge crash or
 * allocate.
 *
 * Threads: pure, any.
 */
#ifndef RL_PROGRESS_H
#define RL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/reload/kind.h"

enum rl_progress {
    RL_PROGRESS_RUNNING,                /* not there yet (or not observed yet) */
    RL_PROGRESS_DONE,                   /* rolled out and available */
    RL_PROGRESS_FAILED,                 /* will not get there by itself */
};

/* Room for any reason rl_progress_judge() writes (longer ones are cut). */
#define RL_PROGRESS_REASON_MAX 128

/* "running", "done", "failed". */
const char *rl_progress_name(enum rl_progress p);

/*
 * The state of obj's rollout (obj of kind `kind`, borrowed), and a short
 * reason for people in reason (NUL-terminated, cut to len; reason may be
 * NULL when len is 0): "2 of 3 updated replicas are available",
 * "progress deadline exceeded", "generation 7 not observed yet (observed 6)".
 */
enum rl_progress rl_progress_judge(const cJSON *obj, enum rl_kind kind, int64_t rolled_generation,
                                   char *reason, size_t len);

#endif /* RL_PROGRESS_H */
