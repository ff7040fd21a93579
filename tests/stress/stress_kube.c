/*
 * stress_kube.c - the API client's threaded paths, for the TSan build
 *
 * Criterion cannot start under ThreadSanitizer (Snaipe/Criterion#274), so
 * this plain program drives them and exits non-zero on a broken promise;
 * TSan fails the run on any race. A loopback HTTP/1.1 server (keep-alive,
 * thread per connection) answers GETs and streams short watches.
 *
 *  - 8 threads share one struct rl_kube: per-thread easy handles (created,
 *    reused, reaped at thread exit), the token bucket, the observer;
 *  - meanwhile another thread rotates the token file and calls
 *    rl_kubeconfig_auth_failed(), so credentials are re-read under load;
 *  - a mux thread keeps 4 watches going, re-watching as each ends, while a
 *    third thread pokes it with rl_kube_mux_wakeup().
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "stress_kube: FAILED %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
            exit(1);                                                          \
        }                                                                     \
    } while (0)

#define THREADS 8
#define GETS 150
#define STREAMS 4
#define WATCH_ROUNDS 10          /* per stream */
#define EVENTS_PER_WATCH 5

static atomic_bool stopping;
static atomic_int unauthorized;

/* --- the server ---------------------------------------------------------- */

static bool send_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

        if (n <= 0)
            return false;
        s += n;
        len -= (size_t)n;
    }
    return true;
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    size_t len = 0;

    for (;;) {
        char *end;
        ssize_t n;

        buf[len] = '\0';
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
            if (n <= 0)
                goto out;
            len += (size_t)n;
            buf[len] = '\0';
        }
        if (!strstr(buf, "\r\nAuthorization: Bearer tok-")) {
            static const char r401[] = "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n";

            atomic_fetch_add(&unauthorized, 1);
            if (!send_all(fd, r401, sizeof(r401) - 1))
                goto out;
        } else if (strstr(buf, "watch=1")) {
            static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                       "Transfer-Encoding: chunked\r\n\r\n";

            if (!send_all(fd, head, sizeof(head) - 1))
                goto out;
            for (int i = 0; i < EVENTS_PER_WATCH; i++) {
                char ev[160], chunk[200];
                int evn = snprintf(ev, sizeof(ev),
                                   "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":"
                                   "\"o%d\",\"resourceVersion\":\"%d\"}}}\n", i, i + 1);
                int cn = snprintf(chunk, sizeof(chunk), "%x\r\n%s\r\n", evn, ev);

                if (!send_all(fd, chunk, (size_t)cn))
                    goto out;
            }
            if (!send_all(fd, "0\r\n\r\n", 5))
                goto out;
        } else {
            static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 11\r\n\r\n{\"ok\":true}";

            if (!send_all(fd, ok, sizeof(ok) - 1))
                goto out;
        }
        end += 4;
        len -= (size_t)(end - buf);
        memmove(buf, end, len);
    }
out:
    close(fd);
    return NULL;
}

struct server {
    int fd;
    int port;
    pthread_t thread;
    pthread_t conns[256];
    int nconns;
};

static void *serve(void *arg)
{
    struct server *s = arg;

    while (!atomic_load(&stopping)) {
        int c = accept(s->fd, NULL, NULL);

        if (c < 0)
            break;
        CHECK(s->nconns < 256, "too many connections: handles are not reused");
        rl_thread_start(&s->conns[s->nconns++], "stress-conn", serve_conn, (void *)(intptr_t)c);
    }
    return NULL;
}

static void server_start(struct server *s)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t alen = sizeof(a);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(s->fd >= 0 && bind(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
              listen(s->fd, 64) == 0 && getsockname(s->fd, (struct sockaddr *)&a, &alen) == 0,
          "cannot listen on loopback");
    s->port = ntohs(a.sin_port);
    rl_thread_start(&s->thread, "stress-accept", serve, s);
}

static void server_stop(struct server *s)
{
    atomic_store(&stopping, true);
    shutdown(s->fd, SHUT_RDWR);
    rl_thread_join(s->thread);
    close(s->fd);
    for (int i = 0; i < s->nconns; i++)
        rl_thread_join(s->conns[i]);
}

/* --- the clients ---------------------------------------------------------- */

static atomic_int observed, get_failures;
static struct rl_kube *kube;
static struct rl_kubeconfig *cfg;      /* owned by kube; auth_failed is thread-safe */
static char token_path[64];

static void observe(void *ctx, const char *verb, const char *resource, long status,
                    double seconds)
{
    (void)ctx;
    (void)verb;
    (void)resource;
    (void)status;
    (void)seconds;
    atomic_fetch_add(&observed, 1);
}

static void *getter(void *arg)
{
    struct rl_kube_response r;

    (void)arg;
    rl_kube_response_init(&r);
    for (int i = 0; i < GETS; i++)
        if (rl_kube_get(kube, "/api/v1/namespaces/ns/configmaps/x", &r) != 0) {
            fprintf(stderr, "stress_kube: GET failed: %s\n", r.message);
            atomic_fetch_add(&get_failures, 1);
        }
    rl_kube_response_release(&r);
    return NULL;    /* the thread's easy handle is reaped by its key destructor */
}

