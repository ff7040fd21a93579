/* alerts.c - reload alerts and --webhook-url posts, sent off the hot path */
#include "reloadd/ops/alerts.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/redact.h"
#include "reloadd/base/sync.h"
#include "reloadd/engine/outbox.h"
#include "reloadd/base/banned.h"

#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
#define DEFAULT_TIMEOUT_MS 10000L
#define DEFAULT_ATTEMPTS 3u
#define DEFAULT_BACKOFF_MS 500u
#define DEFAULT_QUEUE_MAX 256u
#define RESPONSE_KEEP 512               /* bytes of a response body kept for logs */
#define WEBHOOK_BODY "{\"webhook\":\"update successful\"}"

/* --- payloads (pure) ---------------------------------------------------- */

enum rl_alert_sink rl_alert_sink_parse(const char *s)
{
    if (!s)
        return RL_SINK_RAW;
    if (strcmp(s, "slack") == 0)
        return RL_SINK_SLACK;
    if (strcmp(s, "teams") == 0)
        return RL_SINK_TEAMS;
    if (strcmp(s, "gchat") == 0)
        return RL_SINK_GCHAT;
    return RL_SINK_RAW;
}

const char *rl_alert_sink_name(enum rl_alert_sink sink)
{
    switch (sink) {
    case RL_SINK_SLACK:
        return "slack";
    case RL_SINK_TEAMS:
        return "teams";
    case RL_SINK_GCHAT:
        return "gchat";
    case RL_SINK_WEBHOOK:
        return "webhook-url";
    case RL_SINK_RAW:
        break;
    }
    return "webhook";
}

int rl_alert_message(struct rl_buf *out, const char *info, const char *res, const char *type,
                     const char *ns, const char *workload, const char *kind)
{
    int err = 0;

    if (info)
        err = rl_buf_addf(out, "%s : ", info);
    if (!err)
        err = rl_buf_addf(out,
                          "Reloader detected changes in *%s* of type *%s* in namespace *%s*. "
                          "Hence reloaded *%s* of type *%s* in namespace *%s*",
                          res, type, ns, workload, kind, ns);
    return err;
}

int rl_alert_body(struct rl_buf *out, enum rl_alert_sink sink, const char *msg,
                  const char **content_type)
{
    int err = 0;

    *content_type = "application/json";
    switch (sink) {
    case RL_SINK_SLACK:
        err = rl_buf_adds(out, "{\"attachments\":[{\"author_name\":\"Reloader\",\"color\":\"good\","
                               "\"text\":");
        if (!err)
            err = rl_buf_add_json_str(out, msg);
        if (!err)
            err = rl_buf_adds(out, "}]}");
        break;
    case RL_SINK_TEAMS:
    case RL_SINK_GCHAT:
        err = rl_buf_adds(out, "{\"text\":");
        if (!err)
            err = rl_buf_add_json_str(out, msg);
        if (!err)
            err = rl_buf_addc(out, '}');
        break;
    case RL_SINK_WEBHOOK:
        err = rl_buf_adds(out, WEBHOOK_BODY);
        break;
    case RL_SINK_RAW:
        *content_type = "text/plain";
        for (const char *p = msg; !err && *p; p++)
            if (*p != '*')
                err = rl_buf_addc(out, *p);
        break;
    }
    return err;
}

bool rl_alert_status_ok(enum rl_alert_sink sink, long status)
{
    if (sink == RL_SINK_TEAMS || sink == RL_SINK_GCHAT)
        return status == 200;
    return status >= 200 && status < 300;
}

/* --- the sender --------------------------------------------------------- */

struct job {
    char *msg;
    char *what;
};

struct rl_alerts {
    char *url;
    char url_log[RL_REDACTED_URL_SIZE];     /* scheme://host: what logs may show */
    char *proxy;
    enum rl_alert_sink sink;
    long connect_timeout_ms, timeout_ms;
    unsigned max_attempts;
    uint64_t backoff_ms;
    struct rl_outbox *outbox;       /* of struct job; its thread is rl-alerts */
    CURL *curl;                     /* the outbox thread's */
    atomic_bool abort_now;          /* read by curl's progress callback */

    pthread_mutex_t mu;             /* guards stats; taken before the outbox's */
    struct rl_alerts_stats st;      /* + the outbox's: queued, dropped at stop */
};

