/* http_sink.c - a loopback HTTP/1.1 receiver for tests */
#include "http_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/string.h>

#include "reloadd/base/clock.h"
#include "reloadd/base/log.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"

#define MAX_REQUEST (1 << 20)

struct conn {
    struct http_sink *s;
    int fd;
    pthread_t thread;
    struct conn *next;
};

struct http_sink {
    int fd;
    int port;
    char url[64];
    atomic_bool stop;
    pthread_t accept_thread;

    pthread_mutex_t mu;             /* guards everything below */
    pthread_cond_t cv;
    int status;
    char *body;
    int fail_n, fail_status;
    bool hang;
    struct http_sink_req *reqs;
    size_t n_reqs;
    struct conn *conns;
};

/* Case-insensitive search for needle in the first len bytes of hay (NUL-terminated). */
static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);

    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static bool parse_request(const char *buf, size_t len, struct http_sink_req *r, size_t *need)
{
    const char *end = strstr(buf, "\r\n\r\n");
    const char *cl, *ct;
    size_t head, body_len = 0;

    if (!end)
        return false;
    head = (size_t)(end - buf) + 4;
    cl = find_ci(buf, "\r\nContent-Length:");
    if (cl && cl < end)
        body_len = strtoul(cl + 17, NULL, 10);
    *need = head + body_len;
    if (len < *need)
        return false;
    sscanf(buf, "%15s %511s", r->method, r->path);
    ct = find_ci(buf, "\r\nContent-Type:");
    if (ct && ct < end) {
        const char *v = ct + 15, *eol = strstr(v, "\r\n");

        while (*v == ' ')
            v++;
        snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)(eol - v), v);
    }
    r->body = rl_xstrndup(buf + head, body_len);
    r->body_len = body_len;
    return true;
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct http_sink *s = c->s;
    char *buf = rl_xmalloc(MAX_REQUEST + 1);
    size_t len = 0, need = 0;
    struct http_sink_req r;
    int status;
    char *body, *resp;

    memset(&r, 0, sizeof(r));
    for (;;) {
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        ssize_t got;

        if (atomic_load(&s->stop))
            goto out;
        if (poll(&p, 1, 50) <= 0)
            continue;
        got = recv(c->fd, buf + len, MAX_REQUEST - len, 0);
        if (got <= 0)
            goto out;
        len += (size_t)got;
        buf[len] = '\0';
        if (parse_request(buf, len, &r, &need))
            break;
        if (len == MAX_REQUEST)
            goto out;
    }
    r.at_ms = rl_mono_ms();
    rl_mutex_lock(&s->mu);
    s->reqs = rl_xreallocarray(s->reqs, s->n_reqs + 1, sizeof(*s->reqs));
    s->reqs[s->n_reqs++] = r;
    memset(&r, 0, sizeof(r));
    rl_cond_broadcast(&s->cv);
    while (s->hang && !atomic_load(&s->stop))
        rl_cond_wait_until_ms(&s->cv, &s->mu, rl_mono_ms() + 50);
    if (s->fail_n > 0) {
        s->fail_n--;
        status = s->fail_status;
    } else {
        status = s->status;
    }
    body = rl_xstrdup(s->body);
    rl_mutex_unlock(&s->mu);
    if (!atomic_load(&s->stop)) {
        resp = rl_xasprintf("HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                            status, strlen(body), body);
        send(c->fd, resp, strlen(resp), MSG_NOSIGNAL);
        free(resp);
    }
    free(body);
out:
    free(r.body);
    free(buf);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *accept_main(void *arg)
{
    struct http_sink *s = arg;

    while (!atomic_load(&s->stop)) {
        struct pollfd p = { .fd = s->fd, .events = POLLIN };
        struct conn *c;
        int fd;

        if (poll(&p, 1, 50) <= 0)
            continue;
        fd = accept(s->fd, NULL, NULL);
        if (fd < 0)
            continue;
        c = RL_NEW(struct conn);
        c->s = s;
        c->fd = fd;
        rl_mutex_lock(&s->mu);
        c->next = s->conns;
        s->conns = c;
        rl_mutex_unlock(&s->mu);
        rl_thread_start(&c->thread, "sink-conn", conn_main, c);
    }
    return NULL;
}

struct http_sink *http_sink_start(void)
{
    struct http_sink *s = RL_NEW(struct http_sink);
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);
    int one = 1;

    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s->fd < 0 || bind(s->fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->fd, 64) != 0 || getsockname(s->fd, (struct sockaddr *)&a, &alen) != 0)
        RL_BUG("http_sink: cannot listen on loopback");
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d", s->port);
    s->status = 200;
    s->body = rl_xstrdup("ok");
    rl_mutex_init(&s->mu);
    rl_cond_init(&s->cv);
    atomic_init(&s->stop, false);
    rl_thread_start(&s->accept_thread, "sink-accept", accept_main, s);
    return s;
}