static void write_token(int n)
{
    char tmp[80];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", token_path);
    f = fopen(tmp, "w");
    CHECK(f, "cannot write %s", tmp);
    fprintf(f, "tok-%d\n", n);
    fclose(f);
    CHECK(rename(tmp, token_path) == 0, "rename");
}

static atomic_bool getters_done;

static void *rotator(void *arg)
{
    (void)arg;
    for (int n = 1; !atomic_load(&getters_done); n++) {
        write_token(n);
        rl_kubeconfig_auth_failed(cfg);
        usleep(2000);
    }
    return NULL;
}

struct watcher {
    struct rl_kube_mux *mux;
    atomic_bool done;
    int events;
    int ends;
    int rounds[STREAMS];
};

struct stream_ctx {
    struct watcher *w;
    int idx;
};

static int on_event(void *ctx, const char *type, const cJSON *object)
{
    struct stream_ctx *sc = ctx;

    (void)type;
    (void)object;
    sc->w->events++;
    return 0;
}

static void on_end(void *ctx, int err)
{
    struct stream_ctx *sc = ctx;
    struct watcher *w = sc->w;

    CHECK(err == 0 || err == RL_ESHUTDOWN, "watch ended with %s", rl_strerror(err));
    w->ends++;
    if (err == 0 && ++w->rounds[sc->idx] < WATCH_ROUNDS)
        CHECK(rl_kube_mux_watch(w->mux, "/api/v1/configmaps", NULL, on_event, on_end, sc),
              "re-watch from on_end");
}

static void *waker(void *arg)
{
    struct watcher *w = arg;

    while (!atomic_load(&w->done)) {
        rl_kube_mux_wakeup(w->mux);
        usleep(500);
    }
    return NULL;
}

int main(void)
{
    struct server srv = { 0 };
    struct rl_kube_opts opts = { .qps = 5000, .burst = 20 };
    struct watcher w = { 0 };
    struct stream_ctx sc[STREAMS];
    pthread_t getters[THREADS], rot, wake;
    char dir[] = "/tmp/stress-kube-XXXXXX", errbuf[512], *yaml;

    CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(token_path, sizeof(token_path), "%s/token", dir);
    write_token(0);
    server_start(&srv);
    yaml = rl_xasprintf("clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:%d'}\n"
                        "users:\n- name: u\n  user: {tokenFile: '%s'}\n"
                        "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
                        "current-context: x\n", srv.port, token_path);
    CHECK(rl_kubeconfig_parse(&cfg, "/stress/config", yaml, strlen(yaml), NULL, errbuf,
                              sizeof(errbuf)) == 0, "%s", errbuf);
    free(yaml);
    kube = rl_kube_new(cfg, &opts, NULL);
    CHECK(kube, "rl_kube_new");
    rl_kube_set_observer(kube, observe, NULL);

    /* Watches on the mux, driven from this thread while the others run. */
    w.mux = rl_kube_mux_new(kube);
    for (int i = 0; i < STREAMS; i++) {
        sc[i] = (struct stream_ctx){ &w, i };
        CHECK(rl_kube_mux_watch(w.mux, "/api/v1/configmaps", NULL, on_event, on_end, &sc[i]),
              "watch");
    }
    rl_thread_start(&wake, "stress-wake", waker, &w);
    rl_thread_start(&rot, "stress-rotate", rotator, NULL);
    for (int i = 0; i < THREADS; i++)
        rl_thread_start(&getters[i], "stress-get", getter, NULL);

    while (rl_kube_mux_count(w.mux) > 0)
        CHECK(rl_kube_mux_poll(w.mux, 100) == 0, "poll");
    for (int i = 0; i < THREADS; i++)
        rl_thread_join(getters[i]);
    atomic_store(&getters_done, true);
    rl_thread_join(rot);
    atomic_store(&w.done, true);
    rl_thread_join(wake);
    rl_kube_mux_free(w.mux);

    CHECK(atomic_load(&get_failures) == 0, "%d GETs failed", atomic_load(&get_failures));
    CHECK(w.events == STREAMS * WATCH_ROUNDS * EVENTS_PER_WATCH, "events %d", w.events);
    CHECK(w.ends == STREAMS * WATCH_ROUNDS, "ends %d", w.ends);
    /* Every exchange observed: GETs, 401 retries, and watch ends. */
    CHECK(atomic_load(&observed) >= THREADS * GETS + STREAMS * WATCH_ROUNDS, "observed %d",
          atomic_load(&observed));
    rl_kube_free(kube);
    server_stop(&srv);
    unlink(token_path);
    rmdir(dir);
    CHECK(atomic_load(&unauthorized) == 0, "%d requests without the token",
          atomic_load(&unauthorized));
    printf("stress_kube: %d GETs on %d threads with token rotation, %d watch events: ok\n",
           THREADS * GETS, THREADS, w.events);
    return 0;
}
