/*
 * fuzz_httpd.c - the operations servers' request handling under arbitrary bytes
 *
 * The first byte picks what the rest is:
 *   0  a request stream for the operations server (/metrics, /live,
 *      /readyz, the /explain hint, 404, 405)
 *   1  a request stream for the explain server (/explain and its query
 *      parameters, whose callback redacts a Secret's hash as main() does)
 *   2  a listen address for rl_listen_addr_ok() and rl_httpd_parse_addr()
 *   3  an explanation's JSON for rl_explain_redact()
 *
 * Requests reach the running servers over loopback TCP, through
 * libmicrohttpd's parser, each from a new address, followed by an empty
 * line and the end of the stream (libmicrohttpd waits for a line's end
 * even at EOF, so a stream without one would last a header deadline).
 * Oracles: every reply is empty or an HTTP/1.x status line; the connection
 * always ends, and is freed, within 5 s; the operations server never
 * runs the explain callback; the explain server never calls it without
 * its three parameters, and no reply carries a Secret's SHA-1 the request
 * did not; a Secret's hash never survives rl_explain_redact(); an address
 * whose syntax passes with a numeric host also parses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "httpd-int.h"
#include "reloadd/base/buf.h"
#include "reloadd/base/clock.h"
#include "reloadd/base/err.h"
#include "reloadd/base/hash.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/base/syntax.h"
#include "reloadd/ops/explain.h"
#include "reloadd/ops/httpd.h"
#include "reloadd/ops/metrics.h"

#define REPLY_CAP ((size_t)1 << 20)
#define HANG_MS 5000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct rl_httpd *ops, *xsrv;
static struct rl_metrics *metrics;
static atomic_uint explains;
static atomic_bool healthy;

/* The Secret hashes the explain callback last put in a reply, before redaction. */
static pthread_mutex_t secret_mu = PTHREAD_MUTEX_INITIALIZER;
static char secret_hash[2][RL_HASH_HEX_SIZE];

static bool probe(void *ctx, struct rl_buf *why)
{
    (void)ctx;
    if (atomic_load(&healthy))
        return true;
    rl_buf_adds(why, "fuzz says no");
    return false;
}

static void sha1_of(const char *s, char out[RL_HASH_HEX_SIZE])
{
    rl_hash_sha1_hex(s, strlen(s), out);
}

/* An explanation as rl_reconcile_explain() shapes it, with a Secret's hash, redacted. */
static void explanation(const char *kind, const char *ns, const char *name, struct rl_buf *json)
{
    char h[3][RL_HASH_HEX_SIZE];
    cJSON *root = cJSON_CreateObject(), *srcs, *s;
    char *text;

    sha1_of(name, h[0]);
    sha1_of(ns, h[1]);
    sha1_of(kind, h[2]);
    rl_mutex_lock(&secret_mu);
    memcpy(secret_hash[0], h[0], RL_HASH_HEX_SIZE);
    memcpy(secret_hash[1], h[1], RL_HASH_HEX_SIZE);
    rl_mutex_unlock(&secret_mu);
    cJSON_AddStringToObject(root, "kind", kind);
    cJSON_AddStringToObject(root, "namespace", ns);
    cJSON_AddStringToObject(root, "name", name);
    srcs = cJSON_AddArrayToObject(root, "sources");
    s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "secret");
    cJSON_AddStringToObject(s, "name", name);
    cJSON_AddStringToObject(s, "hash", h[0]);
    cJSON_AddStringToObject(s, "applied", h[1]);
    cJSON_AddItemToArray(srcs, s);
    s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "type", "configmap");
    cJSON_AddStringToObject(s, "name", "c");
    cJSON_AddStringToObject(s, "hash", h[2]);
    cJSON_AddItemToArray(srcs, s);
    rl_explain_redact(root);
    text = cJSON_PrintUnformatted(root);
    rl_buf_adds(json, text);
    free(text);
    cJSON_Delete(root);
}

