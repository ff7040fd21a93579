/*
 * watch.h - incremental framing of a Kubernetes watch stream, no I/O
 *
 * The API server sends one JSON event per line ({"type":..., "object":...}),
 * but the transport hands us bytes in arbitrary pieces: a piece may end
 * mid-line or hold several lines. rl_watch_feed() keeps the unfinished line
 * in a bounded buffer and dispatches each complete line, parsed exactly
 * once, to the event callback.
 *
 * Promises:
 *  - events reach on_event in stream order, each exactly once, and never
 *    from a partial line;
 *  - a line longer than max_line_bytes fails with RL_ETOOBIG without
 *    growing the buffer past that bound;
 *  - a line that is not a JSON event fails with RL_EPARSE;
 *  - an ERROR event carrying a Status fails with the error of its code
 *    (410 is RL_EGONE: the caller must relist); its reason and message are
 *    kept in status_reason / status_message;
 *  - after any error the framer is spent: further feeds return that error.
 *
 * Ownership: the object passed to on_event is borrowed for the call.
 * Threads: a framer belongs to one thread at a time.
 */
#ifndef RL_WATCH_H
#define RL_WATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "reloadd/base/buf.h"

/* type is "ADDED", "MODIFIED", "DELETED" or "BOOKMARK". */
typedef int rl_watch_event_fn(void *ctx, const char *type, const cJSON *object);

#define RL_WATCH_DEFAULT_MAX_LINE ((size_t)16 << 20)

struct rl_watch {
    rl_watch_event_fn *on_event;
    void *ctx;
    size_t max_line;            /* read-only */
    size_t events;              /* read-only: events dispatched so far */
    int err;                    /* read-only: the first error, 0 if none */
    long status_code;           /* read-only: from an ERROR event, else 0 */
    char status_reason[64];     /* read-only: from an ERROR event, else "" */
    char status_message[512];   /* read-only: from an ERROR event or a bad line */
    struct rl_buf _line;        /* the unfinished line */
};

/* max_line_bytes 0 means RL_WATCH_DEFAULT_MAX_LINE. */
void rl_watch_init(struct rl_watch *w, size_t max_line_bytes, rl_watch_event_fn *on_event,
                   void *ctx);
void rl_watch_release(struct rl_watch *w);

/*
 * Consumes len bytes. Returns 0, the error of the framing rules above, or
 * the first non-zero value returned by on_event (which ends the stream).
 */
int rl_watch_feed(struct rl_watch *w, const char *data, size_t len);

/*
 * The stream ended. A final line without its newline is still an event
 * when it parses as one; anything else left over means the stream was cut
 * mid-event: RL_ETRANSPORT (resume from the last event seen).
 */
int rl_watch_finish(struct rl_watch *w);

/* True while an unfinished line is buffered. */
static inline bool rl_watch_pending(const struct rl_watch *w)
{
    return w->_line.len != 0;
}

#endif /* RL_WATCH_H */
