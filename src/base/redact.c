/* redact.c - what of a credential-bearing URL may be logged */
#include "reloadd/base/redact.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "reloadd/base/banned.h"

/* The length of a URL scheme at s (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )). */
static size_t scheme_len(const char *s)
{
    size_t n = 0;

    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') ||
           (s[n] >= '0' && s[n] <= '9') || s[n] == '+' || s[n] == '-' || s[n] == '.')
        n++;
    return n;
}

static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '-' || c == '_' || c == '~' || c == '%';
}

/*
 * True for host, host:port, [v6] and [v6]:port. Anything else (a raw '/'
 * or '#' in a password cut the authority short: "user:pa") is not shown.
 */
static bool valid_host(const char *h, size_t len)
{
    size_t i = 0;

    if (len && h[0] == '[') {
        while (i < len && h[i] != ']')
            i++;
        if (i == len)
            return false;
        for (size_t j = 1; j < i; j++)
            if (!host_char(h[j]) && h[j] != ':')
                return false;
        i++;
    } else {
        while (i < len && host_char(h[i]))
            i++;
    }
    if (i < len && h[i] == ':')
        for (i++; i < len && h[i] >= '0' && h[i] <= '9'; i++)
            ;
    return i == len;
}

const char *rl_redact_url(const char *url, char *out, size_t outlen)
{
    const char *auth, *end, *at;
    size_t slen;

    if (!out || outlen == 0)
        return "";
    out[0] = '\0';
    if (!url || !*url)
        return out;
    slen = scheme_len(url);
    if (slen == 0 || strncmp(url + slen, "://", 3) != 0) {
        snprintf(out, outlen, "(not a URL)");
        return out;
    }
    /* The authority ends at the path, the query or the fragment. */
    auth = url + slen + 3;
    end = auth + strcspn(auth, "/?#");
    /* user:password@ goes; a password may hold '@', so cut at the last one. */
    for (at = end; at > auth && at[-1] != '@'; at--)
        ;
    if (!valid_host(at, (size_t)(end - at)))
        snprintf(out, outlen, "%.*s://(invalid host)", (int)slen, url);
    else
        snprintf(out, outlen, "%.*s://%.*s", (int)slen, url, (int)(end - at), at);
    return out;
}
