/* httpd.c - the operations HTTP server: /metrics, /live, /readyz, /explain */
#include "reloadd/httpd.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bsd/string.h>
#include <microhttpd.h>

#include "reloadd/buf.h"
#include "reloadd/err.h"
#include "reloadd/log.h"
#include "reloadd/mem.h"
#include "reloadd/metrics.h"

#define DEFAULT_THREADS 2
#define DEFAULT_MAX_CONNECTIONS 64
#define DEFAULT_TIMEOUT_S 10
#define PROBE_REASON_CAP 4096
#define EXPLAIN_CAP ((size_t)4 << 20)
#define METRICS_CAP ((size_t)64 << 20)

#define CT_TEXT "text/plain; charset=utf-8"
#define CT_JSON "application/json"

struct rl_httpd {
    struct MHD_Daemon *daemon;
    uint16_t port;
    struct rl_httpd_opts opts;          /* immutable while running */
};

int rl_httpd_parse_addr(const char *addr, struct sockaddr_storage *out, bool *any_host)
{
    struct addrinfo hints = { 0 }, *res = NULL;
    char host[256];
    const char *host_start, *colon, *port_str;
    size_t host_len;
    char *end;
    long port;
    int rc;

    if (!addr)
        return RL_EINVAL;
    if (addr[0] == '[') {
        const char *close = strchr(addr, ']');

        if (!close || close[1] != ':')
            return RL_EINVAL;
        host_start = addr + 1;
        host_len = (size_t)(close - host_start);
        if (host_len == 0)
            return RL_EINVAL;
        colon = close + 1;
    } else {
        colon = strrchr(addr, ':');
        if (!colon)
            return RL_EINVAL;
        host_start = addr;
        host_len = (size_t)(colon - addr);
        if (memchr(addr, ':', host_len))
            return RL_EINVAL;           /* a bare IPv6 address needs brackets */
    }
    if (host_len >= sizeof(host))
        return RL_EINVAL;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';

    port_str = colon + 1;
    if (*port_str < '0' || *port_str > '9')
        return RL_EINVAL;
    errno = 0;
    port = strtol(port_str, &end, 10);
    if (errno || *end || port < 0 || port > 65535)
        return RL_EINVAL;

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

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **req_cls)
{
    struct rl_httpd *h = cls;

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0)
        return serve_metrics(h, conn);
    if (strcmp(url, "/live") == 0)
        return serve_probe(conn, h->opts.live, h->opts.live_ctx, true, "alive",
                           MHD_HTTP_INTERNAL_SERVER_ERROR, "not alive\n");
    if (strcmp(url, "/readyz") == 0)
        return serve_probe(conn, h->opts.ready, h->opts.ready_ctx, false, "ready",
                           MHD_HTTP_SERVICE_UNAVAILABLE, "not ready\n");
    if (strcmp(url, "/explain") == 0)
        return serve_explain(h, conn);
    return respond_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* ---- lifecycle ---- */

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

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
        { MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)h->opts.timeout_s, NULL },
        { MHD_OPTION_END, 0, NULL },    /* the pool size, when there is a pool */
        { MHD_OPTION_END, 0, NULL },
    };

    if (h->opts.threads > 1)
        items[4] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE,
                                            (intptr_t)h->opts.threads, NULL };
    return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
                            MHD_OPTION_ARRAY, items, MHD_OPTION_END);
}

int rl_httpd_start(struct rl_httpd **out, const char *addr, const struct rl_httpd_opts *opts)
{
    const unsigned base = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
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

    h = RL_NEW(struct rl_httpd);
    h->opts = *opts;
    if (!h->opts.threads)
        h->opts.threads = DEFAULT_THREADS;
    if (!h->opts.max_connections)
        h->opts.max_connections = DEFAULT_MAX_CONNECTIONS;
    if (!h->opts.timeout_s)
        h->opts.timeout_s = DEFAULT_TIMEOUT_S;

    if (any) {
        struct sockaddr_in sin = { 0 };

        h->daemon = start_daemon(h, (const struct sockaddr *)&ss, base | MHD_USE_DUAL_STACK);
        if (!h->daemon) {
            /* No IPv6 on this host: serve IPv4 alone. */
            sin.sin_family = AF_INET;
            sin.sin_addr.s_addr = htonl(INADDR_ANY);
            sin.sin_port = ((struct sockaddr_in6 *)&ss)->sin6_port;
            h->daemon = start_daemon(h, (const struct sockaddr *)&sin, base);
        }
    } else {
        h->daemon = start_daemon(h, (const struct sockaddr *)&ss,
                                 base | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0));
    }
    if (!h->daemon) {
        rl_error("cannot serve HTTP on '%s'", addr);
        free(h);
        return RL_EIO;
    }
    info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : 0;
    rl_info("serving /metrics, /live, /readyz and /explain on '%s' (port %u)", addr,
            (unsigned)h->port);
    *out = h;
    return 0;
}

void rl_httpd_stop(struct rl_httpd *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}

uint16_t rl_httpd_port(const struct rl_httpd *h)
{
    return h->port;
}
