/*
 * kube.h - the Kubernetes API client
 *
 * The controller's only window on the cluster: configuration (kubeconfig
 * or in-cluster, see kubeconfig.h), synchronous REST verbs with typed
 * errors, a client-side token bucket, 429 Retry-After and 5xx retries, and
 * streamed watches framed line by line (watch.h).
 *
 * Errors: every call returns 0 or a negative RL_E* (err.h). An API error
 * (the server answered with a non-2xx status) is -(4000 + status) and the
 * Status body's reason, message and code are copied into the response;
 * transport failures are RL_ETRANSPORT/RL_ETIMEOUT/RL_ETLS with curl's
 * message. RL_ECONFLICT (409) and RL_ETOOMANY (429) are distinct.
 *
 * Ownership: a response owns its body; rl_kube_response_release() frees it.
 * Strings passed in are borrowed.
 *
 * Secrets: no byte of a response outlives its use. curl's receive buffer is
 * wiped by the write callbacks, which take every byte they are handed (an
 * error from them would leave the rest of the buffer unread); a response
 * body is a sensitive rl_buf; a request, a LIST and every poll of a watch
 * mux end by clearing the calling thread's vector registers (secmem.h).
 * A caller that parses a Secret's rl_kube_request() body itself clears
 * them again when done with it.
 *
 * Threads: one struct rl_kube is shared by every thread. Each thread that
 * makes synchronous requests gets its own curl easy handle (kept per thread
 * and reused, so connections are reused); the token bucket and metrics are
 * locked. Watches run on the caller's thread (see rl_kube_watch_*).
 */
#ifndef RL_KUBE_H
#define RL_KUBE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "reloadd/base/buf.h"

struct rl_kube;
struct rl_kubeconfig;
struct rl_clock;

struct rl_kube_opts {
    double qps;                     /* client-side token bucket; <= 0: unlimited */
    int burst;
    long connect_timeout_ms;        /* default 10000 */
    long request_timeout_ms;        /* whole request, non-watch; default 30000 */
    int max_retries;                /* for 429 and 5xx on idempotent verbs; 0: 3; < 0: none */
    const char *user_agent;         /* default "reloadd/<version>" */
};

/* Outcome of one request. */
struct rl_kube_response {
    long status;                    /* HTTP status, 0 if no answer */
    struct rl_buf body;             /* the raw body (JSON) */
    char reason[64];                /* Status.reason, e.g. "Conflict"; "" if none */
    char message[512];              /* Status.message or the transport error */
    long retry_after_s;             /* Retry-After header, -1 if none */
};

void rl_kube_response_init(struct rl_kube_response *r);
void rl_kube_response_release(struct rl_kube_response *r);
/* Parses the body as JSON; NULL if it is not. Caller frees with cJSON_Delete. */
cJSON *rl_kube_response_json(const struct rl_kube_response *r);

/* Takes over cfg. Returns NULL only if curl cannot be initialised. */
struct rl_kube *rl_kube_new(struct rl_kubeconfig *cfg, const struct rl_kube_opts *opts,
                            const struct rl_clock *clock);
void rl_kube_free(struct rl_kube *k);

/* The server URL, e.g. "https://127.0.0.1:6443" (borrowed). */
const char *rl_kube_server(const struct rl_kube *k);

/*
 * A request. path starts with "/" and may carry a query ("?limit=500").
 * body may be NULL; content_type defaults to application/json.
 * PATCH content types: "application/strategic-merge-patch+json",
 * "application/merge-patch+json", "application/json-patch+json".
 * Waits for the token bucket first; retries 429 (after Retry-After) and
 * 5xx/transport errors for GET/LIST (and for writes only on 429, which
 * the server guarantees was not applied).
 */
int rl_kube_request(struct rl_kube *k, const char *method, const char *path,
                    const char *body, const char *content_type,
                    struct rl_kube_response *resp);

/*
 * Marks the calling thread's requests as background (the Event poster): they
 * take a token only while the bucket keeps half its burst for the others, so
 * Events never delay a rollout under --kube-api-qps. A background request
 * that found no spare token within RL_KUBE_BACKGROUND_WAIT_MS is not sent and
 * fails with RL_EBUSY; one whose give_up flag (may be NULL) turns true while
 * it waits fails with RL_ESHUTDOWN.
 */
#define RL_KUBE_BACKGROUND_WAIT_MS 5000
void rl_kube_thread_background(bool background, const atomic_bool *give_up);

