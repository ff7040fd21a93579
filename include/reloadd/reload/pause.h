/*
 * pause.h - the pause period of Deployments (docs/reloader.md §10), kept in the
 * Deployment itself
 *
 * A Deployment whose metadata carries the pause-period annotation (default
 * deployment.reloader.stakater.com/pause-period, a Go duration) is paused
 * by the rollout that reloads it: the SAME strategic-merge patch that
 * changes the pod template sets spec.paused=true and the paused-at
 * annotation (RFC 3339), so the template change never rolls before the
 * pause. Later changes inside the window update the template of the
 * paused Deployment; when the window (paused-at + period, a fixed window
 * opened by the first change) is over, reconcile resumes it: spec.paused
 * false and paused-at removed. One rollout, of the latest template.
 *
 * Fixes of docs/reloader.md §15.7: the only state is the two annotations,
 * so there is no timer map to race on or to go stale, and a restart or a
 * failover resumes on time (the startup pass reconciles every workload,
 * and a reconcile of a paused Deployment re-queues itself for the time
 * left); a period that is not a positive duration is refused (the rollout
 * then happens without a pause, with a warning).
 *
 * This module is the pure part: what state a Deployment is in, and the
 * patch bodies. Threads: pure, any.
 */
#ifndef RL_PAUSE_H
#define RL_PAUSE_H

#include <stdint.h>

struct rl_buf;

enum rl_pause_state {
    RL_PAUSE_NONE,                  /* no pause period, not paused by us */
    RL_PAUSE_INVALID,               /* a pause period that is not a positive duration */
    RL_PAUSE_READY,                 /* a valid period, not paused by us: a rollout pauses */
    RL_PAUSE_OPEN,                  /* paused by us, window still open */
    RL_PAUSE_DUE,                   /* paused by us, window over (or unknowable): resume */
};

struct rl_pause {
    enum rl_pause_state state;
    int64_t period_ms;              /* valid period, else 0 */
    int64_t paused_at_us;           /* parsed paused-at, else 0 */
    int64_t remaining_ms;           /* OPEN: time left in the window */
    char why[160];                  /* human-readable, for logs and explain */
};

const char *rl_pause_state_name(enum rl_pause_state s);

/*
 * Evaluates the annotations: period (NULL if absent) and paused_at (NULL
 * or "" if absent) at wall time now_us. A paused-at that does not parse,
 * or a period gone or invalid while paused, is DUE (resume now). A
 * paused-at in the future counts as now (the window never exceeds the
 * period).
 */
void rl_pause_eval(struct rl_pause *p, const char *period, const char *paused_at, int64_t now_us);

/*
 * Adds "spec":{"paused":true} and metadata.annotations[paused_at_key] =
 * RFC 3339 of now_us to the JSON object patch in body (rewritten in
 * place). RL_EINVAL if body is not a JSON object.
 */
int rl_pause_add_to_patch(struct rl_buf *body, const char *paused_at_key, int64_t now_us);

/* {"metadata":{"annotations":{"<key>":null}},"spec":{"paused":false}} */
int rl_pause_resume_patch(struct rl_buf *out, const char *paused_at_key);

#endif /* RL_PAUSE_H */
