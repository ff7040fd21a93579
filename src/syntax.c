/* syntax.c - the syntax of values reloadd reads, as Kubernetes and Go define it */
#include "reloadd/syntax.h"

#include <string.h>

bool rl_parse_bool_go(const char *s, bool *ok)
{
    static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
    static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };

    for (size_t i = 0; s && i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(s, t[i]) == 0 || strcmp(s, f[i]) == 0) {
            if (ok)
                *ok = true;
            return strcmp(s, t[i]) == 0;
        }
    }
    if (ok)
        *ok = false;
    return false;
}

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool rl_dns_subdomain_ok(const char *s, size_t n)
{
    if (!s || n == 0 || n > 253 || !alnum(s[0]) || !alnum(s[n - 1]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}
