#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bsd/string.h>
#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "promparse.h"
#include "reloadd/buf.h"
#include "reloadd/err.h"
#include "reloadd/httpd.h"
#include "reloadd/metrics.h"

/* ---- a client ---- */

struct reply {
    CURLcode rc;
    long status;
    struct rl_buf body;
    char ctype[128];
    char allow[64];
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;

    return rl_buf_add(&r->body, data, size * n) ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    struct reply *r = ud;
    size_t len = size * n;
    char line[256];

    snprintf(line, sizeof(line), "%.*s", (int)len, data);
    line[strcspn(line, "\r\n")] = '\0';
    if (strncasecmp(line, "Content-Type: ", 14) == 0)
        strlcpy(r->ctype, line + 14, sizeof(r->ctype));
    if (strncasecmp(line, "Allow: ", 7) == 0)
        strlcpy(r->allow, line + 7, sizeof(r->allow));
    return len;
}

/* One request; the caller releases r->body. */
static void request(struct reply *r, uint16_t port, const char *method, const char *path)
{
    CURL *c = curl_easy_init();
    char url[512];

    memset(r, 0, sizeof(*r));
    rl_buf_init(&r->body, 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", (unsigned)port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(c);
}

static void get(struct reply *r, uint16_t port, const char *path)
{
    request(r, port, "GET", path);
    cr_assert(eq(int, r->rc, CURLE_OK), "GET %s: %s", path, curl_easy_strerror(r->rc));
}

/* The "error" member of a JSON body; fails the test if there is none. */
static void expect_json_error(const struct reply *r, long status, const char *needle)
{
    cJSON *root = cJSON_Parse(r->body.buf);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");

    cr_assert(eq(long, r->status, status), "body: %s", r->body.buf);
    cr_assert(eq(str, (char *)r->ctype, "application/json"));
    cr_assert(cJSON_IsString(e), "no error member in %s", r->body.buf);
    cr_assert(strstr(e->valuestring, needle) != NULL, "'%s' lacks '%s'", e->valuestring, needle);
    cJSON_Delete(root);
}

/* ---- the integrator's side ---- */

struct fixture {
    struct rl_metrics *metrics;
    struct rl_httpd *httpd;
    uint16_t port;
    atomic_bool live;
    atomic_bool ready;
    atomic_int explains;
};

static bool live_probe(void *ctx, struct rl_buf *why)
{
    struct fixture *fx = ctx;

    if (atomic_load(&fx->live))
        return true;
    rl_buf_adds(why, "watch for configmaps silent for 300s");
    return false;
}

static bool ready_probe(void *ctx, struct rl_buf *why)
{
    struct fixture *fx = ctx;

    if (atomic_load(&fx->ready))
        return true;
    rl_buf_adds(why, "caches not synced: secrets\n");
    return false;
}

static int explain(void *ctx, const char *kind, const char *ns, const char *name,
                   struct rl_buf *json)
{
    struct fixture *fx = ctx;

    atomic_fetch_add(&fx->explains, 1);
    if (strcmp(name, "missing") == 0)
        return RL_ENOTFOUND;
    if (strcmp(kind, "pod") == 0) {
        rl_buf_adds(json, "{\"error\":\"unsupported kind 'pod'\"}");
        return RL_EINVAL;
    }
    if (strcmp(name, "boom") == 0)
        return RL_EIO;
    rl_buf_adds(json, "{\"kind\":");
    rl_buf_add_json_str(json, kind);
    rl_buf_adds(json, ",\"namespace\":");
    rl_buf_add_json_str(json, ns);
    rl_buf_adds(json, ",\"name\":");
    rl_buf_add_json_str(json, name);
    rl_buf_adds(json, ",\"decision\":\"reloaded\"}");
    return 0;
}

static struct fixture fx;

static void start(const struct rl_httpd_opts *extra)
{
    struct rl_metrics_opts mo = { .process = true };
    struct rl_httpd_opts o = {
        .live = live_probe, .live_ctx = &fx,
        .ready = ready_probe, .ready_ctx = &fx,
        .explain = explain, .explain_ctx = &fx,
    };

    curl_global_init(CURL_GLOBAL_DEFAULT);
    fx.metrics = rl_metrics_new(&mo);
    if (extra)
        o = *extra;
    o.metrics = extra ? extra->metrics : fx.metrics;
    atomic_store(&fx.live, true);
    atomic_store(&fx.ready, false);
    cr_assert(eq(int, rl_httpd_start(&fx.httpd, "127.0.0.1:0", &o), 0));
    fx.port = rl_httpd_port(fx.httpd);
    cr_assert(fx.port != 0);
}

static void setup(void)
{
    start(NULL);
}

static void teardown(void)
{
    rl_httpd_stop(fx.httpd);
    rl_metrics_free(fx.metrics);
    curl_global_cleanup();
}

/* ---- routes ---- */

Test(httpd, metrics_serves_a_strictly_valid_exposition, .init = setup, .fini = teardown)
{
    struct reply r;
    struct prom_doc doc;
    char err[256];

    rl_metrics_reload_executed(fx.metrics, true, "ns");
    rl_metrics_reload_executed(fx.metrics, true, "ns");
    rl_metrics_api_request(fx.metrics, "get", "leases", 200, 0.01);

    get(&r, fx.port, "/metrics");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.ctype, RL_METRICS_CONTENT_TYPE));
    cr_assert(eq(int, prom_parse(r.body.buf, r.body.len, &doc, err, sizeof(err)), 0), "%s", err);
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_reload_executed_total", "success", "true", NULL)->value, 2));
    cr_assert(eq(dbl, prom_sample(&doc, "reloader_api_requests_total", "verb", "get", "resource", "leases", "code", "200", NULL)->value, 1));
    cr_assert(prom_sample(&doc, "process_resident_memory_bytes", NULL)->value > 0);
    cr_assert(prom_sample(&doc, "process_open_fds", NULL)->value >= 3);
    prom_doc_release(&doc);
    rl_buf_release(&r.body);

    /* A query string does not change the route. */
    get(&r, fx.port, "/metrics?name[]=x");
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
}

