/*
 * mem.h - allocation that never returns NULL
 *
 * Allocation failure aborts with a message (as git's xmalloc and redis'
 * zmalloc): a controller that kubelet restarts gains nothing from thousands
 * of untested ENOMEM paths. Sizes that would overflow abort too. Hostile
 * input is bounded elsewhere (rl_buf caps), so it is an error, not an OOM.
 *
 * Threads: any.
 */
#ifndef RL_MEM_H
#define RL_MEM_H

#include <stdarg.h>
#include <stddef.h>

void *rl_xmalloc(size_t size);
void *rl_xcalloc(size_t nmemb, size_t size);
void *rl_xrealloc(void *ptr, size_t size);
void *rl_xreallocarray(void *ptr, size_t nmemb, size_t size);
char *rl_xstrdup(const char *s);
char *rl_xstrndup(const char *s, size_t n);
char *rl_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *rl_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* Zeroes len bytes at p in a way the compiler may not elide. */
void rl_wipe(void *p, size_t len);

/* Wipes then frees a NUL-terminated string; NULL is a no-op. */
void rl_free_secret(char *s);

/*
 * Hands the heap's free pages back to the kernel (malloc_trim(3)). glibc
 * gives back only the top of each arena by itself; a burst (a list's pages
 * decoded and dropped, the startup pass, a first round of state writes)
 * leaves free holes below that count as RSS until the heap reuses them.
 * Call it when a burst ends, not per request: it walks every arena.
 */
void rl_mem_give_back(void);

#define RL_NEW(type) ((type *)rl_xcalloc(1, sizeof(type)))

#endif /* RL_MEM_H */
