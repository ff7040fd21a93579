/* kube.c - the Kubernetes API client: configuration of curl, REST verbs, LIST */
#include "kube-int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <bsd/string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/json.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/secmem.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/kubeconfig.h"
#include "reloadd/version.h"

#include <openssl/ssl.h>
#include "reloadd/base/banned.h"

#define DEFAULT_CONNECT_TIMEOUT_MS  10000L
#define DEFAULT_REQUEST_TIMEOUT_MS  30000L
#define DEFAULT_MAX_RETRIES         3
#define DEFAULT_LIST_LIMIT          500
#define DEFAULT_PAGE_BYTES          ((size_t)16 << 20)  /* a LIST page aims at this */
#define PAGE_CAP_FACTOR             4       /* a page over this many times the aim is cut */
#define PAGE_CUT_SHRINK             8       /* ... and asked again with 1/8 of the items */
#define RETRY_BASE_MS               250
#define RETRY_MAX_MS                8000
#define RETRY_AFTER_MAX_S           60      /* a longer Retry-After is capped */
#define LOW_SPEED_TIME_S            30      /* non-watch: < 1 B/s this long aborts */
#define MAX_BODY_BYTES              ((size_t)256 << 20)

/* One reused easy handle per calling thread, so its connections are reused. */
struct rl__kube_thread {
    struct rl_kube *k;
    CURL *easy;
    struct rl_list_node node;               /* in k->threads, under k->mu */
};

static _Thread_local char last_error[640];
static _Thread_local bool background;   /* rl_kube_thread_background() */
static _Thread_local const atomic_bool *background_give_up;
static _Thread_local rl_kube_fence_fn *fence;    /* rl_kube_thread_fence() */
static _Thread_local void *fence_ctx;

/* ---------------------------------------------------------------------- */
/* Shared helpers (kube-int.h) */

double rl__kube_now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void rl__kube_set_last_error(const char *msg)
{
    strlcpy(last_error, msg ? msg : "", sizeof(last_error));
}

const char *rl_kube_last_error(void)
{
    return last_error;
}

void rl__kube_add_param(struct rl_buf *b, const char *name, const char *value)
{
    if (!value || !*value)
        return;
    rl_buf_addf(b, "&%s=", name);
    rl__kube_add_escaped(b, value);
}

void rl__kube_add_escaped(struct rl_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~') {
            rl_buf_addc(b, (char)c);
        } else {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

            rl_buf_add(b, esc, sizeof(esc));
        }
    }
}

struct curl_slist *rl__kube_headers(const char *auth, const char *content_type)
{
    struct curl_slist *h = NULL;
    char *line;

    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");        /* no 100-continue round trip */
    if (content_type) {
        line = rl_xasprintf("Content-Type: %s", content_type);
        h = curl_slist_append(h, line);
        free(line);
    }
    if (auth) {
        line = rl_xasprintf("Authorization: %s", auth);
        h = curl_slist_append(h, line);
        rl_free_secret(line);
    }
    if (!h)
        RL_BUG("curl_slist_append failed");
    return h;
}

