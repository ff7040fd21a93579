/* ratelimit.c - token bucket and exponential backoff */
#include "reloadd/base/ratelimit.h"

#include <math.h>
#include "reloadd/base/banned.h"

void rl_bucket_init(struct rl_bucket *b, double qps, double burst, uint64_t now_ms)
{
    b->qps = qps;
    b->burst = burst < 1.0 ? 1.0 : burst;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

static void refill(struct rl_bucket *b, uint64_t now_ms)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->qps / 1000.0;
        b->tokens = fmin(b->tokens, b->burst);
        b->last_ms = now_ms;
    }
}

uint64_t rl_bucket_reserve(struct rl_bucket *b, uint64_t now_ms)
{
    if (b->qps <= 0.0)
        return 0;
    refill(b, now_ms);
    b->tokens -= 1.0;                   /* below zero: a promise to wait */
    if (b->tokens >= 0.0)
        return 0;
    return (uint64_t)ceil(-b->tokens * 1000.0 / b->qps);
}

uint64_t rl_bucket_try_take(struct rl_bucket *b, uint64_t now_ms, double reserve)
{
    double need = fmin(reserve, b->burst - 1.0) + 1.0;

    if (b->qps <= 0.0)
        return 0;
    refill(b, now_ms);
    if (b->tokens >= need) {
        b->tokens -= 1.0;
        return 0;
    }
    return (uint64_t)ceil((need - b->tokens) * 1000.0 / b->qps);
}

void rl_bucket_hold(struct rl_bucket *b, uint64_t now_ms, uint64_t until_ms)
{
    double need;

    if (b->qps <= 0.0 || until_ms <= now_ms)
        return;
    refill(b, now_ms);
    /* The balance that makes the next reserve() wait until until_ms. */
    need = 1.0 - (double)(until_ms - now_ms) * b->qps / 1000.0;
    if (b->tokens > need)
        b->tokens = need;
}

uint64_t rl_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms)
{
    uint64_t d = base_ms;

    for (unsigned i = 0; i < failures && d < max_ms; i++)
        d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
    return d < max_ms ? d : max_ms;
}

uint64_t rl_backoff_jitter_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms,
                              double fraction, double random01)
{
    double d = (double)rl_backoff_ms(failures, base_ms, max_ms);

    d *= 1.0 + fraction * (2.0 * random01 - 1.0);
    return d < 0.0 ? 0 : (uint64_t)d;
}
