/* budget.c - the restart budget of a workload, kept in the workload itself */
#include "reloadd/reload/budget.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/err.h"
#include "reloadd/base/syntax.h"
#include "reloadd/base/banned.h"

/*
 * Reads the next entry of a history at *p: true and *out, *p past it (and
 * its comma); false at the end or on anything but digits and commas.
 */
static bool next_entry(const char **p, int64_t *out)
{
    const char *s = *p;
    char *end;
    long long v;

    if (!*s)
        return false;
    if (*s < '0' || *s > '9')
        return false;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || (*end && *end != ','))
        return false;
    *out = v;
    *p = *end ? end + 1 : end;
    return true;
}

bool rl_rollouts_valid(const char *history)
{
    const char *p = history;
    int64_t prev = -1, t;
    unsigned n = 0;

    if (!history || !*history)
        return false;
    while (*p) {
        if (!next_entry(&p, &t) || t < prev || ++n > RL_BUDGET_MAX)
            return false;
        prev = t;
    }
    return p > history && p[-1] != ',';
}

int rl_budget_parse(const char *value, const struct rl_budget *dflt, struct rl_budget *out,
                    char *err, size_t errlen)
{
    const char *slash;
    char *end;
    long n;
    int64_t ns = 0;

    *out = *dflt;
    if (!value)
        return 0;
    if (strcmp(value, "off") == 0 || strcmp(value, "0") == 0) {
        out->max = 0;
        return 0;
    }
    errno = 0;
    n = strtol(value, &end, 10);
    slash = end;
    if (errno || end == value || n < 1 || n > RL_BUDGET_MAX || (*slash && *slash != '/') ||
        (*slash == '/' && (rl_duration_parse(slash + 1, &ns) != 0 || ns < 1000000000LL))) {
        snprintf(err, errlen, "restart budget \"%.64s\" is not N or N/<duration> with N in "
                 "1..%d and a duration of at least 1s (or \"off\"): the default applies",
                 value, RL_BUDGET_MAX);
        return RL_EINVAL;
    }
    out->max = (unsigned)n;
    if (*slash == '/')
        out->period_s = ns / 1000000000LL;
    return 0;
}

unsigned rl_budget_used(const struct rl_budget *b, const char *history, int64_t now_s)
{
    const char *p = history;
    unsigned n = 0;
    int64_t t;

    if (!b->max || !history || !rl_rollouts_valid(history))
        return 0;
    while (next_entry(&p, &t))
        n += t > now_s - b->period_s;
    return n;
}

int64_t rl_budget_held_until(const struct rl_budget *b, const char *history, int64_t now_s)
{
    int64_t in_period[RL_BUDGET_MAX], t;
    const char *p = history;
    unsigned n = 0;

    if (!b->max || !history || !rl_rollouts_valid(history))
        return 0;
    while (next_entry(&p, &t))
        if (t > now_s - b->period_s)
            in_period[n++] = t;
    if (n < b->max)
        return 0;
    /* Free again once all but max-1 of them have left the period. */
    return in_period[n - b->max] + b->period_s;
}

int rl_budget_add(struct rl_buf *out, const struct rl_budget *b, const char *history,
                  int64_t now_s)
{
    int64_t keep[RL_BUDGET_MAX], t;
    const char *p = history;
    unsigned n = 0, first;
    int err = 0;

    if (!b->max)
        return 0;
    if (history && rl_rollouts_valid(history))
        while (next_entry(&p, &t))
            if (t > now_s - b->period_s && t <= now_s)
                keep[n++] = t;
    first = n >= RL_BUDGET_MAX ? n - (RL_BUDGET_MAX - 1) : 0;
    for (unsigned i = first; !err && i < n; i++)
        err = rl_buf_addf(out, "%lld,", (long long)keep[i]);
    return err ? err : rl_buf_addf(out, "%lld", (long long)now_s);
}
