/*
 * test_kube.c - what the client puts on the wire and how it maps failures,
 * without a cluster (tests/integration/test_kube.c runs against a real one)
 *
 * A one-request loopback responder records the request the client sends
 * and answers with a canned response; a closed loopback port stands for an
 * unreachable server.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/string.h>

#include "reloadd/base/err.h"
#include "reloadd/base/mem.h"
#include "reloadd/base/sync.h"
#include "reloadd/kube/kube.h"
#include "reloadd/kube/kubeconfig.h"
#include "reloadd/version.h"

struct responder {
    int fd;
    int port;
    const char *response;
    char request[8192];
    pthread_t thread;
};

static void *respond_once(void *arg)
{
    struct responder *r = arg;
    int c = accept(r->fd, NULL, NULL);
    size_t n = 0;

    if (c < 0)
        return NULL;
    while (n < sizeof(r->request) - 1 && !strstr(r->request, "\r\n\r\n")) {
        ssize_t got = recv(c, r->request + n, sizeof(r->request) - 1 - n, 0);

        if (got <= 0)
            break;
        n += (size_t)got;
        r->request[n] = '\0';
    }
    send(c, r->response, strlen(r->response), MSG_NOSIGNAL);
    close(c);
    return NULL;
}

static int listen_loopback(int *port)
{
    struct sockaddr_in a = { .sin_family = AF_INET };
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&a, sizeof(a)), 0));
    cr_assert(eq(int, listen(fd, 4), 0));
    cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&a, &len), 0));
    *port = ntohs(a.sin_port);
    return fd;
}

static void responder_start(struct responder *r, const char *response)
{
    memset(r->request, 0, sizeof(r->request));
    r->response = response;
    r->fd = listen_loopback(&r->port);
    rl_thread_start(&r->thread, "responder", respond_once, r);
}

static void responder_join(struct responder *r)
{
    rl_thread_join(r->thread);
    close(r->fd);
}

/* A port nothing listens on. */
static int closed_port(void)
{
    int port, fd = listen_loopback(&port);

    close(fd);
    return port;
}

static struct rl_kube *client_for(int port, const char *user_yaml,
                                  const struct rl_kube_opts *opts)
{
    struct rl_kubeconfig *cfg = NULL;
    char errbuf[512];
    char *yaml = rl_xasprintf("clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:%d'}\n"
                              "contexts:\n- name: x\n  context: {cluster: c%s}\n"
                              "current-context: x\n%s",
                              port, user_yaml ? ", user: u" : "", user_yaml ? user_yaml : "");
    struct rl_kube *k;

    cr_assert(eq(int, rl_kubeconfig_parse(&cfg, "/t/config", yaml, strlen(yaml), NULL, errbuf,
                                          sizeof(errbuf)), 0), "%s", errbuf);
    free(yaml);
    k = rl_kube_new(cfg, opts, NULL);
    cr_assert(ne(ptr, k, NULL));
    return k;
}

struct seen {
    int n;
    char verb[16], resource[64];
    long status;
};

static void observe(void *ctx, const char *verb, const char *resource, long status,
                    double seconds)
{
    struct seen *s = ctx;

    (void)seconds;
    s->n++;
    strlcpy(s->verb, verb, sizeof(s->verb));
    strlcpy(s->resource, resource, sizeof(s->resource));
    s->status = status;
}

