/* httpd.c - the operations HTTP servers: /metrics, /live, /readyz; /explain */
#include "reloadd/ops/httpd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bsd/string.h>
#include <microhttpd.h>

#include "httpd-int.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/syntax.h"
#include "reloadd/ops/metrics.h"
#include "reloadd/base/banned.h"

#define DEFAULT_THREADS 2
#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_MAX_PER_ADDRESS 8
#define DEFAULT_TIMEOUT_S 10
#define DEFAULT_HEADER_TIMEOUT_MS 5000
#define PROBE_REASON_CAP 4096
#define EXPLAIN_CAP ((size_t)4 << 20)
#define METRICS_CAP ((size_t)64 << 20)
#define LOG_WINDOW_MS 10000     /* libmicrohttpd's messages: at most */
#define LOG_PER_WINDOW 10       /* this many per window */

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_JSON "application/json"

#define EXPLAIN_HINT "/explain is not served on this port: it has a listener of its own, " \
                     "--explain-addr (127.0.0.1:9091 by default)"

/* A connection, from libmicrohttpd's "started" notice to its "closed" one. */
struct conn {
    struct conn *prev, *next;
    int fd;
    uint64_t deadline_ms;               /* headers due by then; 0: none due */
};

struct rl_httpd {
    struct MHD_Daemon *daemon;
    uint16_t port;
    struct rl_httpd_opts opts;          /* immutable while running */

    /* The header deadline: conns and the sweeper's state, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct conn conns;                  /* list head */
    bool stopping;
    bool sweeper_idle;                  /* waits for a signal, not a time */
    pthread_t sweeper;
    _Atomic uint64_t drops;
};

/* ---- addresses ---- */

int rl_httpd_parse_addr(const char *addr, struct sockaddr_storage *out, bool *any_host)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char host[256];
    size_t host_len;
    bool bracketed;
    long port;
    int rc;

    if (rl_listen_addr_split(addr, host, &port, &bracketed))
        return RL_EINVAL;
    host_len = strlen(host);
    memset(out, 0, sizeof(*out));
    *any_host = host_len == 0;
    if (*any_host) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_addr = in6addr_any;
        sin6->sin6_port = htons((uint16_t)port);
        return 0;
    }

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return RL_EINVAL;
    if (res->ai_addrlen > sizeof(*out)) {
        freeaddrinfo(res);
        return RL_EINVAL;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (out->ss_family == AF_INET)
        ((struct sockaddr_in *)out)->sin_port = htons((uint16_t)port);
    else if (out->ss_family == AF_INET6)
        ((struct sockaddr_in6 *)out)->sin6_port = htons((uint16_t)port);
    else
        return RL_EINVAL;
    return 0;
}

/* ---- the header deadline ---- */

/*
 * libmicrohttpd's own timeout is an idle timeout: a client that sends a
 * byte every few seconds keeps a connection forever. So each connection
 * gets a deadline for its request's headers when it starts, cleared when
 * the request reaches on_request(). A connection serves one request: every
 * route queues its response in the first call, which libmicrohttpd answers
 * with "Connection: close" (a test holds it to that); keep-alive would need
 * a new deadline per request. The sweeper shuts down the socket of a
 * connection past its deadline; libmicrohttpd then reads EOF and closes it.
 * The fd stays valid while its struct conn is listed: libmicrohttpd sends
 * the "closed" notice (which unlists it, under mu) before it closes the fd.
 */

static struct conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

/* Sets c's deadline (0: none); h->mu held. */
static void set_deadline(struct rl_httpd *h, struct conn *c, uint64_t deadline_ms)
{
    c->deadline_ms = deadline_ms;
    if (deadline_ms && h->sweeper_idle) {
        h->sweeper_idle = false;
        rl_cond_signal(&h->cv);
    }
}

/* conn's request has reached on_request(): its headers are in, in time. */
static void headers_in(struct rl_httpd *h, struct MHD_Connection *conn)
{
    struct conn *c = conn_of(conn);

    if (!c)
        return;
    rl_mutex_lock(&h->mu);
    set_deadline(h, c, 0);
    rl_mutex_unlock(&h->mu);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code)
{
    struct rl_httpd *h = cls;
    struct conn *c = *socket_ctx;

    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        c = RL_NEW(struct conn);
        c->fd = ci ? ci->connect_fd : -1;
        rl_mutex_lock(&h->mu);
        c->next = h->conns.next;
        c->prev = &h->conns;
        c->next->prev = c;
        h->conns.next = c;
        set_deadline(h, c, rl_mono_ms() + h->opts.header_timeout_ms);
        rl_mutex_unlock(&h->mu);
        *socket_ctx = c;
        return;
    }
    if (code != MHD_CONNECTION_NOTIFY_CLOSED || !c)
        return;
    rl_mutex_lock(&h->mu);
    c->prev->next = c->next;
    c->next->prev = c->prev;
    rl_mutex_unlock(&h->mu);
    free(c);
    *socket_ctx = NULL;
}

