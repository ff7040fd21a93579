/* mem.c - allocation that never returns NULL */
#include "reloadd/base/mem.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/stdlib.h>
#include <bsd/string.h>
#include "reloadd/base/banned.h"

static void __attribute__((noreturn)) oom(size_t size)
{
    fprintf(stderr, "reloadd: fatal: out of memory allocating %zu bytes\n", size);
    abort();
}

void *rl_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);

    if (!p)
        oom(size);
    return p;
}

void *rl_xcalloc(size_t nmemb, size_t size)
{
    void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

    if (!p)
        oom(nmemb * size);
    return p;
}

void *rl_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);

    if (!p)
        oom(size);
    return p;
}

void *rl_xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    void *p = reallocarray(ptr, nmemb ? nmemb : 1, size ? size : 1);

    if (!p)
        oom(nmemb * size);
    return p;
}

char *rl_xstrdup(const char *s)
{
    return rl_xstrndup(s, strlen(s));
}

char *rl_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = rl_xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *rl_xvasprintf(const char *fmt, va_list ap)
{
    va_list cp;
    int n;
    char *p;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        oom(0);
    p = rl_xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *rl_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = rl_xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

void rl_wipe(void *p, size_t len)
{
    if (p && len)
        explicit_bzero(p, len);
}

void rl_free_secret(char *s)
{
    if (!s)
        return;
    rl_wipe(s, strlen(s));
    free(s);
}

void rl_mem_give_back(void)
{
    malloc_trim(0);
}
