/*
 * budget.h - the restart budget of a workload, kept in the workload itself
 *
 * At most `max` rollouts of one workload per `period`: past it, reloadd
 * holds the workload's rollout until the oldest rollout of the period has
 * aged out of it, then rolls once, with whatever the sources hold then. A
 * hot or broken source can restart a workload only so often, and the
 * change is never lost: nothing is recorded while it is held, so the next
 * reconcile still sees it (level-triggered).
 *
 * The only state is the rollout history: the unix seconds of the recent
 * rollouts, ascending, in the applied record under RL_APPLIED_ROLLOUTS_KEY
 * ("@rollouts": "1733350000,1733350060"), written by the same write as
 * each rollout. A restart or a failover therefore keeps the budget, and a
 * record-only write carries the history over unchanged.
 *
 * The budget is --restart-budget per --restart-budget-period, or the
 * workload's own annotation "<prefix>/restart-budget": "N" (the default
 * period) or "N/<Go duration>", "0" or "off" for no budget. A value that
 * does not parse is reported and the default applies.
 *
 * Threads: pure, any. Time is a parameter (unix seconds).
 */
#ifndef RL_BUDGET_H
#define RL_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_buf;

#define RL_APPLIED_ROLLOUTS_KEY "@rollouts"
#define RL_BUDGET_MAX 100               /* rollouts a budget may allow per period */

struct rl_budget {
    unsigned max;                       /* 0: no budget */
    int64_t period_s;
};

/* A well-formed history: at most RL_BUDGET_MAX ascending unix seconds, comma-separated. */
bool rl_rollouts_valid(const char *history);

/*
 * The budget of a workload whose annotation is value (NULL: absent):
 * 0 and *out, or RL_EINVAL with *out = *dflt and the reason in err.
 */
int rl_budget_parse(const char *value, const struct rl_budget *dflt, struct rl_budget *out,
                    char *err, size_t errlen);

/*
 * 0 if a rollout may happen at now_s under b with this history (NULL:
 * none), else the unix second from which it may (held until then).
 */
int64_t rl_budget_held_until(const struct rl_budget *b, const char *history, int64_t now_s);

/* How many rollouts of the history fall in the period ending at now_s. */
unsigned rl_budget_used(const struct rl_budget *b, const char *history, int64_t now_s);

/*
 * The history to write with a rollout at now_s: the entries still inside
 * the period, then now_s, at most RL_BUDGET_MAX of them. With no budget the
 * history is dropped (out stays empty).
 */
int rl_budget_add(struct rl_buf *out, const struct rl_budget *b, const char *history,
                  int64_t now_s);

#endif /* RL_BUDGET_H */