void http_sink_stop(struct http_sink *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, true);
    rl_mutex_lock(&s->mu);
    rl_cond_broadcast(&s->cv);
    rl_mutex_unlock(&s->mu);
    rl_thread_join(s->accept_thread);
    while (s->conns) {
        struct conn *c = s->conns;

        s->conns = c->next;
        rl_thread_join(c->thread);
        close(c->fd);
        free(c);
    }
    close(s->fd);
    for (size_t i = 0; i < s->n_reqs; i++)
        free(s->reqs[i].body);
    free(s->reqs);
    free(s->body);
    rl_cond_destroy(&s->cv);
    rl_mutex_destroy(&s->mu);
    free(s);
}

const char *http_sink_url(const struct http_sink *s)
{
    return s->url;
}

int http_sink_port(const struct http_sink *s)
{
    return s->port;
}

void http_sink_respond(struct http_sink *s, int status, const char *body)
{
    rl_mutex_lock(&s->mu);
    s->status = status;
    free(s->body);
    s->body = rl_xstrdup(body ? body : "");
    rl_mutex_unlock(&s->mu);
}

void http_sink_fail_next(struct http_sink *s, int n, int status)
{
    rl_mutex_lock(&s->mu);
    s->fail_n = n;
    s->fail_status = status;
    rl_mutex_unlock(&s->mu);
}

void http_sink_hang(struct http_sink *s, bool hang)
{
    rl_mutex_lock(&s->mu);
    s->hang = hang;
    rl_cond_broadcast(&s->cv);
    rl_mutex_unlock(&s->mu);
}

size_t http_sink_count(struct http_sink *s)
{
    size_t n;

    rl_mutex_lock(&s->mu);
    n = s->n_reqs;
    rl_mutex_unlock(&s->mu);
    return n;
}

size_t http_sink_wait(struct http_sink *s, size_t n, uint64_t timeout_ms)
{
    uint64_t until = rl_mono_ms() + timeout_ms;
    size_t got;

    rl_mutex_lock(&s->mu);
    while (s->n_reqs < n && rl_mono_ms() < until)
        rl_cond_wait_until_ms(&s->cv, &s->mu, until);
    got = s->n_reqs;
    rl_mutex_unlock(&s->mu);
    return got;
}

bool http_sink_request(struct http_sink *s, size_t i, struct http_sink_req *out)
{
    bool ok;

    memset(out, 0, sizeof(*out));
    rl_mutex_lock(&s->mu);
    ok = i < s->n_reqs;
    if (ok) {
        *out = s->reqs[i];
        out->body = rl_xstrndup(s->reqs[i].body, s->reqs[i].body_len);
    }
    rl_mutex_unlock(&s->mu);
    return ok;
}

void http_sink_req_release(struct http_sink_req *r)
{
    free(r->body);
    r->body = NULL;
}

struct rl_kube *http_sink_kube(const struct http_sink *s, const struct rl_kube_opts *o)
{
    struct rl_kubeconfig *cfg = NULL;
    char errbuf[512];
    char *yaml = rl_xasprintf("clusters:\n- name: c\n  cluster: {server: '%s'}\n"
                              "contexts:\n- name: x\n  context: {cluster: c}\n"
                              "current-context: x\n", http_sink_url(s));
    struct rl_kube *k = NULL;

    if (rl_kubeconfig_parse(&cfg, "/t/config", yaml, strlen(yaml), NULL, errbuf,
                            sizeof(errbuf)) == 0)
        k = rl_kube_new(cfg, o, NULL);
    free(yaml);
    if (!k) {
        fprintf(stderr, "http_sink: no kube client for %s: %s\n", http_sink_url(s), errbuf);
        abort();
    }
    return k;
}
