/* syntax.c - the syntax of values reloadd reads, as Kubernetes and Go define it */
#include "reloadd/base/syntax.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/banned.h"

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

/* ---- listen addresses ---- */

int rl_listen_addr_split(const char *addr, char host[256], long *port, bool *bracketed)
{
    const char *host_start, *colon, *port_str;
    size_t host_len;
    char *end;

    if (!addr)
        return RL_EINVAL;
    *bracketed = addr[0] == '[';
    if (*bracketed) {
        const char *close = strchr(addr, ']');

        if (!close || close[1] != ':')
            return RL_EINVAL;
        host_start = addr + 1;
        host_len = (size_t)(close - host_start);
        if (host_len == 0)
            return RL_EINVAL;
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return RL_EINVAL;
        host_start = addr;
        host_len = (size_t)(colon - addr);
        if (memchr(addr, ':', host_len))
            return RL_EINVAL;           /* a bare IPv6 address needs brackets */
    }
    if (host_len >= 256)
        return RL_EINVAL;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';

    port_str = colon + 1;
    if (*port_str < '0' || *port_str > '9')
        return RL_EINVAL;
    errno = 0;
    *port = strtol(port_str, &end, 10);
    if (errno || *end || *port < 0 || *port > 65535)
        return RL_EINVAL;
    return 0;
}

/* A host name or IPv4 address: letters, digits, '.', '-', '_'. */
static bool host_chars_ok(const char *host)
{
    for (const char *p = host; *p; p++) {
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            return false;
    }
    return true;
}

/* Inside brackets: an IPv6 address, maybe with a %zone of letters and digits. */
static bool v6_ok(const char *host)
{
    struct in6_addr a;
    char ip[256];
    const char *zone = strchr(host, '%');
    size_t n = zone ? (size_t)(zone - host) : strlen(host);

    memcpy(ip, host, n);
    ip[n] = '\0';
    if (zone && (!zone[1] || !host_chars_ok(zone + 1)))
        return false;
    return inet_pton(AF_INET6, ip, &a) == 1;
}

bool rl_listen_addr_ok(const char *addr)
{
    char host[256];
    bool bracketed;
    long port;

    if (rl_listen_addr_split(addr, host, &port, &bracketed))
        return false;
    return bracketed ? v6_ok(host) : host_chars_ok(host);
}
