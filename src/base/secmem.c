/* secmem.c - freeing memory that may have held Secret bytes; clearing registers */
#include "reloadd/base/secmem.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include "reloadd/base/banned.h"

void rl_free_wiped(void *p)
{
    if (!p)
        return;
    explicit_bzero(p, malloc_usable_size(p));
    free(p);
}

#if defined(__x86_64__) && defined(__GNUC__)

#define RL_XMM0_15 "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", \
                   "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#define RL_XMM16_31 "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", \
                    "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"
/* An EVEX-encoded xor of a register with itself zeroes it up to its full width (512 bits). */
#define RL_ZERO16(w) \
    "vpxord %%" w "16, %%" w "16, %%" w "16\n\t" "vpxord %%" w "17, %%" w "17, %%" w "17\n\t" \
    "vpxord %%" w "18, %%" w "18, %%" w "18\n\t" "vpxord %%" w "19, %%" w "19, %%" w "19\n\t" \
    "vpxord %%" w "20, %%" w "20, %%" w "20\n\t" "vpxord %%" w "21, %%" w "21, %%" w "21\n\t" \
    "vpxord %%" w "22, %%" w "22, %%" w "22\n\t" "vpxord %%" w "23, %%" w "23, %%" w "23\n\t" \
    "vpxord %%" w "24, %%" w "24, %%" w "24\n\t" "vpxord %%" w "25, %%" w "25, %%" w "25\n\t" \
    "vpxord %%" w "26, %%" w "26, %%" w "26\n\t" "vpxord %%" w "27, %%" w "27, %%" w "27\n\t" \
    "vpxord %%" w "28, %%" w "28, %%" w "28\n\t" "vpxord %%" w "29, %%" w "29, %%" w "29\n\t" \
    "vpxord %%" w "30, %%" w "30, %%" w "30\n\t" "vpxord %%" w "31, %%" w "31, %%" w "31\n\t"

/* VZEROALL clears ZMM0-15 whole; the EVEX xors clear ZMM16-31 (128-bit form: no 512-bit op). */
__attribute__((target("avx512vl"), noinline)) static void wipe_avx512vl(void)
{
    __asm__ __volatile__("vzeroall\n\t" RL_ZERO16("xmm") ::: RL_XMM0_15, RL_XMM16_31);
}

/* AVX-512 without VL (Xeon Phi): only the 512-bit form exists. */
__attribute__((target("avx512f"), noinline)) static void wipe_avx512f(void)
{
    __asm__ __volatile__("vzeroall\n\t" RL_ZERO16("zmm") ::: RL_XMM0_15, RL_XMM16_31);
}

__attribute__((target("avx"), noinline)) static void wipe_avx(void)
{
    __asm__ __volatile__("vzeroall" ::: RL_XMM0_15);
}

__attribute__((noinline)) static void wipe_sse(void)
{
    __asm__ __volatile__(
        "pxor %%xmm0, %%xmm0\n\t" "pxor %%xmm1, %%xmm1\n\t" "pxor %%xmm2, %%xmm2\n\t"
        "pxor %%xmm3, %%xmm3\n\t" "pxor %%xmm4, %%xmm4\n\t" "pxor %%xmm5, %%xmm5\n\t"
        "pxor %%xmm6, %%xmm6\n\t" "pxor %%xmm7, %%xmm7\n\t" "pxor %%xmm8, %%xmm8\n\t"
        "pxor %%xmm9, %%xmm9\n\t" "pxor %%xmm10, %%xmm10\n\t" "pxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\t" "pxor %%xmm13, %%xmm13\n\t" "pxor %%xmm14, %%xmm14\n\t"
        "pxor %%xmm15, %%xmm15" ::: RL_XMM0_15);
}

void rl_wipe_vector_registers(void)
{
    /* GCC's feature bits include the OS check (XCR0 enables the state). */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512vl"))
        wipe_avx512vl();
    else if (__builtin_cpu_supports("avx512f"))
        wipe_avx512f();
    else if (__builtin_cpu_supports("avx"))
        wipe_avx();
    else
        wipe_sse();
}

#else

void rl_wipe_vector_registers(void)
{
}

#endif
