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

#define RL_NEW(type) ((type *)rl_xcalloc(1, sizeof(type)))

#endif /* RL_MEM_H */