void rl__kube_headers_free(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (strncmp(p->data, "Authorization:", 14) == 0)
            rl_wipe(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

int rl__kube_curl_error(CURLcode rc, const char *curl_msg, const char *url, char *msg,
                        size_t msglen)
{
    const char *detail = curl_msg && *curl_msg ? curl_msg : curl_easy_strerror(rc);

    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(msg, msglen, "request to %s timed out: %s", url, detail);
        return RL_ETIMEOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
        snprintf(msg, msglen, "TLS verification of %s failed: %s", url, detail);
        return RL_ETLS;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        snprintf(msg, msglen, "TLS handshake with %s failed: %s", url, detail);
        return RL_ETLS;
    case CURLE_ABORTED_BY_CALLBACK:
        snprintf(msg, msglen, "request to %s cancelled", url);
        return RL_ESHUTDOWN;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
        snprintf(msg, msglen, "bad URL %s: %s", url, detail);
        return RL_EINVAL;
    default:
        snprintf(msg, msglen, "cannot reach %s: %s", url, detail);
        return RL_ETRANSPORT;
    }
}

void rl__kube_parse_status(const char *body, size_t len, long status, char *reason,
                           size_t reason_len, char *message, size_t message_len)
{
    cJSON *root = len ? cJSON_ParseWithLength(body, len) : NULL;
    const char *kind = rl_json_str(root, "kind");

    reason[0] = '\0';
    message[0] = '\0';
    if (kind && strcmp(kind, "Status") == 0) {
        strlcpy(reason, rl_json_str_or(root, "reason", ""), reason_len);
        strlcpy(message, rl_json_str_or(root, "message", ""), message_len);
    }
    cJSON_Delete(root);
    if (!message[0]) {
        /* Not a Status: quote the start of whatever came, printable only. */
        size_t n = 0, room = message_len > 1 ? message_len - 1 : 0;
        int w = snprintf(message, message_len, "HTTP %ld", status);

        n = w > 0 && (size_t)w < room ? (size_t)w : room;
        if (len && n + 2 < room) {
            message[n++] = ':';
            message[n++] = ' ';
            for (size_t i = 0; i < len && i < 200 && n < room; i++) {
                unsigned char c = (unsigned char)body[i];

                message[n++] = c >= 0x20 && c < 0x7f ? (char)c : ' ';
            }
        }
        if (message_len)
            message[n < message_len ? n : message_len - 1] = '\0';
    }
}

/*
 * The verb and resource of a request for metrics: "/api/v1/namespaces/ns/
 * configmaps/x" is (get, configmaps); a collection read is "list".
 */
static void classify(const char *method, const char *path, const char **verb,
                     char *resource, size_t resource_len)
{
    char seg[8][128];
    size_t nseg = 0, first, name_at;
    const char *p = path;
    bool watch = strstr(path, "watch=1") || strstr(path, "watch=true");

    while (*p == '/')
        p++;
    while (*p && *p != '?' && nseg < 8) {
        size_t n = strcspn(p, "/?");

        strlcpy(seg[nseg], p, n + 1 < sizeof(seg[0]) ? n + 1 : sizeof(seg[0]));
        nseg++;
        p += n;
        while (*p == '/')
            p++;
    }
    first = nseg && strcmp(seg[0], "apis") == 0 ? 3 : 2;     /* /api/v1 vs /apis/g/v */
    resource[0] = '\0';
    name_at = 0;
    if (nseg > first) {
        if (strcmp(seg[first], "namespaces") == 0 && nseg > first + 2) {
            strlcpy(resource, seg[first + 2], resource_len);
            name_at = first + 3;
        } else {
            strlcpy(resource, seg[first], resource_len);
            name_at = first + 1;
        }
    }
    if (!resource[0])
        strlcpy(resource, "other", resource_len);

    if (watch)
        *verb = "watch";
    else if (strcmp(method, "GET") == 0)
        *verb = nseg > name_at ? "get" : "list";
    else if (strcmp(method, "POST") == 0)
        *verb = "create";
    else if (strcmp(method, "PUT") == 0)
        *verb = "update";
    else if (strcmp(method, "PATCH") == 0)
        *verb = "patch";
    else if (strcmp(method, "DELETE") == 0)
        *verb = "delete";
    else
        *verb = "other";
}

void rl__kube_observe(struct rl_kube *k, const char *method, const char *path, long status,
                      double seconds)
{
    rl_kube_observe_fn *fn;
    void *ctx;
    const char *verb;
    char resource[128];

    rl_mutex_lock(&k->mu);
    fn = k->observe;
    ctx = k->observe_ctx;
    rl_mutex_unlock(&k->mu);
    if (!fn)
        return;
    classify(method, path, &verb, resource, sizeof(resource));
    fn(ctx, verb, resource, status, seconds);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    struct rl_kube *k = ud;

    (void)h;
    (void)access;
    rl_mutex_lock(&k->share_mu[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    struct rl_kube *k = ud;

    (void)h;
    rl_mutex_unlock(&k->share_mu[data]);
}

/* OpenSSL keeps the last decrypted record in its read buffer unless told to cleanse it. */
static CURLcode cleanse_plaintext(CURL *h, void *ssl_ctx, void *ud)
{
    (void)h;
    (void)ud;
    SSL_CTX_set_options(ssl_ctx, SSL_OP_CLEANSE_PLAINTEXT);
    return CURLE_OK;
}

bool rl__kube_sensitive_path(const char *path)
{
    const char *p = path ? strstr(path, "/secrets") : NULL;

    return p && (p[8] == '\0' || p[8] == '/' || p[8] == '?');
}

void rl__kube_protect(CURL *h, const char *path)
{
    if (!rl__kube_sensitive_path(path))
        return;
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, NULL);
}

void rl__kube_setup_easy(struct rl_kube *k, CURL *h, char *errbuf)
{
    curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, cleanse_plaintext);
    const struct rl_kubeconfig *cfg = k->cfg;

    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_SHARE, k->share);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, k->user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, k->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (k->connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, k->connect_to);

    if (cfg->insecure_skip_tls_verify) {
        /* Only because the kubeconfig explicitly says so. */
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    } else {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    }
    if (cfg->ca_data) {
        struct curl_blob blob = { cfg->ca_data, strlen(cfg->ca_data), CURL_BLOB_NOCOPY };

        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
    } else if (cfg->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    }
    /* Key material stays in our (wiped) memory: NOCOPY, never a temp file. */
    if (cfg->cert_data) {
        struct curl_blob blob = { cfg->cert_data, strlen(cfg->cert_data), CURL_BLOB_NOCOPY };

        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &blob);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    } else if (cfg->cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
    }
    if (cfg->key_data) {
        struct curl_blob blob = { cfg->key_data, strlen(cfg->key_data), CURL_BLOB_NOCOPY };

        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &blob);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    } else if (cfg->key_file) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
    }
}

