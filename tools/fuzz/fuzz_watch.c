/*
 * fuzz_watch.c - the watch-line framer under arbitrary bytes
 *
 * The input is a stream fed in pieces whose sizes come from its first
 * bytes. Oracle: however the stream is split, the framer must deliver the
 * same events and end with the same error as when it is fed whole.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/kube/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct digest {
    uint64_t hash;
    size_t n;
};

static int on_event(void *ctx, const char *type, const cJSON *object)
{
    struct digest *d = ctx;
    const char *name = rl_json_str(rl_json_obj(object, "metadata"), "name");

    for (const char *p = type; *p; p++)
        d->hash = (d->hash ^ (uint8_t)*p) * 1099511628211ull;
    for (const char *p = name ? name : ""; *p; p++)
        d->hash = (d->hash ^ (uint8_t)*p) * 1099511628211ull;
    d->n++;
    /* A handler may stop the stream: do so on a name of "stop". */
    return name && strcmp(name, "stop") == 0 ? 7 : 0;
}

static int run(const char *s, size_t len, const uint8_t *cuts, size_t ncuts, size_t max_line,
               struct digest *d)
{
    struct rl_watch w;
    size_t off = 0;
    int err = 0;

    rl_watch_init(&w, max_line, on_event, d);
    for (size_t i = 0; i < ncuts && off < len && !err; i++) {
        size_t n = cuts[i] % 64;

        if (n > len - off)
            n = len - off;
        err = rl_watch_feed(&w, s + off, n);
        off += n;
    }
    if (!err && off < len)
        err = rl_watch_feed(&w, s + off, len - off);
    if (!err)
        err = rl_watch_finish(&w);
    if (w._line.len > max_line)
        abort();                        /* the bound was not kept */
    rl_watch_release(&w);
    return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct digest whole = { 14695981039346656037ull, 0 }, split = whole;
    size_t ncuts, max_line;
    int e1, e2;

    if (size < 2)
        return 0;
    ncuts = data[0] % 16;
    max_line = 16 + (size_t)data[1] * 8;
    data += 2;
    size -= 2;
    if (ncuts > size)
        ncuts = size;
    e1 = run((const char *)data + ncuts, size - ncuts, NULL, 0, max_line, &whole);
    e2 = run((const char *)data + ncuts, size - ncuts, data, ncuts, max_line, &split);
    if (e1 != e2 || whole.n != split.n || whole.hash != split.hash)
        abort();
    return 0;
}