static void job_release(void *ctx, void *item)
{
    struct job *j = item;

    (void)ctx;
    free(j->msg);
    free(j->what);
    j->msg = j->what = NULL;
}

static void deliver(void *ctx, void *item);

static void sender_init(void *ctx)
{
    struct rl_alerts *a = ctx;

    a->curl = curl_easy_init();
    if (!a->curl)
        RL_BUG("curl_easy_init");
}

static void sender_fini(void *ctx)
{
    struct rl_alerts *a = ctx;

    curl_easy_cleanup(a->curl);
    a->curl = NULL;
}

/* The stop's drain time is over with a request in flight: cut it short. */
static void sender_abort(void *ctx)
{
    struct rl_alerts *a = ctx;

    atomic_store(&a->abort_now, true);
}

int rl_alerts_new(struct rl_alerts **out, const struct rl_alerts_opts *o)
{
    static const struct rl_outbox_ops ops = {
        .deliver = deliver,
        .release = job_release,
        .thread_init = sender_init,
        .thread_fini = sender_fini,
        .on_abort = sender_abort,
    };
    struct rl_alerts *a;

    *out = NULL;
    if (!o || !o->url || (strncmp(o->url, "http://", 7) != 0 && strncmp(o->url, "https://", 8) != 0))
        return RL_EINVAL;
    a = RL_NEW(struct rl_alerts);
    a->url = rl_xstrdup(o->url);
    rl_redact_url(o->url, a->url_log, sizeof(a->url_log));
    a->proxy = rl_xstrdup(o->proxy ? o->proxy : "");
    a->sink = o->sink;
    a->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms
                                                      : DEFAULT_CONNECT_TIMEOUT_MS;
    a->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : DEFAULT_TIMEOUT_MS;
    a->max_attempts = o->max_attempts ? o->max_attempts : DEFAULT_ATTEMPTS;
    a->backoff_ms = o->backoff_ms ? o->backoff_ms : DEFAULT_BACKOFF_MS;
    a->outbox = rl_outbox_new("rl-alerts", sizeof(struct job),
                              o->queue_max ? o->queue_max : DEFAULT_QUEUE_MAX, &ops, a);
    rl_mutex_init(&a->mu);
    atomic_init(&a->abort_now, false);
    *out = a;
    return 0;
}

static size_t keep_response(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct rl_buf *b = ctx;
    size_t n = size * nmemb;

    if (b->len < RESPONSE_KEEP)
        rl_buf_add(b, data, n < RESPONSE_KEEP - b->len ? n : RESPONSE_KEEP - b->len);
    return n;
}

static int progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
    struct rl_alerts *a = ctx;

    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return atomic_load(&a->abort_now) ? 1 : 0;
}

enum outcome { SENT, RETRY, GIVE_UP };

/* One attempt. Logs what went wrong at debug; the caller logs the verdict. */
static enum outcome attempt(struct rl_alerts *a, CURL *h, const char *body, const char *ctype,
                            char *why, size_t whylen)
{
    struct curl_slist *hdrs = NULL;
    struct rl_buf resp;
    char ct[128], errbuf[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;
    enum outcome out;

    rl_buf_init(&resp, RESPONSE_KEEP + 1);
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    hdrs = curl_slist_append(hdrs, ct);
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, a->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    /* "" turns proxies off, including http_proxy & co from the environment. */
    curl_easy_setopt(h, CURLOPT_PROXY, a->proxy);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, a->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, a->timeout_ms);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "reloadd");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_response);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, a);

    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        out = rc == CURLE_ABORTED_BY_CALLBACK ? GIVE_UP : RETRY;
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rl_alert_status_ok(a->sink, status)) {
        rl_log_kv(RL_LOG_DEBUG, "notification delivered", "sink", rl_alert_sink_name(a->sink),
                  "response", resp.buf, NULL);
        out = SENT;
        goto out;
    }
    if (status >= 300 && status < 400)
        snprintf(why, whylen, "incorrect token (redirection): HTTP %ld", status);
    else
        snprintf(why, whylen, "HTTP %ld: %.200s", status, resp.buf);
    out = (status == 429 || status >= 500) ? RETRY : GIVE_UP;
out:
    curl_slist_free_all(hdrs);
    rl_buf_release(&resp);
    return out;
}