/*
 * For a request its caller can postpone instead of waiting (a watch start
 * on the informers' I/O thread): takes a token of the bucket and returns 0,
 * or takes nothing and returns the ms until one is free. Tokens promised to
 * waiting requests are theirs first. Watch starts spend --kube-api-qps like
 * every other request, as in client-go.
 */
uint64_t rl_kube_try_token(struct rl_kube *k);

/*
 * The process is stopping: every wait of every thread (token bucket, retry
 * backoff, a 429's Retry-After) ends now; requests in flight are cut short
 * (RL_ESHUTDOWN) and none is retried; the few sent from now on (the Lease's
 * release, the last Events) skip the bucket and end within within_ms. So a
 * stop ends well inside a pod's grace period, even mid-backoff. Any thread.
 */
void rl_kube_shutdown(struct rl_kube *k, uint64_t within_ms);

/*
 * Write fencing for the calling thread. While set, every write (any verb
 * but GET and HEAD) asks fn right before each send - the first and every
 * retry, after every wait for the token bucket or a Retry-After - how many
 * milliseconds the caller may still write: 0 refuses the send
 * (RL_ENOTLEADER, nothing sent), and the request's timeout is cut to what
 * is left, so a leader deposed while a write waits or hangs cannot write.
 * UINT64_MAX: no limit. NULL clears it.
 */
typedef uint64_t rl_kube_fence_fn(void *ctx);
void rl_kube_thread_fence(rl_kube_fence_fn *fn, void *ctx);

/* Convenience wrappers; the object comes back in resp->body. */
int rl_kube_get(struct rl_kube *k, const char *path, struct rl_kube_response *resp);
int rl_kube_create(struct rl_kube *k, const char *collection_path, const char *json,
                   struct rl_kube_response *resp);
int rl_kube_update(struct rl_kube *k, const char *path, const char *json,
                   struct rl_kube_response *resp);
int rl_kube_patch(struct rl_kube *k, const char *path, const char *content_type,
                  const char *patch, struct rl_kube_response *resp);
/* propagation: "Background", "Foreground", "Orphan" or NULL. */
int rl_kube_delete(struct rl_kube *k, const char *path, const char *propagation,
                   struct rl_kube_response *resp);

/*
 * Paginated LIST. Calls on_item for each item (borrowed, valid during the
 * call) of every page, with at most limit items per page and the
 * selectors given (either may be NULL). On success *resource_version is
 * the list's metadata.resourceVersion (caller frees). A 410 on a continue
 * token restarts the list from the beginning once (on_item then sees the
 * items of the pages before it again). on_item returning non-zero stops
 * the list with that value.
 *
 * Pages are sized in bytes, so that big objects (Secrets of up to 1 MiB)
 * never make a page of hundreds of MiB: after each page the next asks for
 * as many items as fit in page_bytes at that page's bytes per item (fewer
 * at once, more by half a page at a time, within 1..limit); a page that
 * passes 4 times page_bytes is dropped as it arrives and asked again with
 * an eighth of the items. A page is parsed and freed before the next one
 * is asked for. With start_limit, the list begins at *start_limit items
 * per page (when 0 < it < limit) and leaves there what the next page would
 * have asked, for the next list of the same collection.
 */
typedef int rl_kube_item_fn(void *ctx, const cJSON *item);
struct rl_kube_list_opts {
    const char *label_selector;
    const char *field_selector;
    int limit;                      /* items per page at most; default 500 */
    size_t page_bytes;              /* what a page aims at; default 16 MiB */
    int *start_limit;               /* in and out, may be NULL */
};
int rl_kube_list(struct rl_kube *k, const char *collection_path,
                 const struct rl_kube_list_opts *opts, rl_kube_item_fn *on_item,
                 void *ctx, char **resource_version);

/*
 * The page size after a page of `items` items in `bytes` bytes that asked
 * for `limit`: what fits in budget at its bytes per item, when the page
 * was over budget; half as many again (at most what fits), when it was
 * full and under a quarter of budget; else limit. Always within 1..max.
 */
int rl_kube_next_page_limit(int limit, int max, int items, size_t bytes, size_t budget);

