/*
 * alerts.h - reload alerts and --webhook-url posts, sent off the hot path
 *
 * Two uses of one sender:
 *
 *  - reload alerts (docs/reloader.md §9.2): after each successful rollout, when
 *    ALERT_ON_RELOAD=true, a message in Reloader's words goes to
 *    ALERT_WEBHOOK_URL in the format of ALERT_SINK: "slack", "teams",
 *    "gchat", or anything else as a raw text/plain webhook with every '*'
 *    removed. ALERT_ADDITIONAL_INFO, when present, prefixes "<info> : ";
 *    ALERT_WEBHOOK_PROXY is the proxy (empty: none, whatever the process
 *    environment says);
 *  - --webhook-url mode (docs/reloader.md §9.1): `{"webhook":"update successful"}` as
 *    application/json for every qualifying source change.
 *
 * Payloads are Reloader's, byte for byte: JSON strings escaped as Go's
 * encoding/json does ('<' '>' '&' U+2028 U+2029 as \uXXXX, invalid UTF-8
 * as U+FFFD), Slack keys sorted. What is fixed
 * (docs/reloader.md §15.25, §15.26): every request has a connect and a total
 * timeout; redirects are refused; the status is checked (teams and gchat:
 * exactly 200, the others: 2xx), and a transport error, a timeout, a 429
 * or a 5xx is retried with doubling backoff up to max_attempts in all;
 * other failures are logged once and dropped. Logs name the URL by its
 * scheme and host only (redact.h): its user, path and query are where the
 * sinks keep their credentials.
 *
 * Never blocking a caller: rl_alerts_post() copies the message into a
 * bounded queue and returns. When the queue is full the OLDEST message is
 * dropped, logged and counted. One thread per struct rl_alerts sends, one
 * request at a time, with its own curl easy handle.
 *
 * Ownership: strings given to rl_alerts_new() are copied; posted messages
 * are copied. Threads: new/start/stop/free from one owner thread; post
 * and stats from any thread. curl_global_init() must have run.
 */
#ifndef RL_ALERTS_H
#define RL_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rl_buf;
struct rl_alerts;

enum rl_alert_sink {
    RL_SINK_RAW,                    /* text/plain, '*' removed (any other ALERT_SINK) */
    RL_SINK_SLACK,
    RL_SINK_TEAMS,
    RL_SINK_GCHAT,
    RL_SINK_WEBHOOK,                /* --webhook-url mode */
};

/* ALERT_SINK as Reloader reads it (already trimmed and lower-cased); NULL: raw. */
enum rl_alert_sink rl_alert_sink_parse(const char *s);
const char *rl_alert_sink_name(enum rl_alert_sink sink);

/*
 * Reloader's alert text: "Reloader detected changes in *<res>* of type
 * *<TYPE>* in namespace *<ns>*. Hence reloaded *<wl>* of type *<Kind>* in
 * namespace *<ns>*", prefixed by "<info> : " if info is not NULL.
 */
int rl_alert_message(struct rl_buf *out, const char *info, const char *res, const char *type,
                     const char *ns, const char *workload, const char *kind);

/*
 * The request body for msg under sink, and its Content-Type (static).
 * For RL_SINK_WEBHOOK msg is ignored.
 */
int rl_alert_body(struct rl_buf *out, enum rl_alert_sink sink, const char *msg,
                  const char **content_type);

/* Whether an HTTP status means the sink took the message. */
bool rl_alert_status_ok(enum rl_alert_sink sink, long status);

struct rl_alerts_opts {
    const char *url;                /* required: http:// or https:// */
    enum rl_alert_sink sink;
    const char *proxy;              /* NULL or "": no proxy at all */
    long connect_timeout_ms;        /* 0: 5000 */
    long timeout_ms;                /* whole request; 0: 10000 */
    unsigned max_attempts;          /* 0: 3 */
    uint64_t backoff_ms;            /* first retry delay, doubled; 0: 500 */
    size_t queue_max;               /* 0: 256 */
};

struct rl_alerts_stats {
    uint64_t posted;                /* messages accepted by post() */
    uint64_t sent;                  /* delivered (status accepted) */
    uint64_t failed;                /* given up on after their attempts */
    uint64_t dropped;               /* discarded: queue full, or left at stop */
    uint64_t retries;               /* attempts after the first */
    size_t queued;                  /* waiting now */
};

/* RL_EINVAL for a missing URL or one that is not http(s)://. */
int rl_alerts_new(struct rl_alerts **out, const struct rl_alerts_opts *opts);
int rl_alerts_start(struct rl_alerts *a);
/*
 * Sends what is queued for up to drain_ms more, then aborts the request
 * in flight, drops (and counts) the rest and joins the thread. Idempotent.
 */
void rl_alerts_stop(struct rl_alerts *a, uint64_t drain_ms);
/* Stops (no drain) if running, then frees. NULL: no-op. */
void rl_alerts_free(struct rl_alerts *a);

/* Queues msg (copied); never blocks. `what` names it in logs (copied; may be NULL). */
void rl_alerts_post(struct rl_alerts *a, const char *msg, const char *what);

void rl_alerts_stats(struct rl_alerts *a, struct rl_alerts_stats *out);

#endif /* RL_ALERTS_H */