/* ---------------------------------------------------------------------- */
/* Responses */

void rl_kube_response_init(struct rl_kube_response *r)
{
    r->status = 0;
    rl_buf_init(&r->body, MAX_BODY_BYTES);
    rl_buf_sensitive(&r->body);
    r->reason[0] = '\0';
    r->message[0] = '\0';
    r->retry_after_s = -1;
}

void rl_kube_response_release(struct rl_kube_response *r)
{
    rl_buf_release(&r->body);
}

cJSON *rl_kube_response_json(const struct rl_kube_response *r)
{
    if (!r->body.len)
        return NULL;
    return cJSON_ParseWithLength(r->body.buf, r->body.len);
}

/* ---------------------------------------------------------------------- */
/* The client */

static void thread_gone(void *p)
{
    struct rl__kube_thread *t = p;
    struct rl_kube *k = t->k;

    rl_mutex_lock(&k->mu);
    rl_list_remove(&k->threads, &t->node);
    rl_mutex_unlock(&k->mu);
    curl_easy_cleanup(t->easy);
    free(t);
}

static CURL *thread_easy(struct rl_kube *k)
{
    struct rl__kube_thread *t = pthread_getspecific(k->thread_key);

    if (t)
        return t->easy;
    t = RL_NEW(struct rl__kube_thread);
    t->k = k;
    t->easy = curl_easy_init();
    if (!t->easy)
        RL_BUG("curl_easy_init failed");
    rl_mutex_lock(&k->mu);
    rl_list_append(&k->threads, &t->node);
    rl_mutex_unlock(&k->mu);
    if (pthread_setspecific(k->thread_key, t) != 0)
        RL_BUG("pthread_setspecific failed");
    return t->easy;
}

/* With tls-server-name, connect to the server but verify (and SNI) that name. */
static int setup_server_name(struct rl_kube *k)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *entry = NULL;
    int err = RL_ECONFIG;

    if (!u)
        return RL_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, k->cfg->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    k->base_url = rl_xasprintf("%s://%s:%s", scheme, k->cfg->tls_server_name, port);
    entry = rl_xasprintf("%s:%s:%s:%s", k->cfg->tls_server_name, port, host, port);
    k->connect_to = curl_slist_append(NULL, entry);
    err = k->connect_to ? 0 : RL_ENOMEM;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    free(entry);
    curl_url_cleanup(u);
    return err;
}

