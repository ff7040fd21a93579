/*
 * ratelimit.h - token bucket and exponential backoff, time as a parameter
 *
 * Neither reads a clock: callers pass "now" (mono ms), so every rule is
 * unit-tested with hand-made timestamps and no sleeping (curl unit3216).
 *
 * Threads: a bucket is a plain value; callers lock.
 */
#ifndef RL_RATELIMIT_H
#define RL_RATELIMIT_H

#include <stdint.h>

struct rl_bucket {
    double qps;                 /* tokens per second; <= 0 means unlimited */
    double burst;               /* bucket size */
    double tokens;
    uint64_t last_ms;
};

/* A full bucket at now_ms. */
void rl_bucket_init(struct rl_bucket *b, double qps, double burst, uint64_t now_ms);

/*
 * Takes one token and returns how long the caller must wait to use it
 * (0: now). A negative balance is a promise: later callers wait longer.
 */
uint64_t rl_bucket_reserve(struct rl_bucket *b, uint64_t now_ms);

/*
 * Takes one token only if it leaves at least `reserve` tokens in the bucket
 * (so none that a caller has promised): returns 0 and takes it, or returns
 * how long until it could and takes nothing. For work that must only use
 * spare capacity and leave the others their burst.
 */
uint64_t rl_bucket_try_take(struct rl_bucket *b, uint64_t now_ms, double reserve);

/* Pushes the next token out to at least until_ms (a 429's Retry-After). */
void rl_bucket_hold(struct rl_bucket *b, uint64_t now_ms, uint64_t until_ms);

/* base_ms * 2^failures, capped at max_ms (failures counts from 0). */
uint64_t rl_backoff_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms);

/* backoff with ±fraction jitter, from a caller-supplied random in [0,1). */
uint64_t rl_backoff_jitter_ms(unsigned failures, uint64_t base_ms, uint64_t max_ms,
                              double fraction, double random01);

#endif /* RL_RATELIMIT_H */
