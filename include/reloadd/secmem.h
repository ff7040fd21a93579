/*
 * secmem.h - freeing memory that may have held Secret bytes
 *
 * cJSON copies every string of a parsed object (a Secret's base64 .data
 * values included) into its own malloc'd block and frees it without
 * clearing it, so a core dump of the process would show what the API
 * server sent. rl_free_wiped() is cJSON's free hook (json.c): it zeroes the
 * whole usable size of the block (glibc's malloc_usable_size) before
 * freeing it.
 *
 * Threads: any.
 */
#ifndef RL_SECMEM_H
#define RL_SECMEM_H

/* Zeroes the whole block p came from (malloc/calloc/realloc), then frees it; NULL: no-op. */
void rl_free_wiped(void *p);

#endif /* RL_SECMEM_H */