Test(httpd, head_has_status_and_headers_but_no_body, .init = setup, .fini = teardown)
{
    struct reply r;

    request(&r, fx.port, "HEAD", "/metrics");
    cr_assert(eq(int, r.rc, CURLE_OK));
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.ctype, RL_METRICS_CONTENT_TYPE));
    cr_assert(eq(sz, r.body.len, 0));
    rl_buf_release(&r.body);

    request(&r, fx.port, "HEAD", "/live");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(sz, r.body.len, 0));
    rl_buf_release(&r.body);
}

Test(httpd, live_follows_its_probe, .init = setup, .fini = teardown)
{
    struct reply r;

    get(&r, fx.port, "/live");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.body.buf, "alive"));
    rl_buf_release(&r.body);

    atomic_store(&fx.live, false);
    get(&r, fx.port, "/live");
    cr_assert(eq(long, r.status, 500));
    cr_assert(eq(str, r.body.buf, "watch for configmaps silent for 300s\n"));
    cr_assert(eq(str, r.ctype, "text/plain; charset=utf-8"));
    rl_buf_release(&r.body);
}

Test(httpd, readyz_follows_its_probe, .init = setup, .fini = teardown)
{
    struct reply r;

    get(&r, fx.port, "/readyz");
    cr_assert(eq(long, r.status, 503));
    cr_assert(eq(str, r.body.buf, "caches not synced: secrets\n"));
    rl_buf_release(&r.body);

    atomic_store(&fx.ready, true);
    get(&r, fx.port, "/readyz");
    cr_assert(eq(long, r.status, 200));
    cr_assert(eq(str, r.body.buf, "ready"));
    rl_buf_release(&r.body);
}