/* Shuts down the connections past their deadline; the next deadline, or 0. h->mu held. */
static uint64_t sweep(struct rl_httpd *h, uint64_t now)
{
    uint64_t next = 0;
    unsigned cut = 0;

    for (struct conn *c = h->conns.next; c != &h->conns; c = c->next) {
        if (!c->deadline_ms)
            continue;
        if (c->deadline_ms > now) {
            if (!next || c->deadline_ms < next)
                next = c->deadline_ms;
            continue;
        }
        c->deadline_ms = 0;
        if (c->fd >= 0 && shutdown(c->fd, SHUT_RDWR) == 0)
            cut++;
    }
    if (cut) {
        atomic_fetch_add(&h->drops, cut);
        rl_debug("httpd: closed %u connection(s) without a request's headers after %u ms", cut,
                 h->opts.header_timeout_ms);
    }
    return next;
}

static void *sweeper_main(void *arg)
{
    struct rl_httpd *h = arg;

    rl_mutex_lock(&h->mu);
    while (!h->stopping) {
        uint64_t next = sweep(h, rl_mono_ms());

        h->sweeper_idle = next == 0;
        if (next)
            rl_cond_wait_until_ms(&h->cv, &h->mu, next);
        else
            rl_cond_wait(&h->cv, &h->mu);
    }
    rl_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- responses ---- */

/* Sends body (taken over, and left empty) with status and content type. */
static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, const char *ctype,
                               struct rl_buf *body)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    size_t len = body->len;
    char *data = rl_buf_detach(body);

    r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status,
                                    const char *text)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    rl_buf_adds(&b, text);
    return respond(conn, status, CT_TEXT, &b);
}

/* {"error":"<msg>"} */
static enum MHD_Result respond_json_error(struct MHD_Connection *conn, unsigned status,
                                          const char *msg)
{
    struct rl_buf b;

    rl_buf_init(&b, 0);
    rl_buf_adds(&b, "{\"error\":");
    rl_buf_add_json_str(&b, msg);
    rl_buf_adds(&b, "}\n");
    return respond(conn, status, CT_JSON, &b);
}

/* ---- routes ---- */

static enum MHD_Result serve_metrics(struct rl_httpd *h, struct MHD_Connection *conn)
{
    struct rl_buf b;
    int err;

    if (!h->opts.metrics)
        return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
    rl_buf_init(&b, METRICS_CAP);
    err = rl_metrics_expose(h->opts.metrics, &b);
    if (err) {
        rl_buf_release(&b);
        rl_warn("cannot render metrics: %s", rl_strerror(err));
        return respond_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n");
    }
    return respond(conn, MHD_HTTP_OK, RL_METRICS_CONTENT_TYPE, &b);
}

static enum MHD_Result serve_probe(struct MHD_Connection *conn, rl_httpd_probe_fn *probe,
                                   void *ctx, bool missing_ok, const char *ok_text,
                                   unsigned fail_status, const char *fail_text)
{
    struct rl_buf why;
    bool ok;

    if (!probe)
        return missing_ok ? respond_text(conn, MHD_HTTP_OK, ok_text)
                          : respond_text(conn, fail_status, fail_text);
    rl_buf_init(&why, PROBE_REASON_CAP);
    ok = probe(ctx, &why);
    if (ok) {
        rl_buf_release(&why);
        return respond_text(conn, MHD_HTTP_OK, ok_text);
    }
    if (why.len == 0)
        rl_buf_adds(&why, fail_text);
    else if (why.buf[why.len - 1] != '\n')
        rl_buf_addc(&why, '\n');
    return respond(conn, fail_status, CT_TEXT, &why);
}

static enum MHD_Result serve_explain(struct rl_httpd *h, struct MHD_Connection *conn)
{
    static const char *const params[] = { "kind", "namespace", "name" };
    const char *vals[3];
    struct rl_buf body;
    int err;