static void deliver(void *ctx, void *item)
{
    struct rl_alerts *a = ctx;
    const struct job *j = item;
    struct rl_buf body;
    const char *ctype;
    char why[512] = "";
    enum outcome out = GIVE_UP;
    uint64_t delay = a->backoff_ms;
    unsigned n;

    rl_buf_init(&body, 0);
    if (rl_alert_body(&body, a->sink, j->msg, &ctype) != 0) {
        snprintf(why, sizeof(why), "message too big");
        goto fail;
    }
    for (n = 1; n <= a->max_attempts; n++) {
        if (n > 1) {
            rl_mutex_lock(&a->mu);
            a->st.retries++;
            rl_mutex_unlock(&a->mu);
            if (!rl_outbox_backoff_wait(a->outbox, delay))
                break;
            delay *= 2;
        }
        out = attempt(a, a->curl, body.buf, ctype, why, sizeof(why));
        if (out != RETRY || n == a->max_attempts)
            break;
        {
            char num[16];

            snprintf(num, sizeof(num), "%u", n);
            rl_log_kv(RL_LOG_WARN, "notification attempt failed; retrying",
                      "sink", rl_alert_sink_name(a->sink), "url", a->url_log, "attempt", num,
                      "error", why, NULL);
        }
    }
    if (out == SENT) {
        rl_mutex_lock(&a->mu);
        a->st.sent++;
        rl_mutex_unlock(&a->mu);
        goto out;
    }
fail:
    rl_log_kv(RL_LOG_ERROR, a->sink == RL_SINK_WEBHOOK ? "error sending webhook"
                                                         : "error sending alert",
              "sink", rl_alert_sink_name(a->sink), "url", a->url_log, "what", j->what,
              "error", why, NULL);
    rl_mutex_lock(&a->mu);
    a->st.failed++;
    rl_mutex_unlock(&a->mu);
out:
    rl_buf_release(&body);
}

int rl_alerts_start(struct rl_alerts *a)
{
    return rl_outbox_start(a->outbox);
}

void rl_alerts_stop(struct rl_alerts *a, uint64_t drain_ms)
{
    size_t n;

    if (!a)
        return;
    n = rl_outbox_stop(a->outbox, drain_ms);       /* counts them in its dropped */
    if (n)
        rl_log(RL_LOG_WARN, "dropped %zu unsent %s notification(s) at shutdown", n,
               rl_alert_sink_name(a->sink));
}

void rl_alerts_free(struct rl_alerts *a)
{
    if (!a)
        return;
    rl_alerts_stop(a, 0);
    rl_outbox_free(a->outbox);
    free(a->url);
    free(a->proxy);
    rl_mutex_destroy(&a->mu);
    free(a);
}

void rl_alerts_post(struct rl_alerts *a, const char *msg, const char *what)
{
    struct job j, oldest = { 0 };
    enum rl_outbox_push put;

    if (!a || !msg)
        return;
    j = (struct job){ .msg = rl_xstrdup(msg), .what = what ? rl_xstrdup(what) : NULL };
    rl_mutex_lock(&a->mu);
    put = rl_outbox_push(a->outbox, &j, &oldest);
    if (put != RL_OUTBOX_REFUSED)
        a->st.posted++;
    if (put != RL_OUTBOX_QUEUED)
        a->st.dropped++;            /* the oldest, or this one */
    rl_mutex_unlock(&a->mu);
    if (put == RL_OUTBOX_EVICTED) {
        rl_log_kv(RL_LOG_WARN, "notification queue full; dropped the oldest",
                  "sink", rl_alert_sink_name(a->sink), "what", oldest.what, NULL);
        job_release(a, &oldest);
    } else if (put == RL_OUTBOX_REFUSED) {
        job_release(a, &j);
        rl_log_kv(RL_LOG_WARN, "shutting down; notification dropped",
                  "sink", rl_alert_sink_name(a->sink), "what", what, NULL);
    }
}

void rl_alerts_stats(struct rl_alerts *a, struct rl_alerts_stats *out)
{
    struct rl_outbox_stats ob;

    rl_mutex_lock(&a->mu);
    rl_outbox_stats(a->outbox, &ob);
    *out = a->st;
    out->queued = ob.queued;
    out->dropped += ob.dropped;
    rl_mutex_unlock(&a->mu);
}
