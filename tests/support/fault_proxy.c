/* fault_proxy.c - a fault-injecting HTTP proxy in front of the real API server */
#include "fault_proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bsd/string.h>
#include <curl/curl.h>

#include "reloadd/base/buf.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/kubeconfig.h"

#define MAX_HEAD_BYTES ((size_t)64 << 10)
#define MAX_BODY_BYTES ((size_t)16 << 20)

struct rule {
    struct rule *next;
    bool cut;                   /* else canned */
    int remaining;
    char *match;                /* NULL: any */
    int status;
    char *headers;
    char *body;
    int lines;
    size_t extra;
};

struct seen {
    char *what;                 /* "METHOD path" */
    double at_s;
};

struct conn {
    struct fault_proxy *p;
    struct conn *next;
    pthread_t thread;
    int fd;
    atomic_bool done;
};

struct fault_proxy {
    struct rl_kubeconfig *cfg;
    int listen_fd;
    int wake[2];
    char url[64];
    pthread_t acceptor;
    atomic_bool stopping;

    pthread_mutex_t mu;         /* guards everything below */
    struct rule *rules;         /* in arming order */
    struct seen *seen;
    size_t nseen;
    struct conn *conns;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void rule_free(struct rule *r)
{
    free(r->match);
    free(r->headers);
    free(r->body);
    free(r);
}

static void add_rule(struct fault_proxy *p, struct rule *r)
{
    struct rule **pp;

    rl_mutex_lock(&p->mu);
    for (pp = &p->rules; *pp; pp = &(*pp)->next)
        ;
    *pp = r;
    rl_mutex_unlock(&p->mu);
}

void fault_proxy_fail_next(struct fault_proxy *p, int n, const char *match, int status,
                           const char *headers, const char *body)
{
    struct rule *r = RL_NEW(struct rule);

    r->remaining = n;
    r->match = match ? rl_xstrdup(match) : NULL;
    r->status = status;
    r->headers = rl_xstrdup(headers ? headers : "");
    r->body = body ? rl_xstrdup(body)
                   : rl_xasprintf("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":"
                                  "\"Failure\",\"message\":\"injected by fault_proxy\","
                                  "\"code\":%d}", status);
    add_rule(p, r);
}

void fault_proxy_cut_next(struct fault_proxy *p, const char *match, int lines, size_t extra)
{
    struct rule *r = RL_NEW(struct rule);

    r->cut = true;
    r->remaining = 1;
    r->match = match ? rl_xstrdup(match) : NULL;
    r->lines = lines;
    r->extra = extra;
    add_rule(p, r);
}

void fault_proxy_disarm(struct fault_proxy *p, const char *match)
{
    rl_mutex_lock(&p->mu);
    for (struct rule **pp = &p->rules; *pp;) {
        struct rule *r = *pp;

        if (match ? r->match && strcmp(r->match, match) == 0 : !r->match) {
            *pp = r->next;
            rule_free(r);
        } else {
            pp = &r->next;
        }
    }
    rl_mutex_unlock(&p->mu);
}

int fault_proxy_pending(struct fault_proxy *p)
{
    int n = 0;

    rl_mutex_lock(&p->mu);
    for (struct rule *r = p->rules; r; r = r->next)
        n += r->remaining;
    rl_mutex_unlock(&p->mu);
    return n;
}

size_t fault_proxy_seen(struct fault_proxy *p, const char *match, double *times, size_t max)
{
    size_t n = 0;

    rl_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nseen; i++) {
        if (match && !strstr(p->seen[i].what, match))
            continue;
        if (times && n < max)
            times[n] = p->seen[i].at_s;
        n++;
    }
    rl_mutex_unlock(&p->mu);
    return n;
}

const char *fault_proxy_url(const struct fault_proxy *p)
{
    return p->url;
}

/* Logs the request and takes the first armed rule that matches (a copy). */
static struct rule *take_rule(struct fault_proxy *p, const char *what)
{
    struct rule *copy = NULL, **pp;