Test(httpd, explain_answers_from_the_callback, .init = setup, .fini = teardown)
{
    struct reply r;
    cJSON *root;

    get(&r, fx.port, "/explain?kind=Deployment&namespace=team%2Da&name=web%20app");
    cr_assert(eq(long, r.status, 200), "%s", r.body.buf);
    cr_assert(eq(str, r.ctype, "application/json"));
    root = cJSON_Parse(r.body.buf);
    cr_assert(root != NULL, "%s", r.body.buf);
    cr_assert(eq(str, cJSON_GetObjectItem(root, "kind")->valuestring, "Deployment"));
    cr_assert(eq(str, cJSON_GetObjectItem(root, "namespace")->valuestring, "team-a"));
    cr_assert(eq(str, cJSON_GetObjectItem(root, "name")->valuestring, "web app"));
    cJSON_Delete(root);
    rl_buf_release(&r.body);

    get(&r, fx.port, "/explain?kind=Deployment&namespace=ns&name=missing");
    expect_json_error(&r, 404, "Deployment ns/missing not found");
    rl_buf_release(&r.body);

    get(&r, fx.port, "/explain?kind=pod&namespace=ns&name=p");
    expect_json_error(&r, 400, "unsupported kind 'pod'");
    rl_buf_release(&r.body);

    get(&r, fx.port, "/explain?kind=Deployment&namespace=ns&name=boom");
    expect_json_error(&r, 500, "input/output error");
    rl_buf_release(&r.body);
}

Test(httpd, explain_requires_every_parameter, .init = setup, .fini = teardown)
{
    static const struct { const char *q, *missing; } cases[] = {
        { "/explain", "kind" },
        { "/explain?namespace=ns&name=n", "kind" },
        { "/explain?kind=Deployment&name=n", "namespace" },
        { "/explain?kind=Deployment&namespace=ns", "name" },
        { "/explain?kind=&namespace=ns&name=n", "kind" },
        { "/explain?kind=Deployment&namespace=ns&name=", "name" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct reply r;
        char want[64];

        snprintf(want, sizeof(want), "missing query parameter '%s'", cases[i].missing);
        get(&r, fx.port, cases[i].q);
        expect_json_error(&r, 400, want);
        rl_buf_release(&r.body);
    }
    cr_assert(eq(int, atomic_load(&fx.explains), 0), "callback called without parameters");
}

Test(httpd, unknown_paths_are_404, .init = setup, .fini = teardown)
{
    const char *paths[] = { "/", "/metrics/", "/livez", "/debug/pprof/", "/debug/pprof/heap",
                            "/explain/x", "/METRICS" };

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        struct reply r;

        get(&r, fx.port, paths[i]);
        cr_assert(eq(long, r.status, 404), "%s", paths[i]);
        rl_buf_release(&r.body);
    }
}

Test(httpd, only_get_and_head_are_allowed, .init = setup, .fini = teardown)
{
    const char *methods[] = { "POST", "PUT", "DELETE", "PATCH", "OPTIONS" };

    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        struct reply r;

        request(&r, fx.port, methods[i], "/metrics");
        cr_assert(eq(int, r.rc, CURLE_OK), "%s: %s", methods[i], curl_easy_strerror(r.rc));
        cr_assert(eq(long, r.status, 405), "%s", methods[i]);
        cr_assert(eq(str, r.allow, "GET, HEAD"), "%s", methods[i]);
        rl_buf_release(&r.body);
    }
}

Test(httpd, optional_callbacks_have_safe_defaults)
{
    struct rl_httpd_opts none = { .metrics = NULL };
    struct reply r;

    start(&none);
    get(&r, fx.port, "/live");
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
    get(&r, fx.port, "/readyz");
    cr_assert(eq(long, r.status, 503), "no readiness check means not ready");
    rl_buf_release(&r.body);
    get(&r, fx.port, "/metrics");
    cr_assert(eq(long, r.status, 404));
    rl_buf_release(&r.body);
    get(&r, fx.port, "/explain?kind=a&namespace=b&name=c");
    expect_json_error(&r, 404, "not available");
    rl_buf_release(&r.body);
    teardown();
}

