/* watch.c - incremental framing of a Kubernetes watch stream */
#include "reloadd/kube/watch.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/banned.h"

void rl_watch_init(struct rl_watch *w, size_t max_line_bytes, rl_watch_event_fn *on_event,
                   void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->on_event = on_event;
    w->ctx = ctx;
    w->max_line = max_line_bytes ? max_line_bytes : RL_WATCH_DEFAULT_MAX_LINE;
    rl_buf_init(&w->_line, w->max_line);
    rl_buf_sensitive(&w->_line);
}

void rl_watch_release(struct rl_watch *w)
{
    rl_buf_release(&w->_line);
}

static const char *const event_types[] = { "ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR" };

static const char *known_type(const char *type)
{
    if (!type)
        return NULL;
    for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
        if (strcmp(type, event_types[i]) == 0)
            return event_types[i];
    return NULL;
}

static int bad_line(struct rl_watch *w, const char *why)
{
    snprintf(w->status_message, sizeof(w->status_message), "malformed watch event %zu: %s",
             w->events + 1, why);
    return RL_EPARSE;
}

/* An ERROR event: the object is a Status whose code says what went wrong. */
static int error_event(struct rl_watch *w, const cJSON *status)
{
    long code = (long)rl_json_int(status, "code", 0);

    w->status_code = code;
    strlcpy(w->status_reason, rl_json_str_or(status, "reason", ""), sizeof(w->status_reason));
    strlcpy(w->status_message, rl_json_str_or(status, "message", ""),
            sizeof(w->status_message));
    if (code < 300 || code > 599)
        return RL_EPARSE;
    return rl_err_from_http(code);
}

/* at_end: the stream ended without this line's newline. */
static int dispatch(struct rl_watch *w, const char *line, size_t len, bool at_end)
{
    cJSON *root;
    const cJSON *object;
    const char *type, *end = NULL;
    int err;

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return 0;                       /* blank lines are keep-alives */
    root = cJSON_ParseWithLengthOpts(line, len, &end, false);
    if (root && end != line + len) {
        cJSON_Delete(root);             /* one JSON value per line, nothing after it */
        return bad_line(w, "trailing data after the event");
    }
    if (!root && at_end) {
        snprintf(w->status_message, sizeof(w->status_message),
                 "watch stream ended inside event %zu (%zu bytes of it received)",
                 w->events + 1, len);
        return RL_ETRANSPORT;
    }
    if (!root)
        return bad_line(w, "not JSON");
    type = known_type(rl_json_str(root, "type"));
    object = rl_json_obj(root, "object");
    if (!type)
        err = bad_line(w, "missing or unknown \"type\"");
    else if (!object)
        err = bad_line(w, "\"object\" is not an object");
    else if (strcmp(type, "ERROR") == 0)
        err = error_event(w, object);
    else
        err = w->on_event(w->ctx, type, object);
    if (!err)
        w->events++;
    cJSON_Delete(root);
    return err;
}

int rl_watch_feed(struct rl_watch *w, const char *data, size_t len)
{
    const char *end = data + len;

    if (w->err)
        return w->err;
    while (data < end) {
        const char *nl = memchr(data, '\n', (size_t)(end - data));
        size_t n = (size_t)((nl ? nl : end) - data);
        int err;

        if (!nl) {
            /* The rest comes in a later piece; keep it, within the bound. */
            if (rl_buf_add(&w->_line, data, n) != 0) {
                snprintf(w->status_message, sizeof(w->status_message),
                         "watch event %zu is longer than %zu bytes", w->events + 1,
                         w->max_line);
                return w->err = RL_ETOOBIG;
            }
            return 0;
        }
        if (w->_line.len == 0) {
            /* The common case: a whole line inside this piece, no copy. */
            if (n > w->max_line)
                err = RL_ETOOBIG;
            else
                err = dispatch(w, data, n, false);
        } else if (rl_buf_add(&w->_line, data, n) != 0) {
            err = RL_ETOOBIG;
        } else {
            err = dispatch(w, w->_line.buf, w->_line.len, false);
            rl_buf_reset(&w->_line);
        }
        if (err == RL_ETOOBIG && !w->status_message[0])
            snprintf(w->status_message, sizeof(w->status_message),
                     "watch event %zu is longer than %zu bytes", w->events + 1, w->max_line);
        if (err)
            return w->err = err;
        data = nl + 1;
    }
    return 0;
}

int rl_watch_finish(struct rl_watch *w)
{
    int err;

    if (w->err)
        return w->err;
    if (w->_line.len == 0)
        return 0;
    /* A last event without its newline is whole if it parses; else it was cut. */
    err = dispatch(w, w->_line.buf, w->_line.len, true);
    rl_buf_reset(&w->_line);
    if (err)
        w->err = err;
    return err;
}