struct rl_kube *rl_kube_new(struct rl_kubeconfig *cfg, const struct rl_kube_opts *opts,
                            const struct rl_clock *clock)
{
    struct rl_kube *k;
    double burst;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    k = RL_NEW(struct rl_kube);
    k->cfg = cfg;
    k->clock = clock ? clock : rl_clock_system();
    k->connect_timeout_ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                                 : DEFAULT_CONNECT_TIMEOUT_MS;
    k->request_timeout_ms = opts && opts->request_timeout_ms > 0 ? opts->request_timeout_ms
                                                                 : DEFAULT_REQUEST_TIMEOUT_MS;
    k->max_retries = !opts || opts->max_retries == 0 ? DEFAULT_MAX_RETRIES
                     : opts->max_retries < 0         ? 0
                                                     : opts->max_retries;
    k->user_agent = opts && opts->user_agent ? rl_xstrdup(opts->user_agent)
                                             : rl_xstrdup("reloadd/" RL_VERSION);
    rl_mutex_init(&k->mu);
    rl_cond_init(&k->wake);
    burst = opts && opts->burst > 0 ? opts->burst : (opts && opts->qps > 1 ? opts->qps : 1);
    rl_bucket_init(&k->bucket, opts ? opts->qps : 0, burst, rl_clock_mono_ms(k->clock));
    if (pthread_key_create(&k->thread_key, thread_gone) != 0)
        RL_BUG("pthread_key_create failed");

    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        rl_mutex_init(&k->share_mu[i]);
    k->share = curl_share_init();
    if (!k->share) {
        rl_kube_free(k);
        return NULL;
    }
    curl_share_setopt(k->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(k->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(k->share, CURLSHOPT_USERDATA, k);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(k->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);

    if (cfg->tls_server_name) {
        if (setup_server_name(k) != 0) {
            rl_kube_free(k);
            return NULL;
        }
    } else {
        k->base_url = rl_xstrdup(cfg->server);
    }
    if (cfg->insecure_skip_tls_verify)
        rl_log_kv(RL_LOG_WARN, "the API server's certificate is not verified "
                  "(insecure-skip-tls-verify in the kubeconfig): anyone on the path can "
                  "impersonate it and read the credentials and every Secret", "server",
                  cfg->server, NULL);
    if (strncmp(cfg->server, "http://", 7) == 0)
        rl_log_kv(RL_LOG_WARN, "the API server is reached over plain http: credentials and "
                  "Secrets cross the network in clear", "server", cfg->server, NULL);
    return k;
}

void rl_kube_free(struct rl_kube *k)
{
    if (!k)
        return;
    /* Threads that used k must be done with it; reap their handles here. */
    pthread_key_delete(k->thread_key);
    while (k->threads.head) {
        struct rl__kube_thread *t = rl_list_entry(k->threads.head, struct rl__kube_thread, node);

        rl_list_remove(&k->threads, &t->node);
        curl_easy_cleanup(t->easy);
        free(t);
    }
    if (k->share)
        curl_share_cleanup(k->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        rl_mutex_destroy(&k->share_mu[i]);
    curl_slist_free_all(k->connect_to);
    rl_cond_destroy(&k->wake);
    rl_mutex_destroy(&k->mu);
    free(k->base_url);
    free(k->user_agent);
    rl_kubeconfig_free(k->cfg);
    free(k);
    curl_global_cleanup();
}

const char *rl_kube_server(const struct rl_kube *k)
{
    return k->cfg->server;
}

void rl_kube_set_observer(struct rl_kube *k, rl_kube_observe_fn *fn, void *ctx)
{
    rl_mutex_lock(&k->mu);
    k->observe = fn;
    k->observe_ctx = ctx;
    rl_mutex_unlock(&k->mu);
}

/* ---------------------------------------------------------------------- */
/* One request */

/* Where on_body puts a response. */
struct body_sink {
    struct rl_kube *k;
    struct rl_kube_response *resp;
    bool too_big;               /* the body passed MAX_BODY_BYTES: abort the transfer */
    bool before_stop;           /* sent before rl_kube_shutdown(): abort at once then */
};

/* At shutdown, work begun before it ends now; what is sent after it ends by the deadline. */
static bool cut_short(const struct body_sink *sink)
{
    return atomic_load(&sink->k->stopping) &&
           (sink->before_stop || rl_mono_ms() >= atomic_load(&sink->k->stop_deadline_ms));
}

/*
 * curl's write callback: it takes and wipes every byte it is handed. An
 * error returned here would leave the rest of curl's receive buffer unread
 * (and unwiped); a body past the cap is dropped and on_progress aborts.
 */
static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct body_sink *sink = ud;
    size_t n = size * nmemb;

    if (!sink->too_big && rl_buf_add(&sink->resp->body, ptr, n) != 0) {
        sink->too_big = true;
        rl_buf_wipe(&sink->resp->body);
    }
    rl_wipe(ptr, n);                /* curl's receive buffer */
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const struct body_sink *sink = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return sink->too_big || cut_short(sink) ? 1 : 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct rl_kube_response *r = ud;
    size_t n = size * nmemb;

    if (n > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
        char val[32];
        size_t len = n - 12;
        char *end;
        long v;

        if (len >= sizeof(val))
            len = sizeof(val) - 1;
        memcpy(val, ptr + 12, len);
        val[len] = '\0';
        v = strtol(val, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        /* An HTTP-date (rare from the API server) counts as one second. */
        r->retry_after_s = end != val && !*end && v >= 0 ? v : 1;
    }
    return n;
}

static bool valid_path(const char *path)
{
    if (!path || path[0] != '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '#')
            return false;
    return true;
}

/* Sleeps ms, or less if rl_kube_shutdown() comes: then RL_ESHUTDOWN. */
static int nap(struct rl_kube *k, uint64_t ms)
{
    /* +1: the clock reads whole milliseconds rounded down, and a wait such as a
     * server's Retry-After is a floor, never to be undercut by a fraction. */
    uint64_t until = rl_mono_ms() + ms + 1;

    rl_mutex_lock(&k->mu);
    while (!atomic_load(&k->stopping) && rl_mono_ms() < until)
        rl_cond_wait_until_ms(&k->wake, &k->mu, until);
    rl_mutex_unlock(&k->mu);
    return atomic_load(&k->stopping) ? RL_ESHUTDOWN : 0;
}

void rl_kube_shutdown(struct rl_kube *k, uint64_t within_ms)
{
    atomic_store(&k->stop_deadline_ms, rl_mono_ms() + within_ms);
    rl_mutex_lock(&k->mu);
    atomic_store(&k->stopping, true);
    rl_cond_broadcast(&k->wake);
    rl_mutex_unlock(&k->mu);
}

static int perform_once(struct rl_kube *k, const char *method, const char *path,
                        const char *body, const char *content_type, long timeout_ms,
                        struct rl_kube_response *resp)
{
    CURL *h = thread_easy(k);
    struct body_sink sink = { k, resp, false, !atomic_load(&k->stopping) };
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    char autherr[512] = "";
    char *auth = NULL, *url = NULL;
    double t0;
    CURLcode rc;
    int err;

    rl_buf_reset(&resp->body);
    resp->status = 0;
    resp->reason[0] = '\0';
    resp->message[0] = '\0';
    resp->retry_after_s = -1;

    err = rl_kubeconfig_auth(k->cfg, &auth, autherr, sizeof(autherr));
    if (err) {
        strlcpy(resp->message, autherr, sizeof(resp->message));
        return err;
    }
    url = rl_xasprintf("%s%s", k->base_url, path);
    headers = rl__kube_headers(auth, body ? (content_type ? content_type : "application/json")
                                          : NULL);
    rl_free_secret(auth);

    curl_easy_reset(h);
    rl__kube_setup_easy(k, h, errbuf);
    rl__kube_protect(h, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    if (!sink.before_stop) {
        uint64_t now = rl_mono_ms(), end = atomic_load(&k->stop_deadline_ms);

        if (end <= now + 1)
            timeout_ms = 1;
        else if (end - now < (uint64_t)timeout_ms)
            timeout_ms = (long)(end - now);
    }
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (long)LOW_SPEED_TIME_S);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &sink);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    }

    t0 = rl__kube_now_s();
    rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    /* Drop our pointers from the reused handle: they die with this call. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L);
    rl__kube_headers_free(headers);
    rl__kube_observe(k, method, path, rc == CURLE_OK ? resp->status : 0,
                     rl__kube_now_s() - t0);

    if (rc == CURLE_ABORTED_BY_CALLBACK && !sink.too_big) {
        resp->status = 0;
        snprintf(resp->message, sizeof(resp->message), "%s: cut short (shutting down)", path);
        err = RL_ESHUTDOWN;
    } else if (sink.too_big) {
        snprintf(resp->message, sizeof(resp->message), "response from %s is larger than %zu bytes",
                 url, MAX_BODY_BYTES);
        err = RL_ETOOBIG;
    } else if (rc != CURLE_OK) {
        resp->status = 0;
        err = rl__kube_curl_error(rc, errbuf, url, resp->message, sizeof(resp->message));
    } else {
        err = rl_err_from_http(resp->status);
        if (err)
            rl__kube_parse_status(resp->body.buf, resp->body.len, resp->status, resp->reason,
                                  sizeof(resp->reason), resp->message, sizeof(resp->message));
    }
    free(url);
    return err;
}

void rl_kube_thread_fence(rl_kube_fence_fn *fn, void *ctx)
{
    fence = fn;
    fence_ctx = ctx;
}

void rl_kube_thread_background(bool on, const atomic_bool *give_up)
{
    background = on;
    background_give_up = on ? give_up : NULL;
}

/* Background: a spare token (half the burst left to the others), polled at most every 100 ms. */
static int wait_spare(struct rl_kube *k)
{
    uint64_t wait, waited = 0;

    for (;;) {
        rl_mutex_lock(&k->mu);
        wait = rl_bucket_try_take(&k->bucket, rl_clock_mono_ms(k->clock),
                                  floor(k->bucket.burst / 2));
        rl_mutex_unlock(&k->mu);
        if (!wait)
            return 0;
        /* Given up (a stop began): sent only if the budget allows at once, as just tried. */
        if (background_give_up && atomic_load(background_give_up))
            return RL_ESHUTDOWN;
        if (waited >= RL_KUBE_BACKGROUND_WAIT_MS)
            return RL_EBUSY;
        wait = wait < 100 ? wait : 100;
        if (nap(k, wait))
            return RL_ESHUTDOWN;
        waited += wait;
    }
}

uint64_t rl_kube_try_token(struct rl_kube *k)
{
    uint64_t wait;

    rl_mutex_lock(&k->mu);
    wait = rl_bucket_try_take(&k->bucket, rl_clock_mono_ms(k->clock), 0);
    rl_mutex_unlock(&k->mu);
    return wait;
}

/* Waits for the client-side token bucket. */
static int wait_turn(struct rl_kube *k)
{
    uint64_t wait;

    if (background)
        return wait_spare(k);
    rl_mutex_lock(&k->mu);
    wait = rl_bucket_reserve(&k->bucket, rl_clock_mono_ms(k->clock));
    rl_mutex_unlock(&k->mu);
    /* At shutdown the few last requests (the Lease's release) go at once. */
    if (wait)
        nap(k, wait);
    return 0;
}

static double random01(void)
{
    return (double)arc4random() / 4294967296.0;
}

int rl_kube_request(struct rl_kube *k, const char *method, const char *path,
                    const char *body, const char *content_type,
                    struct rl_kube_response *resp)
{
    bool idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    bool reauthed = false;
    unsigned failures = 0;
    int err = 0;

    if (!valid_path(path)) {
        snprintf(resp->message, sizeof(resp->message), "invalid request path '%s'",
                 path ? path : "(null)");
        rl__kube_set_last_error(resp->message);
        return RL_EINVAL;
    }
    for (;;) {
        uint64_t wait_ms = 0;
        long timeout_ms = k->request_timeout_ms;
        int last = err;

        err = wait_turn(k);
        if (failures && atomic_load(&k->stopping)) {
            err = last;                 /* no retry at shutdown: the last answer stands */
            break;
        }
        if (err) {
            snprintf(resp->message, sizeof(resp->message), "%s: not sent (%s)", path,
                     err == RL_EBUSY ? "the API request budget was spent on foreground work"
                                     : "shutting down");
            break;
        }
        if (fence && !idempotent) {
            /* Judged now, after every wait: leadership may have gone meanwhile. */
            uint64_t left = fence(fence_ctx);

            if (left == 0) {
                snprintf(resp->message, sizeof(resp->message),
                         "%s %s: not sent (no longer the leader)", method, path);
                resp->status = 0;
                err = RL_ENOTLEADER;
                break;
            }
            if (left < (uint64_t)timeout_ms)
                timeout_ms = left > 1 ? (long)left : 1;
        }
        err = perform_once(k, method, path, body, content_type, timeout_ms, resp);
        if (!err)
            break;
        if (err == RL_EUNAUTHORIZED && !reauthed && rl_kubeconfig_auth_refreshable(k->cfg)) {
            /* A rotated token or an expired plugin credential: try fresh ones once. */
            reauthed = true;
            rl_kubeconfig_auth_failed(k->cfg);
            continue;
        }
        if ((int)failures >= k->max_retries || atomic_load(&k->stopping))
            break;
        if (err == RL_ETOOMANY) {
            /* The server did not apply a 429'd request, so any verb may retry. */
            long s = resp->retry_after_s >= 0 ? resp->retry_after_s : 1;
            uint64_t now = rl_clock_mono_ms(k->clock);

            wait_ms = (uint64_t)(s < RETRY_AFTER_MAX_S ? s : RETRY_AFTER_MAX_S) * 1000;
            rl_mutex_lock(&k->mu);
            rl_bucket_hold(&k->bucket, now, now + wait_ms);
            if (k->bucket.qps > 0)
                wait_ms = 0;            /* wait_turn() now waits for the hold */
            rl_mutex_unlock(&k->mu);
        } else if (idempotent && rl_err_retriable(err)) {
            wait_ms = rl_backoff_jitter_ms(failures, RETRY_BASE_MS, RETRY_MAX_MS, 0.2,
                                           random01());
            if (resp->retry_after_s > 0 && (uint64_t)resp->retry_after_s * 1000 > wait_ms)
                wait_ms = (uint64_t)(resp->retry_after_s < RETRY_AFTER_MAX_S
                                         ? resp->retry_after_s : RETRY_AFTER_MAX_S) * 1000;
        } else {
            break;
        }
        rl_debug("retrying %s %s in %llu ms after: %s", method, path,
                 (unsigned long long)wait_ms, resp->message);
        failures++;
        if (wait_ms && nap(k, wait_ms))
            break;                      /* shutting down: the last answer stands */
    }
    rl__kube_set_last_error(err ? resp->message : "");
    /* The body was decrypted and copied in this thread's vector registers (secmem.h). */
    rl_wipe_vector_registers();
    return err;
}

int rl_kube_get(struct rl_kube *k, const char *path, struct rl_kube_response *resp)
{
    return rl_kube_request(k, "GET", path, NULL, NULL, resp);
}

int rl_kube_create(struct rl_kube *k, const char *collection_path, const char *json,
                   struct rl_kube_response *resp)
{
    return rl_kube_request(k, "POST", collection_path, json, "application/json", resp);
}

int rl_kube_update(struct rl_kube *k, const char *path, const char *json,
                   struct rl_kube_response *resp)
{
    return rl_kube_request(k, "PUT", path, json, "application/json", resp);
}

int rl_kube_patch(struct rl_kube *k, const char *path, const char *content_type,
                  const char *patch, struct rl_kube_response *resp)
{
    if (!content_type)
        content_type = "application/strategic-merge-patch+json";
    return rl_kube_request(k, "PATCH", path, patch, content_type, resp);
}

int rl_kube_delete(struct rl_kube *k, const char *path, const char *propagation,
                   struct rl_kube_response *resp)
{
    struct rl_buf p;
    int err;

    if (!propagation)
        return rl_kube_request(k, "DELETE", path, NULL, NULL, resp);
    rl_buf_init(&p, 0);
    rl_buf_adds(&p, path ? path : "");
    rl_buf_adds(&p, strchr(p.buf, '?') ? "&propagationPolicy=" : "?propagationPolicy=");
    rl__kube_add_escaped(&p, propagation);
    err = rl_kube_request(k, "DELETE", p.buf, NULL, NULL, resp);
    rl_buf_release(&p);
    return err;
}

/* ---------------------------------------------------------------------- */
/* LIST */

static void list_path(struct rl_buf *b, const char *collection, const struct rl_kube_list_opts *o,
                      int limit, const char *cont)
{
    rl_buf_reset(b);
    rl_buf_adds(b, collection);
    rl_buf_addf(b, "%climit=%d", strchr(collection, '?') ? '&' : '?', limit);
    if (o) {
        rl__kube_add_param(b, "labelSelector", o->label_selector);
        rl__kube_add_param(b, "fieldSelector", o->field_selector);
    }
    rl__kube_add_param(b, "continue", cont);
}

int rl_kube_next_page_limit(int limit, int max, int items, size_t bytes, size_t budget)
{
    double per_item, fit;
    int next = limit;

    if (max < 1)
        max = 1;
    if (items < 1 || budget == 0)
        return limit < 1 ? 1 : limit > max ? max : limit;
    per_item = (double)bytes / items;
    fit = per_item > 0 ? (double)budget / per_item : (double)max;   /* items in a page of budget */
    if (bytes > budget)
        next = fit < items ? (int)fit : items - 1;                  /* shrink to fit */
    else if (items >= limit && bytes < budget / 4)
        next = limit + limit / 2 + 1 < fit ? limit + limit / 2 + 1 : (int)fit;  /* grow by half */
    return next < 1 ? 1 : next > max ? max : next;
}

/* Caps a page's body at PAGE_CAP_FACTOR times the aim; one item may take any size. */
static void set_page_cap(struct rl_kube_response *r, size_t *cap, int limit, size_t budget)
{
    size_t want = limit > 1 && budget < MAX_BODY_BYTES / PAGE_CAP_FACTOR
                      ? budget * PAGE_CAP_FACTOR : MAX_BODY_BYTES;

    if (*cap == want)
        return;
    *cap = want;
    rl_buf_release(&r->body);
    rl_buf_init(&r->body, want);
    rl_buf_sensitive(&r->body);
}

int rl_kube_list(struct rl_kube *k, const char *collection_path,
                 const struct rl_kube_list_opts *opts, rl_kube_item_fn *on_item,
                 void *ctx, char **resource_version)
{
    struct rl_kube_response resp;
    struct rl_buf path;
    char *cont = NULL, *rv = NULL;
    bool restarted = false;
    cJSON *root = NULL;
    int max = opts && opts->limit > 0 ? opts->limit : DEFAULT_LIST_LIMIT, limit = max;
    size_t budget = opts && opts->page_bytes ? opts->page_bytes : DEFAULT_PAGE_BYTES;
    size_t cap = MAX_BODY_BYTES;        /* rl_kube_response_init()'s */
    int err = 0;

    if (resource_version)
        *resource_version = NULL;
    rl_kube_response_init(&resp);
    rl_buf_init(&path, 0);
    if (!valid_path(collection_path)) {
        rl__kube_set_last_error("invalid collection path");
        err = RL_EINVAL;
        goto out;
    }
    if (opts && opts->start_limit && *opts->start_limit > 0 && *opts->start_limit < max)
        limit = *opts->start_limit;
    for (;;) {
        const cJSON *items, *meta, *item;
        const char *next, *page_rv;

        list_path(&path, collection_path, opts, limit, cont);
        set_page_cap(&resp, &cap, limit, budget);
        err = rl_kube_get(k, path.buf, &resp);
        if (err == RL_ETOOBIG && limit > 1) {
            /* A page of big objects (Secrets of 1 MiB): ask it again with fewer items. */
            rl_debug("list %s: a page of %d items passed %zu bytes, asking %d", collection_path,
                     limit, budget * PAGE_CAP_FACTOR,
                     limit / PAGE_CUT_SHRINK > 1 ? limit / PAGE_CUT_SHRINK : 1);
            limit = limit / PAGE_CUT_SHRINK > 1 ? limit / PAGE_CUT_SHRINK : 1;
            continue;
        }
        if (err == RL_EGONE && cont && !restarted) {
            /* The continue token expired (compaction): start over, once. */
            rl_info("list %s: continue token expired, listing again from the start",
                    collection_path);
            restarted = true;
            free(cont);
            cont = NULL;
            continue;
        }
        if (err)
            goto out;
        cJSON_Delete(root);
        root = rl_kube_response_json(&resp);
        items = rl_json_get(root, "items");
        meta = rl_json_obj(root, "metadata");
        if (!root || (items && !cJSON_IsArray(items) && !cJSON_IsNull(items))) {
            snprintf(resp.message, sizeof(resp.message), "list %s: the answer is not a list",
                     collection_path);
            rl__kube_set_last_error(resp.message);
            err = RL_EPARSE;
            goto out;
        }
        if (!cJSON_IsArray(items))
            items = NULL;               /* "items": null is an empty page */
        cJSON_ArrayForEach(item, items) {
            err = on_item(ctx, item);
            if (err)
                goto out;
        }
        /* The next page is sized on this one's bytes per item. */
        limit = rl_kube_next_page_limit(limit, max, cJSON_GetArraySize(items), resp.body.len,
                                        budget);
        page_rv = rl_json_str(meta, "resourceVersion");
        if (page_rv) {
            free(rv);
            rv = rl_xstrdup(page_rv);
        }
        next = rl_json_str(meta, "continue");
        free(cont);
        cont = next && *next ? rl_xstrdup(next) : NULL;
        cJSON_Delete(root);             /* not held while the next page comes */
        root = NULL;
        if (!cont)
            break;
    }
    if (resource_version) {
        *resource_version = rv;
        rv = NULL;
    }
    if (opts && opts->start_limit)
        *opts->start_limit = limit;
out:
    cJSON_Delete(root);
    free(rv);
    free(cont);
    rl_buf_release(&path);
    rl_kube_response_release(&resp);
    /* The pages were parsed and handed to on_item in this thread's registers too. */
    rl_wipe_vector_registers();
    return err;
}