    rl_mutex_lock(&p->mu);
    p->seen = rl_xreallocarray(p->seen, p->nseen + 1, sizeof(*p->seen));
    p->seen[p->nseen].what = rl_xstrdup(what);
    p->seen[p->nseen].at_s = now_s();
    p->nseen++;
    for (pp = &p->rules; *pp; pp = &(*pp)->next) {
        struct rule *r = *pp;

        if (r->match && !strstr(what, r->match))
            continue;
        copy = RL_NEW(struct rule);
        *copy = *r;
        copy->next = NULL;
        copy->match = NULL;
        copy->headers = r->headers ? rl_xstrdup(r->headers) : NULL;
        copy->body = r->body ? rl_xstrdup(r->body) : NULL;
        if (--r->remaining <= 0) {
            *pp = r->next;
            rule_free(r);
        }
        break;
    }
    rl_mutex_unlock(&p->mu);
    return copy;
}

/* ---------------------------------------------------------------------- */
/* Forwarding one request */

struct fwd {
    struct fault_proxy *p;
    int fd;
    long status;
    char content_type[128];
    bool head_sent;
    bool broken;                /* the client connection is gone or cut */
    struct rule *cut;
    int lines_seen;
    size_t extra_sent;
};

static bool send_head(struct fwd *f)
{
    char head[512];
    int n;

    if (f->head_sent)
        return true;
    f->head_sent = true;
    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %ld Proxied\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n",
                 f->status ? f->status : 502L,
                 f->content_type[0] ? f->content_type : "application/json");
    return write_all(f->fd, head, (size_t)n);
}

static bool send_chunk(int fd, const char *data, size_t len)
{
    char size[32];
    int n;

    if (!len)
        return true;
    n = snprintf(size, sizeof(size), "%zx\r\n", len);
    return write_all(fd, size, (size_t)n) && write_all(fd, data, len) && write_all(fd, "\r\n", 2);
}

static size_t fwd_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct fwd *f = ud;
    size_t n = size * nmemb;

    if (n > 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        const char *sp = memchr(ptr, ' ', n);

        f->status = sp ? strtol(sp + 1, NULL, 10) : 502;
        f->content_type[0] = '\0';
    } else if (n > 13 && strncasecmp(ptr, "Content-Type:", 13) == 0) {
        size_t len = n - 13;
        const char *v = ptr + 13;

        while (len && *v == ' ') {
            v++;
            len--;
        }
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n'))
            len--;
        if (len >= sizeof(f->content_type))
            len = sizeof(f->content_type) - 1;
        memcpy(f->content_type, v, len);
        f->content_type[len] = '\0';
    }
    return n;
}

static size_t fwd_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct fwd *f = ud;
    size_t n = size * nmemb, send_n = n;
    bool cut_now = false;

    if (f->broken || !send_head(f)) {
        f->broken = true;
        return 0;
    }
    if (f->cut) {
        /* Count lines through this piece; stop at the cut point. */
        for (size_t i = 0; i < n; i++) {
            if (f->lines_seen >= f->cut->lines) {
                size_t want = f->cut->extra - f->extra_sent;
                size_t avail = n - i;

                if (avail >= want) {
                    send_n = i + want;
                    cut_now = true;
                } else {
                    f->extra_sent += avail;
                }
                break;
            }
            if (ptr[i] == '\n')
                f->lines_seen++;
        }
    }
    if (!send_chunk(f->fd, ptr, send_n)) {
        f->broken = true;
        return 0;
    }
    if (cut_now) {
        /* Drop the connection mid-line, as a dying apiserver or LB would. */
        f->broken = true;
        shutdown(f->fd, SHUT_RDWR);
        return 0;
    }
    return n;
}

static int fwd_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    struct fwd *f = ud;

    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return atomic_load(&f->p->stopping) || f->broken;
}

static void setup_upstream(struct fault_proxy *p, CURL *h)
{
    const struct rl_kubeconfig *cfg = p->cfg;

    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    if (cfg->ca_data) {
        struct curl_blob b = { cfg->ca_data, strlen(cfg->ca_data), CURL_BLOB_COPY };

        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    } else if (cfg->ca_file) {
        curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (cfg->cert_data) {
        struct curl_blob b = { cfg->cert_data, strlen(cfg->cert_data), CURL_BLOB_COPY };

        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &b);
    } else if (cfg->cert_file) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
    }
    if (cfg->key_data) {
        struct curl_blob b = { cfg->key_data, strlen(cfg->key_data), CURL_BLOB_COPY };

        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &b);
    } else if (cfg->key_file) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
    }
}

