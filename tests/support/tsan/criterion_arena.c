/*
 * criterion_arena.c - lets Criterion run under ThreadSanitizer
 *
 * Linked into every test binary of a TSan build only. Criterion maps its
 * shared arena at a random address in [0x200000000000, 0x600000000000) and
 * gives up after ten tries; under TSan almost all of that range is shadow
 * memory, so every test binary aborts with "Could not initialize inheritable
 * arena" (Snaipe/Criterion#274). Criterion draws the address with rand_r()
 * on its own seed: this rand_r() steers the draws made from libcriterion
 * into TSan's application range 0x550000000000-0x568000000000 and is a
 * plain LCG for every other caller.
 */
#define _GNU_SOURCE /* dladdr() */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

int rand_r(unsigned *seed)
{
    unsigned x = *seed * 1103515245u + 12345u;
    Dl_info info;

    *seed = x;
    x >>= 1;
    if (dladdr(seed, &info) && info.dli_fname && strstr(info.dli_fname, "libcriterion"))
        return (int)(0x350000u + x % 0x18000u);
    return (int)(x & 0x7fffffffu);
}
