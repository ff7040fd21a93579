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

/* ---- Go's time.ParseDuration --------------------------------------------- */

static const struct {
    const char *unit;
    uint64_t ns;
} units[] = {
    { "ns", 1 }, { "us", 1000 }, { "\xc2\xb5s", 1000 }, { "\xce\xbcs", 1000 },
    { "ms", 1000000 }, { "s", 1000000000ULL }, { "m", 60000000000ULL },
    { "h", 3600000000000ULL },
};

int rl_duration_parse(const char *s, int64_t *out)
{
    const uint64_t lim = (uint64_t)1 << 63;
    uint64_t d = 0;
    bool neg = false;

    if (!s)
        return RL_EINVAL;
    if (*s == '-' || *s == '+')
        neg = *s++ == '-';
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return 0;
    }
    if (!*s)
        return RL_EINVAL;
    while (*s) {
        uint64_t v = 0, f = 0, unit = 0;
        double scale = 1.0;
        bool pre = false, post = false, overflow = false;
        size_t i;

        if (!(*s == '.' || (*s >= '0' && *s <= '9')))
            return RL_EINVAL;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (v > (lim - 1) / 10)
                return RL_EINVAL;       /* overflow */
            v = v * 10 + (uint64_t)(*s - '0');
            if (v > lim)
                return RL_EINVAL;
            pre = true;
        }
        if (*s == '.') {
            s++;
            for (; *s >= '0' && *s <= '9'; s++) {
                post = true;
                if (overflow)
                    continue;
                if (f > (lim - 1) / 10) {
                    overflow = true;
                    continue;
                }
                f = f * 10 + (uint64_t)(*s - '0');
                scale *= 10;
            }
        }
        if (!pre && !post)
            return RL_EINVAL;
        for (i = 0; s[i] && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'); i++)
            ;
        if (i == 0)
            return RL_EINVAL;           /* missing unit */
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            if (strlen(units[u].unit) == i && memcmp(units[u].unit, s, i) == 0)
                unit = units[u].ns;
        }
        if (!unit)
            return RL_EINVAL;           /* unknown unit */
        s += i;
        if (v > lim / unit)
            return RL_EINVAL;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > lim)
                return RL_EINVAL;
        }
        d += v;
        if (d > lim)
            return RL_EINVAL;
    }
    if (neg) {
        *out = d == lim ? INT64_MIN : -(int64_t)d;
        return 0;
    }
    if (d > lim - 1)
        return RL_EINVAL;
    *out = (int64_t)d;
    return 0;
}