static void forward(struct fault_proxy *p, CURL *h, int fd, const char *method,
                    const char *target, const char *ctype, const char *accept,
                    const struct rl_buf *body, struct rule *cut, bool *close_conn)
{
    struct fwd f = { .p = p, .fd = fd, .cut = cut };
    struct curl_slist *hdrs = NULL;
    char *url = rl_xasprintf("%s%s", p->cfg->server, target);
    char *auth = NULL, *line;
    char errbuf[256] = "";
    CURLcode rc;

    hdrs = curl_slist_append(hdrs, "Expect:");
    if (ctype) {
        line = rl_xasprintf("Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, line);
        free(line);
    }
    line = rl_xasprintf("Accept: %s", accept ? accept : "application/json");
    hdrs = curl_slist_append(hdrs, line);
    free(line);
    if (rl_kubeconfig_auth(p->cfg, &auth, errbuf, sizeof(errbuf)) == 0 && auth) {
        line = rl_xasprintf("Authorization: %s", auth);
        hdrs = curl_slist_append(hdrs, line);
        rl_free_secret(line);
        rl_free_secret(auth);
    }
    curl_easy_reset(h);
    setup_upstream(p, h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fwd_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &f);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwd_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, fwd_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &f);
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body->len || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body->buf);
    }
    rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    free(url);

    if (f.broken) {
        *close_conn = true;
    } else if (rc != CURLE_OK && !f.head_sent) {
        char resp[512];
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         strlen(curl_easy_strerror(rc)), curl_easy_strerror(rc));

        write_all(fd, resp, (size_t)n);
    } else if (rc != CURLE_OK) {
        *close_conn = true;             /* upstream died mid-body: so does this stream */
    } else if (!send_head(&f) || !write_all(fd, "0\r\n\r\n", 5)) {
        *close_conn = true;
    }
}

/* ---------------------------------------------------------------------- */
/* Client connections */

/* Reads more into b; false on EOF, error or stop. */
static bool read_more(struct fault_proxy *p, int fd, struct rl_buf *b)
{
    char chunk[16384];

    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int rc = poll(&pfd, 1, 200);
        ssize_t n;

        if (atomic_load(&p->stopping))
            return false;
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0)
            return false;
        if (rc == 0)
            continue;
        n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        return rl_buf_add(b, chunk, (size_t)n) == 0;
    }
}

static const char *header_value(const char *head, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);

    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *s = l + 2;

        if (strncasecmp(s, name, nlen) == 0 && s[nlen] == ':') {
            const char *v = s + nlen + 1, *e = strstr(v, "\r\n");
            size_t len;

            while (*v == ' ')
                v++;
            len = e ? (size_t)(e - v) : strlen(v);
            if (len >= outlen)
                len = outlen - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct fault_proxy *p = c->p;
    struct rl_buf in, body;
    CURL *h = curl_easy_init();
    bool close_conn = false;

    rl_buf_init(&in, MAX_HEAD_BYTES + MAX_BODY_BYTES);
    rl_buf_init(&body, MAX_BODY_BYTES);
    while (!close_conn && h) {
        char method[16], target[8192], ctype[256], accept[256], clen[32], what[8300];
        const char *end, *ct, *ac;
        size_t head_len, content_len = 0;
        struct rule *r;

        while (!(end = strstr(in.buf, "\r\n\r\n")))
            if (in.len > MAX_HEAD_BYTES || !read_more(p, c->fd, &in))
                goto out;
        head_len = (size_t)(end - in.buf) + 4;
        if (sscanf(in.buf, "%15s %8191s", method, target) != 2)
            goto out;
        {
            char *head = rl_xstrndup(in.buf, head_len);

            ct = header_value(head, "Content-Type", ctype, sizeof(ctype));
            ac = header_value(head, "Accept", accept, sizeof(accept));
            if (header_value(head, "Content-Length", clen, sizeof(clen)))
                content_len = (size_t)strtoul(clen, NULL, 10);
            free(head);
        }
        while (in.len < head_len + content_len)
            if (!read_more(p, c->fd, &in))
                goto out;
        rl_buf_reset(&body);
        rl_buf_add(&body, in.buf + head_len, content_len);
        /* Keep what follows (a pipelined request) for the next turn. */
        {
            size_t used = head_len + content_len, rest = in.len - used;
            char *tail = rl_xstrndup(in.buf + used, rest);

            rl_buf_reset(&in);
            rl_buf_add(&in, tail, rest);
            free(tail);
        }

        snprintf(what, sizeof(what), "%s %s", method, target);
        r = take_rule(p, what);
        if (r && !r->cut) {
            struct rl_buf resp;

            rl_buf_init(&resp, 0);
            rl_buf_addf(&resp, "HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\n"
                        "Content-Length: %zu\r\n%s\r\n%s", r->status, strlen(r->body),
                        r->headers, r->body);
            close_conn = !write_all(c->fd, resp.buf, resp.len);
            rl_buf_release(&resp);
        } else {
            forward(p, h, c->fd, method, target, ct, ac, &body, r, &close_conn);
        }
        if (r)
            rule_free(r);
    }
out:
    if (h)
        curl_easy_cleanup(h);
    rl_buf_release(&in);
    rl_buf_release(&body);
    shutdown(c->fd, SHUT_RDWR);
    atomic_store(&c->done, true);
    return NULL;
}