    if (!h->opts.explain)
        return respond_json_error(conn, MHD_HTTP_NOT_FOUND, "explain is not available");
    for (size_t i = 0; i < 3; i++) {
        vals[i] = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, params[i]);
        if (!vals[i] || !vals[i][0]) {
            char msg[64];

            snprintf(msg, sizeof(msg), "missing query parameter '%s'", params[i]);
            return respond_json_error(conn, MHD_HTTP_BAD_REQUEST, msg);
        }
    }

    rl_buf_init(&body, EXPLAIN_CAP);
    err = h->opts.explain(h->opts.explain_ctx, vals[0], vals[1], vals[2], &body);
    if (err == 0)
        return respond(conn, MHD_HTTP_OK, CT_JSON, &body);
    if (body.len) {
        unsigned status = err == RL_ENOTFOUND ? MHD_HTTP_NOT_FOUND
                          : err == RL_EINVAL  ? MHD_HTTP_BAD_REQUEST
                                              : MHD_HTTP_INTERNAL_SERVER_ERROR;

        return respond(conn, status, CT_JSON, &body);
    }
    rl_buf_release(&body);
    if (err == RL_ENOTFOUND) {
        struct rl_buf msg;
        enum MHD_Result ret;

        rl_buf_init(&msg, 0);
        rl_buf_addf(&msg, "%s %s/%s not found", vals[0], vals[1], vals[2]);
        ret = respond_json_error(conn, MHD_HTTP_NOT_FOUND, msg.buf);
        rl_buf_release(&msg);
        return ret;
    }
    if (err == RL_EINVAL)
        return respond_json_error(conn, MHD_HTTP_BAD_REQUEST, "invalid request");
    return respond_json_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, rl_strerror(err));
}

static enum MHD_Result route_operations(struct rl_httpd *h, struct MHD_Connection *conn,
                                        const char *url)
{
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, conn);
    if (strcmp(url, "/live") == 0)
        return serve_probe(conn, h->opts.live, h->opts.live_ctx, true, "alive",
                           MHD_HTTP_INTERNAL_SERVER_ERROR, "not alive\n");
    if (strcmp(url, "/readyz") == 0)
        return serve_probe(conn, h->opts.ready, h->opts.ready_ctx, false, "ready",
                           MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    if (strcmp(url, "/explain") == 0)
        return respond_json_error(conn, MHD_HTTP_NOT_FOUND, EXPLAIN_HINT);
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct rl_httpd *h = cls;

    headers_in(h, conn);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (h->opts.role == RL_HTTPD_OPERATIONS)
        return route_operations(h, conn, url);
    if (strcmp(url, "/explain") == 0)
        return serve_explain(h, conn);
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- lifecycle ---- */

/*
 * libmicrohttpd's messages, at most LOG_PER_WINDOW per LOG_WINDOW_MS: a
 * client opening connections past the limits gets one message each, and
 * must not flood the log.
 */
static bool log_allowed(unsigned *dropped)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static uint64_t window_start;
    static unsigned in_window, dropped_in_window;
    uint64_t now = rl_mono_ms();
    bool ok;

    rl_mutex_lock(&mu);
    *dropped = 0;
    if (!window_start || now - window_start >= LOG_WINDOW_MS) {
        *dropped = dropped_in_window;
        window_start = now;
        in_window = dropped_in_window = 0;
    }
    ok = in_window < LOG_PER_WINDOW;
    if (ok)
        in_window++;
    else
        dropped_in_window++;
    rl_mutex_unlock(&mu);
    return ok;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    unsigned dropped;
    size_t n;

    if (!log_allowed(&dropped))
        return;
    if (dropped)
        rl_warn("httpd: %u more messages in %d s were not logged", dropped,
                LOG_WINDOW_MS / 1000);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    rl_warn("httpd: %s", msg);
}

static struct MHD_Daemon *start_daemon(struct rl_httpd *h, const struct sockaddr *sa,
                                       unsigned flags)
{
    /* The logger goes first, or MHD logs its complaints about the rest itself. */
    struct MHD_OptionItem items[] = {
        { MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL },
        { MHD_OPTION_SOCK_ADDR, 0, (void *)sa },
        { MHD_OPTION_CONNECTION_LIMIT, (intptr_t)h->opts.max_connections, NULL },
        { MHD_OPTION_PER_IP_CONNECTION_LIMIT, (intptr_t)h->opts.max_per_address, NULL },
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)h->opts.timeout_s, NULL },
        { MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h },
        { MHD_OPTION_END, 0, NULL },    /* the pool size, when there is a pool */
        { MHD_OPTION_END, 0, NULL },
    };

    if (h->opts.threads > 1)
        items[6] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
                                            (intptr_t)h->opts.threads, NULL };
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_ARRAY, items, MHD_OPTION_END);
}