/* ---- addresses and lifecycle ---- */

Test(httpd, parse_addr_accepts_the_usual_forms)
{
    struct sockaddr_storage ss;
    bool any;

    cr_assert(eq(int, rl_httpd_parse_addr(":9090", &ss, &any), 0));
    cr_assert(any);
    cr_assert(eq(u16, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9090));
    cr_assert(eq(int, rl_httpd_parse_addr("127.0.0.1:0", &ss, &any), 0));
    cr_assert(any == false);
    cr_assert(eq(int, ss.ss_family, AF_INET));
    cr_assert(eq(int, rl_httpd_parse_addr("[::1]:8080", &ss, &any), 0));
    cr_assert(eq(int, ss.ss_family, AF_INET6));
    cr_assert(eq(u16, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 8080));
    cr_assert(eq(int, rl_httpd_parse_addr("0.0.0.0:65535", &ss, &any), 0));
    cr_assert(eq(int, rl_httpd_parse_addr("localhost:1", &ss, &any), 0));
}

Test(httpd, bad_addresses_are_rejected)
{
    const char *bad[] = { "", "9090", ":", ":70000", ":-1", ":+80", ":80x", ":0x50", "::1:80",
                          "[::1]", "[::1]80", "[]:80", "host:abc", "[::1:80" };
    struct rl_httpd_opts o = { 0 };
    struct sockaddr_storage ss;
    struct rl_httpd *h = NULL;
    bool any;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert(eq(int, rl_httpd_parse_addr(bad[i], &ss, &any), RL_EINVAL), "'%s'", bad[i]);
        cr_assert(eq(int, rl_httpd_start(&h, bad[i], &o), RL_EINVAL), "'%s'", bad[i]);
        cr_assert(h == NULL);
    }
    cr_assert(eq(int, rl_httpd_start(&h, NULL, &o), RL_EINVAL));
    o.threads = 3;
    cr_assert(eq(int, rl_httpd_start(&h, "127.0.0.1:0", &o), RL_EINVAL));
}

Test(httpd, a_taken_port_is_an_error, .init = setup, .fini = teardown)
{
    struct rl_httpd_opts o = { 0 };
    struct rl_httpd *h = NULL;
    char addr[32];

    snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)fx.port);
    cr_assert(eq(int, rl_httpd_start(&h, addr, &o), RL_EIO));
    cr_assert(h == NULL);
}

Test(httpd, stop_closes_the_port)
{
    struct reply r;

    start(NULL);
    rl_httpd_stop(fx.httpd);
    fx.httpd = NULL;
    request(&r, fx.port, "GET", "/live");
    cr_assert(eq(int, r.rc, CURLE_COULDNT_CONNECT), "%s", curl_easy_strerror(r.rc));
    rl_buf_release(&r.body);
    rl_httpd_stop(NULL);
    teardown();
}

Test(httpd, empty_host_serves_ipv4_clients)
{
    struct rl_httpd_opts o = { 0 };
    struct rl_httpd *h = NULL;
    struct reply r;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    cr_assert(eq(int, rl_httpd_start(&h, ":0", &o), 0));
    request(&r, rl_httpd_port(h), "GET", "/live");
    cr_assert(eq(int, r.rc, CURLE_OK), "%s", curl_easy_strerror(r.rc));
    cr_assert(eq(long, r.status, 200));
    rl_buf_release(&r.body);
    rl_httpd_stop(h);
    curl_global_cleanup();
}

static int connect_raw(uint16_t port)
{
    struct sockaddr_in sin = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(eq(int, connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0));
    return fd;
}

/* True if the server closed fd within ms (recv sees EOF or a reset). */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;

    if (poll(&p, 1, ms) != 1)
        return false;
    return recv(fd, &c, 1, 0) <= 0;
}

