/*
 * fake_clock.h - a clock that moves only when a test says so
 *
 * Embeds struct rl_clock first, so &fc->clock is what modules take.
 * Threads: advance from one thread; reads are atomic.
 */
#ifndef RL_FAKE_CLOCK_H
#define RL_FAKE_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "reloadd/base/clock.h"

struct fake_clock {
    struct rl_clock clock;
    _Atomic uint64_t mono_ms;
    _Atomic int64_t wall_us;
};

void fake_clock_init(struct fake_clock *fc, uint64_t mono_ms, int64_t wall_us);
void fake_clock_advance(struct fake_clock *fc, uint64_t ms);

#endif