static int explain(void *ctx, const char *kind, const char *ns, const char *name,
                   struct rl_buf *json)
{
    (void)ctx;
    atomic_fetch_add(&explains, 1);
    if (!kind || !ns || !name || !kind[0] || !ns[0] || !name[0])
        abort();
    switch ((unsigned char)name[0] % 4) {
    case 0:
        return RL_ENOTFOUND;
    case 1:
        rl_buf_adds(json, "{\"error\":\"unknown kind\"}");
        return RL_EINVAL;
    case 2:
        return RL_EIO;
    default:
        explanation(kind, ns, name, json);
        return 0;
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct rl_metrics_opts mo = { .process = false };
    struct rl_httpd_opts oo = {
        .live = probe, .ready = probe, .threads = 2, .header_timeout_ms = 50,
    };
    struct rl_httpd_opts xo = {
        .role = RL_HTTPD_EXPLAIN, .explain = explain, .threads = 1, .header_timeout_ms = 50,
    };

    (void)argc;
    (void)argv;
    rl_log_setup(RL_LOG_ERROR, RL_LOG_TEXT);
    metrics = rl_metrics_new(&mo);
    rl_metrics_reload_executed(metrics, true, "ns");
    oo.metrics = metrics;
    if (rl_httpd_new(&ops, "127.0.0.1:0", &oo) || rl_httpd_new(&xsrv, "127.0.0.1:0", &xo))
        abort();
    return 0;
}

static void write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;             /* the server closed early: fine */
        p += w;
        n -= (size_t)w;
    }
}

/* Reads fd to EOF into reply; aborts if the server holds it past HANG_MS. */
static void read_to_eof(int fd, struct rl_buf *reply)
{
    uint64_t end = rl_mono_ms() + HANG_MS;
    char buf[4096];

    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        uint64_t now = rl_mono_ms();
        ssize_t n;
        int rc;

        if (now >= end) {
            fprintf(stderr, "fuzz_httpd: no end of the connection after %d ms\n", HANG_MS);
            abort();
        }
        rc = poll(&p, 1, (int)(end - now));
        if (rc < 0 && errno == EINTR)
            continue;           /* libFuzzer's timer */
        if (rc != 1)
            continue;
        n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        if (reply->len < REPLY_CAP)
            rl_buf_add(reply, buf, (size_t)n);
    }
}

/* Waits until the server has freed the connection, so that each input balances its allocations. */
static void quiesce(struct rl_httpd *h)
{
    uint64_t t0 = rl_mono_ms();

    while (rl__httpd_connections(h) != 0) {
        if (rl_mono_ms() - t0 > HANG_MS) {
            fprintf(stderr, "fuzz_httpd: a closed connection still held after %d ms\n", HANG_MS);
            abort();
        }
        usleep(100);
    }
}

static bool contains(const void *hay, size_t len, const char *needle)
{
    const char *h = hay;
    size_t n = strlen(needle);

    for (size_t i = 0; n && i + n <= len; i++) {
        if (memcmp(h + i, needle, n) == 0)
            return true;
    }
    return false;
}

static void check_reply(const struct rl_buf *r)
{
    if (r->len == 0)
        return;
    if (r->len < 12 || memcmp(r->buf, "HTTP/1.", 7) != 0 || r->buf[8] != ' ' ||
        r->buf[9] < '1' || r->buf[9] > '5') {
        fprintf(stderr, "fuzz_httpd: reply is not HTTP: %.*s\n", (int)(r->len < 80 ? r->len : 80),
                r->buf);
        abort();
    }
}

/*
 * A TCP connection to h from a new loopback address each time (the
 * per-address limit is not fuzzed). A connect() that a signal interrupts
 * (libFuzzer's own timers) or that the machine refuses for a moment is
 * tried again from another address; only a lasting failure stops the run,
 * with its reason.
 */
static int connect_to(struct rl_httpd *h)
{
    static unsigned peers;
    struct linger lg = { 1, 0 };        /* close with a reset: no TIME_WAIT to pile up */
    int err = 0;

    for (int attempt = 0; attempt < 200; attempt++) {
        struct sockaddr_in me = { 0 }, srv = { 0 };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0) {
            err = errno;
            usleep(1000);
            continue;
        }
        me.sin_family = AF_INET;
        me.sin_addr.s_addr = htonl(0x7f000001u + (peers++ % 0xfffffdu));
        srv.sin_family = AF_INET;
        srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        srv.sin_port = htons(rl_httpd_port(h));
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 &&
            connect(fd, (struct sockaddr *)&srv, sizeof(srv)) == 0)
            return fd;
        err = errno;
        close(fd);
        usleep(1000);
    }
    fprintf(stderr, "fuzz_httpd: cannot connect to the server on loopback: %s\n", strerror(err));
    abort();
}