Test(httpd, idle_connections_time_out)
{
    struct rl_httpd_opts o = { .threads = 1, .timeout_s = 1 };
    int fd;

    start(&o);
    fd = connect_raw(fx.port);
    cr_assert(closed_within(fd, 5000), "idle connection still open after 5s");
    close(fd);
    teardown();
}

/* Waits up to ms for fd to have something to read; false on timeout. */
static bool readable_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };

    return poll(&p, 1, ms) == 1;
}

Test(httpd, connections_past_the_limit_wait_their_turn)
{
    struct rl_httpd_opts o = { .threads = 1, .max_connections = 2, .timeout_s = 30 };
    static const char req[] = "GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[256] = "";
    ssize_t n;
    int a, b, c;

    start(&o);
    a = connect_raw(fx.port);
    b = connect_raw(fx.port);
    /* Let the server take a and b before c arrives. */
    cr_assert(readable_within(a, 200) == false);
    c = connect_raw(fx.port);
    cr_assert(eq(long, (long)send(c, req, sizeof(req) - 1, MSG_NOSIGNAL), (long)sizeof(req) - 1));
    /* At the limit, c is not served however long it waits... */
    cr_assert(readable_within(c, 500) == false, "a third connection was served");
    /* ...until one of the others goes away. */
    close(a);
    cr_assert(readable_within(c, 5000), "third connection not served after one closed");
    n = recv(c, buf, sizeof(buf) - 1, 0);
    cr_assert(n > 0);
    buf[n] = '\0';
    cr_assert(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
    close(c);
    close(b);
    teardown();
}

/* ---- concurrency ---- */

#define SCRAPERS 4
#define SCRAPES 40

static void *scraper(void *arg)
{
    long bad = 0;

    (void)arg;
    for (int i = 0; i < SCRAPES; i++) {
        struct reply r;
        struct prom_doc doc;
        char err[256];

        request(&r, fx.port, "GET", i % 2 ? "/metrics" : "/explain?kind=a&namespace=b&name=c");
        if (r.rc != CURLE_OK || r.status != 200)
            bad++;
        else if (i % 2 && prom_parse(r.body.buf, r.body.len, &doc, err, sizeof(err)) != 0)
            bad++;
        else if (i % 2)
            prom_doc_release(&doc);
        rl_buf_release(&r.body);
    }
    return (void *)bad;
}

static atomic_bool stop_writer;

static void *writer(void *arg)
{
    unsigned n = 0;

    (void)arg;
    while (!atomic_load(&stop_writer)) {
        char ns[16];

        snprintf(ns, sizeof(ns), "ns-%u", n % 50);
        rl_metrics_reload_executed(fx.metrics, n % 3 != 0, ns);
        rl_metrics_reconcile(fx.metrics, RL_METRICS_SUCCESS, 0.001 * (n % 100));
        rl_metrics_api_request(fx.metrics, "patch", ns, 200, 0.01);
        rl_metrics_queue_depth(fx.metrics, n % 4, n % 7);
        n++;
    }
    return NULL;
}

Test(httpd, concurrent_scrapes_while_metrics_move, .init = setup, .fini = teardown)
{
    pthread_t t[SCRAPERS], w;
    long bad = 0;

    atomic_store(&stop_writer, false);
    pthread_create(&w, NULL, writer, NULL);
    for (int i = 0; i < SCRAPERS; i++)
        pthread_create(&t[i], NULL, scraper, NULL);
    for (int i = 0; i < SCRAPERS; i++) {
        void *ret;

        pthread_join(t[i], &ret);
        bad += (long)ret;
    }
    atomic_store(&stop_writer, true);
    pthread_join(w, NULL);
    cr_assert(eq(long, bad, 0));
    cr_assert(eq(int, atomic_load(&fx.explains), SCRAPERS * SCRAPES / 2));
}