/* A whole HTTP/1.1 response with the right Content-Length (caller frees). */
static char *http(const char *status_line, const char *body)
{
    return rl_xasprintf("HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                        "Connection: close\r\n\r\n%s", status_line, strlen(body), body);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

Test(kube, request_carries_agent_accept_auth_and_body)
{
    struct responder r;
    struct rl_kube *k;
    struct rl_kube_response resp;
    struct seen s = { 0 };
    char agent[128], *ok = http("200 OK", "{}");

    responder_start(&r, ok);
    k = client_for(r.port, "users:\n- name: u\n  user: {token: s3cr3t}\n", NULL);
    rl_kube_set_observer(k, observe, &s);
    rl_kube_response_init(&resp);
    cr_assert(eq(int, rl_kube_patch(k, "/apis/apps/v1/namespaces/ns/deployments/web",
                                    "application/merge-patch+json", "{\"a\":1}", &resp), 0),
              "%s", resp.message);
    responder_join(&r);
    cr_assert(starts_with(r.request, "PATCH /apis/apps/v1/namespaces/ns/deployments/web "
                                     "HTTP/1.1\r\n"), "%s", r.request);
    snprintf(agent, sizeof(agent), "\r\nUser-Agent: reloadd/%s\r\n", RL_VERSION);
    cr_assert(ne(ptr, strstr(r.request, agent), NULL), "%s", r.request);
    cr_assert(ne(ptr, strstr(r.request, "\r\nAccept: application/json\r\n"), NULL));
    cr_assert(ne(ptr, strstr(r.request, "\r\nAuthorization: Bearer s3cr3t\r\n"), NULL));
    cr_assert(ne(ptr, strstr(r.request, "\r\nContent-Type: application/merge-patch+json\r\n"),
                 NULL));
    cr_assert(ne(ptr, strstr(r.request, "\r\n\r\n{\"a\":1}"), NULL), "%s", r.request);
    cr_assert(eq(long, resp.status, 200));
    cr_assert(eq(int, s.n, 1));
    cr_assert(eq(str, s.verb, "patch"));
    cr_assert(eq(str, s.resource, "deployments"));
    rl_kube_response_release(&resp);
    rl_kube_free(k);
    free(ok);
}

Test(kube, delete_propagation_and_list_selectors_are_escaped)
{
    struct responder r;
    struct rl_kube *k;
    struct rl_kube_response resp;
    struct rl_kube_list_opts lo = { .label_selector = "app in (a,b),tier!=db",
                                    .field_selector = "metadata.name=x y", .limit = 7 };
    char *list = http("200 OK", "{\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"42\"},"
                                "\"items\":[]}");
    char *ok = http("200 OK", "{}"), *rv = NULL;

    responder_start(&r, ok);
    k = client_for(r.port, NULL, NULL);
    rl_kube_response_init(&resp);
    cr_assert(eq(int, rl_kube_delete(k, "/api/v1/namespaces/ns/configmaps/c", "Foreground",
                                     &resp), 0));
    responder_join(&r);
    cr_assert(starts_with(r.request, "DELETE /api/v1/namespaces/ns/configmaps/c?"
                                     "propagationPolicy=Foreground HTTP/1.1\r\n"), "%s", r.request);
    cr_assert(eq(ptr, strstr(r.request, "Authorization:"), NULL), "no credentials configured");
    rl_kube_free(k);

    responder_start(&r, list);
    k = client_for(r.port, NULL, NULL);
    cr_assert(eq(int, rl_kube_list(k, "/api/v1/configmaps", &lo, NULL, NULL, &rv), 0), "%s",
              rl_kube_last_error());
    responder_join(&r);
    cr_assert(starts_with(r.request, "GET /api/v1/configmaps?limit=7&labelSelector=app%20in"
                                     "%20%28a%2Cb%29%2Ctier%21%3Ddb&fieldSelector=metadata.name"
                                     "%3Dx%20y HTTP/1.1\r\n"), "%s", r.request);
    cr_assert(eq(str, rv, "42"));
    free(rv);
    free(list);
    free(ok);
    rl_kube_response_release(&resp);
    rl_kube_free(k);
}

Test(kube, status_body_becomes_typed_error_with_reason)
{
    char *conflict = http("409 Conflict",
                          "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
                          "\"message\":\"Operation cannot be fulfilled: the object has been "
                          "modified\",\"reason\":\"Conflict\",\"code\":409}");
    struct responder r;
    struct rl_kube *k;
    struct rl_kube_response resp;

    responder_start(&r, conflict);
    k = client_for(r.port, NULL, NULL);
    rl_kube_response_init(&resp);
    cr_assert(eq(int, rl_kube_update(k, "/api/v1/namespaces/n/configmaps/c", "{}", &resp),
                 RL_ECONFLICT));
    responder_join(&r);
    cr_assert(eq(long, resp.status, 409));
    cr_assert(eq(str, resp.reason, "Conflict"));
    cr_assert(eq(str, resp.message, "Operation cannot be fulfilled: the object has been modified"));
    cr_assert(eq(str, (char *)rl_kube_last_error(), resp.message));
    rl_kube_response_release(&resp);
    rl_kube_free(k);
    free(conflict);
}

Test(kube, unreachable_server_is_transport_error_naming_the_url)
{
    struct rl_kube_opts no_retry = { .max_retries = -1 };
    int port = closed_port();
    struct rl_kube *k = client_for(port, NULL, &no_retry);
    struct rl_kube_response resp;
    struct seen s = { 0 };
    char want[128];

    rl_kube_set_observer(k, observe, &s);
    rl_kube_response_init(&resp);
    cr_assert(eq(int, rl_kube_get(k, "/api/v1/namespaces/ns/configmaps", &resp), RL_ETRANSPORT));
    snprintf(want, sizeof(want), "cannot reach http://127.0.0.1:%d/api/v1/namespaces/ns/configmaps: ",
             port);
    cr_assert(eq(int, strncmp(resp.message, want, strlen(want)), 0), "%s", resp.message);
    cr_assert(eq(long, resp.status, 0));
    cr_assert(eq(int, s.n, 1));
    cr_assert(eq(str, s.verb, "list"));
    cr_assert(eq(str, s.resource, "configmaps"));
    cr_assert(eq(long, s.status, 0));
    rl_kube_response_release(&resp);
    rl_kube_free(k);
}

Test(kube, reads_retry_transport_errors_writes_do_not)
{
    struct rl_kube_opts two = { .max_retries = 2 };
    struct rl_kube *k = client_for(closed_port(), NULL, &two);
    struct rl_kube_response resp;
    struct seen s = { 0 };

    rl_kube_set_observer(k, observe, &s);
    rl_kube_response_init(&resp);
    cr_assert(eq(int, rl_kube_get(k, "/api/v1/nodes/n1", &resp), RL_ETRANSPORT));
    cr_assert(eq(int, s.n, 3), "a GET is tried 1 + max_retries times");
    cr_assert(eq(str, s.verb, "get"));
    cr_assert(eq(str, s.resource, "nodes"));
    s.n = 0;
    cr_assert(eq(int, rl_kube_create(k, "/api/v1/namespaces", "{}", &resp), RL_ETRANSPORT));
    cr_assert(eq(int, s.n, 1), "a POST that may have been applied is not repeated");
    cr_assert(eq(str, s.verb, "create"));
    cr_assert(eq(str, s.resource, "namespaces"));
    rl_kube_response_release(&resp);
    rl_kube_free(k);
}

/* A background thread that creates in a loop, counting what it got through. */
struct bg_poster {
    struct rl_kube *k;
    atomic_int done;
    atomic_bool stop;
};

static void *bg_post(void *arg)
{
    struct bg_poster *b = arg;
    struct rl_kube_response resp;

    rl_kube_thread_background(true, NULL);
    rl_kube_response_init(&resp);
    while (!atomic_load(&b->stop)) {
        rl_kube_create(b->k, "/api/v1/namespaces/ns/events", "{}", &resp);
        atomic_fetch_add(&b->done, 1);
    }
    rl_kube_response_release(&resp);
    return NULL;
}

/*
 * The failing requests still pass the token bucket: at 10 QPS a foreground
 * thread's 20 writes hold every token, so a background poster gets almost
 * none of them (it would get half if it queued like the rest) and resumes
 * once the foreground is done.
 */
Test(kube, background_requests_take_only_spare_tokens)
{
    struct rl_kube_opts o = { .qps = 10, .burst = 1, .max_retries = -1 };
    struct rl_kube *k = client_for(closed_port(), NULL, &o);
    struct bg_poster b = { .k = k };
    struct rl_kube_response resp;
    pthread_t t;
    int during;

    rl_kube_response_init(&resp);
    rl_thread_start(&t, "bg-poster", bg_post, &b);
    for (int i = 0; i < 20; i++)
        cr_assert(eq(int, rl_kube_create(k, "/api/v1/namespaces", "{}", &resp), RL_ETRANSPORT));
    during = atomic_load(&b.done);
    for (int i = 0; i < 100 && atomic_load(&b.done) < during + 3; i++)
        usleep(50 * 1000);
    atomic_store(&b.stop, true);
    rl_thread_join(t);
    cr_assert(le(int, during, 4), "background got %d of the foreground's 20 tokens", during);
    cr_assert(ge(int, atomic_load(&b.done), during + 3), "background starved after the foreground");
    rl_kube_response_release(&resp);
    rl_kube_free(k);
}

/*
 * A background thread that was told to give up (a stop began) still sends
 * what the budget allows at once - the Event of the last rollout before a
 * SIGTERM - and only refuses what would have to wait (e2e 63 saw the Event
 * of the flushed rollout dropped with a full bucket).
 */
static void *bg_give_up_post(void *arg)
{
    struct bg_poster *b = arg;
    atomic_bool give_up = true;
    struct rl_kube_response resp;
    int first, second;

    rl_kube_thread_background(true, &give_up);
    rl_kube_response_init(&resp);
    first = rl_kube_create(b->k, "/api/v1/namespaces/ns/events", "{}", &resp);
    second = rl_kube_create(b->k, "/api/v1/namespaces/ns/events", "{}", &resp);
    atomic_store(&b->done, (first == RL_ETRANSPORT) + 2 * (second == RL_ESHUTDOWN));
    rl_kube_response_release(&resp);
    return NULL;
}

Test(kube, a_given_up_background_request_goes_if_the_budget_allows_at_once)
{
    struct rl_kube_opts o = { .qps = 1, .burst = 2, .max_retries = -1 };
    struct rl_kube *k = client_for(closed_port(), NULL, &o);
    struct bg_poster b = { .k = k };
    pthread_t t;

    rl_thread_start(&t, "bg-give-up", bg_give_up_post, &b);
    rl_thread_join(t);
    /* The first takes the one spare token (burst 2, half kept for the foreground): sent,
     * failing on the closed port; the second would wait a second: refused at once. */
    cr_assert(eq(int, atomic_load(&b.done), 3), "first sent: %d, second refused: %d",
              atomic_load(&b.done) & 1, atomic_load(&b.done) >> 1);
    rl_kube_free(k);
}

Test(kube, bad_paths_are_refused_before_any_request)
{
    struct rl_kube *k = client_for(closed_port(), NULL, NULL);
    struct rl_kube_response resp;
    struct seen s = { 0 };
    const char *bad[] = { "api/v1", "/api/v1/x y", "/api\r\nX: 1", "" };

    rl_kube_set_observer(k, observe, &s);
    rl_kube_response_init(&resp);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(eq(int, rl_kube_get(k, bad[i], &resp), RL_EINVAL), "%s", bad[i]);
    cr_assert(eq(int, rl_kube_list(k, "nope", NULL, NULL, NULL, NULL), RL_EINVAL));
    cr_assert(eq(int, s.n, 0));
    rl_kube_response_release(&resp);
    rl_kube_free(k);
}

struct ends {
    int n;
    int err;
};

static int no_event(void *ctx, const char *type, const cJSON *object)
{
    (void)ctx;
    (void)type;
    (void)object;
    return 0;
}

static void count_end(void *ctx, int err)
{
    struct ends *e = ctx;

    e->n++;
    e->err = err;
}

Test(kube, mux_streams_end_exactly_once)
{
    struct rl_kube *k = client_for(closed_port(), NULL, NULL);
    struct rl_kube_mux *mux = rl_kube_mux_new(k);
    struct ends bad = { 0 }, down = { 0 }, cancelled = { 0 }, closing = { 0 };
    struct rl_kube_stream *s;

    /* A start that fails at once still ends through on_end, at the next poll. */
    cr_assert(ne(ptr, rl_kube_mux_watch(mux, "no-slash", NULL, no_event, count_end, &bad), NULL));
    cr_assert(ne(ptr, rl_kube_mux_watch(mux, "/api/v1/pods", NULL, no_event, count_end, &down),
                 NULL));
    s = rl_kube_mux_watch(mux, "/api/v1/secrets", NULL, no_event, count_end, &cancelled);
    cr_assert(eq(sz, rl_kube_mux_count(mux), 3));
    cr_assert(eq(int, bad.n, 0));
    rl_kube_stream_cancel(mux, s);
    cr_assert(eq(int, cancelled.n, 1));
    cr_assert(eq(int, cancelled.err, RL_ESHUTDOWN));
    for (int i = 0; i < 50 && (bad.n == 0 || down.n == 0); i++)
        cr_assert(eq(int, rl_kube_mux_poll(mux, 100), 0));
    cr_assert(eq(int, bad.n, 1));
    cr_assert(eq(int, bad.err, RL_EINVAL));
    cr_assert(eq(int, down.n, 1));
    cr_assert(eq(int, down.err, RL_ETRANSPORT));
    cr_assert(ne(ptr, strstr(rl_kube_last_error(), "watch=1&allowWatchBookmarks=true"), NULL),
              "%s", rl_kube_last_error());
    cr_assert(eq(sz, rl_kube_mux_count(mux), 0));

    /* Freeing the mux ends what is left with RL_ESHUTDOWN. */
    rl_kube_mux_watch(mux, "/api/v1/pods", NULL, no_event, count_end, &closing);
    rl_kube_mux_free(mux);
    cr_assert(eq(int, closing.n, 1));
    cr_assert(eq(int, closing.err, RL_ESHUTDOWN));
    cr_assert(eq(int, cancelled.n, 1));
    rl_kube_free(k);
}