/* Joins finished connection threads (all of them when `all`). */
static void reap(struct fault_proxy *p, bool all)
{
    struct conn **pp = &p->conns;

    rl_mutex_lock(&p->mu);
    while (*pp) {
        struct conn *c = *pp;

        if (all || atomic_load(&c->done)) {
            *pp = c->next;
            rl_mutex_unlock(&p->mu);
            if (all)
                shutdown(c->fd, SHUT_RDWR);
            rl_thread_join(c->thread);
            close(c->fd);
            free(c);
            rl_mutex_lock(&p->mu);
        } else {
            pp = &c->next;
        }
    }
    rl_mutex_unlock(&p->mu);
}

static void *accept_main(void *arg)
{
    struct fault_proxy *p = arg;

    while (!atomic_load(&p->stopping)) {
        struct pollfd pfd[2] = { { .fd = p->listen_fd, .events = POLLIN },
                                 { .fd = p->wake[0], .events = POLLIN } };
        struct conn *c;
        int fd;

        if (poll(pfd, 2, 500) <= 0 || !(pfd[0].revents & POLLIN)) {
            reap(p, false);
            continue;
        }
        fd = accept(p->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        c = RL_NEW(struct conn);
        c->p = p;
        c->fd = fd;
        rl_mutex_lock(&p->mu);
        c->next = p->conns;
        p->conns = c;
        rl_mutex_unlock(&p->mu);
        rl_thread_start(&c->thread, "fault-conn", conn_main, c);
        reap(p, false);
    }
    return NULL;
}

struct fault_proxy *fault_proxy_start(const char *upstream_kubeconfig, char *errbuf,
                                      size_t errlen)
{
    struct fault_proxy *p = RL_NEW(struct fault_proxy);
    struct sockaddr_in addr = { .sin_family = AF_INET };
    socklen_t alen = sizeof(addr);
    int one = 1;

    if (rl_kubeconfig_load(&p->cfg, upstream_kubeconfig, NULL, errbuf, errlen) != 0) {
        free(p);
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rl_mutex_init(&p->mu);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (p->listen_fd < 0 || pipe(p->wake) != 0 ||
        setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(p->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(p->listen_fd, 64) != 0 ||
        getsockname(p->listen_fd, (struct sockaddr *)&addr, &alen) != 0)
        RL_BUG("fault_proxy: cannot listen on 127.0.0.1");
    snprintf(p->url, sizeof(p->url), "http://127.0.0.1:%d", ntohs(addr.sin_port));
    rl_thread_start(&p->acceptor, "fault-accept", accept_main, p);
    return p;
}

void fault_proxy_stop(struct fault_proxy *p)
{
    if (!p)
        return;
    atomic_store(&p->stopping, true);
    if (write(p->wake[1], "x", 1) < 0)
        RL_BUG("fault_proxy: wake");
    rl_thread_join(p->acceptor);
    reap(p, true);
    close(p->listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    while (p->rules) {
        struct rule *r = p->rules;

        p->rules = r->next;
        rule_free(r);
    }
    for (size_t i = 0; i < p->nseen; i++)
        free(p->seen[i].what);
    free(p->seen);
    rl_mutex_destroy(&p->mu);
    rl_kubeconfig_free(p->cfg);
    free(p);
    curl_global_cleanup();
}
