/*
 * secmem.h - freeing memory that may have held Secret bytes, and clearing
 * the registers that moved them
 *
 * cJSON copies every string of a parsed object (a Secret's base64 .data
 * values included) into its own malloc'd block and frees it without
 * clearing it, so a core dump of the process would show what the API
 * server sent. rl_free_wiped() is cJSON's free hook (json.c): it zeroes the
 * whole usable size of the block (glibc's malloc_usable_size) before
 * freeing it.
 *
 * Memory is not the only place: a core dump holds every thread's vector
 * registers too (the NT_X86_XSTATE note, AVX-512's ZMM0-31 included), and
 * glibc's memcpy/memchr, OpenSSL's AES-GCM and SHA code leave the last
 * 16-64 bytes they moved there. A thread that goes idle after handling
 * Secret bytes (the informers' I/O thread waiting in poll) keeps them in
 * its registers until something else overwrites them: measured, the tail
 * of the last watch event (a DELETED Secret's base64 data) in ZMM16.
 * rl_wipe_vector_registers() zeroes them.
 *
 * Threads: any.
 */
#ifndef RL_SECMEM_H
#define RL_SECMEM_H

/* Zeroes the whole block p came from (malloc/calloc/realloc), then frees it; NULL: no-op. */
void rl_free_wiped(void *p);

/*
 * Zeroes the calling thread's vector registers: x86-64 XMM/YMM0-15, with
 * AVX-512 also ZMM0-31 (all caller-saved, so a call may clobber them).
 * Call when done with Secret bytes, before the thread blocks. A no-op on
 * other architectures.
 */
void rl_wipe_vector_registers(void);

#endif /* RL_SECMEM_H */
