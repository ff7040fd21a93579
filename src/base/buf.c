/* buf.c - growable byte buffer with a cap */
#include "reloadd/base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/banned.h"

static char empty[1];

void rl_buf_init(struct rl_buf *b, size_t cap)
{
    b->buf = empty;
    b->len = 0;
    b->_alloc = 0;
    b->_cap = cap ? cap : RL_BUF_DEFAULT_CAP;
    b->_sensitive = 0;
}

void rl_buf_sensitive(struct rl_buf *b)
{
    b->_sensitive = 1;
}

void rl_buf_release(struct rl_buf *b)
{
    if (b->_alloc && b->_sensitive)
        rl_wipe(b->buf, b->_alloc);
    if (b->_alloc)
        free(b->buf);
    b->buf = empty;
    b->len = 0;
    b->_alloc = 0;
}

void rl_buf_reset(struct rl_buf *b)
{
    if (b->_alloc && b->_sensitive)
        rl_wipe(b->buf, b->len);
    b->len = 0;
    if (b->_alloc)
        b->buf[0] = '\0';
}

void rl_buf_wipe(struct rl_buf *b)
{
    if (b->_alloc)
        rl_wipe(b->buf, b->_alloc);
    b->len = 0;
}

char *rl_buf_detach(struct rl_buf *b)
{
    char *p = b->_alloc ? b->buf : rl_xstrdup("");
    size_t cap = b->_cap;
    int sensitive = b->_sensitive;

    rl_buf_init(b, cap);
    b->_sensitive = sensitive;
    return p;
}

static int grow(struct rl_buf *b, size_t extra)
{
    size_t want;

    if (extra > b->_cap - b->len)
        return RL_ETOOBIG;
    want = b->len + extra + 1;
    if (want <= b->_alloc)
        return 0;
    if (want < b->_alloc * 2)
        want = b->_alloc * 2;
    if (want < 64)
        want = 64;
    if (b->_alloc && b->_sensitive) {
        char *nb = rl_xmalloc(want);

        memcpy(nb, b->buf, b->len + 1);
        rl_wipe(b->buf, b->_alloc);
        free(b->buf);
        b->buf = nb;
    } else if (b->_alloc) {
        b->buf = rl_xrealloc(b->buf, want);
    } else {
        b->buf = rl_xmalloc(want);
        b->buf[0] = '\0';
    }
    b->_alloc = want;
    return 0;
}

int rl_buf_add(struct rl_buf *b, const void *data, size_t len)
{
    int err = grow(b, len);

    if (err)
        return err;
    if (len)
        memcpy(b->buf + b->len, data, len);
    b->len += len;
    if (b->_alloc)
        b->buf[b->len] = '\0';
    return 0;
}

int rl_buf_adds(struct rl_buf *b, const char *s)
{
    return rl_buf_add(b, s, strlen(s));
}

int rl_buf_addc(struct rl_buf *b, char c)
{
    return rl_buf_add(b, &c, 1);
}

int rl_buf_vaddf(struct rl_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n, err;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return RL_EINVAL;
    err = grow(b, (size_t)n);
    if (err)
        return err;
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int rl_buf_addf(struct rl_buf *b, const char *fmt, ...)
{
    va_list ap;
    int err;

    va_start(ap, fmt);
    err = rl_buf_vaddf(b, fmt, ap);
    va_end(ap);
    return err;
}

/* Length of the valid UTF-8 sequence at s (a lead byte >= 0x80), or 0 if invalid (as Go decodes). */
static size_t utf8_len(const unsigned char *s, unsigned *rune)
{
    unsigned c = s[0], r;
    size_t n, i;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        r = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        r = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        r = c & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        r = r << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && r < 0x800) || (n == 4 && (r < 0x10000 || r > 0x10ffff)) ||
        (r >= 0xd800 && r <= 0xdfff))
        return 0;
    *rune = r;
    return n;
}

int rl_buf_add_json_str(struct rl_buf *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    int err = rl_buf_addc(b, '"');

    while (!err && *s) {
        unsigned c = *s, rune;
        size_t n;

        if (c < 0x80) {
            switch (c) {
            case '"':  err = rl_buf_adds(b, "\\\""); break;
            case '\\': err = rl_buf_adds(b, "\\\\"); break;
            case '\b': err = rl_buf_adds(b, "\\b"); break;
            case '\f': err = rl_buf_adds(b, "\\f"); break;
            case '\n': err = rl_buf_adds(b, "\\n"); break;
            case '\r': err = rl_buf_adds(b, "\\r"); break;
            case '\t': err = rl_buf_adds(b, "\\t"); break;
            default:
                if (c < 0x20 || c == '<' || c == '>' || c == '&') {
                    char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

                    err = rl_buf_add(b, esc, sizeof(esc));
                } else {
                    err = rl_buf_addc(b, (char)c);
                }
            }
            s++;
            continue;
        }
        n = utf8_len(s, &rune);
        if (n == 0) {
            err = rl_buf_adds(b, "\\ufffd");
            s++;
        } else if (rune == 0x2028 || rune == 0x2029) {
            err = rl_buf_addf(b, "\\u%04x", rune);
            s += n;
        } else {
            err = rl_buf_add(b, s, n);
            s += n;
        }
    }
    return err ? err : rl_buf_addc(b, '"');
}
