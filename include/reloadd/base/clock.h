/*
 * clock.h - injectable time
 *
 * Every timing rule (backoff, rate limits, lease expiry, coalescing) reads
 * time from a struct rl_clock so unit tests drive it by hand. mono_ms is
 * CLOCK_MONOTONIC (never jumps; use for every interval), wall_us is
 * CLOCK_REALTIME in microseconds (use only for timestamps written out).
 *
 * Threads: the system clock is immutable and shared; a fake clock's own
 * header says how it is driven.
 */
#ifndef RL_CLOCK_H
#define RL_CLOCK_H

#include <pthread.h>
#include <stdint.h>

struct rl_clock {
    uint64_t (*mono_ms)(const struct rl_clock *c);
    int64_t (*wall_us)(const struct rl_clock *c);
};

/* The process-wide real clock. */
const struct rl_clock *rl_clock_system(void);

static inline uint64_t rl_clock_mono_ms(const struct rl_clock *c)
{
    return c->mono_ms(c);
}

static inline int64_t rl_clock_wall_us(const struct rl_clock *c)
{
    return c->wall_us(c);
}

/* Real monotonic time, for code that must not be faked (e.g. log rates). */
uint64_t rl_mono_ms(void);

/* Formats wall time as RFC 3339 with six fractional digits (MicroTime). */
void rl_format_micro_time(int64_t wall_us, char out[32]);

/* Formats wall time as RFC 3339 in seconds, e.g. "2026-11-25T19:22:12Z". */
void rl_format_rfc3339(int64_t wall_us, char out[32]);

/* Parses RFC 3339 (fractions and offsets allowed) into wall µs; -1 on error. */
int rl_parse_rfc3339(const char *s, int64_t *wall_us);

#endif /* RL_CLOCK_H */