/*
 * WATCH, streamed. Events are delivered in order as they arrive, one per
 * complete line (bounded: a line over max_line_bytes ends the watch with
 * RL_ETOOBIG). type is "ADDED", "MODIFIED", "DELETED", "BOOKMARK" or
 * "ERROR"; object is borrowed for the call. on_event returning non-zero
 * ends the watch with that value. Bookmarks are requested. The watch ends
 * when the server closes it (returns 0), on error, when should_stop()
 * returns true (polled at least every 200 ms; returns RL_ESHUTDOWN), or
 * after timeout_s (server-side timeoutSeconds; 0 = server default).
 * A watch ERROR event carrying a Status with code 410 ends it with
 * RL_EGONE: the caller must relist.
 */
typedef int rl_kube_event_fn(void *ctx, const char *type, const cJSON *object);
typedef bool rl_kube_stop_fn(void *ctx);
struct rl_kube_watch_opts {
    const char *label_selector;
    const char *field_selector;
    const char *resource_version;   /* resume point; NULL: from now */
    int timeout_s;
    size_t max_line_bytes;          /* default 16 MiB */
    rl_kube_stop_fn *should_stop;
    void *stop_ctx;
    /* Mux streams: called once, with the stream's ctx, when the server answers 2xx. */
    void (*on_open)(void *ctx);
};
int rl_kube_watch(struct rl_kube *k, const char *collection_path,
                  const struct rl_kube_watch_opts *opts, rl_kube_event_fn *on_event,
                  void *ctx);

/*
 * Many watches on one thread. A mux drives any number of watch streams
 * over one curl multi handle; rl_kube_mux_poll() runs the transfers for up
 * to timeout_ms and delivers events and stream ends on the calling thread
 * (the informers' I/O thread). Every callback runs on that thread.
 * rl_kube_watch() above is a mux with one stream, run to its end.
 *
 * on_end(ctx, err) is called exactly once per stream, after which the
 * stream is freed by the mux: err is 0 when the server closed the watch
 * normally, RL_EGONE for 410 (relist), RL_ESHUTDOWN after cancel, or
 * another error. The informer then decides to re-watch or relist.
 */
struct rl_kube_mux;
struct rl_kube_stream;
typedef void rl_kube_end_fn(void *ctx, int err);

struct rl_kube_mux *rl_kube_mux_new(struct rl_kube *k);
/* Cancels every stream (their on_end runs with RL_ESHUTDOWN) and frees. */
void rl_kube_mux_free(struct rl_kube_mux *mux);
/*
 * Starts a watch. The stream belongs to the mux; valid until its on_end.
 * A start that fails at once (bad path, credentials) still returns a
 * stream, whose on_end runs with the error at the next poll. NULL only
 * while rl_kube_mux_free() is running (from an on_end it calls).
 * Watch starts do not take from the token bucket: their callers pace
 * re-watches with backoff, and the mux thread must never sleep.
 */
struct rl_kube_stream *rl_kube_mux_watch(struct rl_kube_mux *mux, const char *collection_path,
                                         const struct rl_kube_watch_opts *opts,
                                         rl_kube_event_fn *on_event, rl_kube_end_fn *on_end,
                                         void *ctx);
/* Ends a stream from the mux thread; its on_end runs with RL_ESHUTDOWN. */
void rl_kube_stream_cancel(struct rl_kube_mux *mux, struct rl_kube_stream *s);
/* Runs transfers; returns after up to timeout_ms or a wakeup. 0 or RL_E*. */
int rl_kube_mux_poll(struct rl_kube_mux *mux, int timeout_ms);
/* Any thread: makes a blocked rl_kube_mux_poll() return early. */
void rl_kube_mux_wakeup(struct rl_kube_mux *mux);
/* Number of live streams. */
size_t rl_kube_mux_count(const struct rl_kube_mux *mux);

/*
 * The message of the calling thread's last failed call (a request, a
 * LIST, or a stream's end: the Status message or the transport error,
 * naming the URL); "" after a success. Valid until the thread's next call.
 */
const char *rl_kube_last_error(void);

/*
 * Metrics hook: called after each HTTP exchange, retries included (any
 * thread; for watches, on the mux thread when the stream ends). verb is
 * get/list/watch/create/update/patch/delete, resource the plural from the
 * path ("configmaps"), status 0 when there was no answer.
 */
typedef void rl_kube_observe_fn(void *ctx, const char *verb, const char *resource,
                                long status, double seconds);
void rl_kube_set_observer(struct rl_kube *k, rl_kube_observe_fn *fn, void *ctx);

#endif /* RL_KUBE_H */
