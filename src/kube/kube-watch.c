/* kube-watch.c - watch streams multiplexed on one curl multi handle */
#include "kube-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/list.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/secmem.h"
#include "reloadd/kube/kubeconfig.h"
#include "reloadd/kube/watch.h"
#include "reloadd/base/banned.h"

#define WATCH_LOW_SPEED_TIME_S 180  /* bookmarks arrive every minute; 3 missed = dead */
#define WATCH_ERRBODY_MAX      ((size_t)64 << 10)

struct rl_kube_stream {
    struct rl_kube_mux *mux;
    struct rl_list_node node;               /* in mux->streams, or an end batch */
    CURL *easy;                 /* NULL if the start failed */
    struct curl_slist *headers;
    char *url;
    char *path;                 /* for the observer */
    struct rl_watch framer;
    rl_kube_event_fn *on_event;
    rl_kube_end_fn *on_end;
    void (*on_open)(void *ctx);     /* NULL once called */
    void *ctx;
    double started_s;
    long status;
    struct rl_buf errbody;      /* the body of a non-2xx answer */
    char curl_msg[CURL_ERROR_SIZE];
    char message[640];
    int err;                    /* from the framer or on_event; or a failed start */
    CURLcode result;
    bool in_multi;
    bool done;                  /* curl finished the transfer (result valid) */
    bool failed_start;
    bool cancelled;
    bool ending;                /* taken out of mux->streams; on_end pending */
};

struct rl_kube_mux {
    struct rl_kube *k;
    CURLM *multi;
    struct rl_list streams;     /* its length: rl_kube_mux_count() */
    bool in_perform;            /* inside curl_multi_perform (callbacks may run) */
    bool closing;
};

#define STREAM(n) rl_list_entry(n, struct rl_kube_stream, node)

/* The framer's callback: a cancelled stream stops at the next event. */
static int stream_event(void *ctx, const char *type, const cJSON *object)
{
    struct rl_kube_stream *s = ctx;
    int rc;

    if (s->cancelled)
        return RL_ESHUTDOWN;
    rc = s->on_event(s->ctx, type, object);
    if (!rc && s->cancelled)
        return RL_ESHUTDOWN;
    return rc;
}

/*
 * curl's write callback. It consumes and wipes every byte it is handed, on
 * every path: an error returned here would make curl drop the rest of its
 * receive buffer unread, and that rest (possibly whole further events of a
 * Secret watch) would stay there until curl frees the buffer unwiped. A
 * stream that must end (cancelled, or the framer or handler failed) has its
 * further bytes discarded; the sweep after this perform removes it.
 */
static size_t stream_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct rl_kube_stream *s = ud;
    size_t n = size * nmemb;

    if (s->cancelled || s->err) {
        rl_wipe(ptr, n);
        return n;
    }
    if (!s->status)
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status < 200 || s->status > 299)
        rl_buf_add(&s->errbody, ptr, n);    /* beyond the cap: the start is enough */
    else
        s->err = rl_watch_feed(&s->framer, ptr, n);
    rl_wipe(ptr, n);                /* curl's receive buffer */
    return n;
}

/* The end of the response's headers: a 2xx means the server took the watch. */
static size_t stream_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct rl_kube_stream *s = ud;
    size_t n = size * nmemb;
    long status = 0;

    if (s->on_open && n <= 2 && (n == 0 || ptr[0] == '\r' || ptr[0] == '\n')) {
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && status <= 299 && !s->cancelled) {
            void (*fn)(void *) = s->on_open;

            s->on_open = NULL;
            fn(s->ctx);
        }
    }
    return n;
}

/* Why the stream ended, computed when its on_end is about to run. */
static int stream_outcome(struct rl_kube_stream *s)
{
    if (s->cancelled) {
        snprintf(s->message, sizeof(s->message), "watch %s cancelled", s->url);
        return RL_ESHUTDOWN;
    }
    if (s->failed_start)
        return s->err;
    if (s->err) {
        if (s->err == RL_EGONE || s->framer.status_message[0])
            snprintf(s->message, sizeof(s->message), "watch %s: %s", s->url,
                     s->framer.status_message[0] ? s->framer.status_message
                                                 : "resource version expired");
        else
            snprintf(s->message, sizeof(s->message), "watch %s ended by its handler (%s)",
                     s->url, rl_strerror(s->err));
        return s->err;
    }
    if (!s->done) {
        snprintf(s->message, sizeof(s->message), "watch %s did not finish", s->url);
        return RL_ETRANSPORT;
    }
    if (s->result != CURLE_OK)
        return rl__kube_curl_error(s->result, s->curl_msg, s->url, s->message,
                                   sizeof(s->message));
    if (s->status < 200 || s->status > 299) {
        char reason[64];

        rl__kube_parse_status(s->errbody.buf, s->errbody.len, s->status, reason,
                              sizeof(reason), s->message, sizeof(s->message));
        return rl_err_from_http(s->status);
    }
    /* The server closed the stream: a last line without newline may be cut. */
    if (rl_watch_finish(&s->framer) != 0) {
        strlcpy(s->message, s->framer.status_message, sizeof(s->message));
        return s->framer.err;
    }
    return s->cancelled ? RL_ESHUTDOWN : 0;
}