static void serve(struct rl_httpd *h, const uint8_t *data, size_t size)
{
    unsigned before = atomic_load(&explains);
    struct rl_buf reply;
    int fd = connect_to(h);

    rl_mutex_lock(&secret_mu);
    secret_hash[0][0] = secret_hash[1][0] = '\0';
    rl_mutex_unlock(&secret_mu);
    write_all(fd, data, size);
    write_all(fd, (const uint8_t *)"\r\n\r\n", 4);
    shutdown(fd, SHUT_WR);
    rl_buf_init(&reply, 0);
    read_to_eof(fd, &reply);
    close(fd);
    quiesce(h);
    check_reply(&reply);
    if (h == ops && atomic_load(&explains) != before)
        abort();
    rl_mutex_lock(&secret_mu);
    for (int i = 0; i < 2; i++) {
        if (contains(reply.buf, reply.len, secret_hash[i]) &&
            !contains(data, size, secret_hash[i])) {
            fprintf(stderr, "fuzz_httpd: a Secret's SHA-1 in the reply\n");
            abort();
        }
    }
    rl_mutex_unlock(&secret_mu);
    rl_buf_release(&reply);
}

/* Only numeric hosts are parsed: a name would be a DNS lookup. */
static bool numeric_host(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    char host[256];
    const char *colon = strrchr(addr, ':');
    size_t n;

    if (!colon)
        return false;
    n = (size_t)(colon - addr);
    if (n == 0)
        return true;
    if (n >= sizeof(host))
        return false;
    memcpy(host, addr, n);
    host[n] = '\0';
    if (host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        return inet_pton(AF_INET6, host + 1, &a6) == 1;  /* no %zone: an interface lookup */
    }
    return inet_pton(AF_INET, host, &a4) == 1;
}

static void address(const char *s, size_t len)
{
    char *addr = rl_xstrndup(s, len);
    struct sockaddr_storage ss;
    bool any;

    if (rl_listen_addr_ok(addr) && numeric_host(addr) &&
        rl_httpd_parse_addr(addr, &ss, &any) != 0) {
        fprintf(stderr, "fuzz_httpd: '%s' passes the check but does not parse\n", addr);
        abort();
    }
    free(addr);
}

static void redact(const char *s, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(s, len);
    const cJSON *srcs, *src;

    rl_explain_redact(root);
    srcs = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "sources") : NULL;
    if (!cJSON_IsArray(srcs))
        srcs = NULL;
    cJSON_ArrayForEach(src, srcs) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(src, "type");

        if (!cJSON_IsObject(src) || !cJSON_IsString(type) ||
            strcmp(type->valuestring, "secret") != 0)
            continue;
        for (int i = 0; i < 2; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, i ? "applied" : "hash");

            if (!v || cJSON_IsNull(v))
                continue;
            if (!cJSON_IsString(v) || (strcmp(v->valuestring, "hidden") != 0 &&
                                       strncmp(v->valuestring, RL_EXPLAIN_FP_PREFIX,
                                               strlen(RL_EXPLAIN_FP_PREFIX)) != 0))
                abort();
        }
    }
    if (cJSON_IsObject(root) && !cJSON_GetObjectItemCaseSensitive(root, "secretHashes"))
        abort();
    cJSON_Delete(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    atomic_store(&healthy, data[0] & 0x80);
    switch (data[0] & 3) {
    case 0:
        serve(ops, data + 1, size - 1);
        break;
    case 1:
        serve(xsrv, data + 1, size - 1);
        break;
    case 2:
        address((const char *)data + 1, size - 1);
        break;
    default:
        redact((const char *)data + 1, size - 1);
        break;
    }
    return 0;
}
