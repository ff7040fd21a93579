/* fake_clock.c - a clock that moves only when a test says so */
#include "fake_clock.h"

static uint64_t fc_mono(const struct rl_clock *c)
{
    return atomic_load(&((struct fake_clock *)(uintptr_t)c)->mono_ms);
}

static int64_t fc_wall(const struct rl_clock *c)
{
    return atomic_load(&((struct fake_clock *)(uintptr_t)c)->wall_us);
}

void fake_clock_init(struct fake_clock *fc, uint64_t mono_ms, int64_t wall_us)
{
    fc->clock.mono_ms = fc_mono;
    fc->clock.wall_us = fc_wall;
    atomic_store(&fc->mono_ms, mono_ms);
    atomic_store(&fc->wall_us, wall_us);
}

void fake_clock_advance(struct fake_clock *fc, uint64_t ms)
{
    atomic_fetch_add(&fc->mono_ms, ms);
    atomic_fetch_add(&fc->wall_us, (int64_t)ms * 1000);
}