static void set_defaults(struct rl_httpd_opts *o)
{
    if (!o->threads)
        o->threads = DEFAULT_THREADS;
    if (!o->max_connections)
        o->max_connections = DEFAULT_MAX_CONNECTIONS;
    if (!o->max_per_address)
        o->max_per_address = DEFAULT_MAX_PER_ADDRESS;
    if (!o->timeout_s)
        o->timeout_s = DEFAULT_TIMEOUT_S;
    if (!o->header_timeout_ms)
        o->header_timeout_ms = DEFAULT_HEADER_TIMEOUT_MS;
}

/* Binds addr (already parsed into ss); any: every address, dual-stack if possible. */
static struct MHD_Daemon *bind_daemon(struct rl_httpd *h, const struct sockaddr_storage *ss,
                                      bool any)
{
    const unsigned base = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    struct sockaddr_in sin = { 0 };
    struct MHD_Daemon *d;

    if (!any)
        return start_daemon(h, (const struct sockaddr *)ss,
                            base | (ss->ss_family == AF_INET6 ? MHD_USE_IPv6 : 0));
    d = start_daemon(h, (const struct sockaddr *)ss, base | MHD_USE_DUAL_STACK);
    if (d)
        return d;
    /* No IPv6 on this host: serve IPv4 alone. */
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    sin.sin_port = ((const struct sockaddr_in6 *)ss)->sin6_port;
    return start_daemon(h, (const struct sockaddr *)&sin, base);
}

static void free_server(struct rl_httpd *h)
{
    rl_cond_destroy(&h->cv);
    rl_mutex_destroy(&h->mu);
    free(h);
}

int rl_httpd_new(struct rl_httpd **out, const char *addr, const struct rl_httpd_opts *opts)
{
    struct rl_httpd *h = NULL;
    struct sockaddr_storage ss;
    const union MHD_DaemonInfo *info;
    bool any;
    int err;

    *out = NULL;
    err = rl_httpd_parse_addr(addr, &ss, &any);
    if (err) {
        rl_error("invalid listen address '%s': expected host:port, :port or [v6]:port",
                 addr ? addr : "");
        return err;
    }
    if (opts->threads > 2) {
        rl_error("httpd: %u threads requested; at most 2", opts->threads);
        return RL_EINVAL;
    }
    if (opts->role != RL_HTTPD_OPERATIONS && opts->role != RL_HTTPD_EXPLAIN) {
        rl_error("httpd: unknown role %d", (int)opts->role);
        return RL_EINVAL;
    }

    h = RL_NEW(struct rl_httpd);
    h->opts = *opts;
    set_defaults(&h->opts);
    rl_mutex_init(&h->mu);
    rl_cond_init(&h->cv);
    h->conns.next = h->conns.prev = &h->conns;

    h->daemon = bind_daemon(h, &ss, any);
    if (!h->daemon) {
        rl_error("cannot serve HTTP on '%s'", addr);
        free_server(h);
        return RL_EIO;
    }
    rl_thread_start(&h->sweeper, "httpd-deadline", sweeper_main, h);
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    if (h->opts.role == RL_HTTPD_EXPLAIN)
        rl_info("serving /explain on '%s' (port %u)", addr, (unsigned)h->port);
    else
        rl_info("serving /metrics, /live and /readyz on '%s' (port %u)", addr,
                (unsigned)h->port);
    *out = h;
    return 0;
}

void rl_httpd_free(struct rl_httpd *h)
{
    if (!h)
        return;
    /* Every connection is closed (and unlisted) before this returns. */
    MHD_stop_daemon(h->daemon);
    rl_mutex_lock(&h->mu);
    h->stopping = true;
    rl_cond_signal(&h->cv);
    rl_mutex_unlock(&h->mu);
    rl_thread_join(h->sweeper);
    free_server(h);
}

uint16_t rl_httpd_port(const struct rl_httpd *h)
{
    return h->port;
}

uint64_t rl_httpd_deadline_drops(const struct rl_httpd *h)
{
    return atomic_load(&h->drops);
}

unsigned rl__httpd_connections(struct rl_httpd *h)
{
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

    return info ? info->num_connections : 0;
}
