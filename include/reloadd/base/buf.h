/*
 * buf.h - growable byte buffer with a cap
 *
 * `buf` is never NULL after rl_buf_init() and is always NUL-terminated, so
 * it can be used as a C string. Every buffer has a cap (curl's "toobig"):
 * an append that would pass it fails with RL_ETOOBIG and leaves the buffer
 * unchanged, so hostile input is an error rather than an OOM.
 *
 * Ownership: the buffer owns `buf`; rl_buf_detach() hands it over.
 * Threads: a buffer belongs to one thread at a time.
 */
#ifndef RL_BUF_H
#define RL_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct rl_buf {
    char *buf;          /* read-only: always NUL-terminated */
    size_t len;         /* read-only */
    size_t _alloc;
    size_t _cap;        /* largest len allowed */
    int _sensitive;     /* wipe on reset, release and growth */
};

#define RL_BUF_DEFAULT_CAP ((size_t)64 << 20)

void rl_buf_init(struct rl_buf *b, size_t cap);
void rl_buf_release(struct rl_buf *b);          /* frees; init again to reuse */
void rl_buf_reset(struct rl_buf *b);            /* len = 0, keeps memory */
void rl_buf_wipe(struct rl_buf *b);             /* zeroes the bytes, len = 0 */
char *rl_buf_detach(struct rl_buf *b);          /* caller frees; b is re-inited */
/* From now on, reset/release wipe the bytes and growth leaves no copy behind. */
void rl_buf_sensitive(struct rl_buf *b);

int rl_buf_add(struct rl_buf *b, const void *data, size_t len);
int rl_buf_adds(struct rl_buf *b, const char *s);
int rl_buf_addc(struct rl_buf *b, char c);
int rl_buf_addf(struct rl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rl_buf_vaddf(struct rl_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/*
 * Appends s as a JSON string literal, quotes included, exactly as Go's
 * encoding/json writes it (what Reloader's JSON is compared with: markers,
 * alerts, logs): HTML-safe (< > & as \u003c \u003e \u0026), \b \f \n \r \t
 * short forms, other control bytes \u00XX, U+2028/U+2029 escaped, invalid
 * UTF-8 as \ufffd. NULL is "".
 */
int rl_buf_add_json_str(struct rl_buf *b, const char *s);

#endif /* RL_BUF_H */