static void stream_free(struct rl_kube_stream *s)
{
    if (s->easy) {
        curl_easy_setopt(s->easy, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_cleanup(s->easy);
    }
    rl__kube_headers_free(s->headers);
    rl_watch_release(&s->framer);
    rl_buf_release(&s->errbody);
    free(s->url);
    free(s->path);
    free(s);
}

/* Removes s from the multi, runs its on_end and frees it. s is already unlinked. */
static void stream_end(struct rl_kube_mux *mux, struct rl_kube_stream *s)
{
    int err;

    if (s->in_multi) {
        curl_multi_remove_handle(mux->multi, s->easy);
        s->in_multi = false;
    }
    err = stream_outcome(s);
    if (!s->failed_start)
        rl__kube_observe(mux->k, "GET", s->path, s->status, rl__kube_now_s() - s->started_s);
    rl__kube_set_last_error(err ? s->message : "");
    if (err && err != RL_ESHUTDOWN)
        rl_debug("%s", s->message);
    s->on_end(s->ctx, err);
    stream_free(s);
}

/*
 * Ends every finished or cancelled stream. They are moved to a batch first:
 * an on_end may start new streams or cancel others, which must not disturb
 * the walk.
 */
static void sweep(struct rl_kube_mux *mux)
{
    struct rl_list batch = { 0 };
    struct rl_list_node *node, *next;
    struct rl_kube_stream *s;
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(mux->multi, &left)) != NULL) {
        void *priv = NULL;

        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        s = priv;
        s->done = true;
        s->result = msg->data.result;
    }
    for (node = mux->streams.head; node; node = next) {
        next = node->next;
        s = STREAM(node);
        if (s->done || s->cancelled || s->failed_start || s->err) {
            rl_list_remove(&mux->streams, &s->node);
            s->ending = true;
            rl_list_push_front(&batch, &s->node);
        }
    }
    while (batch.head) {
        s = STREAM(batch.head);
        rl_list_remove(&batch, &s->node);
        stream_end(mux, s);
    }
}

struct rl_kube_mux *rl_kube_mux_new(struct rl_kube *k)
{
    struct rl_kube_mux *mux = RL_NEW(struct rl_kube_mux);

    mux->k = k;
    mux->multi = curl_multi_init();
    if (!mux->multi) {
        free(mux);
        return NULL;
    }
    /* Many watches share one HTTP/2 connection where the server offers it. */
    curl_multi_setopt(mux->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return mux;
}

void rl_kube_mux_free(struct rl_kube_mux *mux)
{
    if (!mux)
        return;
    mux->closing = true;
    for (struct rl_list_node *node = mux->streams.head; node; node = node->next)
        STREAM(node)->cancelled = true;
    sweep(mux);
    curl_multi_cleanup(mux->multi);
    free(mux);
}

static void watch_path(struct rl_buf *b, const char *collection,
                       const struct rl_kube_watch_opts *o)
{
    rl_buf_adds(b, collection);
    rl_buf_adds(b, strchr(collection, '?') ? "&" : "?");
    rl_buf_adds(b, "watch=1&allowWatchBookmarks=true");
    if (!o)
        return;
    rl__kube_add_param(b, "resourceVersion", o->resource_version);
    if (o->timeout_s > 0)
        rl_buf_addf(b, "&timeoutSeconds=%d", o->timeout_s);
    rl__kube_add_param(b, "labelSelector", o->label_selector);
    rl__kube_add_param(b, "fieldSelector", o->field_selector);
}

struct rl_kube_stream *rl_kube_mux_watch(struct rl_kube_mux *mux, const char *collection_path,
                                         const struct rl_kube_watch_opts *opts,
                                         rl_kube_event_fn *on_event, rl_kube_end_fn *on_end,
                                         void *ctx)
{
    struct rl_kube *k = mux->k;
    struct rl_kube_stream *s;
    struct rl_buf path;
    char autherr[512] = "";
    char *auth = NULL;
    int err;

    if (mux->closing)
        return NULL;
    s = RL_NEW(struct rl_kube_stream);
    s->mux = mux;
    s->on_event = on_event;
    s->on_end = on_end;
    s->on_open = opts ? opts->on_open : NULL;
    s->ctx = ctx;
    s->started_s = rl__kube_now_s();
    rl_watch_init(&s->framer, opts ? opts->max_line_bytes : 0, stream_event, s);
    rl_buf_init(&s->errbody, WATCH_ERRBODY_MAX);
    rl_buf_sensitive(&s->errbody);
    rl_list_push_front(&mux->streams, &s->node);

    rl_buf_init(&path, 0);
    watch_path(&path, collection_path ? collection_path : "", opts);
    s->path = rl_buf_detach(&path);
    s->url = rl_xasprintf("%s%s", k->base_url, s->path);
    if (!collection_path || collection_path[0] != '/' || strpbrk(collection_path, " \t\r\n#")) {
        snprintf(s->message, sizeof(s->message), "invalid watch path '%s'",
                 collection_path ? collection_path : "(null)");
        s->err = RL_EINVAL;
        s->failed_start = true;
        return s;                       /* on_end runs at the next poll */
    }
    err = rl_kubeconfig_auth(k->cfg, &auth, autherr, sizeof(autherr));
    if (err) {
        strlcpy(s->message, autherr, sizeof(s->message));
        s->err = err;
        s->failed_start = true;
        return s;
    }
    s->headers = rl__kube_headers(auth, NULL);
    rl_free_secret(auth);

    s->easy = curl_easy_init();
    if (!s->easy)
        RL_BUG("curl_easy_init failed");
    rl__kube_setup_easy(k, s->easy, s->curl_msg);
    rl__kube_protect(s->easy, s->path);
    curl_easy_setopt(s->easy, CURLOPT_URL, s->url);
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, (char *)s);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, stream_data);
    curl_easy_setopt(s->easy, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(s->easy, CURLOPT_HEADERFUNCTION, stream_header);
    curl_easy_setopt(s->easy, CURLOPT_HEADERDATA, s);
    /*
     * No total timeout: the server ends the watch (timeoutSeconds). A
     * stream silent for longer than several bookmark periods is dead.
     */
    curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(s->easy, CURLOPT_LOW_SPEED_TIME, (long)WATCH_LOW_SPEED_TIME_S);
    if (curl_multi_add_handle(mux->multi, s->easy) != CURLM_OK) {
        snprintf(s->message, sizeof(s->message), "watch %s: cannot start the transfer", s->url);
        s->err = RL_ETRANSPORT;
        s->failed_start = true;
        return s;
    }
    s->in_multi = true;
    return s;
}

void rl_kube_stream_cancel(struct rl_kube_mux *mux, struct rl_kube_stream *s)
{
    if (!s || s->cancelled)
        return;
    s->cancelled = true;
    if (mux->in_perform || s->ending)
        return;                         /* the sweep after perform, or the running batch */
    rl_list_remove(&mux->streams, &s->node);
    s->ending = true;
    stream_end(mux, s);
}

static void perform(struct rl_kube_mux *mux)
{
    int running;

    mux->in_perform = true;
    curl_multi_perform(mux->multi, &running);
    mux->in_perform = false;
    sweep(mux);
    /*
     * The events were decrypted, copied, framed, parsed and handled in this
     * thread, which now waits in poll: clear the vector registers that
     * moved their last bytes (secmem.h), or a core dump shows them.
     */
    rl_wipe_vector_registers();
}

int rl_kube_mux_poll(struct rl_kube_mux *mux, int timeout_ms)
{
    CURLMcode mc;

    perform(mux);
    mc = curl_multi_poll(mux->multi, NULL, 0, timeout_ms < 0 ? 0 : timeout_ms, NULL);
    if (mc != CURLM_OK) {
        rl__kube_set_last_error(curl_multi_strerror(mc));
        return RL_EIO;
    }
    perform(mux);
    return 0;
}

void rl_kube_mux_wakeup(struct rl_kube_mux *mux)
{
    curl_multi_wakeup(mux->multi);
}

size_t rl_kube_mux_count(const struct rl_kube_mux *mux)
{
    return mux->streams.len;
}

/* ---------------------------------------------------------------------- */
/* A single watch: a mux with one stream, run to its end. */

struct single_ctx {
    bool ended;
    int err;
    rl_kube_event_fn *on_event;
    void *ctx;
};

static void single_end(void *ctx, int err)
{
    struct single_ctx *sc = ctx;

    sc->ended = true;
    sc->err = err;
}

static int single_event(void *ctx, const char *type, const cJSON *object)
{
    struct single_ctx *sc = ctx;

    return sc->on_event(sc->ctx, type, object);
}

int rl_kube_watch(struct rl_kube *k, const char *collection_path,
                  const struct rl_kube_watch_opts *opts, rl_kube_event_fn *on_event,
                  void *ctx)
{
    struct rl_kube_mux *mux = rl_kube_mux_new(k);
    struct single_ctx sc = { .on_event = on_event, .ctx = ctx };
    struct rl_kube_stream *s;
    int err = 0;

    if (!mux)
        return RL_ENOMEM;
    s = rl_kube_mux_watch(mux, collection_path, opts, single_event, single_end, &sc);
    while (s && !sc.ended) {
        if (opts && opts->should_stop && opts->should_stop(opts->stop_ctx)) {
            rl_kube_stream_cancel(mux, s);
            break;
        }
        err = rl_kube_mux_poll(mux, 200);
        if (err)
            break;
    }
    rl_kube_mux_free(mux);
    return err ? err : sc.err;
}
